//! A low-level stratum v1 client: newline-delimited JSON over TCP, with a queue so that a test
//! can wait for one reply (or one notification) while keeping everything else for later.

use futures::StreamExt;
use serde_json::{json, Value};
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;
use tokio::time::Instant;
use tokio_util::codec::{FramedRead, LinesCodec, LinesCodecError};

/// The longest line accepted from a server (1 MiB), because a notify with many merkle
/// branches or a large coinbase can be long, but an unbounded line is a memory hazard.
pub const MAX_LINE_BYTES: usize = 1024 * 1024;

/// Errors talking to a stratum server, typed so tests can tell a timeout from a hang-up.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// Connecting, reading or writing the socket failed.
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
    /// Nothing matching arrived before the deadline.
    #[error("timed out waiting for {0}")]
    Timeout(String),
    /// The server closed the connection.
    #[error("connection closed by server")]
    Closed,
    /// The server sent a line longer than [`MAX_LINE_BYTES`].
    #[error("line longer than {MAX_LINE_BYTES} bytes")]
    LineTooLong,
    /// The server sent a line that is not JSON.
    #[error("invalid JSON from server ({source}): {line}")]
    InvalidJson {
        /// The offending line (truncated to 200 characters).
        line: String,
        /// The parse error.
        source: serde_json::Error,
    },
    /// A value could not be serialized (should not happen for `serde_json::Value`).
    #[error("could not serialize message: {0}")]
    Serialize(serde_json::Error),
}

/// One stratum connection, for tests that script a miner message by message and for
/// [`crate::miner::run_miner`].
#[derive(Debug)]
pub struct StratumClient {
    reader: FramedRead<OwnedReadHalf, LinesCodec>,
    writer: OwnedWriteHalf,
    queue: VecDeque<Value>,
    next_id: u64,
    peer: SocketAddr,
}

impl StratumClient {
    /// Opens a TCP connection to a stratum server, because every session starts with one.
    pub async fn connect(addr: SocketAddr) -> Result<Self, ClientError> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        Ok(Self::from_stream(stream)?)
    }

    /// Wraps an already connected stream, e.g. one accepted by a test server.
    pub fn from_stream(stream: TcpStream) -> Result<Self, std::io::Error> {
        let peer = stream.peer_addr()?;
        let (r, w) = stream.into_split();
        Ok(StratumClient {
            reader: FramedRead::new(r, LinesCodec::new_with_max_length(MAX_LINE_BYTES)),
            writer: w,
            queue: VecDeque::new(),
            next_id: 1,
            peer,
        })
    }

    /// The server's address, for log messages.
    pub fn peer_addr(&self) -> SocketAddr {
        self.peer
    }

    /// Sends one raw line (a newline is appended if missing), because tests must also be able
    /// to send malformed or unusual input.
    pub async fn send_line(&mut self, line: &str) -> Result<(), ClientError> {
        let mut buf = Vec::with_capacity(line.len() + 1);
        buf.extend_from_slice(line.as_bytes());
        if !line.ends_with('\n') {
            buf.push(b'\n');
        }
        self.writer.write_all(&buf).await?;
        Ok(())
    }

    /// Sends one JSON value as a line, because that is every well-formed stratum message.
    pub async fn send(&mut self, value: &Value) -> Result<(), ClientError> {
        let line = serde_json::to_string(value).map_err(ClientError::Serialize)?;
        self.send_line(&line).await
    }

    /// Sends a request `{"id":N,"method":method,"params":params}` with a fresh id and returns
    /// that id, so the caller can [`wait_reply`](Self::wait_reply) for it.
    pub async fn request(&mut self, method: &str, params: Value) -> Result<u64, ClientError> {
        let id = self.next_id;
        self.next_id += 1;
        self.send(&json!({"id": id, "method": method, "params": params}))
            .await?;
        Ok(id)
    }

    async fn read_one(&mut self, deadline: Instant, what: &str) -> Result<Value, ClientError> {
        loop {
            let next = match tokio::time::timeout_at(deadline, self.reader.next()).await {
                Err(_) => return Err(ClientError::Timeout(what.to_string())),
                Ok(n) => n,
            };
            match next {
                None => return Err(ClientError::Closed),
                Some(Err(LinesCodecError::MaxLineLengthExceeded)) => {
                    return Err(ClientError::LineTooLong)
                }
                Some(Err(LinesCodecError::Io(e))) => return Err(ClientError::Io(e)),
                Some(Ok(line)) => {
                    let trimmed = line.trim();
                    if trimmed.is_empty() {
                        continue;
                    }
                    return serde_json::from_str(trimmed).map_err(|source| {
                        ClientError::InvalidJson {
                            line: trimmed.chars().take(200).collect(),
                            source,
                        }
                    });
                }
            }
        }
    }

    /// Closes our side and waits (at most `timeout`) until the server has closed its side, so
    /// that a test knows the server is done with the session (e.g. before resuming it).
    pub async fn close(mut self, timeout: Duration) -> Result<(), ClientError> {
        self.writer.shutdown().await?;
        let deadline = Instant::now() + timeout;
        loop {
            match self.read_one(deadline, "the server to close").await {
                Ok(_) => continue,
                Err(ClientError::Closed) | Err(ClientError::Io(_)) => return Ok(()),
                Err(e) => return Err(e),
            }
        }
    }

    /// Returns the next message (queued first, then from the socket) without a deadline.
    /// Cancel-safe, so it can be used in `tokio::select!`.
    pub async fn recv(&mut self) -> Result<Value, ClientError> {
        if let Some(v) = self.queue.pop_front() {
            return Ok(v);
        }
        // A deadline far in the future; timeout_at needs one.
        let far = Instant::now() + Duration::from_secs(100 * 365 * 24 * 3600);
        self.read_one(far, "a message").await
    }

    /// Returns the next message (queued first, then from the socket), waiting at most
    /// `timeout`, because tests step through a session one message at a time.
    pub async fn next_message(&mut self, timeout: Duration) -> Result<Value, ClientError> {
        if let Some(v) = self.queue.pop_front() {
            return Ok(v);
        }
        self.read_one(Instant::now() + timeout, "a message").await
    }

    /// Waits for the first message satisfying `pred`, queueing the others in arrival order,
    /// because replies and notifications interleave freely.
    pub async fn wait_for<F>(
        &mut self,
        what: &str,
        timeout: Duration,
        mut pred: F,
    ) -> Result<Value, ClientError>
    where
        F: FnMut(&Value) -> bool,
    {
        if let Some(pos) = self.queue.iter().position(&mut pred) {
            if let Some(v) = self.queue.remove(pos) {
                return Ok(v);
            }
        }
        let deadline = Instant::now() + timeout;
        loop {
            let v = self.read_one(deadline, what).await?;
            if pred(&v) {
                return Ok(v);
            }
            self.queue.push_back(v);
        }
    }

    /// Waits for the reply to request `id`, keeping notifications that arrive meanwhile for a
    /// later [`next_message`](Self::next_message).
    pub async fn wait_reply(&mut self, id: u64, timeout: Duration) -> Result<Value, ClientError> {
        self.wait_for(&format!("reply to id {id}"), timeout, |v| {
            matches!(v.get("method"), None | Some(Value::Null)) && v.get("id") == Some(&json!(id))
        })
        .await
    }

    /// Waits for the first message whose `method` is `name` (e.g. `mining.notify`), keeping
    /// the others queued.
    pub async fn wait_method(
        &mut self,
        name: &str,
        timeout: Duration,
    ) -> Result<Value, ClientError> {
        self.wait_for(name, timeout, |v| {
            v.get("method").and_then(Value::as_str) == Some(name)
        })
        .await
    }

    /// Number of messages received but not yet handed out, for tests that check nothing
    /// unexpected arrived.
    pub fn queued(&self) -> usize {
        self.queue.len()
    }
}

/// Turns a reply's `error` field (`[code, msg, data]`, a string, an object or null) into a
/// human-readable reason; `None` when there is no error. Pools answer in all these forms.
pub fn error_text(reply: &Value) -> Option<String> {
    reply.get("error").and_then(error_field_text)
}

/// The text of a reply's `error` field itself (`None` for null).
pub fn error_field_text(error: &Value) -> Option<String> {
    match Some(error) {
        None | Some(Value::Null) => None,
        Some(Value::Array(a)) => Some(match a.get(1).and_then(Value::as_str) {
            Some(msg) => msg.to_string(),
            None => Value::Array(a.clone()).to_string(),
        }),
        Some(Value::String(s)) => Some(s.clone()),
        Some(Value::Object(o)) => Some(match o.get("message").and_then(Value::as_str) {
            Some(msg) => msg.to_string(),
            None => Value::Object(o.clone()).to_string(),
        }),
        Some(other) => Some(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncBufReadExt, BufReader};
    use tokio::net::TcpListener;

    #[tokio::test]
    async fn wait_reply_keeps_notifications_queued() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let (s, _) = listener.accept().await.unwrap();
            let (r, mut w) = s.into_split();
            let mut lines = BufReader::new(r).lines();
            let req: Value =
                serde_json::from_str(&lines.next_line().await.unwrap().unwrap()).unwrap();
            assert_eq!(req["method"], "mining.subscribe");
            let big = "a".repeat(300_000);
            let out = format!(
                "{}\n\n{}\n{}\n",
                json!({"id": null, "method": "mining.set_difficulty", "params": [0.5]}),
                json!({"id": null, "method": "client.show_message", "params": [big]}),
                json!({"id": req["id"], "result": true, "error": null}),
            );
            w.write_all(out.as_bytes()).await.unwrap();
            w.write_all(b"not json\n").await.unwrap();
        });
        let mut c = StratumClient::connect(addr).await.unwrap();
        let id = c.request("mining.subscribe", json!(["t"])).await.unwrap();
        let t = Duration::from_secs(10);
        let reply = c.wait_reply(id, t).await.unwrap();
        assert_eq!(reply["result"], true);
        assert_eq!(c.queued(), 2);
        let m = c.wait_method("client.show_message", t).await.unwrap();
        assert_eq!(m["params"][0].as_str().unwrap().len(), 300_000);
        let d = c.next_message(t).await.unwrap();
        assert_eq!(d["params"][0], 0.5);
        assert!(matches!(
            c.next_message(t).await,
            Err(ClientError::InvalidJson { .. })
        ));
        server.await.unwrap();
        assert!(matches!(c.next_message(t).await, Err(ClientError::Closed)));
    }
}

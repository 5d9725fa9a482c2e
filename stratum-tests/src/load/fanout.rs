//! Block fan-out: mine one block through bitcoind/simnet JSON-RPC (`generatetoaddress`) and
//! record when each connection receives the clean job on the new prevhash.

use serde_json::{json, Value};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;

/// Longest RPC response read.
const MAX_RESPONSE: usize = 1 << 20;

/// Arrival times of clean jobs on a new prevhash, recorded by connections once armed.
#[derive(Debug, Default)]
pub struct FanoutState {
    armed: AtomicBool,
    arrivals: Mutex<Vec<Instant>>,
}

impl FanoutState {
    /// Forgets earlier arrivals and starts recording (just before a block is mined).
    pub fn arm(&self) {
        self.lock().clear();
        self.armed.store(true, Ordering::Release);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Instant>> {
        self.arrivals.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Stops recording.
    pub fn disarm(&self) {
        self.armed.store(false, Ordering::Release);
    }

    /// Whether connections should record clean jobs now.
    pub fn armed(&self) -> bool {
        self.armed.load(Ordering::Acquire)
    }

    /// Records one connection's clean job arrival.
    pub fn record(&self, at: Instant) {
        self.lock().push(at);
    }

    /// How many connections have recorded so far.
    pub fn count(&self) -> usize {
        self.lock().len()
    }

    /// A copy of the arrivals.
    pub fn arrivals(&self) -> Vec<Instant> {
        self.lock().clone()
    }
}

/// Credentials for the RPC.
#[derive(Clone, Debug)]
pub struct RpcAuth {
    /// `user:password`.
    pub userpass: String,
}

impl RpcAuth {
    /// From a cookie file (`__cookie__:<hex>`).
    pub fn cookie(path: &std::path::Path) -> Result<RpcAuth, String> {
        let s = std::fs::read_to_string(path)
            .map_err(|e| format!("reading cookie {}: {e}", path.display()))?;
        Ok(RpcAuth {
            userpass: s.trim().to_string(),
        })
    }
}

/// Standard base64 with padding, for the HTTP Basic header.
pub fn base64(data: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for (i, shift) in [18, 12, 6, 0].into_iter().enumerate() {
            if i <= chunk.len() {
                out.push(A[((n >> shift) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Calls one JSON-RPC method with a minimal HTTP/1.1 POST and returns its `result`.
pub async fn rpc_call(
    url: &str,
    auth: &RpcAuth,
    method: &str,
    params: Value,
    timeout: Duration,
) -> Result<Value, String> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| format!("--fanout-rpc must start with http://, got {url}"))?;
    let (hostport, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let body = json!({"jsonrpc": "1.0", "id": "stratum-load", "method": method, "params": params})
        .to_string();
    let req = format!(
        "POST {path} HTTP/1.1\r\nHost: {hostport}\r\nAuthorization: Basic {}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        base64(auth.userpass.as_bytes()),
        body.len()
    );
    let io = async {
        let mut s = TcpStream::connect(hostport)
            .await
            .map_err(|e| format!("connecting to {hostport}: {e}"))?;
        s.write_all(req.as_bytes())
            .await
            .map_err(|e| format!("writing RPC request: {e}"))?;
        let mut resp = Vec::new();
        (&mut s)
            .take(MAX_RESPONSE as u64)
            .read_to_end(&mut resp)
            .await
            .map_err(|e| format!("reading RPC response: {e}"))?;
        Ok::<Vec<u8>, String>(resp)
    };
    let resp = tokio::time::timeout(timeout, io)
        .await
        .map_err(|_| format!("{method}: no RPC response within {timeout:?}"))??;
    let text = String::from_utf8_lossy(&resp);
    let status = text.lines().next().unwrap_or("").to_string();
    let body = text
        .find("\r\n\r\n")
        .map(|i| &text[i + 4..])
        .ok_or_else(|| format!("{method}: malformed HTTP response {status:?}"))?;
    // Tolerate chunked framing: the JSON document is between the first '{' and the last '}'.
    let json_text = match (body.find('{'), body.rfind('}')) {
        (Some(a), Some(b)) if b > a => &body[a..=b],
        _ => return Err(format!("{method}: HTTP {status:?} without a JSON body")),
    };
    let v: Value =
        serde_json::from_str(json_text).map_err(|e| format!("{method}: bad JSON reply: {e}"))?;
    match v.get("error") {
        None | Some(Value::Null) => Ok(v.get("result").cloned().unwrap_or(Value::Null)),
        Some(e) => Err(format!("{method}: RPC error {e}")),
    }
}

/// Milliseconds from `from` to `to`, negative when `to` is earlier.
pub fn signed_ms(from: Instant, to: Instant) -> f64 {
    if to >= from {
        (to - from).as_secs_f64() * 1e3
    } else {
        -((from - to).as_secs_f64() * 1e3)
    }
}

/// The value at quantile `q` of sorted `v` (nearest rank).
pub fn quantile_sorted<T: Copy>(v: &[T], q: f64) -> Option<T> {
    if v.is_empty() {
        return None;
    }
    let rank = ((q * v.len() as f64).ceil() as usize).clamp(1, v.len());
    Some(v[rank - 1])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc4648() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"foobar"), "Zm9vYmFy");
        assert_eq!(quantile_sorted(&[1.0, 2.0, 3.0, 4.0], 0.5), Some(2.0));
        assert_eq!(quantile_sorted(&[1.0, 2.0, 3.0, 4.0], 0.99), Some(4.0));
    }
}

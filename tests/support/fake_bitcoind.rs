//! A bitcoind stand-in for tests that need an answer simnet would not give (a held
//! `submitblock`, another chain): plain HTTP/1.1 JSON-RPC with keep-alive, as bitcoind
//! speaks it, each request's `result` given by `answer` (which may wait). Included with
//! `#[path]` by the tests that use it.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

/// Serves on a loopback port until the test ends; returns the address.
pub async fn fake_bitcoind<F, Fut>(answer: F) -> SocketAddr
where
    F: Fn(Value) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Value> + Send + 'static,
{
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let answer = Arc::new(answer);
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let answer = answer.clone();
            tokio::spawn(async move {
                let (rd, mut wr) = stream.into_split();
                let mut rd = BufReader::new(rd);
                loop {
                    let mut length = 0usize;
                    loop {
                        let mut line = String::new();
                        if rd.read_line(&mut line).await.unwrap_or(0) == 0 {
                            return;
                        }
                        let line = line.trim_end();
                        if line.is_empty() {
                            break;
                        }
                        if let Some((k, v)) = line.split_once(':') {
                            if k.eq_ignore_ascii_case("content-length") {
                                length = v.trim().parse().unwrap();
                            }
                        }
                    }
                    let mut body = vec![0u8; length];
                    rd.read_exact(&mut body).await.unwrap();
                    let req: Value = serde_json::from_slice(&body).unwrap();
                    let id = req["id"].clone();
                    let result = answer(req).await;
                    let reply = json!({"result": result, "error": null, "id": id}).to_string();
                    let head = format!(
                        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
                        reply.len()
                    );
                    wr.write_all(head.as_bytes()).await.unwrap();
                    wr.write_all(reply.as_bytes()).await.unwrap();
                }
            });
        }
    });
    addr
}

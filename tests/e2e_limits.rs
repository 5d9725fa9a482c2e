//! Connections past `maxclients` get an error line and are closed; the ones inside the limit
//! keep working, and a slot freed by a disconnect can be used again.

mod common;

use std::time::Duration;

use common::{Server, ServerOptions};
use serde_json::json;
use stratum_miner::client::StratumClient;
use tokio::io::AsyncReadExt;

const T: Duration = Duration::from_secs(10);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_past_maxclients_are_refused_cleanly() {
    let server = Server::start(ServerOptions {
        config: json!({"mindiff": 0.0001, "startdiff": 0.0001, "maxclients": 2}),
        ..ServerOptions::default()
    });
    let mut a = StratumClient::connect(server.stratum).await.unwrap();
    let mut b = StratumClient::connect(server.stratum).await.unwrap();
    for c in [&mut a, &mut b] {
        let id = c
            .request("mining.subscribe", json!(["limits/1"]))
            .await
            .unwrap();
        assert!(c.wait_reply(id, T).await.unwrap()["result"].is_array());
    }
    // The third: one error line, then EOF.
    let mut third = tokio::net::TcpStream::connect(server.stratum)
        .await
        .unwrap();
    let mut buf = Vec::new();
    tokio::time::timeout(T, third.read_to_end(&mut buf))
        .await
        .unwrap()
        .unwrap();
    let reply: serde_json::Value =
        serde_json::from_slice(buf.split(|b| *b == b'\n').next().unwrap()).unwrap();
    assert_eq!(reply["error"][0], 20, "{reply}");
    assert!(
        reply["error"][1].as_str().unwrap().contains("maxclients"),
        "{reply}"
    );
    // The two inside the limit still work.
    let id = a
        .request("mining.extranonce.subscribe", json!([]))
        .await
        .unwrap();
    assert_eq!(a.wait_reply(id, T).await.unwrap()["result"], true);
    // Freeing a slot lets a new miner in (bounded retry: the server counts the close
    // when the connection task ends).
    drop(b);
    let deadline = tokio::time::Instant::now() + T;
    loop {
        let mut c = StratumClient::connect(server.stratum).await.unwrap();
        let id = c
            .request("mining.subscribe", json!(["limits/2"]))
            .await
            .unwrap();
        match c.wait_reply(id, Duration::from_secs(2)).await {
            Ok(r) if r["result"].is_array() => break,
            _ => assert!(
                tokio::time::Instant::now() < deadline,
                "a freed slot was never reused"
            ),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

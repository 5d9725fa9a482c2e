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

/// Connects from `source` (any 127.0.0.0/8 address is this host's loopback).
async fn connect_from(source: &str, server: std::net::SocketAddr) -> tokio::net::TcpStream {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind(format!("{source}:0").parse().unwrap()).unwrap();
    socket.connect(server).await.unwrap()
}

/// The first line the server sends, and whether it then closes.
async fn refused_line(mut stream: tokio::net::TcpStream) -> serde_json::Value {
    let mut buf = Vec::new();
    tokio::time::timeout(T, stream.read_to_end(&mut buf))
        .await
        .expect("closed within the bound")
        .unwrap();
    serde_json::from_slice(buf.split(|b| *b == b'\n').next().unwrap()).unwrap()
}

/// `maxclients_per_ip`: the third connection from one address is refused with a line and
/// closed, another address still gets in, a freed place is taken again, and the refusals
/// are counted by reason in /metrics.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_address_past_maxclients_per_ip_is_refused_and_others_are_not() {
    let server = Server::start(ServerOptions {
        config: json!({
            "mindiff": 0.0001,
            "startdiff": 0.0001,
            "maxclients_per_ip": 2,
            "api": "127.0.0.1:0",
        }),
        ..ServerOptions::default()
    });
    let subscribe = |stream: tokio::net::TcpStream, agent: &'static str| async move {
        let mut c = StratumClient::from_stream(stream).unwrap();
        let id = c.request("mining.subscribe", json!([agent])).await.unwrap();
        let reply = c.wait_reply(id, T).await;
        (c, reply.map(|r| r["result"].is_array()).unwrap_or(false))
    };
    let (a, ok_a) = subscribe(connect_from("127.0.0.1", server.stratum).await, "ip/a").await;
    let (_b, ok_b) = subscribe(connect_from("127.0.0.1", server.stratum).await, "ip/b").await;
    assert!(ok_a && ok_b, "two from one address are inside the limit");
    let reply = refused_line(connect_from("127.0.0.1", server.stratum).await).await;
    assert_eq!(reply["error"][0], 20, "{reply}");
    assert!(
        reply["error"][1]
            .as_str()
            .unwrap()
            .contains("maxclients_per_ip"),
        "{reply}"
    );
    // Another address is not held to 127.0.0.1's count.
    let (_c, ok_c) = subscribe(connect_from("127.0.0.2", server.stratum).await, "ip/c").await;
    assert!(ok_c, "another address was refused");
    // A place freed by a disconnect is taken again (bounded retry: the server counts the
    // close when the connection task ends).
    drop(a);
    let deadline = tokio::time::Instant::now() + T;
    loop {
        let (_d, ok) = subscribe(connect_from("127.0.0.1", server.stratum).await, "ip/d").await;
        if ok {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "a freed place was never reused"
        );
    }
    let metrics = common::http::get(server.api_addr(), "/metrics").body;
    let refused = |reason: &str| -> u64 {
        let name = format!("stratumd_connections_refused_total{{reason=\"{reason}\"}} ");
        metrics
            .lines()
            .find_map(|l| l.strip_prefix(&name)?.parse().ok())
            .unwrap_or_else(|| panic!("no {name} in {metrics}"))
    };
    assert!(refused("maxclients_per_ip") >= 1);
    assert_eq!(refused("maxclients"), 0);
}

/// `flood_ban_rejects`: a miner whose submits are refused five times in a row is closed
/// after the fifth reply and its address banned; a new connection from it is refused with a
/// line, another address still gets in, and the ban and refusal are in /metrics.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_rejected_shares_closes_the_miner_and_bans_its_address() {
    let server = Server::start(ServerOptions {
        config: json!({
            "mindiff": 0.0001,
            "startdiff": 0.0001,
            "flood_ban_rejects": 5,
            "flood_ban_secs": 600,
            "api": "127.0.0.1:0",
        }),
        ..ServerOptions::default()
    });
    let mut m =
        StratumClient::from_stream(connect_from("127.0.0.3", server.stratum).await).unwrap();
    let id = m
        .request("mining.subscribe", json!(["flood/1"]))
        .await
        .unwrap();
    assert!(m.wait_reply(id, T).await.unwrap()["result"].is_array());
    let user = common::regtest_address(3);
    let id = m
        .request("mining.authorize", json!([format!("{user}.x"), "x"]))
        .await
        .unwrap();
    assert_eq!(m.wait_reply(id, T).await.unwrap()["result"], true);
    // Five submits on a job that never existed: each answered, the fifth the last.
    for n in 0..5 {
        let id = m
            .request(
                "mining.submit",
                json!([
                    format!("{user}.x"),
                    "ffffffffffffffff",
                    "0000000000000000",
                    "6553f100",
                    format!("{n:08x}")
                ]),
            )
            .await
            .unwrap();
        let reply = m.wait_reply(id, T).await.unwrap();
        assert_eq!(reply["result"], false, "{reply}");
    }
    match m.wait_reply(u64::MAX, T).await {
        Err(
            stratum_miner::client::ClientError::Closed | stratum_miner::client::ClientError::Io(_),
        ) => {}
        other => panic!("the connection stayed open after the flood: {other:?}"),
    }
    let reply = refused_line(connect_from("127.0.0.3", server.stratum).await).await;
    assert!(
        reply["error"][1]
            .as_str()
            .unwrap()
            .contains("flood_ban_rejects"),
        "{reply}"
    );
    let mut other =
        StratumClient::from_stream(connect_from("127.0.0.4", server.stratum).await).unwrap();
    let id = other
        .request("mining.subscribe", json!(["flood/2"]))
        .await
        .unwrap();
    assert!(other.wait_reply(id, T).await.unwrap()["result"].is_array());
    let metrics = common::http::get(server.api_addr(), "/metrics").body;
    let value = |name: &str| -> u64 {
        metrics
            .lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
            .unwrap_or_else(|| panic!("no {name} in {metrics}"))
    };
    assert_eq!(value("stratumd_flood_bans_total"), 1);
    assert!(value("stratumd_connections_refused_total{reason=\"banned\"}") >= 1);
}

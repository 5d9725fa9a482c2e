//! `/api/blocks` and the bitcoind metrics against the real binary, with three `btcd`
//! entries that answer a found block differently: simnet A (whose templates the server
//! mines) accepts it; simnet C, whose tip is a block of its own at the same height, answers
//! `inconclusive` (a valid block off its best chain, as bitcoind says); and a node nobody
//! listens on never answers (the submitter keeps retrying it). The block a scripted miner
//! finds is listed with each node's own answer and the verdict; `/metrics` times the calls
//! to each node by method, counts the dead node's transport errors, and puts the new block's
//! fan-out to the miner in its histogram.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::http::get;
use common::metrics::scrape;
use common::scripted::solve_a_block;
use common::{regtest_address, wait_until, Server, ServerOptions};
use serde_json::{json, Value};

/// Bound for anything the server should do at once.
const T: Duration = Duration::from_secs(10);
/// Both simnets' block difficulty (the same, so both take the block's `bits`): a block in
/// about a million hashes.
const BLOCK_DIFF: f64 = 0.0002;

fn api_blocks(server: &Server) -> Vec<Value> {
    let r = get(server.api_addr(), "/api/blocks");
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(
        r.content_type.starts_with("application/json"),
        "{}",
        r.content_type
    );
    let v: Value = serde_json::from_str(&r.body).expect("JSON");
    v["blocks"].as_array().expect("a list").clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_bitcoinds_answer_on_a_found_block_is_listed_and_its_calls_are_timed() {
    let simnet = |difficulty| ServerOptions {
        simnet_difficulty: difficulty,
        ..ServerOptions::default()
    };
    let a = Server::start(simnet(BLOCK_DIFF));
    let c = Server::start(simnet(BLOCK_DIFF));
    let c_tip = tokio::task::block_in_place(|| {
        c.call("generatetoaddress", &[json!(1), json!(regtest_address(4))])
    });
    let c_tip = c_tip[0].as_str().expect("a block hash").to_string();
    // A port bound but not listening: connections are refused.
    let dead = tokio::net::TcpSocket::new_v4().unwrap();
    dead.bind(SocketAddr::from(([127, 0, 0, 1], 0))).unwrap();
    let dead_url = dead.local_addr().unwrap().to_string();

    let server = Server::start(ServerOptions {
        config: json!({
            "mindiff": 0.00001,
            "startdiff": 0.00001,
            "api": "127.0.0.1:0",
            "btcd": [
                {"url": c.rpc_addr.to_string(), "cookie": c.cookie.display().to_string()},
                {"url": dead_url, "auth": "u", "pass": "p"},
            ],
        }),
        node: Some(a.node_ref()),
        ..ServerOptions::default()
    });
    assert!(api_blocks(&server).is_empty(), "no block yet");

    let user = format!("{}.finder", regtest_address(22));
    let mut m = solve_a_block(server.stratum, "e2e-blocks/1", &user, BLOCK_DIFF).await;

    // Each node's answer as it came: A's and C's final ones; the dead node still retried.
    let mut blocks = Vec::new();
    wait_until("A's and C's answers in /api/blocks", T, || {
        blocks = api_blocks(&server);
        blocks.len() == 1
            && !blocks[0]["nodes"][0]["answer"].is_null()
            && !blocks[0]["nodes"][1]["answer"].is_null()
    })
    .await;
    let b = &blocks[0];
    let a_hash = tokio::task::block_in_place(|| a.call("getblockhash", &[json!(1)]));
    assert_eq!(b["hash"], a_hash, "{b}");
    assert_eq!(b["height"], 1, "{b}");
    assert_eq!(b["worker"], user, "{b}");
    let nodes = b["nodes"].as_array().unwrap();
    assert_eq!(nodes.len(), 3, "{b}");
    assert_eq!(nodes[0]["node"], a.rpc_addr.to_string());
    assert_eq!(nodes[0]["answer"], json!({"result": "accepted"}), "{b}");
    assert_eq!(nodes[1]["node"], c.rpc_addr.to_string());
    assert_eq!(
        nodes[1]["answer"],
        json!({"result": "rejected", "reason": "inconclusive"}),
        "{b}"
    );
    assert!(nodes[0]["at"].as_f64().unwrap() >= b["at"].as_f64().unwrap());
    assert_eq!(nodes[2]["node"], dead_url);
    assert!(nodes[2]["answer"].is_null(), "still being retried: {b}");
    assert_eq!(b["verdict"], json!({"result": "accepted"}), "{b}");
    // Independently: A has the block at height 1, C kept its own tip.
    tokio::task::block_in_place(|| {
        assert_eq!(c.call("getblockcount", &[]), json!(1));
        assert_eq!(c.call("getbestblockhash", &[]), json!(c_tip));
    });

    // The new block's job reaches the miner; its fan-out is in the histogram.
    m.wait_for("the new block's job", T, |v| {
        v["method"] == "mining.notify" && v["params"][8] == true
    })
    .await
    .unwrap();
    let fanout = "stratumd_new_block_fanout_seconds_count";
    let mut metrics = scrape(&server);
    wait_until("a fan-out time", T, || {
        metrics = scrape(&server);
        metrics.get(fanout).copied().unwrap_or(0.0) >= 1.0
    })
    .await;
    assert_eq!(metrics["stratumd_blocks_found_total"], 1.0);
    assert_eq!(metrics["stratumd_blocks_accepted_total"], 1.0);
    let calls = |node: &str, method: &str| {
        let key = format!(
            "stratumd_bitcoind_rpc_duration_seconds_count{{method=\"{method}\",node=\"{node}\"}}"
        );
        metrics.get(&key).copied().unwrap_or(0.0)
    };
    let (a_url, c_url) = (a.rpc_addr.to_string(), c.rpc_addr.to_string());
    assert!(calls(&a_url, "getblocktemplate") >= 1.0, "{metrics:?}");
    assert_eq!(calls(&a_url, "submitblock"), 1.0, "{metrics:?}");
    assert_eq!(calls(&c_url, "submitblock"), 1.0, "{metrics:?}");
    assert_eq!(
        calls(&dead_url, "submitblock"),
        0.0,
        "its chain check fails first"
    );
    assert!(calls(&dead_url, "getblockchaininfo") >= 1.0, "{metrics:?}");
    let sum = format!(
        "stratumd_bitcoind_rpc_duration_seconds_sum{{method=\"submitblock\",node=\"{a_url}\"}}"
    );
    assert!(metrics[&sum] > 0.0 && metrics[&sum] < 10.0, "{metrics:?}");
    let errors = |node: &str, kind: &str| {
        let key = format!("stratumd_bitcoind_rpc_errors_total{{kind=\"{kind}\",node=\"{node}\"}}");
        metrics.get(&key).copied().unwrap_or(0.0)
    };
    assert!(errors(&dead_url, "transport") >= 1.0, "{metrics:?}");
    assert_eq!(errors(&a_url, "transport"), 0.0, "{metrics:?}");
    assert_eq!(
        errors(&c_url, "rpc"),
        0.0,
        "a reject string is an answer, not an error"
    );
    drop(dead);
}

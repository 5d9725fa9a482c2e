//! Drives `run_miner` against a scripted in-test stratum server and checks every submitted
//! share independently (header rebuilt and hashed by the `bitcoin` crate).

use bitcoin::block::{Header, Version};
use bitcoin::hashes::Hash;
use bitcoin::{BlockHash, CompactTarget, TxMerkleNode};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;
use stratum_miner::client::StratumClient;
use stratum_miner::miner::{run_miner, MinerConfig, MinerStats};
use stratum_miner::work::{self, parse_u32_hex, Job};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

const EXTRANONCE1: &str = "03b67868";
const MASK: u32 = 0x1fff_e000;
const DIFFICULTY: f64 = 0.00001;
const T: Duration = Duration::from_secs(60);

fn captured_notify() -> Value {
    let path = format!(
        "{}/../tests/fixtures/ckpool/sessions/with_version_rolling/notify.json",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// Recomputes a submitted share's hash with the `bitcoin` crate and returns it with the job id.
fn recompute(notify_params: &Value, submit: &Value) -> [u8; 32] {
    let job = Job::from_notify_params(notify_params).unwrap();
    let p = submit["params"].as_array().unwrap();
    assert_eq!(
        p.len(),
        6,
        "version rolling negotiated, so 6 params: {submit}"
    );
    assert_eq!(p[0], "miner-user");
    assert_eq!(p[1].as_str().unwrap(), job.job_id);
    let en2 = hex::decode(p[2].as_str().unwrap()).unwrap();
    assert_eq!(en2.len(), 8);
    let ntime = parse_u32_hex(p[3].as_str().unwrap()).unwrap();
    let nonce = parse_u32_hex(p[4].as_str().unwrap()).unwrap();
    let bits = parse_u32_hex(p[5].as_str().unwrap()).unwrap();
    assert_eq!(bits & !MASK, 0, "version bits outside the mask: {submit}");

    // Coinbase → txid (no branches in this job) with the bitcoin crate.
    let coinbase_bytes = [
        hex::decode(notify_params[2].as_str().unwrap()).unwrap(),
        hex::decode(EXTRANONCE1).unwrap(),
        en2,
        hex::decode(notify_params[3].as_str().unwrap()).unwrap(),
    ]
    .concat();
    let coinbase: bitcoin::Transaction = bitcoin::consensus::deserialize(&coinbase_bytes).unwrap();
    let mut prev = job.prevhash;
    prev.reverse(); // display order for parsing
    let header = Header {
        version: Version::from_consensus(((job.version & !MASK) | bits) as i32),
        prev_blockhash: hex::encode(prev).parse::<BlockHash>().unwrap(),
        merkle_root: TxMerkleNode::from_byte_array(coinbase.compute_txid().to_byte_array()),
        time: ntime,
        bits: CompactTarget::from_consensus(job.nbits),
        nonce,
    };
    header.block_hash().to_byte_array()
}

/// Independent difficulty check: hash (little-endian 256-bit) ≤ 0xFFFF·2^208 / d.
fn meets_independent(hash: &[u8; 32], d: f64) -> bool {
    let mut v = 0.0f64;
    for &b in hash.iter().rev() {
        v = v * 256.0 + f64::from(b);
    }
    v <= 65535.0 * 2f64.powi(208) / d
}

async fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + T;
    while !cond() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_miner_submits_valid_shares_to_scripted_server() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let config = MinerConfig {
        server: listener.local_addr().unwrap(),
        username: "miner-user".into(),
        password: "x".into(),
        user_agent: "stratum-tests/test".into(),
        threads: 2,
        version_rolling: true,
        suggest_difficulty: Some(0.5),
    };
    let stats = Arc::new(MinerStats::default());
    let shutdown = CancellationToken::new();
    let miner = tokio::spawn(run_miner(config, Arc::clone(&stats), shutdown.clone()));

    let (stream, _) = listener.accept().await.unwrap();
    let mut server = StratumClient::from_stream(stream).unwrap();

    // Handshake, in the order the miner sends it.
    let configure = server.next_message(T).await.unwrap();
    assert_eq!(configure["method"], "mining.configure");
    assert_eq!(configure["params"][0], json!(["version-rolling"]));
    assert_eq!(configure["params"][1]["version-rolling.mask"], "1fffe000");
    server
        .send(&json!({"id": configure["id"], "error": null,
            "result": {"version-rolling": true, "version-rolling.mask": "1fffe000"}}))
        .await
        .unwrap();
    let subscribe = server.next_message(T).await.unwrap();
    assert_eq!(subscribe["method"], "mining.subscribe");
    assert_eq!(subscribe["params"], json!(["stratum-tests/test"]));
    server
        .send(&json!({"id": subscribe["id"], "error": null, "result":
            [[["mining.set_difficulty", "1"], ["mining.notify", "1"]], EXTRANONCE1, 8]}))
        .await
        .unwrap();
    let authorize = server.next_message(T).await.unwrap();
    assert_eq!(authorize["method"], "mining.authorize");
    assert_eq!(authorize["params"], json!(["miner-user", "x"]));
    // Notifications before the authorize reply must be kept by the miner.
    server
        .send(&json!({"id": null, "method": "mining.set_difficulty", "params": [DIFFICULTY]}))
        .await
        .unwrap();
    server
        .send(&json!({"id": authorize["id"], "result": true, "error": null}))
        .await
        .unwrap();
    let suggest = server.next_message(T).await.unwrap();
    assert_eq!(suggest["method"], "mining.suggest_difficulty");
    assert_eq!(suggest["params"], json!([0.5]));
    server
        .send(&json!({"id": suggest["id"], "result": true, "error": null}))
        .await
        .unwrap();

    let notify_a = captured_notify();
    server.send(&notify_a).await.unwrap();

    // First share: check it independently and reject it.
    let submit = server.wait_method("mining.submit", T).await.unwrap();
    let hash = recompute(&notify_a["params"], &submit);
    assert!(meets_independent(&hash, DIFFICULTY), "{submit}");
    assert!(work::meets(&hash, DIFFICULTY));
    server
        .send(&json!({"id": submit["id"], "result": false,
            "error": [23, "Low difficulty share", null], "reject-reason": "testing-reject"}))
        .await
        .unwrap();
    wait_until("a rejected share", || stats.snapshot().rejected == 1).await;
    assert_eq!(stats.reject_reasons().get("testing-reject"), Some(&1));

    // Next share: accept it.
    let submit = server.wait_method("mining.submit", T).await.unwrap();
    let hash = recompute(&notify_a["params"], &submit);
    assert!(meets_independent(&hash, DIFFICULTY), "{submit}");
    server
        .send(&json!({"id": submit["id"], "result": true, "error": null}))
        .await
        .unwrap();
    wait_until("an accepted share", || stats.snapshot().accepted == 1).await;

    // mining.ping gets a pong with the same id.
    server
        .send(&json!({"id": 4242, "method": "mining.ping", "params": []}))
        .await
        .unwrap();
    let pong = server
        .wait_for("pong", T, |v| v["id"] == 4242)
        .await
        .unwrap();
    assert_eq!(pong["result"], "pong");

    // A clean job with a new id: shares for it must follow, and be valid.
    let mut notify_b = notify_a.clone();
    notify_b["params"][0] = json!("job-b");
    notify_b["params"][7] = json!("6878b700");
    server.send(&notify_b).await.unwrap();
    let submit_b = server
        .wait_for("a submit for job-b", T, |v| {
            v["method"] == "mining.submit" && v["params"][1] == "job-b"
        })
        .await
        .unwrap();
    assert_eq!(submit_b["params"][3], "6878b700");
    let hash = recompute(&notify_b["params"], &submit_b);
    assert!(meets_independent(&hash, DIFFICULTY), "{submit_b}");
    let s = stats.snapshot();
    assert_eq!(s.jobs_received, 2);
    assert_eq!(s.clean_jobs_received, 2);
    assert!(s.hashes > 0);
    assert_eq!(s.difficulty, DIFFICULTY);

    // Shutdown ends the miner cleanly and promptly.
    shutdown.cancel();
    let result = tokio::time::timeout(T, miner).await.unwrap().unwrap();
    assert!(result.is_ok(), "{result:?}");
}

#[tokio::test]
async fn run_miner_reports_refused_authorization_and_disconnect() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let config = MinerConfig {
        server: listener.local_addr().unwrap(),
        username: "bad-user".into(),
        password: "x".into(),
        user_agent: "t".into(),
        threads: 1,
        version_rolling: false,
        suggest_difficulty: None,
    };
    let stats = Arc::new(MinerStats::default());
    let miner = tokio::spawn(run_miner(
        config.clone(),
        Arc::clone(&stats),
        CancellationToken::new(),
    ));
    let (stream, _) = listener.accept().await.unwrap();
    let mut server = StratumClient::from_stream(stream).unwrap();
    let subscribe = server.wait_method("mining.subscribe", T).await.unwrap();
    server
        .send(&json!({"id": subscribe["id"], "error": null, "result": [[], "00", 4]}))
        .await
        .unwrap();
    let authorize = server.wait_method("mining.authorize", T).await.unwrap();
    server
        .send(&json!({"id": authorize["id"], "result": false, "error": [24, "Unauthorized", null]}))
        .await
        .unwrap();
    let result = tokio::time::timeout(T, miner).await.unwrap().unwrap();
    assert!(
        matches!(
            result,
            Err(stratum_miner::miner::MinerError::Unauthorized { .. })
        ),
        "{result:?}"
    );

    // A server that hangs up after authorizing yields a connection error, not a hang.
    let miner = tokio::spawn(run_miner(config, stats, CancellationToken::new()));
    let (stream, _) = listener.accept().await.unwrap();
    let mut server = StratumClient::from_stream(stream).unwrap();
    let subscribe = server.wait_method("mining.subscribe", T).await.unwrap();
    server
        .send(&json!({"id": subscribe["id"], "error": null, "result": [[], "00", 4]}))
        .await
        .unwrap();
    let authorize = server.wait_method("mining.authorize", T).await.unwrap();
    server
        .send(&json!({"id": authorize["id"], "result": true, "error": null}))
        .await
        .unwrap();
    server.send_line("this is not json").await.unwrap();
    drop(server);
    let result = tokio::time::timeout(T, miner).await.unwrap().unwrap();
    assert!(
        matches!(result, Err(stratum_miner::miner::MinerError::Client(_))),
        "{result:?}"
    );
}

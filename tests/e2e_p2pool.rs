//! p2pool mode end to end with the real binary on simnet: two CPU miners under different
//! addresses find share-chain shares and blocks; every block simnet accepted pays exactly
//! the PPLNS window of its share's parent, computed here from the store with a deliberately
//! naive walk (no code of the node's window or payout), and so does the API's payout
//! window at the tip (`/api/sharechain/window`, with `/api/sharechain/share/<tip>`); a `kill -9` while shares are being
//! written restarts on the same tip and window, and miners are served again on it.

mod common;
#[path = "support/naive_pplns.rs"]
mod naive_pplns;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use bitcoin::{Block, ScriptBuf};
use common::http::get;
use common::{regtest_address, Server, ServerOptions};
use naive_pplns::{is_data, naive_split, naive_weights, script_of, stored};
use serde_json::{json, Value};
use stratum_miner::miner::{run_miner, MinerConfig, MinerStats};
use stratumd::p2pool::share::ShareId;
use stratumd::p2pool::spec::ChainSpec;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

fn options() -> ServerOptions {
    ServerOptions {
        config: json!({ "mindiff": 0.00001, "startdiff": 0.00005 }),
        solo: false,
        // Two CPU threads find a block every few seconds, shares in between.
        simnet_difficulty: 0.002,
        simnet_txs: 3,
        args: vec![
            "--p2pool".into(),
            "--p2pool-listen".into(),
            "127.0.0.1:0".into(),
        ],
        node: None,
    }
}

fn store_dir(server: &Server) -> PathBuf {
    server.dir.path().join("logs").join("sharechain")
}

struct Miners {
    stop: CancellationToken,
    stats: Vec<Arc<MinerStats>>,
}

fn start_miners(server: &Server, addresses: &[String]) -> Miners {
    let stop = CancellationToken::new();
    let mut stats = Vec::new();
    for (i, address) in addresses.iter().enumerate() {
        let s = Arc::new(MinerStats::default());
        stats.push(s.clone());
        let cfg = MinerConfig {
            server: server.stratum,
            username: format!("{address}.rig{i}"),
            password: "x".into(),
            user_agent: "e2e-p2pool/1".into(),
            threads: 1,
            version_rolling: i % 2 == 0,
            suggest_difficulty: None,
        };
        tokio::spawn(run_miner(cfg, s, stop.clone()));
    }
    Miners { stop, stats }
}

async fn rpc(server: &Arc<Server>, method: &'static str, params: Vec<Value>) -> Value {
    let s = server.clone();
    tokio::task::spawn_blocking(move || s.call(method, &params))
        .await
        .expect("rpc task")
}

/// Polls (bounded) until `count` log lines contain `needle`.
async fn wait_log_count(server: &Server, needle: &str, count: usize, timeout: Duration) {
    let deadline = Instant::now() + timeout;
    loop {
        let n = server
            .log
            .lock()
            .unwrap()
            .iter()
            .filter(|l| l.contains(needle))
            .count();
        if n >= count {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {count} × `{needle}` (have {n}); log tail:\n{}",
            server.log_tail()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_miners_find_shares_and_blocks_that_pay_the_stored_window() {
    let mut opts = options();
    opts.config["api"] = json!("127.0.0.1:0");
    let server = Arc::new(Server::start(opts));
    let (a, b) = (regtest_address(11), regtest_address(12));
    let miners = start_miners(&server, &[a.clone(), b.clone()]);
    // Blocks accepted, with share-chain shares from both miners before them.
    wait_log_count(&server, "share-chain share", 10, Duration::from_secs(90)).await;
    let deadline = Instant::now() + Duration::from_secs(120);
    let blocks = loop {
        let count = rpc(&server, "getblockcount", vec![])
            .await
            .as_u64()
            .unwrap();
        if count >= 3 {
            break count;
        }
        assert!(
            Instant::now() < deadline,
            "no 3 blocks; log:\n{}",
            server.log_tail()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    miners.stop.cancel();
    assert!(miners.stats.iter().all(|s| s.snapshot().accepted > 0));
    let mut raw_blocks = Vec::new();
    for height in 1..=blocks {
        let hash = rpc(&server, "getblockhash", vec![json!(height)]).await;
        let hex = rpc(&server, "getblock", vec![hash, json!(0)]).await;
        let bytes = hex::decode(hex.as_str().unwrap()).unwrap();
        let block: Block = bitcoin::consensus::deserialize(&bytes).expect("simnet block decodes");
        raw_blocks.push(block);
    }
    // The API's payout window and one share, read from the running node's store.
    let api = server.api_addr();
    let window = get(api, "/api/sharechain/window");
    assert_eq!(window.status, 200, "{}", window.body);
    let window: Value = serde_json::from_str(&window.body).expect("the window as JSON");
    let tip = window["tip"].as_str().expect("a tip").to_string();
    let share = get(api, &format!("/api/sharechain/share/{tip}"));
    assert_eq!(share.status, 200, "{}", share.body);
    let share: Value = serde_json::from_str(&share.body).unwrap();
    assert_eq!(get(api, "/api/sharechain/share/nothex").status, 400);
    assert_eq!(
        get(api, &format!("/api/sharechain/share/{}", "ab".repeat(32))).status,
        404
    );

    // Stop the node (SIGKILL: what is stored is what a crash leaves) and read its store.
    let dir = store_dir(&server);
    let mut server = Arc::try_unwrap(server).ok().expect("one owner");
    server.kill();
    server.assert_none_refused();
    let (spec, entries, _) = stored(&dir);
    assert_eq!(spec, ChainSpec::preset("simnet").unwrap());
    // The API's window is the naive PPLNS split at its tip of the tip share's reward.
    let tip_id = entries
        .keys()
        .find(|id| id.to_string() == tip)
        .copied()
        .expect("the API's tip is stored");
    let reward = window["reward"].as_u64().unwrap();
    assert_eq!(reward, entries[&tip_id].share.coinbase_value);
    let api_paid: BTreeMap<String, u64> = window["payouts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["address"].as_str().unwrap().to_string(),
                p["amount"].as_u64().unwrap(),
            )
        })
        .filter(|(_, amount)| *amount > 0)
        .collect();
    let weights = naive_weights(&spec, &entries, tip_id);
    let address = |script: &ScriptBuf| {
        bitcoin::Address::from_script(script, bitcoin::Network::Regtest)
            .unwrap()
            .to_string()
    };
    // The PPLNS weights too, and their total.
    let api_weights: BTreeMap<String, String> = window["payouts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["weight"] != "0")
        .map(|p| {
            (
                p["address"].as_str().unwrap().to_string(),
                p["weight"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let naive_w: BTreeMap<String, String> = weights
        .iter()
        .map(|(s, w)| (address(s), w.to_string()))
        .collect();
    assert_eq!(api_weights, naive_w, "{window}");
    let total = weights
        .values()
        .fold(ruint::aliases::U256::ZERO, |a, w| a + *w);
    assert_eq!(window["total_weight"], total.to_string(), "{window}");
    let naive: BTreeMap<String, u64> = naive_split(&weights, reward)
        .into_iter()
        .map(|(script, amount)| {
            let address = bitcoin::Address::from_script(&script, bitcoin::Network::Regtest);
            (address.unwrap().to_string(), amount)
        })
        .filter(|(_, amount)| *amount > 0)
        .collect();
    assert!(naive.len() >= 2, "both miners in the window: {window}");
    assert_eq!(api_paid, naive, "{window}");
    assert_eq!(share["height"], entries[&tip_id].height, "{share}");
    assert_eq!(
        share["parent"],
        entries[&tip_id].share.meta.parent.to_string()
    );
    assert_eq!(share["verdict"], "valid", "{share}");
    let (sa, sb) = (script_of(&a), script_of(&b));
    let (mut both_paid, mut checked) = (0, 0);
    for block in &raw_blocks {
        // The block's header is its share's: the share's id is the block hash.
        let id = ShareId(bitcoin::hashes::Hash::to_byte_array(block.block_hash()));
        // A block solution meets the share target unless the share-chain difficulty rose
        // above the block's (fast CPUs): then it is no share, and pays a window all the same
        // but one this test cannot find from the block alone.
        let Some(entry) = entries.get(&id) else {
            continue;
        };
        checked += 1;
        let coinbase = &block.txdata[0];
        let paid: BTreeMap<ScriptBuf, u64> = coinbase
            .output
            .iter()
            .filter(|o| !is_data(&o.script_pubkey))
            .map(|o| (o.script_pubkey.clone(), o.value.to_sat()))
            .collect();
        let reward: u64 = paid.values().sum();
        assert_eq!(
            reward, entry.share.coinbase_value,
            "the whole reward is paid"
        );
        let weights = naive_weights(&spec, &entries, entry.share.meta.parent);
        let expected = if weights.is_empty() {
            // The chain's first share: its miner takes all.
            BTreeMap::from([(entry.share.meta.payout_script.clone(), reward)])
        } else {
            naive_split(&weights, reward)
        };
        assert_eq!(paid, expected, "block {}", block.block_hash());
        if paid.contains_key(&sa) && paid.contains_key(&sb) {
            both_paid += 1;
        }
        // Exactly one commitment output of this share, beside the witness commitment.
        let commitments = coinbase
            .output
            .iter()
            .filter(|o| o.script_pubkey.as_bytes().get(2..6) == Some(b"p2ps"))
            .count();
        assert_eq!(commitments, 1);
    }
    assert!(
        checked >= 2,
        "{checked} of {} blocks are shares",
        raw_blocks.len()
    );
    assert!(both_paid > 0, "a block paid both miners");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_killed_while_writing_shares_restarts_on_the_same_tip_and_window() {
    let opts = options();
    let server = Server::start(ServerOptions {
        // No block in this test: shares only.
        simnet_difficulty: 1000.0,
        ..options()
    });
    let miners = start_miners(&server, &[regtest_address(21), regtest_address(22)]);
    wait_log_count(&server, "share-chain share", 15, Duration::from_secs(90)).await;
    // Killed while the miners still find shares.
    let dir = store_dir(&server);
    let mut server = server;
    server.kill();
    miners.stop.cancel();
    let bin = common::stratumd_bin();
    let inspect = |what: &str| -> Value {
        let mut cmd = std::process::Command::new(&bin);
        cmd.arg("sharechain");
        cmd.args(what.split(' '));
        let out = cmd.args(["--json", "--store"]).arg(&dir).output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let tip = inspect("tip");
    let window = inspect("window");
    let (_, entries, stored_tip) = stored(&dir);
    let tip_id = tip["tip"].as_str().unwrap().to_string();
    assert_eq!(stored_tip.map(|t| t.to_string()), Some(tip_id.clone()));
    assert!(tip["shares"].as_u64().unwrap() >= 15, "{tip}");
    assert_eq!(tip["shares"].as_u64().unwrap() as usize, entries.len());
    // Every stored share checks again as valid against its ancestry: the tip, and shares
    // below it that have children.
    let mut at = stored_tip.unwrap();
    for _ in 0..5 {
        let share = inspect(&format!("share {at}"));
        assert_eq!(share["verdict"], "valid", "{share}");
        assert_eq!(share["hash"], at.to_string());
        at = entries[&at].share.meta.parent;
    }

    let server = server.restart(&ServerOptions {
        simnet_difficulty: 1000.0,
        ..opts
    });
    assert!(
        server.wait_log(&format!("tip {tip_id} at height"), Duration::from_secs(10)),
        "restarted on the stored tip; log:\n{}",
        server.log_tail()
    );
    // The same tip and window, read back by the restarted node's own store.
    let again = inspect("window");
    assert_eq!(again, window);
    // Miners are served on it: new shares build on the old tip.
    let miners = start_miners(&server, &[regtest_address(21)]);
    wait_log_count(&server, "share-chain share", 2, Duration::from_secs(60)).await;
    miners.stop.cancel();
    let mut server = server;
    server.kill();
    server.assert_none_refused();
    let (_, entries, Some(new_tip)) = stored(&dir) else {
        panic!("a tip");
    };
    let mut at = new_tip;
    let mut found = false;
    while let Some(e) = entries.get(&at) {
        if at.to_string() == tip_id {
            found = true;
            break;
        }
        at = e.share.meta.parent;
    }
    assert!(found, "the new tip builds on the restored one");
    assert_ne!(new_tip.to_string(), tip_id);
}

//! p2pool mode end to end with the real binary on simnet: two CPU miners under different
//! addresses find share-chain shares and blocks; every block simnet accepted pays exactly
//! the PPLNS window of its share's parent, computed here from the store with a deliberately
//! naive walk (no code of the node's window or payout); a `kill -9` while shares are being
//! written restarts on the same tip and window, and miners are served again on it.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use bitcoin::{Address, Block, Network, ScriptBuf};
use common::{regtest_address, Server, ServerOptions};
use ruint::aliases::U256;
use serde_json::{json, Value};
use stratum_miner::miner::{run_miner, MinerConfig, MinerStats};
use stratumd::p2pool::chain::Entry;
use stratumd::p2pool::share::ShareId;
use stratumd::p2pool::spec::{ChainSpec, BPS};
use stratumd::p2pool::store::Store;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

fn options() -> ServerOptions {
    ServerOptions {
        config: json!({ "mindiff": 0.00001, "startdiff": 0.00005 }),
        solo: false,
        // Two CPU threads find a block every few seconds, shares in between.
        simnet_difficulty: 0.002,
        simnet_txs: 3,
        args: vec!["--p2pool".into()],
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

fn log_tail(server: &Server) -> String {
    let log = server.log.lock().unwrap();
    log[log.len().saturating_sub(40)..].join("\n")
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
            log_tail(server)
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The chain took every share this node's miners found (a refusal would be a bug in the
/// job's coinbase or metadata).
fn assert_none_refused(server: &Server) {
    let log = server.log.lock().unwrap();
    let refused: Vec<&String> = log
        .iter()
        .filter(|l| l.contains("refused this node's own share"))
        .collect();
    assert!(refused.is_empty(), "{refused:?}");
}

fn script_of(addr: &str) -> ScriptBuf {
    addr.parse::<Address<_>>()
        .unwrap()
        .require_network(Network::Regtest)
        .unwrap()
        .script_pubkey()
}

/// The stored chain, read offline.
fn stored(dir: &Path) -> (ChainSpec, BTreeMap<ShareId, Entry>, Option<ShareId>) {
    let (store, spec) = Store::open_read_only(dir).expect("store opens read-only");
    let entries = store
        .entries()
        .unwrap()
        .into_iter()
        .map(|e| (e.share.id(), e))
        .collect();
    (spec, entries, store.stored_tip().unwrap())
}

/// The work of a compact target: 2^256 / (target + 1), as bitcoind counts it.
fn work_of_bits(bits: u32) -> U256 {
    let t = bitcoin::pow::Target::from_compact(bitcoin::CompactTarget::from_consensus(bits));
    let target = U256::from_le_bytes(t.to_le_bytes());
    (U256::MAX - target) / (target + U256::from(1u8)) + U256::from(1u8)
}

/// The PPLNS weights at `top` by the definition, from the stored shares alone: walk back
/// from `top`; the work limit is the window ratio times the median block work of `top`
/// and its 10 ancestors' headers; stop at the cap or once the work reaches the limit; each
/// share credits its own work (and its uncles' penalties), each uncle its work less the
/// penalty.
fn naive_weights(
    spec: &ChainSpec,
    entries: &BTreeMap<ShareId, Entry>,
    top: ShareId,
) -> BTreeMap<ScriptBuf, U256> {
    let mut block_works = Vec::new();
    let mut at = top;
    while let Some(e) = entries.get(&at) {
        if block_works.len() == 11 {
            break;
        }
        block_works.push(work_of_bits(e.share.header.bits.to_consensus()));
        at = e.share.meta.parent;
    }
    let mut weights: BTreeMap<ScriptBuf, U256> = BTreeMap::new();
    if block_works.is_empty() {
        return weights;
    }
    block_works.sort();
    let limit = block_works[(block_works.len() - 1) / 2] * U256::from(spec.window_work_num)
        / U256::from(spec.window_work_den);
    let (mut work, mut count, mut at) = (U256::ZERO, 0u32, top);
    while let Some(e) = entries.get(&at) {
        if count >= spec.window_max_shares || work >= limit {
            break;
        }
        let own = work_of_bits(e.share.meta.share_bits.0);
        work += own;
        count += 1;
        let mut includer = own;
        for u in &e.share.meta.uncles {
            let ue = &entries[u];
            let uw = work_of_bits(ue.share.meta.share_bits.0);
            let kept = uw * U256::from(BPS - spec.uncle_penalty_bps) / U256::from(BPS);
            *weights
                .entry(ue.share.meta.payout_script.clone())
                .or_default() += kept;
            includer += uw - kept;
        }
        *weights
            .entry(e.share.meta.payout_script.clone())
            .or_default() += includer;
        at = e.share.meta.parent;
    }
    weights
}

/// A reward split by weight the simple way, for a window with fewer payees than the
/// output cap and no fee: heaviest first (ties by script), each payee the floor of its
/// cumulative weight's share less what the ones before got, so the total is exact.
fn naive_split(weights: &BTreeMap<ScriptBuf, U256>, reward: u64) -> BTreeMap<ScriptBuf, u64> {
    let total: U256 = weights.values().fold(U256::ZERO, |a, w| a + *w);
    let mut order: Vec<(&ScriptBuf, &U256)> = weights.iter().collect();
    order.sort_by(|a, b| b.1.cmp(a.1).then_with(|| a.0.cmp(b.0)));
    let (mut cumulative, mut paid) = (U256::ZERO, 0u64);
    let mut out = BTreeMap::new();
    for (script, w) in order {
        cumulative += *w;
        let upto = (U256::from(reward) * cumulative / total).to::<u64>();
        out.insert(script.clone(), upto - paid);
        paid = upto;
    }
    out
}

fn is_data(script: &ScriptBuf) -> bool {
    script.is_op_return()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_miners_find_shares_and_blocks_that_pay_the_stored_window() {
    let server = Arc::new(Server::start(options()));
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
            log_tail(&server)
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
    // Stop the node (SIGKILL: what is stored is what a crash leaves) and read its store.
    let dir = store_dir(&server);
    let mut server = Arc::try_unwrap(server).ok().expect("one owner");
    server.kill();
    assert_none_refused(&server);
    let (spec, entries, _) = stored(&dir);
    assert_eq!(spec, ChainSpec::preset("simnet").unwrap());
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
        log_tail(&server)
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
    assert_none_refused(&server);
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

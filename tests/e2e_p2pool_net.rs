//! The share chain's network end to end with real `stratumd` processes on one simnet: three
//! nodes, each with its own miner, keep one chain (equal tips, the same payout table from
//! every store), and a block found through node B pays the miners of A and C, as computed
//! here from B's store by the definition; a node started after 10,000 shares syncs them
//! and then serves work on the tip; a node cut off and reconnected converges on the
//! most-work chain.

mod common;
#[path = "support/naive_pplns.rs"]
mod naive_pplns;
#[path = "support/share_maker.rs"]
mod share_maker;
#[path = "support/test_peer.rs"]
mod test_peer;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use bitcoin::{Block, ScriptBuf};
use common::{regtest_address, NodeRef, Server, ServerOptions};
use naive_pplns::{is_data, naive_split, naive_weights, script_of, stored};
use serde_json::{json, Value};
use stratum_miner::miner::{run_miner, MinerConfig, MinerStats};
use stratumd::p2pool::share::ShareId;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

fn options(peers: &[String], node: Option<NodeRef>) -> ServerOptions {
    options_on("simnet", peers, node)
}

/// simnet's chain but with regtest's easiest share target (a couple of hashes), so that
/// seeding 10,000 shares costs no grinding; written to `dir`, for `options_on`.
fn cheap_spec(dir: &std::path::Path) -> String {
    let spec = stratumd::p2pool::spec::ChainSpec {
        name: "e2e-sync".into(),
        min_share_bits: stratumd::p2pool::spec::Bits(0x207f_ffff),
        ..stratumd::p2pool::spec::ChainSpec::preset("simnet").unwrap()
    };
    let path = dir.join("spec.json");
    std::fs::write(&path, spec.to_json().to_string()).unwrap();
    path.display().to_string()
}

fn options_on(chain: &str, peers: &[String], node: Option<NodeRef>) -> ServerOptions {
    let mut args: Vec<String> = vec![
        "--p2pool".into(),
        "--p2pool-listen".into(),
        "127.0.0.1:0".into(),
    ];
    for p in peers {
        args.push("--p2pool-peer".into());
        args.push(p.clone());
    }
    ServerOptions {
        // Against another node's simnet the chain is named: simnet's spec, not regtest's.
        config: json!({ "mindiff": 0.00001, "startdiff": 0.00005, "p2pool": { "chain": chain } }),
        solo: false,
        simnet_difficulty: 0.002,
        simnet_txs: 3,
        args,
        node,
    }
}

fn store_dir(server: &Server) -> PathBuf {
    server.dir.path().join("logs").join("sharechain")
}

fn start_miner(server: &Server, address: &str, stop: &CancellationToken) -> Arc<MinerStats> {
    let stats = Arc::new(MinerStats::default());
    let cfg = MinerConfig {
        server: server.stratum,
        username: format!("{address}.rig"),
        password: "x".into(),
        user_agent: "e2e-p2pool-net/1".into(),
        threads: 1,
        version_rolling: true,
        suggest_difficulty: None,
    };
    tokio::spawn(run_miner(cfg, stats.clone(), stop.clone()));
    stats
}

/// The node's chain tip and height from its status file.
fn tip(server: &Server) -> Option<(String, u64)> {
    let v = server.p2pool_status()?;
    Some((
        v["chain"]["tip"].as_str()?.to_string(),
        v["chain"]["height"].as_u64()?,
    ))
}

fn peers(server: &Server) -> usize {
    server
        .p2pool_status()
        .and_then(|v| v["network"]["peers"].as_array().map(Vec::len))
        .unwrap_or(0)
}

async fn wait_for(
    what: &str,
    timeout: Duration,
    servers: &[&Server],
    mut cond: impl FnMut() -> bool,
) {
    let deadline = Instant::now() + timeout;
    while !cond() {
        if Instant::now() > deadline {
            let logs: Vec<String> = servers.iter().map(|s| s.log_tail()).collect();
            panic!(
                "timed out waiting for {what}; logs:\n{}",
                logs.join("\n-----\n")
            );
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// The payout table each node's own code computes from its store for `reward`.
fn window_of(server: &Server, reward: u64) -> Value {
    let out = std::process::Command::new(common::stratumd_bin())
        .args([
            "sharechain",
            "window",
            "--json",
            "--reward",
            &reward.to_string(),
            "--store",
        ])
        .arg(store_dir(server))
        .output()
        .expect("stratumd sharechain window");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("window JSON")
}

fn accepted_block_hashes(server: &Server) -> Vec<String> {
    server
        .log
        .lock()
        .unwrap()
        .iter()
        .filter(|l| l.contains("block accepted by bitcoind"))
        .filter_map(|l| l.split("hash=").nth(1))
        .filter_map(|h| h.split_whitespace().next())
        .map(str::to_string)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_keep_one_chain_and_a_block_through_b_pays_the_miners_of_a_and_c() {
    let a = Server::start(options(&[], None));
    let a_addr = a.p2p_addr();
    let b = Server::start(options(std::slice::from_ref(&a_addr), Some(a.node_ref())));
    let b_addr = b.p2p_addr();
    let c = Server::start(options(&[a_addr.clone(), b_addr], Some(a.node_ref())));
    let all = [&a, &b, &c];
    wait_for("three peered nodes", Duration::from_secs(30), &all, || {
        peers(&a) == 2 && peers(&b) == 2 && peers(&c) == 2
    })
    .await;
    let addresses = [
        regtest_address(31),
        regtest_address(32),
        regtest_address(33),
    ];
    let stop = CancellationToken::new();
    let stats: Vec<Arc<MinerStats>> = all
        .iter()
        .zip(&addresses)
        .map(|(s, addr)| start_miner(s, addr, &stop))
        .collect();
    // Mine until a block found through B, taken by simnet, pays all three nodes' miners.
    let scripts: Vec<ScriptBuf> = addresses.iter().map(|a| script_of(a)).collect();
    let deadline = Instant::now() + Duration::from_secs(240);
    let mut seen = std::collections::HashSet::new();
    let block = 'found: loop {
        for hash in accepted_block_hashes(&b) {
            if !seen.insert(hash.clone()) {
                continue;
            }
            let block = get_block(a.node_ref(), hash).await;
            let outputs: Vec<&ScriptBuf> = block.txdata[0]
                .output
                .iter()
                .map(|o| &o.script_pubkey)
                .collect();
            if scripts.iter().all(|s| outputs.contains(&s)) {
                break 'found block;
            }
        }
        assert!(
            Instant::now() < deadline,
            "no block through B paying all three; B's log:\n{}",
            b.log_tail()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(stats.iter().all(|s| s.snapshot().accepted > 0));
    stop.cancel();
    let stopped = Instant::now();
    // Equal tips on all three once the last shares have gone round.
    wait_for("equal tips", Duration::from_secs(10), &all, || {
        let tips: Vec<Option<(String, u64)>> = all.iter().map(|s| tip(s)).collect();
        tips[0].is_some() && tips.iter().all(|t| *t == tips[0])
    })
    .await;
    let equal_at = std::time::SystemTime::now();
    let converged = stopped.elapsed();
    // Stable: no share still on its way (the tips stay equal a moment later).
    tokio::time::sleep(Duration::from_millis(500)).await;
    let tips: Vec<Option<(String, u64)>> = all.iter().map(|s| tip(s)).collect();
    assert!(tips.iter().all(|t| *t == tips[0]), "{tips:?}");
    println!(
        "tips equal {converged:?} after the miners stopped: {:?}",
        tips[0]
    );
    // From the moment the tip's share was kept by the node whose miner found it (its log
    // line's stamp) to the moment the test saw all three status files (rewritten every
    // 250 ms) name it: at least the time the share took to reach every node's tip.
    let tip_id = tips[0].clone().expect("a tip").0;
    let kept_at = all
        .iter()
        .find_map(|s| s.logged_at(&format!("share-chain share share={tip_id}")))
        .expect("the tip's share in its node's log");
    let spread = equal_at.duration_since(kept_at).unwrap_or_default();
    println!("tip share kept {spread:?} before all tips were seen equal");
    assert!(
        spread <= Duration::from_secs(1),
        "tips equal only {spread:?} after the tip's share was kept"
    );
    for s in all {
        s.assert_none_refused();
    }
    // The same tip gives the same payout table on every node (each from its own store).
    let windows: Vec<Value> = all.iter().map(|s| window_of(s, 5_000_000_000)).collect();
    assert_eq!(windows[0]["payouts"], windows[1]["payouts"]);
    assert_eq!(windows[0]["payouts"], windows[2]["payouts"]);
    // B's block, from simnet, pays the window at its share's parent, computed here from
    // B's store by the definition; and it pays all three nodes' miners.
    let id = ShareId(bitcoin::hashes::Hash::to_byte_array(block.block_hash()));
    let mut b = b;
    b.kill();
    let (spec, entries, _) = stored(&store_dir(&b));
    let entry = entries.get(&id).expect("B's block is a share on B's chain");
    let paid: BTreeMap<ScriptBuf, u64> = block.txdata[0]
        .output
        .iter()
        .filter(|o| !is_data(&o.script_pubkey))
        .map(|o| (o.script_pubkey.clone(), o.value.to_sat()))
        .collect();
    let weights = naive_weights(&spec, &entries, entry.share.meta.parent);
    assert_eq!(paid, naive_split(&weights, entry.share.coinbase_value));
    for s in &scripts {
        assert!(paid.contains_key(s), "{s} not paid by B's block: {paid:?}");
    }
}

#[test]
fn log_stamps_are_read_as_utc() {
    let t = common::log_time("2026-12-02T19:03:29.123456Z  INFO x: y").unwrap();
    let d = t.duration_since(std::time::UNIX_EPOCH).unwrap();
    // `date -u -d 2026-12-02T19:03:29Z +%s`
    assert_eq!(d.as_secs(), 1_796_238_209);
    assert_eq!(d.subsec_micros(), 123_456);
    assert_eq!(common::log_time("no stamp"), None);
}

/// A block from simnet, decoded.
async fn get_block(node: NodeRef, hash: String) -> Block {
    let hex = tokio::task::spawn_blocking(move || {
        let client = bitcoincore_rpc::Client::new(
            &format!("http://{}", node.rpc_addr),
            bitcoincore_rpc::Auth::CookieFile(node.cookie),
        )
        .expect("rpc client");
        bitcoincore_rpc::RpcApi::call::<Value>(&client, "getblock", &[json!(hash), json!(0)])
            .expect("getblock")
    })
    .await
    .expect("rpc task");
    bitcoin::consensus::deserialize(&hex::decode(hex.as_str().expect("hex")).expect("hex"))
        .expect("simnet block decodes")
}

/// Writes `n` valid shares by `payees` miners into a store at `dir` (between the genesis
/// and now, at most two minutes apart, so the share target eases to the spec's easiest
/// and no share is from the future), for a node to start on; returns the tip.
fn seed(dir: &std::path::Path, spec_file: &str, n: u32, payees: u32) -> ShareId {
    use stratumd::p2pool::chain::Verdict;
    use stratumd::p2pool::spec::ChainSpec;
    use stratumd::p2pool::store::Store;
    std::fs::create_dir_all(dir).unwrap();
    let spec = ChainSpec::load(std::path::Path::new(spec_file)).unwrap();
    let mut store = Store::open(dir, &spec).unwrap();
    let mut chain = store.load(spec.clone()).unwrap();
    // A block target of difficulty 0.01 in the headers: the diff-1 target times 100.
    let diff1 =
        bitcoin::pow::Target::from_compact(bitcoin::CompactTarget::from_consensus(0x1d00_ffff));
    let target = ruint::aliases::U256::from_le_bytes(diff1.to_le_bytes())
        * ruint::aliases::U256::from(100u32);
    let block_bits = stratumd::p2pool::target::bits_of(target).0;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let period = ((now - spec.genesis_time) / (u64::from(n) + 2)).min(120);
    assert!(period >= 2, "the genesis is too recent to seed {n} shares");
    let start = now - period * (u64::from(n) + 1);
    let mut maker = share_maker::ShareMaker::custom(start as u32, period as u32, block_bits);
    // The last 1,000 at one time: the share target rises to what a CPU miner finds a few
    // times a second (at the easiest target every hash is a share).
    let steep = n.saturating_sub(1_000);
    for k in 0..n {
        if k == steep {
            // Just before now, so the first share mined on the tip is not eased by a gap.
            maker = share_maker::ShareMaker::custom((now - 30) as u32, 0, block_bits);
        }
        let share = maker.next_on_tip(&mut chain, k % payees);
        assert_eq!(
            chain.offer(share, u64::MAX / 4),
            Verdict::Valid,
            "share {k}"
        );
    }
    store.save(&mut chain, u64::MAX / 4).unwrap();
    chain.tip()
}

fn synced(server: &Server) -> bool {
    server
        .p2pool_status()
        .is_some_and(|v| v["network"]["synced"] == json!(true))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_started_after_10000_shares_syncs_them_then_serves_work_on_the_tip() {
    let dir = tempfile::tempdir().unwrap();
    let spec_file = cheap_spec(dir.path());
    let seeded = seed(
        &dir.path().join("logs").join("sharechain"),
        &spec_file,
        10_000,
        20,
    )
    .to_string();
    let a = Server::start_in(dir, &options_on(&spec_file, &[], None));
    wait_for(
        "A on the seeded tip",
        Duration::from_secs(30),
        &[&a],
        || tip(&a) == Some((seeded.clone(), 10_000)),
    )
    .await;
    let a_addr = a.p2p_addr();
    let started = Instant::now();
    let d = Server::start(options_on(&spec_file, &[a_addr], Some(a.node_ref())));
    wait_for(
        "D synced to the seeded tip",
        Duration::from_secs(120),
        &[&a, &d],
        || synced(&d) && tip(&d) == Some((seeded.clone(), 10_000)),
    )
    .await;
    println!(
        "10,000 shares synced {:?} after D started",
        started.elapsed()
    );
    assert!(d.wait_log("p2pool: synced at height 10000", Duration::from_secs(5)));
    // Work on the tip: D's miner finds shares on the seeded tip, and A takes them.
    let stop = CancellationToken::new();
    let _miner = start_miner(&d, &regtest_address(41), &stop);
    wait_for(
        "a share on the tip through D",
        Duration::from_secs(120),
        &[&a, &d],
        || tip(&d).is_some_and(|t| t.1 > 10_000),
    )
    .await;
    stop.cancel();
    wait_for(
        "A has D's shares",
        Duration::from_secs(30),
        &[&a, &d],
        || {
            let (ta, td) = (tip(&a), tip(&d));
            ta.is_some() && ta == td
        },
    )
    .await;
    d.assert_none_refused();
    let mut d = d;
    d.kill();
    let (_, entries, _) = stored(&store_dir(&d));
    let first = entries
        .values()
        .find(|e| e.height == 10_001)
        .expect("a share at height 10,001");
    assert_eq!(
        first.share.meta.parent.to_string(),
        seeded,
        "D's first share builds on the tip it synced"
    );
}

/// Two forged shares on the genesis of the simnet chain: one paying the wrong outputs, one
/// whose header misses its target.
fn forged() -> (Vec<u8>, Vec<u8>) {
    use stratumd::p2pool::chain::Chain;
    use stratumd::p2pool::spec::ChainSpec;
    let spec = ChainSpec::preset("simnet").unwrap();
    let mut chain = Chain::new(spec.clone());
    let mut maker = share_maker::ShareMaker::new(spec);
    let mut wrong_payouts = maker.next_on_tip(&mut chain, 1);
    wrong_payouts.meta.outputs_hash = [7; 32];
    let mut bad_pow = maker.next_on_tip(&mut chain, 2);
    let target = stratumd::p2pool::target::target_of(bad_pow.meta.share_bits).unwrap();
    while ruint::aliases::U256::from_le_bytes(bad_pow.id().0) <= target {
        bad_pow.header.nonce = bad_pow.header.nonce.wrapping_add(1);
    }
    (wrong_payouts.encode(), bad_pow.encode())
}

fn banned_with(server: &Server, peer: &str, reason: &str) -> bool {
    server
        .log
        .lock()
        .unwrap()
        .iter()
        .any(|l| l.contains(&format!("banned peer {peer}")) && l.contains(reason))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lying_peer_is_banned_and_the_others_mine_on_unaffected() {
    let a = Server::start(options(&[], None));
    let a_addr = a.p2p_addr();
    let b = Server::start(options(std::slice::from_ref(&a_addr), Some(a.node_ref())));
    let b_addr = b.p2p_addr();
    let all = [&a, &b];
    wait_for("A and B peered", Duration::from_secs(30), &all, || {
        peers(&a) == 1 && peers(&b) == 1
    })
    .await;
    let stop = CancellationToken::new();
    let _ma = start_miner(&a, &regtest_address(51), &stop);
    let _mb = start_miner(&b, &regtest_address(52), &stop);
    wait_for("shares on the chain", Duration::from_secs(60), &all, || {
        tip(&a).is_some_and(|t| t.1 >= 5)
    })
    .await;
    let (wrong_payouts, bad_pow) = forged();
    let spec = stratumd::p2pool::spec::ChainSpec::preset("simnet").unwrap();
    let nodes: Vec<libp2p::Multiaddr> = [&a_addr, &b_addr]
        .iter()
        .map(|a| a.parse().unwrap())
        .collect();
    for (bytes, reason) in [
        (wrong_payouts, "coinbase outputs are not the PPLNS payout"),
        (bad_pow, "header hash above the share target"),
    ] {
        let mut liar = test_peer::TestPeer::new(&spec);
        liar.connect(&nodes, Duration::from_secs(30)).await;
        liar.publish(bytes);
        assert!(
            liar.until_disconnected(Duration::from_secs(30)).await,
            "the liar is still connected"
        );
        let id = liar.id().to_string();
        for s in all {
            wait_for(
                "the ban logged with its reason",
                Duration::from_secs(10),
                &all,
                || banned_with(s, &id, reason),
            )
            .await;
        }
        assert!(
            liar.refused_by(nodes[0].clone(), Duration::from_secs(10))
                .await,
            "a banned peer is refused"
        );
    }
    // A and B still mine with each other: more shares, the same tip on both.
    let height = tip(&a).unwrap().1;
    wait_for(
        "more shares after the bans",
        Duration::from_secs(60),
        &all,
        || tip(&a).is_some_and(|t| t.1 >= height + 5),
    )
    .await;
    stop.cancel();
    wait_for("equal tips", Duration::from_secs(10), &all, || {
        tip(&a).is_some() && tip(&a) == tip(&b)
    })
    .await;
    assert_eq!(peers(&a), 1, "A and B are still peers");
    for s in all {
        s.assert_none_refused();
        let bans = s.p2pool_status().unwrap()["network"]["bans_total"]
            .as_u64()
            .unwrap();
        assert_eq!(bans, 2);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partitioned_node_and_its_heal_converge_on_the_most_work_chain() {
    let a = Server::start(options(&[], None));
    let a_addr = a.p2p_addr();
    let b = Server::start(options(std::slice::from_ref(&a_addr), Some(a.node_ref())));
    wait_for("A and B peered", Duration::from_secs(30), &[&a, &b], || {
        peers(&a) == 1
    })
    .await;
    let stop = CancellationToken::new();
    let _ma = start_miner(&a, &regtest_address(61), &stop);
    let _mb = start_miner(&b, &regtest_address(62), &stop);
    wait_for("a shared chain", Duration::from_secs(60), &[&a, &b], || {
        tip(&a).is_some_and(|t| t.1 >= 5)
    })
    .await;
    stop.cancel();
    wait_for("equal tips", Duration::from_secs(10), &[&a, &b], || {
        tip(&a).is_some() && tip(&a) == tip(&b)
    })
    .await;
    let (_, fork_height) = tip(&a).unwrap();
    // The partition: B comes back with no peers (and A never dials it): each mines alone.
    let b = b.restart(&options(&[], Some(a.node_ref())));
    wait_for("B alone", Duration::from_secs(10), &[&a, &b], || {
        peers(&a) == 0
    })
    .await;
    let apart = CancellationToken::new();
    let _ma = start_miner(&a, &regtest_address(61), &apart);
    let _mb = start_miner(&b, &regtest_address(62), &apart);
    wait_for(
        "both branches grown",
        Duration::from_secs(90),
        &[&a, &b],
        || {
            let (ta, tb) = (tip(&a), tip(&b));
            ta.as_ref().is_some_and(|t| t.1 >= fork_height + 5)
                && tb.as_ref().is_some_and(|t| t.1 >= fork_height + 5)
        },
    )
    .await;
    apart.cancel();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (ta, tb) = (tip(&a).unwrap(), tip(&b).unwrap());
    assert_ne!(ta.0, tb.0, "two branches");
    // The heal: B comes back with A as its peer; both end on the same tip.
    let mut b = b.restart(&options(std::slice::from_ref(&a_addr), Some(a.node_ref())));
    wait_for("healed", Duration::from_secs(60), &[&a, &b], || {
        peers(&a) == 1 && synced(&b) && tip(&a).is_some() && tip(&a) == tip(&b)
    })
    .await;
    let healed = tip(&a).unwrap();
    // The tip is the most work of every share either node has (ties to the lower id).
    let mut a = a;
    b.kill();
    a.kill();
    let (_, entries, _) = stored(&store_dir(&a));
    let (_, entries_b, _) = stored(&store_dir(&b));
    assert!(
        entries.contains_key(&ShareId(hex_id(&tb.0))),
        "A has B's branch"
    );
    assert!(
        entries_b.contains_key(&ShareId(hex_id(&ta.0))),
        "B has A's branch"
    );
    let best = entries
        .values()
        .max_by(|x, y| {
            x.chain_work
                .cmp(&y.chain_work)
                .then_with(|| y.share.id().cmp(&x.share.id()))
        })
        .unwrap();
    assert_eq!(best.share.id().to_string(), healed.0);
}

/// A share id from its display form (the hash, byte-reversed hex).
fn hex_id(display: &str) -> [u8; 32] {
    let mut bytes: [u8; 32] = hex::decode(display).unwrap().try_into().unwrap();
    bytes.reverse();
    bytes
}

#[test]
fn the_three_node_demo_pays_the_miners_of_every_node() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = std::process::Command::new(common::stratumd_bin())
        .args(["--demo", "--p2pool-nodes", "3", "--demo-blocks", "5"])
        .current_dir(dir.path())
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn the demo");
    let mut stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = std::io::Read::read_to_string(&mut stdout, &mut s);
        s
    });
    let deadline = std::time::Instant::now() + Duration::from_secs(180);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("the demo did not finish: {}", reader.join().unwrap());
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let out = reader.join().unwrap();
    assert!(status.success(), "{status}\n{out}");
    // "node k: stratum …, miners <address>" for each node.
    let miners: Vec<String> = out
        .lines()
        .filter(|l| l.starts_with("node "))
        .filter_map(|l| l.split("miners ").nth(1))
        .map(str::to_string)
        .collect();
    assert_eq!(miners.len(), 3, "{out}");
    // The miners start only once the nodes are peered and synced.
    assert!(
        out.lines()
            .any(|l| l.starts_with("3 nodes peered and synced in ")),
        "{out}"
    );
    assert!(
        out.lines().any(|l| l.contains(" 2 peers, synced")),
        "no node with both others as peers:\n{out}"
    );
    // Each block's payouts, as the summary decoded them from simnet's blocks.
    let blocks: Vec<&str> = out.split("\nblock ").skip(1).collect();
    assert!(blocks.len() >= 5, "{out}");
    assert!(
        blocks
            .iter()
            .any(|b| miners.iter().all(|m| b.contains(m.as_str()))),
        "no block pays the miners of all three nodes:\n{out}"
    );
}

//! End-to-end mining tests against the real `stratumd` binary on its embedded simnet:
//! blocks found by CPU miners are fetched back from simnet and their coinbases checked
//! independently of the server's code (solo payout with donation, a 500-way pool split),
//! and a scripted stratum session checks clean jobs on a new block and every share reject
//! reason.

mod common;

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use bitcoin::{Address, Amount, Block, Network, ScriptBuf, WitnessProgram, WitnessVersion};
use common::scripted::{
    assert_accepted, assert_rejected, authorized, find_miss, find_share_async, submit,
};
use common::{regtest_address, Server, ServerOptions};
use serde_json::{json, Value};
use stratum_miner::client::StratumClient;
use stratum_miner::miner::{run_miner, MinerConfig, MinerStats};
use stratum_miner::work::Job;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// Generous bound for anything the server or simnet should do "at once".
const T: Duration = Duration::from_secs(10);
/// simnet block difficulty at which a single CPU thread finds a block in about a second.
const EASY_BLOCKS: f64 = 0.0005;
/// Regtest block subsidy at heights below 150.
const SUBSIDY: Amount = Amount::from_sat(50 * 100_000_000);

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

/// Calls a simnet RPC method off the async runtime.
async fn rpc(server: &Arc<Server>, method: &'static str, params: Vec<Value>) -> Value {
    let s = server.clone();
    tokio::task::spawn_blocking(move || s.call(method, &params))
        .await
        .expect("rpc task")
}

/// Polls (bounded) until simnet's block count reaches `n`; returns the count.
async fn wait_block_count(server: &Arc<Server>, n: u64, timeout: Duration) -> u64 {
    let deadline = Instant::now() + timeout;
    loop {
        let count = rpc(server, "getblockcount", vec![]).await.as_u64().unwrap();
        if count >= n {
            return count;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for block count {n} (have {count}); server log tail:\n{}",
            log_tail(server)
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn log_tail(server: &Server) -> String {
    let log = server.log.lock().unwrap();
    let from = log.len().saturating_sub(30);
    log[from..].join("\n")
}

/// Fetches the block at `height` from simnet as raw hex and decodes it with rust-bitcoin.
async fn fetch_block(server: &Arc<Server>, height: u64) -> (String, Block) {
    let hash = rpc(server, "getblockhash", vec![json!(height)]).await;
    let hash = hash.as_str().unwrap().to_string();
    let hexblock = rpc(server, "getblock", vec![json!(hash), json!(0)]).await;
    let raw = hex::decode(hexblock.as_str().unwrap()).unwrap();
    let block: Block = bitcoin::consensus::deserialize(&raw).expect("simnet block decodes");
    (hash, block)
}

/// The scriptPubKey of a regtest address.
fn script_of(addr: &str) -> ScriptBuf {
    Address::from_str(addr)
        .unwrap()
        .require_network(Network::Regtest)
        .unwrap()
        .script_pubkey()
}

/// A distinct regtest P2WPKH address per `i` (program `[i lo, i hi, 0x5a; …]`).
fn pool_address(i: u16) -> String {
    let mut program = [0x5au8; 20];
    program[0] = i as u8;
    program[1] = (i >> 8) as u8;
    let wp = WitnessProgram::new(WitnessVersion::V0, &program).unwrap();
    Address::from_witness_program(wp, bitcoin::KnownHrp::Regtest).to_string()
}

fn is_witness_commitment(script: &ScriptBuf) -> bool {
    let b = script.as_bytes();
    b.len() >= 38 && b[..6] == [0x6a, 0x24, 0xaa, 0x21, 0xa9, 0xed]
}

fn miner_config(server: &Server, username: String) -> MinerConfig {
    MinerConfig {
        server: server.stratum,
        username,
        password: "x".into(),
        user_agent: "e2e-mining/1".into(),
        threads: 1,
        version_rolling: true,
        suggest_difficulty: None,
    }
}

/// Runs a CPU miner until simnet has a block at height 1, then stops it.
async fn mine_first_block(server: &Arc<Server>, username: String) {
    let stats = Arc::new(MinerStats::default());
    let stop = CancellationToken::new();
    let task = tokio::spawn(run_miner(
        miner_config(server, username),
        stats.clone(),
        stop.clone(),
    ));
    wait_block_count(server, 1, Duration::from_secs(40)).await;
    stop.cancel();
    tokio::time::timeout(T, task)
        .await
        .expect("miner stops")
        .unwrap()
        .unwrap();
    assert!(stats.snapshot().accepted >= 1, "{:?}", stats.snapshot());
}

/// A getblocktemplate for the next block, taken before any miner runs so it describes the
/// block the miners will find (simnet's mempool only changes when a block is mined).
async fn template(server: &Arc<Server>) -> Value {
    rpc(
        server,
        "getblocktemplate",
        vec![json!({"rules": ["segwit"]})],
    )
    .await
}

/// Checks what holds for any block found through the pool at height 1 from `gbt`: simnet
/// stored it under its own hash, merkle root and witness commitment are right, BIP34 height 1,
/// the transactions are the template's, and the coinbase claims exactly the template's value
/// (subsidy + the fees of exactly those transactions). Returns the coinbase total.
fn check_block_against_template(hash: &str, block: &Block, gbt: &Value) -> Amount {
    assert_eq!(block.block_hash().to_string(), hash, "simnet hash");
    assert_eq!(
        gbt["previousblockhash"],
        block.header.prev_blockhash.to_string()
    );
    assert!(block.check_merkle_root(), "merkle root");
    assert!(block.check_witness_commitment(), "witness commitment");
    // BIP34 as bitcoind checks it: the scriptSig starts with `CScript() << height`, which is
    // OP_1 at height 1 (rust-bitcoin's `bip34_block_height` only reads data pushes).
    let bip34 = bitcoin::script::Builder::new().push_int(1).into_script();
    let script_sig = block.txdata[0].input[0].script_sig.as_bytes();
    assert!(
        script_sig.starts_with(bip34.as_bytes()),
        "BIP34 height 1 in scriptSig {}",
        hex::encode(script_sig)
    );
    let gbt_txids: Vec<String> = gbt["transactions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["txid"].as_str().unwrap().to_string())
        .collect();
    let block_txids: Vec<String> = block.txdata[1..]
        .iter()
        .map(|t| t.compute_txid().to_string())
        .collect();
    assert_eq!(block_txids, gbt_txids, "block transactions = template's");
    let fees: u64 = gbt["transactions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["fee"].as_u64().unwrap())
        .sum();
    let coinbasevalue = gbt["coinbasevalue"].as_u64().unwrap();
    assert_eq!(coinbasevalue, SUBSIDY.to_sat() + fees, "template value");
    let cb = &block.txdata[0];
    assert!(cb.is_coinbase());
    let total: Amount = cb.output.iter().map(|o| o.value).sum();
    assert!(total >= SUBSIDY);
    assert_eq!(
        total.to_sat(),
        coinbasevalue,
        "coinbase claims subsidy + fees"
    );
    total
}

// ---------------------------------------------------------------------------------------
// 1. Solo: a found block pays the miner's address, minus the donation.
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn solo_block_pays_the_miner() {
    let btcsig = "/e2e-solo-sig/";
    let server = Arc::new(Server::start(ServerOptions {
        config: json!({
            "mindiff": 0.0001,
            "startdiff": 0.0001,
            "donation": 2,
            "donaddress": regtest_address(9),
            "btcsig": btcsig,
        }),
        solo: true,
        simnet_difficulty: EASY_BLOCKS,
        simnet_txs: 4,
        ..ServerOptions::default()
    }));
    let gbt = template(&server).await;
    assert_eq!(gbt["height"], 1);

    mine_first_block(&server, format!("{}.w1", regtest_address(7))).await;

    let (hash, block) = fetch_block(&server, 1).await;
    // ckpool's log line, with the height and finder of the block bitcoind accepted.
    assert!(
        server.wait_log(
            &format!("Solved and confirmed block 1 by {}", regtest_address(7)),
            T
        ),
        "no block log line; log tail:\n{}",
        log_tail(&server)
    );
    // The archived block is marked accepted once bitcoind has said so.
    let archived = server
        .dir
        .path()
        .join("logs/blocks")
        .join(format!("1-{hash}.hex.accepted"));
    let deadline = Instant::now() + T;
    while !archived.exists() {
        assert!(
            Instant::now() < deadline,
            "block not archived as accepted: {}",
            archived.display()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let total = check_block_against_template(&hash, &block, &gbt);
    let cb = &block.txdata[0];
    let scripts: Vec<&ScriptBuf> = cb.output.iter().map(|o| &o.script_pubkey).collect();
    assert_eq!(cb.output.len(), 3, "outputs: {scripts:?}");
    assert_eq!(cb.output[0].script_pubkey, script_of(&regtest_address(7)));
    assert_eq!(cb.output[1].script_pubkey, script_of(&regtest_address(9)));
    assert!(is_witness_commitment(&cb.output[2].script_pubkey));
    assert_eq!(cb.output[2].value, Amount::ZERO);

    let donation = (total.to_sat() as f64 * 2.0 / 100.0).floor() as u64;
    assert_eq!(cb.output[1].value.to_sat(), donation, "donation is 2%");
    assert_eq!(
        cb.output[0].value.to_sat(),
        total.to_sat() - donation,
        "miner gets the rest"
    );

    let sig = cb.input[0].script_sig.as_bytes();
    assert!(
        sig.windows(btcsig.len()).any(|w| w == btcsig.as_bytes()),
        "btcsig in coinbase scriptSig {}",
        hex::encode(sig)
    );
}

// ---------------------------------------------------------------------------------------
// 2. Pool: a 500-way weighted split.
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pool_block_with_500_outputs() {
    let payees: Vec<(String, u64)> = (1..=500u16).map(|i| (pool_address(i), i as u64)).collect();
    let payouts: Vec<Value> = payees
        .iter()
        .map(|(a, w)| json!({"address": a, "weight": w}))
        .collect();
    let server = Arc::new(Server::start(ServerOptions {
        config: json!({
            "mindiff": 0.0001,
            "startdiff": 0.0001,
            "payouts": payouts,
        }),
        solo: false,
        simnet_difficulty: EASY_BLOCKS,
        simnet_txs: 4,
        ..ServerOptions::default()
    }));
    let gbt = template(&server).await;
    assert_eq!(gbt["height"], 1);
    let best_before = rpc(&server, "getbestblockhash", vec![]).await;

    mine_first_block(&server, "e2e-pool-miner.rig".into()).await;

    let (hash, block) = fetch_block(&server, 1).await;
    let best_after = rpc(&server, "getbestblockhash", vec![]).await;
    assert_ne!(best_after, best_before);
    let total = check_block_against_template(&hash, &block, &gbt).to_sat();
    let cb = &block.txdata[0];
    assert_eq!(cb.output.len(), 501);
    assert!(is_witness_commitment(&cb.output[500].script_pubkey));
    assert_eq!(cb.output[500].value, Amount::ZERO);

    let w_total: u64 = payees.iter().map(|(_, w)| w).sum();
    let mut expected: Vec<u64> = payees
        .iter()
        .map(|(_, w)| (u128::from(total) * u128::from(*w) / u128::from(w_total)) as u64)
        .collect();
    let remainder = total - expected.iter().sum::<u64>();
    expected[0] += remainder;
    eprintln!("pool split: total {total} sat, weight {w_total}, remainder {remainder} sat");
    for (i, ((addr, w), out)) in payees.iter().zip(&cb.output).enumerate() {
        assert_eq!(out.script_pubkey, script_of(addr), "output {i} script");
        assert_eq!(
            out.value.to_sat(),
            expected[i],
            "output {i} (weight {w}) value"
        );
    }
}

// ---------------------------------------------------------------------------------------
// 3. Scripted session: clean jobs on a new block, and every reject reason.
// ---------------------------------------------------------------------------------------

/// Has simnet mine a block of its own, then waits for the clean notify on it (a previous
/// block other than `notify_a`'s); returns that notify.
async fn block_from_elsewhere(
    server: &Arc<Server>,
    c: &mut StratumClient,
    notify_a: &Value,
) -> Value {
    rpc(
        server,
        "generatetoaddress",
        vec![json!(1), json!(regtest_address(3))],
    )
    .await;
    let prev_a = notify_a["params"][1].clone();
    c.wait_for("clean notify on the new block", T, |v| {
        v["method"] == "mining.notify" && v["params"][8] == true && v["params"][1] != prev_a
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_block_sends_clean_jobs_and_old_shares_are_stale() {
    // Blocks easy enough for simnet's generatetoaddress to grind in about a second; the
    // test's own shares are chosen to stay below block difficulty.
    let block_diff = EASY_BLOCKS;
    let server = Arc::new(Server::start(ServerOptions {
        // Difficulty pinned (maxdiff) so vardiff cannot move it while the test mines shares.
        config: json!({ "mindiff": 0.00001, "startdiff": 0.00001, "maxdiff": 0.00001 }),
        solo: true,
        simnet_difficulty: block_diff,
        simnet_txs: 2,
        ..ServerOptions::default()
    }));
    let user = format!("{}.scripted", regtest_address(7));
    let (mut c, en1, en2_len) =
        authorized(server.stratum, "e2e-scripted/1", Value::Null, &user).await;
    let en1 = hex::decode(en1).unwrap();
    let sd = c.wait_method("mining.set_difficulty", T).await.unwrap();
    let diff = sd["params"][0].as_f64().unwrap();
    assert!(diff <= 0.0001, "difficulty {diff}");
    let notify_a = c.wait_method("mining.notify", T).await.unwrap();
    let job_a = Job::from_notify_params(&notify_a["params"]).unwrap();
    let below = block_diff * 0.9;
    let en2 = |n: u8| {
        let mut v = vec![0u8; en2_len];
        v[en2_len - 1] = n;
        v
    };

    // A valid share for job A, kept back until job A is stale.
    let nonce_a = find_share_async(&job_a, &en1, &en2(1), job_a.ntime, diff, below).await;

    // A new block from elsewhere.
    let notify_b = block_from_elsewhere(&server, &mut c, &notify_a).await;
    let job_b = Job::from_notify_params(&notify_b["params"]).unwrap();
    assert_ne!(job_b.job_id, job_a.job_id, "a new job id for the new block");
    // The one session present got it, and the server says how long that took.
    assert!(
        server.wait_log("reached all 1 sessions in", T),
        "no delivery log line for the new block"
    );
    let mut tip = job_b.prevhash;
    tip.reverse();
    let best = rpc(&server, "getbestblockhash", vec![]).await;
    assert_eq!(
        hex::encode(tip),
        best.as_str().unwrap(),
        "new job builds on the tip"
    );

    let reply = submit(&mut c, &user, &job_a.job_id, &en2(1), job_a.ntime, nonce_a).await;
    assert_rejected(&reply, "Stale", 21);

    // A share on the new job is accepted, and the same share again is a duplicate.
    let nonce_b = find_share_async(&job_b, &en1, &en2(2), job_b.ntime, diff, below).await;
    let reply = submit(&mut c, &user, &job_b.job_id, &en2(2), job_b.ntime, nonce_b).await;
    assert_accepted(&reply);
    let reply = submit(&mut c, &user, &job_b.job_id, &en2(2), job_b.ntime, nonce_b).await;
    assert_rejected(&reply, "Duplicate", 22);

    // A share that would be valid at ntime − 1: before the job's time.
    let early = job_b.ntime - 1;
    let nonce = find_share_async(&job_b, &en1, &en2(3), early, diff, below).await;
    let reply = submit(&mut c, &user, &job_b.job_id, &en2(3), early, nonce).await;
    assert_rejected(&reply, "Ntime out of range", 20);

    // An unknown job id.
    let reply = submit(&mut c, &user, "7fffffffdead", &en2(4), job_b.ntime, 0).await;
    assert_rejected(&reply, "Invalid JobID", 21);

    // A share that misses the share target.
    let nonce = find_miss(&job_b, &en1, &en2(5), job_b.ntime, diff);
    let reply = submit(&mut c, &user, &job_b.job_id, &en2(5), job_b.ntime, nonce).await;
    assert_rejected(&reply, "Above target", 23);

    // The session is still usable: another fresh share is accepted.
    let nonce = find_share_async(&job_b, &en1, &en2(6), job_b.ntime, diff, below).await;
    let reply = submit(&mut c, &user, &job_b.job_id, &en2(6), job_b.ntime, nonce).await;
    assert_accepted(&reply);
}

// ---------------------------------------------------------------------------------------
// 4. Concurrent subscribers get distinct extranonce1 values.
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_miners_get_distinct_extranonce1() {
    let server = Server::start(ServerOptions::default());
    let addr = server.stratum;
    let tasks: Vec<_> = (0..16)
        .map(|i| {
            tokio::spawn(async move {
                let mut c = StratumClient::connect(addr).await.unwrap();
                let id = c
                    .request("mining.subscribe", json!([format!("e2e-en1/{i}")]))
                    .await
                    .unwrap();
                let reply = c.wait_reply(id, T).await.unwrap();
                (c, reply)
            })
        })
        .collect();
    let mut clients = Vec::new();
    let mut en1s = std::collections::HashSet::new();
    for t in tasks {
        let (c, reply) = t.await.unwrap();
        assert!(reply["error"].is_null(), "{reply}");
        let r = reply["result"].as_array().expect("result array");
        assert_eq!(r.len(), 3, "{reply}");
        let subs = r[0].as_array().expect("subscriptions");
        assert_eq!(subs.len(), 2, "{reply}");
        assert_eq!(subs[0][0], "mining.set_difficulty", "{reply}");
        assert_eq!(subs[1][0], "mining.notify", "{reply}");
        assert!(!subs[0][1].is_null() && !subs[1][1].is_null(), "{reply}");
        let en1 = r[1].as_str().expect("extranonce1 string");
        assert_eq!(en1.len(), 8, "nonce1length 4 → 8 hex digits: {reply}");
        assert!(hex::decode(en1).is_ok(), "{reply}");
        assert_eq!(r[2], 8, "extranonce2 size: {reply}");
        assert!(en1s.insert(en1.to_string()), "duplicate extranonce1 {en1}");
        clients.push(c);
    }
    assert_eq!(en1s.len(), 16);
}

/// A share accepted on one connection is a duplicate when it comes back on a connection that
/// resumed the session (the same extranonce1): one record of accepted shares per job for all
/// sessions, as ckpool's share table.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_share_resent_after_resuming_the_session_is_a_duplicate() {
    let server = Server::start(ServerOptions {
        // Difficulty pinned so that the share found below stays a share, and no refresh
        // replaces the job while the test runs.
        config: json!({
            "mindiff": 0.00001, "startdiff": 0.00001, "maxdiff": 0.00001, "update_interval": 600
        }),
        ..ServerOptions::default()
    });
    let user = format!("{}.resumed", regtest_address(8));
    let agent = "cgminer/4.12.1";

    let (mut a, session_id, en2_len) = authorized(server.stratum, agent, Value::Null, &user).await;
    let en1 = hex::decode(&session_id).unwrap();
    let en2 = vec![0u8; en2_len];
    let diff = a.wait_method("mining.set_difficulty", T).await.unwrap()["params"][0]
        .as_f64()
        .unwrap();
    let notify = a.wait_method("mining.notify", T).await.unwrap();
    let job = Job::from_notify_params(&notify["params"]).unwrap();
    let nonce = find_share_async(&job, &en1, &en2, job.ntime, diff, 1000.0 * 0.9).await;
    assert_accepted(&submit(&mut a, &user, &job.job_id, &en2, job.ntime, nonce).await);
    a.close(T).await.unwrap();

    // The miner comes back with its session id, gets the same extranonce1 and the same job,
    // and sends the same share again.
    let (mut b, resumed, _) = authorized(server.stratum, agent, json!(session_id), &user).await;
    assert_eq!(resumed, session_id, "the session was not resumed");
    let notify = b.wait_method("mining.notify", T).await.unwrap();
    assert_eq!(notify["params"][0], job.job_id.as_str(), "the same job");
    let reply = submit(&mut b, &user, &job.job_id, &en2, job.ntime, nonce).await;
    assert_rejected(&reply, "Duplicate", 22);
}

/// A block solution on a job that went stale is still sent to the node, as ckpool sends it
/// ("Possible stale block solve"): it builds on the previous tip, and the node decides
/// whether it can still win (simnet, like bitcoind, answers "inconclusive" for a side
/// branch). The miner still gets "Stale" for the share.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_block_solution_is_still_submitted() {
    let block_diff = EASY_BLOCKS;
    let server = Arc::new(Server::start(ServerOptions {
        config: json!({ "mindiff": 0.00001, "startdiff": 0.00001, "maxdiff": 0.00001 }),
        solo: true,
        simnet_difficulty: block_diff,
        simnet_txs: 2,
        ..ServerOptions::default()
    }));
    let user = format!("{}.stale", regtest_address(9));
    let (mut c, en1, en2_len) = authorized(server.stratum, "e2e-stale/1", Value::Null, &user).await;
    let (en1, en2) = (hex::decode(en1).unwrap(), vec![0u8; en2_len]);
    let notify_a = c.wait_method("mining.notify", T).await.unwrap();
    let job_a = Job::from_notify_params(&notify_a["params"]).unwrap();
    // A block solution for job A, kept back until another block makes job A stale.
    let nonce = find_share_async(&job_a, &en1, &en2, job_a.ntime, block_diff, f64::INFINITY).await;
    block_from_elsewhere(&server, &mut c, &notify_a).await;

    let reply = submit(&mut c, &user, &job_a.job_id, &en2, job_a.ntime, nonce).await;
    assert_rejected(&reply, "Stale", 21);
    assert!(
        server.wait_log("submitting it anyway", T),
        "the stale block solution was not sent on; log tail:\n{}",
        log_tail(&server)
    );
    assert!(
        server.wait_log("inconclusive", T),
        "simnet never answered the stale block; log tail:\n{}",
        log_tail(&server)
    );
}

//! End-to-end tests of `/api/job`, the decoded current job, against the real `stratumd`
//! binary on simnet: in solo (with a donation), pool (three payouts) and p2pool mode, the
//! outputs the API lists are the coinbase a scripted miner decodes from its own
//! `mining.notify` (coinb1 + extranonce1 + extranonce2 + coinb2, deserialized here with
//! rust-bitcoin), and they sum to the `coinbasevalue` simnet's `getblocktemplate` gives.

mod common;

use std::time::Duration;

use bitcoin::{Address, Network, Transaction};
use common::http::get;
use common::scripted::authorized;
use common::{regtest_address, Server, ServerOptions};
use serde_json::{json, Value};
use stratum_miner::work::Job;

/// Bound for anything the server should do at once.
const T: Duration = Duration::from_secs(10);

/// The coinbase a miner builds from `notify` with its extranonces.
fn miners_coinbase(notify: &Value, en1: &[u8], en2: &[u8]) -> (Job, Transaction) {
    let job = Job::from_notify_params(&notify["params"]).unwrap();
    let bytes = [&job.coinb1[..], en1, en2, &job.coinb2[..]].concat();
    let tx: Transaction = bitcoin::consensus::deserialize(&bytes).expect("a coinbase");
    assert!(tx.is_coinbase());
    (job, tx)
}

fn api_job(server: &Server, user: Option<&str>) -> (u16, Value) {
    let path = match user {
        Some(u) => format!("/api/job?user={u}"),
        None => "/api/job".to_string(),
    };
    let r = get(server.api_addr(), &path);
    let body = if r.status == 200 {
        serde_json::from_str(&r.body).expect("JSON")
    } else {
        Value::String(r.body)
    };
    (r.status, body)
}

fn template_value(server: &Server) -> u64 {
    let gbt = server.call("getblocktemplate", &[json!({ "rules": ["segwit"] })]);
    gbt["coinbasevalue"].as_u64().expect("coinbasevalue")
}

/// A miner's view of the current job and the API's, for the same job (a new job between
/// the two reads is waited out).
async fn both_views(server: &Server, user: &str, ask_as: Option<&str>) -> (Transaction, Value) {
    let (mut c, en1, en2_len) =
        authorized(server.stratum, "e2e-api-job/1", Value::Null, user).await;
    let en1 = hex::decode(en1).unwrap();
    let en2 = vec![0x5a; en2_len];
    let mut notify = c.wait_method("mining.notify", T).await.unwrap();
    for _ in 0..5 {
        let (job, tx) = miners_coinbase(&notify, &en1, &en2);
        let (status, audit) = api_job(server, ask_as);
        assert_eq!(status, 200, "{audit}");
        if audit["job_id"] == json!(job.job_id) {
            return (tx, audit);
        }
        notify = c.wait_method("mining.notify", T).await.unwrap();
    }
    panic!("the API never showed the miner's job");
}

/// The API's outputs are exactly the transaction's, in order, and add up.
fn assert_same_outputs(audit: &Value, tx: &Transaction, value: u64) {
    let outputs = audit["outputs"].as_array().expect("outputs");
    assert_eq!(outputs.len(), tx.output.len(), "{audit}");
    for (i, (o, t)) in outputs.iter().zip(&tx.output).enumerate() {
        assert_eq!(o["index"], i, "{audit}");
        assert_eq!(o["amount"], t.value.to_sat(), "output {i}: {audit}");
        assert_eq!(
            o["script"],
            t.script_pubkey.to_hex_string(),
            "output {i}: {audit}"
        );
        if let Ok(a) = Address::from_script(&t.script_pubkey, Network::Regtest) {
            if !t.script_pubkey.is_op_return() {
                assert_eq!(o["address"], a.to_string(), "output {i}: {audit}");
            }
        }
    }
    let sum: u64 = tx.output.iter().map(|o| o.value.to_sat()).sum();
    assert_eq!(sum, value, "the coinbase pays the template's value");
    assert_eq!(audit["total"], sum, "{audit}");
    assert_eq!(audit["coinbasevalue"], value, "{audit}");
    assert_eq!(audit["balanced"], true, "{audit}");
    assert_eq!(audit["decoded"], true, "{audit}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn solo_the_decoded_job_is_the_miners_coinbase_and_shows_its_own_output() {
    let donation = regtest_address(99);
    let server = Server::start(ServerOptions {
        config: json!({
            "mindiff": 0.00001, "startdiff": 0.0001, "api": "127.0.0.1:0",
            "donation": 2.5, "donaddress": donation,
        }),
        ..ServerOptions::default()
    });
    let me = regtest_address(21);
    let user = format!("{me}.rig1");
    let (tx, audit) = both_views(&server, &user, Some(&user)).await;
    let value = template_value(&server);
    assert_same_outputs(&audit, &tx, value);
    let outputs = audit["outputs"].as_array().unwrap();
    let mine: Vec<&Value> = outputs.iter().filter(|o| o["address"] == me).collect();
    assert_eq!(mine.len(), 1, "{audit}");
    assert_eq!(mine[0]["yours"], true);
    assert_eq!(mine[0]["kind"], "payout");
    assert_eq!(audit["yours"], mine[0]["amount"], "{audit}");
    // The donation: 2.5 % of the value, floored, to its address; the miner has the rest.
    let don: Vec<&Value> = outputs
        .iter()
        .filter(|o| o["address"] == donation)
        .collect();
    assert_eq!(don.len(), 1, "{audit}");
    assert_eq!(don[0]["amount"], value * 25 / 1000, "{audit}");
    assert_eq!(don[0]["yours"], false);
    assert_eq!(mine[0]["amount"], value - value * 25 / 1000);
    assert!(
        outputs
            .iter()
            .any(|o| o["kind"] == "witness_commitment" && o["amount"] == 0),
        "{audit}"
    );

    // Without a user: the payout every coinbase carries, the miner's place marked.
    let (status, shape) = api_job(&server, None);
    assert_eq!(status, 200, "{shape}");
    assert_eq!(shape["decoded"], false, "{shape}");
    let place: Vec<&Value> = shape["outputs"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| o["kind"] == "miner")
        .collect();
    assert_eq!(place.len(), 1, "{shape}");
    assert_eq!(place[0]["amount"], mine[0]["amount"], "{shape}");
    assert_eq!(shape["total"], value, "{shape}");
    // A username that is no address on this chain is refused, naming why.
    let (status, body) = api_job(&server, Some("1BoatSLRHtKNngkdXEeobR76b53LETtpyT"));
    assert_eq!(status, 400, "{body}");
    assert!(body.as_str().unwrap().contains("Invalid address"), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pool_the_decoded_job_is_every_miners_coinbase() {
    let payees = [
        regtest_address(31),
        regtest_address(32),
        regtest_address(33),
    ];
    let server = Server::start(ServerOptions {
        config: json!({
            "mindiff": 0.00001, "startdiff": 0.0001, "api": "127.0.0.1:0",
            "payouts": [
                { "address": payees[0], "weight": 5 },
                { "address": payees[1], "weight": 3 },
                { "address": payees[2], "weight": 2 },
            ],
        }),
        solo: false,
        ..ServerOptions::default()
    });
    let (tx, audit) = both_views(&server, "anyone.rig", None).await;
    let value = template_value(&server);
    assert_same_outputs(&audit, &tx, value);
    // The weights split the value exactly: floors, the remainder to the first.
    let want = [value * 5 / 10, value * 3 / 10, value * 2 / 10];
    let remainder = value - want.iter().sum::<u64>();
    for (k, payee) in payees.iter().enumerate() {
        let o: Vec<&Value> = audit["outputs"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|o| o["address"] == *payee)
            .collect();
        assert_eq!(o.len(), 1, "{audit}");
        let extra = if k == 0 { remainder } else { 0 };
        assert_eq!(o[0]["amount"], want[k] + extra, "{payee}: {audit}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn p2pool_the_decoded_job_carries_the_miners_share_commitment() {
    let server = Server::start(ServerOptions {
        config: json!({ "mindiff": 0.00001, "startdiff": 0.0001, "api": "127.0.0.1:0" }),
        solo: false,
        args: vec![
            "--p2pool".into(),
            "--p2pool-listen".into(),
            "127.0.0.1:0".into(),
        ],
        ..ServerOptions::default()
    });
    let me = regtest_address(41);
    let (tx, audit) = both_views(&server, &me, Some(&me)).await;
    let value = template_value(&server);
    assert_same_outputs(&audit, &tx, value);
    let outputs = audit["outputs"].as_array().unwrap();
    let commitments: Vec<&Value> = outputs
        .iter()
        .filter(|o| o["kind"] == "share_commitment")
        .collect();
    assert_eq!(commitments.len(), 1, "{audit}");
    assert_eq!(commitments[0]["amount"], 0);
    // An empty window pays the miner the whole value.
    assert_eq!(audit["yours"], value, "{audit}");
}

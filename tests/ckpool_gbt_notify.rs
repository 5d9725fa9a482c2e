//! Money path against captured ckpool output: for each bitcoind template in
//! tests/fixtures/ckpool/gbt-notify/, stratumd's job (solo mode, btcsig "/p2poolv2/", 2%
//! donation, ckpool's default extranonce sizes) has ckpool's coinb1, coinb2 and merkle
//! branches byte for byte, once the two time pushes are set to the captured values. Only
//! the payee and donation scripts are read from ckpool's coinb2; every amount is ours.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bitcoin::consensus::Decodable;
use bitcoin::{ScriptBuf, TxOut, VarInt};
use serde_json::Value;
use stratumd::node::template::Template;
use stratumd::work::notify::prevhash_words_swapped;
use stratumd::work::payout::{Donation, PayoutPlan};
use stratumd::work::{BuildContext, JobConfig};
use stratumd::work::{JobBuilder, Payee};

fn load(case: &str, file: &str) -> Value {
    let path = format!(
        "{}/tests/fixtures/ckpool/gbt-notify/{case}/{file}",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}")))
        .unwrap()
}

/// Reads the (seconds, nanoseconds) pushes that follow height and flags in ckpool's coinb1.
fn time_pushes(coinb1: &[u8]) -> (u32, u32) {
    let mut i = 4 + 1 + 32 + 4 + 1; // version, input count, prevout, index, script length
    let read_push = |i: &mut usize| -> Vec<u8> {
        let len = coinb1[*i] as usize;
        let data = coinb1[*i + 1..*i + 1 + len].to_vec();
        *i += 1 + len;
        data
    };
    let _height = read_push(&mut i);
    let _flags = read_push(&mut i);
    let le = |b: Vec<u8>| {
        b.iter()
            .rev()
            .fold(0u32, |acc, x| (acc << 8) | u32::from(*x))
    };
    let secs = le(read_push(&mut i));
    let nanos = le(read_push(&mut i));
    (secs, nanos)
}

/// The outputs of ckpool's coinb2 (after the 22-byte tag and sequence).
fn coinb2_outputs(coinb2: &[u8]) -> Vec<TxOut> {
    let mut r = &coinb2[22..];
    let n = VarInt::consensus_decode(&mut r).unwrap().0;
    (0..n)
        .map(|_| TxOut::consensus_decode(&mut r).unwrap())
        .collect()
}

fn check_case(case: &str) {
    let gbt = load(case, "gbt.json");
    let notify = load(case, "notify.json");
    let p = notify["params"].as_array().unwrap();
    let ck_coinb1 = hex::decode(p[2].as_str().unwrap()).unwrap();
    let ck_coinb2 = hex::decode(p[3].as_str().unwrap()).unwrap();
    let outputs = coinb2_outputs(&ck_coinb2);
    let miner: ScriptBuf = outputs[0].script_pubkey.clone();
    let donation: ScriptBuf = outputs[1].script_pubkey.clone();

    let template = Arc::new(Template::from_json(gbt.clone()).unwrap());
    let builder = JobBuilder::new(JobConfig {
        nonce1_len: 4,
        nonce2_len: 8,
        btcsig: b"/p2poolv2/".to_vec(),
    });
    let plan = Arc::new(PayoutPlan::solo(Some(Donation {
        script: donation,
        percent: 2.0,
    })));
    let (secs, nanos) = time_pushes(&ck_coinb1);
    let at = BuildContext {
        clean: true,
        generation: 1,
        now: SystemTime::UNIX_EPOCH + Duration::new(u64::from(secs), nanos),
    };
    let job = builder.build(&template, &plan, at).unwrap();
    let work = job.work_for(&Payee::Miner(miner)).unwrap();

    assert_eq!(
        hex::encode(&job.coinb1),
        p[2].as_str().unwrap(),
        "{case}: coinb1"
    );
    assert_eq!(
        hex::encode(work.coinb2.to_vec()),
        p[3].as_str().unwrap(),
        "{case}: coinb2"
    );
    let branch: Vec<String> = job.merkle_branch.iter().map(hex::encode).collect();
    let ck_branch: Vec<String> = p[4]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b.as_str().unwrap().to_string())
        .collect();
    assert_eq!(branch, ck_branch, "{case}: merkle branch");
    assert_eq!(
        prevhash_words_swapped(&job.prevhash),
        p[1].as_str().unwrap(),
        "{case}: prevhash"
    );
    assert_eq!(
        format!("{:08x}", job.version),
        p[5].as_str().unwrap(),
        "{case}: version"
    );
    assert_eq!(
        format!("{:08x}", job.bits),
        p[6].as_str().unwrap(),
        "{case}: nbits"
    );
    // And the amounts ckpool paid are the template's value split as ckpool splits it.
    let total: u64 = outputs.iter().map(|o| o.value.to_sat()).sum();
    assert_eq!(
        total,
        gbt["coinbasevalue"].as_u64().unwrap(),
        "{case}: coinbase value"
    );
}

#[test]
fn one_txn() {
    check_case("one-txn");
}

#[test]
fn two_txns() {
    check_case("two-txns");
}

#[test]
fn three_txns() {
    check_case("three-txns");
}

/// The ZMQ Workbase's coinb2/coinb3 split and header, rebuilt from the captured UserWorkbase
/// notify's parts: our split of our own coinb2 joins back (around the user's script) to the
/// notify coinb2, and the header has ckpool's layout.
#[test]
fn workbase_split_and_header_match_ckpool_layout() {
    let path = format!(
        "{}/tests/fixtures/ckpool/zmq/workbases.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let wb: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let wb = &wb[0]["Workbase"];
    let path = format!(
        "{}/tests/fixtures/ckpool/zmq/userworkbases.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let uwb: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let notify = &uwb[0]["UserWorkbase"]["params"];
    let ck_coinb2 = hex::decode(notify[3].as_str().unwrap()).unwrap();
    let outputs = coinb2_outputs(&ck_coinb2);

    // The captured Workbase's template (signet-like, no transactions), built our way with
    // the captured payee and donation and a 1 BTC donation as in the capture.
    let mut gbt = wb["gbt"].clone();
    for k in ["diff", "ntime", "bbversion", "nbit"] {
        gbt.as_object_mut().unwrap().remove(k);
    }
    let template = Arc::new(Template::from_json(gbt).unwrap());
    let value = template.coinbase_value as f64;
    let builder = JobBuilder::new(JobConfig {
        nonce1_len: 4,
        nonce2_len: 8,
        btcsig: b"/p2poolv2/".to_vec(),
    });
    let plan = Arc::new(PayoutPlan::solo(Some(Donation {
        script: outputs[1].script_pubkey.clone(),
        percent: outputs[1].value.to_sat() as f64 * 100.0 / value,
    })));
    let ck_coinb1 = hex::decode(wb["coinb1"].as_str().unwrap()).unwrap();
    let (secs, nanos) = time_pushes(&ck_coinb1);
    let at = BuildContext {
        clean: true,
        generation: 1,
        now: SystemTime::UNIX_EPOCH + Duration::new(u64::from(secs), nanos),
    };
    let job = builder.build(&template, &plan, at).unwrap();
    let work = job
        .work_for(&Payee::Miner(outputs[0].script_pubkey.clone()))
        .unwrap();
    assert_eq!(hex::encode(&job.coinb1), wb["coinb1"].as_str().unwrap());
    assert_eq!(
        hex::encode(work.coinb2.to_vec()),
        notify[3].as_str().unwrap()
    );

    let (coinb2, coinb3) = job.ckpool_coinb2_coinb3();
    assert_eq!(hex::encode(&coinb2), wb["coinb2"].as_str().unwrap());
    assert_eq!(hex::encode(&coinb3), wb["coinb3"].as_str().unwrap());

    // Header: same layout; ntime differs (ckpool stamps its own clock), so compare with
    // ckpool's ntime swapped in.
    let header = job.ckpool_header_hex();
    let ck_header = wb["header"].as_str().unwrap();
    assert_eq!(header.len(), ck_header.len());
    assert_eq!(
        &header[..136],
        &ck_header[..136],
        "version, prevhash, merkle"
    );
    assert_eq!(&header[144..], &ck_header[144..], "nbits, nonce, padding");
}

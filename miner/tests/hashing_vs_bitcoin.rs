//! Cross-checks `stratum_miner::work` against the `bitcoin` crate (independent code) on the
//! captured ckpool sessions.

use bitcoin::block::{Header, Version};
use bitcoin::consensus::{deserialize, serialize};
use bitcoin::hashes::Hash;
use bitcoin::{BlockHash, CompactTarget, Transaction, TxMerkleNode};
use serde_json::Value;
use stratum_miner::work::{self, parse_u32_hex, Job};

fn load(session: &str, file: &str) -> Value {
    let path = format!(
        "{}/../tests/fixtures/ckpool/sessions/{session}/{file}",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

fn check_session(session: &str, mask: Option<u32>) -> [u8; 32] {
    let notify = load(session, "notify.json");
    let submit = load(session, "submit.json");
    let subscribe = load(session, "authorize_response.json");
    let template = load(session, "template.json");
    let job = Job::from_notify_params(&notify["params"]).unwrap();
    let en1 = hex::decode(subscribe["result"][1].as_str().unwrap()).unwrap();
    let p = |i: usize| submit["params"][i].as_str().unwrap().to_string();
    let en2 = hex::decode(p(2)).unwrap();
    let ntime = parse_u32_hex(&p(3)).unwrap();
    let nonce = parse_u32_hex(&p(4)).unwrap();
    let version = match mask {
        Some(m) => work::rolled_version(job.version, m, parse_u32_hex(&p(5)).unwrap()),
        None => job.version,
    };

    // The coinbase must be a well-formed transaction whose txid is our merkle root (the
    // template has no other transactions).
    let coinbase: Transaction = deserialize(&job.coinbase(&en1, &en2)).unwrap();
    assert!(coinbase.is_coinbase());
    assert!(template["transactions"].as_array().unwrap().is_empty());
    let root = job.merkle_root(&en1, &en2);
    assert_eq!(coinbase.compute_txid().to_byte_array(), root);

    let prev: BlockHash = template["previousblockhash"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let header = Header {
        version: Version::from_consensus(version as i32),
        prev_blockhash: prev,
        merkle_root: TxMerkleNode::from_byte_array(root),
        time: ntime,
        bits: CompactTarget::from_consensus(
            u32::from_str_radix(template["bits"].as_str().unwrap(), 16).unwrap(),
        ),
        nonce,
    };
    let ours = job.header(&en1, &en2, ntime, nonce, version);
    assert_eq!(serialize(&header), ours.to_vec());
    let hash = job.share_hash(&en1, &en2, ntime, nonce, version);
    assert_eq!(header.block_hash().to_byte_array(), hash);
    hash
}

#[test]
fn version_rolling_session_matches_bitcoin_crate_and_capture() {
    let hash = check_session("with_version_rolling", Some(0x1fff_e000));
    let expected = load("with_version_rolling", "result.json");
    let mut display = hash;
    display.reverse();
    assert_eq!(hex::encode(display), expected["hash"].as_str().unwrap());
}

#[test]
fn plain_session_matches_bitcoin_crate() {
    let hash = check_session("a", None);
    // ckpool accepted this share at its (minimum) pool difficulty, so it is at least diff 1.
    assert!(
        work::difficulty_of(&hash) >= 1.0,
        "{}",
        work::difficulty_of(&hash)
    );
}

//! End-to-end tests: simnet driven through the real bitcoincore-rpc client and a real ZMQ SUB socket.

mod common;

use std::io::{Read, Write};
use std::str::FromStr;
use std::sync::Arc;

use bitcoin::block::Version;
use bitcoin::hashes::Hash;
use bitcoin::pow::CompactTarget;
use bitcoin::script::Builder;
use bitcoin::{Amount, BlockHash, ScriptBuf, TxOut};
use bitcoincore_rpc::Auth;
use serde_json::{json, Value};

use common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn template_block_is_accepted_and_announced_over_zmq() {
    let h = start(4).await;
    let c = Arc::new(client(&h));

    // Subscribe first and wait until simnet has seen the subscription.
    let ctx = zmq::Context::new();
    let sub = ctx.socket(zmq::SUB).unwrap();
    sub.set_rcvtimeo(10_000).unwrap();
    sub.connect(&h.zmq_endpoint).unwrap();
    sub.set_subscribe(b"hashblock").unwrap();
    assert!(h.wait_zmq_subscriptions(1, WAIT).await, "subscription seen");

    let t = gbt(&c).await;
    assert_eq!(t["version"], json!(0x2000_0000));
    assert_eq!(t["rules"], json!(["csv", "!segwit", "taproot"]));
    assert_eq!(t["height"], json!(1));
    assert_eq!(t["previousblockhash"], json!(h.tip_hash().to_string()));
    assert_eq!(t["noncerange"], json!("00000000ffffffff"));
    assert_eq!(t["sigoplimit"], json!(80000));
    assert_eq!(t["weightlimit"], json!(4_000_000));
    assert_eq!(t["target"].as_str().unwrap().len(), 64);
    assert_eq!(t["bits"].as_str().unwrap().len(), 8);
    assert!(t["curtime"].as_u64().unwrap() >= t["mintime"].as_u64().unwrap());
    let txs = t["transactions"].as_array().unwrap();
    assert_eq!(txs.len(), 4);
    let fees: u64 = txs.iter().map(|tx| tx["fee"].as_u64().unwrap()).sum();
    assert_eq!(
        t["coinbasevalue"].as_u64().unwrap(),
        50 * 100_000_000 + fees
    );
    for tx in txs {
        assert_ne!(tx["txid"], tx["hash"], "segwit tx: wtxid differs");
        assert_eq!(tx["depends"], json!([]));
        // A P2WPKH spend paying a P2WPKH output: one witness sigop, no legacy ones.
        let decoded: bitcoin::Transaction =
            bitcoin::consensus::encode::deserialize_hex(tx["data"].as_str().unwrap()).unwrap();
        assert!(decoded.output.iter().all(|o| o.script_pubkey.is_p2wpkh()));
        assert_eq!(decoded.input[0].witness.len(), 2);
        assert_eq!(tx["sigops"], json!(1));
    }

    let mut block = block_from_template(&t);
    assert!(
        block.check_witness_commitment(),
        "default_witness_commitment is right"
    );
    grind(&mut block);
    assert_eq!(submit(&c, &block).await, Value::Null);
    assert_eq!(h.tip_height(), 1);
    assert_eq!(h.tip_hash(), block.block_hash());
    assert_eq!(h.blocks_accepted_by_submit(), 1);

    let frames = tokio::task::spawn_blocking(move || sub.recv_multipart(0))
        .await
        .unwrap()
        .expect("hashblock within the timeout");
    assert_eq!(frames.len(), 3);
    assert_eq!(frames[0], b"hashblock");
    assert_eq!(hex::encode(&frames[1]), block.block_hash().to_string());
    assert_eq!(frames[2], 0u32.to_le_bytes());

    // The mined transactions left the mempool; a new template builds on the new tip.
    let t2 = gbt(&c).await;
    assert_eq!(t2["height"], json!(2));
    assert_eq!(
        t2["previousblockhash"],
        json!(block.block_hash().to_string())
    );
    for tx in t2["transactions"].as_array().unwrap() {
        assert!(!txs.iter().any(|old| old["txid"] == tx["txid"]));
    }
    // Resubmitting is a duplicate; chain RPCs see the block.
    assert_eq!(submit(&c, &block).await, json!("duplicate"));
    assert_eq!(call(&c, "getblockcount", vec![]).await.unwrap(), json!(1));
    assert_eq!(
        call(&c, "getbestblockhash", vec![]).await.unwrap(),
        json!(block.block_hash().to_string())
    );
    let got = call(&c, "getblock", vec![json!(block.block_hash().to_string())])
        .await
        .unwrap();
    assert_eq!(got["height"], json!(1));
    assert_eq!(got["tx"].as_array().unwrap().len(), 5);
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gbt_without_segwit_rule_is_refused() {
    let h = start(1).await;
    let c = Arc::new(client(&h));
    let err = call(&c, "getblocktemplate", vec![json!({"rules": []})])
        .await
        .unwrap_err();
    assert_eq!(
        rpc_code(&err),
        Some((
            -8,
            "getblocktemplate must be called with the segwit rule set (call with {\"rules\": [\"segwit\"]})"
                .to_string()
        ))
    );
    h.shutdown().await;
}

/// Builds a block from a fresh template, breaks it with `f`, recomputes the merkle root (unless
/// `keep_merkle`) and grinds it, then returns simnet's answer.
async fn submit_broken(
    c: &Arc<bitcoincore_rpc::Client>,
    keep_merkle: bool,
    f: impl FnOnce(&mut bitcoin::Block),
) -> Value {
    let t = gbt(c).await;
    let mut block = block_from_template(&t);
    f(&mut block);
    if !keep_merkle {
        fix_merkle_root(&mut block);
    }
    grind(&mut block);
    submit(c, &block).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_broken_block_gets_bitcoinds_reason() {
    let h = start(3).await;
    let c = Arc::new(client(&h));
    let genesis = h.tip_hash();

    // bad-diffbits: a different (easier) target, ground to meet it.
    let r = submit_broken(&c, false, |b| {
        b.header.bits = CompactTarget::from_consensus(0x207f_ffff)
    })
    .await;
    assert_eq!(r, json!("bad-diffbits"));

    // high-hash: the hash misses the target.
    let t = gbt(&c).await;
    let mut b = block_from_template(&t);
    grind_to_fail(&mut b);
    assert_eq!(submit(&c, &b).await, json!("high-hash"));

    // prev-blk-not-found
    let r = submit_broken(&c, false, |b| {
        b.header.prev_blockhash = BlockHash::from_byte_array([9u8; 32])
    })
    .await;
    assert_eq!(r, json!("prev-blk-not-found"));

    // time-too-old (at the median time past) and time-too-new (3 hours ahead)
    let mtp = t["mintime"].as_u64().unwrap() as u32 - 1;
    let r = submit_broken(&c, false, |b| b.header.time = mtp).await;
    assert_eq!(r, json!("time-too-old"));
    let r = submit_broken(&c, false, |b| b.header.time += 3 * 3600).await;
    assert_eq!(r, json!("time-too-new"));

    // bad-version
    let r = submit_broken(&c, false, |b| b.header.version = Version::from_consensus(3)).await;
    assert_eq!(r, json!("bad-version(0x00000003)"));

    // bad-txnmrklroot: merkle root not matching the transactions.
    let r = submit_broken(&c, true, |b| {
        b.header.merkle_root = bitcoin::TxMerkleNode::all_zeros()
    })
    .await;
    assert_eq!(r, json!("bad-txnmrklroot"));

    // bad-cb-missing: the coinbase removed.
    let r = submit_broken(&c, false, |b| {
        b.txdata.remove(0);
    })
    .await;
    assert_eq!(r, json!("bad-cb-missing"));

    // bad-cb-height: BIP34 height off by one.
    let r = submit_broken(&c, false, |b| {
        b.txdata[0].input[0].script_sig = Builder::new().push_int(2).push_int(1000).into_script()
    })
    .await;
    assert_eq!(r, json!("bad-cb-height"));

    // bad-txns-inputs-missingorspent: a transaction simnet never offered.
    let r = submit_broken(&c, false, |b| {
        let mut tx = b.txdata[1].clone();
        tx.output[0].value += Amount::from_sat(1);
        b.txdata.push(tx);
    })
    .await;
    assert_eq!(r, json!("bad-txns-inputs-missingorspent"));

    // bad-witness-merkle-match: a corrupted commitment.
    let r = submit_broken(&c, false, |b| {
        let spk = &mut b.txdata[0].output[1].script_pubkey;
        let mut bytes = spk.to_bytes();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        *spk = ScriptBuf::from_bytes(bytes);
    })
    .await;
    assert_eq!(r, json!("bad-witness-merkle-match"));

    // bad-blk-length: a 1.1 MB OP_RETURN in the coinbase (too big even without witness data).
    let r = submit_broken(&c, false, |b| {
        let mut script = vec![0x6a, 0x4e];
        let len: u32 = 1_100_000;
        script.extend_from_slice(&len.to_le_bytes());
        script.resize(script.len() + len as usize, 0);
        b.txdata[0].output.push(TxOut {
            value: Amount::ZERO,
            script_pubkey: ScriptBuf::from_bytes(script),
        });
    })
    .await;
    assert_eq!(r, json!("bad-blk-length"));

    // bad-cb-amount: one satoshi too many.
    let r = submit_broken(&c, false, |b| {
        b.txdata[0].output[0].value += Amount::from_sat(1)
    })
    .await;
    assert_eq!(r, json!("bad-cb-amount"));

    // None of that moved the tip or counted.
    assert_eq!(h.tip_height(), 0);
    assert_eq!(h.blocks_accepted_by_submit(), 0);

    // A good block, then one on the old tip (genesis) is inconclusive.
    let r = submit_broken(&c, false, |_| {}).await;
    assert_eq!(r, Value::Null);
    assert_eq!(h.tip_height(), 1);
    let r = submit_broken(&c, false, |b| b.header.prev_blockhash = genesis).await;
    assert_eq!(r, json!("inconclusive"));
    assert_eq!(h.tip_height(), 1);

    // Undecodable hex.
    let err = call(&c, "submitblock", vec![json!("00ff")])
        .await
        .unwrap_err();
    assert_eq!(
        rpc_code(&err),
        Some((-22, "Block decode failed".to_string()))
    );
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generatetoaddress_advances_the_tip() {
    let h = start(2).await;
    let c = Arc::new(client(&h));
    let addr = payout_address().to_string();
    let hashes = call(&c, "generatetoaddress", vec![json!(3), json!(addr)])
        .await
        .unwrap();
    let hashes = hashes.as_array().unwrap().clone();
    assert_eq!(hashes.len(), 3);
    assert_eq!(h.tip_height(), 3);
    assert_eq!(h.blocks_accepted_by_submit(), 0);
    assert_eq!(json!(h.tip_hash().to_string()), hashes[2]);
    assert_eq!(
        call(&c, "getblockhash", vec![json!(2)]).await.unwrap(),
        hashes[1]
    );

    let block = call(&c, "getblock", vec![hashes[0].clone(), json!(1)])
        .await
        .unwrap();
    assert_eq!(block["height"], json!(1));
    assert_eq!(block["tx"].as_array().unwrap().len(), 3);
    let coinbase = call(
        &c,
        "getrawtransaction",
        vec![block["tx"][0].clone(), json!(true)],
    )
    .await
    .unwrap();
    assert_eq!(coinbase["vout"][0]["scriptPubKey"]["address"], json!(addr));
    assert_eq!(coinbase["confirmations"], json!(3));

    // Raw block hex decodes to the same hash.
    let hex_block = call(&c, "getblock", vec![hashes[2].clone(), json!(0)])
        .await
        .unwrap();
    let raw: bitcoin::Block =
        bitcoin::consensus::deserialize(&hex::decode(hex_block.as_str().unwrap()).unwrap())
            .unwrap();
    assert_eq!(
        raw.block_hash(),
        BlockHash::from_str(hashes[2].as_str().unwrap()).unwrap()
    );

    let err = call(
        &c,
        "generatetoaddress",
        vec![json!(1), json!("notanaddress")],
    )
    .await
    .unwrap_err();
    assert_eq!(rpc_code(&err).map(|e| e.0), Some(-5));
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn info_and_decode_methods_answer_like_bitcoind() {
    let h = start(2).await;
    let c = Arc::new(client(&h));
    let info = call(&c, "getblockchaininfo", vec![]).await.unwrap();
    assert_eq!(info["chain"], json!("regtest"));
    assert_eq!(info["blocks"], json!(0));
    assert_eq!(info["initialblockdownload"], json!(false));
    assert_eq!(
        info["bestblockhash"],
        json!("0f9188f13cb7b2c71f2a335e3a4fc328bf5beb436012afca590b1a11466e2206")
    );
    let net = call(&c, "getnetworkinfo", vec![]).await.unwrap();
    assert_eq!(net["version"], json!(280000));
    assert_eq!(net["subversion"], json!("/Satoshi:28.0.0(simnet)/"));
    let diff = call(&c, "getdifficulty", vec![]).await.unwrap();
    assert!(diff.as_f64().unwrap() < 1e-9, "genesis difficulty");

    let addr = payout_address().to_string();
    let v = call(&c, "validateaddress", vec![json!(addr)])
        .await
        .unwrap();
    assert_eq!(v["isvalid"], json!(true));
    assert_eq!(v["iswitness"], json!(true));
    assert_eq!(v["witness_version"], json!(0));
    assert_eq!(v["witness_program"], json!(hex::encode([7u8; 20])));
    assert_eq!(
        v["scriptPubKey"],
        json!(format!("0014{}", hex::encode([7u8; 20])))
    );
    let v = call(
        &c,
        "validateaddress",
        vec![json!("bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4")],
    )
    .await
    .unwrap();
    assert_eq!(
        v["isvalid"],
        json!(false),
        "mainnet address is not valid on regtest"
    );

    let pool = call(&c, "getrawmempool", vec![]).await.unwrap();
    let txid = pool[0].clone();
    let hex_tx = call(&c, "getrawtransaction", vec![txid.clone()])
        .await
        .unwrap();
    let d = call(&c, "decoderawtransaction", vec![hex_tx])
        .await
        .unwrap();
    assert_eq!(d["txid"], txid);
    assert_ne!(d["hash"], txid);
    assert_eq!(d["version"], json!(2));
    assert_eq!(
        d["vout"][0]["scriptPubKey"]["type"],
        json!("witness_v0_keyhash")
    );
    assert!(d["vout"][0]["scriptPubKey"]["address"]
        .as_str()
        .unwrap()
        .starts_with("bcrt1q"));
    assert!(d["weight"].as_u64().unwrap() > 4 * d["vsize"].as_u64().unwrap() - 4);

    let header = call(&c, "getblockheader", vec![info["bestblockhash"].clone()])
        .await
        .unwrap();
    assert_eq!(header["height"], json!(0));
    assert_eq!(header["bits"], json!("207fffff"));
    let err = call(&c, "getblock", vec![json!("00".repeat(32))])
        .await
        .unwrap_err();
    assert_eq!(rpc_code(&err), Some((-5, "Block not found".to_string())));
    let err = call(&c, "getblockhash", vec![json!(5)]).await.unwrap_err();
    assert_eq!(
        rpc_code(&err),
        Some((-8, "Block height out of range".to_string()))
    );
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_method_is_32601() {
    let h = start(0).await;
    let c = Arc::new(client(&h));
    let err = call(&c, "nosuchmethod", vec![]).await.unwrap_err();
    assert_eq!(
        rpc_code(&err),
        Some((-32601, "Method not found".to_string()))
    );
    h.shutdown().await;
}

/// Sends one raw HTTP request and returns the whole response text.
fn raw_http(addr: std::net::SocketAddr, auth: Option<&str>, body: &str) -> String {
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(WAIT)).unwrap();
    let auth = auth
        .map(|a| format!("Authorization: Basic {a}\r\n"))
        .unwrap_or_default();
    write!(
        s,
        "POST / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n{auth}Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_status_codes_and_auth() {
    let h = start(0).await;
    let addr = h.rpc_addr;
    let good = "c2ltbmV0OnNpbW5ldA=="; // simnet:simnet
    let bad = "c2ltbmV0Ondyb25n"; // simnet:wrong
    let (unauth, none, notfound, parse, v2) = tokio::task::spawn_blocking(move || {
        let req = r#"{"method":"getblockcount","params":[],"id":1}"#;
        (
            raw_http(addr, Some(bad), req),
            raw_http(addr, None, req),
            raw_http(addr, Some(good), r#"{"method":"nope","params":[],"id":7}"#),
            raw_http(addr, Some(good), "{not json"),
            raw_http(
                addr,
                Some(good),
                r#"{"jsonrpc":"2.0","method":"nope","params":[],"id":8}"#,
            ),
        )
    })
    .await
    .unwrap();
    for r in [&unauth, &none] {
        assert!(r.starts_with("HTTP/1.1 401"), "{r}");
        assert!(r.to_ascii_lowercase().contains("content-length: 0"), "{r}");
        assert!(r.ends_with("\r\n\r\n"), "empty body: {r}");
    }
    assert!(notfound.starts_with("HTTP/1.1 404"), "{notfound}");
    assert!(notfound.to_ascii_lowercase().contains("content-length:"));
    assert!(!notfound.to_ascii_lowercase().contains("chunked"));
    assert!(notfound.contains(r#""code":-32601"#) && notfound.contains(r#""id":7"#));
    assert!(parse.starts_with("HTTP/1.1 500"), "{parse}");
    assert!(parse.contains("-32700"));
    assert!(v2.starts_with("HTTP/1.1 200"), "{v2}");
    assert!(v2.contains("-32601"));

    // The real client sees a transport error on a wrong password.
    let wrong = Arc::new(
        bitcoincore_rpc::Client::new(
            &format!("http://{addr}"),
            Auth::UserPass("simnet".into(), "wrong".into()),
        )
        .unwrap(),
    );
    assert!(call(&wrong, "getblockcount", vec![]).await.is_err());
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cookie_auth_works_and_cookie_is_removed_on_shutdown() {
    let dir = tempfile::tempdir().unwrap();
    let cookie_dir = dir.path().join("regtest");
    let h = simnet::start(simnet::SimnetConfig {
        auth: simnet::SimnetAuth::Cookie {
            dir: cookie_dir.clone(),
        },
        difficulty: TEST_DIFFICULTY,
        ..simnet::SimnetConfig::default()
    })
    .await
    .unwrap();
    let path = cookie_dir.join(".cookie");
    assert_eq!(h.cookie_file.as_deref(), Some(path.as_path()));
    let content = std::fs::read_to_string(&path).unwrap();
    assert_eq!(content, format!("__cookie__:{}", h.password));
    assert_eq!(h.user, "__cookie__");
    let c = Arc::new(
        bitcoincore_rpc::Client::new(
            &format!("http://{}", h.rpc_addr),
            Auth::CookieFile(path.clone()),
        )
        .unwrap(),
    );
    assert_eq!(call(&c, "getblockcount", vec![]).await.unwrap(), json!(0));
    h.shutdown().await;
    assert!(!path.exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_config_is_a_clear_error() {
    let err = simnet::start(simnet::SimnetConfig {
        difficulty: 0.0,
        ..simnet::SimnetConfig::default()
    })
    .await
    .err()
    .unwrap();
    assert!(err.to_string().contains("invalid difficulty"));
    let err = simnet::start(simnet::SimnetConfig {
        zmq_bind: "nonsense://x".into(),
        ..simnet::SimnetConfig::default()
    })
    .await
    .err()
    .unwrap();
    assert!(err.to_string().contains("ZMQ"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sendrawtransaction_enters_the_next_template() {
    let h = start(1).await;
    let c = Arc::new(client(&h));
    let t = gbt(&c).await;
    let first: bitcoin::Transaction = bitcoin::consensus::deserialize(
        &hex::decode(t["transactions"][0]["data"].as_str().unwrap()).unwrap(),
    )
    .unwrap();
    // Spending the same outpoint as a mempool transaction is a conflict.
    let mut conflicting = first.clone();
    conflicting.output[0].value += Amount::from_sat(1);
    let err = call(
        &c,
        "sendrawtransaction",
        vec![json!(bitcoin::consensus::encode::serialize_hex(
            &conflicting
        ))],
    )
    .await
    .unwrap_err();
    assert_eq!(
        rpc_code(&err),
        Some((-26, "txn-mempool-conflict".to_string()))
    );

    let mut tx = first.clone();
    tx.input[0].previous_output.vout += 100;
    // Paying a P2PKH output: its OP_CHECKSIG costs 4, the P2WPKH spend 1.
    tx.output[0].script_pubkey =
        bitcoin::ScriptBuf::new_p2pkh(&bitcoin::PubkeyHash::from_byte_array([5; 20]));
    let txid = call(
        &c,
        "sendrawtransaction",
        vec![json!(bitcoin::consensus::encode::serialize_hex(&tx))],
    )
    .await
    .unwrap();
    assert_eq!(txid, json!(tx.compute_txid().to_string()));
    let t2 = gbt(&c).await;
    let txids: Vec<&Value> = t2["transactions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| &x["txid"])
        .collect();
    assert!(txids.contains(&&txid));
    let entry = t2["transactions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["txid"] == txid)
        .unwrap();
    assert_eq!(entry["sigops"], json!(5), "{entry}");
    let verbose = call(&c, "getrawtransaction", vec![txid.clone(), json!(1)])
        .await
        .unwrap();
    assert_eq!(verbose["txid"], txid);
    assert!(verbose.get("blockhash").is_none(), "still unconfirmed");

    // A block with it is accepted and the transaction is then found in the chain.
    let mut block = block_from_template(&t2);
    grind(&mut block);
    assert_eq!(submit(&c, &block).await, Value::Null);
    let verbose = call(&c, "getrawtransaction", vec![txid.clone(), json!(true)])
        .await
        .unwrap();
    assert_eq!(verbose["blockhash"], json!(block.block_hash().to_string()));
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_and_named_params_over_raw_http() {
    let h = start(0).await;
    let addr = h.rpc_addr;
    let good = "c2ltbmV0OnNpbW5ldA==";
    let (batch, named, get) = tokio::task::spawn_blocking(move || {
        (
            raw_http(
                addr,
                Some(good),
                r#"[{"method":"getblockcount","id":1},{"method":"getblockhash","params":[0],"id":2}]"#,
            ),
            raw_http(
                addr,
                Some(good),
                r#"{"method":"getblockhash","params":{"height":0},"id":3}"#,
            ),
            {
                let mut s = std::net::TcpStream::connect(addr).unwrap();
                s.set_read_timeout(Some(WAIT)).unwrap();
                write!(s, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").unwrap();
                let mut out = String::new();
                s.read_to_string(&mut out).unwrap();
                out
            },
        )
    })
    .await
    .unwrap();
    assert!(batch.starts_with("HTTP/1.1 200"), "{batch}");
    let body: Value = serde_json::from_str(batch.split("\r\n\r\n").nth(1).unwrap()).unwrap();
    assert_eq!(body[0]["result"], json!(0));
    assert_eq!(body[1]["id"], json!(2));
    assert_eq!(body[1]["result"], json!(h.tip_hash().to_string()));
    assert!(named.contains(&h.tip_hash().to_string()), "{named}");
    assert!(get.starts_with("HTTP/1.1 405"), "{get}");
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_the_handle_stops_the_node() {
    let dir = tempfile::tempdir().unwrap();
    let h = simnet::start(simnet::SimnetConfig {
        auth: simnet::SimnetAuth::Cookie {
            dir: dir.path().to_path_buf(),
        },
        ..simnet::SimnetConfig::default()
    })
    .await
    .unwrap();
    let cookie = h.cookie_file.clone().unwrap();
    assert!(cookie.exists());
    drop(h);
    assert!(!cookie.exists(), "cookie removed on drop");
}

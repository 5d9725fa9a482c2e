//! Every standard output type can be paid: P2PKH, P2SH, P2WPKH, P2WSH and P2TR addresses
//! authorize in solo mode, and a pool coinbase paying all of them decodes back to the same
//! addresses.

use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bitcoin::hashes::Hash;
use bitcoin::key::{Secp256k1, UntweakedPublicKey};
use bitcoin::{Address, Network, PubkeyHash, ScriptBuf, ScriptHash, WScriptHash};
use serde_json::json;
use stratum_miner::client::StratumClient;
use stratumd::node::template::Template;
use stratumd::work::payout::{PoolPayees, WeightedPayee};
use stratumd::work::{BuildContext, JobBuilder, JobConfig, Payee, PayoutPlan};

fn addresses() -> Vec<Address> {
    let secp = Secp256k1::verification_only();
    let xonly = UntweakedPublicKey::from_str(
        "cc8a4bc64d897bddc5fbc2f670f7a8ba0b386779106cf1223c6fc5d7cd6fc115",
    )
    .unwrap();
    vec![
        Address::p2pkh(PubkeyHash::from_byte_array([1; 20]), Network::Regtest),
        Address::p2sh_from_hash(ScriptHash::from_byte_array([2; 20]), Network::Regtest),
        Address::p2wpkh(
            &bitcoin::CompressedPublicKey::from_str(
                "02cc8a4bc64d897bddc5fbc2f670f7a8ba0b386779106cf1223c6fc5d7cd6fc115",
            )
            .unwrap(),
            Network::Regtest,
        ),
        Address::p2wsh(
            &ScriptBuf::new_p2wsh(&WScriptHash::from_byte_array([4; 32])),
            Network::Regtest,
        ),
        Address::p2tr(&secp, xonly, None, Network::Regtest),
    ]
}

#[test]
fn pool_coinbase_pays_every_address_type() {
    let path = format!(
        "{}/tests/fixtures/ckpool/gbt-notify/one-txn/gbt.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let gbt: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let template = Arc::new(Template::from_json(gbt).unwrap());
    let addrs = addresses();
    let builder = JobBuilder::new(JobConfig {
        nonce1_len: 4,
        nonce2_len: 8,
        btcsig: Vec::new(),
    });
    let payees = addrs
        .iter()
        .map(|a| WeightedPayee {
            script: a.script_pubkey(),
            weight: 1,
        })
        .collect();
    let plan = Arc::new(PayoutPlan::pool(PoolPayees::new(payees).unwrap(), None));
    let at = BuildContext {
        clean: true,
        generation: 1,
        now: SystemTime::now(),
    };
    let job = builder.build(&template, &plan, at).unwrap();
    let work = job.work_for(&Payee::Pool).unwrap();
    let mut coinbase = job.coinb1.clone();
    coinbase.extend_from_slice(&[0; 12]);
    coinbase.extend_from_slice(&work.coinb2.to_vec());
    let tx: bitcoin::Transaction = bitcoin::consensus::deserialize(&coinbase).unwrap();
    assert!(tx.is_coinbase());
    // One output per address, then the witness commitment.
    assert_eq!(tx.output.len(), addrs.len() + 1, "{:?}", tx.output);
    for (out, addr) in tx.output.iter().zip(&addrs) {
        let decoded = Address::from_script(&out.script_pubkey, Network::Regtest).unwrap();
        assert_eq!(&decoded, addr);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn solo_miners_authorize_with_every_address_type() {
    let logdir = tempfile::tempdir().unwrap();
    let conf = json!({"serverurl": "127.0.0.1:0", "logdir": logdir.path().display().to_string()});
    let overrides = stratumd::config::Overrides {
        simnet: Some(stratumd::config::SimnetNode {
            difficulty: 1.0,
            transactions: 1,
        }),
        ..stratumd::config::Overrides::solo()
    };
    let config = stratumd::config::Config::parse(&conf.to_string(), &overrides).unwrap();
    let running = stratumd::app::start(config).await.unwrap();
    let t = Duration::from_secs(10);
    for addr in addresses() {
        let mut c = StratumClient::connect(running.stratum_addrs[0])
            .await
            .unwrap();
        let id = c.request("mining.subscribe", json!([])).await.unwrap();
        c.wait_reply(id, t).await.unwrap();
        let id = c
            .request("mining.authorize", json!([format!("{addr}.w"), "x"]))
            .await
            .unwrap();
        let reply = c.wait_reply(id, t).await.unwrap();
        assert_eq!(reply["result"], true, "{addr}: {reply}");
        let notify = c.wait_method("mining.notify", t).await.unwrap();
        // The coinbase pays exactly this address.
        let coinb2 = hex::decode(notify["params"][3].as_str().unwrap()).unwrap();
        let script = addr.script_pubkey();
        assert!(
            coinb2.windows(script.len()).any(|w| w == script.as_bytes()),
            "{addr}"
        );
    }
    // A mainnet address is refused on regtest.
    let mut c = StratumClient::connect(running.stratum_addrs[0])
        .await
        .unwrap();
    let mainnet = Address::p2pkh(PubkeyHash::from_byte_array([1; 20]), Network::Bitcoin);
    let id = c
        .request("mining.authorize", json!([mainnet.to_string(), "x"]))
        .await
        .unwrap();
    let reply = c.wait_reply(id, t).await.unwrap();
    assert_eq!(reply["error"][0], 24, "{reply}");
    running.shutdown.cancel();
}

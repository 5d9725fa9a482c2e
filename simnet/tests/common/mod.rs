//! Shared helpers for simnet's end-to-end tests: start a node, call it with bitcoincore-rpc, build blocks.

#![allow(dead_code)]

use std::str::FromStr;
use std::time::Duration;

use bitcoin::block::{Block, Header, Version};
use bitcoin::consensus::{deserialize, encode::serialize_hex};
use bitcoin::hashes::Hash;
use bitcoin::pow::CompactTarget;
use bitcoin::script::{Builder, PushBytesBuf};
use bitcoin::{
    absolute, transaction, Address, Amount, BlockHash, Network, OutPoint, ScriptBuf, Sequence,
    Transaction, TxIn, TxMerkleNode, TxOut, WPubkeyHash, Witness,
};
use bitcoincore_rpc::{Auth, Client, RpcApi};
use serde_json::Value;
use simnet::{SimnetConfig, SimnetHandle};

/// Low difficulty so that grinding in tests takes a few thousand hashes.
pub const TEST_DIFFICULTY: f64 = 1e-6;

/// Starts a simnet on loopback with the test difficulty.
pub async fn start(txs: usize) -> SimnetHandle {
    simnet::start(SimnetConfig {
        difficulty: TEST_DIFFICULTY,
        transactions_per_template: txs,
        ..SimnetConfig::default()
    })
    .await
    .expect("simnet starts")
}

/// A bitcoincore-rpc client for the handle.
pub fn client(h: &SimnetHandle) -> Client {
    Client::new(
        &format!("http://{}", h.rpc_addr),
        Auth::UserPass(h.user.clone(), h.password.clone()),
    )
    .expect("client")
}

/// Calls `method` from a blocking thread with the real client.
pub async fn call(
    client: &std::sync::Arc<Client>,
    method: &'static str,
    params: Vec<Value>,
) -> Result<Value, bitcoincore_rpc::Error> {
    let c = client.clone();
    tokio::task::spawn_blocking(move || c.call::<Value>(method, &params))
        .await
        .expect("join")
}

/// The RPC error code of a failed call, if it was an RPC error.
pub fn rpc_code(e: &bitcoincore_rpc::Error) -> Option<(i32, String)> {
    match e {
        bitcoincore_rpc::Error::JsonRpc(bitcoincore_rpc::jsonrpc::error::Error::Rpc(r)) => {
            Some((r.code, r.message.clone()))
        }
        _ => None,
    }
}

/// A regtest P2WPKH payout address.
pub fn payout_address() -> Address {
    Address::from_script(
        &ScriptBuf::new_p2wpkh(&WPubkeyHash::from_byte_array([7u8; 20])),
        Network::Regtest,
    )
    .expect("address")
}

/// Gets a template with the segwit rule.
pub async fn gbt(client: &std::sync::Arc<Client>) -> Value {
    call(
        client,
        "getblocktemplate",
        vec![serde_json::json!({"rules": ["segwit"]})],
    )
    .await
    .expect("getblocktemplate")
}

/// Builds a correct, not yet ground block from a template, as a pool would.
pub fn block_from_template(t: &Value) -> Block {
    let height = t["height"].as_i64().expect("height");
    let mut extra = PushBytesBuf::new();
    extra.extend_from_slice(b"simnet-test").expect("push");
    let coinbase = Transaction {
        version: transaction::Version::TWO,
        lock_time: absolute::LockTime::ZERO,
        input: vec![TxIn {
            previous_output: OutPoint::null(),
            script_sig: Builder::new()
                .push_int(height)
                .push_slice(extra)
                .into_script(),
            sequence: Sequence::MAX,
            witness: Witness::from_slice(&[[0u8; 32]]),
        }],
        output: vec![
            TxOut {
                value: Amount::from_sat(t["coinbasevalue"].as_u64().expect("coinbasevalue")),
                script_pubkey: payout_address().script_pubkey(),
            },
            TxOut {
                value: Amount::ZERO,
                script_pubkey: ScriptBuf::from_bytes(
                    hex::decode(t["default_witness_commitment"].as_str().expect("dwc"))
                        .expect("hex"),
                ),
            },
        ],
    };
    let mut txdata = vec![coinbase];
    for tx in t["transactions"].as_array().expect("transactions") {
        let bytes = hex::decode(tx["data"].as_str().expect("data")).expect("hex");
        txdata.push(deserialize(&bytes).expect("tx"));
    }
    let bits = u32::from_str_radix(t["bits"].as_str().expect("bits"), 16).expect("bits hex");
    let mut block = Block {
        header: Header {
            version: Version::from_consensus(t["version"].as_i64().expect("version") as i32),
            prev_blockhash: BlockHash::from_str(t["previousblockhash"].as_str().expect("prev"))
                .expect("prev hash"),
            merkle_root: TxMerkleNode::all_zeros(),
            time: t["curtime"].as_u64().expect("curtime") as u32,
            bits: CompactTarget::from_consensus(bits),
            nonce: 0,
        },
        txdata,
    };
    fix_merkle_root(&mut block);
    block
}

/// Recomputes the header's merkle root.
pub fn fix_merkle_root(block: &mut Block) {
    block.header.merkle_root = block.compute_merkle_root().expect("non-empty block");
}

/// Grinds the nonce until the header meets the target in its own bits.
pub fn grind(block: &mut Block) {
    let target = block.header.target();
    for nonce in 0..=u32::MAX {
        block.header.nonce = nonce;
        if target.is_met_by(block.block_hash()) {
            return;
        }
    }
    panic!("no nonce found");
}

/// Grinds the nonce until the header does NOT meet the target.
pub fn grind_to_fail(block: &mut Block) {
    let target = block.header.target();
    for nonce in 0..=u32::MAX {
        block.header.nonce = nonce;
        if !target.is_met_by(block.block_hash()) {
            return;
        }
    }
    panic!("every nonce meets the target");
}

/// Submits a block with the real client and returns the raw result.
pub async fn submit(client: &std::sync::Arc<Client>, block: &Block) -> Value {
    call(
        client,
        "submitblock",
        vec![Value::String(serialize_hex(block))],
    )
    .await
    .expect("submitblock answers")
}

/// Generous timeout for waiting on events.
pub const WAIT: Duration = Duration::from_secs(10);

//! bitcoind-shaped JSON for transactions, blocks, headers and addresses.

use bitcoin::address::{Address, NetworkUnchecked};
use bitcoin::block::{Block, Header};
use bitcoin::consensus::encode::serialize_hex;
use bitcoin::{Network, Script, Transaction};
use serde_json::{json, Value};

use crate::chain::{difficulty_from_bits, Chain};

/// bitcoind's `scriptPubKey.type` name for a script.
fn script_type(script: &Script) -> &'static str {
    if script.is_p2pkh() {
        "pubkeyhash"
    } else if script.is_p2sh() {
        "scripthash"
    } else if script.is_p2wpkh() {
        "witness_v0_keyhash"
    } else if script.is_p2wsh() {
        "witness_v0_scripthash"
    } else if script.is_p2tr() {
        "witness_v1_taproot"
    } else if script.is_op_return() {
        "nulldata"
    } else if script.is_p2pk() {
        "pubkey"
    } else if script.is_multisig() {
        "multisig"
    } else if script.is_witness_program() {
        "witness_unknown"
    } else {
        "nonstandard"
    }
}

/// `scriptPubKey` object: asm, hex, address (when it has one) and type.
fn script_pubkey_json(script: &Script) -> Value {
    let mut obj = json!({
        "asm": script.to_asm_string(),
        "hex": hex::encode(script.as_bytes()),
        "type": script_type(script),
    });
    if let Ok(addr) = Address::from_script(script, Network::Regtest) {
        obj["address"] = json!(addr.to_string());
    }
    obj
}

/// `decoderawtransaction`'s result for `tx`.
pub(crate) fn tx_json(tx: &Transaction) -> Value {
    let vin: Vec<Value> = tx
        .input
        .iter()
        .map(|input| {
            let mut obj = if tx.is_coinbase() {
                json!({ "coinbase": hex::encode(input.script_sig.as_bytes()) })
            } else {
                json!({
                    "txid": input.previous_output.txid.to_string(),
                    "vout": input.previous_output.vout,
                    "scriptSig": {
                        "asm": input.script_sig.to_asm_string(),
                        "hex": hex::encode(input.script_sig.as_bytes()),
                    },
                })
            };
            if !input.witness.is_empty() {
                obj["txinwitness"] =
                    json!(input.witness.iter().map(hex::encode).collect::<Vec<_>>());
            }
            obj["sequence"] = json!(input.sequence.0);
            obj
        })
        .collect();
    let vout: Vec<Value> = tx
        .output
        .iter()
        .enumerate()
        .map(|(n, out)| {
            json!({
                "value": out.value.to_btc(),
                "n": n,
                "scriptPubKey": script_pubkey_json(&out.script_pubkey),
            })
        })
        .collect();
    json!({
        "txid": tx.compute_txid().to_string(),
        "hash": tx.compute_wtxid().to_string(),
        "version": tx.version.0,
        "size": tx.total_size(),
        "vsize": tx.vsize(),
        "weight": tx.weight().to_wu(),
        "locktime": tx.lock_time.to_consensus_u32(),
        "vin": vin,
        "vout": vout,
    })
}

/// `getblockheader`'s verbose result for the header at `height`.
pub(crate) fn header_json(chain: &Chain, header: &Header, height: u32, n_tx: usize) -> Value {
    let tip = chain.tip_height();
    let mut obj = json!({
        "hash": header.block_hash().to_string(),
        "confirmations": i64::from(tip) - i64::from(height) + 1,
        "height": height,
        "version": header.version.to_consensus(),
        "versionHex": format!("{:08x}", header.version.to_consensus()),
        "merkleroot": header.merkle_root.to_string(),
        "time": header.time,
        "mediantime": chain.median_time_past(height),
        "nonce": header.nonce,
        "bits": format!("{:08x}", header.bits.to_consensus()),
        "difficulty": difficulty_from_bits(header.bits),
        "chainwork": chain.chainwork_hex(height),
        "nTx": n_tx,
    });
    if height > 0 {
        obj["previousblockhash"] = json!(header.prev_blockhash.to_string());
    }
    if let Some(next) = chain.at(height + 1) {
        obj["nextblockhash"] = json!(next.block_hash().to_string());
    }
    obj
}

/// `getblock`'s result at verbosity 1 (txids) or 2 (decoded transactions).
pub(crate) fn block_json(chain: &Chain, block: &Block, height: u32, verbosity: u8) -> Value {
    let mut obj = header_json(chain, &block.header, height, block.txdata.len());
    obj["strippedsize"] = json!((block.weight().to_wu() - block.total_size() as u64) / 3);
    obj["size"] = json!(block.total_size());
    obj["weight"] = json!(block.weight().to_wu());
    obj["tx"] = if verbosity >= 2 {
        json!(block.txdata.iter().map(tx_json).collect::<Vec<_>>())
    } else {
        json!(block
            .txdata
            .iter()
            .map(|tx| tx.compute_txid().to_string())
            .collect::<Vec<_>>())
    };
    obj
}

/// `validateaddress`'s result, for regtest addresses.
pub(crate) fn validate_address(s: &str) -> Value {
    let addr = s
        .parse::<Address<NetworkUnchecked>>()
        .ok()
        .and_then(|a| a.require_network(Network::Regtest).ok());
    let Some(addr) = addr else {
        return json!({
            "isvalid": false,
            "error_locations": [],
            "error": "Invalid or unsupported Segwit (Bech32) or Base58 encoding.",
        });
    };
    let script = addr.script_pubkey();
    let mut obj = json!({
        "isvalid": true,
        "address": addr.to_string(),
        "scriptPubKey": hex::encode(script.as_bytes()),
        "isscript": script.is_p2sh() || script.is_p2wsh() || script.is_p2tr(),
        "iswitness": script.is_witness_program(),
    });
    if let Some(program) = addr.witness_program() {
        obj["witness_version"] = json!(program.version().to_num());
        obj["witness_program"] = json!(hex::encode(program.program().as_bytes()));
    }
    obj
}

/// Hex of a consensus-encoded block or transaction.
pub(crate) fn to_hex<T: bitcoin::consensus::Encodable + ?Sized>(value: &T) -> String {
    serialize_hex(value)
}

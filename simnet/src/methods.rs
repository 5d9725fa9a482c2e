//! The JSON-RPC methods: typed parameter parsing and dispatch to the node.

use std::sync::Mutex;

use bitcoin::address::{Address, NetworkUnchecked};
use bitcoin::block::Block;
use bitcoin::consensus::deserialize;
use bitcoin::{BlockHash, Network, Transaction, Txid};
use serde_json::{json, Value};

use crate::chain::difficulty_from_bits;
use crate::generate::mine;
use crate::json::{block_json, header_json, to_hex, tx_json, validate_address};
use crate::lock;
use crate::node::Node;
use crate::template::Template;

/// A JSON-RPC error with bitcoind's code and message.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct RpcError {
    pub(crate) code: i32,
    pub(crate) message: String,
}

impl RpcError {
    pub(crate) fn new(code: i32, message: impl Into<String>) -> Self {
        RpcError {
            code,
            message: message.into(),
        }
    }
}

/// bitcoind's RPC_METHOD_NOT_FOUND.
pub(crate) const METHOD_NOT_FOUND: i32 = -32601;
/// bitcoind's RPC_INVALID_REQUEST.
pub(crate) const INVALID_REQUEST: i32 = -32600;
/// bitcoind's RPC_PARSE_ERROR.
pub(crate) const PARSE_ERROR: i32 = -32700;
/// bitcoind's RPC_IN_WARMUP: the node is starting and answers nothing else yet.
pub(crate) const IN_WARMUP: i32 = -28;
const MISC_ERROR: i32 = -1;
const TYPE_ERROR: i32 = -3;
const INVALID_ADDRESS_OR_KEY: i32 = -5;
const INVALID_PARAMETER: i32 = -8;
const DESERIALIZATION_ERROR: i32 = -22;

/// Parameter names of each method, to map named (object) parameters to positions; `None` = unknown method.
pub(crate) fn param_names(method: &str) -> Option<&'static [&'static str]> {
    Some(match method {
        "getblocktemplate" => &["template_request"],
        "submitblock" => &["hexdata", "dummy"],
        "getblockchaininfo" | "getbestblockhash" | "getblockcount" | "getdifficulty"
        | "getmininginfo" | "getnetworkinfo" | "getconnectioncount" | "ping" | "uptime" => &[],
        "getblockhash" => &["height"],
        "getblock" => &["blockhash", "verbosity"],
        "getblockheader" => &["blockhash", "verbose"],
        "validateaddress" => &["address"],
        "preciousblock" => &["blockhash"],
        "decoderawtransaction" => &["hexstring", "iswitness"],
        "getrawtransaction" => &["txid", "verbose", "blockhash"],
        "getrawmempool" => &["verbose", "mempool_sequence"],
        "sendrawtransaction" => &["hexstring", "maxfeerate", "maxburnamount"],
        "generatetoaddress" => &["nblocks", "address", "maxtries"],
        _ => return None,
    })
}

/// Typed access to positional parameters.
struct Params<'a> {
    method: &'a str,
    values: &'a [Value],
}

/// bitcoind's name for a JSON value's type.
fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

impl<'a> Params<'a> {
    /// The parameter at `i`, treating JSON null as absent.
    fn opt(&self, i: usize) -> Option<&'a Value> {
        self.values.get(i).filter(|v| !v.is_null())
    }

    fn required(&self, i: usize) -> Result<&'a Value, RpcError> {
        self.opt(i).ok_or_else(|| {
            let name = param_names(self.method)
                .and_then(|n| n.get(i))
                .copied()
                .unwrap_or("?");
            RpcError::new(
                MISC_ERROR,
                format!("{}: missing required parameter '{}'", self.method, name),
            )
        })
    }

    fn type_error(v: &Value, expected: &str) -> RpcError {
        RpcError::new(
            TYPE_ERROR,
            format!(
                "JSON value of type {} is not of expected type {}",
                type_name(v),
                expected
            ),
        )
    }

    fn str(&self, i: usize) -> Result<&'a str, RpcError> {
        let v = self.required(i)?;
        v.as_str().ok_or_else(|| Self::type_error(v, "string"))
    }

    fn int(&self, i: usize) -> Result<i64, RpcError> {
        let v = self.required(i)?;
        v.as_i64().ok_or_else(|| Self::type_error(v, "number"))
    }

    /// A verbosity given as a number or a bool (true = 1), with a default.
    fn verbosity(&self, i: usize, default: u8) -> Result<u8, RpcError> {
        match self.opt(i) {
            None => Ok(default),
            Some(Value::Bool(b)) => Ok(u8::from(*b)),
            Some(v) => v
                .as_u64()
                .map(|n| n.min(3) as u8)
                .ok_or_else(|| Self::type_error(v, "number")),
        }
    }

    /// A 64-hex-digit hash as bitcoind's ParseHashV checks it.
    fn hash_str(&self, i: usize, name: &str) -> Result<&'a str, RpcError> {
        let s = self.str(i)?;
        if s.len() != 64 {
            return Err(RpcError::new(
                INVALID_PARAMETER,
                format!("{name} must be of length 64 (not {}, for '{s}')", s.len()),
            ));
        }
        if !s.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(RpcError::new(
                INVALID_PARAMETER,
                format!("{name} must be hexadecimal string (not '{s}')"),
            ));
        }
        Ok(s)
    }

    fn block_hash(&self, i: usize) -> Result<BlockHash, RpcError> {
        self.hash_str(i, "blockhash")?
            .parse()
            .map_err(|_| RpcError::new(INVALID_PARAMETER, "blockhash must be hexadecimal string"))
    }

    fn txid(&self, i: usize) -> Result<Txid, RpcError> {
        self.hash_str(i, "parameter 1")?
            .parse()
            .map_err(|_| RpcError::new(INVALID_PARAMETER, "txid must be hexadecimal string"))
    }
}

/// Runs one RPC method against the node. Blocking (generatetoaddress grinds): call off the async runtime.
pub(crate) fn call(node: &Mutex<Node>, method: &str, values: &[Value]) -> Result<Value, RpcError> {
    let p = Params { method, values };
    match method {
        "getblocktemplate" => get_block_template(node, &p),
        "submitblock" => submit_block(node, &p),
        "getblockchaininfo" => {
            let n = lock(node);
            let c = &n.chain;
            let h = c.tip_height();
            let tip = c.tip();
            Ok(json!({
                "chain": "regtest",
                "blocks": h,
                "headers": h,
                "bestblockhash": c.tip_hash().to_string(),
                "difficulty": difficulty_from_bits(tip.header.bits),
                "time": tip.header.time,
                "mediantime": c.median_time_past(h),
                "verificationprogress": 1,
                "initialblockdownload": n.initial_block_download,
                "chainwork": c.chainwork_hex(h),
                "size_on_disk": 0,
                "pruned": false,
                "warnings": [],
            }))
        }
        "getbestblockhash" => Ok(json!(lock(node).chain.tip_hash().to_string())),
        "getblockcount" => Ok(json!(lock(node).chain.tip_height())),
        "getdifficulty" => {
            let n = lock(node);
            Ok(json!(difficulty_from_bits(n.chain.tip().header.bits)))
        }
        "getmininginfo" => {
            let n = lock(node);
            Ok(json!({
                "blocks": n.chain.tip_height(),
                "difficulty": difficulty_from_bits(n.chain.tip().header.bits),
                "networkhashps": 0,
                "pooledtx": n.mempool.entries().len(),
                "chain": "regtest",
                "warnings": [],
            }))
        }
        "getnetworkinfo" => Ok(json!({
            "version": 280000,
            "subversion": "/Satoshi:28.0.0(simnet)/",
            "protocolversion": 70016,
            "localservices": "0000000000000409",
            "localservicesnames": ["NETWORK", "WITNESS", "NETWORK_LIMITED"],
            "localrelay": true,
            "timeoffset": 0,
            "networkactive": true,
            "connections": 0,
            "connections_in": 0,
            "connections_out": 0,
            "networks": [],
            "relayfee": 0.00001,
            "incrementalfee": 0.00001,
            "localaddresses": [],
            "warnings": [],
        })),
        "getconnectioncount" => Ok(json!(0)),
        "ping" => Ok(Value::Null),
        "uptime" => Ok(json!(0)),
        "getblockhash" => {
            let h = p.int(0)?;
            let n = lock(node);
            u32::try_from(h)
                .ok()
                .and_then(|h| n.chain.at(h))
                .map(|b| json!(b.block_hash().to_string()))
                .ok_or_else(|| RpcError::new(INVALID_PARAMETER, "Block height out of range"))
        }
        "getblock" => {
            let hash = p.block_hash(0)?;
            let verbosity = p.verbosity(1, 1)?;
            let n = lock(node);
            let (height, block) = find_block(&n, &hash)?;
            Ok(match verbosity {
                0 => json!(to_hex(block)),
                v => block_json(&n.chain, block, height, v),
            })
        }
        "getblockheader" => {
            let hash = p.block_hash(0)?;
            let verbose = p.verbosity(1, 1)? != 0;
            let n = lock(node);
            let (height, block) = find_block(&n, &hash)?;
            Ok(if verbose {
                header_json(&n.chain, &block.header, height, block.txdata.len())
            } else {
                json!(to_hex(&block.header))
            })
        }
        "validateaddress" => Ok(validate_address(p.str(0)?)),
        "preciousblock" => {
            let hash = p.block_hash(0)?;
            find_block(&lock(node), &hash).map(|_| Value::Null)
        }
        "decoderawtransaction" => {
            let tx: Transaction = hex::decode(p.str(0)?)
                .ok()
                .and_then(|bytes| deserialize(&bytes).ok())
                .ok_or_else(|| RpcError::new(DESERIALIZATION_ERROR, "TX decode failed"))?;
            Ok(tx_json(&tx))
        }
        "getrawtransaction" => get_raw_transaction(node, &p),
        "sendrawtransaction" => {
            let tx: Transaction = hex::decode(p.str(0)?)
                .ok()
                .and_then(|bytes| deserialize(&bytes).ok())
                .ok_or_else(|| {
                    RpcError::new(
                        DESERIALIZATION_ERROR,
                        "TX decode failed. Make sure the tx has at least one input.",
                    )
                })?;
            if tx.is_coinbase() {
                return Err(RpcError::new(-26, "coinbase"));
            }
            if tx.weight().to_wu() > 400_000 {
                return Err(RpcError::new(-26, "tx-size"));
            }
            match lock(node).mempool.insert(tx) {
                Some(txid) => Ok(json!(txid.to_string())),
                None => Err(RpcError::new(-26, "txn-mempool-conflict")),
            }
        }
        "getrawmempool" => {
            let n = lock(node);
            Ok(json!(n
                .mempool
                .entries()
                .iter()
                .map(|e| e.txid.to_string())
                .collect::<Vec<_>>()))
        }
        "generatetoaddress" => generate_to_address(node, &p),
        _ => Err(RpcError::new(METHOD_NOT_FOUND, "Method not found")),
    }
}

fn find_block<'n>(n: &'n Node, hash: &BlockHash) -> Result<(u32, &'n Block), RpcError> {
    n.chain
        .height_of(hash)
        .and_then(|h| n.chain.at(h).map(|b| (h, b)))
        .ok_or_else(|| RpcError::new(INVALID_ADDRESS_OR_KEY, "Block not found"))
}

fn get_block_template(node: &Mutex<Node>, p: &Params) -> Result<Value, RpcError> {
    if lock(node).initial_block_download {
        // bitcoind's RPC_CLIENT_IN_INITIAL_DOWNLOAD.
        return Err(RpcError::new(
            -10,
            "Bitcoin Core is in initial block download.",
        ));
    }
    let request = match p.opt(0) {
        None => None,
        Some(Value::Object(o)) => Some(o),
        Some(v) => return Err(Params::type_error(v, "object")),
    };
    let mode = request
        .and_then(|r| r.get("mode"))
        .and_then(Value::as_str)
        .unwrap_or("template");
    if mode != "template" {
        return Err(RpcError::new(INVALID_PARAMETER, "Invalid mode"));
    }
    let has_segwit = request
        .and_then(|r| r.get("rules"))
        .and_then(Value::as_array)
        .is_some_and(|rules| rules.iter().any(|r| r.as_str() == Some("segwit")));
    if !has_segwit {
        return Err(RpcError::new(
            INVALID_PARAMETER,
            "getblocktemplate must be called with the segwit rule set (call with {\"rules\": [\"segwit\"]})",
        ));
    }
    let n = lock(node);
    let t = Template::new(&n.chain, &n.mempool);
    let txs: Vec<Value> = t
        .txs
        .iter()
        .map(|e| {
            json!({
                "data": to_hex(&e.tx),
                "txid": e.txid.to_string(),
                "hash": e.tx.compute_wtxid().to_string(),
                "depends": [],
                "fee": e.fee.to_sat(),
                "sigops": sigop_cost(&e.tx),
                "weight": e.tx.weight().to_wu(),
            })
        })
        .collect();
    Ok(json!({
        "capabilities": ["proposal"],
        "version": 0x2000_0000,
        "rules": ["csv", "!segwit", "taproot"],
        "vbavailable": {},
        "vbrequired": 0,
        "previousblockhash": t.prev.to_string(),
        "transactions": txs,
        "coinbaseaux": {},
        "coinbasevalue": t.coinbase_value.to_sat(),
        "longpollid": format!("{}{}", t.prev, t.height - 1),
        "target": hex::encode(t.target.to_be_bytes()),
        "mintime": t.mintime,
        "mutable": ["time", "transactions", "prevblock"],
        "noncerange": "00000000ffffffff",
        "sigoplimit": 80000,
        "sizelimit": 4_000_000,
        "weightlimit": 4_000_000,
        "curtime": t.curtime,
        "bits": format!("{:08x}", t.bits.to_consensus()),
        "height": t.height,
        "default_witness_commitment": hex::encode(t.witness_commitment.as_bytes()),
    }))
}

fn submit_block(node: &Mutex<Node>, p: &Params) -> Result<Value, RpcError> {
    let block: Block = hex::decode(p.str(0)?)
        .ok()
        .and_then(|bytes| deserialize(&bytes).ok())
        .ok_or_else(|| RpcError::new(DESERIALIZATION_ERROR, "Block decode failed"))?;
    let hash = block.block_hash();
    match lock(node).accept(block, true) {
        Ok(()) => {
            tracing::info!("simnet: block {hash} accepted by submitblock");
            Ok(Value::Null)
        }
        Err(reject) => {
            tracing::info!("simnet: block {hash} rejected: {reject}");
            Ok(json!(reject.to_string()))
        }
    }
}

fn get_raw_transaction(node: &Mutex<Node>, p: &Params) -> Result<Value, RpcError> {
    let txid = p.txid(0)?;
    let verbose = p.verbosity(1, 0)? != 0;
    let n = lock(node);
    let (tx, block) = if let Some(e) = n.mempool.get(&txid) {
        (&e.tx, None)
    } else if let Some((height, tx)) = n.chain.transaction(&txid) {
        (tx, n.chain.at(height).map(|b| (height, b)))
    } else {
        return Err(RpcError::new(
            INVALID_ADDRESS_OR_KEY,
            "No such mempool or blockchain transaction. Use gettransaction for wallet transactions.",
        ));
    };
    if !verbose {
        return Ok(json!(to_hex(tx)));
    }
    let mut obj = tx_json(tx);
    obj["hex"] = json!(to_hex(tx));
    if let Some((height, b)) = block {
        obj["blockhash"] = json!(b.block_hash().to_string());
        obj["confirmations"] = json!(n.chain.tip_height() - height + 1);
        obj["time"] = json!(b.header.time);
        obj["blocktime"] = json!(b.header.time);
    }
    Ok(obj)
}

fn generate_to_address(node: &Mutex<Node>, p: &Params) -> Result<Value, RpcError> {
    let count = p.int(0)?;
    let payout = p
        .str(1)?
        .parse::<Address<NetworkUnchecked>>()
        .ok()
        .and_then(|a| a.require_network(Network::Regtest).ok())
        .ok_or_else(|| RpcError::new(INVALID_ADDRESS_OR_KEY, "Error: Invalid address"))?
        .script_pubkey();
    let mut hashes = Vec::new();
    for _ in 0..count.max(0) {
        // Grind outside the lock; if the tip moved meanwhile, start again on the new tip.
        let mut attempts = 0;
        loop {
            attempts += 1;
            let template = {
                let n = lock(node);
                Template::new(&n.chain, &n.mempool)
            };
            let block = mine(&template, &payout);
            let hash = block.block_hash();
            match lock(node).accept(block, false) {
                Ok(()) => {
                    hashes.push(json!(hash.to_string()));
                    break;
                }
                Err(reject) if attempts < 10 => {
                    tracing::debug!(
                        "simnet: generated block {hash} not accepted ({reject}); retrying"
                    );
                }
                Err(reject) => {
                    return Err(RpcError::new(
                        MISC_ERROR,
                        format!("generated block rejected: {reject}"),
                    ));
                }
            }
        }
    }
    Ok(json!(hashes))
}

/// The sigop cost bitcoind reports for a mempool transaction, for the kinds simnet holds:
/// legacy sigops (scriptSigs and scriptPubKeys) count four each, and a P2WPKH-style spend
/// (a two-item witness) one. simnet's own transactions are P2WPKH spends: cost 1 each.
fn sigop_cost(tx: &bitcoin::Transaction) -> usize {
    let legacy: usize = tx
        .input
        .iter()
        .map(|i| i.script_sig.count_sigops_legacy())
        .chain(
            tx.output
                .iter()
                .map(|o| o.script_pubkey.count_sigops_legacy()),
        )
        .sum();
    let witness = tx.input.iter().filter(|i| i.witness.len() == 2).count();
    legacy * 4 + witness
}

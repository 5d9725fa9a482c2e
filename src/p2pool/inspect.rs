//! What `stratumd sharechain tip|window|share` show of a node's stored chain, as JSON
//! values: read from the store read-only (so also while the node runs), rebuilt with the
//! same code the node runs, and a share's verdict checked again against its ancestry.

use std::collections::BTreeMap;
use std::path::Path;

use bitcoin::{Address, Network, ScriptBuf};
use serde_json::{json, Value};

use super::chain::{Chain, Verdict};
use super::share::ShareId;
use super::spec::ChainSpec;
use super::store::{Store, StoreError};
use super::target::target_of;

/// Why the store cannot be shown.
#[derive(Debug, thiserror::Error)]
pub enum InspectError {
    /// The store cannot be read.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The hash given is not one.
    #[error("`{0}` is not a share hash (64 hex digits)")]
    BadHash(String),
    /// No such share in the store.
    #[error("share {0} is not in the store")]
    Unknown(ShareId),
    /// The store holds no share yet.
    #[error("the share chain has no shares yet")]
    Empty,
}

fn open(path: &Path) -> Result<(Store, ChainSpec, Chain), InspectError> {
    let (store, spec) = Store::open_read_only(path)?;
    let chain = store.load(spec.clone())?;
    Ok((store, spec, chain))
}

/// An output script as an address of `network`, or its hex.
pub fn address_of(script: &ScriptBuf, network: Network) -> String {
    Address::from_script(script, network)
        .map(|a| a.to_string())
        .unwrap_or_else(|_| format!("script:{}", script.to_hex_string()))
}

/// The tip of the stored chain.
pub fn tip(path: &Path) -> Result<Value, InspectError> {
    let (_, spec, chain) = open(path)?;
    let work = chain.get(&chain.tip()).map(|e| e.chain_work.to_string());
    Ok(json!({
        "chain": chain.id().to_string(),
        "name": spec.name,
        "tip": chain.tip().to_string(),
        "height": chain.tip_height(),
        "chain_work": work,
        "shares": chain.len(),
        "window_shares": chain.window().len(),
        "window_payees": chain.window().tally().len(),
    }))
}

/// The payout table of the next block on the tip for `reward` (default: the tip share's
/// coinbase value): every script with its amount and its PPLNS weight.
pub fn window(path: &Path, reward: Option<u64>) -> Result<Value, InspectError> {
    let (_, spec, chain) = open(path)?;
    let work = chain.tip_work();
    let reward = reward
        .or_else(|| chain.get(&chain.tip()).map(|e| e.share.coinbase_value))
        .unwrap_or(0);
    // An empty window pays the next share's miner, whoever that is.
    let outputs = work.outputs(reward, &ScriptBuf::new());
    let mut rows: BTreeMap<ScriptBuf, (u64, u128)> = BTreeMap::new();
    for (script, amount) in &outputs {
        rows.entry(script.clone()).or_default().0 += amount;
    }
    for (script, weight) in work.tally.iter() {
        rows.entry(script.clone()).or_default().1 = weight;
    }
    let payouts: Vec<Value> = rows
        .iter()
        .map(|(script, (amount, weight))| {
            json!({
                "address": address_of(script, spec.network),
                "amount": amount,
                "weight": weight.to_string(),
            })
        })
        .collect();
    Ok(json!({
        "tip": chain.tip().to_string(),
        "height": chain.tip_height(),
        "shares": chain.len(),
        "reward": reward,
        "total_weight": work.tally.total().to_string(),
        "outputs": outputs.len(),
        "payouts": payouts,
    }))
}

/// Parses a share hash as displayed (big-endian hex).
pub fn parse_hash(hash: &str) -> Option<ShareId> {
    let mut bytes: [u8; 32] = hex::decode(hash).ok()?.try_into().ok()?;
    bytes.reverse();
    Some(ShareId(bytes))
}

/// One share decoded, and its verdict checked again: the chain rebuilt from the stored
/// shares below its height (its ancestry and any uncles it may credit), then offered it.
pub fn share(path: &Path, hash: &str) -> Result<Value, InspectError> {
    let id = parse_hash(hash).ok_or_else(|| InspectError::BadHash(hash.to_string()))?;
    let (store, spec) = Store::open_read_only(path)?;
    let entry = store.entry(&id)?.ok_or(InspectError::Unknown(id))?;
    let others = store
        .entries()?
        .into_iter()
        .filter(|e| e.height < entry.height)
        .collect();
    let mut chain = Chain::restore(spec.clone(), others);
    let verdict = match chain.offer(entry.share.clone(), u64::MAX / 4) {
        Verdict::Valid => "valid".to_string(),
        Verdict::Invalid(reason) => format!("invalid: {reason}"),
        Verdict::Missing(ids) => format!(
            "missing data: {} (its ancestry is pruned or was never stored)",
            ids.iter()
                .map(|i| i.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Verdict::BelowHorizon => {
            "not checked: its ancestry is below what this store pruned".to_string()
        }
        other => format!("{other:?}"),
    };
    let s = &entry.share;
    let difficulty = target_of(s.meta.share_bits)
        .map(|t| crate::pow::target::difficulty_of_target(&t.to_le_bytes()));
    Ok(json!({
        "hash": id.to_string(),
        "height": entry.height,
        "parent": s.meta.parent.to_string(),
        "uncles": s.meta.uncles.iter().map(|u| u.to_string()).collect::<Vec<_>>(),
        "miner": address_of(&s.meta.payout_script, spec.network),
        "share_bits": format!("{:08x}", s.meta.share_bits.0),
        "share_difficulty": difficulty,
        "time": s.header.time,
        "bitcoin_prevhash": s.header.prev_blockhash.to_string(),
        "bitcoin_height": s.bitcoin_height(),
        "coinbase_value": s.coinbase_value,
        "work": entry.work.to_string(),
        "wire_bytes": s.encode().len(),
        "verdict": verdict,
    }))
}

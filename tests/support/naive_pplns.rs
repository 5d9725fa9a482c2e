//! The PPLNS payout computed from a node's store by the definition, with no code of the
//! node's window or payout: for end-to-end tests to check the coinbases blocks pay.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::Path;

use bitcoin::{Address, Network, ScriptBuf};
use ruint::aliases::U256;
use stratumd::p2pool::chain::Entry;
use stratumd::p2pool::share::ShareId;
use stratumd::p2pool::spec::{ChainSpec, BPS};
use stratumd::p2pool::store::Store;

pub fn script_of(addr: &str) -> ScriptBuf {
    addr.parse::<Address<_>>()
        .unwrap()
        .require_network(Network::Regtest)
        .unwrap()
        .script_pubkey()
}

/// The stored chain, read offline.
pub fn stored(dir: &Path) -> (ChainSpec, BTreeMap<ShareId, Entry>, Option<ShareId>) {
    let (store, spec) = Store::open_read_only(dir).expect("store opens read-only");
    let entries = store
        .entries()
        .unwrap()
        .into_iter()
        .map(|e| (e.share.id(), e))
        .collect();
    (spec, entries, store.stored_tip().unwrap())
}

/// The work of a compact target: 2^256 / (target + 1), as bitcoind counts it.
pub fn work_of_bits(bits: u32) -> U256 {
    let t = bitcoin::pow::Target::from_compact(bitcoin::CompactTarget::from_consensus(bits));
    let target = U256::from_le_bytes(t.to_le_bytes());
    (U256::MAX - target) / (target + U256::from(1u8)) + U256::from(1u8)
}

/// The PPLNS weights at `top` by the definition, from the stored shares alone: walk back
/// from `top`; the work limit is the window ratio times the median block work of `top`
/// and its 10 ancestors' headers; stop at the cap or once the work reaches the limit; each
/// share credits its own work (and its uncles' penalties), each uncle its work less the
/// penalty.
pub fn naive_weights(
    spec: &ChainSpec,
    entries: &BTreeMap<ShareId, Entry>,
    top: ShareId,
) -> BTreeMap<ScriptBuf, U256> {
    let mut block_works = Vec::new();
    let mut at = top;
    while let Some(e) = entries.get(&at) {
        if block_works.len() == 11 {
            break;
        }
        block_works.push(work_of_bits(e.share.header.bits.to_consensus()));
        at = e.share.meta.parent;
    }
    let mut weights: BTreeMap<ScriptBuf, U256> = BTreeMap::new();
    if block_works.is_empty() {
        return weights;
    }
    block_works.sort();
    let limit = block_works[(block_works.len() - 1) / 2] * U256::from(spec.window_work_num)
        / U256::from(spec.window_work_den);
    let (mut work, mut count, mut at) = (U256::ZERO, 0u32, top);
    while let Some(e) = entries.get(&at) {
        if count >= spec.window_max_shares || (work >= limit && count >= spec.window_min_shares) {
            break;
        }
        let own = work_of_bits(e.share.meta.share_bits.0);
        work += own;
        count += 1;
        let mut includer = own;
        for u in &e.share.meta.uncles {
            let ue = &entries[u];
            let uw = work_of_bits(ue.share.meta.share_bits.0);
            let kept = uw * U256::from(BPS - spec.uncle_penalty_bps) / U256::from(BPS);
            *weights
                .entry(ue.share.meta.payout_script.clone())
                .or_default() += kept;
            includer += uw - kept;
        }
        *weights
            .entry(e.share.meta.payout_script.clone())
            .or_default() += includer;
        at = e.share.meta.parent;
    }
    weights
}

/// A reward split by weight the simple way, for a window with fewer payees than the
/// output cap and no fee: heaviest first (ties by script), each payee the floor of its
/// cumulative weight's share less what the ones before got, so the total is exact.
pub fn naive_split(weights: &BTreeMap<ScriptBuf, U256>, reward: u64) -> BTreeMap<ScriptBuf, u64> {
    let total: U256 = weights.values().fold(U256::ZERO, |a, w| a + *w);
    let mut order: Vec<(&ScriptBuf, &U256)> = weights.iter().collect();
    order.sort_by(|a, b| b.1.cmp(a.1).then_with(|| a.0.cmp(b.0)));
    let (mut cumulative, mut paid) = (U256::ZERO, 0u64);
    let mut out = BTreeMap::new();
    for (script, w) in order {
        cumulative += *w;
        let upto = (U256::from(reward) * cumulative / total).to::<u64>();
        out.insert(script.clone(), upto - paid);
        paid = upto;
    }
    out
}

pub fn is_data(script: &ScriptBuf) -> bool {
    script.is_op_return()
}

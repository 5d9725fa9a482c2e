//! The `submitblock` checks, as a pure function over the chain and mempool, with bitcoind's reject strings.

use std::collections::HashSet;

use bitcoin::block::Block;
use bitcoin::script::Builder;
use bitcoin::{Amount, OutPoint, Txid};

use crate::chain::{subsidy, Chain};
use crate::mempool::Mempool;

/// Largest block weight allowed (BIP141).
const MAX_BLOCK_WEIGHT: u64 = 4_000_000;
/// How far into the future a block time may be (bitcoind's MAX_FUTURE_BLOCK_TIME).
const MAX_FUTURE_BLOCK_TIME: u32 = 2 * 60 * 60;

/// Why a submitted block is not (or not yet) accepted; `Display` is bitcoind's `submitblock` result string.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BlockReject {
    /// The block is already in the chain.
    #[error("duplicate")]
    Duplicate,
    /// The block builds on a known block that is not the tip (a side chain): not extended.
    #[error("inconclusive")]
    Inconclusive,
    /// The previous block is unknown.
    #[error("prev-blk-not-found")]
    PrevBlkNotFound,
    /// `bits` differs from the chain's fixed difficulty.
    #[error("bad-diffbits")]
    BadDiffbits,
    /// The header hash does not meet the target in `bits`.
    #[error("high-hash")]
    HighHash,
    /// The time is not after the median time past of the last 11 blocks.
    #[error("time-too-old")]
    TimeTooOld,
    /// The time is more than two hours in the future.
    #[error("time-too-new")]
    TimeTooNew,
    /// The block version is below 4 (BIP65 era).
    #[error("bad-version(0x{0:08x})")]
    BadVersion(i32),
    /// The header's merkle root does not match the transactions.
    #[error("bad-txnmrklroot")]
    BadTxnMrklRoot,
    /// There is no coinbase, or the first transaction is not one.
    #[error("bad-cb-missing")]
    BadCbMissing,
    /// A transaction other than the first is a coinbase.
    #[error("bad-cb-multiple")]
    BadCbMultiple,
    /// The coinbase scriptSig does not start with the BIP34 height push.
    #[error("bad-cb-height")]
    BadCbHeight,
    /// A transaction is not in the mempool (or appears twice).
    #[error("bad-txns-inputs-missingorspent")]
    BadTxnsInputsMissingOrSpent,
    /// The witness commitment is missing or wrong.
    #[error("bad-witness-merkle-match")]
    BadWitnessMerkleMatch,
    /// The block weighs more than 4,000,000 WU.
    #[error("bad-blk-weight")]
    BadBlkWeight,
    /// The coinbase pays more than subsidy plus fees.
    #[error("bad-cb-amount")]
    BadCbAmount,
}

/// Checks `block` as the next block of `chain`, in bitcoind's order; returns the fees of its transactions.
pub(crate) fn check_block(
    block: &Block,
    chain: &Chain,
    mempool: &Mempool,
    now: u32,
) -> Result<Amount, BlockReject> {
    let header = &block.header;
    if chain.height_of(&block.block_hash()).is_some() {
        return Err(BlockReject::Duplicate);
    }
    if header.prev_blockhash != chain.tip_hash() {
        return Err(match chain.height_of(&header.prev_blockhash) {
            Some(_) => BlockReject::Inconclusive,
            None => BlockReject::PrevBlkNotFound,
        });
    }
    let height = chain.tip_height() + 1;
    if header.bits != chain.bits {
        return Err(BlockReject::BadDiffbits);
    }
    if header.validate_pow(header.target()).is_err() {
        return Err(BlockReject::HighHash);
    }
    if header.time <= chain.median_time_past(chain.tip_height()) {
        return Err(BlockReject::TimeTooOld);
    }
    if header.time > now.saturating_add(MAX_FUTURE_BLOCK_TIME) {
        return Err(BlockReject::TimeTooNew);
    }
    if header.version.to_consensus() < 4 {
        return Err(BlockReject::BadVersion(header.version.to_consensus()));
    }
    if !block.check_merkle_root() {
        return Err(BlockReject::BadTxnMrklRoot);
    }
    let coinbase = match block.txdata.first() {
        Some(cb) if cb.is_coinbase() => cb,
        _ => return Err(BlockReject::BadCbMissing),
    };
    if block.txdata.iter().skip(1).any(|tx| tx.is_coinbase()) {
        return Err(BlockReject::BadCbMultiple);
    }
    let expected = Builder::new().push_int(i64::from(height)).into_script();
    let script_sig = coinbase
        .input
        .first()
        .map(|i| i.script_sig.as_bytes())
        .unwrap_or_default();
    if !script_sig.starts_with(expected.as_bytes()) {
        return Err(BlockReject::BadCbHeight);
    }
    let mut seen: HashSet<Txid> = HashSet::new();
    let mut spent: HashSet<OutPoint> = HashSet::new();
    let mut fees = Amount::ZERO;
    for tx in block.txdata.iter().skip(1) {
        let txid = tx.compute_txid();
        let entry = mempool
            .get(&txid)
            .filter(|_| seen.insert(txid))
            .filter(|_| tx.input.iter().all(|i| spent.insert(i.previous_output)))
            .ok_or(BlockReject::BadTxnsInputsMissingOrSpent)?;
        fees += entry.fee;
    }
    if !block.check_witness_commitment() {
        return Err(BlockReject::BadWitnessMerkleMatch);
    }
    if block.weight().to_wu() > MAX_BLOCK_WEIGHT {
        return Err(BlockReject::BadBlkWeight);
    }
    let paid = coinbase
        .output
        .iter()
        .try_fold(Amount::ZERO, |acc, o| acc.checked_add(o.value));
    match paid {
        Some(paid) if paid <= subsidy(height) + fees => Ok(fees),
        _ => Err(BlockReject::BadCbAmount),
    }
}

//! The `submitblock` checks, as a pure function over the chain and mempool, with bitcoind's reject strings.

use std::collections::HashSet;

use bitcoin::block::Block;
use bitcoin::script::Builder;
use bitcoin::{Amount, OutPoint, Txid};

use crate::chain::{subsidy, Chain};
use crate::mempool::Mempool;

/// Largest block weight allowed (BIP141).
const MAX_BLOCK_WEIGHT: u64 = 4_000_000;
/// bitcoind's MAX_BLOCK_SIGOPS_COST.
const MAX_BLOCK_SIGOPS_COST: usize = 80_000;
/// bitcoind's WITNESS_SCALE_FACTOR: a legacy sigop costs four.
const WITNESS_SCALE_FACTOR: usize = 4;
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
    /// The block without witness data is over 1,000,000 bytes (weight of the stripped block > 4,000,000).
    #[error("bad-blk-length")]
    BadBlkLength,
    /// There is no coinbase, or the first transaction is not one.
    #[error("bad-cb-missing")]
    BadCbMissing,
    /// A transaction other than the first is a coinbase.
    #[error("bad-cb-multiple")]
    BadCbMultiple,
    /// The coinbase scriptSig is shorter than 2 or longer than 100 bytes.
    #[error("bad-cb-length")]
    BadCbLength,
    /// The block's legacy sigops (scriptSigs and scriptPubKeys, four each) cost more than
    /// 80,000.
    #[error("bad-blk-sigops")]
    BadBlkSigops,
    /// The coinbase scriptSig does not start with the BIP34 height push.
    #[error("bad-cb-height")]
    BadCbHeight,
    /// A transaction is not in the mempool (or appears twice).
    #[error("bad-txns-inputs-missingorspent")]
    BadTxnsInputsMissingOrSpent,
    /// The witness commitment is missing or wrong.
    #[error("bad-witness-merkle-match")]
    BadWitnessMerkleMatch,
    /// The coinbase witness is not exactly one 32-byte witness reserved value.
    #[error("bad-witness-nonce-size")]
    BadWitnessNonceSize,
    /// Witness data in a block without a witness commitment.
    #[error("unexpected-witness")]
    UnexpectedWitness,
    /// The block weighs more than 4,000,000 WU.
    #[error("bad-blk-weight")]
    BadBlkWeight,
    /// The coinbase pays more than subsidy plus fees.
    #[error("bad-cb-amount")]
    BadCbAmount,
}

/// bitcoind's witness checks: commitment (if present) with a 32-byte reserved value, else no witness at all.
fn check_witness(block: &Block, coinbase: &bitcoin::Transaction) -> Result<(), BlockReject> {
    const MAGIC: [u8; 6] = [0x6a, 0x24, 0xaa, 0x21, 0xa9, 0xed];
    let has_commitment = coinbase
        .output
        .iter()
        .any(|o| o.script_pubkey.len() >= 38 && o.script_pubkey.as_bytes().starts_with(&MAGIC));
    if has_commitment {
        let witness = coinbase.input.first().map(|i| &i.witness);
        let nonce_ok =
            witness.is_some_and(|w| w.len() == 1 && w.nth(0).is_some_and(|v| v.len() == 32));
        if !nonce_ok {
            return Err(BlockReject::BadWitnessNonceSize);
        }
        if !block.check_witness_commitment() {
            return Err(BlockReject::BadWitnessMerkleMatch);
        }
    } else if block
        .txdata
        .iter()
        .any(|tx| tx.input.iter().any(|i| !i.witness.is_empty()))
    {
        return Err(BlockReject::UnexpectedWitness);
    }
    Ok(())
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
    let stripped_size = (block.weight().to_wu() - block.total_size() as u64) / 3;
    if block.txdata.is_empty() || stripped_size * 4 > MAX_BLOCK_WEIGHT {
        return Err(BlockReject::BadBlkLength);
    }
    let coinbase = match block.txdata.first() {
        Some(cb) if cb.is_coinbase() => cb,
        _ => return Err(BlockReject::BadCbMissing),
    };
    if block.txdata.iter().skip(1).any(|tx| tx.is_coinbase()) {
        return Err(BlockReject::BadCbMultiple);
    }
    let cb_len = coinbase.input.first().map_or(0, |i| i.script_sig.len());
    if !(2..=100).contains(&cb_len) {
        return Err(BlockReject::BadCbLength);
    }
    // CheckBlock's count: legacy sigops only, which need no previous outputs.
    let legacy_sigops: usize = block
        .txdata
        .iter()
        .map(|tx| {
            let ins: usize = tx
                .input
                .iter()
                .map(|i| i.script_sig.count_sigops_legacy())
                .sum();
            let outs: usize = tx
                .output
                .iter()
                .map(|o| o.script_pubkey.count_sigops_legacy())
                .sum();
            ins + outs
        })
        .sum();
    if legacy_sigops * WITNESS_SCALE_FACTOR > MAX_BLOCK_SIGOPS_COST {
        return Err(BlockReject::BadBlkSigops);
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
    check_witness(block, coinbase)?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chain::bits_from_difficulty;
    use crate::generate::{grind_nonce, mine};
    use crate::template::{now, Template};
    use bitcoin::{ScriptBuf, Witness};

    fn setup(txs: usize) -> (Chain, Mempool) {
        let chain = Chain::new(bits_from_difficulty(1e-6).unwrap());
        (chain, Mempool::new(txs))
    }

    fn regrind(block: &mut Block) {
        block.header.merkle_root = block.compute_merkle_root().unwrap();
        block.header.nonce = grind_nonce(&block.header, block.header.target()).unwrap();
    }

    fn payout() -> ScriptBuf {
        ScriptBuf::new_op_return([1u8; 4])
    }

    #[test]
    fn mined_block_is_valid() {
        let (chain, pool) = setup(3);
        let block = mine(&Template::new(&chain, &pool), &payout());
        let fees: Amount = pool.entries().iter().map(|e| e.fee).sum();
        assert_eq!(check_block(&block, &chain, &pool, now()), Ok(fees));
    }

    #[test]
    fn witness_rejects_match_bitcoind() {
        let (chain, pool) = setup(2);
        let good = mine(&Template::new(&chain, &pool), &payout());

        let mut b = good.clone();
        b.txdata[0].output.pop(); // the commitment
        regrind(&mut b);
        assert_eq!(
            check_block(&b, &chain, &pool, now()),
            Err(BlockReject::UnexpectedWitness)
        );

        let mut b = good.clone();
        b.txdata[0].input[0].witness = Witness::from_slice(&[[0u8; 31]]);
        regrind(&mut b);
        assert_eq!(
            check_block(&b, &chain, &pool, now()),
            Err(BlockReject::BadWitnessNonceSize)
        );
    }

    #[test]
    fn coinbase_script_length_and_legacy_sigops_are_checked() {
        let (chain, pool) = setup(1);
        let good = mine(&Template::new(&chain, &pool), &payout());

        // bitcoind allows a coinbase scriptSig of 2 to 100 bytes.
        let mut b = good.clone();
        let mut sig = b.txdata[0].input[0].script_sig.to_bytes();
        sig.resize(101, 0x51);
        b.txdata[0].input[0].script_sig = ScriptBuf::from_bytes(sig);
        regrind(&mut b);
        assert_eq!(
            check_block(&b, &chain, &pool, now()),
            Err(BlockReject::BadCbLength)
        );

        // 20,000 legacy sigops cost exactly 80,000: allowed; one more is not.
        for (sigops, verdict) in [(20_000, true), (20_001, false)] {
            let mut b = good.clone();
            // Each OP_CHECKSIG (0xac) counts one; the payout output already has none.
            let script = ScriptBuf::from_bytes(vec![0xac; sigops]);
            b.txdata[0].output.insert(
                0,
                bitcoin::TxOut {
                    value: Amount::ZERO,
                    script_pubkey: script,
                },
            );
            regrind(&mut b);
            let result = check_block(&b, &chain, &pool, now());
            if verdict {
                assert!(result.is_ok(), "{sigops}: {result:?}");
            } else {
                assert_eq!(result, Err(BlockReject::BadBlkSigops), "{sigops}");
            }
        }
    }

    #[test]
    fn heavy_witness_block_is_bad_blk_weight() {
        let (chain, mut pool) = setup(0);
        // Eleven transactions of ~390k WU each, almost all witness.
        let base = Mempool::new(1).entries()[0].tx.clone();
        for i in 0..11u32 {
            let mut tx = base.clone();
            tx.input[0].previous_output.vout = i;
            tx.input[0].witness = Witness::from_slice(&[vec![0u8; 380_000]]);
            pool.insert(tx).unwrap();
        }
        let block = mine(&Template::new(&chain, &pool), &payout());
        assert!(block.weight().to_wu() > MAX_BLOCK_WEIGHT);
        assert_eq!(
            check_block(&block, &chain, &pool, now()),
            Err(BlockReject::BadBlkWeight)
        );
    }

    #[test]
    fn reject_strings_are_bitcoinds() {
        assert_eq!(
            BlockReject::BadVersion(3).to_string(),
            "bad-version(0x00000003)"
        );
        assert_eq!(BlockReject::HighHash.to_string(), "high-hash");
        assert_eq!(
            BlockReject::BadTxnsInputsMissingOrSpent.to_string(),
            "bad-txns-inputs-missingorspent"
        );
    }
}

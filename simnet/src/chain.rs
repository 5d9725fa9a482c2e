//! The in-memory best chain: blocks by height, lookups by hash and txid, and regtest's consensus numbers.

use std::collections::HashMap;

use bitcoin::block::Block;
use bitcoin::pow::{CompactTarget, Target, Work};
use bitcoin::{Amount, BlockHash, Network, Transaction, Txid};

/// Regtest's subsidy halving interval.
const HALVING_INTERVAL: u32 = 150;
/// Regtest's proof-of-work limit in compact form (target 0x7fffff << 232).
const POW_LIMIT_BITS: u32 = 0x207f_ffff;

/// Block subsidy at `height` on regtest: 50 BTC halving every 150 blocks.
pub fn subsidy(height: u32) -> Amount {
    let halvings = height / HALVING_INTERVAL;
    if halvings >= 64 {
        return Amount::ZERO;
    }
    Amount::from_sat((50 * 100_000_000u64) >> halvings)
}

/// Compact `bits` for a (possibly fractional) difficulty: target = diff1 / difficulty, capped at regtest's pow limit.
///
/// Returns `None` when the difficulty is not a positive finite number.
pub fn bits_from_difficulty(difficulty: f64) -> Option<CompactTarget> {
    if !(difficulty.is_finite() && difficulty > 0.0) {
        return None;
    }
    // diff1 target = 0xffff * 2^208.
    let target = 65535.0 * 2f64.powi(208) / difficulty;
    let limit = f64::from(0x7f_ffffu32) * 2f64.powi(232);
    if !target.is_finite() || target >= limit {
        return Some(CompactTarget::from_consensus(POW_LIMIT_BITS));
    }
    if target < 1.0 {
        // Smallest non-zero target.
        return Some(CompactTarget::from_consensus(0x0300_0001));
    }
    // target = m * 2^e with m a 53-bit integer.
    let raw = target.to_bits();
    let e = ((raw >> 52) & 0x7ff) as i32 - 1075;
    let m = (raw & ((1u64 << 52) - 1)) | (1u64 << 52);
    let bit_len = 53 + e;
    let mut size = (bit_len + 7) / 8;
    let shift_of = |size: i32| e - 8 * (size - 3);
    let mantissa_of = |shift: i32| -> u64 {
        if shift >= 0 {
            m << shift
        } else if shift > -64 {
            m >> (-shift)
        } else {
            0
        }
    };
    let mut mantissa = mantissa_of(shift_of(size));
    if mantissa & 0x80_0000 != 0 {
        size += 1;
        mantissa = mantissa_of(shift_of(size));
    }
    let bits = ((size as u32) << 24) | (mantissa as u32 & 0x7f_ffff);
    Some(CompactTarget::from_consensus(bits))
}

/// bitcoind's `GetDifficulty`: difficulty of compact `bits` relative to 0x1d00ffff, as a float.
pub fn difficulty_from_bits(bits: CompactTarget) -> f64 {
    let bits = bits.to_consensus();
    let mut shift = (bits >> 24) & 0xff;
    let mantissa = bits & 0x00ff_ffff;
    if mantissa == 0 {
        return 0.0;
    }
    let mut diff = f64::from(0x0000_ffffu32) / f64::from(mantissa);
    while shift < 29 {
        diff *= 256.0;
        shift += 1;
    }
    while shift > 29 {
        diff /= 256.0;
        shift -= 1;
    }
    diff
}

/// The best chain, genesis first.
pub(crate) struct Chain {
    blocks: Vec<Block>,
    work: Vec<Work>,
    by_hash: HashMap<BlockHash, u32>,
    by_txid: HashMap<Txid, (u32, usize)>,
    /// Bits every block after genesis must carry.
    pub(crate) bits: CompactTarget,
}

impl Chain {
    /// A chain holding regtest's genesis block; later blocks must carry `bits`.
    pub(crate) fn new(bits: CompactTarget) -> Self {
        let genesis = bitcoin::constants::genesis_block(Network::Regtest);
        let mut chain = Chain {
            blocks: Vec::new(),
            work: Vec::new(),
            by_hash: HashMap::new(),
            by_txid: HashMap::new(),
            bits,
        };
        chain.push(genesis);
        chain
    }

    /// Appends an already validated block on top of the tip.
    pub(crate) fn push(&mut self, block: Block) {
        let height = self.blocks.len() as u32;
        let work = Target::from_compact(block.header.bits).to_work();
        let total = match self.work.last() {
            Some(prev) => *prev + work,
            None => work,
        };
        self.by_hash.insert(block.block_hash(), height);
        for (i, tx) in block.txdata.iter().enumerate() {
            self.by_txid.insert(tx.compute_txid(), (height, i));
        }
        self.work.push(total);
        self.blocks.push(block);
    }

    /// Height of the tip.
    pub(crate) fn tip_height(&self) -> u32 {
        (self.blocks.len() as u32).saturating_sub(1)
    }

    /// The tip block.
    pub(crate) fn tip(&self) -> &Block {
        // The chain always holds genesis.
        &self.blocks[self.blocks.len() - 1]
    }

    /// Hash of the tip.
    pub(crate) fn tip_hash(&self) -> BlockHash {
        self.tip().block_hash()
    }

    /// Block at `height`, if in the chain.
    pub(crate) fn at(&self, height: u32) -> Option<&Block> {
        self.blocks.get(height as usize)
    }

    /// Height of the block with this hash, if in the chain.
    pub(crate) fn height_of(&self, hash: &BlockHash) -> Option<u32> {
        self.by_hash.get(hash).copied()
    }

    /// Cumulative chain work up to `height`, as 64 hex digits.
    pub(crate) fn chainwork_hex(&self, height: u32) -> String {
        self.work
            .get(height as usize)
            .map(|w| hex::encode(w.to_be_bytes()))
            .unwrap_or_else(|| "0".repeat(64))
    }

    /// A transaction in the chain: (height, index in block, tx).
    pub(crate) fn transaction(&self, txid: &Txid) -> Option<(u32, &Transaction)> {
        let (h, i) = self.by_txid.get(txid).copied()?;
        Some((h, self.blocks.get(h as usize)?.txdata.get(i)?))
    }

    /// Median time past of the 11 blocks ending at `height`.
    pub(crate) fn median_time_past(&self, height: u32) -> u32 {
        let end = (height as usize + 1).min(self.blocks.len());
        let start = end.saturating_sub(11);
        let mut times: Vec<u32> = self.blocks[start..end]
            .iter()
            .map(|b| b.header.time)
            .collect();
        times.sort_unstable();
        times.get(times.len() / 2).copied().unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn difficulty_one_is_1d00ffff() {
        assert_eq!(
            bits_from_difficulty(1.0).unwrap().to_consensus(),
            0x1d00_ffff
        );
        assert_eq!(
            bits_from_difficulty(2.0).unwrap().to_consensus(),
            0x1c7f_ff80
        );
    }

    #[test]
    fn tiny_difficulty_caps_at_pow_limit() {
        assert_eq!(
            bits_from_difficulty(1e-12).unwrap().to_consensus(),
            POW_LIMIT_BITS
        );
        assert!(bits_from_difficulty(0.0).is_none());
        assert!(bits_from_difficulty(f64::NAN).is_none());
        assert!(bits_from_difficulty(-1.0).is_none());
    }

    #[test]
    fn fractional_difficulty_round_trips() {
        for d in [0.001, 0.0005, 1e-6, 3.5, 12345.0] {
            let bits = bits_from_difficulty(d).unwrap();
            let back = difficulty_from_bits(bits);
            assert!((back - d).abs() / d < 1e-4, "{d} -> {bits:?} -> {back}");
        }
    }

    #[test]
    fn genesis_difficulty_matches_bitcoind() {
        let d = difficulty_from_bits(CompactTarget::from_consensus(POW_LIMIT_BITS));
        assert!((d - 4.656542373906925e-10).abs() < 1e-20);
    }

    #[test]
    fn subsidy_halves_every_150() {
        assert_eq!(subsidy(0), Amount::from_btc(50.0).unwrap());
        assert_eq!(subsidy(149), Amount::from_btc(50.0).unwrap());
        assert_eq!(subsidy(150), Amount::from_btc(25.0).unwrap());
        assert_eq!(subsidy(150 * 64), Amount::ZERO);
    }
}

//! The block template for the next height: what `getblocktemplate` reports and `generatetoaddress` mines.

use bitcoin::block::Block;
use bitcoin::hashes::Hash;
use bitcoin::merkle_tree;
use bitcoin::pow::{CompactTarget, Target};
use bitcoin::{Amount, BlockHash, ScriptBuf, WitnessMerkleNode, Wtxid};

use crate::chain::{subsidy, Chain};
use crate::mempool::{Mempool, MempoolTx};

/// The 32 zero bytes used as the witness reserved value.
pub(crate) const WITNESS_RESERVED_VALUE: [u8; 32] = [0u8; 32];

/// Everything needed to build a block on the current tip.
pub(crate) struct Template {
    pub(crate) height: u32,
    pub(crate) prev: BlockHash,
    pub(crate) bits: CompactTarget,
    pub(crate) target: Target,
    pub(crate) mintime: u32,
    pub(crate) curtime: u32,
    pub(crate) txs: Vec<MempoolTx>,
    pub(crate) coinbase_value: Amount,
    /// The witness commitment output script (OP_RETURN aa21a9ed…).
    pub(crate) witness_commitment: ScriptBuf,
}

/// Seconds since the epoch, clamped into u32.
pub(crate) fn now() -> u32 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs().min(u64::from(u32::MAX)) as u32)
        .unwrap_or(0)
}

impl Template {
    /// A template on the tip of `chain` with every mempool transaction.
    pub(crate) fn new(chain: &Chain, mempool: &Mempool) -> Self {
        let tip_height = chain.tip_height();
        let mintime = chain.median_time_past(tip_height).saturating_add(1);
        let txs: Vec<MempoolTx> = mempool.entries().to_vec();
        let fees: Amount = txs.iter().map(|t| t.fee).sum();
        let height = tip_height + 1;
        Template {
            height,
            prev: chain.tip_hash(),
            bits: chain.bits,
            target: Target::from_compact(chain.bits),
            mintime,
            curtime: now().max(mintime),
            coinbase_value: subsidy(height) + fees,
            witness_commitment: witness_commitment_script(txs.iter().map(|t| t.tx.compute_wtxid())),
            txs,
        }
    }
}

/// The BIP141 commitment output script for a block whose non-coinbase wtxids are `wtxids`.
pub(crate) fn witness_commitment_script(wtxids: impl Iterator<Item = Wtxid>) -> ScriptBuf {
    let hashes = std::iter::once(Wtxid::all_zeros())
        .chain(wtxids)
        .map(|w| w.to_raw_hash());
    let root: WitnessMerkleNode = merkle_tree::calculate_root(hashes)
        .map(WitnessMerkleNode::from_raw_hash)
        .unwrap_or_else(WitnessMerkleNode::all_zeros);
    let commitment = Block::compute_witness_commitment(&root, &WITNESS_RESERVED_VALUE);
    let mut bytes = vec![0x6a, 0x24, 0xaa, 0x21, 0xa9, 0xed];
    bytes.extend_from_slice(commitment.as_byte_array());
    ScriptBuf::from_bytes(bytes)
}

//! `generatetoaddress`: builds a block from the template and grinds its proof of work.

use bitcoin::block::{Block, Header, Version};
use bitcoin::consensus::serialize;
use bitcoin::hashes::{sha256, Hash, HashEngine};
use bitcoin::pow::Target;
use bitcoin::script::{Builder, PushBytesBuf};
use bitcoin::BlockHash;
use bitcoin::{
    absolute, transaction, Amount, OutPoint, ScriptBuf, Sequence, Transaction, TxIn, TxMerkleNode,
    TxOut, Witness,
};

use crate::template::{Template, WITNESS_RESERVED_VALUE};

/// A coinbase for `template` paying its whole value to `payout`, with the BIP34 height and an extranonce.
pub(crate) fn coinbase(template: &Template, payout: &ScriptBuf, extranonce: u64) -> Transaction {
    let mut extra = PushBytesBuf::new();
    // Eight bytes always fit in a push.
    let _ = extra.extend_from_slice(&extranonce.to_le_bytes());
    let script_sig = Builder::new()
        .push_int(i64::from(template.height))
        .push_slice(extra)
        .into_script();
    let mut output = vec![TxOut {
        value: template.coinbase_value,
        script_pubkey: payout.clone(),
    }];
    if !template.txs.is_empty() {
        output.push(TxOut {
            value: Amount::ZERO,
            script_pubkey: template.witness_commitment.clone(),
        });
    }
    let mut witness = Witness::new();
    if !template.txs.is_empty() {
        witness.push(WITNESS_RESERVED_VALUE);
    }
    Transaction {
        version: transaction::Version::TWO,
        lock_time: absolute::LockTime::ZERO,
        input: vec![TxIn {
            previous_output: OutPoint::null(),
            script_sig,
            sequence: Sequence::MAX,
            witness,
        }],
        output,
    }
}

/// Builds a block for `template` paying `payout` and grinds nonce, then time, then extranonce until the target is met.
pub(crate) fn mine(template: &Template, payout: &ScriptBuf) -> Block {
    let mut extranonce: u64 = 0;
    loop {
        let mut txdata = vec![coinbase(template, payout, extranonce)];
        txdata.extend(template.txs.iter().map(|t| t.tx.clone()));
        let mut block = Block {
            header: Header {
                version: Version::from_consensus(0x2000_0000),
                prev_blockhash: template.prev,
                merkle_root: TxMerkleNode::all_zeros(),
                time: template.curtime,
                bits: template.bits,
                nonce: 0,
            },
            txdata,
        };
        if let Some(root) = block.compute_merkle_root() {
            block.header.merkle_root = root;
        }
        // Try every nonce at curtime and a few later seconds, then change the coinbase.
        for dt in 0..4u32 {
            block.header.time = template.curtime.saturating_add(dt);
            if let Some(nonce) = grind_nonce(&block.header, template.target) {
                block.header.nonce = nonce;
                return block;
            }
        }
        extranonce += 1;
    }
}

/// Finds a nonce for which `header` meets `target`, hashing from the SHA-256 midstate of the first 64 bytes.
pub(crate) fn grind_nonce(header: &Header, target: Target) -> Option<u32> {
    let bytes = serialize(header);
    let mut base = sha256::Hash::engine();
    base.input(&bytes[..64]);
    let mut tail = [0u8; 16];
    tail[..12].copy_from_slice(&bytes[64..76]);
    (0..=u32::MAX).find(|nonce| {
        tail[12..].copy_from_slice(&nonce.to_le_bytes());
        let mut engine = base.clone();
        engine.input(&tail);
        let first = sha256::Hash::from_engine(engine);
        let hash = sha256::Hash::hash(first.as_byte_array());
        target.is_met_by(BlockHash::from_byte_array(hash.to_byte_array()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chain::{bits_from_difficulty, Chain};
    use crate::mempool::Mempool;

    #[test]
    fn midstate_grinding_matches_block_hash() {
        let bits = bits_from_difficulty(1e-5).unwrap();
        let chain = Chain::new(bits);
        let pool = Mempool::new(3);
        let template = Template::new(&chain, &pool);
        let block = mine(&template, &ScriptBuf::new_op_return([1u8; 4]));
        assert!(Target::from_compact(bits).is_met_by(block.block_hash()));
        assert!(block.check_merkle_root());
        assert!(block.check_witness_commitment());
        let mut other = block.header;
        other.nonce = 0;
        let n = grind_nonce(&other, Target::MAX_ATTAINABLE_REGTEST).unwrap();
        other.nonce = n;
        assert!(Target::MAX_ATTAINABLE_REGTEST.is_met_by(other.block_hash()));
    }
}

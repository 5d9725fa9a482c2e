//! Fitting a template to the block limits once our coinbase is in it. bitcoind leaves only
//! a few thousand weight units and 400 sigop cost for the coinbase; a long payout list
//! (hundreds of outputs) needs more. Rather than build a block bitcoind would reject
//! (`bad-blk-weight`, `bad-blk-sigops`), drop transactions from the end of the template
//! (bitcoind orders parents before children, so what remains is still valid), take their
//! fees off the coinbase value, and recompute the witness commitment.

use std::sync::Arc;

use bitcoin::blockdata::opcodes::all::OP_RETURN;
use bitcoin::hashes::Hash;
use bitcoin::script::{Builder, PushBytesBuf};
use bitcoin::{merkle_tree, Block, ScriptBuf, WitnessMerkleNode, Wtxid};

use crate::node::template::Template;

/// Consensus limit on block weight.
pub const MAX_BLOCK_WEIGHT: u64 = 4_000_000;
/// Consensus limit on signature-operation cost.
pub const MAX_BLOCK_SIGOPS_COST: u64 = 80_000;
/// Weight of the header and a 3-byte transaction count.
const HEADER_WEIGHT: u64 = 4 * (80 + 3);
/// Witness weight of the coinbase's reserved value (marker, flag, stack of one 32-byte item).
const COINBASE_WITNESS_WEIGHT: u64 = 2 + 1 + 1 + 32;

/// What the coinbase will cost in the block.
#[derive(Debug, Clone, Copy)]
pub struct CoinbaseCost {
    /// Non-witness serialized size in bytes.
    pub size: u64,
    /// Legacy sigop cost of its outputs (4 per P2PKH/bare multisig sigop).
    pub sigops_cost: u64,
}

/// Legacy sigop cost of an output script, as bitcoind counts it for the coinbase.
pub fn output_sigops_cost(script: &ScriptBuf) -> u64 {
    4 * script.count_sigops_legacy() as u64
}

/// The template unchanged if the block fits, else a copy with trailing transactions
/// removed, the coinbase value lowered by their fees and the witness commitment redone.
pub fn fit_template(template: &Arc<Template>, coinbase: CoinbaseCost) -> Arc<Template> {
    let witness = if template.witness_commitment.is_some() {
        COINBASE_WITNESS_WEIGHT
    } else {
        0
    };
    let fixed_weight = HEADER_WEIGHT + 4 * coinbase.size + witness;
    let mut weight = fixed_weight;
    let mut sigops = coinbase.sigops_cost;
    let mut keep = 0;
    for tx in &template.transactions {
        if weight + tx.weight > MAX_BLOCK_WEIGHT || sigops + tx.sigops > MAX_BLOCK_SIGOPS_COST {
            break;
        }
        weight += tx.weight;
        sigops += tx.sigops;
        keep += 1;
    }
    if keep == template.transactions.len() {
        return template.clone();
    }
    let dropped: u64 = template.transactions[keep..].iter().map(|t| t.fee).sum();
    let mut fitted = (**template).clone();
    fitted.transactions.truncate(keep);
    fitted.coinbase_value = fitted.coinbase_value.saturating_sub(dropped);
    if fitted.witness_commitment.is_some() {
        fitted.witness_commitment = Some(witness_commitment(&fitted));
    }
    tracing::warn!(
        height = template.height,
        dropped = template.transactions.len() - keep,
        fees_dropped = dropped,
        "the coinbase does not fit beside the whole template; left out its last transactions"
    );
    Arc::new(fitted)
}

/// The witness commitment output for the template's transactions (BIP141), with the
/// all-zero witness reserved value the block assembly uses.
pub fn witness_commitment(t: &Template) -> ScriptBuf {
    let leaves =
        std::iter::once(Wtxid::all_zeros()).chain(t.transactions.iter().map(|tx| tx.wtxid));
    let root = merkle_tree::calculate_root(leaves).unwrap_or_else(Wtxid::all_zeros);
    let node = WitnessMerkleNode::from_byte_array(root.to_byte_array());
    let commitment = Block::compute_witness_commitment(&node, &[0u8; 32]);
    let mut data = PushBytesBuf::new();
    // 36 bytes always fit a push.
    let _ = data.extend_from_slice(&[0xaa, 0x21, 0xa9, 0xed]);
    let _ = data.extend_from_slice(commitment.as_byte_array());
    Builder::new()
        .push_opcode(OP_RETURN)
        .push_slice(data)
        .into_script()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn template() -> Arc<Template> {
        let path = format!(
            "{}/tests/fixtures/ckpool/gbt-notify/three-txns/gbt.json",
            env!("CARGO_MANIFEST_DIR")
        );
        let json: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        Arc::new(Template::from_json(json).unwrap())
    }

    #[test]
    fn our_commitment_equals_bitcoinds() {
        let t = template();
        assert_eq!(Some(witness_commitment(&t)), t.witness_commitment);
    }

    #[test]
    fn a_small_coinbase_leaves_the_template_alone() {
        let t = template();
        let fitted = fit_template(
            &t,
            CoinbaseCost {
                size: 300,
                sigops_cost: 4,
            },
        );
        assert!(Arc::ptr_eq(&t, &fitted));
    }

    #[test]
    fn a_heavy_coinbase_drops_trailing_transactions_and_their_fees() {
        let mut t = (*template()).clone();
        // Pretend the template is nearly full: the first transaction is huge.
        t.transactions[0].weight = MAX_BLOCK_WEIGHT - 16_500;
        let t = Arc::new(t);
        let total_fees: u64 = t.transactions.iter().map(|x| x.fee).sum();
        let kept_fee = t.transactions[0].fee;
        // 500 P2WPKH outputs: about 15.6 kB of coinbase.
        let fitted = fit_template(
            &t,
            CoinbaseCost {
                size: 15_600,
                sigops_cost: 0,
            },
        );
        assert_eq!(
            fitted.transactions.len(),
            0,
            "even the first no longer fits"
        );
        assert_eq!(fitted.coinbase_value, t.coinbase_value - total_fees);
        let fitted = fit_template(
            &t,
            CoinbaseCost {
                size: 4_000,
                sigops_cost: 0,
            },
        );
        assert_eq!(fitted.transactions.len(), 1);
        assert_eq!(
            fitted.coinbase_value,
            t.coinbase_value - (total_fees - kept_fee)
        );
        assert_ne!(fitted.witness_commitment, t.witness_commitment);
        // Independently: a block of a coinbase carrying the new commitment and the kept
        // transaction, decoded from its own bytes, passes rust-bitcoin's commitment check.
        let commitment = fitted.witness_commitment.clone().expect("a commitment");
        assert!(block_with(commitment.clone(), &fitted).check_witness_commitment());
        // ...which the full template's commitment does not.
        let stale = t.witness_commitment.clone().expect("captured commitment");
        assert!(!block_with(stale, &fitted).check_witness_commitment());
    }

    /// A block: a coinbase paying only `commitment` (witness reserved value zero), then the
    /// template's transactions decoded from their data.
    fn block_with(commitment: ScriptBuf, t: &Template) -> Block {
        use bitcoin::block::{Header, Version};
        use bitcoin::{
            absolute, transaction, Amount, BlockHash, CompactTarget, OutPoint, Sequence,
            Transaction, TxIn, TxMerkleNode, TxOut, Witness,
        };
        let coinbase = Transaction {
            version: transaction::Version::ONE,
            lock_time: absolute::LockTime::ZERO,
            input: vec![TxIn {
                previous_output: OutPoint::null(),
                script_sig: Builder::new().push_int(i64::from(t.height)).into_script(),
                sequence: Sequence::MAX,
                witness: Witness::from_slice(&[[0u8; 32]]),
            }],
            output: vec![TxOut {
                value: Amount::ZERO,
                script_pubkey: commitment,
            }],
        };
        let mut txdata = vec![coinbase];
        txdata.extend(
            t.transactions
                .iter()
                .map(|tx| bitcoin::consensus::deserialize::<Transaction>(&tx.data).unwrap()),
        );
        Block {
            header: Header {
                version: Version::TWO,
                prev_blockhash: BlockHash::all_zeros(),
                merkle_root: TxMerkleNode::all_zeros(),
                time: 0,
                bits: CompactTarget::from_consensus(0x207f_ffff),
                nonce: 0,
            },
            txdata,
        }
    }

    #[test]
    fn sigops_limit_counts_p2pkh_outputs() {
        let p2pkh = ScriptBuf::new_p2pkh(&bitcoin::PubkeyHash::from_byte_array([1; 20]));
        let p2wpkh = ScriptBuf::new_p2wpkh(&bitcoin::WPubkeyHash::from_byte_array([1; 20]));
        assert_eq!(output_sigops_cost(&p2pkh), 4);
        assert_eq!(output_sigops_cost(&p2wpkh), 0);
        let mut t = (*template()).clone();
        t.transactions[0].sigops = MAX_BLOCK_SIGOPS_COST - 100;
        let fitted = fit_template(
            &Arc::new(t),
            CoinbaseCost {
                size: 300,
                sigops_cost: 200,
            },
        );
        assert!(fitted.transactions.is_empty());
    }
}

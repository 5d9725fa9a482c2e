//! Block assembly: header + coinbase (with the witness reserved value when the block commits
//! to witnesses) + the template's transactions, serialized for `submitblock`.

use bitcoin::consensus::{deserialize, serialize, Encodable};
use bitcoin::{Transaction, VarInt, Witness};

use super::validate::Submission;
use crate::work::{Job, UserWork};

/// Why a block could not be assembled (a bug, not miner input: the coinbase came from us).
#[derive(Debug, thiserror::Error)]
pub enum BlockError {
    /// The rebuilt coinbase does not parse as a transaction.
    #[error("coinbase does not decode: {0}")]
    Coinbase(#[from] bitcoin::consensus::encode::Error),
}

/// The serialized block for a solving share.
pub fn assemble_block(
    job: &Job,
    work: &UserWork,
    sub: &Submission<'_>,
    header: &[u8; 80],
) -> Result<Vec<u8>, BlockError> {
    let mut coinbase_bytes = Vec::with_capacity(
        job.coinb1.len() + sub.extranonce1.len() + sub.extranonce2.len() + work.coinb2.len(),
    );
    coinbase_bytes.extend_from_slice(&job.coinb1);
    coinbase_bytes.extend_from_slice(sub.extranonce1);
    coinbase_bytes.extend_from_slice(sub.extranonce2);
    for part in work.coinb2.parts() {
        coinbase_bytes.extend_from_slice(part);
    }
    let mut coinbase: Transaction = deserialize(&coinbase_bytes)?;
    if job.template.witness_commitment.is_some() {
        if let Some(input) = coinbase.input.first_mut() {
            input.witness = Witness::from_slice(&[[0u8; 32]]);
        }
    }
    let txs = &job.template.transactions;
    let mut block = Vec::with_capacity(
        80 + 9 + coinbase_bytes.len() + 40 + txs.iter().map(|t| t.data.len()).sum::<usize>(),
    );
    block.extend_from_slice(header);
    // Writing into a Vec cannot fail.
    let _ = VarInt(txs.len() as u64 + 1).consensus_encode(&mut block);
    block.extend_from_slice(&serialize(&coinbase));
    for tx in txs {
        block.extend_from_slice(&tx.data);
    }
    Ok(block)
}

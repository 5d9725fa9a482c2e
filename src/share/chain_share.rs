//! A found share of a p2pool job, as the share chain takes it: the header the miner
//! solved, the coinbase without its outputs (the chain recomputes them from the parent),
//! its merkle branch and the metadata the miner's coinbase committed to. Nothing is taken
//! on trust: the chain checks it as it checks any peer's share.

use bitcoin::consensus::deserialize;

use super::found::FoundShare;
use crate::p2pool::share::Share;

impl FoundShare {
    /// The share-chain share it is, when it was mined on p2pool work.
    pub fn chain_share(&self) -> Option<Share> {
        let meta = self.work.share_meta.clone()?;
        let header = deserialize(&self.header).ok()?;
        let template = &self.job.template;
        Some(Share {
            header,
            script_sig: self
                .job
                .script_sig(self.extranonce1.as_slice(), self.extranonce2.as_slice()),
            coinbase_value: template.coinbase_value,
            witness_commitment: template.witness_commitment.clone(),
            merkle_branch: self.job.merkle_branch.clone(),
            meta,
        })
    }
}

//! A solving share on its way from the miner's session to `submitblock`: everything needed
//! to assemble the block, moved off the miner's path.

use std::sync::Arc;

use super::block::{assemble_block, BlockError};
use super::hash::display_hex;
use super::validate::Submission;
use crate::work::{Job, UserWork};

/// A share that meets the network target.
#[derive(Debug, Clone)]
pub struct FoundBlock {
    /// The job it solves.
    pub job: Arc<Job>,
    /// The payee-specific coinbase part.
    pub work: Arc<UserWork>,
    /// Session extranonce1.
    pub extranonce1: Vec<u8>,
    /// Miner extranonce2.
    pub extranonce2: Vec<u8>,
    /// Header time.
    pub ntime: u32,
    /// Header nonce.
    pub nonce: u32,
    /// Header version after rolling.
    pub version: u32,
    /// The header.
    pub header: [u8; 80],
    /// Its hash (internal byte order).
    pub hash: [u8; 32],
    /// Who found it.
    pub worker: String,
}

impl FoundBlock {
    /// The serialized block.
    pub fn assemble(&self) -> Result<Vec<u8>, BlockError> {
        let sub = Submission {
            extranonce1: &self.extranonce1,
            extranonce2: &self.extranonce2,
            ntime: self.ntime,
            nonce: self.nonce,
            version: self.version,
        };
        assemble_block(&self.job, &self.work, &sub, &self.header)
    }

    /// The block hash in display order.
    pub fn hash_hex(&self) -> String {
        display_hex(&self.hash)
    }
}

//! The hot path: rebuild a submitted share's coinbase, merkle root and header, hash it and
//! classify it. No allocation, no locks, no I/O.

use crate::pow::hash::{sha256d, sha256d_parts};
use crate::pow::merkle::root_from_branch;
use crate::pow::target::{difficulty_of_hash, hash_meets_target};
use crate::work::{Job, UserWork};

/// How far past the job's time a miner may roll ntime (ckpool's limit).
pub const MAX_NTIME_ROLL_SECS: u32 = 7000;

/// A well-formed submit, decoded from the miner's hex.
#[derive(Debug, Clone, Copy)]
pub struct Submission<'a> {
    /// The session's extranonce1.
    pub extranonce1: &'a [u8],
    /// The miner's extranonce2 (already checked to be the job's length).
    pub extranonce2: &'a [u8],
    /// Header time.
    pub ntime: u32,
    /// Header nonce.
    pub nonce: u32,
    /// The header version after applying rolled bits.
    pub version: u32,
}

/// Why a well-formed share is not accepted, with ckpool's reject string and the classic
/// stratum error code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reject {
    /// The job id is not one this session was sent (or it expired).
    InvalidJobId,
    /// The job builds on a block that is no longer the tip.
    Stale,
    /// ntime before the job's time or more than 7000 s after it.
    NtimeOutOfRange,
    /// The same share was already accepted.
    Duplicate,
    /// The hash does not meet the session's difficulty for that job.
    AboveTarget,
}

impl Reject {
    /// Every reason, in [`Reject::index`] order.
    pub const ALL: [Reject; 5] = [
        Reject::InvalidJobId,
        Reject::Stale,
        Reject::NtimeOutOfRange,
        Reject::Duplicate,
        Reject::AboveTarget,
    ];

    /// Its place in [`Reject::ALL`], for counters kept per reason.
    pub fn index(self) -> usize {
        match self {
            Reject::InvalidJobId => 0,
            Reject::Stale => 1,
            Reject::NtimeOutOfRange => 2,
            Reject::Duplicate => 3,
            Reject::AboveTarget => 4,
        }
    }

    /// The reason as a metric label and JSON key (`above_target`).
    pub fn label(self) -> &'static str {
        match self {
            Reject::InvalidJobId => "invalid_job_id",
            Reject::Stale => "stale",
            Reject::NtimeOutOfRange => "ntime_out_of_range",
            Reject::Duplicate => "duplicate",
            Reject::AboveTarget => "above_target",
        }
    }

    /// ckpool's `reject-reason` string.
    pub fn reason(self) -> &'static str {
        match self {
            Reject::InvalidJobId => "Invalid JobID",
            Reject::Stale => "Stale",
            Reject::NtimeOutOfRange => "Ntime out of range",
            Reject::Duplicate => "Duplicate",
            Reject::AboveTarget => "Above target",
        }
    }

    /// The classic stratum error code for the same reason.
    pub fn code(self) -> i32 {
        match self {
            Reject::InvalidJobId | Reject::Stale => 21,
            Reject::NtimeOutOfRange => 20,
            Reject::Duplicate => 22,
            Reject::AboveTarget => 23,
        }
    }
}

/// A hashed share: its hash, what it achieved, and whether it counts or solves a block.
#[derive(Debug, Clone, Copy)]
pub struct ShareOutcome {
    /// sha256d of the header, internal (little-endian) byte order.
    pub hash: [u8; 32],
    /// The difficulty the hash achieves.
    pub difficulty: f64,
    /// True when the hash meets the network target.
    pub is_block: bool,
    /// True when the job is a p2pool job and the hash meets its share-chain target.
    pub is_chain_share: bool,
    /// True when the hash meets the share difficulty it was judged at.
    pub meets_share_difficulty: bool,
    /// Stale or ntime out of range: decided from the job alone, whatever the hash.
    pub early_reject: Option<Reject>,
    /// The 80-byte header, for block assembly.
    pub header: [u8; 80],
}

/// Everything a share hash depends on, as raw bytes: a job's notify fields plus the miner's
/// submit. Lets captured ckpool sessions be checked with the same code as live shares.
#[derive(Debug, Clone, Copy)]
pub struct HeaderParts<'a> {
    /// coinb1.
    pub coinb1: &'a [u8],
    /// coinb2 (payee-specific), or its shared part.
    pub coinb2: &'a [u8],
    /// The payee's own part of coinb2 after `coinb2` (empty when `coinb2` is whole).
    pub coinb2_own: &'a [u8],
    /// Merkle branch, internal byte order.
    pub merkle_branch: &'a [[u8; 32]],
    /// Previous block hash, internal byte order.
    pub prevhash: &'a [u8; 32],
    /// Compact target.
    pub bits: u32,
}

impl ShareOutcome {
    /// The verdict on the share: stale and ntime rejects first, then accepted when it meets
    /// the share difficulty or solves a block.
    #[inline]
    pub fn verdict(&self) -> Result<(), Reject> {
        match self.early_reject {
            Some(r) => Err(r),
            None if self.is_block || self.meets_share_difficulty => Ok(()),
            None => Err(Reject::AboveTarget),
        }
    }

    /// Accepted as a share.
    #[inline]
    pub fn accepted(&self) -> bool {
        self.verdict().is_ok()
    }
}

/// The 80-byte header and its sha256d for `sub` on a job with these `parts`.
#[inline]
pub fn header_and_hash(parts: &HeaderParts<'_>, sub: &Submission<'_>) -> ([u8; 80], [u8; 32]) {
    let coinbase_txid = sha256d_parts(&[
        parts.coinb1,
        sub.extranonce1,
        sub.extranonce2,
        parts.coinb2,
        parts.coinb2_own,
    ]);
    let merkle_root = root_from_branch(coinbase_txid, parts.merkle_branch);
    let mut header = [0u8; 80];
    header[0..4].copy_from_slice(&sub.version.to_le_bytes());
    header[4..36].copy_from_slice(parts.prevhash);
    header[36..68].copy_from_slice(&merkle_root);
    header[68..72].copy_from_slice(&sub.ntime.to_le_bytes());
    header[72..76].copy_from_slice(&parts.bits.to_le_bytes());
    header[76..80].copy_from_slice(&sub.nonce.to_le_bytes());
    let hash = sha256d(&header);
    (header, hash)
}

/// Judges a share on `job` at `share_difficulty`; `tip_generation` is the board's current
/// generation. Every share on a known job is hashed, stale or not, as ckpool does: a stale
/// or ntime-rejected share that solves a block is still a block, and bitcoind decides
/// whether it can win. [`ShareOutcome::verdict`] classifies the share itself (a block
/// solution on a current job is accepted whatever the share difficulty).
#[inline]
pub fn validate_share(
    job: &Job,
    work: &UserWork,
    sub: &Submission<'_>,
    share_difficulty: f64,
    tip_generation: u64,
) -> ShareOutcome {
    let early_reject = if job.generation < tip_generation {
        Some(Reject::Stale)
    } else if sub.ntime < job.ntime || sub.ntime - job.ntime > MAX_NTIME_ROLL_SECS {
        Some(Reject::NtimeOutOfRange)
    } else {
        None
    };
    let parts = HeaderParts {
        coinb1: &job.coinb1,
        coinb2: work.coinb2.parts()[0],
        coinb2_own: work.coinb2.parts()[1],
        merkle_branch: &job.merkle_branch,
        prevhash: &job.prevhash,
        bits: job.bits,
    };
    let (header, hash) = header_and_hash(&parts, sub);
    let difficulty = difficulty_of_hash(&hash);
    ShareOutcome {
        hash,
        difficulty,
        is_block: hash_meets_target(&hash, &job.network_target),
        is_chain_share: job
            .share_job
            .as_ref()
            .is_some_and(|s| hash_meets_target(&hash, &s.target)),
        meets_share_difficulty: difficulty >= share_difficulty,
        early_reject,
        header,
    }
}

#[cfg(test)]
mod tests {
    use super::Reject;

    #[test]
    fn every_reason_has_its_own_index_and_label() {
        for (i, r) in Reject::ALL.iter().enumerate() {
            assert_eq!(r.index(), i);
        }
        let labels: std::collections::HashSet<&str> =
            Reject::ALL.iter().map(|r| r.label()).collect();
        assert_eq!(labels.len(), Reject::ALL.len());
    }
}

//! The lossless path for shares that matter for money: today block solutions, next the
//! shares that go on the share chain. Each leaves the miner's session as a [`FoundShare`]
//! carrying everything needed to rebuild and check it (the job, the payee's coinbase part,
//! the extranonces, the rolled version, the header and its hash), on a bounded channel
//! that never drops one: when it is full, the session waits for room before it reads the
//! miner's next line. Statistics take the lossy event bus instead.

use std::sync::Arc;

use tokio::sync::mpsc;

use super::block::{assemble_block, BlockError};
use super::validate::{Reject, Submission};
use crate::pow::hash::display_hex;
use crate::short_bytes::ShortBytes;
use crate::work::{Job, UserWork};

/// Found shares queued for their consumer before sessions wait. Blocks are rare: the
/// queue fills only if the consumer is stuck, and then no share is lost.
pub const SINK_CAPACITY: usize = 1024;

/// A share that matters for money, with everything needed to rebuild it.
#[derive(Debug, Clone)]
pub struct FoundShare {
    /// The job it was mined on.
    pub job: Arc<Job>,
    /// The payee-specific coinbase part it was mined on.
    pub work: Arc<UserWork>,
    /// Session extranonce1.
    pub extranonce1: ShortBytes<8>,
    /// Miner extranonce2.
    pub extranonce2: ShortBytes<16>,
    /// Header time.
    pub ntime: u32,
    /// Header nonce.
    pub nonce: u32,
    /// Header version after applying the miner's rolled bits.
    pub version: u32,
    /// The header.
    pub header: [u8; 80],
    /// Its hash (internal byte order).
    pub hash: [u8; 32],
    /// Who found it (the worker name as authorized).
    pub worker: Arc<str>,
    /// Set when the share itself was refused (stale, ntime out of range) yet still solves
    /// a block: it is submitted anyway, as ckpool does, and bitcoind decides.
    pub refused_as: Option<Reject>,
}

impl FoundShare {
    /// The miner's submit, as the header was built from it.
    pub fn submission(&self) -> Submission<'_> {
        Submission {
            extranonce1: &self.extranonce1,
            extranonce2: &self.extranonce2,
            ntime: self.ntime,
            nonce: self.nonce,
            version: self.version,
        }
    }

    /// The serialized block it solves.
    pub fn assemble_block(&self) -> Result<Vec<u8>, BlockError> {
        assemble_block(&self.job, &self.work, &self.submission(), &self.header)
    }

    /// The hash in display order.
    pub fn hash_hex(&self) -> String {
        display_hex(&self.hash)
    }
}

/// The sending side, one clone per server.
#[derive(Debug, Clone)]
pub struct ShareSink(mpsc::Sender<FoundShare>);

/// The consumer has gone: shares can no longer be handed on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the found-share consumer is gone")]
pub struct SinkClosed;

/// The sink and its receiving end.
pub fn channel() -> (ShareSink, mpsc::Receiver<FoundShare>) {
    let (tx, rx) = mpsc::channel(SINK_CAPACITY);
    (ShareSink(tx), rx)
}

/// What became of a share offered without waiting.
#[derive(Debug)]
pub enum Offer {
    /// It is on its way.
    Taken,
    /// The queue is full: the share is given back, to [`ShareSink::send`] once the caller
    /// may wait.
    Full(FoundShare),
    /// The consumer is gone.
    Closed,
}

impl ShareSink {
    /// Hands `share` on without waiting.
    pub fn offer(&self, share: FoundShare) -> Offer {
        match self.0.try_send(share) {
            Ok(()) => Offer::Taken,
            Err(mpsc::error::TrySendError::Full(s)) => Offer::Full(s),
            Err(mpsc::error::TrySendError::Closed(_)) => Offer::Closed,
        }
    }

    /// Hands `share` on, waiting for room.
    pub async fn send(&self, share: FoundShare) -> Result<(), SinkClosed> {
        self.0.send(share).await.map_err(|_| SinkClosed)
    }
}

//! The lossless path for shares that matter for money: block solutions and the shares that
//! go on the share chain. Each leaves the miner's session as a [`FoundShare`]
//! carrying everything needed to rebuild and check it (the job, the payee's coinbase part,
//! the extranonces, the rolled version, the header and its hash), on a bounded channel
//! that never drops one: when it is full, the session waits for room before it reads the
//! miner's next line. Statistics take the lossy event bus instead.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use tokio::sync::{mpsc, Notify};

use super::block::{assemble_block, BlockError};
use super::validate::{Reject, Submission};
use crate::pow::hash::display_hex;
use crate::pow::target::hash_meets_target;
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

    /// Whether it solves a block (meets the network target).
    pub fn solves_block(&self) -> bool {
        hash_meets_target(&self.hash, &self.job.network_target)
    }

    /// Whether it goes on the share chain: an accepted share of a p2pool job meeting its
    /// share-chain target.
    pub fn is_chain_share(&self) -> bool {
        self.refused_as.is_none()
            && self
                .job
                .share_job
                .as_ref()
                .is_some_and(|s| hash_meets_target(&self.hash, &s.target))
    }
}

/// Found shares handed on whose consumer has not finished with them yet (for a block: it
/// is archived on disk, from where a restart resubmits it). A stopping server waits for
/// this to reach zero, so a block found just before a shutdown is not lost with the
/// runtime's tasks.
#[derive(Debug, Default)]
pub struct InFlight {
    count: AtomicUsize,
    settled: Notify,
}

impl InFlight {
    /// One more in flight.
    pub fn add(&self) {
        self.count.fetch_add(1, Ordering::AcqRel);
    }

    /// The consumer is done with one share.
    pub fn done(&self) {
        if self.count.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.settled.notify_waiters();
        }
    }

    /// How many are in flight now.
    pub fn count(&self) -> usize {
        self.count.load(Ordering::Acquire)
    }

    /// Waits until none is in flight.
    pub async fn settled(&self) {
        loop {
            let notified = self.settled.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.count() == 0 {
                return;
            }
            notified.await;
        }
    }
}

/// The sending side, one clone per server.
#[derive(Debug, Clone)]
pub struct ShareSink {
    tx: mpsc::Sender<FoundShare>,
    in_flight: Arc<InFlight>,
}

/// The consumer has gone: shares can no longer be handed on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the found-share consumer is gone")]
pub struct SinkClosed;

/// The sink and its receiving end.
pub fn channel() -> (ShareSink, mpsc::Receiver<FoundShare>) {
    let (tx, rx) = mpsc::channel(SINK_CAPACITY);
    let sink = ShareSink {
        tx,
        in_flight: Arc::new(InFlight::default()),
    };
    (sink, rx)
}

/// What became of a share offered without waiting.
#[derive(Debug)]
pub enum Offer {
    /// It is on its way.
    Taken,
    /// The queue is full: the share is given back, still counted in flight, to
    /// [`ShareSink::send_held`] once the caller may wait.
    Full(HeldShare),
    /// The consumer is gone.
    Closed,
}

/// A found share waiting for room in the sink, counted in flight meanwhile (so a stopping
/// server waits for it). Dropped without being sent, it is counted done and logged as
/// lost, hash and all: that is the one way a block solution can still be lost (a runtime
/// dropping the task that holds it).
#[derive(Debug)]
pub struct HeldShare {
    share: Option<FoundShare>,
    in_flight: Arc<InFlight>,
}

impl HeldShare {
    /// The share.
    pub fn share(&self) -> Option<&FoundShare> {
        self.share.as_ref()
    }
}

impl Drop for HeldShare {
    fn drop(&mut self) {
        if let Some(share) = self.share.take() {
            self.in_flight.done();
            let what = if share.solves_block() {
                "a block solution is lost: it never reached the block submitter"
            } else {
                "a share-chain share is lost: it never reached the share chain"
            };
            tracing::error!(
                hash = %share.hash_hex(),
                height = share.job.template.height,
                worker = %share.worker,
                header = %hex::encode(share.header),
                "{what}"
            );
        }
    }
}

impl ShareSink {
    /// Hands `share` on without waiting.
    pub fn offer(&self, share: FoundShare) -> Offer {
        // Counted before it can reach the consumer, which counts it done.
        self.in_flight.add();
        match self.tx.try_send(share) {
            Ok(()) => Offer::Taken,
            Err(mpsc::error::TrySendError::Full(s)) => Offer::Full(HeldShare {
                share: Some(s),
                in_flight: self.in_flight.clone(),
            }),
            Err(mpsc::error::TrySendError::Closed(_)) => {
                self.in_flight.done();
                Offer::Closed
            }
        }
    }

    /// Counts `share` in flight and holds it, to be sent with [`ShareSink::send_held`]
    /// (for a share that must wait behind others already held, so blocks stay in order).
    pub fn hold(&self, share: FoundShare) -> HeldShare {
        self.in_flight.add();
        HeldShare {
            share: Some(share),
            in_flight: self.in_flight.clone(),
        }
    }

    /// Hands a held share on, waiting for room. Cancel-safe: until there is room the share
    /// stays in `held`, whose drop reports it lost.
    pub async fn send_held(&self, mut held: HeldShare) -> Result<(), SinkClosed> {
        let permit = self.tx.reserve().await.map_err(|_| SinkClosed)?;
        if let Some(share) = held.share.take() {
            // Still counted: the consumer counts it done.
            permit.send(share);
        }
        Ok(())
    }

    /// The count of shares handed on and not yet done with.
    pub fn in_flight(&self) -> Arc<InFlight> {
        self.in_flight.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn in_flight_counts_until_the_consumer_is_done() {
        let flight = Arc::new(InFlight::default());
        flight.add();
        flight.add();
        let waiter = tokio::spawn({
            let flight = flight.clone();
            async move { flight.settled().await }
        });
        let short = std::time::Duration::from_millis(50);
        // Parked while any is in flight.
        assert!(tokio::time::timeout(short, flight.settled()).await.is_err());
        flight.done();
        assert!(tokio::time::timeout(short, flight.settled()).await.is_err());
        assert!(!waiter.is_finished());
        flight.done();
        tokio::time::timeout(std::time::Duration::from_secs(10), waiter)
            .await
            .expect("a parked waiter wakes once the last is done")
            .unwrap();
        // Settled already: returns at once.
        flight.settled().await;
    }
}

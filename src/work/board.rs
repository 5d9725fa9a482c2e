//! The job board: publishes the newest job to every session and knows which previous
//! block is current, so a session can tell a stale share with one atomic load.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use tokio::sync::watch;

use super::job::Job;

/// The newest job and the current chain-tip generation.
#[derive(Debug)]
pub struct JobBoard {
    latest: watch::Sender<Option<Arc<Job>>>,
    generation: AtomicU64,
}

impl Default for JobBoard {
    fn default() -> Self {
        Self::new()
    }
}

impl JobBoard {
    /// An empty board (no work yet: miners wait for the first template).
    pub fn new() -> Self {
        JobBoard {
            latest: watch::Sender::new(None),
            generation: AtomicU64::new(0),
        }
    }

    /// Makes `job` the newest; sessions see it on their watch receiver. A new block's job
    /// starts its delivery clock for the sessions present now (only those are logged).
    pub fn publish(&self, job: Arc<Job>) {
        if job.clean {
            job.delivery.start(self.latest.receiver_count());
        }
        self.generation.fetch_max(job.generation, Ordering::AcqRel);
        self.latest.send_replace(Some(job));
    }

    /// A receiver that yields every newest job.
    pub fn subscribe(&self) -> watch::Receiver<Option<Arc<Job>>> {
        self.latest.subscribe()
    }

    /// The newest job, if any.
    pub fn latest(&self) -> Option<Arc<Job>> {
        self.latest.borrow().clone()
    }

    /// The current previous-block generation; a job with a lower one is stale.
    #[inline]
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }
}

//! The job board: publishes the newest job to every session and knows which previous
//! block is current, so a session can tell a stale share with one atomic load.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::watch;

use super::delivery::Delivery;
use super::job::Job;

/// The newest job and the current chain-tip generation.
#[derive(Debug)]
pub struct JobBoard {
    latest: watch::Sender<Option<Arc<Job>>>,
    generation: AtomicU64,
    /// How many jobs were published. Held while publishing and while subscribing, so a
    /// session knows exactly which delivery clocks counted it.
    published: Mutex<u64>,
}

/// A session's view of the board.
#[derive(Debug)]
pub struct Subscription {
    /// Yields every newest job.
    pub jobs: watch::Receiver<Option<Arc<Job>>>,
    /// How many jobs had been published when it subscribed.
    pub joined: u64,
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
            published: Mutex::new(0),
        }
    }

    /// Makes `job` the newest; sessions see it on their watch receiver. A new block's first
    /// job starts a delivery clock for the sessions subscribed now; the block's later jobs
    /// carry the same clock, since a session that wakes to a refresh has still got the
    /// new block.
    pub fn publish(&self, job: Arc<Job>) {
        let mut published = self
            .published
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        *published += 1;
        let delivery = if job.clean {
            let sessions = self.latest.receiver_count();
            Some(Arc::new(Delivery::start(*published, job.id, sessions)))
        } else {
            self.latest
                .borrow()
                .as_ref()
                .filter(|previous| previous.generation == job.generation)
                .and_then(|previous| previous.delivery().cloned())
        };
        if let Some(delivery) = delivery {
            job.attach_delivery(delivery);
        }
        self.generation.fetch_max(job.generation, Ordering::AcqRel);
        self.latest.send_replace(Some(job));
    }

    /// Subscribes a session to every newest job.
    pub fn subscribe(&self) -> Subscription {
        let published = self
            .published
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        Subscription {
            jobs: self.latest.subscribe(),
            joined: *published,
        }
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

#[cfg(test)]
mod tests {
    use std::time::SystemTime;

    use super::*;
    use crate::node::template::Template;
    use crate::work::delivery::SessionDeliveries;
    use crate::work::job::JobConfig;
    use crate::work::payout::{PayoutMode, PayoutPlan, WeightedPayee};
    use crate::work::JobBuilder;

    fn job(clean: bool, generation: u64) -> Arc<Job> {
        let path = format!(
            "{}/tests/fixtures/ckpool/gbt-notify/three-txns/gbt.json",
            env!("CARGO_MANIFEST_DIR")
        );
        let json = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let template = Arc::new(Template::from_json(json).unwrap());
        let builder = JobBuilder::new(
            JobConfig {
                nonce1_len: 4,
                nonce2_len: 8,
                btcsig: Vec::new(),
            },
            PayoutPlan {
                mode: PayoutMode::Pool(vec![WeightedPayee {
                    script: bitcoin::ScriptBuf::new_op_return([1u8; 4]),
                    weight: 1,
                }]),
                donation: None,
            },
        );
        Arc::new(
            builder
                .build(template, clean, generation, SystemTime::now())
                .unwrap(),
        )
    }

    #[test]
    fn a_refresh_carries_its_blocks_clock_and_a_new_block_starts_one() {
        let board = JobBoard::new();
        let _a = board.subscribe();
        let _b = board.subscribe();
        let block = job(true, 1);
        board.publish(block.clone());
        let clock = block
            .delivery()
            .expect("a new block starts a clock")
            .clone();
        let refresh = job(false, 1);
        board.publish(refresh.clone());
        assert!(Arc::ptr_eq(refresh.delivery().unwrap(), &clock));
        let next_block = job(true, 2);
        board.publish(next_block.clone());
        assert!(!Arc::ptr_eq(next_block.delivery().unwrap(), &clock));
        assert_eq!(clock.handled_so_far(), 0);
    }

    #[test]
    fn each_counted_session_counts_once_and_late_sessions_not_at_all() {
        let board = JobBoard::new();
        let a = board.subscribe();
        let b = board.subscribe();
        let block = job(true, 1);
        board.publish(block.clone());
        let late = board.subscribe();
        let refresh = job(false, 1);
        board.publish(refresh.clone());
        let clock = block.delivery().unwrap().clone();

        // a handles the block's job, then its refresh: counted once.
        let mut a = SessionDeliveries::new(a.joined);
        a.done_with(&block);
        a.done_with(&refresh);
        assert_eq!(clock.handled_so_far(), 1);
        // The late session was not counted by the clock, so it does not count itself.
        let mut late = SessionDeliveries::new(late.joined);
        late.done_with(&refresh);
        assert_eq!(clock.handled_so_far(), 1);
        // b woke only to the refresh, or left before handling anything: counted once.
        let mut b = SessionDeliveries::new(b.joined);
        b.done_with(&refresh);
        b.done_with(&refresh);
        assert_eq!(clock.handled_so_far(), 2);
    }
}

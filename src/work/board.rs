//! The job board: publishes the newest job to every session, each job in a [`Posting`]
//! holding what lives beside it while it is out (the shares seen on it, its block's delivery
//! clock, the per-payee work made on demand), and knows which previous block is current, so
//! a session can tell a stale share with one atomic load.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use dashmap::DashMap;
use tokio::sync::watch;

use prometheus_client::metrics::histogram::Histogram;

use super::delivery::{fanout_histogram, Delivery};
use super::job::{Job, JobError, UserWork};
use super::mode::Payee;
use super::seen::SeenShares;

/// A published job and what lives beside it for as long as a session holds it.
#[derive(Debug)]
pub struct Posting {
    /// The job, as built.
    pub job: Arc<Job>,
    /// The shares accepted on this job by any session, for duplicate detection.
    pub seen: SeenShares,
    /// Its block's delivery clock (none for jobs published before any block change).
    delivery: Option<Arc<Delivery>>,
    /// Solo mode's work per miner script, made on first use and shared from then on (pool
    /// mode's one work is built with the job).
    works: DashMap<Payee, Arc<UserWork>>,
}

impl Posting {
    /// A posting of `job` with its block's delivery clock.
    fn new(job: Arc<Job>, delivery: Option<Arc<Delivery>>) -> Self {
        Posting {
            job,
            seen: SeenShares::default(),
            delivery,
            works: DashMap::new(),
        }
    }

    /// Its block's delivery clock.
    pub fn delivery(&self) -> Option<&Delivery> {
        self.delivery.as_deref()
    }

    /// `payee`'s work if a session made it already (or pool mode's shared one); none
    /// otherwise, and nothing is kept: for readers (the API) that must not grow the cache.
    pub fn cached_work(&self, payee: &Payee) -> Option<Arc<UserWork>> {
        if let Some(shared) = &self.job.shared {
            return Some(shared.clone());
        }
        self.works.get(payee).map(|w| w.clone())
    }

    /// `payee`'s work on this job, built on first use and then shared, so a notify is
    /// serialized once per (job, payee).
    pub fn work_for(&self, payee: &Payee) -> Result<Arc<UserWork>, JobError> {
        if let Some(shared) = &self.job.shared {
            return Ok(shared.clone());
        }
        if let Some(w) = self.works.get(payee) {
            return Ok(w.clone());
        }
        let work = self.job.work_for(payee)?;
        Ok(self.works.entry(payee.clone()).or_insert(work).clone())
    }
}

/// The newest job and the current chain-tip generation.
#[derive(Debug)]
pub struct JobBoard {
    latest: watch::Sender<Option<Arc<Posting>>>,
    generation: AtomicU64,
    /// How many jobs were published. Held while publishing and while subscribing, so a
    /// session knows exactly which delivery clocks counted it.
    published: Mutex<u64>,
    /// How long each new block took to reach every session (`/metrics`).
    fanout: Histogram,
}

/// A session's view of the board.
#[derive(Debug)]
pub struct Subscription {
    /// Yields every newest posting.
    pub jobs: watch::Receiver<Option<Arc<Posting>>>,
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
            fanout: fanout_histogram(),
        }
    }

    /// The new-block fan-out times so far (seconds, one per completed delivery).
    pub fn fanout(&self) -> &Histogram {
        &self.fanout
    }

    /// Makes `job` the newest; sessions see its posting on their watch receiver. A new
    /// block's first job starts a delivery clock for the sessions subscribed now; the
    /// block's later jobs carry the same clock, since a session that wakes to a refresh has
    /// still got the new block.
    pub fn publish(&self, job: Arc<Job>) -> Arc<Posting> {
        let mut published = self
            .published
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        *published += 1;
        // A new block (generation) starts a clock; a p2pool job on a new share-chain tip is
        // clean too but on the same block, and keeps the block's clock.
        let same_block = self
            .latest
            .borrow()
            .as_ref()
            .filter(|previous| previous.job.generation == job.generation)
            .map(|previous| previous.delivery.clone());
        let delivery = match same_block {
            Some(clock) if !job.clean || job.share_job.is_some() => clock,
            _ if job.clean => {
                let sessions = self.latest.receiver_count();
                Some(Arc::new(Delivery::start(
                    *published,
                    job.id,
                    sessions,
                    self.fanout.clone(),
                )))
            }
            _ => None,
        };
        self.generation.fetch_max(job.generation, Ordering::AcqRel);
        let posting = Arc::new(Posting::new(job, delivery));
        self.latest.send_replace(Some(posting.clone()));
        posting
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

    /// The newest posting, if any.
    pub fn latest(&self) -> Option<Arc<Posting>> {
        self.latest.borrow().clone()
    }

    /// The current previous-block generation; a job with a lower one is stale.
    #[inline]
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::time::SystemTime;

    use super::*;
    use crate::node::template::Template;
    use crate::work::builder::{BuildContext, JobBuilder, JobConfig};
    use crate::work::delivery::SessionDeliveries;
    use crate::work::payout::{PayoutPlan, PoolPayees, WeightedPayee};

    fn template() -> Arc<Template> {
        let path = format!(
            "{}/tests/fixtures/ckpool/gbt-notify/three-txns/gbt.json",
            env!("CARGO_MANIFEST_DIR")
        );
        let json = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        Arc::new(Template::from_json(json).unwrap())
    }

    fn builder() -> JobBuilder {
        JobBuilder::new(JobConfig {
            nonce1_len: 4,
            nonce2_len: 8,
            btcsig: Vec::new(),
        })
    }

    fn job_with(plan: PayoutPlan, clean: bool, generation: u64) -> Arc<Job> {
        let at = BuildContext {
            clean,
            generation,
            now: SystemTime::now(),
        };
        Arc::new(builder().build(&template(), &Arc::new(plan), at).unwrap())
    }

    fn job(clean: bool, generation: u64) -> Arc<Job> {
        let payees = PoolPayees::new(vec![WeightedPayee {
            script: bitcoin::ScriptBuf::new_op_return([1u8; 4]),
            weight: 1,
        }])
        .unwrap();
        job_with(PayoutPlan::pool(payees, None), clean, generation)
    }

    /// A posting of a pool-mode job on the fixture's template.
    pub(crate) fn posting() -> Arc<Posting> {
        Arc::new(Posting::new(job(true, 1), None))
    }

    fn clock(p: &Posting) -> *const Delivery {
        p.delivery().expect("a clock") as *const Delivery
    }

    #[test]
    fn a_refresh_carries_its_blocks_clock_and_a_new_block_starts_one() {
        let board = JobBoard::new();
        let _a = board.subscribe();
        let _b = board.subscribe();
        let block = board.publish(job(true, 1));
        let refresh = board.publish(job(false, 1));
        assert_eq!(clock(&refresh), clock(&block));
        let next_block = board.publish(job(true, 2));
        assert_ne!(clock(&next_block), clock(&block));
        assert_eq!(block.delivery().unwrap().handled_so_far(), 0);
    }

    #[test]
    fn each_counted_session_counts_once_and_late_sessions_not_at_all() {
        let board = JobBoard::new();
        let a = board.subscribe();
        let b = board.subscribe();
        let block = board.publish(job(true, 1));
        let late = board.subscribe();
        let refresh = board.publish(job(false, 1));
        let clock = block.delivery().unwrap();

        // a handles the block's job, then its refresh: counted once.
        let mut a = SessionDeliveries::new(a.joined);
        a.done_with(block.delivery());
        a.done_with(refresh.delivery());
        assert_eq!(clock.handled_so_far(), 1);
        // The late session was not counted by the clock, so it does not count itself.
        let mut late = SessionDeliveries::new(late.joined);
        late.done_with(refresh.delivery());
        assert_eq!(clock.handled_so_far(), 1);
        // b woke only to the refresh, or left before handling anything: counted once.
        let mut b = SessionDeliveries::new(b.joined);
        b.done_with(refresh.delivery());
        b.done_with(refresh.delivery());
        assert_eq!(clock.handled_so_far(), 2);
    }

    #[test]
    fn solo_work_is_built_once_per_payee_and_posting() {
        let board = JobBoard::new();
        let posting = board.publish(job_with(PayoutPlan::solo(None), true, 1));
        let alice = Payee::Miner(bitcoin::ScriptBuf::new_op_return([7u8; 4]));
        let bob = Payee::Miner(bitcoin::ScriptBuf::new_op_return([8u8; 4]));
        let first = posting.work_for(&alice).unwrap();
        assert!(Arc::ptr_eq(&first, &posting.work_for(&alice).unwrap()));
        assert!(!Arc::ptr_eq(&first, &posting.work_for(&bob).unwrap()));
        // The job itself holds nothing: a job is the pure result of building.
        assert!(!Arc::ptr_eq(&first, &posting.job.work_for(&alice).unwrap()));
        assert!(matches!(
            posting.work_for(&Payee::Pool),
            Err(JobError::NoMinerAddress)
        ));
    }

    #[test]
    fn pool_work_is_the_jobs_one_shared_work() {
        let board = JobBoard::new();
        let posting = board.publish(job(true, 1));
        let miner = Payee::Miner(bitcoin::ScriptBuf::new_op_return([7u8; 4]));
        let shared = posting.work_for(&Payee::Pool).unwrap();
        assert!(Arc::ptr_eq(&shared, &posting.work_for(&miner).unwrap()));
        assert!(Arc::ptr_eq(
            &shared,
            &posting.job.work_for(&Payee::Pool).unwrap()
        ));
    }
}

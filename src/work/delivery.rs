//! How long a new block takes to reach every session. The board starts a clock when it
//! publishes a block's first job, for the sessions subscribed at that moment; the block's
//! later jobs (refreshes) carry the same clock. Each counted session counts itself once:
//! when it has handled one of the block's jobs, or when it leaves before that. The last one
//! logs the time and puts it in the board's fan-out histogram (`/metrics`). This is the figure an operator compares with ckpool and with the 50 ms
//! fan-out target (docs/BENCHMARKS.md): miners still hashing on the old block are wasting
//! work.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use prometheus_client::metrics::histogram::Histogram;

use super::job_id::JobId;

/// A new block's delivery clock.
#[derive(Debug)]
pub struct Delivery {
    /// The board's publish number of the block's first job: the sessions subscribed before
    /// it are the ones counted.
    published: u64,
    /// The block's first job, for the log line.
    job: JobId,
    started: Instant,
    sessions: usize,
    handled: AtomicUsize,
    /// Where the time goes once every session has it (the board's, shared).
    histogram: Histogram,
}

/// Bucket bounds (seconds) of the fan-out histogram: the target is 50 ms to 10,000
/// sessions, an overloaded host takes seconds.
const FANOUT_BUCKETS: [f64; 13] = [
    0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0,
];

/// The histogram a board's delivery clocks put their times in.
pub fn fanout_histogram() -> Histogram {
    Histogram::new(FANOUT_BUCKETS)
}

impl Delivery {
    /// Starts the clock for `sessions` sessions; the time goes into `histogram` (a handle
    /// on the board's).
    pub fn start(published: u64, job: JobId, sessions: usize, histogram: Histogram) -> Self {
        Delivery {
            published,
            job,
            started: Instant::now(),
            sessions,
            handled: AtomicUsize::new(0),
            histogram,
        }
    }

    /// How many sessions have counted themselves so far.
    #[cfg(test)]
    pub(crate) fn handled_so_far(&self) -> usize {
        self.handled.load(Ordering::Acquire)
    }

    /// One session is done with it. For the session that completes the delivery, the
    /// time since the start and the number of sessions.
    fn count_one(&self) -> Option<(Duration, usize)> {
        let n = self.handled.fetch_add(1, Ordering::AcqRel) + 1;
        (n == self.sessions).then(|| (self.started.elapsed(), self.sessions))
    }
}

/// One session's part in the delivery clocks.
#[derive(Debug)]
pub struct SessionDeliveries {
    /// The newest delivery this session has counted itself in (or, at first, the board's
    /// publish number when it subscribed: older deliveries did not count it).
    counted: u64,
}

impl SessionDeliveries {
    /// For a session that subscribed when the board's publish number was `joined`.
    pub fn new(joined: u64) -> Self {
        SessionDeliveries { counted: joined }
    }

    /// The session has handled a job whose block's clock is `delivery`, or is leaving while
    /// that job is the newest: counts the session in the delivery, once, and logs the
    /// delivery it completes.
    pub fn done_with(&mut self, delivery: Option<&Delivery>) {
        let Some(d) = delivery else {
            return;
        };
        if d.published <= self.counted {
            return;
        }
        self.counted = d.published;
        if let Some((took, sessions)) = d.count_one() {
            d.histogram.observe(took.as_secs_f64());
            tracing::info!(
                "new block's job {} reached all {sessions} sessions in {:.1} ms",
                d.job,
                took.as_secs_f64() * 1e3
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_last_session_reads_the_time() {
        let d = Delivery::start(1, JobId(7), 3, fanout_histogram());
        assert_eq!(d.count_one(), None);
        assert_eq!(d.count_one(), None);
        let (_, n) = d.count_one().expect("the third of three completes it");
        assert_eq!(n, 3);
        assert_eq!(d.count_one(), None, "late sessions report nothing");
    }
}

//! How long a job takes to reach every session: the board starts the clock when it publishes,
//! each session reports once it has written (or had nothing to write), and the last one reads
//! the time. For a new block this is the figure an operator compares with ckpool and with
//! PERFORMANCE.md's 50 ms: the miners still hashing on the old block are wasting work.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// A job's delivery clock.
#[derive(Debug, Default)]
pub struct Delivery {
    started: OnceLock<(Instant, usize)>,
    handled: AtomicUsize,
}

impl Delivery {
    /// Starts the clock for `sessions` sessions (the first call wins).
    pub fn start(&self, sessions: usize) {
        let _ = self.started.set((Instant::now(), sessions));
    }

    /// One session has handled the job. For the session that completes the delivery, the
    /// time since the start and the number of sessions.
    pub fn handled(&self) -> Option<(Duration, usize)> {
        let &(at, sessions) = self.started.get()?;
        let n = self.handled.fetch_add(1, Ordering::AcqRel) + 1;
        (n == sessions).then(|| (at.elapsed(), sessions))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_last_session_reads_the_time() {
        let d = Delivery::default();
        assert_eq!(d.handled(), None, "not started: nothing to report");
        d.start(3);
        assert_eq!(d.handled(), None);
        assert_eq!(d.handled(), None);
        let (_, n) = d.handled().expect("the third of three completes it");
        assert_eq!(n, 3);
        assert_eq!(d.handled(), None, "late sessions report nothing");
    }
}

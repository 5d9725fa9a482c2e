//! ckpool's `maxclients`: one count of open connections for every listener, taken with one
//! atomic step, so connections arriving on several listeners at once cannot pass the limit
//! together.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use crate::stats::Stats;

/// Admits connections up to the limit.
#[derive(Debug)]
pub struct Admission {
    max: Option<u64>,
    /// Holds the count (`connections`, which the stats report).
    stats: Arc<Stats>,
}

/// One open connection in the count, for as long as it lives: dropped when its task ends,
/// also if the task panics, so the count (and `maxclients`) never drifts.
#[derive(Debug)]
pub struct OpenConnection(Arc<Stats>);

impl Drop for OpenConnection {
    fn drop(&mut self) {
        self.0.connections.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Admission {
    /// At most `max` connections at once (`None`: no limit), counted in `stats`.
    pub fn new(max: Option<usize>, stats: Arc<Stats>) -> Self {
        Admission {
            max: max.map(|m| m as u64),
            stats,
        }
    }

    /// Counts one more connection, or `None` when that would pass the limit. The check and
    /// the count are one compare-and-swap.
    pub fn try_admit(&self) -> Option<OpenConnection> {
        let max = self.max;
        self.stats
            .connections
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |open| match max {
                Some(max) if open >= max => None,
                _ => Some(open + 1),
            })
            .ok()
            .map(|_| OpenConnection(self.stats.clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicU64;

    #[test]
    fn the_limit_holds_for_connections_admitted_at_once() {
        const LIMIT: usize = 1;
        let admission = Arc::new(Admission::new(Some(LIMIT), Arc::new(Stats::default())));
        let held = Arc::new(AtomicU64::new(0));
        let most = Arc::new(AtomicU64::new(0));
        // Two "listeners" per core admitting, holding and closing connections as fast as
        // they can: with a separate check and count, two of them pass the check together.
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let (admission, held, most) = (admission.clone(), held.clone(), most.clone());
                std::thread::spawn(move || {
                    for _ in 0..200_000 {
                        if let Some(open) = admission.try_admit() {
                            let now = held.fetch_add(1, Ordering::AcqRel) + 1;
                            most.fetch_max(now, Ordering::AcqRel);
                            held.fetch_sub(1, Ordering::AcqRel);
                            drop(open);
                        }
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert!(
            most.load(Ordering::Acquire) <= LIMIT as u64,
            "{} connections held at once with maxclients {LIMIT}",
            most.load(Ordering::Acquire)
        );
        assert_eq!(admission.stats.connections.load(Ordering::Acquire), 0);
    }

    #[test]
    fn no_limit_admits_everyone_and_counts_them() {
        let admission = Admission::new(None, Arc::new(Stats::default()));
        let open: Vec<_> = (0..100).map(|_| admission.try_admit().unwrap()).collect();
        assert_eq!(admission.stats.connections.load(Ordering::Acquire), 100);
        drop(open);
        assert_eq!(admission.stats.connections.load(Ordering::Acquire), 0);
        let one = Admission::new(Some(1), Arc::new(Stats::default()));
        let first = one.try_admit();
        assert!(first.is_some() && one.try_admit().is_none());
        drop(first);
        assert!(
            one.try_admit().is_some(),
            "a closed connection frees its place"
        );
    }
}

//! How many share-chain stores are open in the process, so that the binary can wait for the
//! last one to close before it exits. RocksDB keeps static objects (its default `Env` and
//! thread pools) that are torn down at process exit; a database still open, or closing on
//! another thread (the share chain's thread ends only once the runtime dropped its last
//! sender), can then abort the process after everything else went well.

use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

static OPEN: Mutex<usize> = Mutex::new(0);
static CLOSED: Condvar = Condvar::new();

fn count() -> MutexGuard<'static, usize> {
    OPEN.lock().unwrap_or_else(|e| e.into_inner())
}

/// Held by an open store, as its last field so that it drops after the database.
#[derive(Debug)]
pub struct OpenStore(());

impl OpenStore {
    /// Counts one more open store.
    pub fn new() -> OpenStore {
        *count() += 1;
        OpenStore(())
    }
}

impl Default for OpenStore {
    fn default() -> Self {
        OpenStore::new()
    }
}

impl Drop for OpenStore {
    fn drop(&mut self) {
        let mut n = count();
        *n = n.saturating_sub(1);
        if *n == 0 {
            CLOSED.notify_all();
        }
    }
}

/// Stores open now.
pub fn open() -> usize {
    *count()
}

/// Waits until no store is open, at most `within`; false when some still was.
pub fn wait_all_closed(within: Duration) -> bool {
    let deadline = Instant::now() + within;
    let mut n = count();
    while *n > 0 {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return false;
        }
        n = CLOSED
            .wait_timeout(n, left)
            .unwrap_or_else(|e| e.into_inner())
            .0;
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    /// While a store is open the wait gives up at its bound; the count follows the guards.
    /// (Other tests of this binary may hold stores too: only this test's own guard is
    /// reasoned about; the binary's exit after a p2pool run is the end-to-end case.)
    #[test]
    fn a_store_held_open_holds_the_wait_to_its_bound() {
        let guard = OpenStore::new();
        assert!(open() >= 1);
        let started = Instant::now();
        assert!(!wait_all_closed(Duration::from_millis(50)));
        assert!(started.elapsed() >= Duration::from_millis(50));
        drop(guard);
    }
}

//! Live counters shared by all connection tasks, plus the submit latency histogram.

use super::histogram::Histogram;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

/// Counters of one run; every field is updated lock-free except the reason maps.
#[derive(Debug, Default)]
pub struct Stats {
    /// TCP connections established.
    pub connected: AtomicU64,
    /// Connections whose `mining.authorize` returned true.
    pub authorized: AtomicU64,
    /// Authorized connections still open.
    pub held: AtomicU64,
    /// Highest value `held` reached.
    pub max_held: AtomicU64,
    /// Connection tasks that ended without ever being authorized.
    pub failed_before_auth: AtomicU64,
    /// Connections that received at least one job.
    pub with_job: AtomicU64,
    /// `mining.submit` written.
    pub submitted: AtomicU64,
    /// Replies `result: true`.
    pub accepted: AtomicU64,
    /// Replies that were not accepted.
    pub rejected: AtomicU64,
    /// Submits unanswered after the submit timeout.
    pub timeouts: AtomicU64,
    /// Submits skipped because too many were in flight on that connection.
    pub skipped_in_flight: AtomicU64,
    /// Mine mode: shares given up after the hash budget.
    pub mine_gave_up: AtomicU64,
    /// Hashes computed in mine mode.
    pub hashes: AtomicU64,
    /// `mining.notify` received.
    pub notifies: AtomicU64,
    /// Last difficulty seen (f64 bits).
    pub last_difficulty_bits: AtomicU64,
    /// Submit round trip, µs.
    pub latency: Histogram,
    /// Longest a 1 ms timer in the generator's own runtime fired late, µs (see
    /// `mod.rs::stall_probe`).
    pub runtime_stall_max_us: AtomicU64,
    /// Reject reason → count.
    pub reject_reasons: Mutex<BTreeMap<String, u64>>,
    /// Connection error kind → count.
    pub errors: Mutex<BTreeMap<String, u64>>,
}

fn bump(map: &Mutex<BTreeMap<String, u64>>, key: &str) {
    let mut m = match map.lock() {
        Ok(m) => m,
        Err(p) => p.into_inner(),
    };
    match m.get_mut(key) {
        Some(n) => *n += 1,
        None => {
            m.insert(key.to_string(), 1);
        }
    }
}

fn copy(map: &Mutex<BTreeMap<String, u64>>) -> BTreeMap<String, u64> {
    match map.lock() {
        Ok(m) => m.clone(),
        Err(p) => p.into_inner().clone(),
    }
}

/// The monotonic counters at one instant, for rates over a window.
#[derive(Clone, Copy, Debug, Default)]
pub struct Counters {
    /// See [`Stats::submitted`].
    pub submitted: u64,
    /// See [`Stats::accepted`].
    pub accepted: u64,
    /// See [`Stats::rejected`].
    pub rejected: u64,
    /// See [`Stats::timeouts`].
    pub timeouts: u64,
}

impl Stats {
    /// Counts one rejected share under `reason`.
    pub fn reject(&self, reason: &str) {
        self.rejected.fetch_add(1, Ordering::Relaxed);
        bump(&self.reject_reasons, reason);
    }

    /// Counts one connection failure of kind `kind`.
    pub fn error(&self, kind: &str) {
        bump(&self.errors, kind);
    }

    /// A connection became authorized.
    pub fn up(&self) {
        self.authorized.fetch_add(1, Ordering::Relaxed);
        let now = self.held.fetch_add(1, Ordering::Relaxed) + 1;
        self.max_held.fetch_max(now, Ordering::Relaxed);
    }

    /// An authorized connection ended.
    pub fn down(&self) {
        self.held.fetch_sub(1, Ordering::Relaxed);
    }

    /// Reads the share counters.
    pub fn counters(&self) -> Counters {
        let r = |a: &AtomicU64| a.load(Ordering::Relaxed);
        Counters {
            submitted: r(&self.submitted),
            accepted: r(&self.accepted),
            rejected: r(&self.rejected),
            timeouts: r(&self.timeouts),
        }
    }

    /// A copy of the reject reasons.
    pub fn reject_reasons(&self) -> BTreeMap<String, u64> {
        copy(&self.reject_reasons)
    }

    /// A copy of the connection errors.
    pub fn errors(&self) -> BTreeMap<String, u64> {
        copy(&self.errors)
    }

    /// Reads a plain counter.
    pub fn get(a: &AtomicU64) -> u64 {
        a.load(Ordering::Relaxed)
    }
}

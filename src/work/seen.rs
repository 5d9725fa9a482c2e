//! Duplicate detection for one job across every session, as ckpool's single share table: a
//! share counts once however it comes back (again on the same connection, on a connection
//! that resumed the session's extranonce1, or from a proxy on another connection). It lives
//! beside the job on the board's posting, for as long as any session holds the job.

use std::hash::{BuildHasherDefault, Hasher};

use dashmap::DashSet;

/// The accepted share hashes of one job. Only their first 8 bytes are kept: hash bytes are
/// uniformly random, so two different shares of one job collide with odds of about
/// n² / 2⁶⁵ (3 in 10⁸ at a million shares).
#[derive(Debug, Default)]
pub struct SeenShares(DashSet<u64, BuildHasherDefault<PrehashedKey>>);

impl SeenShares {
    /// True the first time a share with this header hash (internal byte order) is offered,
    /// false for every later time.
    pub fn first_time(&self, hash: &[u8; 32]) -> bool {
        let mut key = [0u8; 8];
        key.copy_from_slice(&hash[..8]);
        self.0.insert(u64::from_le_bytes(key))
    }

    /// How many distinct shares were offered.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True before the first share.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// A hasher for keys that are already uniformly distributed (bytes of a SHA-256 hash).
#[derive(Debug, Default, Clone, Copy)]
pub struct PrehashedKey(u64);

impl Hasher for PrehashedKey {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 << 8) | u64::from(*b);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hash(first: u8, last: u8) -> [u8; 32] {
        let mut h = [0u8; 32];
        h[0] = first;
        h[31] = last;
        h
    }

    #[test]
    fn a_hash_counts_once() {
        let seen = SeenShares::default();
        assert!(seen.first_time(&hash(1, 0)));
        assert!(!seen.first_time(&hash(1, 0)));
        assert!(seen.first_time(&hash(2, 0)));
        assert_eq!(seen.len(), 2);
    }

    #[test]
    fn sessions_on_two_threads_share_one_record() {
        let seen = SeenShares::default();
        let firsts: usize = std::thread::scope(|s| {
            let a = s.spawn(|| (0..1000u16).filter(|i| seen.first_time(&key(*i))).count());
            let b = s.spawn(|| (0..1000u16).filter(|i| seen.first_time(&key(*i))).count());
            a.join().unwrap() + b.join().unwrap()
        });
        assert_eq!(firsts, 1000, "each hash accepted exactly once");
    }

    fn key(i: u16) -> [u8; 32] {
        let mut h = [0u8; 32];
        h[..2].copy_from_slice(&i.to_le_bytes());
        h
    }
}

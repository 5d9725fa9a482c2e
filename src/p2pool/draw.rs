//! A deterministic draw for consensus: every node draws the same numbers from the same
//! seed (a hash the chain fixes), so a payout that involves chance is still a pure function
//! of the chain. Numbers are SHA-256 of the seed and a counter; a draw below `n` rejects
//! values in the last incomplete span, so it is exactly uniform.

use sha2::{Digest, Sha256};

/// A stream of numbers from one seed.
#[derive(Debug, Clone)]
pub struct Draw {
    seed: [u8; 32],
    counter: u64,
}

impl Draw {
    /// The stream of `seed`.
    pub fn new(seed: [u8; 32]) -> Draw {
        Draw { seed, counter: 0 }
    }

    /// The next 128 bits.
    fn next_u128(&mut self) -> u128 {
        let mut h = Sha256::new();
        h.update(self.seed);
        h.update(self.counter.to_le_bytes());
        self.counter += 1;
        let digest = h.finalize();
        let mut first = [0u8; 16];
        first.copy_from_slice(&digest[..16]);
        u128::from_le_bytes(first)
    }

    /// A number uniformly in `0..n` (`n` above 0; 0 gives 0).
    pub fn below(&mut self, n: u128) -> u128 {
        if n <= 1 {
            return 0;
        }
        // The largest multiple of n that fits: values at or above it are drawn again.
        let limit = u128::MAX - (u128::MAX % n);
        loop {
            let v = self.next_u128();
            if v < limit {
                return v % n;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_draws_the_same_numbers() {
        let mut a = Draw::new([7; 32]);
        let mut b = Draw::new([7; 32]);
        let mut c = Draw::new([8; 32]);
        let xs: Vec<u128> = (0..50).map(|_| a.below(1000)).collect();
        let ys: Vec<u128> = (0..50).map(|_| b.below(1000)).collect();
        let zs: Vec<u128> = (0..50).map(|_| c.below(1000)).collect();
        assert_eq!(xs, ys);
        assert_ne!(xs, zs);
        assert!(xs.iter().all(|x| *x < 1000));
    }

    #[test]
    fn draws_are_uniform() {
        // 60,000 draws in 6 buckets: each within 4 standard deviations of 10,000.
        let mut d = Draw::new([1; 32]);
        let mut buckets = [0u32; 6];
        for _ in 0..60_000 {
            buckets[d.below(6) as usize] += 1;
        }
        let sd = (60_000.0f64 * (1.0 / 6.0) * (5.0 / 6.0)).sqrt();
        for (i, n) in buckets.iter().enumerate() {
            assert!(
                (f64::from(*n) - 10_000.0).abs() < 4.0 * sd,
                "bucket {i}: {n}"
            );
        }
        assert_eq!(d.below(1), 0);
        assert_eq!(d.below(0), 0);
    }
}

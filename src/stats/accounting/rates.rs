//! A user's or worker's decaying difficulty-shares-per-second averages (ckpool's
//! `decay_user`/`decay_worker`), and the hashrate strings the stats files show for them.

use ckpool_compat::stats::suffix_hashrate;

use crate::decay::{decay_time, DAY, HOUR, MIN1, MIN5, WEEK};

/// Hashes per difficulty-1 share.
pub const NONCES: f64 = 4_294_967_296.0;

/// ckpool's `sane_tdiff`: elapsed seconds, at least a millisecond.
fn sane_tdiff(end: f64, start: f64) -> f64 {
    (end - start).max(0.001)
}

/// A user's or worker's decaying difficulty-shares-per-second averages.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Rates {
    /// 1-minute average.
    pub dsps1: f64,
    /// 5-minute average.
    pub dsps5: f64,
    /// 1-hour average.
    pub dsps60: f64,
    /// 1-day average.
    pub dsps1440: f64,
    /// 7-day average.
    pub dsps10080: f64,
    /// When the averages were last decayed (unix seconds; 0 = never, as ckpool's zeroed
    /// instance, which makes a first share count for almost nothing).
    pub last_decay: f64,
    /// Difficulty waiting for the next decay (updates closer than 50 ms are batched).
    pub uadiff: f64,
}

impl Rates {
    /// ckpool's `decay_user`/`decay_worker`: adds `diff` at `now`.
    pub fn decay(&mut self, diff: f64, now: f64) {
        let tdiff = sane_tdiff(now, self.last_decay);
        if tdiff < 0.05 {
            self.uadiff += diff;
            return;
        }
        self.last_decay = now;
        let diff = diff + self.uadiff;
        self.uadiff = 0.0;
        decay_time(&mut self.dsps1, diff, tdiff, MIN1);
        decay_time(&mut self.dsps5, diff, tdiff, MIN5);
        decay_time(&mut self.dsps60, diff, tdiff, HOUR);
        decay_time(&mut self.dsps1440, diff, tdiff, DAY);
        decay_time(&mut self.dsps10080, diff, tdiff, WEEK);
    }

    /// The 1 m, 5 m, 1 h, 1 d and 7 d averages as the files write hashrates (`"1.2T"`).
    pub(super) fn hashrates(&self) -> [String; 5] {
        [
            self.dsps1,
            self.dsps5,
            self.dsps60,
            self.dsps1440,
            self.dsps10080,
        ]
        .map(|d| suffix_hashrate(d * NONCES))
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{authorized, by_hand, close, share, T0};
    use super::super::Accounting;
    use super::*;

    #[test]
    fn worker_rates_decay_like_ckpool() {
        let mut acc = Accounting::new(T0);
        acc.on_event(&authorized("u", "u.w", T0));
        // The first share meets a never-decayed account: 1.7e9 s since the epoch, so it
        // counts for almost nothing (ckpool's zeroed last_decay).
        acc.on_share(&share("u", "u.w", 8.0, 10.0, Ok(()), T0 + 1.0));
        let w = acc.user("u").unwrap().worker("u.w").unwrap().clone();
        let first = by_hand(0.0, 8.0, T0 + 1.0, MIN1);
        assert!(
            close(w.tally.rates.dsps1, first),
            "{} {first}",
            w.tally.rates.dsps1
        );
        // Then 10 s later, 16 more.
        acc.on_share(&share("u", "u.w", 16.0, 17.0, Ok(()), T0 + 11.0));
        let w = acc.user("u").unwrap().worker("u.w").unwrap();
        let want1 = by_hand(first, 16.0, 10.0, MIN1);
        let want5 = by_hand(by_hand(0.0, 8.0, T0 + 1.0, MIN5), 16.0, 10.0, MIN5);
        assert!(
            close(w.tally.rates.dsps1, want1),
            "{} {want1}",
            w.tally.rates.dsps1
        );
        assert!(close(w.tally.rates.dsps5, want5));
        // 16/10 * p / (1 + p) with p = 1 - e^(-1/6): ≈ 0.21294 diff-shares/s.
        assert!(
            (w.tally.rates.dsps1 - 0.21294).abs() < 1e-4,
            "{}",
            w.tally.rates.dsps1
        );
        assert_eq!(w.tally.shares, 24.0);
        assert_eq!(w.tally.last_share, T0 + 11.0);
        // The user saw the same shares.
        let u = acc.user("u").unwrap();
        assert!(close(u.tally.rates.dsps1, want1));
        assert_eq!(u.tally.shares, 24.0);
    }

    #[test]
    fn updates_within_50ms_are_batched() {
        let mut r = Rates {
            last_decay: T0,
            ..Rates::default()
        };
        r.decay(4.0, T0 + 0.01);
        assert_eq!((r.dsps1, r.uadiff, r.last_decay), (0.0, 4.0, T0));
        r.decay(2.0, T0 + 10.0);
        assert!(close(r.dsps1, by_hand(0.0, 6.0, 10.0, MIN1)));
        assert_eq!(r.uadiff, 0.0);
    }
}

//! ckpool's variable difficulty: decaying averages of difficulty-shares per second (ckpool's
//! `decay_time` and `time_bias`, from [`crate::decay`]), a time bias for young sessions, a target of one share per ~3.33 s with hysteresis, and
//! retargets only after 72 shares or 240 s. Difficulties are floats (ckpool's are integers).

use std::time::Instant;

use crate::decay::{decay_time, time_bias, DAY, HOUR, MIN1, MIN5, WEEK};

/// The difficulty bounds that apply to one session.
#[derive(Debug, Clone, Copy)]
pub struct DiffBounds {
    /// Pool minimum (ckpool `mindiff`) raised by the miner's suggestion or configure floor.
    pub min: f64,
    /// Pool maximum (ckpool `maxdiff`), if any.
    pub max: Option<f64>,
    /// The network difficulty: a share can never need more than a block.
    pub network: f64,
}

impl DiffBounds {
    /// Clamps `d` into the bounds (the minimum wins over the network cap, as in ckpool).
    pub fn clamp(&self, d: f64) -> f64 {
        let mut d = d;
        if let Some(max) = self.max {
            d = d.min(max);
        }
        d = d.min(self.network);
        d.max(self.min)
    }
}

/// Per-session vardiff state.
#[derive(Debug, Clone)]
pub struct Vardiff {
    /// Difficulty-shares per second, decayed over 1 minute.
    pub dsps1: f64,
    /// … over 5 minutes (the one retargets use).
    pub dsps5: f64,
    /// … over 1 hour.
    pub dsps60: f64,
    /// … over 1 day.
    pub dsps1440: f64,
    /// … over 7 days.
    pub dsps10080: f64,
    first_share: Option<Instant>,
    last_share: Instant,
    last_change: Instant,
    shares_since_change: u32,
}

impl Vardiff {
    /// Fresh state for a session that starts now.
    pub fn new(now: Instant) -> Self {
        Vardiff {
            dsps1: 0.0,
            dsps5: 0.0,
            dsps60: 0.0,
            dsps1440: 0.0,
            dsps10080: 0.0,
            first_share: None,
            last_share: now,
            last_change: now,
            shares_since_change: 0,
        }
    }

    /// Records that the difficulty changed (resets the retarget clock).
    pub fn changed(&mut self, now: Instant) {
        self.last_change = now;
        self.shares_since_change = 0;
    }

    /// Records an accepted share judged at `share_diff`; returns the new difficulty when a
    /// retarget is due (already clamped), `None` otherwise.
    pub fn on_share(
        &mut self,
        now: Instant,
        share_diff: f64,
        current: f64,
        bounds: &DiffBounds,
    ) -> Option<f64> {
        let tdiff = secs(now, self.last_share).max(0.001);
        decay_time(&mut self.dsps1, share_diff, tdiff, MIN1);
        decay_time(&mut self.dsps5, share_diff, tdiff, MIN5);
        decay_time(&mut self.dsps60, share_diff, tdiff, HOUR);
        decay_time(&mut self.dsps1440, share_diff, tdiff, DAY);
        decay_time(&mut self.dsps10080, share_diff, tdiff, WEEK);
        self.last_share = now;
        self.shares_since_change += 1;
        let first = match self.first_share {
            Some(first) => first,
            None => {
                // As ckpool: the retarget clock starts at the first share, not at connect.
                // Otherwise a first share 240 s after connecting would be judged with the
                // young-session bias of a session one share old, and raise the difficulty
                // a thousandfold.
                self.first_share = Some(now);
                self.last_change = now;
                now
            }
        };

        let since_change = secs(now, self.last_change);
        if self.shares_since_change < 72 && since_change < 240.0 {
            return None;
        }
        if share_diff != current {
            // A share from before the last change: wait for shares at the current one.
            self.shares_since_change = 0;
            return None;
        }
        let bias = time_bias(secs(now, first).max(0.001), MIN5);
        let dsps = self.dsps5 / bias;
        let drr = dsps / current;
        if drr > 0.15 && drr < 0.4 {
            return None;
        }
        let optimal = bounds.clamp(round_sig(dsps * 3.33));
        if optimal == current {
            return None;
        }
        if optimal < current && self.shares_since_change == 1 {
            // The first share since the last change, and it says "lower": the miner may
            // just be back from an absence. As ckpool, restart the clock instead.
            self.last_change = now;
            return None;
        }
        self.changed(now);
        Some(optimal)
    }
}

fn secs(now: Instant, then: Instant) -> f64 {
    now.saturating_duration_since(then).as_secs_f64()
}

/// Rounds to 4 significant digits so difficulties stay readable (`0.0123`, `4096`).
fn round_sig(d: f64) -> f64 {
    if !d.is_finite() || d <= 0.0 {
        return d;
    }
    if d >= 1.0 {
        return d.round();
    }
    let scale = 10f64.powi(3 - d.log10().floor() as i32);
    (d * scale).round() / scale
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn bounds() -> DiffBounds {
        DiffBounds {
            min: 0.0001,
            max: None,
            network: 1e12,
        }
    }

    #[test]
    fn raises_difficulty_for_a_fast_miner_after_72_shares() {
        let t0 = Instant::now();
        let mut v = Vardiff::new(t0);
        let mut diff = 1.0;
        let mut changed_at = None;
        // 10 shares per second at difficulty 1: the ideal is ~33.
        for i in 1..=100u64 {
            let now = t0 + Duration::from_millis(100 * i);
            if let Some(d) = v.on_share(now, diff, diff, &bounds()) {
                diff = d;
                changed_at = Some(i);
                break;
            }
        }
        assert_eq!(changed_at, Some(72));
        assert!(diff > 10.0 && diff < 100.0, "diff {diff}");
    }

    #[test]
    fn holds_inside_the_hysteresis_band() {
        let t0 = Instant::now();
        let mut v = Vardiff::new(t0);
        // One share every 3.33 s at difficulty 1 for 20 minutes: drr ~0.3, no change.
        for i in 1..=360u64 {
            let now = t0 + Duration::from_millis(3330 * i);
            assert_eq!(v.on_share(now, 1.0, 1.0, &bounds()), None, "share {i}");
        }
    }

    #[test]
    fn a_late_first_share_starts_the_clock_instead_of_retargeting() {
        let t0 = Instant::now();
        let mut v = Vardiff::new(t0);
        // Connected at t0, first share 600 s later, then one share every 3.33 s at
        // difficulty 1 (the rate difficulty 1 is right for) for 20 minutes.
        for i in 0..360u64 {
            let now = t0 + Duration::from_secs(600) + Duration::from_millis(3330 * i);
            assert_eq!(v.on_share(now, 1.0, 1.0, &bounds()), None, "share {i}");
        }
    }

    #[test]
    fn a_lower_target_on_the_first_share_after_a_change_restarts_the_clock() {
        let t0 = Instant::now();
        let mut v = Vardiff::new(t0);
        assert_eq!(v.on_share(t0, 64.0, 64.0, &bounds()), None);
        v.changed(t0 + Duration::from_secs(1));
        // Away for 1,000 s: the first share back does not lower the difficulty...
        let back = t0 + Duration::from_secs(1000);
        assert_eq!(v.on_share(back, 64.0, 64.0, &bounds()), None);
        // ...but a miner that stays slow (one share a minute) is lowered once 240 s have
        // passed since it came back, not before.
        let mut lowered = None;
        for i in 1..=10u64 {
            let now = back + Duration::from_secs(60 * i);
            if let Some(d) = v.on_share(now, 64.0, 64.0, &bounds()) {
                lowered = Some((i, d));
                break;
            }
        }
        let (minutes, d) = lowered.expect("lowered");
        assert_eq!(minutes, 4, "lowered after {minutes} min");
        assert!(d < 64.0, "{d}");
    }

    #[test]
    fn clamps_to_bounds() {
        let b = DiffBounds {
            min: 0.5,
            max: Some(8.0),
            network: 4.0,
        };
        assert_eq!(b.clamp(100.0), 4.0);
        assert_eq!(b.clamp(0.01), 0.5);
        assert_eq!(round_sig(0.012345), 0.01235);
        assert_eq!(round_sig(33.3), 33.0);
    }
}

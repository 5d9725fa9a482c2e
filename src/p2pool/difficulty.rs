//! The share-difficulty rule: ASERT (absolutely scheduled exponentially rising targets, as
//! Bitcoin Cash's aserti3-2d), in integer arithmetic only. The chain's first share, at
//! height one, has the spec's initial target and is the anchor; every later share's target
//! follows from the anchor's time, the share's height and its parent's time alone:
//!
//! `target = initial × 2^((parent_time − first_time − period × (height − 2)) / half_life)`
//!
//! Anchored at the first share, not at the spec's genesis time: a chain started long after
//! its genesis time would otherwise owe the schedule every second since, and run at the
//! minimum difficulty (a flood of shares) until it caught up.
//!
//! so a chain running on schedule keeps the anchor's target, and every half-life it runs
//! late (slow shares) the target doubles (easier), every half-life early it halves. Why
//! ASERT: it depends on one ancestor's timestamp, not a window of them (no window to
//! maintain, nothing to game at its edges), it has no oscillation (Bitcoin p2pool's and
//! Monero's moving windows ring after a hashrate step), and its error does not accumulate
//! (the schedule is absolute). The power of two's fractional part uses aserti3-2d's cubic
//! approximation on 16 fractional bits; everything is fixed width, so every machine gets
//! the same target.

use ruint::aliases::U256;
use ruint::Uint;

use super::spec::ChainSpec;
use super::target::target_of;

/// Wide enough for a 256-bit target times a 17-bit factor.
type U320 = Uint<320, 5>;

/// The rule of one chain.
#[derive(Debug, Clone)]
pub struct Asert {
    anchor_target: U256,
    anchor_time: i128,
    period: i128,
    half_life: i128,
    max_target: U256,
}

impl Asert {
    /// The rule of `spec` (which must be valid: its targets decode).
    pub fn new(spec: &ChainSpec) -> Asert {
        let max_target = target_of(spec.min_share_bits).unwrap_or(U256::MAX);
        Asert {
            anchor_target: target_of(spec.initial_share_bits).unwrap_or(max_target),
            anchor_time: i128::from(spec.genesis_time),
            period: i128::from(spec.share_period_secs),
            half_life: i128::from(spec.asert_half_life_secs.max(1)),
            max_target,
        }
    }

    /// The first share's target: the spec's initial one.
    pub fn initial(&self) -> U256 {
        self.anchor_target.clamp(U256::from(1u8), self.max_target)
    }

    /// The target of the share at `height` (2 or more) whose parent has time
    /// `parent_time`, on a chain whose first share had time `first_time`.
    pub fn target_after_first(&self, first_time: u64, height: u64, parent_time: u64) -> U256 {
        self.scheduled(
            i128::from(first_time),
            i128::from(height.max(2)) - 2,
            parent_time,
        )
    }

    /// The target of the share at `height` (the genesis is height 0, its first child 1)
    /// whose parent has time `parent_time`, scheduled from the spec's genesis time. Never
    /// easier than the spec's minimum difficulty, never zero.
    pub fn target(&self, height: u64, parent_time: u64) -> U256 {
        self.scheduled(self.anchor_time, i128::from(height.max(1)) - 1, parent_time)
    }

    /// The anchor's target × 2^((parent_time − anchor_time − period × height_diff) /
    /// half_life).
    fn scheduled(&self, anchor_time: i128, height_diff: i128, parent_time: u64) -> U256 {
        let time_diff = i128::from(parent_time) - anchor_time;
        // Truncated toward zero, as aserti3-2d's C++ division.
        let exponent = (time_diff - self.period * height_diff) * 65_536 / self.half_life;
        let shifts = exponent >> 16;
        let frac = (exponent & 0xffff) as u128;
        // 2^(frac/65536) × 65536, within 0.013 %: aserti3-2d's cubic.
        let factor = 65_536u128
            + ((195_766_423_245_049u128 * frac
                + 971_821_376u128 * frac * frac
                + 5_127u128 * frac * frac * frac
                + (1u128 << 47))
                >> 48);
        let mut next = U320::from(self.anchor_target) * U320::from(factor);
        if shifts < 0 {
            let right = usize::try_from(-shifts).unwrap_or(usize::MAX);
            next = if right >= 320 {
                U320::ZERO
            } else {
                next >> right
            };
        } else {
            let left = usize::try_from(shifts).unwrap_or(usize::MAX);
            if left >= 320 || next.bit_len() + left > 320 {
                return self.max_target;
            }
            next <<= left;
        }
        next >>= 16;
        if next.bit_len() > 256 {
            return self.max_target;
        }
        let next = U256::from_limbs_slice(&next.as_limbs()[..4]);
        next.clamp(U256::from(1u8), self.max_target)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::p2pool::target::Bits;

    fn spec() -> ChainSpec {
        ChainSpec {
            min_share_bits: Bits(0x1d00_ffff),
            initial_share_bits: Bits(0x1b00_ffff),
            ..ChainSpec::preset("main").unwrap()
        }
    }

    /// 256-bit target to f64, for the independent check.
    fn f(t: U256) -> f64 {
        t.as_limbs().iter().rev().fold(0.0, |acc, limb| {
            acc * 18_446_744_073_709_551_616.0 + *limb as f64
        })
    }

    #[test]
    fn on_schedule_the_target_is_the_anchor() {
        let s = spec();
        let rule = Asert::new(&s);
        let anchor = target_of(s.initial_share_bits).unwrap();
        for height in [1u64, 2, 100, 1_000_000] {
            let on_time = s.genesis_time + u64::from(s.share_period_secs) * (height - 1);
            assert_eq!(rule.target(height, on_time), anchor, "height {height}");
        }
    }

    #[test]
    fn a_half_life_off_schedule_doubles_or_halves_it_exactly() {
        let s = spec();
        let rule = Asert::new(&s);
        let anchor = target_of(s.initial_share_bits).unwrap();
        let h = u64::from(s.asert_half_life_secs);
        let t0 = s.genesis_time + 10 * 999;
        assert_eq!(rule.target(1000, t0 + h), anchor * U256::from(2u8));
        assert_eq!(rule.target(1000, t0 - h), anchor / U256::from(2u8));
        assert_eq!(rule.target(1000, t0 + 3 * h), anchor * U256::from(8u8));
    }

    #[test]
    fn between_half_lives_it_follows_two_to_the_power_computed_independently() {
        let s = spec();
        let rule = Asert::new(&s);
        let anchor = f(target_of(s.initial_share_bits).unwrap());
        let half = f64::from(s.asert_half_life_secs);
        let mut last = U256::ZERO;
        for off in (-1800i64..=1800).step_by(7) {
            let height = 5000u64;
            let t = (s.genesis_time as i64 + 10 * (height as i64 - 1) + off) as u64;
            let ours = rule.target(height, t);
            let want = anchor * (off as f64 / half).exp2();
            let rel = (f(ours) - want).abs() / want;
            assert!(rel < 2e-4, "off {off}: {} vs {want} ({rel})", f(ours));
            assert!(ours >= last, "later parents never give harder targets");
            last = ours;
        }
    }

    #[test]
    fn scheduled_from_the_first_share_a_late_chain_starts_at_the_initial_target() {
        let s = spec();
        let rule = Asert::new(&s);
        let initial = target_of(s.initial_share_bits).unwrap();
        // A chain whose first share came a year after the genesis time.
        let first = s.genesis_time + 365 * 86_400;
        assert_eq!(rule.initial(), initial);
        let period = u64::from(s.share_period_secs);
        for height in [2u64, 3, 1_000] {
            let on_time = first + period * (height - 2);
            assert_eq!(rule.target_after_first(first, height, on_time), initial);
        }
        let h = u64::from(s.asert_half_life_secs);
        assert_eq!(
            rule.target_after_first(first, 1_000, first + period * 998 + h),
            initial * U256::from(2u8)
        );
        // The genesis-anchored schedule would be at the minimum difficulty.
        assert_eq!(
            rule.target(1_000, first + period * 998),
            target_of(s.min_share_bits).unwrap()
        );
    }

    #[test]
    fn never_easier_than_the_minimum_difficulty_nor_zero() {
        let s = spec();
        let rule = Asert::new(&s);
        let max = target_of(s.min_share_bits).unwrap();
        // Years without shares.
        assert_eq!(rule.target(1, s.genesis_time + 100_000_000), max);
        // Shares impossibly fast: far ahead of schedule.
        assert_eq!(rule.target(u64::MAX / 2, s.genesis_time), U256::from(1u8));
        // A parent time before the genesis.
        assert!(rule.target(1, 0) >= U256::from(1u8));
    }
}

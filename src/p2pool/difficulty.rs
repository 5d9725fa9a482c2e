//! The share-difficulty rule: ASERT (exponentially adjusted targets, as Bitcoin Cash's
//! aserti3-2d), in integer arithmetic only, anchored at each share's parent: the first two
//! shares of a chain have the spec's initial target, and every later share's target
//! follows from its parent's target and the time its parent took:
//!
//! `target = parent_target × 2^((parent_time − grandparent_time − period) / half_life)`
//!
//! A share that came on schedule (one period after its own parent) leaves the target as it
//! was; every half-life a share was late the target doubles (easier), every half-life early
//! it halves. Why this rule: it reads two timestamps, not a window of them (no window to
//! maintain, nothing to game at its edges), it does not oscillate (Bitcoin p2pool's and
//! Monero's moving windows ring after a hashrate step), and it carries no schedule debt: an
//! absolute schedule (aserti3-2d's fixed anchor) makes a chain that was idle for a day, or
//! started a day after its genesis time, run at the minimum difficulty until the shares
//! since have paid back a day of periods, a flood of shares; here a long gap makes only the
//! next share easier, and the target is back within about `half_life / period × log2` of
//! the ratio shares. A share's time can move its child's target, but a time off by `d`
//! seconds moves its child's target by `2^(d / half_life)` and its grandchild's back. The
//! power of two's fractional part uses aserti3-2d's cubic approximation on 16 fractional
//! bits; everything is fixed width, so every machine gets the same target.

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
            period: i128::from(spec.share_period_secs),
            half_life: i128::from(spec.asert_half_life_secs.max(1)),
            max_target,
        }
    }

    /// The first two shares' target: the spec's initial one.
    pub fn initial(&self) -> U256 {
        self.anchor_target.clamp(U256::from(1u8), self.max_target)
    }

    /// The target of a share whose parent has target `parent_target` and time
    /// `parent_time`, the parent's own parent time `grandparent_time`. Never easier than
    /// the spec's minimum difficulty, never zero.
    pub fn after(&self, parent_target: U256, parent_time: u64, grandparent_time: u64) -> U256 {
        self.scheduled(parent_target, i128::from(grandparent_time), 1, parent_time)
    }

    /// `anchor_target × 2^((parent_time − anchor_time − period × height_diff) / half_life)`,
    /// clamped.
    fn scheduled(
        &self,
        anchor_target: U256,
        anchor_time: i128,
        height_diff: i128,
        parent_time: u64,
    ) -> U256 {
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
        let mut next = U320::from(anchor_target) * U320::from(factor);
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
    fn a_share_on_schedule_keeps_its_parents_target() {
        let s = spec();
        let rule = Asert::new(&s);
        let period = u64::from(s.share_period_secs);
        let t = s.genesis_time + 86_400;
        for target in [
            rule.initial(),
            rule.initial() * U256::from(3u8),
            U256::from(1u64 << 40),
        ] {
            assert_eq!(rule.after(target, t, t - period), target);
        }
    }

    #[test]
    fn a_half_life_off_schedule_doubles_or_halves_it_exactly() {
        let s = spec();
        let rule = Asert::new(&s);
        let anchor = rule.initial();
        let (h, period) = (
            u64::from(s.asert_half_life_secs),
            u64::from(s.share_period_secs),
        );
        let t = s.genesis_time + 86_400;
        assert_eq!(
            rule.after(anchor, t, t - period - h),
            anchor * U256::from(2u8)
        );
        assert_eq!(
            rule.after(anchor, t, t - period + h),
            anchor / U256::from(2u8)
        );
        assert_eq!(
            rule.after(anchor, t, t - period - 3 * h),
            anchor * U256::from(8u8)
        );
    }

    #[test]
    fn between_half_lives_it_follows_two_to_the_power_computed_independently() {
        let s = spec();
        let rule = Asert::new(&s);
        let anchor = f(rule.initial());
        let half = f64::from(s.asert_half_life_secs);
        let period = i64::from(s.share_period_secs);
        let t = (s.genesis_time + 86_400) as i64;
        let mut last = U256::ZERO;
        // The parent came `off` seconds later than scheduled (earlier when negative).
        for off in (-1800i64..=1800).step_by(7) {
            let grandparent = (t - period - off) as u64;
            let ours = rule.after(rule.initial(), t as u64, grandparent);
            let want = anchor * (off as f64 / half).exp2();
            let rel = (f(ours) - want).abs() / want;
            assert!(rel < 2e-4, "off {off}: {} vs {want} ({rel})", f(ours));
            assert!(ours >= last, "later parents never give harder targets");
            last = ours;
        }
    }

    #[test]
    fn a_long_gap_eases_one_share_and_fast_shares_bring_it_back() {
        let s = spec();
        let rule = Asert::new(&s);
        let max = target_of(s.min_share_bits).unwrap();
        let start = rule.initial();
        let period = u64::from(s.share_period_secs);
        // A day without shares: the next share is at the minimum difficulty…
        let mut t = s.genesis_time + 86_400;
        let mut target = rule.after(start, t + 86_400, t);
        assert_eq!(target, max);
        t += 86_400;
        // …and shares as fast as the time resolution allows bring it back in a bounded
        // number of shares (no schedule debt): each halves it every half-life of periods.
        let mut shares = 0;
        while target > start {
            target = rule.after(target, t, t);
            shares += 1;
            assert!(shares < 10_000, "still at {}", f(target));
        }
        let ratio = (f(max) / f(start)).log2();
        // Within 1% of the exact count: the power of two is approximated and truncated.
        let exact = ratio * f64::from(s.asert_half_life_secs) / period as f64;
        let (low, high) = (exact * 0.99 - 2.0, exact * 1.01 + 2.0);
        assert!(
            (low..=high).contains(&f64::from(shares)),
            "{shares} shares, {exact:.0} expected"
        );
    }

    #[test]
    fn never_easier_than_the_minimum_difficulty_nor_zero() {
        let s = spec();
        let rule = Asert::new(&s);
        let max = target_of(s.min_share_bits).unwrap();
        // Years without shares.
        assert_eq!(
            rule.after(rule.initial(), s.genesis_time + 100_000_000, s.genesis_time),
            max
        );
        // A parent impossibly fast: far ahead of schedule.
        assert_eq!(
            rule.after(
                U256::from(1u8),
                s.genesis_time,
                s.genesis_time + 100_000_000
            ),
            U256::from(1u8)
        );
        // A parent time before the genesis.
        assert!(rule.after(rule.initial(), 0, s.genesis_time) >= U256::from(1u8));
    }
}

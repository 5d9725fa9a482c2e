//! ckpool's decaying averages, shared by vardiff (per session) and the stats accounting
//! (per pool, user and worker), so both decay exactly as ckpool's `decay_time` does over the
//! same windows. A leaf: it uses nothing from the rest of the crate.

/// 1 minute, in seconds.
pub const MIN1: f64 = 60.0;
/// 5 minutes, in seconds.
pub const MIN5: f64 = 300.0;
/// 15 minutes, in seconds.
pub const MIN15: f64 = 900.0;
/// 1 hour, in seconds.
pub const HOUR: f64 = 3600.0;
/// 6 hours, in seconds.
pub const HOUR6: f64 = 21_600.0;
/// 1 day, in seconds.
pub const DAY: f64 = 86_400.0;
/// 7 days, in seconds.
pub const WEEK: f64 = 604_800.0;

/// ckpool's `time_bias`: the share of a window of `period` seconds that `tdiff` seconds
/// fill (1 - e^-(tdiff/period), the exponent capped at 36 as ckpool does). Vardiff divides
/// a young session's average by it; [`decay_time`] weighs each new sample with it.
pub fn time_bias(tdiff: f64, period: f64) -> f64 {
    let dexp = (tdiff / period).min(36.0);
    1.0 - (-dexp).exp()
}

/// ckpool's `decay_time`: folds `fadd` (difficulty or shares) that arrived over `fsecs`
/// seconds into the exponentially decaying per-second average `f` over `interval` seconds.
pub fn decay_time(f: &mut f64, fadd: f64, fsecs: f64, interval: f64) {
    if fsecs <= 0.0 {
        return;
    }
    let fprop = time_bias(fsecs, interval);
    *f += fadd / fsecs * fprop;
    *f /= 1.0 + fprop;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decay_matches_ckpool_formula() {
        // Independent evaluation of ckpool's decay_time for one step.
        let mut f = 0.0;
        decay_time(&mut f, 10.0, 5.0, 60.0);
        let fprop = 1.0 - 1.0 / (5.0f64 / 60.0).exp();
        assert!((f - (10.0 / 5.0 * fprop) / (1.0 + fprop)).abs() < 1e-12);
    }
}

//! Reading an earlier run's `pool.status` and `users/<user>` back (ckpool's
//! `read_poolstats` and `read_userstats`), so totals, best shares and rates carry on.

use std::sync::Arc;

use ckpool_compat::stats::{parse_suffixed, PoolStatus, UserStats};

use crate::decay::{decay_time, DAY, HOUR, HOUR6, MIN1, MIN15, MIN5, WEEK};

use super::estimate::Windows;
use super::rates::{Rates, NONCES};
use super::tally::Tally;
use super::Accounting;

impl Accounting {
    /// ckpool's `read_poolstats`: continues from an earlier run's `pool.status`, decaying
    /// its rates over the time the pool was down (less the minute a write can be late).
    pub fn restore_pool(&mut self, status: &PoolStatus, now: f64) {
        let h = &status.hashrates;
        let p = &mut self.pool;
        p.dsps = [
            &h.hashrate1m,
            &h.hashrate5m,
            &h.hashrate15m,
            &h.hashrate1hr,
            &h.hashrate6hr,
            &h.hashrate1d,
            &h.hashrate7d,
        ]
        .map(|s| dsps_from(s));
        let s = &status.shares;
        p.sps = [s.sps1m, s.sps5m, s.sps15m, s.sps1h];
        p.accounted_diff = s.accepted as f64;
        p.accounted_rejects = s.rejected as f64;
        p.best_diff = s.bestshare as f64;
        let down = now - status.counts.lastupdate as f64 - 60.0;
        if status.counts.lastupdate > 0 && down > 60.0 {
            for (f, interval) in p.sps.iter_mut().zip([MIN1, MIN5, MIN15, HOUR]) {
                decay_time(f, 0.0, down, interval);
            }
            for (f, interval) in p
                .dsps
                .iter_mut()
                .zip([MIN1, MIN5, MIN15, HOUR, HOUR6, DAY, WEEK])
            {
                decay_time(f, 0.0, down, interval);
            }
        }
    }

    /// ckpool's `read_userstats` for one user file: totals, best shares, rates and
    /// workers come back; the user is written again once it authorises. A restored user
    /// has no connection yet, so of all the files read only the [`IDLE_USERS_KEPT`] users
    /// most recently active (by `lastshare`) stay, with their most recent workers (see
    /// `forget.rs`).
    ///
    /// [`IDLE_USERS_KEPT`]: super::IDLE_USERS_KEPT
    pub fn restore_user(&mut self, name: &str, stats: &UserStats, now: f64) {
        let user: Arc<str> = Arc::from(name);
        self.with_user(&user, true, |u| {
            u.tally = tally_from(
                [
                    &stats.hashrate1m,
                    &stats.hashrate5m,
                    &stats.hashrate1hr,
                    &stats.hashrate1d,
                    &stats.hashrate7d,
                ],
                stats.lastshare,
                stats.shares,
                stats.bestshare,
                stats.bestever,
                now,
            );
            u.auth_time = stats.authorised;
        });
        for ws in &stats.worker {
            if ws.workername.is_empty() || !ws.workername.contains(name) {
                continue;
            }
            self.with_worker(&user, &Arc::from(ws.workername.as_str()), true, |w| {
                w.tally = tally_from(
                    [
                        &ws.hashrate1m,
                        &ws.hashrate5m,
                        &ws.hashrate1hr,
                        &ws.hashrate1d,
                        &ws.hashrate7d,
                    ],
                    ws.lastshare,
                    ws.shares,
                    ws.bestshare,
                    ws.bestever,
                    now,
                );
            });
        }
    }
}

/// A user's or worker's [`Tally`] back from its stats file's fields.
fn tally_from(
    hashrates: [&String; 5],
    lastshare: u64,
    shares: u64,
    bestshare: f64,
    bestever: u64,
    now: f64,
) -> Tally {
    Tally {
        shares: shares as f64,
        rates: rates_from(hashrates, now),
        last_share: lastshare as f64,
        best_diff: bestshare,
        best_ever: (bestever as f64).max(bestshare),
        // The files keep no share times: the windows start again with the next share.
        windows: Windows::default(),
    }
}

/// ckpool's `dsps_from_key`: a suffixed hashrate back to difficulty-shares per second.
fn dsps_from(s: &str) -> f64 {
    parse_suffixed(s)
        .filter(|f| f.is_finite() && *f >= 0.0)
        .map_or(0.0, |h| h / NONCES)
}

/// A user's or worker's five hashrates back to [`Rates`], decayed last at `now`.
fn rates_from(s: [&String; 5], now: f64) -> Rates {
    let [d1, d5, d60, d1440, d10080] = s.map(|s| dsps_from(s));
    Rates {
        dsps1: d1,
        dsps5: d5,
        dsps60: d60,
        dsps1440: d1440,
        dsps10080: d10080,
        last_decay: now,
        uadiff: 0.0,
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{authorized, close, share, T0};
    use super::super::IDLE_USERS_KEPT;
    use super::*;

    #[test]
    fn restore_reads_back_what_report_wrote() {
        let mut acc = Accounting::new(T0);
        acc.on_event(&authorized("u", "u.a", T0));
        for i in 0..20 {
            acc.on_share(&share("u", "u.a", 5.0, 9.5, Ok(()), T0 + f64::from(i)));
        }
        acc.update_pool(T0 + 20.0);
        let r = acc.report(T0 + 20.0, 0);
        let mut back = Accounting::new(T0 + 30.0);
        back.restore_pool(&r.pool, T0 + 30.0);
        back.restore_user("u", &r.users[0].1, T0 + 30.0);
        assert_eq!(back.pool.accounted_diff, 100.0);
        let u = back.user("u").unwrap();
        assert_eq!(
            (u.tally.shares, u.tally.best_ever, u.auth_time),
            (100.0, 9.5, T0 as u64)
        );
        assert!(!u.authorised);
        let want = parse_suffixed(&r.users[0].1.hashrate1m).unwrap() / NONCES;
        assert!(close(u.tally.rates.dsps1, want));
        assert_eq!(u.worker("u.a").unwrap().tally.shares, 100.0);
    }

    #[test]
    fn restoring_more_users_than_the_cap_keeps_the_most_recent() {
        let mut acc = Accounting::new(T0);
        acc.on_event(&authorized("u", "u.a", T0));
        acc.on_share(&share("u", "u.a", 5.0, 9.5, Ok(()), T0 + 1.0));
        let template = acc.report(T0 + 2.0, 0).users[0].1.clone();
        let n = IDLE_USERS_KEPT + 500;
        let mut back = Accounting::new(T0 + 100_000.0);
        // In an order unrelated to their age (as a directory lists them); user i last
        // shared at T0 + i.
        for k in 0..n {
            let i = (k * 7919) % n;
            let mut stats = template.clone();
            stats.lastshare = T0 as u64 + i as u64;
            for w in &mut stats.worker {
                w.workername = format!("r{i}.a");
                w.lastshare = stats.lastshare;
            }
            back.restore_user(&format!("r{i}"), &stats, T0 + 100_000.0);
        }
        for i in 0..n {
            let kept = back.user(&format!("r{i}")).is_some();
            assert_eq!(kept, i >= n - IDLE_USERS_KEPT, "r{i}");
        }
    }
}

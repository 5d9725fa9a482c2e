//! ckpool's `statsupdate` pass: decays the rates of idle users and workers and produces
//! what `pool/pool.status` and `users/<user>` hold at that moment.

use ckpool_compat::stats::{
    suffix_hashrate, PoolStatus, PoolStatusCounts, PoolStatusHashrates, PoolStatusShares,
    UserStats, WorkerStats,
};

use std::collections::HashMap;

use super::estimate::Hashrates;
use super::rates::NONCES;
use super::Accounting;

/// A worker idle this long is left out of its user's file (ckpool's 600000 s).
const WORKER_FORGET_SECS: f64 = 600_000.0;
/// A connection without a share for this long is idle.
const IDLE_SECS: f64 = 60.0;

/// Everything a stats write needs, taken at one moment.
#[derive(Debug, Clone)]
pub struct Report {
    /// When it was made, unix seconds.
    pub at: f64,
    /// `pool.status`.
    pub pool: PoolStatus,
    /// `users/<name>` files.
    pub users: Vec<(String, UserStats)>,
    /// Hashrates with their confidence intervals, for the pool and for every user and
    /// worker listed in `users` (beside ckpool's figures, not in its files).
    pub hashrates: ReportHashrates,
}

/// The pool's, users' and workers' hashrates with their intervals at one moment.
#[derive(Debug, Clone)]
pub struct ReportHashrates {
    /// The pool's (accepted shares).
    pub pool: Hashrates,
    /// By user name: the users listed in the report.
    pub users: HashMap<String, UserHashrates>,
}

/// One user's hashrates and its listed workers'.
#[derive(Debug, Clone)]
pub struct UserHashrates {
    /// Over all its workers.
    pub user: Hashrates,
    /// By full worker name.
    pub workers: HashMap<String, Hashrates>,
}

impl Accounting {
    /// ckpool's `statsupdate` pass at `now`: decays idle users and workers and returns what
    /// the stats files hold. `disconnected` is the number of resumable sessions.
    pub fn report(&mut self, now: f64, disconnected: u64) -> Report {
        // The windows read their own clock (the wall clock's steps back taken out).
        let at = self.window_clock.at(now);
        let mut users_connected = 0;
        let mut workers_connected = 0;
        let mut idle = 0;
        let mut out = Vec::new();
        let mut user_rates = HashMap::new();
        for (name, user) in &mut self.users {
            if user.connected > 0 {
                users_connected += 1;
                workers_connected += user.connected;
            }
            for w in user.workers() {
                if w.instances > 0 && now - w.last_active > IDLE_SECS {
                    idle += w.instances;
                }
            }
            if !user.authorised || user.tally.last_share == 0.0 {
                continue;
            }
            if now - user.tally.last_share > IDLE_SECS {
                user.tally.rates.decay(0.0, now);
            }
            let mut workers = Vec::new();
            let mut worker_rates = HashMap::new();
            for w in user.workers_mut() {
                let since = now - w.tally.last_share;
                if since > IDLE_SECS {
                    w.tally.rates.decay(0.0, now);
                    w.idle = true;
                    if since > WORKER_FORGET_SECS {
                        continue;
                    }
                }
                let [h1, h5, h60, h1440, h10080] = w.tally.rates.hashrates();
                worker_rates.insert(w.name.to_string(), w.tally.windows.estimate(at));
                workers.push((
                    w.seq,
                    WorkerStats {
                        workername: w.name.to_string(),
                        hashrate1m: h1,
                        hashrate5m: h5,
                        hashrate1hr: h60,
                        hashrate1d: h1440,
                        hashrate7d: h10080,
                        lastshare: w.tally.last_share as u64,
                        shares: w.tally.shares as u64,
                        bestshare: w.tally.best_diff,
                        bestever: w.tally.best_ever as u64,
                    },
                ));
            }
            // In the order the workers first appeared, as ckpool's list of them.
            workers.sort_unstable_by_key(|(seq, _)| *seq);
            let workers = workers.into_iter().map(|(_, w)| w).collect();
            let [h1, h5, h60, h1440, h10080] = user.tally.rates.hashrates();
            user_rates.insert(
                name.to_string(),
                UserHashrates {
                    user: user.tally.windows.estimate(at),
                    workers: worker_rates,
                },
            );
            out.push((
                name.to_string(),
                UserStats {
                    hashrate1m: h1,
                    hashrate5m: h5,
                    hashrate1hr: h60,
                    hashrate1d: h1440,
                    hashrate7d: h10080,
                    lastshare: user.tally.last_share as u64,
                    workers: user.connected,
                    shares: user.tally.shares as u64,
                    bestshare: user.tally.best_diff,
                    bestever: user.tally.best_ever as u64,
                    authorised: user.auth_time,
                    worker: workers,
                },
            ));
        }
        out.sort_by(|a, b| a.0.cmp(&b.0));
        let p = &self.pool;
        let rates = p.dsps.map(|d| suffix_hashrate(d * NONCES));
        let [h1, h5, h15, h60, h360, h1440, h10080] = rates;
        let percent = if p.network_diff > 0.0 {
            (p.accounted_diff * 10_000.0 / p.network_diff).round() / 100.0
        } else {
            0.0
        };
        Report {
            at: now,
            pool: PoolStatus {
                counts: PoolStatusCounts {
                    runtime: (now - self.start).max(0.0) as u64,
                    lastupdate: now as u64,
                    users: users_connected,
                    workers: workers_connected,
                    idle,
                    disconnected,
                },
                hashrates: PoolStatusHashrates {
                    hashrate1m: h1,
                    hashrate5m: h5,
                    hashrate15m: h15,
                    hashrate1hr: h60,
                    hashrate6hr: h360,
                    hashrate1d: h1440,
                    hashrate7d: h10080,
                },
                shares: PoolStatusShares {
                    diff: if percent.is_finite() { percent } else { 0.0 },
                    accepted: p.accounted_diff as u64,
                    rejected: p.accounted_rejects as u64,
                    bestshare: p.best_diff as u64,
                    sps1m: p.sps[0],
                    sps5m: p.sps[1],
                    sps15m: p.sps[2],
                    sps1h: p.sps[3],
                },
            },
            users: out,
            hashrates: ReportHashrates {
                pool: p.windows.estimate(at),
                users: user_rates,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{authorized, by_hand, close, share, T0};
    use super::*;
    use crate::decay::{HOUR6, MIN1};
    use crate::events::Event;

    #[test]
    fn pool_rates_and_worker_counts() {
        let mut acc = Accounting::new(T0);
        acc.on_event(&authorized("u", "u.a", T0));
        acc.on_event(&authorized("u", "u.a", T0));
        acc.on_event(&authorized("v", "v", T0));
        for i in 0..4 {
            acc.on_share(&share(
                "u",
                "u.a",
                2.0,
                3.0,
                Ok(()),
                T0 + 1.0 + f64::from(i),
            ));
        }
        acc.update_pool(T0 + 30.0);
        // 4 shares over the 30 s since start.
        assert!(close(acc.pool.sps[0], by_hand(0.0, 4.0, 30.0, MIN1)));
        assert!(close(acc.pool.dsps[0], by_hand(0.0, 8.0, 30.0, MIN1)));
        assert!(close(acc.pool.dsps[4], by_hand(0.0, 8.0, 30.0, HOUR6)));
        let r = acc.report(T0 + 30.0, 3);
        assert_eq!(
            (
                r.pool.counts.users,
                r.pool.counts.workers,
                r.pool.counts.idle
            ),
            (2, 3, 0)
        );
        assert_eq!(r.pool.counts.disconnected, 3);
        assert_eq!(r.pool.counts.runtime, 30);
        assert_eq!(r.pool.shares.accepted, 8);
        assert_eq!(
            r.pool.hashrates.hashrate1m,
            suffix_hashrate(by_hand(0.0, 8.0, 30.0, MIN1) * NONCES)
        );
        // v never shared: not written, but counted as connected.
        assert_eq!(r.users.len(), 1);
        assert_eq!(r.users[0].1.workers, 2);
        // Two minutes on, v's connection (no share since it connected) and u.a's two are
        // idle.
        let r = acc.report(T0 + 125.0, 0);
        assert_eq!(r.pool.counts.idle, 3);
        acc.on_event(&Event::Disconnected {
            username: "u".into(),
            worker: "u.a".into(),
        });
        let r = acc.report(T0 + 127.0, 0);
        assert_eq!(
            (
                r.pool.counts.users,
                r.pool.counts.workers,
                r.pool.counts.idle
            ),
            (2, 2, 2)
        );
        assert_eq!(r.users[0].1.workers, 1);
        // The idle worker's rates were decayed towards zero.
        let u = acc.user("u").unwrap();
        assert!(u.worker("u.a").unwrap().idle);
        assert_eq!(u.auth_time, T0 as u64);
    }
}

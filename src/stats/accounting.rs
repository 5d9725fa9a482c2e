//! ckpool's share accounting, as its stratifier keeps it (`add_submit`, `check_best_diff`,
//! `decay_user`/`decay_worker`, `statsupdate`), driven by [`Event`]s instead of ckpool's
//! client instances.
//!
//! Semantics, each from ckpool's `src/stratifier.c`:
//!
//! - Rates are difficulty-shares per second decayed with [`decay_time`] over 1 minute, 5
//!   minutes, 1 hour, 1 day and 7 days (the pool also over 15 minutes and 6 hours); a
//!   hashrate is that times 2^32. A user's or worker's rates are updated on each share it
//!   submits (updates closer than 50 ms are accumulated and applied together), and decayed
//!   towards zero when the stats are written if it has not shared for a minute. The pool's
//!   rates and shares-per-second (`SPS*`, share counts) are updated 32 times per interval
//!   from the shares that arrived since the last update.
//! - Accepted shares add their difficulty (the difficulty they were judged at, not what the
//!   hash achieved) to the user's, worker's and pool's totals; a rejected share adds its
//!   difficulty to the pool's `rejected` only, and moves the user's and worker's rates only
//!   when it is a stale block solve (ckpool counts "accepted and stale rejects" that were
//!   submitted). ckpool's totals are integers because its difficulties are; ours may be
//!   fractional, so totals are kept as reals and written truncated.
//! - `bestshare` is the best difficulty a hash achieved, accepted or not, since the last
//!   block this pool solved (ckpool's `reset_bestshares` on `block_solve`); `bestever` is
//!   never reset. The pool's `bestshare` ignores block solves (a hash at or above the
//!   network difficulty).
//! - A user's `workers` is its connected workers (each authorised connection counts, as
//!   ckpool's `__inc_worker`), `authorised` the unix time it first authorised. The pool's
//!   `Users` are users with a connected worker, `Workers` the connected workers, `Idle` those
//!   without a share for over a minute (a fresh connection counts as active for its first
//!   minute, as ckpool fakes a share time at connect).
//! - Only authorised users that have shared are written; a worker is listed unless it never
//!   shared or has been idle for over 600000 seconds.
//! - `diff` in `pool.status` is the accepted difficulty as a percentage of the current
//!   network difficulty, rounded to two decimals.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use ckpool_compat::stats::{
    parse_suffixed, suffix_hashrate, PoolStatus, PoolStatusCounts, PoolStatusHashrates,
    PoolStatusShares, UserStats, WorkerStats,
};

use crate::decay::{decay_time, DAY, HOUR, HOUR6, MIN1, MIN15, MIN5, WEEK};
use crate::events::{Event, ShareRecord};
use crate::share::Reject;
/// Hashes per difficulty-1 share.
pub const NONCES: f64 = 4_294_967_296.0;

/// A worker idle this long is left out of its user's file (ckpool's 600000 s).
const WORKER_FORGET_SECS: f64 = 600_000.0;
/// A connection without a share for this long is idle.
const IDLE_SECS: f64 = 60.0;

/// Unix time as seconds with a fraction.
pub fn unix_secs(t: SystemTime) -> f64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

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

    fn hashrates(&self) -> [String; 5] {
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

/// What ckpool counts alike for a user and for each of its workers.
#[derive(Debug, Clone, Default)]
pub struct Tally {
    /// Accepted difficulty total.
    pub shares: f64,
    /// Decaying rates.
    pub rates: Rates,
    /// Unix time of the last counted share (0 = none).
    pub last_share: f64,
    /// Best share difficulty since the last block.
    pub best_diff: f64,
    /// Best share difficulty ever.
    pub best_ever: f64,
}

impl Tally {
    /// One share at `now`: a hashed share (`sdiff` > 0) can be a best share, an accepted one
    /// (`valid`) adds to the total, a counted one moves the rates.
    fn add_share(&mut self, diff: f64, sdiff: f64, valid: bool, counted: bool, now: f64) {
        if sdiff > 0.0 {
            self.best_diff = self.best_diff.max(sdiff);
            self.best_ever = self.best_ever.max(sdiff);
        }
        if valid {
            self.shares += diff;
        }
        if counted {
            self.rates.decay(diff, now);
            self.last_share = now;
        }
    }

    /// Back from a stats file's fields (ckpool's `read_userstats`).
    fn restored(
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
        }
    }
}

/// One worker name's combined accounting.
#[derive(Debug, Clone)]
pub struct WorkerAccount {
    /// Full worker name.
    pub name: Arc<str>,
    /// Connections authorised as this worker now.
    pub instances: u64,
    /// Shares, rates and best shares.
    pub tally: Tally,
    /// Unix time of the last share or authorisation, for `Idle`.
    pub last_active: f64,
    /// No share for over a minute at the last report.
    pub idle: bool,
}

impl WorkerAccount {
    fn new(name: Arc<str>) -> Self {
        WorkerAccount {
            name,
            instances: 0,
            tally: Tally::default(),
            last_active: 0.0,
            idle: false,
        }
    }
}

/// One user's accounting.
#[derive(Debug, Clone, Default)]
pub struct UserAccount {
    /// Its workers, in the order they first appeared.
    pub workers: Vec<WorkerAccount>,
    /// Worker name → position in `workers`: a farm runs thousands of workers under one
    /// address, and every share looks its worker up.
    index: HashMap<Arc<str>, usize>,
    /// Connected workers.
    pub connected: u64,
    /// Shares, rates and best shares, over all its workers.
    pub tally: Tally,
    /// Has authorised during this run.
    pub authorised: bool,
    /// Unix time it first authorised (kept across restarts).
    pub auth_time: u64,
}

impl UserAccount {
    fn worker_mut(&mut self, name: &Arc<str>) -> &mut WorkerAccount {
        let next = self.workers.len();
        let i = *self.index.entry(name.clone()).or_insert(next);
        if i == next {
            self.workers.push(WorkerAccount::new(name.clone()));
        }
        &mut self.workers[i]
    }

    /// The worker called `name`, if known.
    pub fn worker(&self, name: &str) -> Option<&WorkerAccount> {
        self.index.get(name).and_then(|i| self.workers.get(*i))
    }
}

/// The pool-wide counters and rates.
#[derive(Debug, Clone, Default)]
pub struct PoolAccount {
    unaccounted_shares: u64,
    unaccounted_diff: f64,
    unaccounted_rejects: f64,
    /// Accepted shares counted.
    pub accounted_shares: u64,
    /// Accepted difficulty total.
    pub accounted_diff: f64,
    /// Rejected difficulty total.
    pub accounted_rejects: f64,
    /// Shares per second: 1, 5, 15 and 60 minute averages.
    pub sps: [f64; 4],
    /// Difficulty-shares per second: 1 m, 5 m, 15 m, 1 h, 6 h, 1 d, 7 d averages.
    pub dsps: [f64; 7],
    /// Best share below the network difficulty.
    pub best_diff: f64,
    /// Current network difficulty (from the newest job).
    pub network_diff: f64,
    last_update: f64,
}

/// Everything a stats write needs, taken at one moment.
#[derive(Debug, Clone)]
pub struct Report {
    /// `pool.status`.
    pub pool: PoolStatus,
    /// `users/<name>` files.
    pub users: Vec<(String, UserStats)>,
}

/// The accounting of a whole pool.
#[derive(Debug, Clone)]
pub struct Accounting {
    start: f64,
    /// Pool-wide counters.
    pub pool: PoolAccount,
    users: HashMap<Arc<str>, UserAccount>,
}

impl Accounting {
    /// Empty accounting for a pool started at `start` (unix seconds).
    pub fn new(start: f64) -> Self {
        Accounting {
            start,
            pool: PoolAccount {
                last_update: start,
                ..PoolAccount::default()
            },
            users: HashMap::new(),
        }
    }

    /// The user called `name`, if known.
    pub fn user(&self, name: &str) -> Option<&UserAccount> {
        self.users.get(name)
    }

    fn user_mut(&mut self, name: &Arc<str>) -> &mut UserAccount {
        self.users.entry(name.clone()).or_default()
    }

    /// The network difficulty `pool.status`'s `diff` is a percentage of.
    pub fn set_network_difficulty(&mut self, d: f64) {
        if d.is_finite() && d > 0.0 {
            self.pool.network_diff = d;
        }
    }

    /// Applies one event (shares and authorisations carry their own time).
    pub fn on_event(&mut self, event: &Event) {
        match event {
            Event::Share(rec) => self.on_share(rec),
            Event::Authorized {
                username,
                worker,
                at,
            } => {
                let at = unix_secs(*at);
                let user = self.user_mut(username);
                user.connected += 1;
                user.authorised = true;
                if user.auth_time == 0 {
                    user.auth_time = at as u64;
                }
                let w = user.worker_mut(worker);
                w.instances += 1;
                w.last_active = w.last_active.max(at);
            }
            Event::Disconnected { username, worker } => {
                let user = self.user_mut(username);
                user.connected = user.connected.saturating_sub(1);
                let w = user.worker_mut(worker);
                w.instances = w.instances.saturating_sub(1);
            }
            Event::Job(job) => self.set_network_difficulty(job.network_difficulty),
            Event::UserNotify { .. } => {}
        }
    }

    /// ckpool's `check_best_diff` and `add_submit` for one share.
    pub fn on_share(&mut self, rec: &ShareRecord) {
        let now = unix_secs(rec.at);
        let sdiff = if rec.sdiff.is_finite() {
            rec.sdiff
        } else {
            0.0
        };
        let diff = if rec.diff.is_finite() { rec.diff } else { 0.0 };
        let valid = rec.result.is_ok();
        let network_diff = self.pool.network_diff;
        let pool = &mut self.pool;
        if valid {
            pool.unaccounted_shares += 1;
            pool.unaccounted_diff += diff;
        } else {
            pool.unaccounted_rejects += diff;
        }
        if sdiff > pool.best_diff && (network_diff <= 0.0 || sdiff < network_diff) {
            pool.best_diff = sdiff;
        }
        // Rejected shares move rates only when submitted anyway: a stale block solve.
        let counted = valid || (rec.is_block && rec.result == Err(Reject::Stale));
        let user = self.user_mut(&rec.username);
        user.tally.add_share(diff, sdiff, valid, counted, now);
        let w = user.worker_mut(&rec.worker);
        w.tally.add_share(diff, sdiff, valid, counted, now);
        if counted {
            w.last_active = w.last_active.max(now);
            w.idle = false;
        }
    }

    /// ckpool's rolling pool update (32 per stats interval): folds the shares that arrived
    /// since the last update into the totals and decays the pool's rates.
    pub fn update_pool(&mut self, now: f64) {
        let p = &mut self.pool;
        let tdiff = now - p.last_update;
        p.last_update = now;
        let (shares, diff, rejects) = (
            p.unaccounted_shares,
            p.unaccounted_diff,
            p.unaccounted_rejects,
        );
        p.unaccounted_shares = 0;
        p.unaccounted_diff = 0.0;
        p.unaccounted_rejects = 0.0;
        p.accounted_shares += shares;
        p.accounted_diff += diff;
        p.accounted_rejects += rejects;
        let shares = shares as f64;
        for (f, interval) in p.sps.iter_mut().zip([MIN1, MIN5, MIN15, HOUR]) {
            decay_time(f, shares, tdiff, interval);
        }
        for (f, interval) in p
            .dsps
            .iter_mut()
            .zip([MIN1, MIN5, MIN15, HOUR, HOUR6, DAY, WEEK])
        {
            decay_time(f, diff, tdiff, interval);
        }
    }

    /// A block this pool found was accepted: best shares start again (ckpool's
    /// `reset_bestshares`; `bestever` and the pool's `bestshare` stay).
    pub fn reset_bestshares(&mut self) {
        for user in self.users.values_mut() {
            user.tally.best_diff = 0.0;
            for w in &mut user.workers {
                w.tally.best_diff = 0.0;
            }
        }
    }

    /// ckpool's `statsupdate` pass at `now`: decays idle users and workers and returns what
    /// the stats files hold. `disconnected` is the number of resumable sessions.
    pub fn report(&mut self, now: f64, disconnected: u64) -> Report {
        let mut users_connected = 0;
        let mut workers_connected = 0;
        let mut idle = 0;
        let mut out = Vec::new();
        for (name, user) in &mut self.users {
            if user.connected > 0 {
                users_connected += 1;
                workers_connected += user.connected;
            }
            for w in &user.workers {
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
            for w in &mut user.workers {
                let since = now - w.tally.last_share;
                if since > IDLE_SECS {
                    w.tally.rates.decay(0.0, now);
                    w.idle = true;
                    if since > WORKER_FORGET_SECS {
                        continue;
                    }
                }
                let [h1, h5, h60, h1440, h10080] = w.tally.rates.hashrates();
                workers.push(WorkerStats {
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
                });
            }
            let [h1, h5, h60, h1440, h10080] = user.tally.rates.hashrates();
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
        }
    }

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
    /// workers come back; the user is written again once it authorises.
    pub fn restore_user(&mut self, name: &str, stats: &UserStats, now: f64) {
        let user = self.user_mut(&Arc::from(name));
        user.tally = Tally::restored(
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
        user.auth_time = stats.authorised;
        for ws in &stats.worker {
            if ws.workername.is_empty() || !ws.workername.contains(name) {
                continue;
            }
            let w = user.worker_mut(&Arc::from(ws.workername.as_str()));
            w.tally = Tally::restored(
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
        }
    }
}

/// ckpool's `dsps_from_key`: a suffixed hashrate back to difficulty-shares per second.
fn dsps_from(s: &str) -> f64 {
    parse_suffixed(s)
        .filter(|f| f.is_finite() && *f >= 0.0)
        .map_or(0.0, |h| h / NONCES)
}

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
pub(super) mod tests {
    use super::*;
    use crate::short_bytes::ShortBytes;
    use std::time::Duration;

    pub(crate) fn share(
        user: &str,
        worker: &str,
        diff: f64,
        sdiff: f64,
        result: Result<(), Reject>,
        at: f64,
    ) -> ShareRecord {
        ShareRecord {
            job_id: crate::work::JobId(1),
            client_id: 1,
            extranonce1: ShortBytes::new(&[0; 4]).unwrap(),
            extranonce2: ShortBytes::new(&[0; 8]).unwrap(),
            nonce: 0,
            ntime: 0,
            diff,
            sdiff,
            hash: [0; 32],
            result,
            is_block: false,
            at: UNIX_EPOCH + Duration::from_secs_f64(at),
            listener: "127.0.0.1:3333".parse().unwrap(),
            worker: worker.into(),
            username: user.into(),
            peer: "127.0.0.1:5000".parse().unwrap(),
            agent: "test".into(),
        }
    }

    fn authorized(user: &str, worker: &str, at: f64) -> Event {
        Event::Authorized {
            username: user.into(),
            worker: worker.into(),
            at: UNIX_EPOCH + Duration::from_secs_f64(at),
        }
    }

    const T0: f64 = 1_700_000_000.0;

    /// decay_time by hand: f = (f + add/secs * p) / (1 + p), p = 1 - e^-(secs/interval).
    fn by_hand(f: f64, add: f64, secs: f64, interval: f64) -> f64 {
        let p = 1.0 - (-(secs / interval).min(36.0)).exp();
        (f + add / secs * p) / (1.0 + p)
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-12 * a.abs().max(b.abs()).max(1e-300)
    }

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

    #[test]
    fn best_shares_and_rejects() {
        let mut acc = Accounting::new(T0);
        acc.set_network_difficulty(1000.0);
        acc.on_event(&authorized("u", "u.a", T0));
        acc.on_share(&share("u", "u.a", 1.0, 50.0, Ok(()), T0 + 1.0));
        acc.on_share(&share("u", "u.b", 1.0, 70.0, Err(Reject::Stale), T0 + 2.0));
        // A block solve is not the pool's best share.
        acc.on_share(&share("u", "u.a", 1.0, 5000.0, Ok(()), T0 + 3.0));
        acc.on_share(&share(
            "u",
            "u.a",
            2.0,
            0.0,
            Err(Reject::Duplicate),
            T0 + 4.0,
        ));
        let u = acc.user("u").unwrap();
        assert_eq!((u.tally.best_diff, u.tally.best_ever), (5000.0, 5000.0));
        assert_eq!(u.worker("u.b").unwrap().tally.best_diff, 70.0);
        assert_eq!(u.worker("u.b").unwrap().tally.shares, 0.0);
        // The stale share moved nothing but best shares and the pool's rejects.
        assert_eq!(u.worker("u.b").unwrap().tally.last_share, 0.0);
        assert_eq!(u.tally.shares, 2.0);
        assert_eq!(acc.pool.best_diff, 70.0);
        acc.update_pool(T0 + 5.0);
        assert_eq!(acc.pool.accounted_diff, 2.0);
        assert_eq!(acc.pool.accounted_rejects, 3.0);
        assert_eq!(acc.pool.accounted_shares, 2);
        acc.reset_bestshares();
        let u = acc.user("u").unwrap();
        assert_eq!((u.tally.best_diff, u.tally.best_ever), (0.0, 5000.0));
        assert_eq!(u.worker("u.a").unwrap().tally.best_diff, 0.0);
        assert_eq!(u.worker("u.a").unwrap().tally.best_ever, 5000.0);
        let r = acc.report(T0 + 6.0, 0);
        let (_, us) = &r.users[0];
        assert_eq!((us.bestshare, us.bestever, us.shares), (0.0, 5000, 2));
        // u.b never counted a share: not listed.
        assert_eq!(us.worker.len(), 1);
        assert_eq!(us.worker[0].workername, "u.a");
        // 2 accepted out of a network difficulty of 1000: 0.2 %.
        assert_eq!(r.pool.shares.diff, 0.2);
        assert_eq!(r.pool.shares.bestshare, 70);
        assert_eq!(r.pool.shares.rejected, 3);
    }

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
}

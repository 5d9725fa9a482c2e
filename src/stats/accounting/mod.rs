//! ckpool's share accounting, as its stratifier keeps it (`add_submit`, `check_best_diff`,
//! `decay_user`/`decay_worker`, `statsupdate`), driven by [`Event`]s instead of ckpool's
//! client instances.
//!
//! - this file: [`Accounting`], which applies events to the pool, its users and their
//!   workers;
//! - [`rates`]: the decaying rates of a user or worker, and their hashrate strings;
//! - [`tally`]: what a share moves, for the pool, a user and a worker;
//! - [`estimate`]: hashrates over 5 minutes and an hour with their 95 % confidence
//!   intervals (ours, not ckpool's: the API and dashboard show them);
//! - [`report`]: ckpool's `statsupdate` pass, producing what `pool.status` and `users/`
//!   hold;
//! - [`restore`]: reading an earlier run's files back;
//! - `forget.rs`: which users and workers without a connection are kept, and the order the
//!   others are forgotten in.
//!
//! Semantics, each from ckpool's `src/stratifier.c`:
//!
//! - Rates are difficulty-shares per second decayed with [`crate::decay::decay_time`] over
//!   1 minute, 5 minutes, 1 hour, 1 day and 7 days (the pool also over 15 minutes and 6
//!   hours); a hashrate is that times 2^32. A user's or worker's rates are updated on each
//!   share it submits (updates closer than 50 ms are accumulated and applied together), and
//!   decayed towards zero when the stats are written if it has not shared for a minute. The
//!   pool's rates and shares-per-second (`SPS*`, share counts) are updated 32 times per
//!   interval from the shares that arrived since the last update.
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
//!
//! One departure: ckpool never forgets a user or worker, and in pool mode any username
//! authorises. Here users and workers with a connection are always kept, and the others up
//! to [`IDLE_USERS_KEPT`] users and [`IDLE_WORKERS_KEPT`] workers (at most
//! [`IDLE_WORKERS_PER_USER`] under one user), the least recently active forgotten first
//! (`forget.rs`). A forgotten user's file stays on disk as last written; if it comes back,
//! it starts again from nothing.

pub mod estimate;
mod forget;
mod forget_order;
pub mod rates;
pub mod report;
pub mod restore;
pub mod tally;
mod window_clock;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::events::{Event, ShareRecord};
use crate::share::Reject;

use forget_order::ForgetOrder;

pub use estimate::{Estimate, Hashrates, Windows};
pub use forget::{IDLE_USERS_KEPT, IDLE_WORKERS_KEPT, IDLE_WORKERS_PER_USER};
pub use rates::{Rates, NONCES};
pub use report::{Report, ReportHashrates, UserHashrates};
pub use tally::{PoolAccount, Tally, UserAccount, WorkerAccount};

/// Unix time as seconds with a fraction.
pub fn unix_secs(t: SystemTime) -> f64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// The accounting of a whole pool.
#[derive(Debug, Clone)]
pub struct Accounting {
    start: f64,
    /// Pool-wide counters.
    pub pool: PoolAccount,
    users: HashMap<Arc<str>, UserAccount>,
    /// Users without a connected worker, in the order they are forgotten (`forget.rs`).
    idle_users: ForgetOrder<Arc<str>>,
    /// Workers without a connection, over all users, by (user, worker), in the order they
    /// are forgotten.
    idle_workers: ForgetOrder<(Arc<str>, Arc<str>)>,
    /// The hashrate windows' time (the wall clock with its steps back taken out).
    window_clock: window_clock::WindowClock,
}

impl Accounting {
    /// Empty accounting for a pool started at `start` (unix seconds).
    pub fn new(start: f64) -> Self {
        Accounting {
            start,
            pool: PoolAccount::new(start),
            users: HashMap::new(),
            idle_users: ForgetOrder::default(),
            idle_workers: ForgetOrder::default(),
            window_clock: window_clock::WindowClock::default(),
        }
    }

    /// The user called `name`, if known.
    pub fn user(&self, name: &str) -> Option<&UserAccount> {
        self.users.get(name)
    }

    /// How many users are held in memory (connected ones and up to [`IDLE_USERS_KEPT`]
    /// others).
    pub fn user_count(&self) -> usize {
        self.users.len()
    }

    /// How many workers are held in memory over all users (connected ones and up to
    /// [`IDLE_WORKERS_KEPT`] others).
    pub fn worker_count(&self) -> usize {
        self.users.values().map(|u| u.workers().count()).sum()
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
                self.with_user(username, true, |user| {
                    user.connected += 1;
                    user.authorised = true;
                    if user.auth_time == 0 {
                        user.auth_time = at as u64;
                    }
                    user.last_active = user.last_active.max(at);
                });
                self.with_worker(username, worker, true, |w| {
                    w.instances += 1;
                    w.last_active = w.last_active.max(at);
                });
            }
            // A user or worker not known (forgotten, or its authorisation lost) has no
            // connection to end.
            Event::Disconnected { username, worker } => {
                self.with_user(username, false, |user| {
                    user.connected = user.connected.saturating_sub(1);
                });
                self.with_worker(username, worker, false, |w| {
                    w.instances = w.instances.saturating_sub(1);
                });
            }
            Event::Job(job) => self.set_network_difficulty(job.network_difficulty),
            Event::UserNotify { .. } | Event::BlockVerdict(_) => {}
        }
    }

    /// ckpool's `check_best_diff` and `add_submit` for one share.
    pub fn on_share(&mut self, rec: &ShareRecord) {
        let now = unix_secs(rec.at);
        let at = self.window_clock.at(now);
        let sdiff = if rec.sdiff.is_finite() {
            rec.sdiff
        } else {
            0.0
        };
        let diff = if rec.diff.is_finite() { rec.diff } else { 0.0 };
        let valid = rec.result.is_ok();
        self.pool.add_share(diff, sdiff, valid, at);
        // Rejected shares move rates only when submitted anyway: a stale block solve.
        let counted = valid || (rec.is_block && rec.result == Err(Reject::Stale));
        self.with_user(&rec.username, true, |user| {
            user.tally.add_share(diff, sdiff, valid, counted, now, at);
            if counted {
                user.last_active = user.last_active.max(now);
            }
        });
        self.with_worker(&rec.username, &rec.worker, true, |w| {
            w.tally.add_share(diff, sdiff, valid, counted, now, at);
            if counted {
                w.last_active = w.last_active.max(now);
                w.idle = false;
            }
        });
    }

    /// ckpool's rolling pool update (32 per stats interval): folds the shares that arrived
    /// since the last update into the totals and decays the pool's rates.
    pub fn update_pool(&mut self, now: f64) {
        self.pool.update(now);
    }

    /// A block this pool found was accepted: best shares start again (ckpool's
    /// `reset_bestshares`; `bestever` and the pool's `bestshare` stay).
    pub fn reset_bestshares(&mut self) {
        for user in self.users.values_mut() {
            user.tally.best_diff = 0.0;
            for w in user.workers_mut() {
                w.tally.best_diff = 0.0;
            }
        }
    }
}

/// Builders and checks the accounting's tests (and the stats writer's) share.
#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::short_bytes::ShortBytes;
    use std::time::Duration;

    /// A share record of `user`'s `worker` judged at `diff`, hashing to `sdiff`, at `at`.
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
            version: None,
            work: None,
            is_block: false,
            at: UNIX_EPOCH + Duration::from_secs_f64(at),
            listener: "127.0.0.1:3333".parse().unwrap(),
            worker: worker.into(),
            username: user.into(),
            peer: "127.0.0.1:5000".parse().unwrap(),
            agent: "test".into(),
        }
    }

    /// `user`'s `worker` authorised at `at`.
    pub(crate) fn authorized(user: &str, worker: &str, at: f64) -> Event {
        Event::Authorized {
            username: user.into(),
            worker: worker.into(),
            at: UNIX_EPOCH + Duration::from_secs_f64(at),
        }
    }

    /// `user`'s `worker` disconnected.
    pub(crate) fn disconnected(user: &str, worker: &str) -> Event {
        Event::Disconnected {
            username: user.into(),
            worker: worker.into(),
        }
    }

    /// A start time for tests.
    pub(crate) const T0: f64 = 1_700_000_000.0;

    /// decay_time by hand: f = (f + add/secs * p) / (1 + p), p = 1 - e^-(secs/interval).
    pub(crate) fn by_hand(f: f64, add: f64, secs: f64, interval: f64) -> f64 {
        let p = 1.0 - (-(secs / interval).min(36.0)).exp();
        (f + add / secs * p) / (1.0 + p)
    }

    /// Equal to 12 significant digits.
    pub(crate) fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-12 * a.abs().max(b.abs()).max(1e-300)
    }

    /// `user`'s file in `report`, if written.
    fn user_in<'r>(report: &'r Report, user: &str) -> Option<&'r ckpool_compat::stats::UserStats> {
        report.users.iter().find(|(n, _)| n == user).map(|(_, s)| s)
    }

    /// `n` users that each authorise one worker, share once and disconnect, one every
    /// 10 ms from `from`.
    fn churn(acc: &mut Accounting, prefix: &str, n: usize, from: f64) {
        for i in 0..n {
            let name = format!("{prefix}{i}");
            let worker = format!("{name}.w");
            let at = from + i as f64 * 0.01;
            acc.on_event(&authorized(&name, &worker, at));
            acc.on_share(&share(&name, &worker, 1.0, 2.0, Ok(()), at));
            acc.on_event(&disconnected(&name, &worker));
        }
    }

    #[test]
    fn churning_users_leave_at_most_the_cap() {
        let mut acc = Accounting::new(T0);
        let n = 100_000;
        churn(&mut acc, "user", n, T0);
        assert_eq!(acc.user_count(), IDLE_USERS_KEPT);
        let r = acc.report(T0 + 2000.0, 0);
        assert_eq!(r.users.len(), IDLE_USERS_KEPT);
        // The most recently active are the ones kept.
        let first_kept = n - IDLE_USERS_KEPT;
        assert!(acc.user("user0").is_none());
        assert!(acc.user(&format!("user{}", first_kept - 1)).is_none());
        assert!(acc.user(&format!("user{first_kept}")).is_some());
        assert!(acc.user(&format!("user{}", n - 1)).is_some());
        assert_eq!(r.pool.counts.users, 0);
    }

    #[test]
    fn a_connected_user_survives_churn_and_its_report_is_unchanged() {
        // The farm is the least recently active user of all, but it stays connected.
        let farm = |acc: &mut Accounting| {
            acc.on_event(&authorized("farm", "farm.rig", T0));
            for i in 0..5 {
                acc.on_share(&share(
                    "farm",
                    "farm.rig",
                    4.0,
                    9.0,
                    Ok(()),
                    T0 + 1.0 + f64::from(i),
                ));
            }
        };
        let mut quiet = Accounting::new(T0);
        farm(&mut quiet);
        let mut busy = Accounting::new(T0);
        farm(&mut busy);
        churn(&mut busy, "churn", 3 * IDLE_USERS_KEPT, T0 + 10.0);
        let now = T0 + 1000.0;
        let (want, got) = (quiet.report(now, 0), busy.report(now, 0));
        let farm_file = user_in(&got, "farm").expect("the farm is still written");
        assert_eq!(Some(farm_file), user_in(&want, "farm"));
        assert_eq!(farm_file.worker.len(), 1);
        assert_eq!((got.pool.counts.users, got.pool.counts.workers), (1, 1));
        assert!(
            got.users.len() <= IDLE_USERS_KEPT + 1,
            "{}",
            got.users.len()
        );
        assert_eq!(busy.user_count(), IDLE_USERS_KEPT + 1);
    }

    #[test]
    fn churning_workers_under_one_user_leave_at_most_the_cap() {
        let mut acc = Accounting::new(T0);
        acc.on_event(&authorized("farm", "farm.main", T0));
        acc.on_share(&share("farm", "farm.main", 1.0, 2.0, Ok(()), T0));
        let n = 10 * IDLE_WORKERS_PER_USER;
        for i in 0..n {
            let worker = format!("farm.{i}");
            let at = T0 + 1.0 + i as f64 * 0.01;
            acc.on_event(&authorized("farm", &worker, at));
            acc.on_share(&share("farm", &worker, 1.0, 2.0, Ok(()), at));
            acc.on_event(&disconnected("farm", &worker));
        }
        let r = acc.report(T0 + 200.0, 0);
        let f = user_in(&r, "farm").expect("farm written");
        // Every share still counts for the user.
        assert_eq!(f.shares, n as u64 + 1);
        assert_eq!(f.workers, 1);
        assert_eq!(f.worker.len(), IDLE_WORKERS_PER_USER + 1);
        // The connected worker, oldest of all, stays first; the newest disconnected ones
        // follow in the order they appeared.
        assert_eq!(f.worker[0].workername, "farm.main");
        assert_eq!(
            f.worker[1].workername,
            format!("farm.{}", n - IDLE_WORKERS_PER_USER)
        );
        assert_eq!(
            f.worker[IDLE_WORKERS_PER_USER].workername,
            format!("farm.{}", n - 1)
        );
        let u = acc.user("farm").unwrap();
        assert!(u.worker("farm.0").is_none());
        assert_eq!(u.workers().count(), IDLE_WORKERS_PER_USER + 1);
    }

    #[test]
    fn idle_workers_over_all_users_stay_under_their_cap() {
        // Users that stay connected (one connection can hold 32 of them), each cycling
        // its cap's worth of worker names: together past the pool-wide cap.
        let mut acc = Accounting::new(T0);
        let users = IDLE_WORKERS_KEPT / IDLE_WORKERS_PER_USER + 20;
        for u in 0..users {
            let user = format!("u{u}");
            acc.on_event(&authorized(&user, &format!("{user}.main"), T0));
        }
        let mut at = T0 + 1.0;
        for u in 0..users {
            let user = format!("u{u}");
            for i in 0..IDLE_WORKERS_PER_USER {
                let worker = format!("{user}.{i}");
                at += 0.001;
                acc.on_event(&authorized(&user, &worker, at));
                acc.on_share(&share(&user, &worker, 1.0, 2.0, Ok(()), at));
                acc.on_event(&disconnected(&user, &worker));
            }
        }
        // The connected ones and the pool-wide cap's worth of the newest others.
        assert_eq!(acc.worker_count(), users + IDLE_WORKERS_KEPT);
        let r = acc.report(at + 1.0, 0);
        let listed: usize = r.users.iter().map(|(_, s)| s.worker.len()).sum();
        assert_eq!(listed, IDLE_WORKERS_KEPT);
        assert_eq!(
            (r.pool.counts.users, r.pool.counts.workers),
            (users as u64, users as u64)
        );
        // The first users' cycled workers were the oldest: gone; their connected one
        // stays, as do all their shares.
        let first = acc.user("u0").unwrap();
        assert_eq!(first.workers().count(), 1);
        assert!(first.worker("u0.main").is_some());
        assert_eq!(first.tally.shares, IDLE_WORKERS_PER_USER as f64);
        let last = acc.user(&format!("u{}", users - 1)).unwrap();
        assert_eq!(last.workers().count(), IDLE_WORKERS_PER_USER + 1);
    }

    #[test]
    fn forgetting_a_user_forgets_its_workers_everywhere() {
        // Idle users with workers, churned out: no worker of theirs is left filed.
        let mut acc = Accounting::new(T0);
        churn(&mut acc, "user", IDLE_USERS_KEPT + 10, T0);
        assert_eq!(acc.user_count(), IDLE_USERS_KEPT);
        assert_eq!(acc.idle_workers.len(), IDLE_USERS_KEPT);
        assert_eq!(acc.worker_count(), IDLE_USERS_KEPT);
        // A user back from being forgotten starts afresh.
        acc.on_event(&authorized("user0", "user0.w", T0 + 5000.0));
        let u = acc.user("user0").unwrap();
        assert_eq!((u.tally.shares, u.connected), (0.0, 1));
        assert_eq!(acc.user_count(), IDLE_USERS_KEPT + 1);
    }

    /// A wall clock stepping back an hour mid-stream: the 5-minute hashrate still reads
    /// the miner's (one difficulty-1 share a second: 2³² H/s), not the shares after the
    /// step piled onto the last moment before it (ten times that and more).
    #[test]
    fn a_clock_stepping_back_does_not_inflate_the_hashrate() {
        let rate = |step: f64| {
            let mut acc = Accounting::new(T0);
            for i in 0..600 {
                acc.on_share(&share("u", "u.1", 1.0, 2.0, Ok(()), T0 + f64::from(i)));
            }
            for i in 0..300 {
                let at = T0 + 600.0 + f64::from(i) - step;
                acc.on_share(&share("u", "u.1", 1.0, 2.0, Ok(()), at));
            }
            let r = acc.report(T0 + 900.0 - step, 0);
            let e = r.hashrates.pool.short.expect("an estimate");
            (e.hashrate / 2f64.powi(32), e.low, e.high)
        };
        let (steady, _, _) = rate(0.0);
        let (stepped, low, high) = rate(3600.0);
        assert!((steady - 1.0).abs() < 0.05, "{steady}");
        assert!((stepped - 1.0).abs() < 0.05, "{stepped}");
        let truth = 2f64.powi(32);
        assert!(low < truth && truth < high, "[{low}, {high}]");
    }
}

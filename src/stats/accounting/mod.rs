//! ckpool's share accounting, as its stratifier keeps it (`add_submit`, `check_best_diff`,
//! `decay_user`/`decay_worker`, `statsupdate`), driven by [`Event`]s instead of ckpool's
//! client instances.
//!
//! - this file: [`Accounting`], which applies events to the pool, its users and their
//!   workers;
//! - [`rates`]: the decaying rates of a user or worker, and their hashrate strings;
//! - [`tally`]: what a share moves, for the pool, a user and a worker;
//! - [`report`]: ckpool's `statsupdate` pass, producing what `pool.status` and `users/`
//!   hold;
//! - [`restore`]: reading an earlier run's files back.
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

pub mod rates;
pub mod report;
pub mod restore;
pub mod tally;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::events::{Event, ShareRecord};
use crate::share::Reject;

pub use rates::{Rates, NONCES};
pub use report::Report;
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
}

impl Accounting {
    /// Empty accounting for a pool started at `start` (unix seconds).
    pub fn new(start: f64) -> Self {
        Accounting {
            start,
            pool: PoolAccount::new(start),
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
        self.pool.add_share(diff, sdiff, valid);
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
        self.pool.update(now);
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
}

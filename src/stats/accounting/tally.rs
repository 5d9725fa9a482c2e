//! What a share moves: the totals, rates and best shares ckpool counts alike for a user and
//! each of its workers ([`Tally`]), held per worker name ([`WorkerAccount`]) and per user
//! ([`UserAccount`]), and the pool-wide counters ([`PoolAccount`]).

use std::collections::HashMap;
use std::sync::Arc;

use crate::decay::{decay_time, DAY, HOUR, HOUR6, MIN1, MIN15, MIN5, WEEK};

use super::estimate::Windows;
use super::forget_order::ForgetOrder;
use super::rates::Rates;

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
    /// The accepted shares over 5 minutes and an hour, for hashrates with their intervals.
    pub windows: Windows,
}

impl Tally {
    /// One share at `now` (wall clock; `at` on the windows' clock): a hashed share
    /// (`sdiff` > 0) can be a best share, an accepted one (`valid`) adds to the total and
    /// the windows, a counted one moves the rates.
    pub(super) fn add_share(
        &mut self,
        diff: f64,
        sdiff: f64,
        valid: bool,
        counted: bool,
        now: f64,
        at: f64,
    ) {
        if sdiff > 0.0 {
            self.best_diff = self.best_diff.max(sdiff);
            self.best_ever = self.best_ever.max(sdiff);
        }
        if valid {
            self.shares += diff;
            self.windows.add(diff, at);
        }
        if counted {
            self.rates.decay(diff, now);
            self.last_share = now;
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
    /// Its place in the order its user's workers first appeared, the order the user's file
    /// lists them in.
    pub(super) seq: u64,
    /// The key it is filed under among workers without a connection, if it is filed
    /// (`forget.rs`).
    pub(super) filed: Option<u64>,
}

impl WorkerAccount {
    /// A worker seen for the first time, `seq`th of its user's.
    pub(super) fn new(name: Arc<str>, seq: u64) -> Self {
        WorkerAccount {
            name,
            instances: 0,
            tally: Tally::default(),
            last_active: 0.0,
            idle: false,
            seq,
            filed: None,
        }
    }

    /// When it was last active (its last share or authorisation), for the order workers
    /// without a connection are forgotten in.
    pub(super) fn activity(&self) -> f64 {
        self.last_active.max(self.tally.last_share)
    }
}

/// One user's accounting.
#[derive(Debug, Clone, Default)]
pub struct UserAccount {
    /// Its workers by name: a farm runs thousands of workers under one address, and every
    /// share looks its worker up.
    pub(super) workers: HashMap<Arc<str>, WorkerAccount>,
    /// The number the last new worker got ([`WorkerAccount::seq`]).
    pub(super) last_seq: u64,
    /// Its workers without a connection, in the order they are forgotten (`forget.rs`).
    pub(super) idle_workers: ForgetOrder<Arc<str>>,
    /// The key it is filed under among users without a connected worker, if it is filed.
    pub(super) filed: Option<u64>,
    /// Connected workers.
    pub connected: u64,
    /// Shares, rates and best shares, over all its workers.
    pub tally: Tally,
    /// Has authorised during this run.
    pub authorised: bool,
    /// Unix time it first authorised (kept across restarts).
    pub auth_time: u64,
    /// Unix time of its latest authorisation or counted share this run (0 = none).
    pub last_active: f64,
}

impl UserAccount {
    /// The worker called `name`, if known.
    pub fn worker(&self, name: &str) -> Option<&WorkerAccount> {
        self.workers.get(name)
    }

    /// Its workers known now, in no particular order (its file lists them in the order
    /// they first appeared).
    pub fn workers(&self) -> impl Iterator<Item = &WorkerAccount> {
        self.workers.values()
    }

    /// Its workers, to decay or reset, in no particular order.
    pub(super) fn workers_mut(&mut self) -> impl Iterator<Item = &mut WorkerAccount> {
        self.workers.values_mut()
    }

    /// When it was last active: its last share, or without one its authorisation (the
    /// first one, which a restored file keeps), or its latest authorisation this run if
    /// later; for the order users without a connected worker are forgotten in.
    pub(super) fn activity(&self) -> f64 {
        let seen = if self.tally.last_share > 0.0 {
            self.tally.last_share
        } else {
            self.auth_time as f64
        };
        seen.max(self.last_active)
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
    /// Accepted shares over 5 minutes and an hour, for hashrates with their intervals.
    pub windows: Windows,
    last_update: f64,
}

impl PoolAccount {
    /// Nothing counted yet, for a pool started at `start` (unix seconds).
    pub(super) fn new(start: f64) -> Self {
        PoolAccount {
            last_update: start,
            ..PoolAccount::default()
        }
    }

    /// One share, waiting for the next [`PoolAccount::update`] (but in the windows at
    /// once, at `at` on the windows' clock); `sdiff` can be the pool's best share unless it
    /// solves a block.
    pub(super) fn add_share(&mut self, diff: f64, sdiff: f64, valid: bool, at: f64) {
        if valid {
            self.unaccounted_shares += 1;
            self.unaccounted_diff += diff;
            self.windows.add(diff, at);
        } else {
            self.unaccounted_rejects += diff;
        }
        if sdiff > self.best_diff && (self.network_diff <= 0.0 || sdiff < self.network_diff) {
            self.best_diff = sdiff;
        }
    }

    /// ckpool's rolling pool update: folds the shares since the last one into the totals
    /// and decays the rates.
    pub(super) fn update(&mut self, now: f64) {
        let tdiff = now - self.last_update;
        self.last_update = now;
        let (shares, diff, rejects) = (
            self.unaccounted_shares,
            self.unaccounted_diff,
            self.unaccounted_rejects,
        );
        self.unaccounted_shares = 0;
        self.unaccounted_diff = 0.0;
        self.unaccounted_rejects = 0.0;
        self.accounted_shares += shares;
        self.accounted_diff += diff;
        self.accounted_rejects += rejects;
        let shares = shares as f64;
        for (f, interval) in self.sps.iter_mut().zip([MIN1, MIN5, MIN15, HOUR]) {
            decay_time(f, shares, tdiff, interval);
        }
        for (f, interval) in self
            .dsps
            .iter_mut()
            .zip([MIN1, MIN5, MIN15, HOUR, HOUR6, DAY, WEEK])
        {
            decay_time(f, diff, tdiff, interval);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{authorized, share, T0};
    use super::super::Accounting;
    use crate::share::Reject;

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
}

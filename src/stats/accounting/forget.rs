//! Which users and workers without a connection are kept, and the order the others are
//! forgotten in: least recently active first.
//!
//! ckpool keeps every user and worker it has seen for ever. In pool mode any username
//! authorises, so a client cycling usernames or worker names would grow that without bound.
//! Accounts with a connection are always kept (they cost what their connections cost);
//! the others are kept up to [`IDLE_USERS_KEPT`] users and [`IDLE_WORKERS_KEPT`] workers
//! in all, at most [`IDLE_WORKERS_PER_USER`] of them under one user. A forgotten user's
//! file stays on disk as last written.
//!
//! Each account remembers the key it is filed under (`filed`), and the orders are B-trees
//! of (key, name), so an event costs O(log n) at most (refiling one account, forgetting
//! about one) and nothing for a connected account whose filing does not change.

use std::collections::hash_map::Entry;
use std::sync::Arc;

use super::tally::{UserAccount, WorkerAccount};
use super::Accounting;

/// Users without a connected worker kept in memory; past it, the least recently active
/// (last share, else authorisation) are forgotten. 10,000 is more users than a pool sees
/// come and go between two visits of one of them in ordinary running, so a user that drops
/// off and comes back finds its totals; an idle user without its workers is a few hundred
/// bytes, so they cost a few megabytes. It is also how many users a restart reads back.
pub const IDLE_USERS_KEPT: usize = 10_000;

/// Disconnected workers kept under one user (its connected ones are always kept); past it,
/// the least recently active are forgotten. 1,000 covers a farm's machines going off
/// together for maintenance or a power cut, and keeps one user's file to a readable size,
/// while a client cycling worker names under one user stops there.
pub const IDLE_WORKERS_PER_USER: usize = 1_000;

/// Disconnected workers kept over all users; past it, the least recently active are
/// forgotten. Without it, [`IDLE_USERS_KEPT`] users of [`IDLE_WORKERS_PER_USER`] workers
/// each would be ten million workers, and one connection (32 workers, so 32 connected
/// users) could pin 32,000. 100,000 is ten per idle user on average, a few tens of
/// megabytes (a worker is a few hundred bytes).
pub const IDLE_WORKERS_KEPT: usize = 100_000;

/// The key an account is filed under: none while it has a connection, else its last
/// activity (unix seconds) as bits, which order as the times do for non-negative floats;
/// never, or a time that is not one, is oldest.
fn filing(connected: bool, active: f64) -> Option<u64> {
    if connected {
        None
    } else if active > 0.0 {
        Some(active.to_bits())
    } else {
        Some(0)
    }
}

impl Accounting {
    /// Applies `f` to the user called `name` (made if new and `make`), then files it: a
    /// user with a connected worker is kept, one without is filed by its last activity and
    /// the least recently active past [`IDLE_USERS_KEPT`] are forgotten.
    pub(super) fn with_user(
        &mut self,
        name: &Arc<str>,
        make: bool,
        f: impl FnOnce(&mut UserAccount),
    ) {
        let user = if make {
            self.users.entry(name.clone()).or_default()
        } else {
            match self.users.get_mut(name) {
                Some(user) => user,
                None => return,
            }
        };
        f(user);
        let (old, new) = (user.filed, filing(user.connected > 0, user.activity()));
        if old == new {
            return;
        }
        user.filed = new;
        self.idle_users.refile(name, old, new);
        while self.idle_users.len() > IDLE_USERS_KEPT {
            let Some((_, gone)) = self.idle_users.pop_oldest() else {
                break;
            };
            let Some(user) = self.users.remove(&gone) else {
                continue;
            };
            for (worker, w) in &user.workers {
                let key = (gone.clone(), worker.clone());
                self.idle_workers.refile(&key, w.filed, None);
            }
        }
    }

    /// Applies `f` to `user`'s worker called `name` (made if new and `make`; nothing is
    /// done for a user not known), then files it: a connected worker is kept, one without a
    /// connection is filed by its last activity, and the least recently active past
    /// [`IDLE_WORKERS_PER_USER`] under the user or past [`IDLE_WORKERS_KEPT`] in all are
    /// forgotten.
    pub(super) fn with_worker(
        &mut self,
        user: &Arc<str>,
        name: &Arc<str>,
        make: bool,
        f: impl FnOnce(&mut WorkerAccount),
    ) {
        let Some(account) = self.users.get_mut(user) else {
            return;
        };
        let w = if make {
            match account.workers.entry(name.clone()) {
                Entry::Occupied(e) => e.into_mut(),
                Entry::Vacant(e) => {
                    account.last_seq += 1;
                    e.insert(WorkerAccount::new(name.clone(), account.last_seq))
                }
            }
        } else {
            match account.workers.get_mut(name) {
                Some(w) => w,
                None => return,
            }
        };
        f(w);
        let (old, new) = (w.filed, filing(w.instances > 0, w.activity()));
        if old == new {
            return;
        }
        w.filed = new;
        account.idle_workers.refile(name, old, new);
        self.idle_workers
            .refile(&(user.clone(), name.clone()), old, new);
        while account.idle_workers.len() > IDLE_WORKERS_PER_USER {
            let Some((key, gone)) = account.idle_workers.pop_oldest() else {
                break;
            };
            account.workers.remove(&gone);
            self.idle_workers
                .refile(&(user.clone(), gone), Some(key), None);
        }
        while self.idle_workers.len() > IDLE_WORKERS_KEPT {
            let Some((key, (owner, gone))) = self.idle_workers.pop_oldest() else {
                break;
            };
            if let Some(account) = self.users.get_mut(&owner) {
                account.workers.remove(&gone);
                account.idle_workers.refile(&gone, Some(key), None);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{authorized, disconnected, share, T0};
    use super::*;
    use crate::stats::accounting::forget_order::ForgetOrder;
    use ckpool_compat::stats::UserStats;
    use std::collections::BTreeSet;

    fn drain(o: &mut ForgetOrder<Arc<str>>) -> Vec<String> {
        std::iter::from_fn(|| o.pop_oldest())
            .map(|(_, n)| n.to_string())
            .collect()
    }

    #[test]
    fn oldest_first_and_moved_on_activity() {
        let mut o = ForgetOrder::default();
        let [a, b, c, d] = ["a", "b", "c", "d"].map(Arc::<str>::from);
        let at = |t: f64| filing(false, t);
        o.refile(&a, None, at(30.0));
        o.refile(&b, None, at(10.0));
        o.refile(&c, None, at(20.0));
        o.refile(&d, None, at(20.0));
        // b is active again: it moves to the back.
        o.refile(&b, at(10.0), at(40.0));
        // a connects: out of the order.
        o.refile(&a, at(30.0), filing(true, 50.0));
        assert_eq!(o.len(), 3);
        // Equal activity: by name.
        assert_eq!(drain(&mut o), ["c", "d", "b"]);
        assert_eq!(o.len(), 0);
        // Never active, or a time that is not one, is oldest.
        o.refile(&a, None, at(5.0));
        o.refile(&b, None, at(f64::NAN));
        o.refile(&c, None, at(0.0));
        assert_eq!(drain(&mut o), ["b", "c", "a"]);
    }

    /// Every account is filed exactly where its state says, and the orders hold nothing
    /// else and nothing past the caps.
    fn check_filing(acc: &Accounting) {
        let mut users = BTreeSet::new();
        let mut workers = BTreeSet::new();
        for (name, u) in &acc.users {
            assert_eq!(u.filed, filing(u.connected > 0, u.activity()), "{name}");
            if let Some(k) = u.filed {
                users.insert((k, name.clone()));
            }
            let mut own = BTreeSet::new();
            for (wname, w) in &u.workers {
                assert_eq!(w.filed, filing(w.instances > 0, w.activity()), "{wname}");
                if let Some(k) = w.filed {
                    own.insert((k, wname.clone()));
                    workers.insert((k, (name.clone(), wname.clone())));
                }
            }
            assert_eq!(*u.idle_workers.entries(), own, "{name}");
            assert!(own.len() <= IDLE_WORKERS_PER_USER);
        }
        assert_eq!(*acc.idle_users.entries(), users);
        assert_eq!(*acc.idle_workers.entries(), workers);
        assert!(users.len() <= IDLE_USERS_KEPT);
        assert!(workers.len() <= IDLE_WORKERS_KEPT);
    }

    #[test]
    fn filing_follows_any_mix_of_events() {
        // Authorisations, shares (also from workers that never authorised), disconnects
        // (also ones whose authorisation was lost) and restored files, over enough users
        // and workers to pass every cap.
        let mut acc = Accounting::new(T0);
        let mut restored: Option<UserStats> = None;
        let mut most = (0, 0);
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = |n: u64| {
            seed = seed
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (seed >> 33) % n
        };
        for step in 0..400_000u32 {
            // Half the events go to many users (past the users' cap), half to a few with
            // many workers each (past the workers' caps).
            let user = if next(2) == 0 {
                format!("u{}", next(30_000))
            } else {
                format!("farm{}", next(300))
            };
            let worker = format!("{user}.{}", next(1000));
            let at = T0 + f64::from(step) * 0.01 - next(100) as f64;
            match next(10) {
                0..=1 => acc.on_event(&authorized(&user, &worker, at)),
                2..=4 => acc.on_share(&share(&user, &worker, 1.0, 2.0, Ok(()), at)),
                5..=8 => acc.on_event(&disconnected(&user, &worker)),
                _ => {
                    if let Some(stats) = restored.as_mut() {
                        stats.lastshare = at as u64;
                        for w in &mut stats.worker {
                            w.workername = format!("{user}.{}", next(40));
                        }
                        acc.restore_user(&user, stats, at);
                    } else {
                        let r = acc.report(at, 0);
                        restored = r.users.into_iter().next().map(|(_, s)| s);
                    }
                }
            }
            most = (
                most.0.max(acc.idle_users.len()),
                most.1.max(acc.idle_workers.len()),
            );
            if step % 50_000 == 0 {
                check_filing(&acc);
            }
        }
        check_filing(&acc);
        assert_eq!(
            most,
            (IDLE_USERS_KEPT, IDLE_WORKERS_KEPT),
            "both caps reached"
        );
    }
}

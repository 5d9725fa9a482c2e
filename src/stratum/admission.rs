//! ckpool's `maxclients`: one count of open connections for every listener, taken with one
//! atomic step, so connections arriving on several listeners at once cannot pass the limit
//! together. Beside it our `maxclients_per_ip`: a count per source address, so that one
//! host (a misconfigured proxy, a flood) cannot take every place; and the flood bans
//! (`flood_ban_rejects`): addresses refused until their ban ends.

use std::net::IpAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use dashmap::mapref::entry::Entry;
use dashmap::DashMap;

use crate::stats::Stats;

/// Admits connections up to the limits.
#[derive(Debug)]
pub struct Admission {
    max: Option<u64>,
    per_ip: Option<u64>,
    /// Open connections per address, only while a per-address limit is set; an address
    /// leaves the map with its last connection.
    by_ip: Arc<DashMap<IpAddr, u64>>,
    /// Banned addresses and when each ban ends.
    bans: DashMap<IpAddr, Instant>,
    /// Holds the count (`connections`, which the stats report).
    stats: Arc<Stats>,
}

/// Why a connection was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// `maxclients` connections are open.
    Full,
    /// `maxclients_per_ip` connections from this address are open.
    PerIp,
    /// The address is under a flood ban.
    Banned,
}

impl Refusal {
    /// The error line the miner gets before the close.
    pub fn line(self) -> &'static [u8] {
        match self {
            Refusal::Full => {
                b"{\"id\":null,\"result\":null,\"error\":[20,\"Server full (maxclients)\",null]}\n"
            }
            Refusal::PerIp => {
                b"{\"id\":null,\"result\":null,\"error\":[20,\"Too many connections from your address (maxclients_per_ip)\",null]}\n"
            }
            Refusal::Banned => {
                b"{\"id\":null,\"result\":null,\"error\":[20,\"Banned for a flood of rejected shares (flood_ban_rejects)\",null]}\n"
            }
        }
    }
}

/// One open connection in the counts, for as long as it lives: dropped when its task ends,
/// also if the task panics, so the counts (and the limits) never drift.
#[derive(Debug)]
pub struct OpenConnection {
    stats: Arc<Stats>,
    /// Its place in the per-address count, when that is kept.
    ip: Option<(Arc<DashMap<IpAddr, u64>>, IpAddr)>,
}

impl Drop for OpenConnection {
    fn drop(&mut self) {
        self.stats.connections.fetch_sub(1, Ordering::AcqRel);
        if let Some((by_ip, ip)) = self.ip.take() {
            release(&by_ip, ip);
        }
    }
}

/// Gives back one place of `ip`'s count, removing the address with its last.
fn release(by_ip: &DashMap<IpAddr, u64>, ip: IpAddr) {
    if let Entry::Occupied(mut e) = by_ip.entry(ip) {
        if *e.get() <= 1 {
            e.remove();
        } else {
            *e.get_mut() -= 1;
        }
    }
}

impl Admission {
    /// At most `max` connections at once and `per_ip` from one address (`None`: no
    /// limit), counted in `stats`.
    pub fn new(max: Option<usize>, per_ip: Option<usize>, stats: Arc<Stats>) -> Self {
        Admission {
            max: max.map(|m| m as u64),
            per_ip: per_ip.map(|m| m as u64),
            by_ip: Arc::new(DashMap::new()),
            bans: DashMap::new(),
            stats,
        }
    }

    /// Counts one more connection from `ip`, or says which limit it would pass (and counts
    /// the refusal). Each check and its count are one step: the address's under its map
    /// entry's lock, the total a compare-and-swap.
    pub fn try_admit(&self, ip: IpAddr) -> Result<OpenConnection, Refusal> {
        if !self.bans.is_empty() {
            let now = Instant::now();
            // An ended ban goes; one still running refuses.
            self.bans.remove_if(&ip, |_, until| *until <= now);
            if self.bans.contains_key(&ip) {
                self.stats.refused_banned.fetch_add(1, Ordering::Relaxed);
                return Err(Refusal::Banned);
            }
        }
        let ip_place = match self.per_ip {
            Some(per_ip) => {
                let mut n = self.by_ip.entry(ip).or_insert(0);
                // `per_ip` is at least 1: a refused address already has an entry.
                if *n >= per_ip {
                    self.stats.refused_per_ip.fetch_add(1, Ordering::Relaxed);
                    return Err(Refusal::PerIp);
                }
                *n += 1;
                Some((self.by_ip.clone(), ip))
            }
            None => None,
        };
        let max = self.max;
        let admitted = self
            .stats
            .connections
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |open| match max {
                Some(max) if open >= max => None,
                _ => Some(open + 1),
            })
            .is_ok();
        if !admitted {
            if let Some((by_ip, ip)) = ip_place {
                release(&by_ip, ip);
            }
            self.stats.refused_full.fetch_add(1, Ordering::Relaxed);
            return Err(Refusal::Full);
        }
        Ok(OpenConnection {
            stats: self.stats.clone(),
            ip: ip_place,
        })
    }

    /// Refuses `ip` for `for_` from now (a ban already running is extended, never
    /// shortened). Its open connections are not closed here: the session that flooded
    /// closes itself, and others from the address end as they end.
    pub fn ban(&self, ip: IpAddr, for_: Duration) {
        let until = Instant::now() + for_;
        self.bans
            .entry(ip)
            .and_modify(|u| *u = (*u).max(until))
            .or_insert(until);
        self.stats.flood_bans.fetch_add(1, Ordering::Relaxed);
        // Ended bans are dropped here too, so the map holds only bans still running.
        let now = Instant::now();
        self.bans.retain(|_, until| *until > now);
    }

    /// Addresses banned now (some possibly just ended).
    pub fn banned(&self) -> usize {
        self.bans.len()
    }

    /// Addresses with a connection open, while a per-address limit is set.
    pub fn addresses(&self) -> usize {
        self.by_ip.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicU64;

    const LOCAL: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

    #[test]
    fn the_limit_holds_for_connections_admitted_at_once() {
        const LIMIT: usize = 1;
        let admission = Arc::new(Admission::new(
            Some(LIMIT),
            None,
            Arc::new(Stats::default()),
        ));
        let held = Arc::new(AtomicU64::new(0));
        let most = Arc::new(AtomicU64::new(0));
        // Two "listeners" per core admitting, holding and closing connections as fast as
        // they can: with a separate check and count, two of them pass the check together.
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let (admission, held, most) = (admission.clone(), held.clone(), most.clone());
                std::thread::spawn(move || {
                    for _ in 0..200_000 {
                        if let Ok(open) = admission.try_admit(LOCAL) {
                            let now = held.fetch_add(1, Ordering::AcqRel) + 1;
                            most.fetch_max(now, Ordering::AcqRel);
                            held.fetch_sub(1, Ordering::AcqRel);
                            drop(open);
                        }
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert!(
            most.load(Ordering::Acquire) <= LIMIT as u64,
            "{} connections held at once with maxclients {LIMIT}",
            most.load(Ordering::Acquire)
        );
        assert_eq!(admission.stats.connections.load(Ordering::Acquire), 0);
    }

    #[test]
    fn no_limit_admits_everyone_and_counts_them() {
        let admission = Admission::new(None, None, Arc::new(Stats::default()));
        let open: Vec<_> = (0..100)
            .map(|_| admission.try_admit(LOCAL).unwrap())
            .collect();
        assert_eq!(admission.stats.connections.load(Ordering::Acquire), 100);
        drop(open);
        assert_eq!(admission.stats.connections.load(Ordering::Acquire), 0);
        let one = Admission::new(Some(1), None, Arc::new(Stats::default()));
        let first = one.try_admit(LOCAL);
        assert!(first.is_ok() && one.try_admit(LOCAL).is_err());
        drop(first);
        assert!(
            one.try_admit(LOCAL).is_ok(),
            "a closed connection frees its place"
        );
    }

    #[test]
    fn one_address_is_held_to_its_limit_and_others_are_not() {
        let stats = Arc::new(Stats::default());
        let admission = Admission::new(Some(10), Some(2), stats.clone());
        let other: IpAddr = "10.0.0.7".parse().unwrap();
        let a = admission.try_admit(LOCAL).unwrap();
        let b = admission.try_admit(LOCAL).unwrap();
        assert_eq!(admission.try_admit(LOCAL).err(), Some(Refusal::PerIp));
        let c = admission.try_admit(other).unwrap();
        assert_eq!(stats.connections.load(Ordering::Acquire), 3);
        assert_eq!(stats.refused_per_ip.load(Ordering::Acquire), 1);
        drop(a);
        let a = admission
            .try_admit(LOCAL)
            .expect("a freed place is taken again");
        drop((a, b, c));
        assert_eq!(stats.connections.load(Ordering::Acquire), 0);
        assert_eq!(
            admission.addresses(),
            0,
            "addresses leave with their last connection"
        );
    }

    #[test]
    fn a_full_server_gives_the_address_its_place_back() {
        let stats = Arc::new(Stats::default());
        let admission = Admission::new(Some(1), Some(1), stats.clone());
        let other: IpAddr = "10.0.0.7".parse().unwrap();
        let held = admission.try_admit(other).unwrap();
        assert_eq!(admission.try_admit(LOCAL).err(), Some(Refusal::Full));
        assert_eq!(stats.refused_full.load(Ordering::Acquire), 1);
        assert_eq!(
            admission.addresses(),
            1,
            "the refused address holds no place"
        );
        drop(held);
        assert!(admission.try_admit(LOCAL).is_ok());
    }

    #[test]
    fn a_banned_address_is_refused_until_its_ban_ends() {
        let stats = Arc::new(Stats::default());
        let admission = Admission::new(None, None, stats.clone());
        let other: IpAddr = "10.0.0.7".parse().unwrap();
        admission.ban(LOCAL, Duration::from_secs(600));
        assert_eq!(admission.try_admit(LOCAL).err(), Some(Refusal::Banned));
        assert!(admission.try_admit(other).is_ok(), "only that address");
        assert_eq!(stats.refused_banned.load(Ordering::Acquire), 1);
        assert_eq!(stats.flood_bans.load(Ordering::Acquire), 1);
        // A ban that has ended admits again and leaves the map.
        admission.ban(other, Duration::ZERO);
        assert!(admission.try_admit(other).is_ok());
        assert_eq!(admission.banned(), 1, "only the running ban is kept");
        // A shorter ban does not shorten a running one.
        admission.ban(LOCAL, Duration::ZERO);
        assert_eq!(admission.try_admit(LOCAL).err(), Some(Refusal::Banned));
    }
}

//! What this node knows of its peers: who is connected, what each sent, a score, a rate
//! limit per peer, and bans. A ban is for a proof of misbehaviour only (an invalid share,
//! a message that breaks the protocol, flooding past the rate limit); a share whose parent
//! this node lacks, a slow answer or a dropped connection costs nothing.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use libp2p::{Multiaddr, PeerId};
use serde::Serialize;

/// Score at which a peer is banned; each offence below a ban costs [`MINOR`].
pub const BAN_SCORE: i32 = -100;
/// What a minor offence (a request over the rate limit, an undecodable message) costs.
pub const MINOR: i32 = -10;
/// Messages (gossip and requests together) a peer may send per second, sustained.
pub const RATE_PER_SEC: f64 = 200.0;
/// … and in a burst.
pub const RATE_BURST: f64 = 2_000.0;
/// Bans kept at most (the oldest is lifted first past it).
pub const MAX_BANS: usize = 4_096;

/// A token bucket.
#[derive(Debug, Clone)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

impl Bucket {
    fn new(now: Instant) -> Bucket {
        Bucket {
            tokens: RATE_BURST,
            at: now,
        }
    }

    fn take(&mut self, now: Instant) -> bool {
        let refill = now.saturating_duration_since(self.at).as_secs_f64() * RATE_PER_SEC;
        self.tokens = (self.tokens + refill).min(RATE_BURST);
        self.at = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// One connected peer.
#[derive(Debug, Clone)]
struct Peer {
    addr: Multiaddr,
    outbound: bool,
    since: Instant,
    agent: String,
    tip_height: Option<u64>,
    valid: u64,
    score: i32,
    bucket: Bucket,
}

/// A ban in force.
#[derive(Debug, Clone)]
struct Ban {
    reason: String,
    until: Instant,
}

/// The peer table.
#[derive(Debug)]
pub struct PeerBook {
    peers: HashMap<PeerId, Peer>,
    bans: HashMap<PeerId, Ban>,
    ban_for: Duration,
    bans_total: u64,
}

/// A peer as `stratumd sharechain peers` shows it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct PeerView {
    /// Its peer id.
    pub peer: String,
    /// Its address.
    pub addr: String,
    /// "out" when this node dialled it.
    pub direction: &'static str,
    /// Seconds connected.
    pub connected_secs: u64,
    /// What it says it runs.
    pub agent: String,
    /// Its tip's height, when it said.
    pub tip_height: Option<u64>,
    /// Its shares this node kept.
    pub valid_shares: u64,
    /// Its score (0 is clean; banned at -100).
    pub score: i32,
}

/// A ban as shown.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct BanView {
    /// The peer.
    pub peer: String,
    /// Why.
    pub reason: String,
    /// Seconds left.
    pub secs_left: u64,
}

impl PeerBook {
    /// An empty table whose bans last `ban_for`.
    pub fn new(ban_for: Duration) -> PeerBook {
        PeerBook {
            peers: HashMap::new(),
            bans: HashMap::new(),
            ban_for,
            bans_total: 0,
        }
    }

    /// A connection to `peer` is up.
    pub fn connected(&mut self, peer: PeerId, addr: Multiaddr, outbound: bool, now: Instant) {
        self.peers.entry(peer).or_insert(Peer {
            addr,
            outbound,
            since: now,
            agent: String::new(),
            tip_height: None,
            valid: 0,
            score: 0,
            bucket: Bucket::new(now),
        });
    }

    /// Its last connection is down.
    pub fn disconnected(&mut self, peer: &PeerId) {
        self.peers.remove(peer);
    }

    /// Whether `peer` is connected.
    pub fn is_connected(&self, peer: &PeerId) -> bool {
        self.peers.contains_key(peer)
    }

    /// Connected peers.
    pub fn len(&self) -> usize {
        self.peers.len()
    }

    /// True without peers.
    pub fn is_empty(&self) -> bool {
        self.peers.is_empty()
    }

    /// The connected peers' ids.
    pub fn ids(&self) -> Vec<PeerId> {
        self.peers.keys().copied().collect()
    }

    /// What it says it runs.
    pub fn identified(&mut self, peer: &PeerId, agent: String) {
        if let Some(p) = self.peers.get_mut(peer) {
            p.agent = agent;
        }
    }

    /// Its tip height, as it last said.
    pub fn tip_height(&mut self, peer: &PeerId, height: u64) {
        if let Some(p) = self.peers.get_mut(peer) {
            p.tip_height = Some(height);
        }
    }

    /// `n` of its shares were kept.
    pub fn valid(&mut self, peer: &PeerId, n: u64) {
        if let Some(p) = self.peers.get_mut(peer) {
            p.valid += n;
        }
    }

    /// One message from `peer`: false when it is over its rate limit (then the message is
    /// dropped, and the peer pays a minor offence).
    pub fn allow(&mut self, peer: &PeerId, now: Instant) -> bool {
        match self.peers.get_mut(peer) {
            Some(p) => p.bucket.take(now),
            None => true,
        }
    }

    /// A minor offence: the score drops, and past [`BAN_SCORE`] the peer is banned.
    /// True when this banned it.
    pub fn penalize(&mut self, peer: &PeerId, why: &str, now: Instant) -> bool {
        let Some(p) = self.peers.get_mut(peer) else {
            return false;
        };
        p.score += MINOR;
        if p.score <= BAN_SCORE {
            return self.ban(peer, format!("score {BAN_SCORE} reached, last: {why}"), now);
        }
        false
    }

    /// Bans `peer` for the ban time; true when it was not banned already.
    pub fn ban(&mut self, peer: &PeerId, reason: String, now: Instant) -> bool {
        if self.bans.contains_key(peer) {
            return false;
        }
        if self.bans.len() >= MAX_BANS {
            if let Some(oldest) = self
                .bans
                .iter()
                .min_by_key(|(_, b)| b.until)
                .map(|(p, _)| *p)
            {
                self.bans.remove(&oldest);
            }
        }
        self.bans.insert(
            *peer,
            Ban {
                reason,
                until: now + self.ban_for,
            },
        );
        self.bans_total += 1;
        true
    }

    /// Whether `peer` is banned now.
    pub fn is_banned(&self, peer: &PeerId) -> bool {
        self.bans.contains_key(peer)
    }

    /// Lifts the bans that are over; returns their peers.
    pub fn lift_expired(&mut self, now: Instant) -> Vec<PeerId> {
        let over: Vec<PeerId> = self
            .bans
            .iter()
            .filter(|(_, b)| b.until <= now)
            .map(|(p, _)| *p)
            .collect();
        for p in &over {
            self.bans.remove(p);
        }
        over
    }

    /// Bans since start.
    pub fn bans_total(&self) -> u64 {
        self.bans_total
    }

    /// The table as shown, peers by id.
    pub fn view(&self, now: Instant) -> (Vec<PeerView>, Vec<BanView>) {
        let mut peers: Vec<PeerView> = self
            .peers
            .iter()
            .map(|(id, p)| PeerView {
                peer: id.to_string(),
                addr: p.addr.to_string(),
                direction: if p.outbound { "out" } else { "in" },
                connected_secs: now.saturating_duration_since(p.since).as_secs(),
                agent: p.agent.clone(),
                tip_height: p.tip_height,
                valid_shares: p.valid,
                score: p.score,
            })
            .collect();
        peers.sort_by(|a, b| a.peer.cmp(&b.peer));
        let mut bans: Vec<BanView> = self
            .bans
            .iter()
            .map(|(id, b)| BanView {
                peer: id.to_string(),
                reason: b.reason.clone(),
                secs_left: b.until.saturating_duration_since(now).as_secs(),
            })
            .collect();
        bans.sort_by(|a, b| a.peer.cmp(&b.peer));
        (peers, bans)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr() -> Multiaddr {
        "/ip4/127.0.0.1/tcp/1".parse().unwrap()
    }

    #[test]
    fn minor_offences_add_up_to_a_ban_and_bans_expire() {
        let t0 = Instant::now();
        let mut book = PeerBook::new(Duration::from_secs(60));
        let p = PeerId::random();
        book.connected(p, addr(), true, t0);
        for _ in 0..9 {
            assert!(!book.penalize(&p, "over the rate", t0));
        }
        assert!(!book.is_banned(&p));
        assert!(book.penalize(&p, "over the rate", t0));
        assert!(book.is_banned(&p));
        assert!(!book.ban(&p, "again".into(), t0), "one ban at a time");
        assert_eq!(book.bans_total(), 1);
        assert!(book.lift_expired(t0 + Duration::from_secs(59)).is_empty());
        assert_eq!(book.lift_expired(t0 + Duration::from_secs(60)), vec![p]);
        assert!(!book.is_banned(&p));
    }

    #[test]
    fn the_rate_limit_allows_a_burst_then_the_sustained_rate() {
        let t0 = Instant::now();
        let mut book = PeerBook::new(Duration::from_secs(60));
        let p = PeerId::random();
        book.connected(p, addr(), false, t0);
        let burst = (0..RATE_BURST as usize * 2)
            .filter(|_| book.allow(&p, t0))
            .count();
        assert_eq!(burst, RATE_BURST as usize);
        let later = t0 + Duration::from_secs(1);
        let refilled = (0..RATE_BURST as usize)
            .filter(|_| book.allow(&p, later))
            .count();
        assert_eq!(refilled, RATE_PER_SEC as usize);
    }
}

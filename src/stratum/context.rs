//! What every session shares: settings, the job board, the extranonce allocator, counters
//! and the channel found blocks leave by.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bitcoin::Network;
use tokio::sync::mpsc;

use super::extranonce::ExtranonceAllocator;
use crate::events::Events;
use crate::share::block_found::FoundBlock;
use crate::stats::Stats;
use crate::work::JobBoard;

/// Solo (ckpool `-B`: each miner paid at its own address) or pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Usernames must be addresses; each miner's coinbase pays it.
    Solo,
    /// Any username; the coinbase pays the configured payout list.
    Pool,
}

/// Session behaviour fixed at start-up.
#[derive(Debug, Clone)]
pub struct StratumSettings {
    /// Solo or pool.
    pub mode: Mode,
    /// The pool's version-rolling mask (ckpool `version_mask`).
    pub version_mask: u32,
    /// Lowest difficulty (ckpool `mindiff`, fractional allowed).
    pub mindiff: f64,
    /// Highest difficulty (ckpool `maxdiff`; `None` = no cap).
    pub maxdiff: Option<f64>,
    /// Bytes of extranonce2 miners roll.
    pub nonce2_len: usize,
    /// Longest accepted line.
    pub max_line: usize,
    /// How long a connection may take to subscribe and authorize.
    pub handshake_timeout: Duration,
    /// How long a write to a miner may block before the miner is dropped.
    pub write_timeout: Duration,
    /// Most connections served at once (ckpool `maxclients`); `None` = no limit.
    pub max_clients: Option<usize>,
}

/// Shared by all sessions of one server.
#[derive(Debug)]
pub struct ServerContext {
    /// Start-up settings.
    pub settings: StratumSettings,
    /// Newest job and tip generation.
    pub board: Arc<crate::work::JobBoard>,
    /// extranonce1 values.
    pub extranonces: ExtranonceAllocator,
    /// The chain miners' addresses must belong to; set from config or from bitcoind.
    pub network: Arc<OnceLock<Network>>,
    /// Counters.
    pub stats: Arc<Stats>,
    /// Where solving shares go; unbounded so a block is never dropped or waited on.
    pub blocks: mpsc::UnboundedSender<FoundBlock>,
    /// Consumers of shares, jobs and sessions (ZMQ output, stats).
    pub events: Arc<Events>,
    client_ids: AtomicU64,
    /// An operator-set difficulty for every miner (f64 bits; 0 = none, vardiff rules).
    fixed_difficulty: AtomicU64,
    /// Bumped to ask every session to send `client.reconnect` and close.
    reconnect: tokio::sync::watch::Sender<u64>,
}

impl ServerContext {
    /// Builds the context.
    pub fn new(
        settings: StratumSettings,
        board: Arc<JobBoard>,
        extranonces: ExtranonceAllocator,
        network: Arc<OnceLock<Network>>,
        stats: Arc<Stats>,
        blocks: mpsc::UnboundedSender<FoundBlock>,
        events: Arc<Events>,
    ) -> Self {
        ServerContext {
            settings,
            board,
            extranonces,
            network,
            stats,
            blocks,
            events,
            client_ids: AtomicU64::new(0),
            fixed_difficulty: AtomicU64::new(0),
            reconnect: tokio::sync::watch::Sender::new(0),
        }
    }

    /// Sets (or with `None` clears) one difficulty for every miner, applied from each
    /// miner's next job; while set, vardiff and suggestions do not move it.
    pub fn set_fixed_difficulty(&self, diff: Option<f64>) {
        let bits = diff
            .filter(|d| d.is_finite() && *d > 0.0)
            .map_or(0, f64::to_bits);
        self.fixed_difficulty.store(bits, Ordering::Relaxed);
    }

    /// The operator-set difficulty, if any.
    #[inline]
    pub fn fixed_difficulty(&self) -> Option<f64> {
        match self.fixed_difficulty.load(Ordering::Relaxed) {
            0 => None,
            bits => Some(f64::from_bits(bits)),
        }
    }

    /// Asks every connected miner to reconnect (ckpool's `reconnect` command).
    pub fn reconnect_all(&self) {
        self.reconnect.send_modify(|n| *n += 1);
    }

    /// A receiver that changes when [`ServerContext::reconnect_all`] is called.
    pub fn reconnect_requests(&self) -> tokio::sync::watch::Receiver<u64> {
        self.reconnect.subscribe()
    }

    /// A number for a new session (ckpool's `clientid`), starting at 1.
    pub fn next_client_id(&self) -> u64 {
        self.client_ids.fetch_add(1, Ordering::Relaxed) + 1
    }
}

/// A context for unit tests: an empty job board, mindiff 1, nothing consuming events.
#[cfg(test)]
pub(crate) fn test_context(
    mode: Mode,
    network: Arc<OnceLock<Network>>,
    stats: Arc<Stats>,
) -> ServerContext {
    let (blocks, _) = mpsc::unbounded_channel();
    ServerContext::new(
        StratumSettings {
            mode,
            version_mask: 0x1fff_e000,
            mindiff: 1.0,
            maxdiff: None,
            nonce2_len: 8,
            max_line: 16 * 1024,
            handshake_timeout: Duration::from_secs(5),
            write_timeout: Duration::from_secs(5),
            max_clients: None,
        },
        Arc::new(JobBoard::new()),
        ExtranonceAllocator::new(4, 1),
        network,
        stats,
        blocks,
        Arc::new(crate::events::EventsBuilder::default().build()),
    )
}

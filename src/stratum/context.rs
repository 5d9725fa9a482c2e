//! What every session shares: the mode, settings, the job board, the extranonce allocator,
//! counters, the operator's directives, and the sink money shares leave by.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bitcoin::Network;
use tokio::sync::watch;

use super::admission::Admission;
use super::extranonce::ExtranonceAllocator;
use crate::events::Events;
use crate::share::ShareSink;
use crate::stats::Stats;
use crate::work::{JobBoard, Mode};

/// Session behaviour fixed at start-up.
#[derive(Debug, Clone)]
pub struct StratumSettings {
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
    /// Most connections served at once over all listeners (ckpool `maxclients`); `None` =
    /// no limit.
    pub max_clients: Option<usize>,
    /// Most connections at once from one IP address (`maxclients_per_ip`); `None` = no
    /// limit.
    pub max_clients_per_ip: Option<usize>,
    /// Rejected submits in a row (stale aside) that close the connection and ban its
    /// address (`flood_ban_rejects`); `None` = off.
    pub flood_ban_rejects: Option<u32>,
    /// How long a flood ban lasts.
    pub flood_ban_for: Duration,
}

/// What the operator asks of every session at once (the control socket). Sessions follow
/// it on a watch channel and apply a change as soon as it comes; no job is rebuilt for it.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Directives {
    /// Bumped to ask every session to send `client.reconnect` and close.
    pub reconnect: u64,
    /// One difficulty for every miner, overriding vardiff and suggestions; `None`: vardiff.
    pub fixed_difficulty: Option<f64>,
}

/// Shared by all sessions of one server.
#[derive(Debug)]
pub struct ServerContext {
    /// How miners are paid: decides each session's payee.
    pub mode: Mode,
    /// Start-up settings.
    pub settings: StratumSettings,
    /// Newest job and tip generation.
    pub board: Arc<JobBoard>,
    /// extranonce1 values.
    pub extranonces: ExtranonceAllocator,
    /// The chain miners' addresses must belong to; set from config or from bitcoind.
    pub network: Arc<OnceLock<Network>>,
    /// Counters.
    pub stats: Arc<Stats>,
    /// Where shares that matter for money (block solutions) go, losslessly.
    pub found: ShareSink,
    /// Consumers of shares, jobs and sessions (ZMQ output, stats).
    pub events: Arc<Events>,
    /// The `maxclients` count, one for every listener.
    pub admission: Admission,
    client_ids: AtomicU64,
    directives: watch::Sender<Directives>,
}

impl ServerContext {
    /// Builds the context.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        mode: Mode,
        settings: StratumSettings,
        board: Arc<JobBoard>,
        extranonces: ExtranonceAllocator,
        network: Arc<OnceLock<Network>>,
        stats: Arc<Stats>,
        found: ShareSink,
        events: Arc<Events>,
    ) -> Self {
        ServerContext {
            mode,
            admission: Admission::new(
                settings.max_clients,
                settings.max_clients_per_ip,
                stats.clone(),
            ),
            settings,
            board,
            extranonces,
            network,
            stats,
            found,
            events,
            client_ids: AtomicU64::new(0),
            directives: watch::Sender::new(Directives::default()),
        }
    }

    /// Sets (or with `None` clears) one difficulty for every miner; sessions apply it at
    /// once, and while it is set vardiff and suggestions do not move it.
    pub fn set_fixed_difficulty(&self, diff: Option<f64>) {
        let diff = diff.filter(|d| d.is_finite() && *d > 0.0);
        self.directives.send_modify(|d| d.fixed_difficulty = diff);
    }

    /// The operator-set difficulty, if any.
    pub fn fixed_difficulty(&self) -> Option<f64> {
        self.directives.borrow().fixed_difficulty
    }

    /// Asks every connected miner to reconnect (ckpool's `reconnect` command).
    pub fn reconnect_all(&self) {
        self.directives.send_modify(|d| d.reconnect += 1);
    }

    /// A receiver of the operator's directives; its first value is the current one.
    pub fn directives(&self) -> watch::Receiver<Directives> {
        self.directives.subscribe()
    }

    /// A number for a new session (ckpool's `clientid`), starting at 1.
    pub fn next_client_id(&self) -> u64 {
        self.client_ids.fetch_add(1, Ordering::Relaxed) + 1
    }
}

/// A context for unit tests: an empty job board, mindiff 1, nothing consuming events or
/// found shares.
#[cfg(test)]
pub(crate) fn test_context(
    mode: Mode,
    network: Arc<OnceLock<Network>>,
    stats: Arc<Stats>,
) -> ServerContext {
    let (found, _) = crate::share::found::channel();
    test_context_with_sink(mode, network, stats, found)
}

/// [`test_context`] with found shares going to `found`.
#[cfg(test)]
pub(crate) fn test_context_with_sink(
    mode: Mode,
    network: Arc<OnceLock<Network>>,
    stats: Arc<Stats>,
    found: ShareSink,
) -> ServerContext {
    ServerContext::new(
        mode,
        StratumSettings {
            version_mask: 0x1fff_e000,
            mindiff: 1.0,
            maxdiff: None,
            nonce2_len: 8,
            max_line: 16 * 1024,
            handshake_timeout: Duration::from_secs(5),
            write_timeout: Duration::from_secs(5),
            max_clients: None,
            max_clients_per_ip: None,
            flood_ban_rejects: None,
            flood_ban_for: Duration::from_secs(600),
        },
        Arc::new(JobBoard::new()),
        ExtranonceAllocator::new(4, 1),
        network,
        stats,
        found,
        Arc::new(crate::events::EventsBuilder::default().build()),
    )
}

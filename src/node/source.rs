//! The template source: waits for bitcoind, learns its chain, then fetches a template for
//! every new block (ZMQ `hashblock`, or the `blockpoll` fallback), every `update_interval`,
//! and whenever asked ([`FetchReason`]), and publishes the latest one. It never builds
//! jobs: `work`'s job loop does, from what is published here. bitcoind going away is logged
//! and retried; miners keep the last job (refreshed in time) meanwhile.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use bitcoin::Network;
use serde_json::Value;
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use super::rpc::{NodeSet, RpcError};
use super::template::Template;

/// The longest a miner may go without hearing from us.
pub const MAX_SILENCE: Duration = Duration::from_secs(55);

/// Why a fresh template is wanted now, besides the source's own poll and timer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FetchReason {
    /// bitcoind announced a new block on ZMQ `hashblock`.
    BlockAnnounced,
    /// A block we found has its verdict: it is the new tip, or our template may be stale.
    BlockSubmitted,
}

/// How the source polls and refreshes.
#[derive(Debug, Clone)]
pub struct SourceConfig {
    /// ckpool `blockpoll`: how often to ask for the best block hash.
    pub blockpoll: Duration,
    /// ckpool `update_interval`: how often to issue fresh work regardless.
    pub update_interval: Duration,
    /// ZMQ `hashblock` endpoint (ckpool `zmqblock`), if any.
    pub zmqblock: Option<String>,
    /// Minimum time between "unreachable" log lines.
    pub log_every: Duration,
}

/// The chain bitcoind reports, once it is out of initial block download.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chain {
    /// `getblockchaininfo`'s `chain` (`main`, `test`, `testnet4`, `signet`, `regtest`).
    pub name: String,
    /// The network it names, when it is one we know.
    pub network: Option<Network>,
}

/// What the source publishes.
#[derive(Debug)]
pub struct SourceOutputs {
    /// The latest template: replaced for every fetch, even one equal to the last (the
    /// periodic refresh), so the job loop hears of each.
    pub templates: watch::Sender<Option<Arc<Template>>>,
    /// The chain, set once bitcoind has told it.
    pub chain: watch::Sender<Option<Chain>>,
}

/// Runs until `shutdown`. `requests` lets others (ZMQ, the block submitter) ask for a
/// template now; `zmq_requests` is the sending side ZMQ `hashblock` notifications use.
pub async fn run(
    nodes: NodeSet,
    config: SourceConfig,
    outputs: SourceOutputs,
    zmq_requests: mpsc::Sender<FetchReason>,
    mut requests: mpsc::Receiver<FetchReason>,
    shutdown: CancellationToken,
) {
    let mut src = Source {
        nodes,
        templates: outputs.templates,
        last: None,
        last_error_log: None,
        log_every: config.log_every,
        signet: false,
    };
    let Some(chain) = src.wait_for_node(&shutdown).await else {
        return;
    };
    // Every node used from now on must be on this chain (the chain gate checks it against
    // the config's `network`).
    src.nodes.pin_chain(chain.clone());
    let network = chain_network(&chain);
    if network.is_none() {
        tracing::warn!("bitcoind reports unknown chain {chain:?}");
    }
    src.signet = network == Some(Network::Signet);
    outputs.chain.send_replace(Some(Chain {
        name: chain,
        network,
    }));
    let _zmq = match &config.zmqblock {
        Some(ep) => match super::zmq_sub::spawn(ep.clone(), move || {
            // Full means a fetch is already queued.
            !matches!(
                zmq_requests.try_send(FetchReason::BlockAnnounced),
                Err(mpsc::error::TrySendError::Closed(_))
            )
        }) {
            Ok(sub) => {
                tracing::info!(endpoint = %ep, "subscribed to bitcoind ZMQ hashblock");
                Some(sub)
            }
            Err(e) => {
                tracing::warn!(endpoint = %ep, "cannot subscribe to ZMQ hashblock ({e}); relying on blockpoll");
                None
            }
        },
        None => None,
    };
    src.refresh(false).await;
    let mut poll = tokio::time::interval(config.blockpoll);
    poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // Some firmware treats a minute of silence as a dead pool: never wait longer than 55 s.
    let every = config.update_interval.min(MAX_SILENCE);
    if every < config.update_interval {
        tracing::warn!(
            "update_interval {}s is above {}s; fresh work is sent every {}s so miners never see a minute of silence",
            config.update_interval.as_secs(),
            MAX_SILENCE.as_secs(),
            MAX_SILENCE.as_secs()
        );
    }
    let mut update = tokio::time::interval(every);
    update.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    update.reset();
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            Some(reason) = requests.recv() => {
                // Coalesce a burst of notifications into one template fetch.
                while requests.try_recv().is_ok() {}
                tracing::debug!(?reason, "template requested");
                src.refresh(false).await;
                update.reset();
            }
            _ = poll.tick() => {
                if src.tip_changed().await {
                    src.refresh(false).await;
                    update.reset();
                }
            }
            _ = update.tick() => src.refresh(true).await,
        }
    }
}

/// The `getblockchaininfo` chain name of a network.
pub fn chain_name(network: Network) -> &'static str {
    match network {
        Network::Bitcoin => "main",
        Network::Testnet => "test",
        Network::Testnet4 => "testnet4",
        Network::Signet => "signet",
        Network::Regtest => "regtest",
    }
}

/// The network of a `getblockchaininfo` chain name.
pub fn chain_network(chain: &str) -> Option<Network> {
    match chain {
        "main" => Some(Network::Bitcoin),
        "test" => Some(Network::Testnet),
        "testnet4" => Some(Network::Testnet4),
        "signet" => Some(Network::Signet),
        "regtest" => Some(Network::Regtest),
        _ => None,
    }
}

struct Source {
    nodes: NodeSet,
    templates: watch::Sender<Option<Arc<Template>>>,
    last: Option<Arc<Template>>,
    last_error_log: Option<Instant>,
    log_every: Duration,
    signet: bool,
}

impl Source {
    fn log_error(&mut self, what: &str, e: &RpcError) {
        let due = self
            .last_error_log
            .is_none_or(|t| t.elapsed() >= self.log_every);
        if due {
            self.last_error_log = Some(Instant::now());
            tracing::warn!("{what}: {e}; retrying (miners keep their current work)");
        }
    }

    /// Waits until a node answers `getblockchaininfo` and is out of initial block download.
    async fn wait_for_node(&mut self, shutdown: &CancellationToken) -> Option<String> {
        let mut delay = Duration::from_millis(100);
        loop {
            match self.nodes.call("getblockchaininfo", vec![]).await {
                Ok(info) => {
                    let chain = info
                        .get("chain")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_string();
                    let ibd = info
                        .get("initialblockdownload")
                        .and_then(Value::as_bool)
                        .unwrap_or(false);
                    let count = |key: &str| info.get(key).and_then(Value::as_u64).unwrap_or(0);
                    if !ibd {
                        tracing::info!(%chain, blocks = count("blocks"), "bitcoind ready");
                        return Some(chain);
                    }
                    let due = self
                        .last_error_log
                        .is_none_or(|t| t.elapsed() >= self.log_every);
                    if due {
                        self.last_error_log = Some(Instant::now());
                        tracing::warn!(
                            blocks = count("blocks"),
                            headers = count("headers"),
                            "bitcoind is in initial block download; waiting"
                        );
                    }
                }
                // Pinned to a chain (the config's `network`) and no node on it answered,
                // but one on another chain did: reported, for the chain gate to stop the
                // server naming the key, as without a pin.
                Err(RpcError::WrongChain { chain, .. }) => return Some(chain),
                Err(e) => self.log_error("bitcoind not reachable", &e),
            }
            tokio::select! {
                _ = shutdown.cancelled() => return None,
                _ = tokio::time::sleep(delay) => {}
            }
            delay = (delay * 2).min(Duration::from_secs(5));
        }
    }

    async fn tip_changed(&mut self) -> bool {
        match self.nodes.call("getbestblockhash", vec![]).await {
            Ok(Value::String(hash)) => match &self.last {
                Some(t) => t.previous_block_hash.to_string() != hash,
                None => true,
            },
            Ok(_) => false,
            Err(e) => {
                self.log_error("getbestblockhash failed", &e);
                false
            }
        }
    }

    /// Fetches a template and publishes it. On failure, a timed refresh re-issues the last
    /// template with a fresh time so miners still hear from us. Parsing a template
    /// (hex-decoding and hashing every transaction) takes milliseconds for a full block, so
    /// it runs on the blocking pool, not beside the miners' sessions.
    async fn refresh(&mut self, timed: bool) {
        let fetched = match self.nodes.get_block_template(self.signet).await {
            Ok(v) => match tokio::task::spawn_blocking(move || Template::from_json(v)).await {
                Ok(Ok(t)) => Ok(Arc::new(t)),
                Ok(Err(e)) => {
                    tracing::error!("unusable block template: {e}");
                    Err(())
                }
                Err(e) => {
                    tracing::error!("template parser failed: {e}");
                    Err(())
                }
            },
            Err(e) => {
                self.log_error("getblocktemplate failed", &e);
                Err(())
            }
        };
        let template = match (fetched, &self.last, timed) {
            (Ok(t), _, _) => t,
            // A timed refresh always sends something: the last template, time updated.
            (Err(()), Some(last), true) => {
                let mut t = (**last).clone();
                let now = SystemTime::now()
                    .duration_since(SystemTime::UNIX_EPOCH)
                    .map(|d| d.as_secs() as u32)
                    .unwrap_or(t.curtime);
                t.curtime = t.curtime.max(now);
                Arc::new(t)
            }
            (Err(()), _, _) => return,
        };
        let new_block = self
            .last
            .as_ref()
            .is_none_or(|l| l.previous_block_hash != template.previous_block_hash);
        if new_block {
            tracing::info!(
                height = template.height,
                prev = %template.previous_block_hash,
                txs = template.transactions.len(),
                "new block template"
            );
        }
        self.last = Some(template.clone());
        self.templates.send_replace(Some(template));
    }
}

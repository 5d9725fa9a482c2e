//! The template source: waits for bitcoind, learns its chain, then turns every new block
//! (ZMQ `hashblock`, or the `blockpoll` fallback) and every `update_interval` into a new
//! job on the board. bitcoind going away is logged and retried; miners keep the last job
//! (refreshed in time) meanwhile.

use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant, SystemTime};

use bitcoin::Network;
use serde_json::Value;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::rpc::{NodeSet, RpcError};
use super::template::Template;
use crate::events::{Event, Events};
use crate::work::{JobBoard, JobBuilder};

/// The longest a miner may go without hearing from us.
pub const MAX_SILENCE: Duration = Duration::from_secs(55);

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

/// Runs until `shutdown`. `refresh` lets others (the block submitter) ask for new work now.
/// `address_check` is called once the chain is known, to refuse addresses of another chain.
#[allow(clippy::too_many_arguments)]
pub async fn run(
    nodes: NodeSet,
    config: SourceConfig,
    builder: Arc<JobBuilder>,
    board: Arc<JobBoard>,
    events: Arc<Events>,
    network: Arc<OnceLock<Network>>,
    address_check: Box<dyn FnOnce(Network) + Send>,
    refresh_tx: mpsc::Sender<String>,
    mut refresh: mpsc::Receiver<String>,
    shutdown: CancellationToken,
) {
    let mut src = Source {
        nodes,
        builder,
        board,
        events,
        last: None,
        generation: 0,
        last_error_log: None,
        log_every: config.log_every,
        signet: false,
    };
    let Some(chain) = src.wait_for_node(&shutdown).await else {
        return;
    };
    match chain_network(&chain) {
        Some(n) => {
            if let Some(configured) = network.get() {
                if *configured != n {
                    tracing::error!("bitcoind is on {chain} but the configured network is {configured}; miners' addresses are checked against {configured}");
                }
            } else {
                let _ = network.set(n);
                address_check(n);
            }
            src.signet = n == Network::Signet;
        }
        None => tracing::warn!("bitcoind reports unknown chain {chain:?}"),
    }
    let _zmq = match &config.zmqblock {
        Some(ep) => match super::zmq_sub::spawn(ep.clone(), refresh_tx.clone()) {
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
            Some(_) = refresh.recv() => {
                // Coalesce a burst of notifications into one template fetch.
                while refresh.try_recv().is_ok() {}
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

fn chain_network(chain: &str) -> Option<Network> {
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
    builder: Arc<JobBuilder>,
    board: Arc<JobBoard>,
    events: Arc<Events>,
    last: Option<Arc<Template>>,
    generation: u64,
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
                    if !ibd {
                        tracing::info!(%chain, blocks = info.get("blocks").and_then(serde_json::Value::as_u64).unwrap_or(0), "bitcoind ready");
                        return Some(chain);
                    }
                    let due = self
                        .last_error_log
                        .is_none_or(|t| t.elapsed() >= self.log_every);
                    if due {
                        self.last_error_log = Some(Instant::now());
                        tracing::warn!(
                            blocks = info
                                .get("blocks")
                                .and_then(serde_json::Value::as_u64)
                                .unwrap_or(0),
                            headers = info
                                .get("headers")
                                .and_then(serde_json::Value::as_u64)
                                .unwrap_or(0),
                            "bitcoind is in initial block download; waiting"
                        );
                    }
                }
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

    /// Fetches a template and publishes a job. On failure, a timed refresh re-issues the
    /// last template with a fresh time so miners still hear from us. Parsing a template
    /// (hex-decoding and hashing every transaction) and building the job take milliseconds
    /// for a full block, so they run on the blocking pool, not beside the miners' sessions.
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
        let clean = self
            .last
            .as_ref()
            .is_none_or(|l| l.previous_block_hash != template.previous_block_hash);
        // The generation moves only once a job on the new block is published: a failed
        // build leaves the board as it was, and the next refresh tries the block again.
        let generation = self.generation + u64::from(clean);
        if clean {
            tracing::info!(
                height = template.height,
                prev = %template.previous_block_hash,
                txs = template.transactions.len(),
                "new block template"
            );
        }
        let (builder, for_job) = (self.builder.clone(), template.clone());
        let built = tokio::task::spawn_blocking(move || {
            builder.build(for_job, clean, generation, SystemTime::now())
        })
        .await;
        match built {
            Err(e) => tracing::error!("job builder failed: {e}"),
            Ok(Err(e)) => tracing::error!("cannot build a job from the template: {e}"),
            Ok(Ok(job)) => {
                self.generation = generation;
                self.last = Some(template);
                let job = Arc::new(job);
                self.board.publish(job.clone());
                if self.events.interest().jobs {
                    self.events.publish(Event::Job(job));
                }
            }
        }
    }
}

//! Wiring: from a validated [`Config`] to a running server (template source, job loop and
//! board, stratum listeners, found-share consumer and block submitter, event consumers,
//! control socket), optionally against an in-process simnet.
//!
//! Everything that can fail (simnet, binding the listeners, the ZMQ publisher and the
//! control socket) happens before anything is spawned, so a failed start leaves nothing
//! running: what was bound is dropped, and simnet is stopped.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bitcoin::Network;
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use crate::config::{Config, ConfigError, NodeSource, SimnetNode};
use crate::control::Control;
use crate::events::{Event, Events, EventsBuilder};
use crate::node::rpc::{NodeAuth, NodeEndpoint, NodeSet};
use crate::node::source::{self, Chain, SourceConfig, SourceOutputs};
use crate::node::submitter::{BlockOutcome, BlockSubmitter, BlockVerdict, VerdictSink};
use crate::stats::Stats;
use crate::stratum::extranonce::ExtranonceAllocator;
use crate::stratum::{ServerContext, StratumServer, StratumSettings};
use crate::work::job_loop::JobObserver;
use crate::work::{JobBoard, JobBuilder, JobConfig, JobLoop, PayoutPlan};

/// Start-up failures, each with a message for the operator.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// A config value is wrong.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A listener could not bind.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address from `serverurl`.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// The HTTP server (`api`) could not bind.
    #[error("config key `api`: cannot listen on {addr}: {source}")]
    ApiBind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// simnet could not start.
    #[error("simnet: {0}")]
    Simnet(String),
    /// p2pool mode's share chain could not be opened or started.
    #[error("p2pool: {0}")]
    ShareChain(String),
}

/// A running server.
pub struct Running {
    /// Bound stratum addresses, in `serverurl` order.
    pub stratum_addrs: Vec<SocketAddr>,
    /// Counters.
    pub stats: Arc<Stats>,
    /// The job board.
    pub board: Arc<JobBoard>,
    /// The in-process simnet, when asked for.
    pub simnet: Option<simnet::SimnetHandle>,
    /// Set when the server stopped itself for a fatal reason.
    pub fatal: Arc<OnceLock<String>>,
    /// Cancelling this stops everything.
    pub shutdown: CancellationToken,
    /// Operator controls (payouts, difficulty, reconnect).
    pub control: Control,
    /// p2pool mode: the share chain's status.
    pub share_chain: Option<watch::Receiver<crate::sharechain::ChainStatus>>,
    /// p2pool mode: the share chain network's status.
    pub share_net: Option<watch::Receiver<crate::p2p::NetStatus>>,
    /// The HTTP server's bound address (dashboard, metrics, API), when `api` is set.
    pub api_addr: Option<SocketAddr>,
    /// Found shares handed on and not yet archived.
    found_in_flight: Arc<crate::share::found::InFlight>,
}

impl Running {
    /// Waits, at most `within`, until every block solution found so far is archived under
    /// `<logdir>/blocks/` (from where a restart resubmits it if no node took it). A stopping
    /// server calls it after cancelling `shutdown`, before its runtime drops the tasks;
    /// false when `within` passed first.
    pub async fn settle(&self, within: Duration) -> bool {
        tokio::time::timeout(within, self.found_in_flight.settled())
            .await
            .is_ok()
    }
}

/// Starts everything; returns once the listeners are bound.
pub async fn start(config: Config) -> Result<Running, AppError> {
    for w in &config.warnings {
        tracing::warn!("{w}");
    }
    let simnet = match &config.nodes {
        NodeSource::Simnet(opts) => Some(start_simnet(&config, *opts).await?),
        NodeSource::Bitcoind { .. } => None,
    };
    match Parts::prepare(config, simnet.as_ref()).await {
        Ok(parts) => Ok(parts.spawn(simnet)),
        Err(e) => {
            if let Some(sim) = simnet {
                sim.shutdown().await;
            }
            Err(e)
        }
    }
}

async fn start_simnet(config: &Config, opts: SimnetNode) -> Result<simnet::SimnetHandle, AppError> {
    let sim_config = simnet::SimnetConfig {
        difficulty: opts.difficulty,
        transactions_per_template: opts.transactions,
        auth: simnet::SimnetAuth::Cookie {
            dir: config.logdir.join("simnet"),
        },
        ..simnet::SimnetConfig::default()
    };
    let handle = simnet::start(sim_config)
        .await
        .map_err(|e| AppError::Simnet(e.to_string()))?;
    tracing::info!(
        "simnet JSON-RPC on http://{} cookie {}, ZMQ hashblock on {}",
        handle.rpc_addr,
        handle
            .cookie_file
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_default(),
        handle.zmq_endpoint
    );
    Ok(handle)
}

/// Where the node side comes from: the configured bitcoinds, or the in-process simnet.
struct NodeSide {
    btcd: Vec<NodeEndpoint>,
    zmqblock: Option<String>,
    /// The chain, when known before bitcoind is asked.
    network: Option<Network>,
}

impl NodeSide {
    fn of(config: &Config, simnet: Option<&simnet::SimnetHandle>) -> NodeSide {
        match (&config.nodes, simnet) {
            (_, Some(handle)) => NodeSide {
                btcd: vec![NodeEndpoint {
                    url: handle.rpc_addr.to_string(),
                    auth: match &handle.cookie_file {
                        Some(p) => NodeAuth::Cookie(p.clone()),
                        None => NodeAuth::UserPass(handle.user.clone(), handle.password.clone()),
                    },
                }],
                zmqblock: Some(handle.zmq_endpoint.clone()),
                network: Some(Network::Regtest),
            },
            (NodeSource::Bitcoind { btcd, zmqblock }, None) => NodeSide {
                btcd: btcd.clone(),
                zmqblock: zmqblock.clone(),
                network: config.network,
            },
            // start() starts simnet whenever the config asks for it.
            (NodeSource::Simnet(_), None) => NodeSide {
                btcd: Vec::new(),
                zmqblock: None,
                network: config.network,
            },
        }
    }
}

/// Everything bound and built, nothing spawned yet.
struct Parts {
    config: Config,
    node: NodeSide,
    shutdown: CancellationToken,
    fatal: Arc<OnceLock<String>>,
    network: Arc<OnceLock<Network>>,
    stats: Arc<Stats>,
    board: Arc<JobBoard>,
    events: Arc<Events>,
    ctx: Arc<ServerContext>,
    plan: watch::Sender<Option<Arc<PayoutPlan>>>,
    found_rx: mpsc::Receiver<crate::share::FoundShare>,
    servers: Vec<StratumServer>,
    stratum_addrs: Vec<SocketAddr>,
    stats_rx: mpsc::Receiver<Event>,
    sharelog_rx: Option<mpsc::Receiver<Event>>,
    control: Control,
    control_socket: Option<crate::control::socket::ControlSocket>,
    /// The ZMQ publisher's counts, when `zmqpub` is on (for `/metrics`).
    zmq_counts: Option<Arc<crate::zmq_out::ZmqCounts>>,
    share_chain: Option<(
        mpsc::Sender<crate::sharechain::ChainRequest>,
        watch::Receiver<crate::sharechain::ChainStatus>,
    )>,
    /// The network, bound, and the chain's announcements of this node's shares for it.
    share_net: Option<(crate::p2p::Prepared, mpsc::Receiver<Vec<u8>>)>,
    /// The HTTP server, bound.
    api: Option<crate::api::ApiListener>,
}

/// Opens p2pool mode's store and says plainly what the node mines on.
fn open_share_chain(
    settings: &crate::config::P2poolSettings,
) -> Result<crate::sharechain::OpenChain, AppError> {
    let open = crate::sharechain::OpenChain::open(settings)
        .map_err(|e| AppError::ShareChain(e.to_string()))?;
    let chain = open.chain();
    tracing::info!(
        "p2pool: share chain {} ({}), store {}: {} shares, tip {} at height {}",
        chain.spec().name,
        chain.id(),
        settings.store.display(),
        chain.len(),
        chain.tip(),
        chain.tip_height(),
    );
    if settings.net.peers.is_empty() {
        tracing::warn!(
            "p2pool: no peers configured (p2pool.peers or --p2pool-peer): this node's chain is its own until a peer connects to it"
        );
    }
    Ok(open)
}

impl Parts {
    /// Every fallible step of start-up.
    async fn prepare(
        config: Config,
        simnet: Option<&simnet::SimnetHandle>,
    ) -> Result<Parts, AppError> {
        let node = NodeSide::of(&config, simnet);
        let network = Arc::new(OnceLock::new());
        // With the chain known now, the addresses are checked now; otherwise once bitcoind
        // tells it. Either way jobs wait for bitcoind's chain (the chain gate).
        // p2pool mode's chain comes from its store; its network is pinned by the spec.
        let share_chain = match &config.p2pool {
            Some(settings) => Some(open_share_chain(settings)?),
            None => None,
        };
        // The network binds now (a busy port fails start-up, naming the key).
        let share_net = match (&config.p2pool, &share_chain) {
            (Some(settings), Some(open)) => Some(
                crate::p2p::prepare(
                    settings,
                    open.chain().id(),
                    config.logdir.join("pool").join(crate::p2p::STATUS_FILE),
                )
                .map_err(|e| AppError::ShareChain(e.to_string()))?,
            ),
            _ => None,
        };
        // With peers to catch up with, no job is built until the node has (or gives up).
        let synced = share_net.as_ref().is_none_or(|n| n.synced_at_start());
        let pinned_plan = match (node.network, &share_chain) {
            (Some(n), Some(open)) => {
                let _ = network.set(n);
                synced.then(|| Arc::new(open.plan()))
            }
            (Some(n), None) => {
                let plan = config.payout_plan(n)?;
                let _ = network.set(n);
                Some(Arc::new(plan))
            }
            (None, _) => None,
        };
        let shutdown = CancellationToken::new();
        let stats = Arc::new(Stats::default());
        let board = Arc::new(JobBoard::new());
        let mut events = EventsBuilder::default();
        // [consumers: subscribe here] Each consumer registers its interest and gets a receiver.
        let zmq_rx = crate::zmq_out::subscribe(&mut events, &config);
        let stats_rx = events.subscribe("stats", crate::stats::files::INTEREST, 65_536);
        let sharelog_rx = config
            .log_shares
            .then(|| events.subscribe("sharelog", crate::stats::sharelog::INTEREST, 65_536));
        let events = Arc::new(events.build());
        let (found, found_rx) = crate::share::found::channel();
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos() as u64 ^ d.as_secs())
            .unwrap_or(0);
        let ctx = Arc::new(ServerContext::new(
            config.mode,
            StratumSettings {
                version_mask: config.version_mask,
                mindiff: config.mindiff,
                maxdiff: config.maxdiff,
                nonce2_len: config.nonce2length,
                max_line: crate::stratum::codec::DEFAULT_MAX_LINE,
                handshake_timeout: config.handshake_timeout,
                write_timeout: Duration::from_secs(10),
                max_clients: config.maxclients,
                max_clients_per_ip: config.maxclients_per_ip,
                flood_ban_rejects: config.flood_ban_rejects,
                flood_ban_for: config.flood_ban_for,
            },
            board.clone(),
            ExtranonceAllocator::new(config.nonce1length, seed),
            network.clone(),
            stats.clone(),
            found,
            events.clone(),
        ));
        let mut servers = Vec::new();
        let mut stratum_addrs = Vec::new();
        for listener in config.listeners() {
            let addr = listener.addr;
            let bind_error = |source| AppError::Bind { addr, source };
            let server = StratumServer::bind(addr, config.start_diff_for(&listener), ctx.clone())
                .await
                .map_err(bind_error)?;
            let bound = server.local_addr().map_err(bind_error)?;
            tracing::info!("stratum listening on {bound}");
            stratum_addrs.push(bound);
            servers.push(server);
        }
        let api = match &config.api {
            Some(settings) => {
                let addr = settings.addr;
                let bind_error = |source| AppError::ApiBind { addr, source };
                let listener = crate::api::ApiListener::bind(addr, settings.token.clone())
                    .await
                    .map_err(bind_error)?;
                let bound = listener.local_addr().map_err(bind_error)?;
                tracing::info!("api listening on http://{bound}");
                Some(listener)
            }
            None => None,
        };
        // The publisher's thread ends by itself if start-up fails later (the events go).
        let mut zmq_counts = None;
        if let (Some(publisher), Some(rx)) = (crate::zmq_out::bind_for(&config)?, zmq_rx) {
            zmq_counts = Some(publisher.counts.clone());
            publisher.run(rx).map_err(|e| ConfigError::Invalid {
                key: "zmqpub",
                problem: format!("cannot start the publisher thread: {e}"),
            })?;
        }
        // With the chain pinned, the plan is there from the start (setpayouts can replace
        // its list at once); the job loop still waits for bitcoind's chain.
        let (plan, _) = watch::channel(pinned_plan);
        let control = Control::new(ctx.clone(), plan.clone(), stats.clone());
        let control_socket =
            crate::control::socket::bind_for(&config, control.clone(), shutdown.clone())?;
        // Last: the chain's thread, which ends by itself once its queue's senders go.
        let (announce, announce_rx) = mpsc::channel(crate::sharechain::QUEUE);
        let share_chain = match share_chain {
            Some(open) => Some(
                open.spawn(
                    plan.clone(),
                    share_net.is_some().then_some(announce),
                    synced,
                )
                .map_err(|e| AppError::ShareChain(format!("cannot start its thread: {e}")))?,
            ),
            None => None,
        };
        let share_net = share_net.map(|n| (n, announce_rx));
        Ok(Parts {
            share_chain,
            share_net,
            api,
            config,
            node,
            shutdown,
            fatal: Arc::new(OnceLock::new()),
            network,
            stats,
            board,
            events,
            ctx,
            plan,
            found_rx,
            servers,
            stratum_addrs,
            stats_rx,
            sharelog_rx,
            control,
            control_socket,
            zmq_counts,
        })
    }

    /// Starts every task; nothing here can fail start-up any more.
    fn spawn(self, simnet: Option<simnet::SimnetHandle>) -> Running {
        let Parts {
            config,
            node,
            shutdown,
            fatal,
            network,
            stats,
            board,
            events,
            ctx,
            plan,
            found_rx,
            servers,
            stratum_addrs,
            stats_rx,
            sharelog_rx,
            control,
            control_socket,
            share_chain,
            share_net,
            api,
            zmq_counts,
        } = self;
        let api_addr = api.as_ref().and_then(|l| l.local_addr().ok());
        let share_net = match (share_net, &share_chain) {
            (Some((net, announce)), Some((queue, status))) => {
                Some(net.spawn(queue.clone(), status.clone(), announce, shutdown.clone()))
            }
            _ => None,
        };
        let (chain_queue, share_chain) = share_chain.unzip();
        let (fetch_tx, fetch_rx) = mpsc::channel(16);
        // One chain for both sets of connections: pinned now when the config names it
        // (no node of another chain is ever used, not even the first to answer), else by
        // the first node that answers.
        let chain_pin = Arc::new(std::sync::OnceLock::new());
        let rpc_metrics = Arc::new(crate::node::rpc_metrics::RpcMetrics::for_nodes(
            node.btcd
                .iter()
                .map(|e| crate::node::rpc::without_credentials(&e.url)),
        ));
        if let Some(network) = node.network {
            let _ = chain_pin.set(source::chain_name(network).to_string());
        }
        // Blocks get their own connections so they never queue behind a template fetch.
        let verdicts: VerdictSink = {
            let (stats, events) = (stats.clone(), events.clone());
            Arc::new(move |verdict: BlockVerdict| {
                stats.count_block_verdict(verdict.outcome == BlockOutcome::Accepted);
                if events.interest().block_verdicts {
                    events.publish(Event::BlockVerdict(verdict));
                }
            })
        };
        let submitter = BlockSubmitter::new(
            NodeSet::sharing(node.btcd.clone(), chain_pin.clone(), rpc_metrics.clone()),
            &config.logdir,
            verdicts,
            fetch_tx.clone(),
        )
        .start();
        let found_blocks = submitter.blocks();
        let found_in_flight = ctx.found.in_flight();
        tokio::spawn(crate::found_blocks::run(
            found_rx,
            submitter,
            found_in_flight.clone(),
            chain_queue,
        ));

        let (templates_tx, templates_rx) = watch::channel(None);
        let (chain_tx, chain_rx) = watch::channel(None);
        let observer: JobObserver = {
            let events = events.clone();
            Box::new(move |job| {
                if events.interest().jobs {
                    events.publish(Event::Job(job.clone()));
                }
            })
        };
        let job_loop = JobLoop::new(
            JobBuilder::new(JobConfig {
                nonce1_len: config.nonce1length,
                nonce2_len: config.nonce2length,
                btcsig: config.btcsig.clone().into_bytes(),
            }),
            board.clone(),
            templates_rx,
            plan.subscribe(),
            observer,
        );
        let api_network = network.clone();
        tokio::spawn(chain_gate(ChainGate {
            chain: chain_rx,
            pinned: node.network,
            config: config.clone(),
            network,
            plan,
            job_loop,
            fatal: fatal.clone(),
            shutdown: shutdown.clone(),
        }));
        tokio::spawn(source::run(
            NodeSet::sharing(node.btcd, chain_pin, rpc_metrics.clone()),
            SourceConfig {
                blockpoll: config.blockpoll,
                update_interval: config.update_interval,
                zmqblock: node.zmqblock,
                log_every: Duration::from_secs(10),
            },
            SourceOutputs {
                templates: templates_tx,
                chain: chain_tx,
            },
            fetch_tx,
            fetch_rx,
            shutdown.clone(),
        ));
        for server in servers {
            tokio::spawn(server.run(shutdown.clone()));
        }

        // [consumers: spawn here]
        let resumable_sessions: crate::stats::files::DisconnectedCount = {
            let ctx = ctx.clone();
            Arc::new(move || ctx.extranonces.resumable() as u64)
        };
        let (reports, report) = watch::channel(None);
        crate::stats::files::spawn(
            stats_rx,
            crate::stats::files::StatsSettings {
                logdir: config.logdir.clone(),
                interval: config.stats_interval,
            },
            resumable_sessions,
            reports,
            shutdown.clone(),
        );
        if let Some(api) = api {
            let sources = crate::api::Sources {
                stats: stats.clone(),
                events: events.clone(),
                board: board.clone(),
                report,
                share_chain: share_chain.clone(),
                share_net: share_net.clone(),
                share_store: config.p2pool.as_ref().map(|p| p.store.clone()),
                started_unix: crate::stats::accounting::unix_secs(std::time::SystemTime::now()),
                mode: config.mode,
                network: api_network,
                zmq: zmq_counts,
                blocks: found_blocks,
                rpc: rpc_metrics,
            };
            let handler = crate::control::Handler::new(
                control.clone(),
                shutdown.clone(),
                crate::log_level::installed_setter(),
            );
            tokio::spawn(api.serve(sources, handler, shutdown.clone()));
        }
        if let Some(rx) = sharelog_rx {
            if let Err(e) = crate::stats::sharelog::spawn(rx, config.logdir.clone()) {
                tracing::error!("cannot start the share log: {e}");
            }
        }
        if let Some(socket) = control_socket {
            tokio::spawn(socket.run(shutdown.clone()));
        }
        Running {
            stratum_addrs,
            stats,
            board,
            simnet,
            fatal,
            shutdown,
            control,
            share_chain,
            share_net,
            api_addr,
            found_in_flight,
        }
    }
}

/// What the chain gate needs: see [`chain_gate`].
struct ChainGate {
    chain: watch::Receiver<Option<Chain>>,
    /// The chain known before bitcoind was asked (the plan was made for it at start).
    pinned: Option<Network>,
    config: Config,
    network: Arc<OnceLock<Network>>,
    plan: watch::Sender<Option<Arc<PayoutPlan>>>,
    /// Started once the chain is right.
    job_loop: JobLoop,
    fatal: Arc<OnceLock<String>>,
    shutdown: CancellationToken,
}

/// Once bitcoind tells its chain: a chain other than the one pinned by the config key
/// `network` stops the server (the addresses were checked for the pinned chain), as does
/// an address of the config that is not on the chain; otherwise the chain becomes the one
/// miners' addresses are checked against, the payout plan is made (unless it was, for the
/// pinned chain), and the job loop starts. No job is built before.
async fn chain_gate(mut gate: ChainGate) {
    let chain = loop {
        if let Some(chain) = gate.chain.borrow_and_update().clone() {
            break chain;
        }
        tokio::select! {
            _ = gate.shutdown.cancelled() => return,
            changed = gate.chain.changed() => if changed.is_err() { return },
        }
    };
    let decided = match (gate.pinned, chain.network) {
        (Some(pinned), Some(reported)) if pinned != reported => Err(ConfigError::Invalid {
            key: "network",
            problem: format!(
                "is {pinned}, but bitcoind is on {} ({reported}); mining would pay addresses of another chain",
                chain.name
            ),
        }),
        (Some(_), _) => Ok(None),
        (None, Some(reported)) => gate.config.payout_plan(reported).map(|plan| {
            let _ = gate.network.set(reported);
            Some(Arc::new(plan))
        }),
        (None, None) => Err(ConfigError::Invalid {
            key: "network",
            problem: format!(
                "bitcoind reports chain `{}`, which stratumd does not know; set `network` to the chain it is",
                chain.name
            ),
        }),
    };
    match decided {
        Ok(plan) => {
            if let Some(plan) = plan {
                gate.plan.send_replace(Some(plan));
            }
            tokio::spawn(gate.job_loop.run(gate.shutdown.clone()));
        }
        Err(e) => {
            tracing::error!("{e}");
            let _ = gate.fatal.set(e.to_string());
            gate.shutdown.cancel();
        }
    }
}

/// Where the demo and tests put files when no logdir is configured.
pub fn default_logdir() -> PathBuf {
    PathBuf::from("logs")
}

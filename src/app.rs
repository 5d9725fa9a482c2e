//! Wiring: from a validated [`Config`] to a running server (template source, job board,
//! stratum listeners, block submitter), optionally against an in-process simnet.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bitcoin::Network;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::config::{Config, ConfigError};
use crate::control::Control;
use crate::events::EventsBuilder;
use crate::node::rpc::{NodeAuth, NodeEndpoint, NodeSet};
use crate::node::source::{self, SourceConfig};
use crate::node::submitter::BlockSubmitter;
use crate::stats::Stats;
use crate::stratum::extranonce::ExtranonceAllocator;
use crate::stratum::{Mode, ServerContext, StratumServer, StratumSettings};
use crate::work::job::JobConfig;
use crate::work::payout::{Donation, PayoutMode, PayoutPlan, WeightedPayee};
use crate::work::{JobBoard, JobBuilder};

/// How to run the embedded simnet.
#[derive(Debug, Clone)]
pub struct SimnetOptions {
    /// Block difficulty (fractional).
    pub difficulty: f64,
    /// Synthetic transactions per template.
    pub transactions: usize,
}

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
    /// simnet could not start.
    #[error("simnet: {0}")]
    Simnet(String),
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
}

fn payout_plan(config: &Config, solo: bool) -> PayoutPlan {
    let donation = match (&config.donaddress, config.donation > 0.0) {
        (Some(a), true) => Some(Donation {
            script: a.clone().assume_checked().script_pubkey(),
            percent: config.donation,
        }),
        _ => None,
    };
    let mode = if solo {
        PayoutMode::Solo
    } else if !config.payouts.is_empty() {
        PayoutMode::Pool(
            config
                .payouts
                .iter()
                .map(|p| WeightedPayee {
                    script: p.address.clone().assume_checked().script_pubkey(),
                    weight: p.weight,
                })
                .collect(),
        )
    } else {
        PayoutMode::Pool(
            config
                .btcaddress
                .iter()
                .map(|a| WeightedPayee {
                    script: a.clone().assume_checked().script_pubkey(),
                    weight: 1,
                })
                .collect(),
        )
    };
    PayoutPlan { mode, donation }
}

/// Starts everything; returns once the listeners are bound.
pub async fn start(
    mut config: Config,
    solo: bool,
    simnet_opts: Option<SimnetOptions>,
) -> Result<Running, AppError> {
    for w in &config.warnings {
        tracing::warn!("{w}");
    }
    let shutdown = CancellationToken::new();
    let network = Arc::new(OnceLock::new());
    let fatal = Arc::new(OnceLock::new());

    let simnet = match simnet_opts {
        Some(opts) => {
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
            let auth = match &handle.cookie_file {
                Some(p) => NodeAuth::Cookie(p.clone()),
                None => NodeAuth::UserPass(handle.user.clone(), handle.password.clone()),
            };
            config.btcd = vec![NodeEndpoint {
                url: handle.rpc_addr.to_string(),
                auth,
            }];
            config.zmqblock = Some(handle.zmq_endpoint.clone());
            config.network = Some(Network::Regtest);
            Some(handle)
        }
        None => None,
    };
    if let Some(n) = config.network {
        config.check_network(n)?;
        let _ = network.set(n);
    }

    let stats = Arc::new(Stats::default());
    let board = Arc::new(JobBoard::new());
    let builder = Arc::new(JobBuilder::new(
        JobConfig {
            nonce1_len: config.nonce1length,
            nonce2_len: config.nonce2length,
            btcsig: config.btcsig.clone().into_bytes(),
        },
        payout_plan(&config, solo),
    ));
    #[allow(unused_mut)]
    let mut events = EventsBuilder::default();
    // [consumers: subscribe here] Each consumer registers its interest and gets a receiver.
    let zmq_rx = crate::zmq_out::subscribe(&mut events, &config);
    let stats_rx = events.subscribe("stats", crate::stats::files::INTEREST, 65_536);
    let sharelog_rx = config
        .log_shares
        .then(|| events.subscribe("sharelog", crate::stats::sharelog::INTEREST, 65_536));
    let events = Arc::new(events.build());
    let (block_tx, block_rx) = mpsc::unbounded_channel();
    let (refresh_tx, refresh_rx) = mpsc::channel(16);

    // Blocks get their own connections so they never queue behind a template fetch.
    let submitter = BlockSubmitter::new(
        NodeSet::new(config.btcd.clone()),
        &config.logdir,
        stats.clone(),
        refresh_tx.clone(),
    );
    tokio::spawn(submitter.run(block_rx));

    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos() as u64 ^ d.as_secs())
        .unwrap_or(0);
    let ctx = Arc::new(ServerContext::new(
        StratumSettings {
            mode: if solo { Mode::Solo } else { Mode::Pool },
            version_mask: config.version_mask,
            mindiff: config.mindiff,
            maxdiff: config.maxdiff,
            nonce2_len: config.nonce2length,
            max_line: crate::stratum::codec::DEFAULT_MAX_LINE,
            handshake_timeout: config.handshake_timeout,
            write_timeout: Duration::from_secs(10),
            max_clients: config.maxclients,
        },
        board.clone(),
        ExtranonceAllocator::new(config.nonce1length, seed),
        network.clone(),
        stats.clone(),
        block_tx,
        events.clone(),
    ));

    let mut stratum_addrs = Vec::new();
    for listener in config.listeners() {
        let addr = &listener.addr;
        let server = StratumServer::bind(*addr, config.start_diff_for(&listener), ctx.clone())
            .await
            .map_err(|source| AppError::Bind {
                addr: *addr,
                source,
            })?;
        let bound = server.local_addr().map_err(|source| AppError::Bind {
            addr: *addr,
            source,
        })?;
        tracing::info!("stratum listening on {bound}");
        stratum_addrs.push(bound);
        tokio::spawn(server.run(shutdown.clone()));
    }

    let control = Control::new(
        ctx.clone(),
        builder.clone(),
        refresh_tx.clone(),
        network.clone(),
        stats.clone(),
        solo,
    );
    let address_check = {
        let config = config.clone();
        let fatal = fatal.clone();
        let shutdown = shutdown.clone();
        Box::new(move |n: Network| {
            if let Err(e) = config.check_network(n) {
                tracing::error!("{e}");
                let _ = fatal.set(e.to_string());
                shutdown.cancel();
            }
        })
    };
    tokio::spawn(source::run(
        NodeSet::new(config.btcd.clone()),
        SourceConfig {
            blockpoll: config.blockpoll,
            update_interval: config.update_interval,
            zmqblock: config.zmqblock.clone(),
            log_every: Duration::from_secs(10),
        },
        builder,
        board.clone(),
        events,
        network,
        address_check,
        refresh_tx,
        refresh_rx,
        shutdown.clone(),
    ));

    // [consumers: spawn here]
    crate::zmq_out::start(zmq_rx, &config, solo)?;
    let resumable_sessions: crate::stats::files::DisconnectedCount = {
        let ctx = ctx.clone();
        Arc::new(move || ctx.extranonces.resumable() as u64)
    };
    crate::stats::files::spawn(
        stats_rx,
        crate::stats::files::StatsSettings {
            logdir: config.logdir.clone(),
            interval: config.stats_interval,
        },
        stats.clone(),
        resumable_sessions,
        shutdown.clone(),
    );
    if let Some(rx) = sharelog_rx {
        if let Err(e) = crate::stats::sharelog::spawn(rx, config.logdir.clone()) {
            tracing::error!("cannot start the share log: {e}");
        }
    }
    // [control socket spawn]
    crate::control::socket::spawn_for(&config, control.clone(), shutdown.clone())?;

    Ok(Running {
        stratum_addrs,
        stats,
        board,
        simnet,
        fatal,
        shutdown,
        control,
    })
}

/// Where the demo and tests put files when no logdir is configured.
pub fn default_logdir() -> PathBuf {
    PathBuf::from("logs")
}

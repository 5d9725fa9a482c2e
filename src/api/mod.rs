//! The operator's HTTP server, off unless `api` (ckpool.conf) or `--api` names an address:
//! a web dashboard at `/`, Prometheus metrics at `/metrics`, the JSON API under `/api/`,
//! and the control socket's commands at `POST /api/control` for a caller holding
//! `api_token`. Everything it shows is
//! read from the counters and watches the rest of the server already keeps ([`Sources`]).
//!
//! The listener is bound at start-up ([`ApiListener::bind`]), so a busy port stops the
//! server naming the key; it is served once everything it reads exists ([`ApiListener::serve`]).

mod dashboard;
mod job;
mod metrics;
mod routes;

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::SystemTime;

use bitcoin::Network;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::config::ApiToken;
use crate::control::Handler;
use crate::events::Events;
use crate::p2p::NetStatus;
use crate::sharechain::ChainStatus;
use crate::stats::accounting::Report;
use crate::stats::Stats;
use crate::work::{JobBoard, Mode};

pub use metrics::{render as render_metrics, CONTENT_TYPE as METRICS_CONTENT_TYPE};

/// What the API reads: the same counters and watches the status line, ckpool's files and
/// the share chain's status file read.
#[derive(Debug, Clone)]
pub struct Sources {
    /// The server's counters.
    pub stats: Arc<Stats>,
    /// The event fan-out (for its consumers' drop counts).
    pub events: Arc<Events>,
    /// The current job.
    pub board: Arc<JobBoard>,
    /// The stats writer's latest report: what `pool.status` and `users/` hold.
    pub report: watch::Receiver<Option<Arc<Report>>>,
    /// p2pool mode: the share chain.
    pub share_chain: Option<watch::Receiver<ChainStatus>>,
    /// p2pool mode: its network.
    pub share_net: Option<watch::Receiver<NetStatus>>,
    /// p2pool mode: the share chain's store, read (read-only, beside the node) for the
    /// payout window and single shares.
    pub share_store: Option<std::path::PathBuf>,
    /// When the server started, unix seconds.
    pub started_unix: f64,
    /// Who the coinbases pay.
    pub mode: Mode,
    /// The chain, once bitcoind said (for addresses).
    pub network: Arc<OnceLock<Network>>,
    /// The ZMQ publisher's counts, when `zmqpub` is on.
    pub zmq: Option<Arc<crate::zmq_out::ZmqCounts>>,
    /// The found blocks and each bitcoind's answer (the block submitter's log).
    pub blocks: Arc<crate::node::block_log::BlockLog>,
    /// Every bitcoind call's latency and failures.
    pub rpc: Arc<crate::node::rpc_metrics::RpcMetrics>,
}

impl Sources {
    /// Unix seconds now, as the reports count them.
    fn now_unix() -> f64 {
        crate::stats::accounting::unix_secs(SystemTime::now())
    }
}

/// The bound listener, not yet serving.
#[derive(Debug)]
pub struct ApiListener {
    listener: tokio::net::TcpListener,
    token: Option<ApiToken>,
}

impl ApiListener {
    /// Binds `addr`; `token` guards the routes that change state (none without one).
    pub async fn bind(addr: SocketAddr, token: Option<ApiToken>) -> std::io::Result<ApiListener> {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        Ok(ApiListener { listener, token })
    }

    /// Where it listens.
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until `shutdown`; `control` carries out `POST /api/control`.
    pub async fn serve(self, sources: Sources, control: Handler, shutdown: CancellationToken) {
        let router = routes::router(routes::State {
            sources,
            control,
            token: self.token,
            store_reads: Arc::new(tokio::sync::Semaphore::new(1)),
        });
        let served = axum::serve(self.listener, router)
            .with_graceful_shutdown(async move { shutdown.cancelled().await })
            .await;
        if let Err(e) = served {
            tracing::error!("api: the HTTP server stopped: {e}");
        }
    }
}

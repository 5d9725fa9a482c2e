//! simnet: an embedded regtest-like Bitcoin node for end-to-end tests.
//!
//! It speaks bitcoind's JSON-RPC over HTTP and publishes bitcoind's ZMQ
//! `hashblock` on loopback, so that a mining server's real bitcoind client
//! code (and ckpool) can be exercised without a bitcoind binary. Blocks sent
//! with `submitblock` are checked strictly with rust-bitcoin and rejected with
//! bitcoind's own reason strings.

#![warn(missing_docs)]

mod auth;
mod chain;
#[cfg(fuzzing)]
pub mod fuzzing;
mod generate;
mod json;
mod mempool;
mod methods;
mod node;
mod rpc;
mod template;
mod validate;
mod zmq_pub;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

pub use chain::{bits_from_difficulty, difficulty_from_bits, subsidy};
pub use validate::BlockReject;

use node::Node;

/// Everything simnet needs to start.
#[derive(Clone, Debug)]
pub struct SimnetConfig {
    /// Address of the JSON-RPC HTTP server, e.g. `127.0.0.1:0` (port 0 picks a free port).
    pub rpc_bind: SocketAddr,
    /// ZMQ endpoint of the `hashblock` publisher, e.g. `tcp://127.0.0.1:*` (wildcard port allowed).
    pub zmq_bind: String,
    /// Block difficulty (fractional allowed); target = diff1 / difficulty, capped at regtest's pow limit.
    pub difficulty: f64,
    /// Number of synthetic segwit transactions offered in every template.
    pub transactions_per_template: usize,
    /// How RPC clients authenticate.
    pub auth: SimnetAuth,
}

/// How JSON-RPC clients must authenticate (HTTP Basic), as bitcoind's `-rpcuser`/`-rpcpassword` or cookie.
#[derive(Clone, Debug)]
pub enum SimnetAuth {
    /// Fixed user name and password.
    UserPass {
        /// RPC user name.
        user: String,
        /// RPC password.
        password: String,
    },
    /// bitcoind's cookie authentication: `<dir>/.cookie` holds `__cookie__:<random hex>`.
    Cookie {
        /// Directory in which `.cookie` is written (created if missing).
        dir: PathBuf,
    },
}

impl Default for SimnetConfig {
    fn default() -> Self {
        SimnetConfig {
            rpc_bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            zmq_bind: "tcp://127.0.0.1:*".to_string(),
            difficulty: 0.001,
            transactions_per_template: 8,
            auth: SimnetAuth::UserPass {
                user: "simnet".to_string(),
                password: "simnet".to_string(),
            },
        }
    }
}

/// Why simnet could not start.
#[derive(Debug, thiserror::Error)]
pub enum SimnetError {
    /// The configured difficulty is not a positive finite number.
    #[error("invalid difficulty {0}: must be > 0 and finite")]
    InvalidDifficulty(f64),
    /// The JSON-RPC listener could not be bound.
    #[error("cannot bind JSON-RPC server on {addr}: {source}")]
    RpcBind {
        /// The requested address.
        addr: SocketAddr,
        /// The OS error.
        source: std::io::Error,
    },
    /// The ZMQ publisher could not be created or bound.
    #[error("cannot bind ZMQ publisher on {endpoint}: {reason}")]
    ZmqBind {
        /// The requested endpoint.
        endpoint: String,
        /// What went wrong.
        reason: String,
    },
    /// The cookie file could not be written.
    #[error("cannot write cookie file {path}: {source}")]
    Cookie {
        /// The cookie file path.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// Waiting for Ctrl-C failed in [`run_standalone`].
    #[error("cannot wait for Ctrl-C: {0}")]
    Signal(std::io::Error),
}

/// A running simnet: its addresses, credentials, and a view of its chain.
pub struct SimnetHandle {
    /// The bound JSON-RPC address.
    pub rpc_addr: SocketAddr,
    /// The bound ZMQ endpoint with the real port, e.g. `tcp://127.0.0.1:40123`.
    pub zmq_endpoint: String,
    /// RPC user (`__cookie__` with cookie auth).
    pub user: String,
    /// RPC password.
    pub password: String,
    /// The cookie file, when cookie auth is used (removed on shutdown, as bitcoind does).
    pub cookie_file: Option<PathBuf>,
    node: Arc<Mutex<Node>>,
    http_shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    http_task: Option<tokio::task::JoinHandle<()>>,
    zmq: Option<zmq_pub::ZmqPublisher>,
    zmq_subs: tokio::sync::watch::Receiver<u64>,
}

/// Locks the node, recovering from a poisoned lock (a panicking request must not wedge simnet).
pub(crate) fn lock(node: &Mutex<Node>) -> MutexGuard<'_, Node> {
    node.lock().unwrap_or_else(|e| e.into_inner())
}

impl SimnetHandle {
    /// Height of the current tip (0 = genesis).
    pub fn tip_height(&self) -> u32 {
        lock(&self.node).chain.tip_height()
    }

    /// Hash of the current tip.
    pub fn tip_hash(&self) -> bitcoin::BlockHash {
        lock(&self.node).chain.tip_hash()
    }

    /// The block at `height` of the current chain, if there is one.
    pub fn block_at(&self, height: u32) -> Option<bitcoin::Block> {
        lock(&self.node).chain.at(height).cloned()
    }

    /// Number of blocks accepted through `submitblock` (blocks made by `generatetoaddress` are not counted).
    pub fn blocks_accepted_by_submit(&self) -> u64 {
        lock(&self.node).accepted_by_submit
    }

    /// Makes simnet behave like a syncing bitcoind (or stop doing so): `getblockchaininfo`
    /// reports `initialblockdownload` and `getblocktemplate` answers error -10, so that
    /// clients' handling of a node in initial block download can be tested.
    pub fn set_initial_block_download(&self, syncing: bool) {
        lock(&self.node).initial_block_download = syncing;
    }

    /// Answers the next `calls` RPC calls with error -28 ("Loading block index…"), as a
    /// bitcoind that is starting up does, so that clients' handling of a restarting node
    /// (retry it, or fail over to another) can be tested.
    pub fn warm_up_for(&self, calls: u32) {
        lock(&self.node).warmup_calls = calls;
    }

    /// Number of ZMQ subscriptions the publisher has seen so far (monotonic).
    ///
    /// Lets tests know that a subscriber is really connected before a block is
    /// found, since ZMQ PUB drops messages for subscribers that are not yet joined.
    pub fn zmq_subscriptions_seen(&self) -> u64 {
        *self.zmq_subs.borrow()
    }

    /// Waits until at least `n` ZMQ subscriptions have been seen, or `timeout` passes; returns whether they were.
    pub async fn wait_zmq_subscriptions(&self, n: u64, timeout: Duration) -> bool {
        let mut rx = self.zmq_subs.clone();
        tokio::time::timeout(timeout, rx.wait_for(|v| *v >= n))
            .await
            .map(|r| r.is_ok())
            .unwrap_or(false)
    }

    /// Stops the HTTP server and the ZMQ publisher thread, and removes the cookie file.
    pub async fn shutdown(mut self) {
        if let Some(tx) = self.http_shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.http_task.take() {
            let abort = task.abort_handle();
            if tokio::time::timeout(Duration::from_secs(3), task)
                .await
                .is_err()
            {
                abort.abort();
            }
        }
        if let Some(zmq) = self.zmq.take() {
            let _ = tokio::task::spawn_blocking(move || zmq.stop()).await;
        }
        if let Some(path) = self.cookie_file.take() {
            let _ = std::fs::remove_file(path);
        }
    }
}

impl Drop for SimnetHandle {
    /// A handle dropped without [`SimnetHandle::shutdown`] still stops its server and publisher (without waiting).
    fn drop(&mut self) {
        if let Some(tx) = self.http_shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(zmq) = self.zmq.take() {
            zmq.signal_stop();
        }
        if let Some(path) = self.cookie_file.take() {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// Starts simnet: binds the JSON-RPC server and the ZMQ publisher and returns a handle.
pub async fn start(config: SimnetConfig) -> Result<SimnetHandle, SimnetError> {
    let bits = chain::bits_from_difficulty(config.difficulty)
        .ok_or(SimnetError::InvalidDifficulty(config.difficulty))?;
    let (user, password, cookie_file) = auth::credentials(&config.auth)?;

    let zmq_bind = config.zmq_bind.clone();
    let (zmq, zmq_endpoint, zmq_subs) =
        tokio::task::spawn_blocking(move || zmq_pub::ZmqPublisher::start(&zmq_bind))
            .await
            .map_err(|e| SimnetError::ZmqBind {
                endpoint: config.zmq_bind.clone(),
                reason: e.to_string(),
            })??;

    let node = Arc::new(Mutex::new(Node::new(
        bits,
        config.transactions_per_template,
        zmq.sender(),
    )));

    let listener = tokio::net::TcpListener::bind(config.rpc_bind)
        .await
        .map_err(|source| SimnetError::RpcBind {
            addr: config.rpc_bind,
            source,
        })?;
    let rpc_addr = listener
        .local_addr()
        .map_err(|source| SimnetError::RpcBind {
            addr: config.rpc_bind,
            source,
        })?;
    let (http_shutdown, shutdown_rx) = tokio::sync::oneshot::channel();
    let app = rpc::router(rpc::RpcState {
        node: node.clone(),
        auth_header: auth::basic_header(&user, &password),
    });
    let http_task = tokio::spawn(async move {
        let serve = axum::serve(listener, app).with_graceful_shutdown(async move {
            let _ = shutdown_rx.await;
        });
        if let Err(e) = serve.await {
            tracing::warn!("simnet: JSON-RPC server error: {e}");
        }
    });

    Ok(SimnetHandle {
        rpc_addr,
        zmq_endpoint,
        user,
        password,
        cookie_file,
        node,
        http_shutdown: Some(http_shutdown),
        http_task: Some(http_task),
        zmq: Some(zmq),
        zmq_subs,
    })
}

/// Runs simnet as a standalone node until Ctrl-C, logging where it listens.
pub async fn run_standalone(config: SimnetConfig) -> Result<(), SimnetError> {
    let difficulty = config.difficulty;
    let handle = start(config).await?;
    tracing::info!(
        "simnet: JSON-RPC on http://{} (user {}), ZMQ hashblock on {}, difficulty {}",
        handle.rpc_addr,
        handle.user,
        handle.zmq_endpoint,
        difficulty
    );
    let res = tokio::signal::ctrl_c().await;
    handle.shutdown().await;
    res.map_err(SimnetError::Signal)
}

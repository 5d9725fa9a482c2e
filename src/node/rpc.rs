//! bitcoind JSON-RPC with failover across several nodes, in the order configured.
//!
//! `bitcoincore-rpc` is blocking, so every call runs on tokio's blocking pool.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use bitcoincore_rpc::{Auth, Client, RpcApi};
use serde_json::{json, Value};

use super::rpc_metrics::RpcMetrics;

/// How to reach one bitcoind.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeEndpoint {
    /// `host:port` or a full `http://` URL.
    pub url: String,
    /// Credentials.
    pub auth: NodeAuth,
}

/// bitcoind credentials.
#[derive(Debug, Clone, PartialEq)]
pub enum NodeAuth {
    /// `rpcuser`/`rpcpassword` (ckpool's `auth`/`pass`).
    UserPass(String, String),
    /// bitcoind's `.cookie` file.
    Cookie(std::path::PathBuf),
}

/// RPC failures, split by whether another node (or a retry) could help.
#[derive(Debug, thiserror::Error)]
pub enum RpcError {
    /// Could not talk to the node at all (refused, timeout, HTTP error, bad cookie).
    #[error("bitcoind {url} unreachable: {reason}")]
    Transport {
        /// Which node.
        url: String,
        /// What failed.
        reason: String,
    },
    /// The node answered with a JSON-RPC error.
    #[error("bitcoind {url} returned error {code}: {message}")]
    Node {
        /// Which node.
        url: String,
        /// JSON-RPC error code.
        code: i32,
        /// Its message.
        message: String,
    },
    /// The node is on another chain than the one the server runs on (a `btcd` entry of
    /// another network): it is skipped, like a node that is down.
    #[error("bitcoind {url} is on chain `{chain}`, not `{expected}`; not using it")]
    WrongChain {
        /// Which node.
        url: String,
        /// The chain it reports.
        chain: String,
        /// The chain the server runs on.
        expected: String,
    },
    /// No node is configured.
    #[error("no bitcoind configured")]
    NoNodes,
}

/// bitcoind's RPC_CLIENT_NOT_CONNECTED: the node has no peers.
const RPC_CLIENT_NOT_CONNECTED: i32 = -9;
/// bitcoind's RPC_CLIENT_IN_INITIAL_DOWNLOAD: the node is still syncing.
const RPC_CLIENT_IN_INITIAL_DOWNLOAD: i32 = -10;
/// bitcoind's RPC_IN_WARMUP: the node is starting up.
const RPC_IN_WARMUP: i32 = -28;

impl RpcError {
    /// True when the failure belongs to the node's state, not to the request: it cannot be
    /// reached, is starting up, is syncing or has no peers. Another node may answer now, and
    /// the same node later.
    pub fn is_node_unavailable(&self) -> bool {
        match self {
            RpcError::Transport { .. } | RpcError::WrongChain { .. } => true,
            RpcError::Node { code, .. } => matches!(
                *code,
                RPC_IN_WARMUP | RPC_CLIENT_IN_INITIAL_DOWNLOAD | RPC_CLIENT_NOT_CONNECTED
            ),
            RpcError::NoNodes => false,
        }
    }
}

/// `url` with any `user:password@` taken out: what logs, metrics and the API show of a
/// node (the `btcd` url may carry credentials; the read-only API needs no token).
pub fn without_credentials(url: &str) -> String {
    let (scheme, rest) = match url.split_once("://") {
        Some((scheme, rest)) => (Some(scheme), rest),
        None => (None, url),
    };
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let host = authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host);
    match scheme {
        Some(scheme) => format!("{scheme}://{host}{path}"),
        None => format!("{host}{path}"),
    }
}

fn http_url(url: &str) -> String {
    // The config takes the scheme in any case; the client only in lower case.
    for scheme in ["http://", "https://"] {
        if let Some(rest) = url
            .get(..scheme.len())
            .filter(|p| p.eq_ignore_ascii_case(scheme))
            .map(|_| &url[scheme.len()..])
        {
            return format!("{scheme}{rest}");
        }
    }
    format!("http://{url}")
}

/// Idle connections kept per node: enough for a block submission, a template fetch and a
/// resubmission of an archived block at the same time.
const IDLE_CLIENTS_KEPT: usize = 4;

/// One bitcoind: its endpoint and a pool of idle clients. A call takes a client out of the
/// pool (or makes a new one) and holds no lock while bitcoind answers, so a slow
/// `submitblock` (the resubmission of an archived block to a node that takes its time)
/// never makes another call to the same node, a new block's among them, wait behind it.
/// (Each `bitcoincore-rpc` client is one HTTP connection used by one call at a time.)
struct Node {
    endpoint: NodeEndpoint,
    idle: std::sync::Mutex<Vec<Client>>,
    /// What it last said of its chain, against the set's pinned chain.
    chain: std::sync::Mutex<ChainCheck>,
    /// Where its calls' latencies and failures are counted.
    metrics: Arc<RpcMetrics>,
    /// Its url without credentials, as the metrics name it.
    label: String,
}

/// A node's chain, as last checked.
#[derive(Debug, Clone)]
enum ChainCheck {
    /// Not asked yet (or asked again after a lost connection: it may have restarted).
    Unknown,
    /// It reported the pinned chain.
    Right,
    /// It reported another chain at `at`; asked again after [`WRONG_CHAIN_RECHECK`].
    Wrong {
        at: std::time::Instant,
        chain: String,
    },
}

/// How long a node found on another chain is left alone before it is asked again.
const WRONG_CHAIN_RECHECK: std::time::Duration = std::time::Duration::from_secs(60);

impl Node {
    fn new(endpoint: NodeEndpoint, metrics: Arc<RpcMetrics>) -> Self {
        Node {
            label: without_credentials(&endpoint.url),
            endpoint,
            idle: std::sync::Mutex::new(Vec::new()),
            chain: std::sync::Mutex::new(ChainCheck::Unknown),
            metrics,
        }
    }

    fn chain_state(&self) -> std::sync::MutexGuard<'_, ChainCheck> {
        self.chain.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The connection was lost: the node may come back on another chain.
    fn forget_chain(&self) {
        *self.chain_state() = ChainCheck::Unknown;
    }

    /// With the set pinned to `expected`, a node is used only once it has reported that
    /// chain (asked on its first use, again after a lost connection, and a minute after it
    /// was found on another chain). A failed check skips the node like one that is down.
    fn check_chain(&self, expected: Option<&String>) -> Result<(), RpcError> {
        let Some(expected) = expected else {
            return Ok(());
        };
        let previous = self.chain_state().clone();
        match &previous {
            ChainCheck::Right => return Ok(()),
            ChainCheck::Wrong { at, chain } if at.elapsed() < WRONG_CHAIN_RECHECK => {
                return Err(RpcError::WrongChain {
                    url: self.label.clone(),
                    chain: chain.clone(),
                    expected: expected.clone(),
                })
            }
            _ => {}
        }
        let info = self.call("getblockchaininfo", &[]).map_err(|e| match e {
            e if e.is_node_unavailable() => e,
            other => RpcError::Transport {
                url: self.label.clone(),
                reason: format!("cannot check its chain: {other}"),
            },
        })?;
        let chain = info
            .get("chain")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        if chain == *expected {
            if matches!(previous, ChainCheck::Wrong { .. }) {
                tracing::info!(url = %self.label, %chain, "bitcoind is on the right chain again");
            }
            *self.chain_state() = ChainCheck::Right;
            return Ok(());
        }
        let e = RpcError::WrongChain {
            url: self.label.clone(),
            chain: chain.clone(),
            expected: expected.clone(),
        };
        self.metrics.failed(&self.label, "wrong_chain");
        // Said once per change, not at every call that reaches the node.
        if !matches!(&previous, ChainCheck::Wrong { chain: c, .. } if *c == chain) {
            tracing::error!("{e}");
        }
        *self.chain_state() = ChainCheck::Wrong {
            at: std::time::Instant::now(),
            chain,
        };
        Err(e)
    }

    /// `check_chain`, then the call; a lost connection makes the chain unknown again.
    fn checked_call(
        &self,
        expected: Option<&String>,
        method: &str,
        params: &[Value],
    ) -> Result<Value, RpcError> {
        let result = self
            .check_chain(expected)
            .and_then(|()| self.call(method, params));
        if matches!(result, Err(RpcError::Transport { .. })) {
            self.forget_chain();
        }
        result
    }

    fn make_client(e: &NodeEndpoint) -> Result<Client, bitcoincore_rpc::Error> {
        let auth = match &e.auth {
            NodeAuth::UserPass(u, p) => Auth::UserPass(u.clone(), p.clone()),
            // Read at every new client: the file changes when bitcoind restarts.
            NodeAuth::Cookie(path) => Auth::CookieFile(path.clone()),
        };
        Client::new(&http_url(&e.url), auth)
    }

    fn idle(&self) -> std::sync::MutexGuard<'_, Vec<Client>> {
        self.idle.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn call(&self, method: &str, params: &[Value]) -> Result<Value, RpcError> {
        let label = &self.label;
        let pooled = self.idle().pop();
        let client = match pooled {
            Some(c) => c,
            None => Self::make_client(&self.endpoint).map_err(|e| {
                self.metrics.failed(label, "transport");
                RpcError::Transport {
                    url: label.clone(),
                    // The client's own words may quote the url as configured.
                    reason: e
                        .to_string()
                        .replace(&http_url(&self.endpoint.url), label)
                        .replace(&self.endpoint.url, label),
                }
            })?,
        };
        let started = std::time::Instant::now();
        let result = client.call::<Value>(method, params);
        self.metrics
            .observe(label, method, started.elapsed().as_secs_f64());
        match &result {
            Ok(_) => {}
            Err(bitcoincore_rpc::Error::JsonRpc(bitcoincore_rpc::jsonrpc::Error::Rpc(_))) => {
                self.metrics.failed(label, "rpc")
            }
            Err(_) => self.metrics.failed(label, "transport"),
        }
        let keep = match &result {
            Ok(_)
            | Err(bitcoincore_rpc::Error::JsonRpc(bitcoincore_rpc::jsonrpc::Error::Rpc(_))) => true,
            // The connection may be broken, or the cookie stale: the next call makes a
            // new client.
            Err(_) => false,
        };
        if keep {
            let mut idle = self.idle();
            if idle.len() < IDLE_CLIENTS_KEPT {
                idle.push(client);
            }
        }
        match result {
            Ok(v) => Ok(v),
            Err(bitcoincore_rpc::Error::JsonRpc(bitcoincore_rpc::jsonrpc::Error::Rpc(e))) => {
                Err(RpcError::Node {
                    url: self.label.clone(),
                    code: e.code,
                    message: e.message,
                })
            }
            Err(e) => Err(RpcError::Transport {
                url: self.label.clone(),
                reason: e.to_string(),
            }),
        }
    }
}

/// The configured bitcoinds, used in order: calls go to the first that answers.
#[derive(Clone)]
pub struct NodeSet {
    nodes: Arc<Vec<Node>>,
    /// The chain every node must report before it is used (set once the first node told it).
    chain: Arc<std::sync::OnceLock<String>>,
    /// The nodes' URLs, for logs.
    urls: Arc<Vec<String>>,
    preferred: Arc<AtomicUsize>,
}

impl std::fmt::Debug for NodeSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "NodeSet({} nodes)", self.nodes.len())
    }
}

impl NodeSet {
    /// Clients for these endpoints (nothing is contacted yet), pinned to no chain yet.
    pub fn new(endpoints: Vec<NodeEndpoint>) -> Self {
        Self::sharing(
            endpoints,
            Arc::new(std::sync::OnceLock::new()),
            Arc::default(),
        )
    }

    /// Clients for these endpoints sharing `pin` and `metrics` with other sets (the
    /// template source's and the block submitter's): pinned once, both use only nodes on
    /// that chain, and their calls are counted together.
    pub fn sharing(
        endpoints: Vec<NodeEndpoint>,
        pin: Arc<std::sync::OnceLock<String>>,
        metrics: Arc<RpcMetrics>,
    ) -> Self {
        NodeSet {
            urls: Arc::new(
                endpoints
                    .iter()
                    .map(|e| without_credentials(&e.url))
                    .collect(),
            ),
            nodes: Arc::new(
                endpoints
                    .into_iter()
                    .map(|e| Node::new(e, metrics.clone()))
                    .collect(),
            ),
            preferred: Arc::new(AtomicUsize::new(0)),
            chain: pin,
        }
    }

    /// From now on, [`NodeSet::call`] uses a node only once it has reported `chain`
    /// (`getblockchaininfo`'s name): a `btcd` entry on another chain is skipped as if down,
    /// so a failover never mines on another chain. Set once; later calls change nothing.
    pub fn pin_chain(&self, chain: String) {
        let _ = self.chain.set(chain);
    }

    /// Number of nodes.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// True when no node is configured.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// Calls `method` on the first available node, starting from the last one that worked.
    /// A node that cannot be reached, is starting, syncing, has no peers or is on another
    /// chain than the pinned one is skipped; any other JSON-RPC error is returned as is
    /// (another node would say the same).
    pub async fn call(&self, method: &'static str, params: Vec<Value>) -> Result<Value, RpcError> {
        let nodes = self.nodes.clone();
        let preferred = self.preferred.clone();
        let chain = self.chain.clone();
        let joined = tokio::task::spawn_blocking(move || {
            let n = nodes.len();
            if n == 0 {
                return Err(RpcError::NoNodes);
            }
            let start = preferred.load(Ordering::Relaxed) % n;
            let mut last = RpcError::NoNodes;
            for i in 0..n {
                let idx = (start + i) % n;
                let node = &nodes[idx];
                match node.checked_call(chain.get(), method, &params) {
                    Ok(v) => {
                        if idx != start {
                            tracing::warn!(url = %node.label, "failed over to bitcoind");
                        }
                        preferred.store(idx, Ordering::Relaxed);
                        return Ok(v);
                    }
                    // A node on another chain is what is reported only when every node
                    // is: one that is merely down may come back on the right chain.
                    Err(e) if e.is_node_unavailable() => {
                        let wrong_chain = matches!(e, RpcError::WrongChain { .. });
                        if !wrong_chain
                            || matches!(last, RpcError::NoNodes | RpcError::WrongChain { .. })
                        {
                            last = e;
                        }
                    }
                    Err(e) => return Err(e),
                }
            }
            Err(last)
        })
        .await;
        joined.unwrap_or_else(|e| {
            Err(RpcError::Transport {
                url: String::new(),
                reason: format!("rpc task failed: {e}"),
            })
        })
    }

    /// Calls `method` on one specific node (for submitting a block to every node).
    pub async fn call_on(
        &self,
        index: usize,
        method: &'static str,
        params: Vec<Value>,
    ) -> Result<Value, RpcError> {
        let nodes = self.nodes.clone();
        let chain = self.chain.clone();
        let joined = tokio::task::spawn_blocking(move || {
            nodes
                .get(index)
                .ok_or(RpcError::NoNodes)?
                .checked_call(chain.get(), method, &params)
        })
        .await;
        joined.unwrap_or_else(|e| {
            Err(RpcError::Transport {
                url: String::new(),
                reason: format!("rpc task failed: {e}"),
            })
        })
    }

    /// The URL of node `index` (without credentials), for logs and the API.
    pub fn url(&self, index: usize) -> String {
        self.urls.get(index).cloned().unwrap_or_default()
    }

    /// `getblocktemplate` with the segwit rule (and signet's on signet).
    pub async fn get_block_template(&self, signet: bool) -> Result<Value, RpcError> {
        let rules = if signet {
            json!(["segwit", "signet"])
        } else {
            json!(["segwit"])
        };
        self.call("getblocktemplate", vec![json!({ "rules": rules })])
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scheme_is_read_whatever_its_case() {
        assert_eq!(http_url("HTTP://h:1"), "http://h:1");
        assert_eq!(http_url("h:1"), "http://h:1");
        assert_eq!(http_url("https://h:1"), "https://h:1");
    }

    #[test]
    fn credentials_never_leave_a_url() {
        assert_eq!(without_credentials("127.0.0.1:8332"), "127.0.0.1:8332");
        // The form the config takes (`node_url_is_valid`): a user before the host.
        assert_eq!(without_credentials("rpc@127.0.0.1:8332"), "127.0.0.1:8332");
        assert_eq!(
            without_credentials("HTTP://rpc@[::1]:8332"),
            "HTTP://[::1]:8332"
        );
        assert_eq!(without_credentials("[::1]:8332"), "[::1]:8332");
        assert_eq!(
            without_credentials("http://u:p@node.lan:8332/wallet/x"),
            "http://node.lan:8332/wallet/x"
        );
        assert_eq!(without_credentials("u:p@w@10.0.0.1:8332"), "10.0.0.1:8332");
        assert_eq!(without_credentials("https://node/a@b"), "https://node/a@b");
    }
}

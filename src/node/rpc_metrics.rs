//! bitcoind RPC latency and errors per node, for `/metrics`. Every HTTP call a
//! [`super::rpc::NodeSet`] makes (template fetches, chain checks, block submissions) is
//! timed into a histogram by node and method, and every failure counted by node and kind,
//! where it happens; the template source's and the block submitter's sets share one
//! [`RpcMetrics`], so the page shows each node once.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;

/// Bucket bounds (seconds) for one RPC: a local bitcoind answers in a millisecond, a
/// `getblocktemplate` of a full mempool in tens to hundreds, a node in trouble in seconds.
const RPC_BUCKETS: [f64; 14] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// Which call a latency is about.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CallLabels {
    /// The node (`btcd` url as configured, without credentials).
    pub node: String,
    /// The JSON-RPC method.
    pub method: String,
}

/// What kind of failure an error was.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ErrorLabels {
    /// The node (`btcd` url as configured, without credentials).
    pub node: String,
    /// One of [`ERROR_KINDS`]: `transport` (unreachable, refused, timed out, HTTP error,
    /// bad cookie), `rpc` (a JSON-RPC error reply, warm-up and initial download among
    /// them) or `wrong_chain`.
    pub kind: &'static str,
}

fn rpc_histogram() -> Histogram {
    Histogram::new(RPC_BUCKETS)
}

/// The latencies and errors of every node's calls.
#[derive(Debug)]
pub struct RpcMetrics {
    /// Seconds per call, by node and method (answered calls and failed ones alike).
    pub latency: Family<CallLabels, Histogram, fn() -> Histogram>,
    /// Failures by node and kind.
    pub errors: Family<ErrorLabels, Counter>,
}

impl Default for RpcMetrics {
    fn default() -> Self {
        RpcMetrics {
            latency: Family::new_with_constructor(rpc_histogram),
            errors: Family::default(),
        }
    }
}

/// Every failure kind [`RpcMetrics::failed`] is told.
const ERROR_KINDS: [&str; 3] = ["transport", "rpc", "wrong_chain"];

impl RpcMetrics {
    /// Metrics for these nodes, every error counter there at zero from the start (a
    /// Prometheus `rate()` of a series that appears with its first error misses that error).
    pub fn for_nodes(urls: impl IntoIterator<Item = String>) -> Self {
        let metrics = RpcMetrics::default();
        for node in urls {
            for kind in ERROR_KINDS {
                let _zero = metrics.errors.get_or_create(&ErrorLabels {
                    node: node.clone(),
                    kind,
                });
            }
        }
        metrics
    }

    /// One call to `node` took `secs`.
    pub fn observe(&self, node: &str, method: &str, secs: f64) {
        self.latency
            .get_or_create(&CallLabels {
                node: node.to_string(),
                method: method.to_string(),
            })
            .observe(secs);
    }

    /// One call to `node` failed this way.
    pub fn failed(&self, node: &str, kind: &'static str) {
        self.errors
            .get_or_create(&ErrorLabels {
                node: node.to_string(),
                kind,
            })
            .inc();
    }
}

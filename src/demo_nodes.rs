//! `--demo --p2pool-nodes N`: the demo's other share-chain nodes. The first node runs the
//! in-process simnet; each other node is a full server of its own in this process (its
//! own logdir, store, stratum listener and share chain network on loopback) that uses that
//! simnet as its bitcoind over JSON-RPC and ZMQ, as a real node would use bitcoind, and
//! peers with every node started before it.

use std::time::Duration;

use crate::app::{self, AppError, Running};
use crate::config::{Config, NodeSource};
use crate::node::rpc::{NodeAuth, NodeEndpoint};

/// How long a node may take to listen on its share chain network.
const LISTEN_TIMEOUT: Duration = Duration::from_secs(30);

/// The node's share chain network address with its peer id, once it listens.
pub async fn p2p_addr(node: &Running) -> Result<String, AppError> {
    let Some(mut net) = node.share_net.clone() else {
        return Err(AppError::ShareChain(
            "the demo's nodes need p2pool mode".into(),
        ));
    };
    let wait = async {
        loop {
            {
                let status = net.borrow_and_update();
                if let Some(addr) = status.listening.first() {
                    return Ok(format!("{addr}/p2p/{}", status.peer_id));
                }
            }
            if net.changed().await.is_err() {
                return Err(AppError::ShareChain("the network stopped".into()));
            }
        }
    };
    tokio::time::timeout(LISTEN_TIMEOUT, wait)
        .await
        .map_err(|_| AppError::ShareChain("a demo node did not listen".into()))?
}

/// Starts nodes 1 to `count - 1` beside `first` (node 0, which runs simnet), each peered
/// with every node before it.
pub async fn start_more(
    first: &Running,
    config: &Config,
    count: usize,
) -> Result<Vec<Running>, AppError> {
    let Some(sim) = &first.simnet else {
        return Err(AppError::Simnet("the first demo node has no simnet".into()));
    };
    let Some(cookie) = sim.cookie_file.clone() else {
        return Err(AppError::Simnet("simnet has no cookie file".into()));
    };
    let mut peers = vec![p2p_addr(first).await?];
    let mut more = Vec::new();
    for i in 1..count {
        let mut cfg = config.clone();
        cfg.nodes = NodeSource::Bitcoind {
            btcd: vec![NodeEndpoint {
                url: sim.rpc_addr.to_string(),
                auth: NodeAuth::Cookie(cookie.clone()),
            }],
            zmqblock: Some(sim.zmq_endpoint.clone()),
        };
        cfg.logdir = config.logdir.join(format!("node{i}"));
        cfg.zmqpub = None;
        if let Some(p2pool) = &mut cfg.p2pool {
            p2pool.store = cfg.logdir.join("sharechain");
            p2pool.net.listen = "/ip4/127.0.0.1/tcp/0"
                .parse()
                .map_err(|e| AppError::ShareChain(format!("{e}")))?;
            p2pool.net.peers = peers.iter().filter_map(|p| p.parse().ok()).collect();
        }
        let node = match app::start(cfg).await {
            Ok(node) => node,
            Err(e) => {
                stop_all(&more);
                return Err(e);
            }
        };
        match p2p_addr(&node).await {
            Ok(addr) => {
                peers.push(addr);
                more.push(node);
            }
            Err(e) => {
                node.shutdown.cancel();
                stop_all(&more);
                return Err(e);
            }
        }
    }
    Ok(more)
}

/// Stops the nodes started so far (a later one failed to start).
fn stop_all(nodes: &[Running]) {
    for node in nodes {
        node.shutdown.cancel();
    }
}

/// How long the demo waits for its nodes to peer and sync before it starts the miners.
const PEER_TIMEOUT: Duration = Duration::from_secs(60);

/// Waits until every node is synced and connected to every other node, so that every
/// node's miners work on the shared tip from their first share (a miner started on a node
/// still catching up gets no job, and a block found meanwhile would pay only the others).
pub async fn wait_peered(nodes: &[Running]) -> Result<(), AppError> {
    let others = nodes.len().saturating_sub(1);
    let wait = async {
        for node in nodes {
            let Some(mut net) = node.share_net.clone() else {
                return Err(AppError::ShareChain(
                    "the demo's nodes need p2pool mode".into(),
                ));
            };
            net.wait_for(|s| s.synced && s.peers.len() >= others)
                .await
                .map_err(|_| AppError::ShareChain("a demo node's network stopped".into()))?;
        }
        Ok(())
    };
    tokio::time::timeout(PEER_TIMEOUT, wait)
        .await
        .map_err(|_| {
            AppError::ShareChain(format!(
                "the demo's nodes did not all peer and sync within {} s",
                PEER_TIMEOUT.as_secs()
            ))
        })?
}

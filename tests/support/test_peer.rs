//! A peer that speaks the share chain's protocol without being a node: it dials nodes,
//! waits until each is subscribed to the chain's topic, and publishes whatever bytes it is
//! given (a test's forged shares), then watches what the nodes do with it.
#![allow(dead_code)]

use std::collections::HashSet;
use std::time::Duration;

use futures::StreamExt;
use libp2p::swarm::SwarmEvent;
use libp2p::{gossipsub, Multiaddr, PeerId, Swarm};
use stratumd::config::{NetSettings, P2poolSettings};
use stratumd::p2p::behaviour::{Behaviour, BehaviourEvent, Names};
use stratumd::p2pool::spec::ChainSpec;

/// The peer.
pub struct TestPeer {
    swarm: Swarm<Behaviour>,
    names: Names,
    _key_dir: tempfile::TempDir,
}

impl TestPeer {
    /// A peer of `spec`'s chain with a new key.
    pub fn new(spec: &ChainSpec) -> TestPeer {
        let key_dir = tempfile::tempdir().expect("tempdir");
        let settings = P2poolSettings {
            spec: spec.clone(),
            store: key_dir.path().to_path_buf(),
            net: NetSettings {
                listen: "/ip4/127.0.0.1/tcp/0".parse().unwrap(),
                peers: Vec::new(),
                max_peers: 8,
                ban: Duration::from_secs(60),
            },
        };
        let prepared =
            stratumd::p2p::prepare(&settings, spec.id(), key_dir.path().join("status.json"))
                .expect("test peer's swarm");
        let (swarm, names) = prepared.into_parts();
        TestPeer {
            swarm,
            names,
            _key_dir: key_dir,
        }
    }

    /// Its peer id.
    pub fn id(&self) -> PeerId {
        *self.swarm.local_peer_id()
    }

    /// Dials `nodes` and waits until every one is connected and subscribed to the topic.
    pub async fn connect(&mut self, nodes: &[Multiaddr], timeout: Duration) {
        for n in nodes {
            self.swarm.dial(n.clone()).expect("dial");
        }
        let mut subscribed = HashSet::new();
        let wait = async {
            while subscribed.len() < nodes.len() {
                if let SwarmEvent::Behaviour(BehaviourEvent::Gossip(
                    gossipsub::Event::Subscribed { peer_id, .. },
                )) = self.swarm.select_next_some().await
                {
                    subscribed.insert(peer_id);
                }
            }
        };
        tokio::time::timeout(timeout, wait)
            .await
            .expect("nodes subscribed to the test peer");
    }

    /// Publishes `bytes` on the chain's topic.
    pub fn publish(&mut self, bytes: Vec<u8>) {
        let topic = self.names.topic.clone();
        self.swarm
            .behaviour_mut()
            .gossip
            .publish(topic, bytes)
            .expect("published");
    }

    /// Runs the swarm until no node is connected any more (each banned it), at most
    /// `timeout`; true when they all went.
    pub async fn until_disconnected(&mut self, timeout: Duration) -> bool {
        let wait = async {
            loop {
                if let SwarmEvent::ConnectionClosed { .. } = self.swarm.select_next_some().await {
                    if self.swarm.connected_peers().next().is_none() {
                        return;
                    }
                }
            }
        };
        tokio::time::timeout(timeout, wait).await.is_ok()
    }

    /// Dials `node` again and runs the swarm until the dial fails or a connection closes
    /// (a banned peer is refused), at most `timeout`; true when it was refused.
    pub async fn refused_by(&mut self, node: Multiaddr, timeout: Duration) -> bool {
        if self.swarm.dial(node).is_err() {
            return true;
        }
        let wait = async {
            loop {
                match self.swarm.select_next_some().await {
                    SwarmEvent::OutgoingConnectionError { .. }
                    | SwarmEvent::ConnectionClosed { .. } => return true,
                    SwarmEvent::Behaviour(BehaviourEvent::Gossip(
                        gossipsub::Event::Subscribed { .. },
                    )) => return false,
                    _ => {}
                }
            }
        };
        tokio::time::timeout(timeout, wait).await.unwrap_or(false)
    }
}

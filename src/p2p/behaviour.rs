//! The libp2p behaviours a node runs, and the names that tie them to one chain: the
//! gossip topic, the sync protocol and identify's protocol version all carry the chain id,
//! so nodes of another chain spec never exchange a share (their sync streams do not
//! negotiate, their topics differ, and identify tells them apart to disconnect).

use std::time::Duration;

use libp2p::swarm::NetworkBehaviour;
use libp2p::{
    allow_block_list, connection_limits, gossipsub, identify, identity, ping, request_response,
    StreamProtocol,
};
use sha2::{Digest, Sha256};

use super::wire::SyncCodec;
use crate::p2pool::share::MAX_SHARE_BYTES;
use crate::p2pool::spec::ChainId;

/// The names of one chain's protocols.
#[derive(Debug, Clone)]
pub struct Names {
    /// The gossip topic new shares are published on.
    pub topic: gossipsub::IdentTopic,
    /// The sync protocol.
    pub sync: StreamProtocol,
    /// Identify's protocol version.
    pub identify: String,
}

impl Names {
    /// The names of chain `id`.
    pub fn of(id: ChainId) -> Names {
        Names {
            topic: gossipsub::IdentTopic::new(format!("stratumd/sharechain/{id}/shares/1")),
            // A hex id is a valid protocol name: it starts with '/' and has no spaces.
            sync: StreamProtocol::try_from_owned(format!("/stratumd/sharechain/{id}/sync/1"))
                .unwrap_or(StreamProtocol::new("/stratumd/sharechain/invalid/sync/1")),
            identify: format!("/stratumd/sharechain/{id}/1"),
        }
    }
}

pub use derived::{Behaviour, BehaviourEvent};

/// The derive makes `BehaviourEvent`, one variant per behaviour, without doc comments.
mod derived {
    #![allow(missing_docs)]
    use super::*;

    /// The behaviours, in the order each sees a connection: bans and limits first.
    #[derive(NetworkBehaviour)]
    pub struct Behaviour {
        /// Banned peers' connections are refused and closed.
        pub blocked: allow_block_list::Behaviour<allow_block_list::BlockedPeers>,
        /// At most the configured peers, one connection each.
        pub limits: connection_limits::Behaviour,
        /// Which chain and software a peer runs.
        pub identify: identify::Behaviour,
        /// Liveness.
        pub ping: ping::Behaviour,
        /// New shares, validated before they are forwarded.
        pub gossip: gossipsub::Behaviour,
        /// Sync: locators, ids, shares by id.
        pub sync: request_response::Behaviour<SyncCodec>,
    }
}

/// Why the behaviours could not be made.
pub type BuildError = Box<dyn std::error::Error + Send + Sync>;

impl Behaviour {
    /// The behaviours of a node on the chain named `names` with `max_peers` peers.
    pub fn new(
        key: &identity::Keypair,
        names: &Names,
        max_peers: u32,
    ) -> Result<Behaviour, BuildError> {
        let gossip_config = gossipsub::ConfigBuilder::default()
            // Shares are self-authenticating (their proof of work): no signatures, and a
            // message's id is its bytes' hash, so the same share is one message.
            .validation_mode(gossipsub::ValidationMode::Anonymous)
            .message_id_fn(|m: &gossipsub::Message| {
                gossipsub::MessageId::from(Sha256::digest(&m.data)[..20].to_vec())
            })
            .validate_messages()
            .max_transmit_size(MAX_SHARE_BYTES + 512)
            .heartbeat_interval(Duration::from_millis(500))
            .build()?;
        let mut gossip =
            gossipsub::Behaviour::new(gossipsub::MessageAuthenticity::Anonymous, gossip_config)?;
        gossip.subscribe(&names.topic)?;
        let sync = request_response::Behaviour::with_codec(
            SyncCodec,
            [(names.sync.clone(), request_response::ProtocolSupport::Full)],
            request_response::Config::default()
                .with_request_timeout(Duration::from_secs(30))
                .with_max_concurrent_streams(64),
        );
        let identify = identify::Behaviour::new(
            identify::Config::new(names.identify.clone(), key.public())
                .with_agent_version(format!("stratumd/{}", env!("CARGO_PKG_VERSION"))),
        );
        Ok(Behaviour {
            blocked: allow_block_list::Behaviour::default(),
            limits: connection_limits::Behaviour::new(
                connection_limits::ConnectionLimits::default()
                    .with_max_established(Some(max_peers))
                    .with_max_established_per_peer(Some(2))
                    .with_max_pending_incoming(Some(max_peers)),
            ),
            identify,
            ping: ping::Behaviour::default(),
            gossip,
            sync,
        })
    }
}

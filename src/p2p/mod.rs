//! The share chain's peer-to-peer network (libp2p: TCP, noise, yamux; identify, ping;
//! gossipsub for new shares, request-response for sync). Nodes of one chain spec keep one
//! share chain between them: each offers its peers' shares to its own chain's thread,
//! which judges them exactly as it judges its own miners', so no node trusts another.
//!
//! Data flows one way: the network only sends [`crate::sharechain::ChainRequest`]s to
//! the chain's thread and reads its answers; it never touches the chain or the store.

pub mod behaviour;
pub mod key;
pub mod node;
pub mod peers;
pub mod wire;

pub use node::{prepare, NetError, NetStatus, Prepared};

/// The status file's name in `<logdir>/pool/`.
pub const STATUS_FILE: &str = "p2pool.json";

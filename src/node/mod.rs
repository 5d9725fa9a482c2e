//! Everything about bitcoind: the JSON-RPC client with failover ([`rpc`]), the template
//! source driven by ZMQ `hashblock`, polling and a refresh timer ([`source`]), and the block
//! submitter ([`submitter`]). [`simnet`] is the embedded stand-in node used by tests and the
//! demo; it speaks the same JSON-RPC and ZMQ, so the same client code drives both.

pub mod rpc;
pub mod source;
pub mod submitter;
pub mod template;
pub mod zmq_sub;

/// The embedded regtest-like node (its own crate, so its checks share no code with ours).
pub use simnet;

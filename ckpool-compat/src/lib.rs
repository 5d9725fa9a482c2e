//! ckpool's file and message formats as typed values, so stratumd can read and write
//! exactly what ckpool's consumers (P2Poolv2's ZMQ subscriber, stats dashboards,
//! share-log tools) already parse.
//!
//! - [`conf`]: `ckpool.conf` reading (re-exported at the crate root).
//! - [`zmq`]: the JSON messages ckpool-solo publishes on its ZMQ socket.
//! - [`stats`]: `logs/pool/pool.status` and `logs/users/<address>`.
//! - [`sharelog`]: the `-L` per-workbase share log lines.
//! - [`jansson`]: byte-exact reproduction of how ckpool's JSON library prints values.

#![warn(missing_docs)]

pub mod conf;
pub mod jansson;
pub mod sharelog;
pub mod stats;
pub mod zmq;

pub use conf::{read_conf, ConfReadError, CKPOOL_KEYS};

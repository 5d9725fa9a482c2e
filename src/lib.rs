//! stratumd: a stratum v1 mining server for ASIC miners.
//!
//! Data flows one way: [`node`] fetches block templates from bitcoind (or the embedded
//! simnet), [`work`] turns each template into a [`work::Job`], [`stratum`] serves the jobs to
//! miners and takes their submits, [`share`] validates each submit and assembles blocks, which
//! [`node`] submits back to bitcoind. See `docs/ARCHITECTURE.md`.

#![warn(missing_docs)]

pub mod api;
pub mod app;
pub mod config;
pub mod control;
pub mod decay;
pub mod demo;
pub mod demo_console;
pub mod demo_nodes;
pub mod events;
pub mod found_blocks;
pub mod hex_util;
pub mod limits;
pub mod log_level;
pub mod node;
pub mod p2p;
pub mod p2pool;
pub mod pow;
pub mod share;
pub mod sharechain;
pub mod short_bytes;
pub mod stats;
pub mod stratum;
pub mod work;
pub mod zmq_out;

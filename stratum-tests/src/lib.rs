//! The `stratum-load` load generator ([`load::run`]) for stratumd or any stratum v1 server,
//! with the firmware handshakes it replays (bitaxe, Antminer, cgminer: [`load::handshake`]).
//! Its shares are built and hashed with the independent [`stratum_miner`] crate.
//!
//! Binaries: `stratum-load` (the generator), `fanout-floor` (this machine's floor for a
//! block fan-out) and `stratum-echo` (the share path's floor: a responder that validates
//! nothing).
//!
//! - [`load`]: the `stratum-load` load generator ([`load::run`]).

#![warn(missing_docs)]

pub mod load;

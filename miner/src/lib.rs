//! A CPU stratum v1 test miner, written independently of the `stratumd` server so that the
//! server can be checked against code that does not share its assumptions. `stratumd --demo`
//! mines with it, the `stratum-load` generator builds its shares with it, and the end-to-end
//! tests script miners with it.
//!
//! - [`hash`]: double SHA-256, the proof-of-work hash.
//! - [`work`]: a parsed `mining.notify` job, header assembly and difficulty checks.
//! - [`client`]: a low-level line-oriented stratum client for scripted tests.
//! - [`miner`]: a complete multi-threaded CPU miner ([`miner::run_miner`]).
//!
//! The `stratum-miner` binary runs [`miner::run_miner`] from the command line.

#![warn(missing_docs)]

pub mod client;
pub mod hash;
pub mod miner;
pub mod work;

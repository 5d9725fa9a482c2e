//! What the command line (ckpool's flags) and the embedded simnet put in place of, or
//! beside, the config file. Kept in their own type and applied once, when the config is
//! validated: nothing changes a [`Config`](super::Config) afterwards.

use std::net::SocketAddr;
use std::path::PathBuf;

/// The group that owns the unix sockets (ckpool's `-g`), resolved at start-up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SocketGroup {
    /// The group name given.
    pub name: String,
    /// Its numeric id.
    pub gid: u32,
}

/// How to run the embedded simnet instead of the configured bitcoinds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SimnetNode {
    /// Block difficulty (fractional).
    pub difficulty: f64,
    /// Synthetic transactions per template.
    pub transactions: usize,
}

/// Overrides of the config file, from the command line.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Overrides {
    /// ckpool `-B`: solo mode.
    pub solo: bool,
    /// ckpool `-n`: the instance name (default `ckpool`).
    pub name: Option<String>,
    /// ckpool `-s`: the socket directory, over our `sockdir` key.
    pub sockdir: Option<PathBuf>,
    /// ckpool `-L`: log every share.
    pub log_shares: bool,
    /// ckpool `-g`: the group owning the unix sockets.
    pub group: Option<SocketGroup>,
    /// `--simnet` / `--demo`: the in-process simnet instead of `btcd` and `zmqblock`.
    pub simnet: Option<SimnetNode>,
    /// `--demo`: listen here instead of `serverurl`.
    pub serverurl: Option<Vec<SocketAddr>>,
    /// `--p2pool`: p2pool mode (as a `p2pool` section does).
    pub p2pool: bool,
    /// `--p2pool-listen`: over `p2pool.listen`.
    pub p2pool_listen: Option<String>,
    /// `--p2pool-peer` (repeated): added to `p2pool.peers`.
    pub p2pool_peers: Vec<String>,
    /// `--api`: over `api`.
    pub api: Option<SocketAddr>,
}

impl Overrides {
    /// Solo mode, nothing else overridden.
    pub fn solo() -> Overrides {
        Overrides {
            solo: true,
            ..Overrides::default()
        }
    }

    /// Pool mode, nothing overridden.
    pub fn pool() -> Overrides {
        Overrides::default()
    }
}

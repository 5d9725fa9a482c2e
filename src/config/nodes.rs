//! The bitcoind side of the config: `btcd` entries, ZMQ endpoints, the pinned `network`,
//! and whether simnet stands in for all of it.

use std::path::PathBuf;

use bitcoin::Network;

use super::overrides::SimnetNode;
use super::raw::{Entries, RawNode};
use super::{invalid, ConfigError};
use crate::node::rpc::{NodeAuth, NodeEndpoint};

/// Where the node side of the server comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum NodeSource {
    /// The configured bitcoinds.
    Bitcoind {
        /// In failover order.
        btcd: Vec<NodeEndpoint>,
        /// bitcoind's ZMQ `hashblock` endpoint (ckpool `zmqblock`).
        zmqblock: Option<String>,
    },
    /// The in-process simnet (`--simnet`, `--demo`), a regtest chain.
    Simnet(SimnetNode),
}

/// ckpool's default `btcd`.
pub fn default_btcd() -> Vec<NodeEndpoint> {
    vec![NodeEndpoint {
        url: "localhost:8332".into(),
        auth: NodeAuth::UserPass("user".into(), "pass".into()),
    }]
}

/// `host:port`, optionally after `http://` (and before a `/path`): bitcoind's RPC port
/// depends on the chain, so it must be given, as ckpool's configs always do.
fn node_url_is_valid(url: &str) -> bool {
    let rest = match url.get(..7) {
        Some(scheme) if scheme.eq_ignore_ascii_case("http://") => &url[7..],
        _ => url,
    };
    let authority = rest.split('/').next().unwrap_or("");
    match authority.rsplit_once(':') {
        Some((host, port)) => {
            // An IPv6 host needs its brackets: `[::1]:8332`.
            let host_ok = !host.is_empty()
                && (!host.contains(':') || (host.starts_with('[') && host.ends_with(']')));
            host_ok && port.parse::<u16>().is_ok_and(|p| p > 0)
        }
        None => false,
    }
}

/// The `btcd` entries, checked.
pub fn btcd(raw: Entries<RawNode>) -> Result<Vec<NodeEndpoint>, ConfigError> {
    let mut out = Vec::new();
    for (i, node) in raw.0.into_iter().enumerate() {
        let url = match node.url {
            Some(u) if node_url_is_valid(&u) => u,
            Some(u) if u.starts_with("https://") => {
                return Err(invalid(
                    "btcd",
                    format!("entry {i}: bitcoind's RPC is plain HTTP, not {u}"),
                ))
            }
            _ => {
                return Err(invalid(
                    "btcd",
                    format!("entry {i} needs a \"url\" like \"127.0.0.1:8332\" (host and port)"),
                ))
            }
        };
        let auth = match (node.cookie, node.auth, node.pass) {
            (Some(c), _, _) => NodeAuth::Cookie(PathBuf::from(c)),
            (None, Some(u), Some(p)) => NodeAuth::UserPass(u, p),
            _ => {
                return Err(invalid(
                    "btcd",
                    format!("entry {i} needs \"auth\" and \"pass\" (rpcuser/rpcpassword) or \"cookie\" (path to bitcoind's .cookie)"),
                ))
            }
        };
        out.push(NodeEndpoint { url, auth });
    }
    if out.is_empty() {
        return Err(invalid("btcd", "needs at least one bitcoind"));
    }
    Ok(out)
}

/// A ZMQ endpoint like `tcp://*:8881` for the key `key`.
pub fn zmq_endpoint(key: &'static str, s: &str) -> Result<String, ConfigError> {
    const SCHEMES: &[&str] = &["tcp://", "ipc://", "inproc://", "pgm://", "epgm://"];
    let rest = SCHEMES.iter().find_map(|p| s.strip_prefix(p));
    match rest {
        Some(r) if !r.is_empty() => Ok(s.to_string()),
        _ => Err(invalid(
            key,
            format!(
                "`{s}` is not a ZMQ endpoint like \"tcp://*:8881\" or \"ipc:///tmp/stratumd.pub\""
            ),
        )),
    }
}

/// Our `network` key.
pub fn network(s: &str) -> Result<Network, ConfigError> {
    match s {
        "main" | "mainnet" | "bitcoin" => Ok(Network::Bitcoin),
        "test" | "testnet" | "testnet3" => Ok(Network::Testnet),
        "testnet4" => Ok(Network::Testnet4),
        "signet" => Ok(Network::Signet),
        "regtest" => Ok(Network::Regtest),
        _ => Err(invalid(
            "network",
            format!("`{s}` is not one of main, testnet, testnet4, signet, regtest"),
        )),
    }
}

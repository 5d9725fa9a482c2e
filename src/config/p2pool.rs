//! p2pool mode's settings: the chain spec (a preset or a spec file), the store's folder,
//! and the share chain's network (listen address, peers, limits).
//! The spec is consensus: it is decided here, at start, never from bitcoind's answer, and
//! its network pins the chain the node mines on (a `network` key or simnet must agree).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use bitcoin::Network;
use libp2p::multiaddr::Protocol;
use libp2p::Multiaddr;

use super::raw::RawP2pool;
use super::{invalid, ConfigError};
use crate::p2pool::spec::{ChainSpec, PRESETS};

/// p2pool mode's settings.
#[derive(Debug, Clone, PartialEq)]
pub struct P2poolSettings {
    /// The chain spec every share is checked under.
    pub spec: ChainSpec,
    /// The share chain store's folder.
    pub store: PathBuf,
    /// The share chain's network.
    pub net: NetSettings,
}

/// The share chain's network settings.
#[derive(Debug, Clone, PartialEq)]
pub struct NetSettings {
    /// Where to listen.
    pub listen: Multiaddr,
    /// Peers to connect to and keep connected to.
    pub peers: Vec<Multiaddr>,
    /// Most peers at once.
    pub max_peers: u32,
    /// How long a ban lasts.
    pub ban: Duration,
}

/// The share chain network's port when `p2pool.listen` does not say.
pub const DEFAULT_PORT: u16 = 9339;

/// An address as the config gives it: `host:port` (an IP address) or a multiaddr
/// (`/ip4/…/tcp/…`, with `/p2p/<peer id>` when known).
pub fn parse_addr(text: &str) -> Result<Multiaddr, String> {
    if text.starts_with('/') {
        let addr: Multiaddr = text
            .parse()
            .map_err(|e| format!("`{text}` is not a multiaddr: {e}"))?;
        let tcp = addr.iter().any(|p| matches!(p, Protocol::Tcp(_)));
        let ip = addr
            .iter()
            .any(|p| matches!(p, Protocol::Ip4(_) | Protocol::Ip6(_)));
        if !(tcp && ip) {
            return Err(format!("`{text}` is not an IP address and TCP port"));
        }
        return Ok(addr);
    }
    let socket: SocketAddr = text
        .parse()
        .map_err(|_| format!("`{text}` is neither host:port (an IP address) nor a multiaddr"))?;
    let ip = match socket.ip() {
        std::net::IpAddr::V4(v4) => Protocol::Ip4(v4),
        std::net::IpAddr::V6(v6) => Protocol::Ip6(v6),
    };
    Ok(Multiaddr::empty()
        .with(ip)
        .with(Protocol::Tcp(socket.port())))
}

fn net_settings(raw: &RawP2pool) -> Result<NetSettings, ConfigError> {
    let listen = match &raw.listen {
        Some(text) => parse_addr(text).map_err(|e| invalid("p2pool.listen", e))?,
        None => parse_addr(&format!("0.0.0.0:{DEFAULT_PORT}"))
            .map_err(|e| invalid("p2pool.listen", e))?,
    };
    let peers = raw
        .peers
        .iter()
        .flatten()
        .map(|p| parse_addr(p).map_err(|e| invalid("p2pool.peers", e)))
        .collect::<Result<Vec<_>, _>>()?;
    let max_peers = raw.max_peers.unwrap_or(32);
    if !(1..=1_000).contains(&max_peers) {
        return Err(invalid("p2pool.max_peers", "must be 1 to 1000"));
    }
    let ban_secs = raw.ban_secs.unwrap_or(3_600);
    if !(1..=30 * 86_400).contains(&ban_secs) {
        return Err(invalid("p2pool.ban_secs", "must be 1 to 2592000 (30 days)"));
    }
    Ok(NetSettings {
        listen,
        peers,
        max_peers,
        ban: Duration::from_secs(ban_secs),
    })
}

/// The preset of a network: the one bitcoind's chain has.
fn preset_for(network: Network) -> &'static str {
    match network {
        Network::Bitcoin => "main",
        Network::Testnet4 => "testnet4",
        Network::Testnet => "test",
        Network::Signet => "signet",
        _ => "regtest",
    }
}

/// The settings from the `p2pool` section; `network` is the chain pinned by `network` or
/// simnet (`simnet` true), which the spec must be for.
pub fn settings(
    raw: RawP2pool,
    network: Option<Network>,
    simnet: bool,
    logdir: &Path,
) -> Result<P2poolSettings, ConfigError> {
    let net = net_settings(&raw)?;
    let chain = match (raw.chain, network) {
        (Some(c), _) => c,
        (None, _) if simnet => "simnet".to_string(),
        (None, Some(n)) => preset_for(n).to_string(),
        (None, None) => {
            return Err(invalid(
                "p2pool.chain",
                "p2pool mode needs the chain spec: set `p2pool.chain` (a preset or a spec file) or `network`",
            ))
        }
    };
    let spec = if PRESETS.contains(&chain.as_str()) {
        ChainSpec::preset(&chain).map_err(|e| invalid("p2pool.chain", e.to_string()))?
    } else {
        ChainSpec::load(Path::new(&chain)).map_err(|e| {
            invalid(
                "p2pool.chain",
                format!(
                    "`{chain}` is not a preset ({}) nor a readable spec file: {e}",
                    PRESETS.join(", ")
                ),
            )
        })?
    };
    if let Some(n) = network {
        if spec.network != n {
            return Err(invalid(
                "p2pool.chain",
                format!(
                    "`{chain}` is a chain on {}, but this node mines on {n}",
                    spec.network
                ),
            ));
        }
    }
    let store = raw
        .store
        .map_or_else(|| logdir.join("sharechain"), PathBuf::from);
    Ok(P2poolSettings { spec, store, net })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_spec_follows_the_chain_and_must_agree_with_it() {
        let logs = Path::new("logs");
        let s = settings(RawP2pool::default(), Some(Network::Regtest), true, logs).unwrap();
        assert_eq!(s.spec, ChainSpec::preset("simnet").unwrap());
        assert_eq!(s.store, Path::new("logs/sharechain"));
        let s = settings(RawP2pool::default(), Some(Network::Bitcoin), false, logs).unwrap();
        assert_eq!(s.spec, ChainSpec::preset("main").unwrap());
        let raw = RawP2pool {
            chain: Some("main".into()),
            store: Some("/var/lib/chain".into()),
            ..RawP2pool::default()
        };
        let err = settings(raw.clone(), Some(Network::Regtest), true, logs).unwrap_err();
        assert!(err.to_string().contains("p2pool.chain"), "{err}");
        let s = settings(raw, None, false, logs).unwrap();
        assert_eq!(s.store, Path::new("/var/lib/chain"));
        let err = settings(RawP2pool::default(), None, false, logs).unwrap_err();
        assert!(err.to_string().contains("p2pool.chain"), "{err}");
        let raw = RawP2pool {
            chain: Some("/no/such/spec.json".into()),
            ..RawP2pool::default()
        };
        let err = settings(raw, None, false, logs).unwrap_err();
        assert!(err.to_string().contains("not a preset"), "{err}");
    }

    #[test]
    fn network_addresses_are_parsed_at_start_and_errors_name_the_key() {
        let logs = Path::new("logs");
        let s = settings(RawP2pool::default(), Some(Network::Regtest), true, logs).unwrap();
        assert_eq!(s.net.listen.to_string(), "/ip4/0.0.0.0/tcp/9339");
        assert!(s.net.peers.is_empty());
        let raw = RawP2pool {
            listen: Some("127.0.0.1:0".into()),
            peers: Some(vec![
                "10.0.0.2:9339".into(),
                "[::1]:9339".into(),
                "/ip4/10.0.0.3/tcp/9339".into(),
            ]),
            ..RawP2pool::default()
        };
        let s = settings(raw, Some(Network::Regtest), true, logs).unwrap();
        assert_eq!(s.net.listen.to_string(), "/ip4/127.0.0.1/tcp/0");
        assert_eq!(
            s.net
                .peers
                .iter()
                .map(|a| a.to_string())
                .collect::<Vec<_>>(),
            [
                "/ip4/10.0.0.2/tcp/9339",
                "/ip6/::1/tcp/9339",
                "/ip4/10.0.0.3/tcp/9339"
            ]
        );
        for (raw, key) in [
            (
                RawP2pool {
                    peers: Some(vec!["pool.example:9339".into()]),
                    ..RawP2pool::default()
                },
                "p2pool.peers",
            ),
            (
                RawP2pool {
                    listen: Some("/ip4/1.2.3.4/udp/5".into()),
                    ..RawP2pool::default()
                },
                "p2pool.listen",
            ),
            (
                RawP2pool {
                    max_peers: Some(0),
                    ..RawP2pool::default()
                },
                "p2pool.max_peers",
            ),
            (
                RawP2pool {
                    ban_secs: Some(0),
                    ..RawP2pool::default()
                },
                "p2pool.ban_secs",
            ),
        ] {
            let err = settings(raw, Some(Network::Regtest), true, logs).unwrap_err();
            assert!(err.to_string().contains(key), "{err}");
        }
    }
}

//! p2pool mode's settings: the chain spec (a preset or a spec file) and the store's folder.
//! The spec is consensus: it is decided here, at start, never from bitcoind's answer, and
//! its network pins the chain the node mines on (a `network` key or simnet must agree).

use std::path::{Path, PathBuf};

use bitcoin::Network;

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
    Ok(P2poolSettings { spec, store })
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
        };
        let err = settings(raw.clone(), Some(Network::Regtest), true, logs).unwrap_err();
        assert!(err.to_string().contains("p2pool.chain"), "{err}");
        let s = settings(raw, None, false, logs).unwrap();
        assert_eq!(s.store, Path::new("/var/lib/chain"));
        let err = settings(RawP2pool::default(), None, false, logs).unwrap_err();
        assert!(err.to_string().contains("p2pool.chain"), "{err}");
        let raw = RawP2pool {
            chain: Some("/no/such/spec.json".into()),
            store: None,
        };
        let err = settings(raw, None, false, logs).unwrap_err();
        assert!(err.to_string().contains("not a preset"), "{err}");
    }
}

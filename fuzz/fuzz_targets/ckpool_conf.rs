//! ckpool.conf text into the validated `Config`, as `stratumd -c` reads it, in pool, solo
//! and p2pool mode (the first byte picks), and a valid config through everything start-up
//! asks of it (listeners, start difficulties, the payout plan on each network).
//!
//! Checked: nothing panics, and a refusal names a config key.

#![no_main]

use libfuzzer_sys::fuzz_target;
use std::net::SocketAddr;

use stratumd::config::{Config, ConfigError, Overrides, RawConfig};

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    let overrides = match mode % 3 {
        0 => Overrides::pool(),
        1 => Overrides::solo(),
        _ => Overrides {
            p2pool: true,
            ..Overrides::default()
        },
    };
    let raw = match RawConfig::parse(text) {
        Ok(raw) => raw,
        Err(e) => return assert_names_a_key(&e),
    };
    // `serverurl` may name a host, which start-up resolves: only literal addresses here,
    // so that the fuzzer never asks a resolver.
    if let Some(urls) = &raw.serverurl {
        if urls
            .clone()
            .into_vec()
            .iter()
            .any(|u| u.parse::<SocketAddr>().is_err())
        {
            return;
        }
    }
    match Config::new(raw, &overrides) {
        Ok(config) => {
            for listener in config.listeners() {
                let d = config.start_diff_for(&listener);
                assert!(d.is_finite() && d > 0.0, "start difficulty {d}");
            }
            for network in [
                bitcoin::Network::Bitcoin,
                bitcoin::Network::Testnet,
                bitcoin::Network::Signet,
                bitcoin::Network::Regtest,
            ] {
                let _ = config.payout_plan(network);
            }
            let _ = config.socket_dir();
        }
        Err(e) => assert_names_a_key(&e),
    }
});

fn assert_names_a_key(e: &ConfigError) {
    if let ConfigError::Invalid { key, .. } = e {
        assert!(!key.is_empty(), "{e}");
    }
}

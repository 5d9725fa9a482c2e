//! ckpool.conf, validated once at start-up into a typed [`Config`]. An invalid value stops
//! start-up with a message naming the key and what is allowed; an unknown key is a warning.
//! ckpool's defaults and ranges apply; our own keys sit beside ckpool's.

use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use bitcoin::address::NetworkUnchecked;
use bitcoin::{Address, Network};
use serde_json::{Map, Value};

use crate::node::rpc::{NodeAuth, NodeEndpoint};

/// Keys this project adds to ckpool's.
pub const OWN_KEYS: &[&str] = &["donaddress", "payouts", "network", "handshake_timeout"];

/// A config problem, naming the key.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ConfigError {
    /// The file could not be read or parsed.
    #[error("cannot read config {path}: {reason}")]
    File {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// A key's value is not allowed.
    #[error("config key `{key}`: {problem}")]
    Invalid {
        /// The key.
        key: &'static str,
        /// What is wrong and what is allowed.
        problem: String,
    },
}

fn invalid(key: &'static str, problem: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key,
        problem: problem.into(),
    }
}

/// A weighted pool payout entry (our `payouts` key).
#[derive(Debug, Clone, PartialEq)]
pub struct PayoutEntry {
    /// Address paid.
    pub address: Address<NetworkUnchecked>,
    /// Relative weight.
    pub weight: u64,
}

/// The validated configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// bitcoinds, in failover order.
    pub btcd: Vec<NodeEndpoint>,
    /// Pool payout address (required outside solo mode unless `payouts` is set).
    pub btcaddress: Option<Address<NetworkUnchecked>>,
    /// Coinbase tag, at most 38 bytes.
    pub btcsig: String,
    /// Best-block poll interval.
    pub blockpoll: Duration,
    /// extranonce1 bytes (2–8).
    pub nonce1length: usize,
    /// extranonce2 bytes (2–8).
    pub nonce2length: usize,
    /// Fresh work at least this often.
    pub update_interval: Duration,
    /// Version-rolling mask the pool allows.
    pub version_mask: u32,
    /// Stratum listen addresses.
    pub serverurl: Vec<SocketAddr>,
    /// Lowest difficulty.
    pub mindiff: f64,
    /// First difficulty.
    pub startdiff: f64,
    /// Highest difficulty, `None` for none.
    pub maxdiff: Option<f64>,
    /// Where logs, stats and found blocks go.
    pub logdir: PathBuf,
    /// bitcoind's ZMQ hashblock endpoint.
    pub zmqblock: Option<String>,
    /// Donation percentage (0 = none).
    pub donation: f64,
    /// Donation address (required with a donation).
    pub donaddress: Option<Address<NetworkUnchecked>>,
    /// Weighted pool payout list (pool mode), instead of `btcaddress`.
    pub payouts: Vec<PayoutEntry>,
    /// The chain, if pinned; otherwise learned from bitcoind.
    pub network: Option<Network>,
    /// Seconds a connection has to subscribe and authorize.
    pub handshake_timeout: Duration,
    /// Non-fatal remarks (unknown keys, adjusted values) to log at start.
    pub warnings: Vec<String>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            btcd: vec![NodeEndpoint {
                url: "localhost:8332".into(),
                auth: NodeAuth::UserPass("user".into(), "pass".into()),
            }],
            btcaddress: None,
            btcsig: String::new(),
            blockpoll: Duration::from_millis(100),
            nonce1length: 4,
            nonce2length: 8,
            update_interval: Duration::from_secs(30),
            version_mask: 0x1fff_e000,
            serverurl: vec![SocketAddr::from(([0, 0, 0, 0], 3333))],
            mindiff: 1.0,
            startdiff: 42.0,
            maxdiff: None,
            logdir: PathBuf::from("logs"),
            zmqblock: None,
            donation: 0.0,
            donaddress: None,
            payouts: Vec::new(),
            network: None,
            handshake_timeout: Duration::from_secs(60),
            warnings: Vec::new(),
        }
    }
}

fn number(map: &Map<String, Value>, key: &'static str) -> Result<Option<f64>, ConfigError> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n
            .as_f64()
            .filter(|f| f.is_finite())
            .map(Some)
            .ok_or_else(|| invalid(key, "must be a finite number")),
        Some(other) => Err(invalid(key, format!("must be a number, got {other}"))),
    }
}

fn integer_in(
    map: &Map<String, Value>,
    key: &'static str,
    lo: i64,
    hi: i64,
) -> Result<Option<i64>, ConfigError> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => match n.as_i64() {
            Some(v) if (lo..=hi).contains(&v) => Ok(Some(v)),
            _ => Err(invalid(
                key,
                format!("must be a whole number from {lo} to {hi}, got {n}"),
            )),
        },
        Some(other) => Err(invalid(
            key,
            format!("must be a whole number from {lo} to {hi}, got {other}"),
        )),
    }
}

fn string(map: &Map<String, Value>, key: &'static str) -> Result<Option<String>, ConfigError> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(other) => Err(invalid(key, format!("must be a string, got {other}"))),
    }
}

fn address(key: &'static str, s: &str) -> Result<Address<NetworkUnchecked>, ConfigError> {
    Address::<NetworkUnchecked>::from_str(s)
        .map_err(|e| invalid(key, format!("`{s}` is not a bitcoin address ({e})")))
}

fn positive_diff(map: &Map<String, Value>, key: &'static str) -> Result<Option<f64>, ConfigError> {
    match number(map, key)? {
        Some(d) if d <= 0.0 => Err(invalid(
            key,
            format!("must be above 0 (fractions like 0.0001 are allowed), got {d}"),
        )),
        other => Ok(other),
    }
}

fn parse_btcd(v: &Value) -> Result<Vec<NodeEndpoint>, ConfigError> {
    let entries = match v {
        Value::Array(a) => a.clone(),
        Value::Object(_) => vec![v.clone()],
        _ => {
            return Err(invalid(
                "btcd",
                "must be an array of {\"url\", \"auth\", \"pass\"} objects",
            ))
        }
    };
    let mut out = Vec::new();
    for (i, e) in entries.iter().enumerate() {
        let Value::Object(o) = e else {
            return Err(invalid("btcd", format!("entry {i} must be an object")));
        };
        let url = match o.get("url") {
            Some(Value::String(u)) if !u.is_empty() => u.clone(),
            _ => {
                return Err(invalid(
                    "btcd",
                    format!("entry {i} needs a \"url\" like \"127.0.0.1:8332\""),
                ))
            }
        };
        let auth = match (o.get("cookie"), o.get("auth"), o.get("pass")) {
            (Some(Value::String(c)), _, _) => NodeAuth::Cookie(PathBuf::from(c)),
            (_, Some(Value::String(u)), Some(Value::String(p))) => NodeAuth::UserPass(u.clone(), p.clone()),
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

fn parse_serverurl(v: &Value) -> Result<Vec<SocketAddr>, ConfigError> {
    let list: Vec<&Value> = match v {
        Value::Array(a) => a.iter().collect(),
        other => vec![other],
    };
    let mut out = Vec::new();
    for item in list {
        let Value::String(s) = item else {
            return Err(invalid(
                "serverurl",
                "must be \"host:port\" or an array of them",
            ));
        };
        let addrs = s.to_socket_addrs().map_err(|e| {
            invalid(
                "serverurl",
                format!("cannot resolve `{s}` ({e}); use \"host:port\""),
            )
        })?;
        out.extend(addrs.take(1));
    }
    if out.is_empty() {
        return Err(invalid("serverurl", "needs at least one \"host:port\""));
    }
    Ok(out)
}

fn parse_network(s: &str) -> Result<Network, ConfigError> {
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

impl Config {
    /// Reads and validates a ckpool.conf file.
    pub fn load(path: &std::path::Path, solo: bool) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError::File {
            path: path.display().to_string(),
            reason: e.to_string(),
        })?;
        Self::parse(&text, solo).map_err(|e| match e {
            ConfigError::File { reason, .. } => ConfigError::File {
                path: path.display().to_string(),
                reason,
            },
            other => other,
        })
    }

    /// Validates ckpool.conf text. `solo` is ckpool's `-B`.
    pub fn parse(text: &str, solo: bool) -> Result<Config, ConfigError> {
        let map = ckpool_compat::read_conf(text).map_err(|e| ConfigError::File {
            path: String::new(),
            reason: e.to_string(),
        })?;
        let mut c = Config::default();
        for key in map.keys() {
            if !ckpool_compat::CKPOOL_KEYS.contains(&key.as_str())
                && !OWN_KEYS.contains(&key.as_str())
            {
                c.warnings
                    .push(format!("unknown config key `{key}` ignored"));
            }
        }
        if let Some(v) = map.get("btcd") {
            c.btcd = parse_btcd(v)?;
        }
        if let Some(s) = string(&map, "btcaddress")? {
            c.btcaddress = Some(address("btcaddress", &s)?);
        }
        if let Some(s) = string(&map, "btcsig")? {
            if s.len() > crate::work::coinbase::MAX_BTCSIG_LEN {
                c.warnings.push(format!(
                    "`btcsig` truncated to {} bytes",
                    crate::work::coinbase::MAX_BTCSIG_LEN
                ));
                let mut cut = crate::work::coinbase::MAX_BTCSIG_LEN;
                while !s.is_char_boundary(cut) {
                    cut -= 1;
                }
                c.btcsig = s[..cut].to_string();
            } else {
                c.btcsig = s;
            }
        }
        if let Some(ms) = integer_in(&map, "blockpoll", 1, 60_000)? {
            c.blockpoll = Duration::from_millis(ms as u64);
        }
        if let Some(n) = integer_in(&map, "nonce1length", 2, 8)? {
            c.nonce1length = n as usize;
        }
        if let Some(n) = integer_in(&map, "nonce2length", 2, 8)? {
            c.nonce2length = n as usize;
        }
        if let Some(s) = integer_in(&map, "update_interval", 1, 3600)? {
            c.update_interval = Duration::from_secs(s as u64);
        }
        if let Some(s) = string(&map, "version_mask")? {
            c.version_mask = u32::from_str_radix(s.trim_start_matches("0x"), 16).map_err(|_| {
                invalid(
                    "version_mask",
                    format!("must be hex like \"1fffe000\", got `{s}`"),
                )
            })?;
        }
        if let Some(v) = map.get("serverurl") {
            c.serverurl = parse_serverurl(v)?;
        }
        if let Some(d) = positive_diff(&map, "mindiff")? {
            c.mindiff = d;
        }
        if let Some(d) = positive_diff(&map, "startdiff")? {
            c.startdiff = d;
        }
        match number(&map, "maxdiff")? {
            Some(d) if d < 0.0 => {
                return Err(invalid("maxdiff", "must be 0 (no maximum) or above"))
            }
            Some(d) if d > 0.0 => c.maxdiff = Some(d),
            _ => {}
        }
        if let Some(max) = c.maxdiff {
            if max < c.mindiff {
                return Err(invalid(
                    "maxdiff",
                    format!("{max} is below mindiff {}", c.mindiff),
                ));
            }
        }
        if c.startdiff < c.mindiff {
            c.warnings.push(format!(
                "`startdiff` {} raised to `mindiff` {}",
                c.startdiff, c.mindiff
            ));
            c.startdiff = c.mindiff;
        }
        if let Some(s) = string(&map, "logdir")? {
            c.logdir = PathBuf::from(s);
        }
        if let Some(s) = string(&map, "zmqblock")? {
            if !s.is_empty() {
                c.zmqblock = Some(s);
            }
        }
        if let Some(d) = number(&map, "donation")? {
            if d < 0.0 {
                return Err(invalid("donation", "is a percentage from 0 to 99.9"));
            }
            c.donation = if d < 0.1 { 0.0 } else { d.min(99.9) };
        }
        if let Some(s) = string(&map, "donaddress")? {
            c.donaddress = Some(address("donaddress", &s)?);
        }
        if c.donation > 0.0 && c.donaddress.is_none() {
            return Err(invalid(
                "donaddress",
                format!(
                    "`donation` is {}% but no `donaddress` says where it goes",
                    c.donation
                ),
            ));
        }
        if let Some(v) = map.get("payouts") {
            c.payouts = parse_payouts(v)?;
        }
        if let Some(s) = string(&map, "network")? {
            c.network = Some(parse_network(&s)?);
        }
        if let Some(s) = integer_in(&map, "handshake_timeout", 1, 86_400)? {
            c.handshake_timeout = Duration::from_secs(s as u64);
        }
        if !solo && c.btcaddress.is_none() && c.payouts.is_empty() {
            return Err(invalid(
                "btcaddress",
                "is required outside solo mode (-B): the address the pool's coinbase pays",
            ));
        }
        if let Some(network) = c.network {
            c.check_network(network)?;
        }
        Ok(c)
    }

    /// Checks every configured address belongs to `network`.
    pub fn check_network(&self, network: Network) -> Result<(), ConfigError> {
        let check = |key: &'static str, a: &Address<NetworkUnchecked>| {
            if a.is_valid_for_network(network) {
                Ok(())
            } else {
                Err(invalid(
                    key,
                    format!(
                        "{} is not an address on {network}",
                        a.clone().assume_checked()
                    ),
                ))
            }
        };
        if let Some(a) = &self.btcaddress {
            check("btcaddress", a)?;
        }
        if let Some(a) = &self.donaddress {
            check("donaddress", a)?;
        }
        for p in &self.payouts {
            check("payouts", &p.address)?;
        }
        Ok(())
    }
}

fn parse_payouts(v: &Value) -> Result<Vec<PayoutEntry>, ConfigError> {
    let Value::Array(items) = v else {
        return Err(invalid(
            "payouts",
            "must be an array of {\"address\", \"weight\"}",
        ));
    };
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let addr = item
            .get("address")
            .and_then(Value::as_str)
            .ok_or_else(|| invalid("payouts", format!("entry {i} needs an \"address\"")))?;
        let weight = match item.get("weight") {
            None => 1,
            Some(w) => w.as_u64().filter(|w| *w > 0).ok_or_else(|| {
                invalid(
                    "payouts",
                    format!("entry {i}: \"weight\" must be a whole number above 0"),
                )
            })?,
        };
        out.push(PayoutEntry {
            address: address("payouts", addr)?,
            weight,
        });
    }
    if out.is_empty() || out.len() > 1000 {
        return Err(invalid("payouts", "needs 1 to 1000 entries"));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ADDR: &str = "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080";

    #[test]
    fn ckpool_defaults() {
        let c = Config::parse("{}", true).unwrap();
        assert_eq!(c.nonce1length, 4);
        assert_eq!(c.nonce2length, 8);
        assert_eq!(c.version_mask, 0x1fffe000);
        assert_eq!(c.mindiff, 1.0);
        assert_eq!(c.startdiff, 42.0);
        assert_eq!(c.blockpoll, Duration::from_millis(100));
        assert_eq!(c.update_interval, Duration::from_secs(30));
        assert_eq!(c.maxdiff, None);
    }

    #[test]
    fn errors_name_the_key() {
        let e = Config::parse(r#"{"nonce2length": 12}"#, true).unwrap_err();
        assert!(e.to_string().contains("`nonce2length`"), "{e}");
        assert!(e.to_string().contains("2 to 8"), "{e}");
        let e = Config::parse(r#"{"mindiff": "low"}"#, true).unwrap_err();
        assert!(e.to_string().contains("`mindiff`"), "{e}");
        let e = Config::parse(r#"{"btcaddress": "nonsense"}"#, true).unwrap_err();
        assert!(e.to_string().contains("`btcaddress`"), "{e}");
        let e = Config::parse("{}", false).unwrap_err();
        assert!(e.to_string().contains("`btcaddress`"), "{e}");
        let e = Config::parse(r#"{"donation": 2}"#, true).unwrap_err();
        assert!(e.to_string().contains("`donaddress`"), "{e}");
        let e = Config::parse(
            &format!(r#"{{"network":"main","btcaddress":"{ADDR}"}}"#),
            false,
        )
        .unwrap_err();
        assert!(e.to_string().contains("`btcaddress`"), "{e}");
    }

    #[test]
    fn fractional_difficulties_and_unknown_keys() {
        let c = Config::parse(
            &format!(r#"{{"mindiff": 0.0001, "startdiff": 0.001, "maxdiff": 0, "btcaddress": "{ADDR}", "frobnicate": 1}}
            trailing prose"#),
            false,
        )
        .unwrap();
        assert_eq!(c.mindiff, 0.0001);
        assert_eq!(c.startdiff, 0.001);
        assert_eq!(c.maxdiff, None);
        assert!(c.warnings.iter().any(|w| w.contains("frobnicate")));
    }

    #[test]
    fn donation_limits_like_ckpool() {
        let c = Config::parse(
            &format!(r#"{{"donation": 0.05, "donaddress": "{ADDR}"}}"#),
            true,
        )
        .unwrap();
        assert_eq!(c.donation, 0.0);
        let c = Config::parse(
            &format!(r#"{{"donation": 150, "donaddress": "{ADDR}"}}"#),
            true,
        )
        .unwrap();
        assert_eq!(c.donation, 99.9);
    }

    #[test]
    fn btcd_entries() {
        let c = Config::parse(
            r#"{"btcd": [{"url": "127.0.0.1:8332", "auth": "u", "pass": "p", "notify": true},
                        {"url": "10.0.0.2:8332", "cookie": "/var/lib/bitcoind/.cookie"}]}"#,
            true,
        )
        .unwrap();
        assert_eq!(c.btcd.len(), 2);
        assert_eq!(
            c.btcd[1].auth,
            NodeAuth::Cookie("/var/lib/bitcoind/.cookie".into())
        );
        assert!(Config::parse(r#"{"btcd": [{"url": "x"}]}"#, true).is_err());
    }
}

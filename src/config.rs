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
pub const OWN_KEYS: &[&str] = &[
    "donaddress",
    "payouts",
    "network",
    "handshake_timeout",
    "zmqpub",
    "zmqpub_mindiff",
    "sockdir",
    "stats_interval",
];

/// ckpool keys that only matter to ckpool modes stratumd does not serve, with what they
/// are for. They are checked for ckpool's shape and ignored with a warning.
pub const OTHER_MODE_KEYS: &[(&str, &str)] = &[
    ("upstream", "the upstream pool of a trusted remote (-t)"),
    ("nodeserver", "listeners for ckpool nodes (-N)"),
    ("trusted", "listeners for trusted remotes (-t)"),
    ("proxy", "the upstream pools of proxy modes (-p, -P, -u)"),
    ("redirecturl", "the redirector's targets (-R)"),
    ("redirectport", "the redirector (-R)"),
    ("useragent", "proxy modes (-p, -P, -u)"),
];

/// ckpool's default `highdiff`: where miners on a high-difficulty port start.
pub const DEFAULT_HIGHDIFF: f64 = 1_000_000.0;

/// A `serverurl` port above this is a high-difficulty port (ckpool's rule): miners
/// connecting there start at `highdiff`.
pub const HIGHDIFF_PORT_ABOVE: u16 = 4000;

/// ckpool's default instance name (`-n`).
pub const DEFAULT_NAME: &str = "ckpool";

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

/// One stratum listener from `serverurl`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Listener {
    /// The address to bind, as configured.
    pub addr: SocketAddr,
    /// The configured port is above 4000: miners start at `highdiff` (ckpool's rule).
    pub high_diff: bool,
}

impl Listener {
    /// A listener for `addr`, high-difficulty when its configured port is above 4000.
    pub fn new(addr: SocketAddr) -> Listener {
        Listener {
            addr,
            high_diff: addr.port() > HIGHDIFF_PORT_ABOVE,
        }
    }
}

/// The group that owns the unix sockets (ckpool's `-g`), resolved at start-up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SocketGroup {
    /// The group name given.
    pub name: String,
    /// Its numeric id.
    pub gid: u32,
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
    /// Where miners on a high-difficulty port (above 4000) start; ckpool's default 1,000,000.
    pub highdiff: f64,
    /// Most connected clients at once, `None` for no limit (ckpool: 0 or absent).
    pub maxclients: Option<usize>,
    /// Our ZMQ PUB endpoint for events (e.g. `tcp://*:8881`); off when `None`.
    pub zmqpub: Option<String>,
    /// Lowest share difficulty published as a Share message on `zmqpub` (0 = all).
    pub zmqpub_mindiff: f64,
    /// Instance name (ckpool's `-n`, default `ckpool`): names the default socket
    /// directory `/tmp/<name>` and the daemon's log file `<logdir>/<name>.log`.
    pub name: String,
    /// Socket directory set by `-s` or our `sockdir` key; see [`Config::socket_dir`].
    pub sockdir: Option<PathBuf>,
    /// Group owning the unix sockets (ckpool's `-g`); the process's group when `None`.
    pub group: Option<SocketGroup>,
    /// Log every share (ckpool's `-L`).
    pub log_shares: bool,
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
    /// How often the stats files are written (our `stats_interval`, seconds; ckpool: 60).
    pub stats_interval: Duration,
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
            highdiff: DEFAULT_HIGHDIFF,
            maxclients: None,
            zmqpub: None,
            zmqpub_mindiff: 0.0,
            name: DEFAULT_NAME.to_string(),
            sockdir: None,
            group: None,
            log_shares: false,
            startdiff: 42.0,
            maxdiff: None,
            logdir: PathBuf::from("logs"),
            zmqblock: None,
            donation: 0.0,
            donaddress: None,
            payouts: Vec::new(),
            network: None,
            handshake_timeout: Duration::from_secs(60),
            stats_interval: Duration::from_secs(60),
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
            Some(Value::String(u)) if node_url_is_valid(u) => u.clone(),
            Some(Value::String(u)) if u.starts_with("https://") => {
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

fn is_string_array(v: &Value) -> bool {
    matches!(v, Value::Array(a) if a.iter().all(Value::is_string))
}

/// ckpool's shape for a key of a mode stratumd does not serve, or `None` when anything goes.
fn other_mode_shape_ok(key: &str, v: &Value) -> Option<(bool, &'static str)> {
    match key {
        "upstream" => Some((v.is_string(), "a \"host:port\" string")),
        "nodeserver" | "trusted" | "redirecturl" => {
            Some((is_string_array(v), "an array of \"host:port\" strings"))
        }
        "proxy" => Some((
            matches!(v, Value::Array(a) if a.iter().all(|p| {
                p.get("url").is_some_and(Value::is_string)
                    && p.get("auth").is_some_and(Value::is_string)
            })),
            "an array of {\"url\", \"auth\", \"pass\"} objects",
        )),
        _ => None,
    }
}

fn other_mode_warnings(map: &Map<String, Value>, warnings: &mut Vec<String>) {
    for (key, what) in OTHER_MODE_KEYS {
        let Some(v) = map.get(*key) else { continue };
        if v.is_null() {
            continue;
        }
        let mut w = format!(
            "config key `{key}` is for {what}, a ckpool mode stratumd does not serve; ignored"
        );
        if let Some((false, shape)) = other_mode_shape_ok(key, v) {
            w.push_str(&format!(" (and ckpool expects {shape})"));
        }
        warnings.push(w);
    }
}

fn parse_zmq_endpoint(key: &'static str, s: &str) -> Result<String, ConfigError> {
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
        if let Some(d) = positive_diff(&map, "highdiff")? {
            c.highdiff = d;
        }
        if let Some(n) = integer_in(&map, "maxclients", 0, i64::from(i32::MAX))? {
            c.maxclients = (n > 0).then_some(n as usize);
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
        if let Some(max) = c.maxdiff {
            if c.highdiff > max {
                c.warnings.push(format!(
                    "`highdiff` {} is above `maxdiff` {max}: high-difficulty ports start at {max}",
                    c.highdiff
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
        if let Some(s) = integer_in(&map, "stats_interval", 1, 86_400)? {
            c.stats_interval = Duration::from_secs(s as u64);
        }
        if let Some(s) = string(&map, "zmqpub")? {
            if !s.is_empty() {
                c.zmqpub = Some(parse_zmq_endpoint("zmqpub", &s)?);
            }
        }
        match number(&map, "zmqpub_mindiff")? {
            Some(d) if d < 0.0 => {
                return Err(invalid(
                    "zmqpub_mindiff",
                    format!("must be 0 (publish every share) or above, got {d}"),
                ))
            }
            Some(d) => c.zmqpub_mindiff = d,
            None => {}
        }
        if let Some(s) = string(&map, "sockdir")? {
            if s.is_empty() {
                return Err(invalid(
                    "sockdir",
                    "must be a directory path; leave it out for /tmp/<name>",
                ));
            }
            c.sockdir = Some(PathBuf::from(s));
        }
        other_mode_warnings(&map, &mut c.warnings);
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

    /// The stratum listeners, in `serverurl` order, each marked high-difficulty when its
    /// configured port is above 4000.
    pub fn listeners(&self) -> Vec<Listener> {
        self.serverurl.iter().copied().map(Listener::new).collect()
    }

    /// The difficulty a new miner on `listener` starts at: `startdiff`, or `highdiff` on a
    /// high-difficulty port when that is higher (ckpool's rule), capped at `maxdiff`.
    pub fn start_diff_for(&self, listener: &Listener) -> f64 {
        let d = if listener.high_diff {
            self.startdiff.max(self.highdiff)
        } else {
            self.startdiff
        };
        self.maxdiff.map_or(d, |max| d.min(max))
    }

    /// The socket directory (pid file, unix sockets): `-s`, else our `sockdir` key, else
    /// ckpool's `/tmp/<name>`.
    pub fn socket_dir(&self) -> PathBuf {
        self.sockdir
            .clone()
            .unwrap_or_else(|| PathBuf::from("/tmp").join(&self.name))
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
    fn stats_interval_is_whole_seconds() {
        let c = Config::parse("{}", true).unwrap();
        assert_eq!(c.stats_interval, Duration::from_secs(60));
        let c = Config::parse(r#"{"stats_interval": 2}"#, true).unwrap();
        assert_eq!(c.stats_interval, Duration::from_secs(2));
        assert!(c.warnings.is_empty(), "{:?}", c.warnings);
        for bad in [
            r#"{"stats_interval": 0}"#,
            r#"{"stats_interval": 1.5}"#,
            r#"{"stats_interval": "60"}"#,
        ] {
            let e = Config::parse(bad, true).unwrap_err();
            assert!(e.to_string().contains("`stats_interval`"), "{e}");
        }
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
        let url = |u: &str| {
            Config::parse(
                &format!(r#"{{"btcd": [{{"url": "{u}", "auth": "u", "pass": "p"}}]}}"#),
                true,
            )
        };
        assert!(url("http://127.0.0.1:8332").is_ok());
        assert!(url("node.lan:18443/").is_ok());
        assert!(url("HTTP://[::1]:8332").is_ok());
        for bad in [
            "localhost",
            "127.0.0.1:",
            ":8332",
            "127.0.0.1:99999",
            "127.0.0.1:0",
            "::1",
        ] {
            let e = url(bad).unwrap_err().to_string();
            assert!(
                e.contains("btcd") && e.contains("host and port"),
                "{bad}: {e}"
            );
        }
        let e = url("https://127.0.0.1:8332").unwrap_err().to_string();
        assert!(e.contains("plain HTTP"), "{e}");
    }

    fn err(text: &str) -> String {
        Config::parse(text, true).unwrap_err().to_string()
    }

    #[test]
    fn highdiff_default_range_and_listeners() {
        let c = Config::parse("{}", true).unwrap();
        assert_eq!(c.highdiff, 1_000_000.0);
        let c = Config::parse(
            r#"{"highdiff": 0.5, "serverurl": ["127.0.0.1:3333", "127.0.0.1:4000", "127.0.0.1:4001"]}"#,
            true,
        )
        .unwrap();
        assert_eq!(c.highdiff, 0.5);
        let l = c.listeners();
        assert_eq!(
            l.iter().map(|l| l.high_diff).collect::<Vec<_>>(),
            [false, false, true]
        );
        assert_eq!(l[2].addr.port(), 4001);
        // startdiff 42 is above highdiff 0.5: the higher one wins.
        assert_eq!(c.start_diff_for(&l[2]), 42.0);
        let c = Config::parse(r#"{"serverurl": "127.0.0.1:5000", "maxdiff": 5000}"#, true).unwrap();
        let l = c.listeners();
        assert_eq!(c.start_diff_for(&l[0]), 5000.0);
        assert!(
            c.warnings.iter().any(|w| w.contains("`highdiff`")),
            "{:?}",
            c.warnings
        );
        let c = Config::parse(r#"{"serverurl": "127.0.0.1:5000"}"#, true).unwrap();
        assert_eq!(c.start_diff_for(&c.listeners()[0]), 1_000_000.0);
        for bad in [
            r#"{"highdiff": 0}"#,
            r#"{"highdiff": -3}"#,
            r#"{"highdiff": "x"}"#,
        ] {
            let e = err(bad);
            assert!(e.contains("`highdiff`"), "{e}");
        }
    }

    #[test]
    fn maxclients_default_and_range() {
        assert_eq!(Config::parse("{}", true).unwrap().maxclients, None);
        assert_eq!(
            Config::parse(r#"{"maxclients": 0}"#, true)
                .unwrap()
                .maxclients,
            None
        );
        assert_eq!(
            Config::parse(r#"{"maxclients": 250}"#, true)
                .unwrap()
                .maxclients,
            Some(250)
        );
        for bad in [
            r#"{"maxclients": -1}"#,
            r#"{"maxclients": 2.5}"#,
            r#"{"maxclients": "10"}"#,
            r#"{"maxclients": 99999999999}"#,
        ] {
            let e = err(bad);
            assert!(
                e.contains("`maxclients`") && e.contains("whole number"),
                "{e}"
            );
        }
    }

    #[test]
    fn zmqpub_keys() {
        let c = Config::parse("{}", true).unwrap();
        assert_eq!(c.zmqpub, None);
        assert_eq!(c.zmqpub_mindiff, 0.0);
        let c = Config::parse(
            r#"{"zmqpub": "tcp://*:8881", "zmqpub_mindiff": 0.25}"#,
            true,
        )
        .unwrap();
        assert_eq!(c.zmqpub.as_deref(), Some("tcp://*:8881"));
        assert_eq!(c.zmqpub_mindiff, 0.25);
        assert!(c.warnings.is_empty(), "{:?}", c.warnings);
        assert_eq!(
            Config::parse(r#"{"zmqpub": ""}"#, true).unwrap().zmqpub,
            None
        );
        assert!(err(r#"{"zmqpub": "localhost:8881"}"#).contains("`zmqpub`"));
        assert!(err(r#"{"zmqpub": "tcp://"}"#).contains("`zmqpub`"));
        assert!(err(r#"{"zmqpub": 8881}"#).contains("`zmqpub`"));
        let e = err(r#"{"zmqpub_mindiff": -1}"#);
        assert!(e.contains("`zmqpub_mindiff`") && e.contains("0"), "{e}");
        assert!(err(r#"{"zmqpub_mindiff": "big"}"#).contains("`zmqpub_mindiff`"));
    }

    #[test]
    fn sockdir_and_name() {
        let mut c = Config::parse("{}", true).unwrap();
        assert_eq!(c.name, "ckpool");
        assert_eq!(c.socket_dir(), PathBuf::from("/tmp/ckpool"));
        c.name = "pool2".into();
        assert_eq!(c.socket_dir(), PathBuf::from("/tmp/pool2"));
        let c = Config::parse(r#"{"sockdir": "/run/stratumd"}"#, true).unwrap();
        assert_eq!(c.socket_dir(), PathBuf::from("/run/stratumd"));
        assert!(c.warnings.is_empty(), "{:?}", c.warnings);
        assert!(err(r#"{"sockdir": ""}"#).contains("`sockdir`"));
        assert!(err(r#"{"sockdir": 1}"#).contains("`sockdir`"));
    }

    #[test]
    fn other_mode_keys_are_accepted_with_a_warning() {
        let c = Config::parse(
            r#"{"upstream": "pool.example:3333",
                "nodeserver": ["0.0.0.0:3335"],
                "trusted": ["0.0.0.0:3336"],
                "proxy": [{"url": "pool.example:3333", "auth": "user", "pass": "x"}],
                "redirecturl": ["other.example:3333"],
                "redirectport": 3334,
                "useragent": ["cgminer"]}"#,
            true,
        )
        .unwrap();
        for (key, _) in OTHER_MODE_KEYS {
            let w = c
                .warnings
                .iter()
                .find(|w| w.contains(&format!("`{key}`")))
                .unwrap_or_else(|| panic!("no warning for {key}: {:?}", c.warnings));
            assert!(w.contains("does not serve"), "{w}");
            assert!(!w.contains("expects"), "{w}");
        }
        // A shape ckpool would not read is still only a warning, saying what ckpool expects.
        let c = Config::parse(r#"{"nodeserver": "0.0.0.0:3335", "proxy": {}}"#, true).unwrap();
        assert!(c
            .warnings
            .iter()
            .any(|w| w.contains("`nodeserver`") && w.contains("array of")));
        assert!(c
            .warnings
            .iter()
            .any(|w| w.contains("`proxy`") && w.contains("\"url\"")));
    }

    #[test]
    fn btcsig_truncated_to_38_bytes() {
        let c = Config::parse(&format!(r#"{{"btcsig": "{}"}}"#, "x".repeat(50)), true).unwrap();
        assert_eq!(c.btcsig.len(), 38);
        assert!(c.warnings.iter().any(|w| w.contains("`btcsig`")));
    }
}

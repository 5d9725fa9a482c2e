//! ckpool.conf, in two steps: the file is read with serde into a [`RawConfig`] (`raw.rs`),
//! then converted once, with the command line's [`Overrides`], into a validated and
//! immutable [`Config`]. An invalid value stops start-up with a message naming the key and
//! what is allowed; an unknown key is a warning. ckpool's defaults and ranges apply; our
//! own keys sit beside ckpool's. The config's addresses are checked for the chain as soon
//! as it is known: here when it is pinned (`network`, or simnet's regtest), else by the
//! app once bitcoind tells it.

pub mod api;
pub mod keys;
pub mod nodes;
pub mod overrides;
pub mod p2pool;
pub mod payouts;
pub mod raw;

use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::time::Duration;

use bitcoin::Network;

pub use api::{ApiSettings, ApiToken};
pub use keys::{OTHER_MODE_KEYS, OWN_KEYS};
pub use nodes::NodeSource;
pub use overrides::{Overrides, SimnetNode, SocketGroup};
pub use p2pool::{NetSettings, P2poolSettings};
pub use payouts::PayoutAddresses;
pub use raw::RawConfig;

use crate::work::coinbase::MAX_BTCSIG_LEN;
use crate::work::{Mode, PayoutPlan};

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

pub(crate) fn invalid(key: &'static str, problem: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key,
        problem: problem.into(),
    }
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

/// The validated configuration. Made only by [`Config::new`] (or `load`/`parse`, which
/// call it), and never changed afterwards.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Solo (ckpool `-B`) or pool: decides each session's payee and every job's plan.
    pub mode: Mode,
    /// The configured bitcoinds, or the in-process simnet.
    pub nodes: NodeSource,
    /// The chain, when known before bitcoind is asked: pinned by `network`, or simnet's
    /// regtest. The config's addresses have been checked for it.
    pub network: Option<Network>,
    /// Who is paid, unchecked until the chain is known: see [`Config::payout_plan`].
    payouts: PayoutAddresses,
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
    /// Ours: most connections at once from one IP address, `None` for no limit (0 or
    /// absent). Off by default: a farm behind one NAT address is one IP.
    pub maxclients_per_ip: Option<usize>,
    /// Ours: rejected submits in a row, stale ones aside, after which the connection is
    /// closed and its address banned for `flood_ban_for`; `None` = off (0 or absent).
    pub flood_ban_rejects: Option<u32>,
    /// Ours: how long a flood ban lasts (`flood_ban_secs`, 600 by default).
    pub flood_ban_for: Duration,
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
    /// Seconds a connection has to subscribe and authorize.
    pub handshake_timeout: Duration,
    /// How often the stats files are written (our `stats_interval`, seconds; ckpool: 60).
    pub stats_interval: Duration,
    /// Non-fatal remarks (unknown keys, adjusted values) to log at start.
    pub warnings: Vec<String>,
    /// p2pool mode's chain spec and store (`--p2pool` or a `p2pool` section).
    pub p2pool: Option<P2poolSettings>,
    /// The operator's HTTP server (`api`, `api_token`, `--api`); off when `None`.
    pub api: Option<ApiSettings>,
}

/// A whole number of `key` in `lo..=hi`.
fn whole(key: &'static str, v: Option<i64>, lo: i64, hi: i64) -> Result<Option<i64>, ConfigError> {
    match v {
        Some(n) if !(lo..=hi).contains(&n) => Err(invalid(
            key,
            format!("must be a whole number from {lo} to {hi}, got {n}"),
        )),
        other => Ok(other),
    }
}

/// A difficulty of `key` above 0 (fractions allowed).
fn positive_diff(key: &'static str, v: Option<f64>) -> Result<Option<f64>, ConfigError> {
    match v {
        Some(d) if d <= 0.0 => Err(invalid(
            key,
            format!("must be above 0 (fractions like 0.0001 are allowed), got {d}"),
        )),
        other => Ok(other),
    }
}

fn seconds(v: Option<i64>, default: Duration) -> Duration {
    v.map_or(default, |s| Duration::from_secs(s as u64))
}

fn serverurl(list: Vec<String>) -> Result<Vec<SocketAddr>, ConfigError> {
    let mut out = Vec::new();
    for s in list {
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

/// `btcsig`, cut to [`MAX_BTCSIG_LEN`] bytes on a character boundary.
fn btcsig(s: String, warnings: &mut Vec<String>) -> String {
    if s.len() <= MAX_BTCSIG_LEN {
        return s;
    }
    warnings.push(format!("`btcsig` truncated to {MAX_BTCSIG_LEN} bytes"));
    let mut cut = MAX_BTCSIG_LEN;
    while !s.is_char_boundary(cut) {
        cut -= 1;
    }
    s[..cut].to_string()
}

impl RawConfig {
    /// Reads ckpool.conf text as ckpool does (one JSON object, anything after it ignored)
    /// into the raw form. A value of the wrong JSON type is an error naming its key.
    pub fn parse(text: &str) -> Result<RawConfig, ConfigError> {
        let map = ckpool_compat::read_conf(text).map_err(|e| ConfigError::File {
            path: String::new(),
            reason: e.to_string(),
        })?;
        serde_path_to_error::deserialize(serde_json::Value::Object(map)).map_err(|e| {
            let path = e.path().to_string();
            let top = path.split(['.', '[']).next().unwrap_or("");
            let key = keys::known(top).unwrap_or("config");
            let detail = if path.contains(['.', '[']) {
                format!(" (at {path})")
            } else {
                String::new()
            };
            invalid(
                key,
                format!("{}, got {}{detail}", raw::expected(key), e.into_inner()),
            )
        })
    }
}

impl Config {
    /// Reads and validates a ckpool.conf file.
    pub fn load(path: &std::path::Path, overrides: &Overrides) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError::File {
            path: path.display().to_string(),
            reason: e.to_string(),
        })?;
        Self::parse(&text, overrides).map_err(|e| match e {
            ConfigError::File { reason, .. } => ConfigError::File {
                path: path.display().to_string(),
                reason,
            },
            other => other,
        })
    }

    /// Validates ckpool.conf text with `overrides`.
    pub fn parse(text: &str, overrides: &Overrides) -> Result<Config, ConfigError> {
        Self::new(RawConfig::parse(text)?, overrides)
    }

    /// The one conversion of a raw config and the command line's overrides into a
    /// validated config.
    pub fn new(raw: RawConfig, overrides: &Overrides) -> Result<Config, ConfigError> {
        let mut warnings = keys::warnings_for_others(&raw.other);
        let p2pool_on = overrides.p2pool
            || raw.p2pool.is_some()
            || overrides.p2pool_listen.is_some()
            || !overrides.p2pool_peers.is_empty();
        let mode = if p2pool_on {
            Mode::P2pool
        } else if overrides.solo {
            Mode::Solo
        } else {
            Mode::Pool
        };
        let btcd = raw.btcd.map(nodes::btcd).transpose()?;
        let zmqblock = raw.zmqblock.filter(|s| !s.is_empty());
        let pinned = raw.network.as_deref().map(nodes::network).transpose()?;
        let (nodes, network) = match overrides.simnet {
            Some(sim) => (NodeSource::Simnet(sim), Some(Network::Regtest)),
            None => (
                NodeSource::Bitcoind {
                    btcd: btcd.unwrap_or_else(nodes::default_btcd),
                    zmqblock,
                },
                pinned,
            ),
        };
        let version_mask = match raw.version_mask {
            None => 0x1fff_e000,
            Some(s) => u32::from_str_radix(s.trim_start_matches("0x"), 16).map_err(|_| {
                invalid(
                    "version_mask",
                    format!("must be hex like \"1fffe000\", got `{s}`"),
                )
            })?,
        };
        let serverurl = match (&overrides.serverurl, raw.serverurl) {
            (Some(addrs), _) => addrs.clone(),
            (None, Some(list)) => serverurl(list.into_vec())?,
            (None, None) => vec![SocketAddr::from(([0, 0, 0, 0], 3333))],
        };
        let mindiff = positive_diff("mindiff", raw.mindiff)?.unwrap_or(1.0);
        let mut startdiff = positive_diff("startdiff", raw.startdiff)?.unwrap_or(42.0);
        let highdiff = positive_diff("highdiff", raw.highdiff)?.unwrap_or(DEFAULT_HIGHDIFF);
        let maxclients = whole("maxclients", raw.maxclients, 0, i64::from(i32::MAX))?
            .filter(|n| *n > 0)
            .map(|n| n as usize);
        let maxclients_per_ip = whole(
            "maxclients_per_ip",
            raw.maxclients_per_ip,
            0,
            i64::from(i32::MAX),
        )?
        .filter(|n| *n > 0)
        .map(|n| n as usize);
        let flood_ban_rejects = whole(
            "flood_ban_rejects",
            raw.flood_ban_rejects,
            0,
            i64::from(i32::MAX),
        )?
        .filter(|n| *n > 0)
        .map(|n| n as u32);
        let flood_ban_for = seconds(
            whole("flood_ban_secs", raw.flood_ban_secs, 1, 86_400)?,
            Duration::from_secs(600),
        );
        let maxdiff = match raw.maxdiff {
            Some(d) if d < 0.0 => {
                return Err(invalid("maxdiff", "must be 0 (no maximum) or above"))
            }
            Some(d) if d > 0.0 => Some(d),
            _ => None,
        };
        if let Some(max) = maxdiff {
            if max < mindiff {
                return Err(invalid(
                    "maxdiff",
                    format!("{max} is below mindiff {mindiff}"),
                ));
            }
            if highdiff > max {
                warnings.push(format!(
                    "`highdiff` {highdiff} is above `maxdiff` {max}: high-difficulty ports start at {max}"
                ));
            }
        }
        if startdiff < mindiff {
            warnings.push(format!(
                "`startdiff` {startdiff} raised to `mindiff` {mindiff}"
            ));
            startdiff = mindiff;
        }
        let donation = match raw.donation {
            Some(d) if d < 0.0 => {
                return Err(invalid("donation", "is a percentage from 0 to 99.9"))
            }
            Some(d) if d < 0.1 => 0.0,
            Some(d) => d.min(99.9),
            None => 0.0,
        };
        if p2pool_on && donation > 0.0 {
            warnings.push(format!(
                "`donation` {donation}% does not apply in p2pool mode: a fee is the chain spec's (`fee_bps`), and the window is paid whole"
            ));
        }
        if p2pool_on && overrides.solo {
            warnings.push(
                "-B is implied in p2pool mode: miners authorize with their own address, and coinbases pay the share chain's window"
                    .to_string(),
            );
        }
        if p2pool_on && (raw.btcaddress.is_some() || raw.payouts.is_some()) {
            warnings.push(
                "`btcaddress` and `payouts` do not apply in p2pool mode (checked for the chain, not paid): coinbases pay the share chain's window"
                    .to_string(),
            );
        }
        let payouts = PayoutAddresses::new(
            mode,
            raw.btcaddress.as_deref(),
            raw.payouts,
            donation,
            raw.donaddress.as_deref(),
            &mut warnings,
        )?;
        let zmqpub = match raw.zmqpub.filter(|s| !s.is_empty()) {
            Some(s) => Some(nodes::zmq_endpoint("zmqpub", &s)?),
            None => None,
        };
        let zmqpub_mindiff = match raw.zmqpub_mindiff {
            Some(d) if d < 0.0 => {
                return Err(invalid(
                    "zmqpub_mindiff",
                    format!("must be 0 (publish every share) or above, got {d}"),
                ))
            }
            Some(d) => d,
            None => 0.0,
        };
        let (api, api_warning) =
            api::settings(raw.api.as_deref(), raw.api_token.as_deref(), overrides.api)?;
        warnings.extend(api_warning);
        let sockdir = match (&overrides.sockdir, raw.sockdir) {
            (Some(dir), _) => Some(dir.clone()),
            (None, Some(s)) if s.is_empty() => {
                return Err(invalid(
                    "sockdir",
                    "must be a directory path; leave it out for /tmp/<name>",
                ))
            }
            (None, s) => s.map(PathBuf::from),
        };
        let mut config = Config {
            mode,
            nodes,
            network,
            payouts,
            btcsig: btcsig(raw.btcsig.unwrap_or_default(), &mut warnings),
            blockpoll: whole("blockpoll", raw.blockpoll, 1, 60_000)?
                .map_or(Duration::from_millis(100), |ms| {
                    Duration::from_millis(ms as u64)
                }),
            nonce1length: whole("nonce1length", raw.nonce1length, 2, 8)?.map_or(4, |n| n as usize),
            nonce2length: whole("nonce2length", raw.nonce2length, 2, 8)?.map_or(8, |n| n as usize),
            update_interval: seconds(
                whole("update_interval", raw.update_interval, 1, 3600)?,
                Duration::from_secs(30),
            ),
            version_mask,
            serverurl,
            mindiff,
            highdiff,
            maxclients,
            maxclients_per_ip,
            flood_ban_rejects,
            flood_ban_for,
            zmqpub,
            zmqpub_mindiff,
            api,
            name: overrides
                .name
                .clone()
                .unwrap_or_else(|| DEFAULT_NAME.to_string()),
            sockdir,
            group: overrides.group.clone(),
            log_shares: overrides.log_shares,
            startdiff,
            maxdiff,
            logdir: raw
                .logdir
                .map_or_else(|| PathBuf::from("logs"), PathBuf::from),
            handshake_timeout: seconds(
                whole("handshake_timeout", raw.handshake_timeout, 1, 86_400)?,
                Duration::from_secs(60),
            ),
            stats_interval: seconds(
                whole("stats_interval", raw.stats_interval, 1, 86_400)?,
                Duration::from_secs(60),
            ),
            warnings,
            p2pool: None,
        };
        if p2pool_on {
            let mut section = raw.p2pool.unwrap_or_default();
            if let Some(listen) = &overrides.p2pool_listen {
                section.listen = Some(listen.clone());
            }
            if !overrides.p2pool_peers.is_empty() {
                section
                    .peers
                    .get_or_insert_with(Vec::new)
                    .extend(overrides.p2pool_peers.iter().cloned());
            }
            let settings = p2pool::settings(
                section,
                config.network,
                overrides.simnet.is_some(),
                &config.logdir,
            )?;
            // The spec's network pins the chain.
            config.network = Some(settings.spec.network);
            config.p2pool = Some(settings);
        }
        // The chain is known now: the addresses are checked now.
        if let Some(n) = config.network {
            match config.mode {
                Mode::P2pool => config.payouts.check(n)?,
                _ => {
                    config.payout_plan(n)?;
                }
            }
        }
        Ok(config)
    }

    /// The payout plan on `network`, every configured address checked for it (an error
    /// names the key).
    pub fn payout_plan(&self, network: Network) -> Result<PayoutPlan, ConfigError> {
        self.payouts.plan(network)
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::node::rpc::NodeAuth;

    fn parse(text: &str, solo: bool) -> Result<Config, ConfigError> {
        let overrides = if solo {
            Overrides::solo()
        } else {
            Overrides::pool()
        };
        Config::parse(text, &overrides)
    }

    const ADDR: &str = "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080";

    #[test]
    fn ckpool_defaults() {
        let c = parse("{}", true).unwrap();
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
        let c = parse("{}", true).unwrap();
        assert_eq!(c.stats_interval, Duration::from_secs(60));
        let c = parse(r#"{"stats_interval": 2}"#, true).unwrap();
        assert_eq!(c.stats_interval, Duration::from_secs(2));
        assert!(c.warnings.is_empty(), "{:?}", c.warnings);
        for bad in [
            r#"{"stats_interval": 0}"#,
            r#"{"stats_interval": 1.5}"#,
            r#"{"stats_interval": "60"}"#,
        ] {
            let e = parse(bad, true).unwrap_err();
            assert!(e.to_string().contains("`stats_interval`"), "{e}");
        }
    }

    #[test]
    fn errors_name_the_key() {
        let e = parse(r#"{"nonce2length": 12}"#, true).unwrap_err();
        assert!(e.to_string().contains("`nonce2length`"), "{e}");
        assert!(e.to_string().contains("2 to 8"), "{e}");
        let e = parse(r#"{"mindiff": "low"}"#, true).unwrap_err();
        assert!(e.to_string().contains("`mindiff`"), "{e}");
        let e = parse(r#"{"btcaddress": "nonsense"}"#, true).unwrap_err();
        assert!(e.to_string().contains("`btcaddress`"), "{e}");
        let e = parse("{}", false).unwrap_err();
        assert!(e.to_string().contains("`btcaddress`"), "{e}");
        let e = parse(r#"{"donation": 2}"#, true).unwrap_err();
        assert!(e.to_string().contains("`donaddress`"), "{e}");
        let e = parse(
            &format!(r#"{{"network":"main","btcaddress":"{ADDR}"}}"#),
            false,
        )
        .unwrap_err();
        assert!(e.to_string().contains("`btcaddress`"), "{e}");
    }

    #[test]
    fn fractional_difficulties_and_unknown_keys() {
        let c = parse(
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
        let c = parse(
            &format!(r#"{{"donation": 0.05, "donaddress": "{ADDR}"}}"#),
            true,
        )
        .unwrap();
        assert_eq!(c.payout_plan(Network::Regtest).unwrap().donation(), None);
        let c = parse(
            &format!(r#"{{"donation": 150, "donaddress": "{ADDR}"}}"#),
            true,
        )
        .unwrap();
        assert_eq!(
            c.payout_plan(Network::Regtest)
                .unwrap()
                .donation()
                .map(|d| d.percent),
            Some(99.9)
        );
    }

    #[test]
    fn btcd_entries() {
        let c = parse(
            r#"{"btcd": [{"url": "127.0.0.1:8332", "auth": "u", "pass": "p", "notify": true},
                        {"url": "10.0.0.2:8332", "cookie": "/var/lib/bitcoind/.cookie"}]}"#,
            true,
        )
        .unwrap();
        let NodeSource::Bitcoind { btcd, .. } = &c.nodes else {
            panic!("bitcoinds configured");
        };
        assert_eq!(btcd.len(), 2);
        assert_eq!(
            btcd[1].auth,
            NodeAuth::Cookie("/var/lib/bitcoind/.cookie".into())
        );
        assert!(parse(r#"{"btcd": [{"url": "x"}]}"#, true).is_err());
        let url = |u: &str| {
            parse(
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
        parse(text, true).unwrap_err().to_string()
    }

    #[test]
    fn highdiff_default_range_and_listeners() {
        let c = parse("{}", true).unwrap();
        assert_eq!(c.highdiff, 1_000_000.0);
        let c = parse(
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
        let c = parse(r#"{"serverurl": "127.0.0.1:5000", "maxdiff": 5000}"#, true).unwrap();
        let l = c.listeners();
        assert_eq!(c.start_diff_for(&l[0]), 5000.0);
        assert!(
            c.warnings.iter().any(|w| w.contains("`highdiff`")),
            "{:?}",
            c.warnings
        );
        let c = parse(r#"{"serverurl": "127.0.0.1:5000"}"#, true).unwrap();
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
        assert_eq!(parse("{}", true).unwrap().maxclients, None);
        assert_eq!(
            parse(r#"{"maxclients": 0}"#, true).unwrap().maxclients,
            None
        );
        assert_eq!(
            parse(r#"{"maxclients": 250}"#, true).unwrap().maxclients,
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
    fn maxclients_per_ip_default_and_range() {
        assert_eq!(parse("{}", true).unwrap().maxclients_per_ip, None);
        assert_eq!(
            parse(r#"{"maxclients_per_ip": 0}"#, true)
                .unwrap()
                .maxclients_per_ip,
            None
        );
        assert_eq!(
            parse(r#"{"maxclients_per_ip": 8}"#, true)
                .unwrap()
                .maxclients_per_ip,
            Some(8)
        );
        for bad in [
            r#"{"maxclients_per_ip": -1}"#,
            r#"{"maxclients_per_ip": "8"}"#,
        ] {
            let e = err(bad);
            assert!(
                e.contains("`maxclients_per_ip`") && e.contains("whole number"),
                "{e}"
            );
        }
    }

    #[test]
    fn zmqpub_keys() {
        let c = parse("{}", true).unwrap();
        assert_eq!(c.zmqpub, None);
        assert_eq!(c.zmqpub_mindiff, 0.0);
        let c = parse(
            r#"{"zmqpub": "tcp://*:8881", "zmqpub_mindiff": 0.25}"#,
            true,
        )
        .unwrap();
        assert_eq!(c.zmqpub.as_deref(), Some("tcp://*:8881"));
        assert_eq!(c.zmqpub_mindiff, 0.25);
        assert!(c.warnings.is_empty(), "{:?}", c.warnings);
        assert_eq!(parse(r#"{"zmqpub": ""}"#, true).unwrap().zmqpub, None);
        assert!(err(r#"{"zmqpub": "localhost:8881"}"#).contains("`zmqpub`"));
        assert!(err(r#"{"zmqpub": "tcp://"}"#).contains("`zmqpub`"));
        assert!(err(r#"{"zmqpub": 8881}"#).contains("`zmqpub`"));
        let e = err(r#"{"zmqpub_mindiff": -1}"#);
        assert!(e.contains("`zmqpub_mindiff`") && e.contains("0"), "{e}");
        assert!(err(r#"{"zmqpub_mindiff": "big"}"#).contains("`zmqpub_mindiff`"));
    }

    #[test]
    fn sockdir_and_name() {
        let c = parse("{}", true).unwrap();
        assert_eq!(c.name, "ckpool");
        assert_eq!(c.socket_dir(), PathBuf::from("/tmp/ckpool"));
        let named = Overrides {
            name: Some("pool2".into()),
            ..Overrides::solo()
        };
        let c = Config::parse("{}", &named).unwrap();
        assert_eq!(c.socket_dir(), PathBuf::from("/tmp/pool2"));
        let c = parse(r#"{"sockdir": "/run/stratumd"}"#, true).unwrap();
        assert_eq!(c.socket_dir(), PathBuf::from("/run/stratumd"));
        assert!(c.warnings.is_empty(), "{:?}", c.warnings);
        assert!(err(r#"{"sockdir": ""}"#).contains("`sockdir`"));
        assert!(err(r#"{"sockdir": 1}"#).contains("`sockdir`"));
    }

    #[test]
    fn other_mode_keys_are_accepted_with_a_warning() {
        let c = parse(
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
        let c = parse(r#"{"nodeserver": "0.0.0.0:3335", "proxy": {}}"#, true).unwrap();
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
        let c = parse(&format!(r#"{{"btcsig": "{}"}}"#, "x".repeat(50)), true).unwrap();
        assert_eq!(c.btcsig.len(), 38);
        assert!(c.warnings.iter().any(|w| w.contains("`btcsig`")));
    }

    #[test]
    fn wrong_json_types_name_the_key_and_what_it_takes() {
        for (text, key, allowed) in [
            (r#"{"mindiff": "low"}"#, "`mindiff`", "above 0"),
            (r#"{"nonce1length": 2.5}"#, "`nonce1length`", "from 2 to 8"),
            (r#"{"serverurl": 3333}"#, "`serverurl`", "host:port"),
            (r#"{"btcd": "localhost:8332"}"#, "`btcd`", "url"),
            (
                r#"{"payouts": [{"address": "x", "weight": -1}]}"#,
                "`payouts`",
                "entry 0",
            ),
            (r#"{"payouts": [{"addr": "x"}]}"#, "`payouts`", "address"),
            // Positional arrays are not entries.
            (
                r#"{"payouts": [["x", 2]]}"#,
                "`payouts`",
                "entry 0 must be an object",
            ),
            (
                r#"{"btcd": [{"url": "h:1", "auth": 5, "pass": "p"}]}"#,
                "`btcd`",
                "entry 0",
            ),
            (r#"{"zmqpub_mindiff": true}"#, "`zmqpub_mindiff`", "0"),
        ] {
            let e = err(text);
            assert!(e.contains(key) && e.contains(allowed), "{text}: {e}");
        }
        // null is "not set", as in ckpool.
        assert_eq!(parse(r#"{"mindiff": null}"#, true).unwrap().mindiff, 1.0);
        // Keys beside an entry's own (a label) are ignored, as before, with a warning; an
        // amount is refused, never read as a weight.
        let c = parse(
            &format!(r#"{{"payouts": [{{"address": "{ADDR}", "weight": 2, "label": "ops"}}]}}"#),
            false,
        )
        .unwrap();
        assert!(
            c.warnings.iter().any(|w| w.contains("`label`")),
            "{:?}",
            c.warnings
        );
        let e = err(&format!(
            r#"{{"payouts": [{{"address": "{ADDR}", "amount": 90000000}}]}}"#
        ));
        assert!(e.contains("`payouts`") && e.contains("weights"), "{e}");
    }

    #[test]
    fn unpaid_addresses_are_checked_for_the_chain_too() {
        for text in [
            // Solo mode pays miners; its btcaddress and payouts are still addresses.
            format!(r#"{{"network": "main", "btcaddress": "{ADDR}"}}"#),
            format!(r#"{{"network": "main", "payouts": [{{"address": "{ADDR}"}}]}}"#),
            // A donation address without a donation.
            format!(r#"{{"network": "main", "donaddress": "{ADDR}"}}"#),
        ] {
            assert!(parse(&text, true).is_err(), "{text}");
        }
    }

    #[test]
    fn overrides_are_applied_once_when_validating() {
        let overrides = Overrides {
            solo: true,
            name: Some("p2".into()),
            sockdir: Some("/run/p2".into()),
            log_shares: true,
            group: None,
            simnet: Some(SimnetNode {
                difficulty: 0.5,
                transactions: 3,
            }),
            serverurl: Some(vec![SocketAddr::from(([127, 0, 0, 1], 0))]),
            p2pool: false,
            p2pool_listen: None,
            p2pool_peers: Vec::new(),
            api: Some(SocketAddr::from(([127, 0, 0, 1], 8080))),
        };
        let c = Config::parse(
            r#"{"sockdir": "/run/ignored", "serverurl": "0.0.0.0:3333", "network": "main"}"#,
            &overrides,
        )
        .unwrap();
        assert_eq!(c.mode, Mode::Solo);
        assert_eq!(c.socket_dir(), PathBuf::from("/run/p2"));
        assert_eq!(c.serverurl, [SocketAddr::from(([127, 0, 0, 1], 0))]);
        assert!(c.log_shares);
        assert_eq!(c.name, "p2");
        assert_eq!(
            c.api.map(|a| a.addr),
            Some(SocketAddr::from(([127, 0, 0, 1], 8080)))
        );
        // simnet is a regtest chain whatever the file pins.
        assert_eq!(c.network, Some(Network::Regtest));
        assert!(matches!(c.nodes, NodeSource::Simnet(_)));
    }

    #[test]
    fn addresses_are_checked_as_soon_as_the_chain_is_known() {
        // No chain known: any address is taken until bitcoind tells the chain.
        let c = parse(&format!(r#"{{"btcaddress": "{ADDR}"}}"#), false).unwrap();
        assert_eq!(c.network, None);
        assert!(c.payout_plan(Network::Regtest).is_ok());
        let e = c.payout_plan(Network::Bitcoin).unwrap_err().to_string();
        assert!(e.contains("`btcaddress`"), "{e}");
        // Pinned: checked now, each error naming its key.
        let e = err(&format!(
            r#"{{"network": "main", "donation": 1, "donaddress": "{ADDR}"}}"#
        ));
        assert!(e.contains("`donaddress`"), "{e}");
        let e = parse(
            &format!(r#"{{"network": "main", "payouts": [{{"address": "{ADDR}", "weight": 2}}]}}"#),
            false,
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("`payouts`"), "{e}");
        // Under simnet (regtest), a regtest address is right.
        let sim = Overrides {
            simnet: Some(SimnetNode {
                difficulty: 1.0,
                transactions: 0,
            }),
            ..Overrides::pool()
        };
        let c = Config::parse(&format!(r#"{{"btcaddress": "{ADDR}"}}"#), &sim).unwrap();
        match c.payout_plan(Network::Regtest).unwrap() {
            PayoutPlan::Pool { payees, .. } => assert_eq!(payees.entries().len(), 1),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_payout_limit_is_the_one_the_control_socket_has() {
        let entry = format!(r#"{{"address": "{ADDR}"}}"#);
        let list = |n: usize| format!(r#"{{"payouts": [{}]}}"#, vec![entry.as_str(); n].join(","));
        assert!(parse(&list(crate::work::payout::MAX_PAYOUTS), false).is_ok());
        let e = parse(&list(crate::work::payout::MAX_PAYOUTS + 1), false)
            .unwrap_err()
            .to_string();
        assert!(e.contains("`payouts`") && e.contains("1 to 1000"), "{e}");
    }
}

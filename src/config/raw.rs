//! ckpool.conf as written: every key of ckpool's and ours, deserialized with serde into
//! loose types (whole numbers as `i64`, so a range error can say what is allowed). Nothing
//! here is checked beyond JSON types; [`Config::new`](super::Config::new) validates.

use std::collections::BTreeMap;

use serde::de::{DeserializeOwned, Error as _};
use serde::{Deserialize, Deserializer};
use serde_json::Value;

/// One value or an array of them (ckpool's `btcd` and `serverurl` take both).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(untagged)]
pub enum OneOrMany<T> {
    /// A single value.
    One(T),
    /// An array.
    Many(Vec<T>),
}

impl<T> OneOrMany<T> {
    /// The values, in order.
    pub fn into_vec(self) -> Vec<T> {
        match self {
            OneOrMany::One(t) => vec![t],
            OneOrMany::Many(v) => v,
        }
    }
}

/// A list of JSON objects, each read as a `T` (one object alone is a list of one, as
/// ckpool reads `btcd`). An error names the entry; an entry that is not an object is one
/// (serde would otherwise read an array into a struct's fields by position).
#[derive(Debug, Clone, PartialEq)]
pub struct Entries<T>(pub Vec<T>);

impl<'de, T: DeserializeOwned> Deserialize<'de> for Entries<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let items = match Value::deserialize(d)? {
            Value::Array(items) => items,
            one @ Value::Object(_) => vec![one],
            other => {
                return Err(D::Error::custom(format!(
                    "expected an array of objects, got {other}"
                )))
            }
        };
        items
            .into_iter()
            .enumerate()
            .map(|(i, item)| {
                if !item.is_object() {
                    return Err(D::Error::custom(format!(
                        "entry {i} must be an object, got {item}"
                    )));
                }
                serde_json::from_value(item)
                    .map_err(|e| D::Error::custom(format!("entry {i}: {e}")))
            })
            .collect::<Result<Vec<T>, D::Error>>()
            .map(Entries)
    }
}

/// One `btcd` entry: ckpool's `url`, `auth`, `pass` (and `notify`, ignored), or our
/// `cookie`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
pub struct RawNode {
    /// `host:port`, optionally after `http://`.
    pub url: Option<String>,
    /// bitcoind's `rpcuser`.
    pub auth: Option<String>,
    /// bitcoind's `rpcpassword`.
    pub pass: Option<String>,
    /// Path to bitcoind's `.cookie` file (ours).
    pub cookie: Option<String>,
}

/// One `payouts` entry (ours). `amount` is refused (payouts are weights); any other key
/// (a label) is ignored with a warning.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct RawPayout {
    /// The address paid.
    pub address: String,
    /// Its weight; 1 when left out.
    pub weight: Option<u64>,
    /// Named only to be refused: an amount read as a weight would pay the wrong share.
    pub amount: Option<Value>,
    /// Other keys.
    #[serde(flatten)]
    pub other: BTreeMap<String, Value>,
}

/// The `p2pool` section: `{"chain": preset name or spec file, "store": folder, "listen":
/// address, "peers": [addresses], "max_peers": n, "ban_secs": n}`, all optional.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct RawP2pool {
    /// A preset name (`stratumd sharechain spec --list`) or a spec file's path.
    pub chain: Option<String>,
    /// The share chain store's folder.
    pub store: Option<String>,
    /// Where the share chain's network listens (`host:port` or a multiaddr).
    pub listen: Option<String>,
    /// Peers to connect to at start and keep connected to.
    pub peers: Option<Vec<String>>,
    /// Most peers connected at once.
    pub max_peers: Option<u32>,
    /// How long a peer that sent an invalid share stays banned, seconds.
    pub ban_secs: Option<u64>,
}

/// ckpool.conf as written. A key that is absent or `null` is `None`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct RawConfig {
    /// ckpool `btcd`.
    pub btcd: Option<Entries<RawNode>>,
    /// ckpool `btcaddress`.
    pub btcaddress: Option<String>,
    /// ckpool `btcsig`.
    pub btcsig: Option<String>,
    /// ckpool `blockpoll`, milliseconds.
    pub blockpoll: Option<i64>,
    /// ckpool `donation`, percent.
    pub donation: Option<f64>,
    /// ckpool `nonce1length`.
    pub nonce1length: Option<i64>,
    /// ckpool `nonce2length`.
    pub nonce2length: Option<i64>,
    /// ckpool `update_interval`, seconds.
    pub update_interval: Option<i64>,
    /// ckpool `version_mask`, hex.
    pub version_mask: Option<String>,
    /// ckpool `serverurl`.
    pub serverurl: Option<OneOrMany<String>>,
    /// ckpool `mindiff`.
    pub mindiff: Option<f64>,
    /// ckpool `startdiff`.
    pub startdiff: Option<f64>,
    /// ckpool `highdiff`.
    pub highdiff: Option<f64>,
    /// ckpool `maxdiff` (0: none).
    pub maxdiff: Option<f64>,
    /// ckpool `logdir`.
    pub logdir: Option<String>,
    /// ckpool `maxclients` (0: no limit).
    pub maxclients: Option<i64>,
    /// Ours: most connections from one IP address (0: no limit).
    pub maxclients_per_ip: Option<i64>,
    /// Ours: rejected submits in a row (stale ones aside) that ban the address (0: off).
    pub flood_ban_rejects: Option<i64>,
    /// Ours: seconds such a ban lasts.
    pub flood_ban_secs: Option<i64>,
    /// ckpool `zmqblock`.
    pub zmqblock: Option<String>,
    /// Ours: where `donation` goes.
    pub donaddress: Option<String>,
    /// Ours: pool mode's weighted payout list.
    pub payouts: Option<Entries<RawPayout>>,
    /// Ours: the chain, pinned.
    pub network: Option<String>,
    /// Ours: seconds to subscribe and authorize.
    pub handshake_timeout: Option<i64>,
    /// Ours: the ZMQ PUB endpoint for events.
    pub zmqpub: Option<String>,
    /// Ours: the lowest share difficulty published.
    pub zmqpub_mindiff: Option<f64>,
    /// Ours: the socket directory.
    pub sockdir: Option<String>,
    /// Ours: seconds between stats writes.
    pub stats_interval: Option<i64>,
    /// Ours: p2pool mode and its share chain.
    pub p2pool: Option<RawP2pool>,
    /// Ours: where the HTTP server (metrics, JSON API) listens.
    pub api: Option<String>,
    /// Ours: the bearer token its state-changing routes need.
    pub api_token: Option<String>,
    /// Every other key: those of ckpool modes stratumd does not serve, and unknown ones.
    #[serde(flatten)]
    pub other: BTreeMap<String, Value>,
}

/// What each key takes, for the message of a value of the wrong JSON type.
pub(super) fn expected(key: &str) -> &'static str {
    match key {
        "btcd" => {
            "must be an array of {\"url\", \"auth\", \"pass\"} (or {\"url\", \"cookie\"}) objects"
        }
        "btcaddress" | "donaddress" => "must be a bitcoin address",
        "btcsig" | "logdir" | "zmqblock" | "zmqpub" | "sockdir" | "version_mask" | "network"
        | "api" | "api_token" => {
            "must be a string"
        }
        "blockpoll" => "must be a whole number from 1 to 60000",
        "nonce1length" | "nonce2length" => "must be a whole number from 2 to 8",
        "update_interval" => "must be a whole number from 1 to 3600",
        "handshake_timeout" | "stats_interval" => "must be a whole number from 1 to 86400",
        "maxclients" | "maxclients_per_ip" | "flood_ban_rejects" => {
            "must be a whole number from 0 to 2147483647"
        }
        "flood_ban_secs" => "must be a whole number from 1 to 86400",
        "serverurl" => "must be \"host:port\" or an array of them",
        "mindiff" | "startdiff" | "highdiff" => {
            "must be a number above 0 (fractions like 0.0001 are allowed)"
        }
        "maxdiff" => "must be 0 (no maximum) or a number above 0",
        "donation" => "is a percentage from 0 to 99.9",
        "zmqpub_mindiff" => "must be 0 (publish every share) or a number above 0",
        "p2pool" => "must be an object {\"chain\": preset or spec file, \"store\": folder, \"listen\": address, \"peers\": [addresses], \"max_peers\": n, \"ban_secs\": n}",
        "payouts" => "must be an array of {\"address\", \"weight\"}, weights whole numbers above 0",
        _ => "has the wrong type",
    }
}

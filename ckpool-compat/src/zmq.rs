//! The JSON messages ckpool-solo (the fork P2Poolv2 uses) publishes on its ZMQ PUB socket.
//!
//! Each message is one frame holding one JSON object with exactly one key, `Workbase`,
//! `UserWorkbase` or `Share`, so a subscriber (P2Poolv2) can tell them apart without a
//! topic frame. Field order follows the captured samples (serde serializes in declaration
//! order); numbers are printed as jansson prints them by [`to_json_line`].

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::jansson::{self, DumpFormat};

/// One ZMQ message: an externally tagged object `{"Workbase": …}`, `{"UserWorkbase": …}`
/// or `{"Share": …}`, the only three shapes ckpool-solo publishes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ZmqMessage {
    /// A new block template turned into stratum work (sent once per workbase).
    Workbase(Workbase),
    /// The notify one user receives for a workbase (solo mode pays each user directly).
    UserWorkbase(UserWorkbase),
    /// A share a miner submitted, accepted or not.
    Share(Share),
}

/// A workbase: bitcoind's template plus what ckpool derived from it, so a subscriber can
/// rebuild the block a share belongs to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Workbase {
    /// bitcoind's `getblocktemplate` result with ckpool's additions.
    pub gbt: Gbt,
    /// `(unix_time << 32) | counter`; see [`workinfoid`].
    pub workinfoid: u64,
    /// The template's transactions as ckpool keeps them.
    pub txns: Vec<Txn>,
    /// The merkle branch for the coinbase, as sent in `mining.notify`.
    pub merkles: Vec<Merkle>,
    /// Coinbase part before the extranonces (hex).
    pub coinb1: String,
    /// Coinbase part after the extranonces, up to the payout outputs (hex).
    pub coinb2: String,
    /// Coinbase tail after the payout outputs (hex); solo mode inserts each user's output.
    pub coinb3: String,
    /// The 80-byte header template with zero merkle root and nonce (hex).
    pub header: String,
}

/// bitcoind's template kept verbatim plus the four fields ckpool appends, so unknown
/// template keys (and their order) survive a round trip.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Gbt {
    /// Every key bitcoind returned, in its original order.
    #[serde(flatten)]
    pub template: Map<String, Value>,
    /// Network difficulty as a float.
    pub diff: f64,
    /// `curtime` as 8 hex digits (notify's ntime).
    pub ntime: String,
    /// Block version as 8 hex digits (notify's version).
    pub bbversion: String,
    /// `bits` as 8 hex digits (notify's nbits).
    pub nbit: String,
}

/// One template transaction, as ckpool lists it in a workbase.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Txn {
    /// Transaction id (hex, display order).
    pub txid: String,
    /// Raw transaction (hex).
    pub data: String,
}

/// One merkle branch step, wrapped in an object as ckpool emits it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Merkle {
    /// Branch hash (hex, as sent in `mining.notify`).
    pub merkle: String,
}

/// The exact `mining.notify` a user was sent for a workbase, so a subscriber can verify
/// that user's shares against their own coinbase.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UserWorkbase {
    /// The 9 notify params verbatim: job id, prevhash, coinb1, coinb2, merkle branch,
    /// version, nbits, ntime, clean.
    pub params: Vec<Value>,
    /// Always `null` (notifications carry no id).
    pub id: Value,
    /// Always `"mining.notify"`.
    pub method: String,
    /// The workbase this notify belongs to.
    pub workinfoid: u64,
}

/// A submitted share with ckpool's share-log fields, published so a subscriber can
/// account for it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Share {
    /// Workbase the share was mined on.
    pub workinfoid: u64,
    /// ckpool's connection id.
    pub clientid: u64,
    /// Extranonce1 assigned to the connection (hex).
    pub enonce1: String,
    /// Extranonce2 submitted (hex).
    pub nonce2: String,
    /// Nonce submitted (hex).
    pub nonce: String,
    /// ntime submitted (hex).
    pub ntime: String,
    /// Difficulty the client was set to.
    pub diff: f64,
    /// Difficulty the share actually reached.
    pub sdiff: f64,
    /// Block hash of the share (hex, display order).
    pub hash: String,
    /// Whether the share was accepted.
    pub result: bool,
    /// ckpool's share error number (0 = none).
    pub errn: i64,
    /// `"secs,nsecs"` of the submit; see [`createdate`].
    pub createdate: String,
    /// Always `"code"` in ckpool.
    pub createby: String,
    /// The C function that logged it (`"parse_submit"`).
    pub createcode: String,
    /// The listening address the client connected to (`serverurl`).
    pub createinet: String,
    /// Full worker name as authorised.
    pub workername: String,
    /// User part of the worker name (the payout address in solo mode).
    pub username: String,
    /// Client's IP address.
    pub address: String,
    /// Client's user agent from `mining.subscribe`.
    pub agent: String,
}

/// ckpool's workbase id: `(unix_secs << 32) | counter`; the notify job id is this value
/// as 16 hex digits.
pub fn workinfoid(unix_secs: u32, counter: u32) -> u64 {
    (u64::from(unix_secs) << 32) | u64::from(counter)
}

/// ckpool's `createdate` field: `"%lu,%lu"` of the realtime clock's seconds and
/// nanoseconds (nanoseconds are not zero-padded: `createdate(1, 5) == "1,5"`).
pub fn createdate(secs: u64, nanos: u32) -> String {
    format!("{secs},{nanos}")
}

/// The message as one compact JSON text (no trailing newline: a ZMQ frame needs none),
/// with reals printed as jansson does (`%.17g`, e.g. `31.465847594928551`).
pub fn to_json_line(msg: &ZmqMessage) -> String {
    let value = serde_json::to_value(msg).expect("ZmqMessage always serializes");
    jansson::dumps(&value, &DumpFormat::COMPACT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_dates() {
        assert_eq!(workinfoid(0x67b6f8fc, 3), 0x67b6f8fc00000003);
        assert_eq!(createdate(1740044611, 331134621), "1740044611,331134621");
        assert_eq!(createdate(1, 5), "1,5");
    }
}

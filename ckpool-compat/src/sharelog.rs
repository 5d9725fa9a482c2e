//! ckpool's `-L` share log: one JSON object per submitted share, appended to
//! `<workbase logdir>.sharelog` (file name: the workinfoid as 16 hex digits), written with
//! `json_dumps(val, JSON_EOL)`, i.e. one line, `, ` and `: ` separators, `%.17g` reals.
//!
//! Field list and order come from ckpool's `parse_submit`: the same fields as the ZMQ
//! [`Share`], plus `secondaryuserid` (only when not standalone), and `reject-reason` /
//! `error` (only when set, i.e. on rejected shares). `address` and `agent` are what newer
//! ckpool (and the ckpool-solo ZMQ samples) add at the end; older logs lack them, so they
//! are optional here. The directory ckpool puts the files in is not reproduced.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::jansson::{self, DumpFormat};
use crate::zmq::Share;

/// One share-log line, so stratumd can write logs that share-log tools already parse.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SharelogEntry {
    /// Workbase the share was mined on.
    pub workinfoid: u64,
    /// ckpool's connection id.
    pub clientid: u64,
    /// Extranonce1 of the connection (hex).
    pub enonce1: String,
    /// ckdb's secondary user id; ckpool writes it only when not standalone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secondaryuserid: Option<String>,
    /// Extranonce2 submitted (hex).
    pub nonce2: String,
    /// Nonce submitted (hex).
    pub nonce: String,
    /// ntime submitted (hex).
    pub ntime: String,
    /// Difficulty the client was set to.
    pub diff: f64,
    /// Difficulty the share reached.
    pub sdiff: f64,
    /// Share hash (hex, display order).
    pub hash: String,
    /// Whether the share was accepted.
    pub result: bool,
    /// ckpool's reject reason text, present only on rejected shares.
    #[serde(
        rename = "reject-reason",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub reject_reason: Option<String>,
    /// The stratum error value sent back, present only when there was one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<Value>,
    /// ckpool's share error number (0 = none).
    pub errn: i64,
    /// `"secs,nsecs"` of the submit (see [`crate::zmq::createdate`]).
    pub createdate: String,
    /// Always `"code"`.
    pub createby: String,
    /// Always `"parse_submit"`.
    pub createcode: String,
    /// Listening address the client used.
    pub createinet: String,
    /// Full worker name.
    pub workername: String,
    /// User part of the worker name.
    pub username: String,
    /// Client IP (newer ckpool only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// Client user agent (newer ckpool only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<String>,
}

impl From<Share> for SharelogEntry {
    fn from(s: Share) -> Self {
        SharelogEntry {
            workinfoid: s.workinfoid,
            clientid: s.clientid,
            enonce1: s.enonce1,
            secondaryuserid: None,
            nonce2: s.nonce2,
            nonce: s.nonce,
            ntime: s.ntime,
            diff: s.diff,
            sdiff: s.sdiff,
            hash: s.hash,
            result: s.result,
            reject_reason: None,
            error: None,
            errn: s.errn,
            createdate: s.createdate,
            createby: s.createby,
            createcode: s.createcode,
            createinet: s.createinet,
            workername: s.workername,
            username: s.username,
            address: Some(s.address),
            agent: Some(s.agent),
        }
    }
}

impl SharelogEntry {
    /// The line as ckpool appends it (`JSON_EOL`: ends with `\n`).
    pub fn to_line(&self) -> String {
        let value = serde_json::to_value(self).expect("SharelogEntry always serializes");
        let mut s = jansson::dumps(&value, &DumpFormat::PLAIN);
        s.push('\n');
        s
    }
}

/// The share log's file name for a workbase: its workinfoid as 16 hex digits plus
/// `.sharelog` (the job id ckpool sends in `mining.notify`).
pub fn sharelog_file_name(workinfoid: u64) -> String {
    format!("{workinfoid:016x}.sharelog")
}

/// Reads a share log file: one entry per non-blank line.
pub fn parse_sharelog(text: &str) -> Result<Vec<SharelogEntry>, serde_json::Error> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(serde_json::from_str)
        .collect()
}

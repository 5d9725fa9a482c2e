//! Stratum JSON-RPC messages: the request as parsed at the edge, and the replies and
//! notifications we write.

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{json, Value};

/// A request from a miner, borrowed from its line so that parsing a submit allocates
/// nothing. `id` is echoed back exactly (integer, string or null).
#[derive(Debug, Deserialize)]
pub struct Request<'a> {
    /// Echoed in the reply.
    #[serde(default)]
    pub id: Value,
    /// The method; empty on replies the miner sends to our `mining.ping`.
    #[serde(default, borrow)]
    pub method: Cow<'a, str>,
    /// Method parameters (usually an array), still as raw JSON.
    #[serde(default, borrow)]
    pub params: Option<&'a RawValue>,
}

/// An error reply's code and message, written as the classic `[code, message, null]`.
#[derive(Debug, Clone, PartialEq)]
pub struct StratumError {
    /// Classic stratum code (20..25) or JSON-RPC code (-32601, -32700).
    pub code: i32,
    /// Human-readable, ckpool's wording where ckpool has one.
    pub message: String,
}

impl StratumError {
    /// An error with this code and message.
    pub fn new(code: i32, message: impl Into<String>) -> Self {
        StratumError {
            code,
            message: message.into(),
        }
    }

    /// Code 20, "other", used for malformed params with ckpool's message.
    pub fn other(message: impl Into<String>) -> Self {
        Self::new(20, message)
    }
}

/// Appends one JSON line to `out`.
pub fn push_line(out: &mut Vec<u8>, v: &Value) {
    // Serializing a Value into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, v);
    out.push(b'\n');
}

/// A successful reply.
pub fn ok(out: &mut Vec<u8>, id: &Value, result: Value) {
    // Written field by field: no intermediate object (this is every accepted share's reply).
    out.extend_from_slice(b"{\"id\":");
    let _ = serde_json::to_writer(&mut *out, id);
    out.extend_from_slice(b",\"result\":");
    let _ = serde_json::to_writer(&mut *out, &result);
    out.extend_from_slice(b",\"error\":null}\n");
}

/// An error reply.
pub fn err(out: &mut Vec<u8>, id: &Value, e: &StratumError) {
    push_line(
        out,
        &json!({"id": id, "result": null, "error": [e.code, e.message, null]}),
    );
}

/// A rejected share: `result: false`, the error array and ckpool's `reject-reason`.
pub fn rejected(out: &mut Vec<u8>, id: &Value, code: i32, reason: &str) {
    // Field by field, as `ok`: under a flood of shares that miss the target this is every
    // reply, and building a JSON object for it showed in the profile.
    out.extend_from_slice(b"{\"id\":");
    let _ = serde_json::to_writer(&mut *out, id);
    out.extend_from_slice(b",\"result\":false,\"error\":[");
    let _ = serde_json::to_writer(&mut *out, &code);
    out.push(b',');
    let _ = serde_json::to_writer(&mut *out, reason);
    out.extend_from_slice(b",null],\"reject-reason\":");
    let _ = serde_json::to_writer(&mut *out, reason);
    out.extend_from_slice(b"}\n");
}

/// A `mining.set_difficulty` notification.
pub fn set_difficulty(out: &mut Vec<u8>, diff: f64) {
    push_line(
        out,
        &json!({"id": null, "method": "mining.set_difficulty", "params": [diff]}),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejected_is_the_object_serde_json_writes() {
        for (id, code, reason) in [
            (json!(7), 23, "Above target"),
            (json!("a\"b"), 21, "Stale"),
            (Value::Null, 22, "Duplicate \"share\""),
        ] {
            let mut fast = Vec::new();
            rejected(&mut fast, &id, code, reason);
            let mut object = Vec::new();
            push_line(
                &mut object,
                &json!({"id": id, "result": false, "error": [code, reason, null], "reject-reason": reason}),
            );
            assert_eq!(String::from_utf8(fast), String::from_utf8(object));
        }
    }
}

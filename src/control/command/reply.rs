//! What the control socket answers. This is the one place outcomes and errors become reply
//! text.

use std::fmt;

use serde_json::{json, Value};

use super::{JsonError, LevelError, ParseError, SetLevelError};

/// One request's answer, written out by its [`Display`](fmt::Display).
#[derive(Debug)]
pub enum Reply {
    /// `pong`: the answer to `ping`.
    Pong,
    /// `success`: the log level was set.
    Success,
    /// `Invalid`: a log level out of range, or `reconnect` with arguments.
    Invalid,
    /// `Failed`: a `loglevel=` that cannot be parsed, or a log level that cannot be set.
    Failed,
    /// `reconnecting`: every miner was asked to reconnect.
    Reconnecting,
    /// `exiting`: the server is stopping.
    Exiting,
    /// `unknown`: no such command.
    Unknown,
    /// `failed`: the request could not be read, as ckpool's listener answers.
    Unreadable,
    /// The server's counters, as a JSON object.
    Stats(Value),
    /// A JSON request's answer: `{"result":…,"error":…}`, plus its `id` when it had one.
    Json {
        /// The request's `id`.
        id: Option<Value>,
        /// The result, or why the request was refused.
        result: Result<Value, JsonError>,
    },
}

impl fmt::Display for Reply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let word = match self {
            Reply::Pong => "pong",
            Reply::Success => "success",
            Reply::Invalid => "Invalid",
            Reply::Failed => "Failed",
            Reply::Reconnecting => "reconnecting",
            Reply::Exiting => "exiting",
            Reply::Unknown => "unknown",
            Reply::Unreadable => "failed",
            Reply::Stats(v) => return write!(f, "{v}"),
            Reply::Json { id, result } => {
                let mut v = match result {
                    Ok(r) => json!({ "result": r, "error": null }),
                    Err(e) => json!({ "result": null, "error": e.to_string() }),
                };
                if let Some(id) = id {
                    v["id"] = id.clone();
                }
                return write!(f, "{v}");
            }
        };
        f.write_str(word)
    }
}

impl From<ParseError> for Reply {
    fn from(e: ParseError) -> Self {
        match e {
            ParseError::NotUtf8 => Reply::Unreadable,
            ParseError::Unknown(_) => Reply::Unknown,
            ParseError::LogLevel(e) => e.into(),
            ParseError::Reconnect(_) => Reply::Invalid,
            ParseError::Json { id, error } => Reply::Json {
                id,
                result: Err(*error),
            },
        }
    }
}

impl From<LevelError> for Reply {
    fn from(e: LevelError) -> Self {
        match e {
            LevelError::Unparseable(_) => Reply::Failed,
            LevelError::OutOfRange(_) => Reply::Invalid,
        }
    }
}

impl From<SetLevelError> for Reply {
    fn from(_: SetLevelError) -> Self {
        Reply::Failed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_replies_carry_the_id_only_when_sent() {
        let ok = Reply::Json {
            id: Some(json!(4)),
            result: Ok(json!({"outputs": 3})),
        };
        assert_eq!(
            serde_json::from_str::<Value>(&ok.to_string()).unwrap(),
            json!({"result": {"outputs": 3}, "error": null, "id": 4})
        );
        let refused = Reply::Json {
            id: None,
            result: Err(JsonError::UnknownMethod("x".into())),
        };
        let v: Value = serde_json::from_str(&refused.to_string()).unwrap();
        assert_eq!(v["result"], Value::Null);
        assert!(v.get("id").is_none(), "{v}");
        assert!(v["error"].as_str().unwrap().contains("unknown method"));
    }
}

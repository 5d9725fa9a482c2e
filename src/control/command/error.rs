//! Why a request could not be parsed into a [`Command`](super::Command). Nothing was
//! changed. [`Reply`](super::Reply) turns each case into ckpool's answer for it.

use serde_json::Value;

use super::{JsonError, LevelError, ReconnectArguments};

/// Why a request was refused before it was applied.
#[derive(Debug, thiserror::Error)]
pub enum ParseError {
    /// The message is not UTF-8 (answered `failed`).
    #[error("the request is not UTF-8")]
    NotUtf8,
    /// No plain-text command matches (answered `unknown`). Holds the start of the message.
    #[error("unhandled message `{0}`")]
    Unknown(String),
    /// `loglevel=` without a level from 0 to 7.
    #[error(transparent)]
    LogLevel(#[from] LevelError),
    /// `reconnect` with arguments.
    #[error(transparent)]
    Reconnect(#[from] ReconnectArguments),
    /// A JSON request that is malformed, names no known method or has invalid params.
    #[error("request refused: {error}")]
    Json {
        /// The request's `id`, when it was read, for the reply.
        id: Option<Value>,
        /// Why it was refused (boxed: it is large, and only refusals carry it).
        #[source]
        error: Box<JsonError>,
    },
}

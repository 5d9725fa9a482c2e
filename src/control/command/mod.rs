//! The control socket's commands, one file per command, as mini-redis keeps them. Each
//! command parses its request into a typed value and applies it to the [`Handler`].
//! Parsing finishes before anything is applied, and [`Control`](super::Control) validates
//! fully before it changes anything. So a request that is malformed or invalid in any part
//! changes nothing.
//!
//! Two kinds of request share the socket. They are told apart by their first non-blank
//! byte:
//!
//! * ckpool's plain-text commands, matched as ckpool's `cmdmatch` does (a case-insensitive
//!   prefix): `ping` → `pong`; `loglevel=<0-7>` → `success`, `Invalid` (out of range) or
//!   `Failed` (unparseable, or the log level cannot be changed in this process);
//!   `reconnect` → `reconnecting` (every miner gets `client.reconnect`); `stats`,
//!   `stratifierstats`, `connectorstats` → a JSON object of counters; `shutdown` (exact) →
//!   `exiting`, then the server stops; anything else → `unknown`. A request that is not
//!   UTF-8 gets `failed`.
//! * Ours, a JSON object (first byte `{`): `{"method":"setpayouts","params":[…]}` and
//!   `{"method":"setdifficulty","params":[d]}`. They are answered with
//!   `{"result":…,"error":null}` or `{"result":null,"error":"why"}`, plus the request's
//!   `id` when it had one.
//!
//! [`Reply`] turns every outcome, and every error, into its reply text.

mod error;
mod json;
mod loglevel;
mod ping;
mod reconnect;
mod reply;
mod setdifficulty;
mod setpayouts;
mod shutdown;
mod stats;

use serde_json::Value;

pub use error::ParseError;
pub use json::JsonError;
pub use loglevel::{LevelError, LogLevel, SetLevelError};
pub use ping::Ping;
pub use reconnect::{Reconnect, ReconnectArguments};
pub use reply::Reply;
pub use setdifficulty::{DifficultyParamsError, SetDifficulty};
pub use setpayouts::{PayoutsParamsError, SetPayouts};
pub use shutdown::Shutdown;
pub use stats::Stats;

use super::Handler;

/// One control request, parsed.
#[derive(Debug)]
pub enum Command {
    /// ckpool's `ping`.
    Ping(Ping),
    /// ckpool's `loglevel=N`.
    LogLevel(LogLevel),
    /// ckpool's `reconnect`.
    Reconnect(Reconnect),
    /// ckpool's `stats`, `stratifierstats` and `connectorstats`.
    Stats(Stats),
    /// ckpool's `shutdown`.
    Shutdown(Shutdown),
    /// Our JSON `setpayouts`.
    SetPayouts {
        /// The request's `id`, echoed in the reply.
        id: Option<Value>,
        /// The payouts asked for.
        request: SetPayouts,
    },
    /// Our JSON `setdifficulty`.
    SetDifficulty {
        /// The request's `id`, echoed in the reply.
        id: Option<Value>,
        /// The difficulty asked for.
        request: SetDifficulty,
    },
}

impl Command {
    /// Parses one request: the framed message's bytes. A trailing newline, carriage return
    /// or NUL is ignored: ckpmsg strips the newline, but other senders may not.
    pub fn parse(msg: &[u8]) -> Result<Command, ParseError> {
        let text = std::str::from_utf8(msg).map_err(|_| ParseError::NotUtf8)?;
        let text = text.trim_end_matches(['\n', '\r', '\0']);
        if text.trim_start().starts_with('{') {
            json::parse(text)
        } else {
            parse_plain(text)
        }
    }

    /// Carries the command out and says what to answer.
    pub fn apply(self, handler: &Handler) -> Reply {
        match self {
            Command::Ping(c) => c.apply(),
            Command::LogLevel(c) => c.apply(handler),
            Command::Reconnect(c) => c.apply(handler),
            Command::Stats(c) => c.apply(handler),
            Command::Shutdown(c) => c.apply(handler),
            Command::SetPayouts { id, request } => request.apply(id, handler),
            Command::SetDifficulty { id, request } => request.apply(id, handler),
        }
    }
}

/// ckpool's plain-text commands, tried in ckpool's order.
fn parse_plain(buf: &str) -> Result<Command, ParseError> {
    let command = if cmdmatch(buf, Ping::NAME) {
        Command::Ping(Ping)
    } else if cmdmatch(buf, LogLevel::NAME) {
        Command::LogLevel(LogLevel::parse(buf)?)
    } else if cmdmatch(buf, Reconnect::NAME) {
        Command::Reconnect(Reconnect::parse(buf)?)
    } else if Stats::NAMES.iter().any(|name| cmdmatch(buf, name)) {
        Command::Stats(Stats)
    } else if buf.eq_ignore_ascii_case(Shutdown::NAME) {
        Command::Shutdown(Shutdown)
    } else {
        return Err(ParseError::Unknown(truncate(buf, 80).to_owned()));
    };
    Ok(command)
}

/// ckpool's `cmdmatch`: `buf` starts with `cmd`, ignoring ASCII case.
fn cmdmatch(buf: &str, cmd: &str) -> bool {
    buf.len() >= cmd.len() && buf.as_bytes()[..cmd.len()].eq_ignore_ascii_case(cmd.as_bytes())
}

/// At most `max` characters of `s`, so a log line or reply stays short.
fn truncate(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::control::test_fixture::fixture;

    #[test]
    fn plain_commands_match_as_cmdmatch_does() {
        assert!(matches!(Command::parse(b"PiNgxyz"), Ok(Command::Ping(_))));
        assert!(matches!(
            Command::parse(b"STATS\r\n"),
            Ok(Command::Stats(_))
        ));
        assert!(matches!(
            Command::parse(b"connectorstats"),
            Ok(Command::Stats(_))
        ));
        assert!(matches!(
            Command::parse(b"Shutdown\0"),
            Ok(Command::Shutdown(_))
        ));
        assert!(matches!(
            Command::parse(b" ping"),
            Err(ParseError::Unknown(_))
        ));
        assert!(matches!(
            Command::parse(b"  {\"method\":\"setdifficulty\",\"params\":[null]}\n"),
            Ok(Command::SetDifficulty { id: None, .. })
        ));
        assert!(matches!(
            Command::parse(&[0xff, 0xfe]),
            Err(ParseError::NotUtf8)
        ));
    }

    #[test]
    fn unknown_and_unreadable_requests() {
        let f = fixture(false);
        assert_eq!(f.handler.handle(b"getxfd0"), "unknown");
        assert_eq!(f.handler.handle(&[0xff, 0xfe]), "failed");
    }

    #[test]
    fn truncates_on_characters() {
        assert_eq!(truncate("héllo", 2), "hé");
        assert_eq!(truncate("hi", 80), "hi");
    }
}

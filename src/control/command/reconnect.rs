//! ckpool's `reconnect`: every miner is sent `client.reconnect`. A `reconnect` with
//! arguments (such as `reconnect:host:port`) is not served.

use super::{truncate, Reply};
use crate::control::Handler;

/// A plain `reconnect`.
#[derive(Debug)]
pub struct Reconnect;

/// `reconnect` with arguments, which we do not serve (answered `Invalid`). Holds the start
/// of the message.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("`{0}` refused: only a plain `reconnect` is served")]
pub struct ReconnectArguments(pub String);

impl Reconnect {
    /// The command's name.
    pub const NAME: &'static str = "reconnect";

    /// Parses a message that starts with [`Self::NAME`], in any case.
    pub(super) fn parse(buf: &str) -> Result<Reconnect, ReconnectArguments> {
        if buf.eq_ignore_ascii_case(Self::NAME) {
            Ok(Reconnect)
        } else {
            Err(ReconnectArguments(truncate(buf, 80).to_owned()))
        }
    }

    pub(super) fn apply(self, handler: &Handler) -> Reply {
        handler.control.reconnect_all();
        Reply::Reconnecting
    }
}

#[cfg(test)]
mod tests {
    use crate::control::test_fixture::fixture;

    #[test]
    fn reconnect_asks_every_miner_and_takes_no_arguments() {
        let f = fixture(false);
        let mut directives = f.ctx.directives();
        assert_eq!(f.handler.handle(b"reconnect"), "reconnecting");
        assert!(directives.has_changed().unwrap());
        assert_eq!(directives.borrow_and_update().reconnect, 1);
        assert_eq!(f.handler.handle(b"reconnect:example.com:3333"), "Invalid");
        assert!(!directives.has_changed().unwrap());
    }
}

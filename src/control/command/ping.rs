//! ckpool's `ping`: answers `pong`, so an operator can check the server is alive.

use super::Reply;

/// `ping` (matched as a prefix, as ckpool does).
#[derive(Debug)]
pub struct Ping;

impl Ping {
    /// The command's name.
    pub const NAME: &'static str = "ping";

    pub(super) fn apply(self) -> Reply {
        tracing::debug!("control: ping");
        Reply::Pong
    }
}

#[cfg(test)]
mod tests {
    use crate::control::test_fixture::fixture;

    #[test]
    fn ping_answers_pong() {
        let f = fixture(false);
        assert_eq!(f.handler.handle(b"ping"), "pong");
        assert_eq!(f.handler.handle(b"PING\n"), "pong");
    }
}

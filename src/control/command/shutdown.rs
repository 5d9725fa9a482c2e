//! ckpool's `shutdown`: answers `exiting`, then the server stops. It is matched as the
//! whole word (in any case), not as a prefix, so stopping the server takes exactly it.

use super::Reply;
use crate::control::Handler;

/// `shutdown`.
#[derive(Debug)]
pub struct Shutdown;

impl Shutdown {
    /// The command's name.
    pub const NAME: &'static str = "shutdown";

    pub(super) fn apply(self, handler: &Handler) -> Reply {
        tracing::warn!("control: shutdown requested");
        handler.shutdown.cancel();
        Reply::Exiting
    }
}

#[cfg(test)]
mod tests {
    use crate::control::test_fixture::fixture;

    #[test]
    fn shutdown_is_matched_exactly_and_stops_the_server() {
        let f = fixture(false);
        assert_eq!(f.handler.handle(b"shutdownx"), "unknown");
        assert!(!f.shutdown.is_cancelled());
        assert_eq!(f.handler.handle(b"shutdown"), "exiting");
        assert!(f.shutdown.is_cancelled());
    }
}

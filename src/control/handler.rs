//! The control socket's entry point: one request's bytes in, the reply text out. It does
//! not depend on the socket, so requests can be tested without one.

use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use super::command::{Command, ParseError, Reply};
use super::Control;
use crate::log_level;

/// Carries out control requests for one server. It is also what each command is applied
/// to: the server's [`Control`], its shutdown and the process's log level.
#[derive(Clone)]
pub struct Handler {
    pub(super) control: Control,
    pub(super) shutdown: CancellationToken,
    pub(super) log_level: Option<Arc<log_level::Setter>>,
}

impl std::fmt::Debug for Handler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Handler")
            .field("log_level", &self.log_level.is_some())
            .finish_non_exhaustive()
    }
}

impl Handler {
    /// A handler acting on `control`. The `shutdown` command cancels `shutdown`.
    /// `log_level` serves `loglevel=`; without one, `loglevel=` answers `Failed`.
    pub fn new(
        control: Control,
        shutdown: CancellationToken,
        log_level: Option<Arc<log_level::Setter>>,
    ) -> Self {
        Handler {
            control,
            shutdown,
            log_level,
        }
    }

    /// Carries out one request (the framed message's bytes) and returns the reply text.
    /// A request refused while it is parsed changes nothing.
    pub fn handle(&self, msg: &[u8]) -> String {
        let reply = match Command::parse(msg) {
            Ok(command) => command.apply(self),
            Err(e) => {
                log_refused(&e);
                Reply::from(e)
            }
        };
        reply.to_string()
    }
}

fn log_refused(e: &ParseError) {
    match e {
        ParseError::Unknown(_) => tracing::info!("control: {e}"),
        _ => tracing::warn!("control: {e}"),
    }
}

//! ckpool's `loglevel=<0-7>`: changes the process's log level while it runs. The levels'
//! filters are [`crate::log_level`]'s table, the one `-l` uses at start.

use super::{truncate, Reply};
use crate::control::Handler;
use crate::log_level;

/// `loglevel=N` with N a ckpool level from 0 to [`log_level::MAX`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogLevel {
    level: u8,
}

/// Why a `loglevel` request was refused while it was parsed.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum LevelError {
    /// No `=N` with an integer N (answered `Failed`). Holds the start of the message.
    #[error("cannot parse loglevel message `{0}`")]
    Unparseable(String),
    /// A level outside 0 to 7 (answered `Invalid`).
    #[error("invalid loglevel {0} sent")]
    OutOfRange(i64),
}

/// Why a valid level could not be set (answered `Failed`).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SetLevelError {
    /// This process has no log level setter (an in-process server).
    #[error("loglevel cannot be changed in this process")]
    NoSetter,
    /// The setter failed.
    #[error("cannot set log level {level}: {reason}")]
    Setter {
        /// The level asked for.
        level: u8,
        /// Why the setter failed.
        reason: String,
    },
}

impl LogLevel {
    /// The command's name.
    pub const NAME: &'static str = "loglevel";

    /// Parses `loglevel=N`; `buf` starts with [`Self::NAME`], in any case.
    pub(super) fn parse(buf: &str) -> Result<LogLevel, LevelError> {
        let level = buf
            .get(Self::NAME.len()..)
            .and_then(|rest| rest.strip_prefix('='))
            .and_then(|v| v.trim().parse::<i64>().ok())
            .ok_or_else(|| LevelError::Unparseable(truncate(buf, 80).to_owned()))?;
        let level = u8::try_from(level)
            .ok()
            .filter(|l| *l <= log_level::MAX)
            .ok_or(LevelError::OutOfRange(level))?;
        Ok(LogLevel { level })
    }

    pub(super) fn apply(self, handler: &Handler) -> Reply {
        match self.set(handler) {
            Ok(()) => {
                tracing::warn!("control: log level set to {}", self.level);
                Reply::Success
            }
            Err(e) => {
                tracing::warn!("control: {e}");
                e.into()
            }
        }
    }

    fn set(self, handler: &Handler) -> Result<(), SetLevelError> {
        let setter = handler.log_level.as_ref().ok_or(SetLevelError::NoSetter)?;
        setter(self.level).map_err(|reason| SetLevelError::Setter {
            level: self.level,
            reason,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::Ordering;

    use tokio_util::sync::CancellationToken;

    use super::*;
    use crate::control::test_fixture::fixture;

    #[test]
    fn loglevel_sets_levels_0_to_7_only() {
        let f = fixture(false);
        assert_eq!(f.handler.handle(b"loglevel=7"), "success");
        assert_eq!(f.level.load(Ordering::SeqCst), 7);
        assert_eq!(f.handler.handle(b"loglevel=8"), "Invalid");
        assert_eq!(f.handler.handle(b"loglevel=-1"), "Invalid");
        assert_eq!(f.handler.handle(b"loglevel=x"), "Failed");
        assert_eq!(f.handler.handle(b"loglevel"), "Failed");
        assert_eq!(
            f.level.load(Ordering::SeqCst),
            7,
            "refused levels change nothing"
        );
    }

    #[test]
    fn loglevel_parses_to_typed_errors() {
        assert_eq!(LogLevel::parse("LogLevel= 3"), Ok(LogLevel { level: 3 }));
        assert_eq!(
            LogLevel::parse("loglevel=8"),
            Err(LevelError::OutOfRange(8))
        );
        assert_eq!(
            LogLevel::parse("loglevel:3"),
            Err(LevelError::Unparseable("loglevel:3".into()))
        );
    }

    #[test]
    fn loglevel_without_a_setter_fails() {
        let f = fixture(false);
        let h = Handler::new(f.handler.control.clone(), CancellationToken::new(), None);
        assert_eq!(h.handle(b"loglevel=5"), "Failed");
    }
}

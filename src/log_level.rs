//! ckpool's log levels (syslog's: 0 emergency … 7 debug) as `tracing` filters. This is the
//! one table that the binary's `-l`/`-q` and the control socket's `loglevel=` both use. It
//! also holds the hook a running process changes its level through.
//!
//! It is a leaf module: it uses nothing else in stratumd. The binary can set up logging
//! without reaching into the control socket, and the control socket is one of its users,
//! not its owner.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

/// Error lines logged so far, counted by the binary's subscriber: the quiet demo, whose log
/// is in a file, shows the count on its status line.
static ERRORS_LOGGED: AtomicU64 = AtomicU64::new(0);

/// One more error line was logged.
pub fn count_error() {
    ERRORS_LOGGED.fetch_add(1, Ordering::Relaxed);
}

/// Error lines logged so far (0 in a process whose subscriber does not count them).
pub fn errors_logged() -> u64 {
    ERRORS_LOGGED.load(Ordering::Relaxed)
}

/// The highest level, syslog's LOG_DEBUG. `-l` and `loglevel=` take 0 to this.
pub const MAX: u8 = 7;

/// The level `-q` logs at: ckpool's LOG_WARNING, so warnings and errors only.
pub const QUIET: u8 = 4;

/// The `tracing` filter for a ckpool level. `bitcoincore_rpc` stays at warnings whatever
/// the level.
pub fn filter(level: u8) -> String {
    let filter = match level {
        0..=3 => "error",
        4 => "warn",
        5 | 6 => "info",
        _ => "debug",
    };
    format!("{filter},bitcoincore_rpc=warn")
}

/// Changes the process's log level to a ckpool level. The binary builds it around its
/// `tracing_subscriber` reload handle. The error says why the filter could not be reloaded.
pub type Setter = Box<dyn Fn(u8) -> Result<(), String> + Send + Sync>;

static SETTER: OnceLock<Arc<Setter>> = OnceLock::new();

/// Registers the process-wide level setter. There is one because the log subscriber is
/// process-wide too. Returns `false` if a setter was already installed.
pub fn install_setter(setter: Setter) -> bool {
    SETTER.set(Arc::new(setter)).is_ok()
}

/// The installed level setter, if the binary installed one. In-process servers (tests)
/// have none.
pub fn installed_setter() -> Option<Arc<Setter>> {
    SETTER.get().cloned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_filters() {
        assert_eq!(filter(0), "error,bitcoincore_rpc=warn");
        assert_eq!(filter(4), "warn,bitcoincore_rpc=warn");
        assert_eq!(filter(6), "info,bitcoincore_rpc=warn");
        assert_eq!(filter(7), "debug,bitcoincore_rpc=warn");
    }

    #[test]
    fn quiet_is_warnings_and_errors() {
        assert_eq!(filter(QUIET), "warn,bitcoincore_rpc=warn");
    }
}

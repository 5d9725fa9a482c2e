//! Process limits: one miner is one file descriptor, so the server raises its open-file
//! limit to the hard limit at start and says how many miners that allows.

/// File descriptors kept for everything that is not a miner (logs, RPC, ZMQ, sockets).
pub const RESERVED_FDS: u64 = 64;

/// The open-file limit after raising it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FdLimit {
    /// The soft limit before.
    pub before: u64,
    /// The soft limit now (the hard limit, unless raising failed).
    pub now: u64,
    /// The hard limit: only the operator (root, systemd `LimitNOFILE`) can raise it.
    pub hard: u64,
}

impl FdLimit {
    /// Miners this process can hold at once.
    pub fn miners(&self) -> u64 {
        self.now.saturating_sub(RESERVED_FDS)
    }
}

/// Raises `RLIMIT_NOFILE`'s soft limit to its hard limit.
pub fn raise_fd_limit() -> std::io::Result<FdLimit> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the struct we pass.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    let before = lim.rlim_cur;
    if lim.rlim_cur < lim.rlim_max {
        let raised = libc::rlimit {
            rlim_cur: lim.rlim_max,
            rlim_max: lim.rlim_max,
        };
        // SAFETY: setrlimit reads the struct we pass.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
        lim.rlim_cur = lim.rlim_max;
    }
    Ok(FdLimit {
        before,
        now: lim.rlim_cur,
        hard: lim.rlim_max,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn soft_limit_reaches_the_hard_limit() {
        let l = raise_fd_limit().unwrap();
        assert_eq!(l.now, l.hard);
        assert!(l.now >= l.before);
        assert_eq!(l.miners(), l.now - RESERVED_FDS);
        // Idempotent.
        assert_eq!(raise_fd_limit().unwrap().now, l.now);
    }
}

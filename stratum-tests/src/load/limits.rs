//! The open-files limit: raised to the hard limit at start, and checked against the number of
//! connections asked for.

/// File descriptors kept for everything that is not a miner connection (stdio, the runtime,
/// /proc reads, the RPC socket).
pub const RESERVED_FDS: u64 = 64;

/// Raises `RLIMIT_NOFILE` to its hard limit and returns the new soft limit.
pub fn raise_nofile() -> Result<u64, String> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit only read/write the struct passed by pointer.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return Err(format!(
            "getrlimit(RLIMIT_NOFILE): {}",
            std::io::Error::last_os_error()
        ));
    }
    if lim.rlim_cur < lim.rlim_max {
        let want = libc::rlimit {
            rlim_cur: lim.rlim_max,
            rlim_max: lim.rlim_max,
        };
        // SAFETY: as above.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &want) } == 0 {
            lim.rlim_cur = lim.rlim_max;
        }
    }
    Ok(lim.rlim_cur)
}

/// Refuses a connection count that cannot fit under the limit.
pub fn check_connections(connections: u64) -> Result<u64, String> {
    let limit = raise_nofile()?;
    let fit = limit.saturating_sub(RESERVED_FDS);
    if connections > fit {
        return Err(format!(
            "--connections {connections} cannot fit: the open-files limit of this process is \
             {limit} (the hard limit; raise it with `ulimit -Hn` / limits.conf), \
             {RESERVED_FDS} are kept for other uses, so at most {fit} connections"
        ));
    }
    Ok(limit)
}

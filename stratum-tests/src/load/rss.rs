//! A process's resident memory and CPU time, read from `/proc/<pid>/status` and
//! `/proc/<pid>/stat`.

use serde::Serialize;

/// One reading of a process's memory and CPU time.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct ProcSample {
    /// When it was taken, seconds since the run started.
    pub at_s: f64,
    /// Phase label (`start`, `after_ramp`, `end`).
    pub phase: &'static str,
    /// `VmRSS` in KiB.
    pub rss_kib: Option<u64>,
    /// User + system CPU seconds since the process started.
    pub cpu_s: Option<f64>,
}

/// Parses `VmRSS:  1234 kB` from the text of `/proc/<pid>/status`.
pub fn parse_vmrss_kib(status: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
}

/// Parses utime + stime (clock ticks) from the text of `/proc/<pid>/stat`.
pub fn parse_cpu_ticks(stat: &str) -> Option<u64> {
    // The command name (field 2) is in parentheses and may hold spaces: start after the last ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // rest starts at field 3 (state); utime is field 14, stime field 15.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

fn clock_ticks() -> f64 {
    // SAFETY: sysconf has no memory effects.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 {
        t as f64
    } else {
        100.0
    }
}

/// Reads one sample for `pid` (`None` = this process).
pub fn sample(pid: Option<u32>, at_s: f64, phase: &'static str) -> ProcSample {
    let dir = match pid {
        Some(p) => format!("/proc/{p}"),
        None => "/proc/self".to_string(),
    };
    let rss_kib = std::fs::read_to_string(format!("{dir}/status"))
        .ok()
        .and_then(|s| parse_vmrss_kib(&s));
    let cpu_s = std::fs::read_to_string(format!("{dir}/stat"))
        .ok()
        .and_then(|s| parse_cpu_ticks(&s))
        .map(|t| t as f64 / clock_ticks());
    ProcSample {
        at_s,
        phase,
        rss_kib,
        cpu_s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_proc_text() {
        assert_eq!(
            parse_vmrss_kib("Name:\tx\nVmRSS:\t   5120 kB\nThreads: 3\n"),
            Some(5120)
        );
        assert_eq!(parse_vmrss_kib("Name: x\n"), None);
        let stat = "42 (a b) S 1 42 42 0 -1 4194560 100 0 0 0 250 30 0 0 20 0 3 0 5 1000 200";
        assert_eq!(parse_cpu_ticks(stat), Some(280));
        assert_eq!(parse_cpu_ticks("garbage"), None);
        let me = sample(None, 0.0, "start");
        assert!(me.rss_kib.unwrap_or(0) > 0);
    }
}

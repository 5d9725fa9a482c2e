//! Job ids in ckpool's `workinfoid` form: `(unix_time << 32) | counter`, sent to miners as
//! 16 hex digits, so that ckpool consumers can correlate our jobs the way they did ckpool's.

use std::fmt;
use std::sync::atomic::{AtomicU32, Ordering};

/// A job id (ckpool's `workinfoid`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct JobId(pub u64);

impl JobId {
    /// Parses the 16-hex-digit form a miner sends back in `mining.submit`.
    pub fn parse(s: &str) -> Option<JobId> {
        // from_str_radix would also take a leading '+'.
        if s.is_empty() || s.len() > 16 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        u64::from_str_radix(s, 16).ok().map(JobId)
    }
}

impl fmt::Display for JobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

/// Hands out job ids: the current time in the high 32 bits and a counter in the low 32.
#[derive(Debug, Default)]
pub struct JobIdAllocator {
    counter: AtomicU32,
}

impl JobIdAllocator {
    /// The next id for a job created at `unix_time`.
    pub fn next(&self, unix_time: u32) -> JobId {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        JobId((u64::from(unix_time) << 32) | u64::from(n))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ckpool_form() {
        let a = JobIdAllocator::default();
        let id = a.next(0x6878_b602);
        assert_eq!(id.to_string(), "6878b60200000000");
        assert_eq!(a.next(0x6878_b602).to_string(), "6878b60200000001");
        assert_eq!(
            JobId::parse("6878b60200000001"),
            Some(JobId(0x6878_b602_0000_0001))
        );
        assert_eq!(JobId::parse("zz"), None);
        assert_eq!(JobId::parse(""), None);
        assert_eq!(JobId::parse("00000000000000000"), None);
    }

    /// Found by the `submit_params` fuzz target: "+1" read as job 1.
    #[test]
    fn only_hex_digits_are_a_job_id() {
        assert_eq!(JobId::parse("+1"), None);
        assert_eq!(JobId::parse("+000000000000001"), None);
        assert_eq!(JobId::parse("-1"), None);
        assert_eq!(JobId::parse(" 1"), None);
        assert_eq!(JobId::parse("Ab"), Some(JobId(0xab)));
    }
}

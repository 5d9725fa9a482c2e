//! One log line per minute per limit for refused connections, however many there are: a
//! flood from one host (or a farm reconnecting into a full server) is thousands a second,
//! and a line for each would drown the log. The counts are in the metrics
//! (`stratumd_connections_refused_total`); the line says how many since the last one.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::admission::Refusal;

/// How often a limit's refusals are logged at most.
pub const EVERY: Duration = Duration::from_secs(60);

/// The log state of one listener's refusals.
#[derive(Debug, Default)]
pub struct RefusalLog {
    full: Pending,
    per_ip: Pending,
    banned: Pending,
}

#[derive(Debug, Default)]
struct Pending {
    last: Option<Instant>,
    unlogged: u64,
}

impl RefusalLog {
    /// Notes a refusal of `peer`; logs it when the limit's last line is a minute old.
    pub fn note(&mut self, refusal: Refusal, peer: SocketAddr) {
        let now = Instant::now();
        let p = match refusal {
            Refusal::Full => &mut self.full,
            Refusal::PerIp => &mut self.per_ip,
            Refusal::Banned => &mut self.banned,
        };
        p.unlogged += 1;
        if p.last.is_some_and(|t| now.duration_since(t) < EVERY) {
            return;
        }
        let n = std::mem::take(&mut p.unlogged);
        p.last = Some(now);
        match refusal {
            Refusal::Full => tracing::warn!(
                %peer,
                "maxclients reached; refusing connections ({n} since the last line, at most one line a minute)"
            ),
            Refusal::PerIp => tracing::warn!(
                %peer,
                "maxclients_per_ip reached for {}; refusing its connections ({n} refused from any address since the last line, at most one line a minute)",
                peer.ip()
            ),
            Refusal::Banned => tracing::warn!(
                %peer,
                "refusing connections from banned addresses ({n} since the last line, at most one line a minute)"
            ),
        }
    }
}

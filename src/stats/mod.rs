//! Server-wide counters, read by the demo's status line, and ckpool's stats files and share
//! logs:
//!
//! - [`accounting`]: ckpool's per-pool, per-user and per-worker share accounting (decaying
//!   hashrates, share totals, best shares, connected workers), fed by [`crate::events`].
//! - [`files`]: writes `<logdir>/pool/pool.status` and `<logdir>/users/<user>` every interval
//!   and at shutdown, and logs found blocks as ckpool does.
//! - [`sharelog`]: the `-L` share log, one line per share in ckpool's layout.

pub mod accounting;
pub mod files;
pub mod sharelog;

use std::sync::atomic::{AtomicU64, Ordering};

use crate::share::Reject;

/// Lock-free counters updated on the hot path with relaxed atomics.
#[derive(Debug, Default)]
pub struct Stats {
    /// Connections open now.
    pub connections: AtomicU64,
    /// Sessions that have authorized and are connected.
    pub authorized: AtomicU64,
    /// Accepted shares.
    pub accepted: AtomicU64,
    /// Sum of accepted shares' difficulty (times 2^32 is hashes done), in millionths.
    pub accepted_diff_micro: AtomicU64,
    /// Rejected shares.
    pub rejected: AtomicU64,
    /// Rejected shares by reason, in [`Reject::index`] order.
    pub rejected_by: [AtomicU64; Reject::ALL.len()],
    /// Blocks found by our miners.
    pub blocks_found: AtomicU64,
    /// Blocks a bitcoind accepted (`submitblock` returned null).
    pub blocks_accepted: AtomicU64,
    /// Blocks bitcoind rejected.
    pub blocks_rejected: AtomicU64,
    /// Connections refused at `maxclients`.
    pub refused_full: AtomicU64,
    /// Connections refused at `maxclients_per_ip`.
    pub refused_per_ip: AtomicU64,
    /// Connections refused from an address under a flood ban.
    pub refused_banned: AtomicU64,
    /// Flood bans imposed (`flood_ban_rejects`).
    pub flood_bans: AtomicU64,
}

/// A plain copy of the counters at one moment.
#[derive(Debug, Clone, Copy, Default)]
pub struct StatsSnapshot {
    /// See [`Stats::connections`].
    pub connections: u64,
    /// See [`Stats::authorized`].
    pub authorized: u64,
    /// See [`Stats::accepted`].
    pub accepted: u64,
    /// Sum of accepted difficulty.
    pub accepted_diff: f64,
    /// See [`Stats::rejected`].
    pub rejected: u64,
    /// See [`Stats::rejected_by`].
    pub rejected_by: [u64; Reject::ALL.len()],
    /// See [`Stats::blocks_found`].
    pub blocks_found: u64,
    /// See [`Stats::blocks_accepted`].
    pub blocks_accepted: u64,
    /// See [`Stats::blocks_rejected`].
    pub blocks_rejected: u64,
}

impl Stats {
    /// Records an accepted share of difficulty `diff`.
    #[inline]
    pub fn share_accepted(&self, diff: f64) {
        self.accepted.fetch_add(1, Ordering::Relaxed);
        let micro = (diff * 1e6).clamp(0.0, u64::MAX as f64 / 2.0) as u64;
        self.accepted_diff_micro.fetch_add(micro, Ordering::Relaxed);
    }

    /// Records a well-formed share rejected for `reason`.
    #[inline]
    pub fn share_rejected(&self, reason: Reject) {
        self.rejected.fetch_add(1, Ordering::Relaxed);
        self.rejected_by[reason.index()].fetch_add(1, Ordering::Relaxed);
    }

    /// Counts the submitter's verdict on a found block.
    pub fn count_block_verdict(&self, accepted: bool) {
        let counter = if accepted {
            &self.blocks_accepted
        } else {
            &self.blocks_rejected
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Reads all counters.
    pub fn snapshot(&self) -> StatsSnapshot {
        let r = |a: &AtomicU64| a.load(Ordering::Relaxed);
        StatsSnapshot {
            connections: r(&self.connections),
            authorized: r(&self.authorized),
            accepted: r(&self.accepted),
            accepted_diff: r(&self.accepted_diff_micro) as f64 / 1e6,
            rejected: r(&self.rejected),
            rejected_by: std::array::from_fn(|i| r(&self.rejected_by[i])),
            blocks_found: r(&self.blocks_found),
            blocks_accepted: r(&self.blocks_accepted),
            blocks_rejected: r(&self.blocks_rejected),
        }
    }
}

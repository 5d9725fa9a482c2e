//! The run's report: one JSON document and a readable summary.

use super::config::{Firmware, Mode};
use super::rss::ProcSample;
use serde::Serialize;
use std::collections::BTreeMap;

/// What was asked for.
#[derive(Debug, Clone, Serialize)]
pub struct RunSettings {
    /// Servers.
    pub targets: Vec<String>,
    /// Connections asked for.
    pub connections: u64,
    /// Ramp rate.
    pub ramp_per_sec: f64,
    /// Source addresses used.
    pub source_ips: u8,
    /// Handshake style.
    pub handshake: Firmware,
    /// Share mode.
    pub mode: Mode,
    /// Aggregate submit target.
    pub shares_per_sec_target: f64,
    /// Hold time asked for.
    pub duration_s: f64,
    /// Open-files soft limit after raising it.
    pub nofile_limit: u64,
}

/// Connection figures.
#[derive(Debug, Clone, Serialize)]
pub struct ConnReport {
    /// TCP connections established.
    pub connected: u64,
    /// Connections authorized.
    pub authorized: u64,
    /// Authorized connections open at the end of the hold.
    pub held_at_end: u64,
    /// Most connections held at once.
    pub max_held: u64,
    /// Connections that got at least one job.
    pub with_job: u64,
    /// Connection tasks that never authorized.
    pub failed: u64,
    /// Errors (fatal and ignored) by kind.
    pub errors: BTreeMap<String, u64>,
}

/// Share figures.
#[derive(Debug, Clone, Serialize)]
pub struct ShareReport {
    /// Submits written (whole run).
    pub submitted: u64,
    /// Accepted (whole run).
    pub accepted: u64,
    /// Rejected (whole run).
    pub rejected: u64,
    /// Unanswered within the submit timeout (whole run).
    pub timeouts: u64,
    /// Skipped because too many were in flight.
    pub skipped_in_flight: u64,
    /// Mine mode: shares given up after the hash budget.
    pub mine_gave_up: u64,
    /// Hashes computed in mine mode.
    pub hashes: u64,
    /// Submitted per second during the hold.
    pub submitted_per_sec: f64,
    /// Accepted per second during the hold.
    pub accepted_per_sec: f64,
    /// Rejected per second during the hold.
    pub rejected_per_sec: f64,
    /// Reject reasons (whole run).
    pub reject_reasons: BTreeMap<String, u64>,
    /// Last difficulty the server set.
    pub last_difficulty: f64,
    /// Jobs received (all connections).
    pub notifies: u64,
}

/// Submit round trip during the hold, milliseconds.
#[derive(Debug, Clone, Serialize)]
pub struct LatencyReport {
    /// Replies measured.
    pub count: u64,
    /// Median.
    pub p50_ms: Option<f64>,
    /// 90th percentile.
    pub p90_ms: Option<f64>,
    /// 99th percentile.
    pub p99_ms: Option<f64>,
    /// 99.9th percentile.
    pub p999_ms: Option<f64>,
    /// Maximum.
    pub max_ms: Option<f64>,
    /// Mean.
    pub mean_ms: Option<f64>,
    /// Longest a 1 ms timer in the generator's runtime fired late during the hold. When it is
    /// near `max_ms`, the generator (not the server) held the slowest replies back.
    pub generator_stall_max_ms: f64,
}

/// New block → clean job on each connection, milliseconds after generatetoaddress returned
/// (negative: the job arrived before the RPC reply).
#[derive(Debug, Clone, Serialize)]
pub struct FanoutReport {
    /// Hash of the mined block (RPC result), when it succeeded.
    pub block: Option<String>,
    /// RPC error, if any.
    pub error: Option<String>,
    /// Duration of the generatetoaddress call.
    pub rpc_ms: Option<f64>,
    /// Connections held when the block was mined.
    pub held: u64,
    /// Connections that received the clean job within the wait.
    pub notified: u64,
    /// Median.
    pub p50_ms: Option<f64>,
    /// 99th percentile.
    pub p99_ms: Option<f64>,
    /// Maximum (= the last miner's clean job).
    pub max_ms: Option<f64>,
    /// The last miner's clean job, measured from the start of the RPC call.
    pub last_from_rpc_start_ms: Option<f64>,
    /// The node's ZMQ announcement of the block, after the start of the RPC call.
    pub zmq_from_rpc_start_ms: Option<f64>,
    /// Median, from the ZMQ announcement.
    pub from_zmq_p50_ms: Option<f64>,
    /// 99th percentile, from the ZMQ announcement.
    pub from_zmq_p99_ms: Option<f64>,
    /// The last miner's clean job, from the ZMQ announcement.
    pub from_zmq_max_ms: Option<f64>,
}

/// Server (or generator) process figures.
#[derive(Debug, Clone, Serialize)]
pub struct ProcReport {
    /// Process id (`None` = the generator itself).
    pub pid: Option<u32>,
    /// Samples at start, after the ramp and at the end.
    pub samples: Vec<ProcSample>,
    /// RSS growth from start to after the ramp, per authorized connection, KiB.
    pub rss_per_conn_kib: Option<f64>,
    /// CPU seconds used during the hold.
    pub hold_cpu_s: Option<f64>,
    /// CPU use during the hold in cores (1.0 = one core busy).
    pub hold_cpu_cores: Option<f64>,
    /// CPU per answered share during the hold, µs. The same work costs more when the shared
    /// host is slower, so this tells a noisy run from a code change.
    pub cpu_us_per_share: Option<f64>,
}

/// The whole report.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// What was asked for.
    pub settings: RunSettings,
    /// Ramp duration (start to every connection authorized or failed), seconds.
    pub ramp_s: f64,
    /// Measured hold, seconds.
    pub hold_s: f64,
    /// Whole run, seconds.
    pub total_s: f64,
    /// Whether --max-runtime cut the run short.
    pub hit_max_runtime: bool,
    /// Connections.
    pub connections: ConnReport,
    /// Shares.
    pub shares: ShareReport,
    /// Submit latency.
    pub latency: LatencyReport,
    /// Block fan-out, when asked for.
    pub fanout: Vec<FanoutReport>,
    /// The server process, when --server-pid was given.
    pub server: Option<ProcReport>,
    /// The generator itself.
    pub generator: ProcReport,
}

fn ms(v: Option<f64>) -> String {
    v.map(|v| format!("{v:.2} ms"))
        .unwrap_or_else(|| "-".into())
}

impl Report {
    /// A readable multi-line summary.
    pub fn summary(&self) -> String {
        let s = &self.settings;
        let c = &self.connections;
        let sh = &self.shares;
        let l = &self.latency;
        let mut out = format!(
            "stratum-load: {} connections ({:?} handshake, {:?} mode) to {}\n\
             ramp {:.1} s, hold {:.1} s, total {:.1} s{}\n\
             connections: {} connected, {} authorized, {} held at end (max {}), {} failed\n\
             shares/s (hold): {:.0} submitted, {:.0} accepted, {:.0} rejected (target {})\n\
             shares (run): {} submitted, {} accepted, {} rejected, {} timeouts, {} skipped (in flight), last difficulty {}\n\
             submit latency: p50 {}, p90 {}, p99 {}, p99.9 {}, max {} ({} replies); generator runtime stalled up to {:.2} ms\n",
            s.connections,
            s.handshake,
            s.mode,
            s.targets.join(","),
            self.ramp_s,
            self.hold_s,
            self.total_s,
            if self.hit_max_runtime { " (cut by --max-runtime)" } else { "" },
            c.connected,
            c.authorized,
            c.held_at_end,
            c.max_held,
            c.failed,
            sh.submitted_per_sec,
            sh.accepted_per_sec,
            sh.rejected_per_sec,
            s.shares_per_sec_target,
            sh.submitted,
            sh.accepted,
            sh.rejected,
            sh.timeouts,
            sh.skipped_in_flight,
            sh.last_difficulty,
            ms(l.p50_ms),
            ms(l.p90_ms),
            ms(l.p99_ms),
            ms(l.p999_ms),
            ms(l.max_ms),
            l.count,
            l.generator_stall_max_ms,
        );
        if !sh.reject_reasons.is_empty() {
            out += &format!("reject reasons: {:?}\n", sh.reject_reasons);
        }
        if !c.errors.is_empty() {
            out += &format!("errors: {:?}\n", c.errors);
        }
        for f in &self.fanout {
            out += &format!(
                "fan-out: {}/{} miners got the clean job; after ZMQ hashblock p50 {}, p99 {}, last {}; \
                 after RPC return p50 {}, p99 {}, last {}; rpc {}{}\n",
                f.notified,
                f.held,
                ms(f.from_zmq_p50_ms),
                ms(f.from_zmq_p99_ms),
                ms(f.from_zmq_max_ms),
                ms(f.p50_ms),
                ms(f.p99_ms),
                ms(f.max_ms),
                ms(f.rpc_ms),
                f.error.as_ref().map(|e| format!(" (error: {e})")).unwrap_or_default()
            );
        }
        for (name, p) in [
            ("server", self.server.as_ref()),
            ("generator", Some(&self.generator)),
        ] {
            let Some(p) = p else { continue };
            let rss: Vec<String> = p
                .samples
                .iter()
                .map(|s| {
                    format!(
                        "{} {}",
                        s.phase,
                        s.rss_kib
                            .map(|k| format!("{:.1} MiB", k as f64 / 1024.0))
                            .unwrap_or("-".into())
                    )
                })
                .collect();
            out += &format!(
                "{name}: RSS {}; {} KiB/conn; hold CPU {} cores{}\n",
                rss.join(", "),
                p.rss_per_conn_kib
                    .map(|v| format!("{v:.2}"))
                    .unwrap_or("-".into()),
                p.hold_cpu_cores
                    .map(|v| format!("{v:.2}"))
                    .unwrap_or("-".into()),
                p.cpu_us_per_share
                    .map(|v| format!(" ({v:.1} µs per share)"))
                    .unwrap_or_default(),
            );
        }
        out
    }
}

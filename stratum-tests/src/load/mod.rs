//! `stratum-load`: a stratum v1 load generator. Opens many miner connections (spread over
//! source addresses 127.0.0.2…), ramps them, runs a firmware handshake, submits shares at an
//! aggregate rate and reports connections held, shares per second, submit latency, block
//! fan-out and the server's memory and CPU. [`run`] is the whole run; the binary wraps it.
//!
//! - [`config`]: options (clap).  - [`conn`]: one connection task.
//! - [`handshake`]: firmware styles.  - [`stats`], [`histogram`]: counters and latency.
//! - [`fanout`]: block fan-out via JSON-RPC.  - [`rss`]: /proc readings.
//! - [`limits`]: open-files limit.  - [`report`]: JSON report and summary.
//! - [`wire`]: cheap parsing of the server's replies and notifies.

pub mod config;
pub mod conn;
pub mod fanout;
pub mod handshake;
pub mod hashblock;
pub mod histogram;
pub mod job_cache;
pub mod limits;
pub mod report;
pub mod rss;
pub mod stats;
pub mod wire;

use config::LoadConfig;
use conn::{ConnParams, Shared};
use fanout::{quantile_sorted, signed_ms, FanoutState, RpcAuth};
use hashblock::HashblockWatch;
use report::*;
use rss::ProcSample;
use serde_json::json;
use stats::{Counters, Stats};
use std::net::Ipv4Addr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// How long to wait for every held connection's clean job after a block.
const FANOUT_WAIT: Duration = Duration::from_secs(10);

/// How long generatetoaddress may take.
const RPC_TIMEOUT: Duration = Duration::from_secs(120);

/// Runs one load test to completion (bounded by `--max-runtime`) and returns its report.
pub async fn run(cfg: LoadConfig) -> Result<Report, String> {
    let targets = cfg.validate()?;
    let nofile = limits::check_connections(cfg.connections)?;
    let fanout_auth = match (&cfg.fanout_rpc, &cfg.fanout_cookie) {
        (None, _) => None,
        (Some(_), Some(path)) => Some(RpcAuth::cookie(path)?),
        (Some(_), None) => Some(RpcAuth {
            userpass: format!(
                "{}:{}",
                cfg.fanout_user.clone().unwrap_or_default(),
                cfg.fanout_pass.clone().unwrap_or_default()
            ),
        }),
    };
    // Subscribed before the ramp, so the subscription is long in place when blocks come.
    let hashblocks = match &cfg.fanout_zmq {
        Some(endpoint) => Some(Arc::new(HashblockWatch::start(endpoint)?)),
        None => None,
    };
    let t0 = Instant::now();
    let deadline = t0 + Duration::from_secs_f64(cfg.max_runtime);
    let at = || t0.elapsed().as_secs_f64();
    let mut server_samples = Vec::new();
    let mut gen_samples = Vec::new();
    if let Some(pid) = cfg.server_pid {
        server_samples.push(rss::sample(Some(pid), at(), "start"));
    }
    gen_samples.push(rss::sample(None, at(), "start"));

    let sh = Arc::new(Shared {
        firmware: cfg.handshake,
        mode: cfg.mode,
        pass: cfg.pass.clone(),
        per_conn_rate: cfg.shares_per_sec / cfg.connections as f64,
        max_hashes: cfg.max_hashes_per_share.max(1),
        max_in_flight: cfg.max_in_flight,
        handshake_timeout: Duration::from_secs_f64(cfg.handshake_timeout),
        submit_timeout: Duration::from_secs_f64(cfg.submit_timeout),
        stats: Stats::default(),
        fanout: FanoutState::default(),
        jobs: Default::default(),
        cancel: CancellationToken::new(),
    });
    let progress = (!cfg.quiet).then(|| tokio::spawn(progress_loop(sh.clone(), cfg.connections)));
    let probe = tokio::spawn(stall_probe(sh.clone()));

    // Ramp.
    let mut tasks = JoinSet::new();
    let mut hit_max = false;
    for i in 0..cfg.connections {
        let due = t0 + Duration::from_secs_f64(i as f64 / cfg.ramp_per_sec);
        if due >= deadline {
            hit_max = true;
            break;
        }
        tokio::time::sleep_until(due).await;
        let source = (cfg.source_ips > 0)
            .then(|| Ipv4Addr::new(127, 0, 0, 2 + (i % u64::from(cfg.source_ips)) as u8));
        let p = ConnParams {
            index: i,
            target: targets[(i % targets.len() as u64) as usize],
            source,
            username: cfg.username(i),
        };
        tasks.spawn(conn::run_conn(sh.clone(), p));
    }
    let spawned = tasks.len() as u64;
    // Wait until every connection is authorized or has failed.
    let settle_by = (Instant::now() + sh.handshake_timeout + Duration::from_secs(1)).min(deadline);
    while Stats::get(&sh.stats.authorized) + Stats::get(&sh.stats.failed_before_auth) < spawned
        && Instant::now() < settle_by
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Give the last connections a moment to receive their first job.
    let job_by = (Instant::now() + Duration::from_secs(2)).min(deadline);
    while Stats::get(&sh.stats.with_job) < Stats::get(&sh.stats.held) && Instant::now() < job_by {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let ramp_s = at();
    if let Some(pid) = cfg.server_pid {
        server_samples.push(rss::sample(Some(pid), at(), "after_ramp"));
    }
    gen_samples.push(rss::sample(None, at(), "after_ramp"));

    // Hold: the measurement window.
    sh.stats.latency.reset();
    sh.stats.runtime_stall_max_us.store(0, Ordering::Relaxed);
    let c0 = sh.stats.counters();
    let hold_start = Instant::now();
    let hold_end = hold_start + Duration::from_secs_f64(cfg.duration);
    if hold_end > deadline {
        hit_max = true;
    }
    let fanout_task = match (&cfg.fanout_rpc, fanout_auth) {
        (Some(url), Some(auth)) => {
            let address = cfg
                .fanout_address
                .clone()
                .unwrap_or_else(|| cfg.user.split('.').next().unwrap_or("").to_string());
            Some(tokio::spawn(measure_fanouts(
                sh.clone(),
                url.clone(),
                auth,
                address,
                cfg.fanout_blocks.max(1),
                hashblocks.clone(),
            )))
        }
        _ => None,
    };
    tokio::time::sleep_until(hold_end.min(deadline)).await;
    let fanout = match fanout_task {
        Some(t) => {
            let left = deadline.saturating_duration_since(Instant::now());
            match tokio::time::timeout(left.max(Duration::from_millis(10)), t).await {
                Ok(Ok(f)) => f,
                Ok(Err(e)) => vec![fanout_error(format!("fan-out task: {e}"))],
                Err(_) => {
                    hit_max = true;
                    vec![fanout_error("cut by --max-runtime".into())]
                }
            }
        }
        None => Vec::new(),
    };
    let hold_s = hold_start.elapsed().as_secs_f64();
    let c1 = sh.stats.counters();
    let held_at_end = Stats::get(&sh.stats.held);
    if let Some(pid) = cfg.server_pid {
        server_samples.push(rss::sample(Some(pid), at(), "end"));
    }
    gen_samples.push(rss::sample(None, at(), "end"));
    let latency = latency_report(&sh.stats);

    // Stop.
    sh.cancel.cancel();
    let drain = tokio::time::timeout(Duration::from_secs(3), async {
        while tasks.join_next().await.is_some() {}
    });
    if drain.await.is_err() {
        tasks.abort_all();
    }
    if let Some(p) = progress {
        p.abort();
    }
    probe.abort();

    let st = &sh.stats;
    let rate = |a: u64, b: u64| {
        if hold_s > 0.0 {
            (b - a) as f64 / hold_s
        } else {
            0.0
        }
    };
    let authorized = Stats::get(&st.authorized);
    let answered = (c1.accepted + c1.rejected).saturating_sub(c0.accepted + c0.rejected);
    Ok(Report {
        settings: RunSettings {
            targets: targets.iter().map(ToString::to_string).collect(),
            connections: cfg.connections,
            ramp_per_sec: cfg.ramp_per_sec,
            source_ips: cfg.source_ips,
            handshake: cfg.handshake,
            mode: cfg.mode,
            shares_per_sec_target: cfg.shares_per_sec,
            duration_s: cfg.duration,
            nofile_limit: nofile,
        },
        ramp_s,
        hold_s,
        total_s: at(),
        hit_max_runtime: hit_max,
        connections: ConnReport {
            connected: Stats::get(&st.connected),
            authorized,
            held_at_end,
            max_held: Stats::get(&st.max_held),
            with_job: Stats::get(&st.with_job),
            failed: Stats::get(&st.failed_before_auth) + cfg.connections - spawned,
            errors: st.errors(),
        },
        shares: share_report(st, c0, c1, rate),
        latency,
        fanout,
        server: cfg
            .server_pid
            .map(|pid| proc_report(Some(pid), server_samples, authorized, answered)),
        generator: proc_report(None, gen_samples, authorized, answered),
    })
}

fn share_report(
    st: &Stats,
    c0: Counters,
    c1: Counters,
    rate: impl Fn(u64, u64) -> f64,
) -> ShareReport {
    ShareReport {
        submitted: c1.submitted,
        accepted: c1.accepted,
        rejected: c1.rejected,
        timeouts: c1.timeouts,
        skipped_in_flight: Stats::get(&st.skipped_in_flight),
        mine_gave_up: Stats::get(&st.mine_gave_up),
        hashes: Stats::get(&st.hashes),
        submitted_per_sec: rate(c0.submitted, c1.submitted),
        accepted_per_sec: rate(c0.accepted, c1.accepted),
        rejected_per_sec: rate(c0.rejected, c1.rejected),
        reject_reasons: st.reject_reasons(),
        last_difficulty: f64::from_bits(Stats::get(&st.last_difficulty_bits)),
        notifies: Stats::get(&st.notifies),
    }
}

fn latency_report(st: &Stats) -> LatencyReport {
    let h = &st.latency;
    let q = |q: f64| h.quantile(q).map(|us| us as f64 / 1e3);
    let n = h.count();
    LatencyReport {
        count: n,
        p50_ms: q(0.5),
        p90_ms: q(0.9),
        p99_ms: q(0.99),
        p999_ms: q(0.999),
        max_ms: (n > 0).then(|| h.max() as f64 / 1e3),
        mean_ms: (n > 0).then(|| h.mean() / 1e3),
        generator_stall_max_ms: Stats::get(&st.runtime_stall_max_us) as f64 / 1e3,
    }
}

/// `answered`: shares answered (accepted or rejected) during the hold.
fn proc_report(
    pid: Option<u32>,
    samples: Vec<ProcSample>,
    conns: u64,
    answered: u64,
) -> ProcReport {
    let find = |phase: &str| samples.iter().find(|s| s.phase == phase);
    let (start, ramp, end) = (find("start"), find("after_ramp"), find("end"));
    let rss_per_conn_kib = match (start.and_then(|s| s.rss_kib), ramp.and_then(|s| s.rss_kib)) {
        (Some(a), Some(b)) if conns > 0 => Some((b as f64 - a as f64) / conns as f64),
        _ => None,
    };
    let (hold_cpu_s, hold_cpu_cores) = match (ramp, end) {
        (Some(r), Some(e)) => match (r.cpu_s, e.cpu_s) {
            (Some(a), Some(b)) => {
                let wall = e.at_s - r.at_s;
                (Some(b - a), (wall > 0.0).then(|| (b - a) / wall))
            }
            _ => (None, None),
        },
        _ => (None, None),
    };
    ProcReport {
        pid,
        samples,
        rss_per_conn_kib,
        hold_cpu_s,
        hold_cpu_cores,
        cpu_us_per_share: hold_cpu_s
            .filter(|_| answered > 0)
            .map(|cpu| cpu * 1e6 / answered as f64),
    }
}

fn fanout_error(error: String) -> FanoutReport {
    FanoutReport {
        block: None,
        error: Some(error),
        rpc_ms: None,
        held: 0,
        notified: 0,
        p50_ms: None,
        p99_ms: None,
        max_ms: None,
        last_from_rpc_start_ms: None,
        zmq_from_rpc_start_ms: None,
        from_zmq_p50_ms: None,
        from_zmq_p99_ms: None,
        from_zmq_max_ms: None,
    }
}

/// Mines `blocks` blocks one after the other, each once every connection has the previous
/// block's clean job (or the wait ran out).
async fn measure_fanouts(
    sh: Arc<Shared>,
    url: String,
    auth: RpcAuth,
    address: String,
    blocks: u32,
    hashblocks: Option<Arc<HashblockWatch>>,
) -> Vec<FanoutReport> {
    let mut out = Vec::new();
    for _ in 0..blocks {
        let rep = measure_fanout(&sh, &url, &auth, &address, hashblocks.as_deref()).await;
        let failed = rep.error.is_some();
        out.push(rep);
        if failed {
            break;
        }
    }
    out
}

async fn measure_fanout(
    sh: &Shared,
    url: &str,
    auth: &RpcAuth,
    address: &str,
    hashblocks: Option<&HashblockWatch>,
) -> FanoutReport {
    let held = Stats::get(&sh.stats.held);
    sh.fanout.arm();
    let start = Instant::now();
    let res = fanout::rpc_call(
        url,
        auth,
        "generatetoaddress",
        json!([1, address]),
        RPC_TIMEOUT,
    )
    .await;
    let returned = Instant::now();
    let mut rep = fanout_error(String::new());
    rep.error = None;
    rep.held = held;
    rep.rpc_ms = Some(signed_ms(start, returned));
    match res {
        Ok(v) => rep.block = v.get(0).and_then(|h| h.as_str()).map(str::to_string),
        Err(e) => {
            rep.error = Some(e);
            return rep;
        }
    }
    let wait_until = returned + FANOUT_WAIT;
    while (sh.fanout.count() as u64) < Stats::get(&sh.stats.held) && Instant::now() < wait_until {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    sh.fanout.disarm();
    let arrivals = sh.fanout.arrivals();
    let sorted_from = |from: Instant| {
        let mut v: Vec<f64> = arrivals.iter().map(|&a| signed_ms(from, a)).collect();
        v.sort_by(f64::total_cmp);
        v
    };
    let lat = sorted_from(returned);
    rep.notified = lat.len() as u64;
    rep.p50_ms = quantile_sorted(&lat, 0.5);
    rep.p99_ms = quantile_sorted(&lat, 0.99);
    rep.max_ms = lat.last().copied();
    rep.last_from_rpc_start_ms = arrivals.iter().max().map(|&a| signed_ms(start, a));
    let announced = match (hashblocks, &rep.block) {
        (Some(w), Some(hash)) => w.announced(hash).map(Instant::from_std),
        _ => None,
    };
    if let Some(zmq_at) = announced {
        let lat = sorted_from(zmq_at);
        rep.zmq_from_rpc_start_ms = Some(signed_ms(start, zmq_at));
        rep.from_zmq_p50_ms = quantile_sorted(&lat, 0.5);
        rep.from_zmq_p99_ms = quantile_sorted(&lat, 0.99);
        rep.from_zmq_max_ms = lat.last().copied();
    } else if hashblocks.is_some() {
        rep.error = Some("no ZMQ hashblock announcement for the block".into());
    }
    rep
}

/// Sleeps 1 ms at a time on the generator's runtime and keeps the longest lateness: a stall
/// of the generator itself shows here, one of the server does not.
async fn stall_probe(sh: Arc<Shared>) {
    const STEP: Duration = Duration::from_millis(1);
    loop {
        let before = Instant::now();
        tokio::time::sleep(STEP).await;
        let late = before.elapsed().saturating_sub(STEP);
        let us = late.as_micros().min(u128::from(u64::MAX)) as u64;
        sh.stats
            .runtime_stall_max_us
            .fetch_max(us, Ordering::Relaxed);
    }
}

async fn progress_loop(sh: Arc<Shared>, total: u64) {
    let start = Instant::now();
    let mut last = sh.stats.counters();
    let mut tick = tokio::time::interval_at(start + Duration::from_secs(1), Duration::from_secs(1));
    loop {
        tick.tick().await;
        let now = sh.stats.counters();
        let st = &sh.stats;
        let p99 = st
            .latency
            .quantile(0.99)
            .map(|us| format!("{:.2} ms", us as f64 / 1e3))
            .unwrap_or_else(|| "-".into());
        eprintln!(
            "[{:>4.0}s] conn {}/{} auth {} held {} | submit {}/s acc {}/s rej {}/s | p99 {} | timeouts {} failed {}",
            start.elapsed().as_secs_f64(),
            Stats::get(&st.connected),
            total,
            Stats::get(&st.authorized),
            Stats::get(&st.held),
            now.submitted - last.submitted,
            now.accepted - last.accepted,
            now.rejected - last.rejected,
            p99,
            now.timeouts,
            Stats::get(&st.failed_before_auth),
        );
        last = now;
    }
}

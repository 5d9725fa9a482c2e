//! A complete CPU stratum v1 miner: handshake, job tracking, multi-threaded hashing on plain
//! `std::thread`s (never on tokio workers) and share submission with accept/reject accounting.

use crate::client::{error_text, ClientError, StratumClient};
use crate::work::{self, Job};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::collections::{HashMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// How long to wait for each handshake reply, because a silent server must not hang a test.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(30);

/// The version-rolling mask the miner asks for, the one ASIC firmware commonly requests.
pub const REQUESTED_VERSION_MASK: u32 = 0x1fff_e000;

/// Shares are only submitted when they beat the difficulty by this factor, so that rounding in
/// the server's difficulty arithmetic can never turn a submitted share into a reject.
pub const SUBMIT_MARGIN: f64 = 1.001;

/// Nonces hashed between checks for new work or shutdown (also the stats update unit).
const NONCE_BATCH: u64 = 4096;

/// How many recent job ids are kept as valid between clean jobs.
const MAX_VALID_JOBS: usize = 64;

/// Capacity of the found-share channel; shares beyond it are dropped (and counted).
const SHARE_CHANNEL: usize = 1024;

/// Everything `run_miner` needs to know, so the binary, tests and `stratumd --demo` configure
/// a miner the same way.
#[derive(Clone, Debug)]
pub struct MinerConfig {
    /// The stratum server to connect to.
    pub server: SocketAddr,
    /// Username for `mining.authorize` and `mining.submit` (often a payout address).
    pub username: String,
    /// Password for `mining.authorize` (usually ignored by servers).
    pub password: String,
    /// User agent sent in `mining.subscribe`.
    pub user_agent: String,
    /// Number of hashing threads (at least one is used).
    pub threads: usize,
    /// Whether to negotiate BIP310 version rolling with `mining.configure`.
    pub version_rolling: bool,
    /// Difficulty to request with `mining.suggest_difficulty` after authorizing.
    pub suggest_difficulty: Option<f64>,
}

/// Live counters of a running miner, shared with whoever started it (tests, status lines).
#[derive(Default, Debug)]
pub struct MinerStats {
    /// Shares the server accepted.
    pub accepted: AtomicU64,
    /// Shares the server rejected.
    pub rejected: AtomicU64,
    /// Header hashes computed.
    pub hashes: AtomicU64,
    /// Shares sent with `mining.submit`.
    pub submitted: AtomicU64,
    /// `mining.notify` messages received (and parsed).
    pub jobs_received: AtomicU64,
    /// `mining.notify` messages with `clean_jobs = true`.
    pub clean_jobs_received: AtomicU64,
    /// Shares found by hashing threads (before staleness filtering).
    pub shares_found: AtomicU64,
    /// Found shares dropped because their job was cleaned before they could be submitted.
    pub stale_dropped: AtomicU64,
    /// `mining.notify` messages that could not be parsed.
    pub bad_notifies: AtomicU64,
    /// Latest difficulty from `mining.set_difficulty`, as `f64::to_bits` (0 = none yet).
    pub difficulty_bits: AtomicU64,
    /// Reject reason → count, from `reject-reason` or the reply's error message.
    pub reject_reasons: Mutex<HashMap<String, u64>>,
}

/// A plain copy of [`MinerStats`] at one instant, for printing and assertions.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct MinerStatsSnapshot {
    /// See [`MinerStats::accepted`].
    pub accepted: u64,
    /// See [`MinerStats::rejected`].
    pub rejected: u64,
    /// See [`MinerStats::hashes`].
    pub hashes: u64,
    /// See [`MinerStats::submitted`].
    pub submitted: u64,
    /// See [`MinerStats::jobs_received`].
    pub jobs_received: u64,
    /// See [`MinerStats::clean_jobs_received`].
    pub clean_jobs_received: u64,
    /// See [`MinerStats::shares_found`].
    pub shares_found: u64,
    /// See [`MinerStats::stale_dropped`].
    pub stale_dropped: u64,
    /// See [`MinerStats::bad_notifies`].
    pub bad_notifies: u64,
    /// Latest difficulty set by the server (0.0 if none yet).
    pub difficulty: f64,
}

impl MinerStats {
    /// Reads all counters at once, because assertions and status lines want plain numbers.
    pub fn snapshot(&self) -> MinerStatsSnapshot {
        let r = |a: &AtomicU64| a.load(Ordering::Relaxed);
        MinerStatsSnapshot {
            accepted: r(&self.accepted),
            rejected: r(&self.rejected),
            hashes: r(&self.hashes),
            submitted: r(&self.submitted),
            jobs_received: r(&self.jobs_received),
            clean_jobs_received: r(&self.clean_jobs_received),
            shares_found: r(&self.shares_found),
            stale_dropped: r(&self.stale_dropped),
            bad_notifies: r(&self.bad_notifies),
            difficulty: f64::from_bits(r(&self.difficulty_bits)),
        }
    }

    /// A copy of the reject-reason counts, because the server's reasons are part of what tests
    /// check.
    pub fn reject_reasons(&self) -> HashMap<String, u64> {
        match self.reject_reasons.lock() {
            Ok(m) => m.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    fn record_reject(&self, reason: String) {
        self.rejected.fetch_add(1, Ordering::Relaxed);
        let mut m = match self.reject_reasons.lock() {
            Ok(m) => m,
            Err(poisoned) => poisoned.into_inner(),
        };
        *m.entry(reason).or_insert(0) += 1;
    }
}

/// Why a miner stopped, typed so callers can distinguish a refused login from a network drop.
#[derive(Debug, thiserror::Error)]
pub enum MinerError {
    /// The connection failed, closed or timed out.
    #[error("stratum connection: {0}")]
    Client(#[from] ClientError),
    /// A handshake step got an error reply or a malformed result.
    #[error("{method} failed: {detail}")]
    Handshake {
        /// The request that failed.
        method: &'static str,
        /// The server's error or what was malformed.
        detail: String,
    },
    /// `mining.authorize` was answered with something other than `true`.
    #[error("authorization refused for {user}: {detail}")]
    Unauthorized {
        /// The username that was refused.
        user: String,
        /// The server's reply.
        detail: String,
    },
    /// A hashing thread could not be started or panicked.
    #[error("mining thread: {0}")]
    Thread(String),
}

/// Everything a hashing thread needs for one job, fixed at the moment the notify arrived.
#[derive(Debug)]
struct Work {
    job: Job,
    extranonce1: Vec<u8>,
    extranonce2_size: usize,
    difficulty: f64,
    /// `Some(mask)` when version rolling was negotiated (and the mask is non-zero).
    version_mask: Option<u32>,
}

/// A share found by a hashing thread, on its way to `mining.submit`.
#[derive(Debug)]
struct FoundShare {
    job_id: String,
    extranonce2: Vec<u8>,
    ntime: u32,
    nonce: u32,
    version_bits: Option<u32>,
}

/// The current work, shared between the async side and the hashing threads.
#[derive(Default)]
struct WorkSlot {
    /// Bumped on every new job; threads poll it to drop old work promptly.
    generation: AtomicU64,
    stop: AtomicBool,
    current: Mutex<Option<(u64, Arc<Work>)>>,
    changed: Condvar,
}

impl WorkSlot {
    fn publish(&self, work: Work) {
        let mut cur = match self.current.lock() {
            Ok(c) => c,
            Err(p) => p.into_inner(),
        };
        let gen = self.generation.load(Ordering::Relaxed) + 1;
        *cur = Some((gen, Arc::new(work)));
        self.generation.store(gen, Ordering::Release);
        self.changed.notify_all();
    }

    fn stop(&self) {
        let _guard = self.current.lock();
        self.stop.store(true, Ordering::Release);
        self.changed.notify_all();
    }

    /// Blocks until there is work newer than `seen`, or returns `None` on stop.
    fn wait_newer(&self, seen: u64) -> Option<(u64, Arc<Work>)> {
        let mut cur = match self.current.lock() {
            Ok(c) => c,
            Err(p) => p.into_inner(),
        };
        loop {
            if self.stop.load(Ordering::Acquire) {
                return None;
            }
            if let Some((gen, work)) = cur.as_ref() {
                if *gen != seen {
                    return Some((*gen, Arc::clone(work)));
                }
            }
            cur = match self.changed.wait_timeout(cur, Duration::from_millis(200)) {
                Ok((c, _)) => c,
                Err(p) => p.into_inner().0,
            };
        }
    }

    fn should_switch(&self, gen: u64) -> bool {
        self.stop.load(Ordering::Relaxed) || self.generation.load(Ordering::Relaxed) != gen
    }
}

/// Spreads the low bits of `counter` into the set bits of `mask` (a software PDEP), so that a
/// simple counter enumerates version-rolling values inside the negotiated mask.
fn deposit_bits(mut counter: u32, mask: u32) -> u32 {
    let mut out = 0u32;
    let mut m = mask;
    while m != 0 && counter != 0 {
        let lowest = m & m.wrapping_neg();
        if counter & 1 == 1 {
            out |= lowest;
        }
        counter >>= 1;
        m &= m - 1;
    }
    out
}

/// Encodes an extranonce2 counter big-endian into `size` bytes (high bytes zero).
fn encode_extranonce2(counter: u64, size: usize) -> Vec<u8> {
    let mut out = vec![0u8; size];
    crate::work::encode_extranonce2_into(counter, &mut out);
    out
}

/// Hashes one job on one thread until the work changes, shutdown, or the space is exhausted.
fn mine_work(
    thread_idx: usize,
    threads: usize,
    gen: u64,
    work: &Work,
    slot: &WorkSlot,
    shares: &mpsc::Sender<FoundShare>,
    stats: &MinerStats,
) {
    let job = &work.job;
    let submit_diff = work.difficulty * SUBMIT_MARGIN;
    let top = work::target_top_u64(submit_diff);
    let en2_space: u64 = if work.extranonce2_size >= 8 {
        u64::MAX
    } else {
        1u64 << (8 * work.extranonce2_size)
    };
    // Number of version-rolling values per extranonce2 (counter 1..=rolls).
    let rolls: u32 = match work.version_mask {
        Some(mask) => {
            let bits = mask.count_ones().min(16);
            (1u32 << bits) - 1
        }
        None => 1,
    };
    let mut en2_counter = thread_idx as u64;
    while en2_counter < en2_space {
        let extranonce2 = encode_extranonce2(en2_counter, work.extranonce2_size);
        let root = job.merkle_root(&work.extranonce1, &extranonce2);
        for roll in 1..=rolls {
            let (version, version_bits) = match work.version_mask {
                Some(mask) => {
                    let bits = deposit_bits(roll, mask);
                    (work::rolled_version(job.version, mask, bits), Some(bits))
                }
                None => (job.version, None),
            };
            let header = job.header_with_root(&root, job.ntime, 0, version);
            let mut midstate = Sha256::new();
            midstate.update(&header[..64]);
            let mut tail = [0u8; 16];
            tail.copy_from_slice(&header[64..80]);
            let mut nonce: u64 = 0;
            while nonce <= u64::from(u32::MAX) {
                let end = (nonce + NONCE_BATCH).min(1u64 << 32);
                for n in nonce..end {
                    let n = n as u32;
                    tail[12..16].copy_from_slice(&n.to_le_bytes());
                    let mut h = midstate.clone();
                    h.update(tail);
                    let first = h.finalize();
                    let hash: [u8; 32] = Sha256::digest(first).into();
                    if work::hash_top_u64(&hash) <= top && work::meets(&hash, submit_diff) {
                        stats.shares_found.fetch_add(1, Ordering::Relaxed);
                        let share = FoundShare {
                            job_id: job.job_id.clone(),
                            extranonce2: extranonce2.clone(),
                            ntime: job.ntime,
                            nonce: n,
                            version_bits,
                        };
                        if shares.try_send(share).is_err() {
                            if shares.is_closed() {
                                return;
                            }
                            stats.stale_dropped.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
                stats.hashes.fetch_add(end - nonce, Ordering::Relaxed);
                if slot.should_switch(gen) {
                    return;
                }
                nonce = end;
            }
        }
        en2_counter = match en2_counter.checked_add(threads as u64) {
            Some(c) => c,
            None => return,
        };
    }
}

fn mining_thread(
    thread_idx: usize,
    threads: usize,
    slot: Arc<WorkSlot>,
    shares: mpsc::Sender<FoundShare>,
    stats: Arc<MinerStats>,
) {
    let mut seen = 0u64;
    while let Some((gen, work)) = slot.wait_newer(seen) {
        seen = gen;
        mine_work(thread_idx, threads, gen, &work, &slot, &shares, &stats);
        if shares.is_closed() {
            return;
        }
    }
}

/// Connection-level state of the async side.
struct Session {
    username: String,
    extranonce1: Vec<u8>,
    extranonce2_size: usize,
    difficulty: f64,
    version_mask: Option<u32>,
    valid_jobs: VecDeque<String>,
    pending_submits: HashSet<u64>,
}

impl Session {
    fn handle_notification(
        &mut self,
        method: &str,
        msg: &Value,
        slot: &WorkSlot,
        stats: &MinerStats,
    ) {
        let params = msg.get("params").unwrap_or(&Value::Null);
        match method {
            "mining.notify" => match Job::from_notify_params(params) {
                Ok(job) => {
                    stats.jobs_received.fetch_add(1, Ordering::Relaxed);
                    if job.clean_jobs {
                        stats.clean_jobs_received.fetch_add(1, Ordering::Relaxed);
                        self.valid_jobs.clear();
                    }
                    self.valid_jobs.push_back(job.job_id.clone());
                    while self.valid_jobs.len() > MAX_VALID_JOBS {
                        self.valid_jobs.pop_front();
                    }
                    tracing::debug!(job_id = %job.job_id, clean = job.clean_jobs, "new job");
                    slot.publish(Work {
                        job,
                        extranonce1: self.extranonce1.clone(),
                        extranonce2_size: self.extranonce2_size,
                        difficulty: self.difficulty,
                        version_mask: self.version_mask,
                    });
                }
                Err(e) => {
                    stats.bad_notifies.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!("ignoring malformed mining.notify: {e}");
                }
            },
            "mining.set_difficulty" => match params.get(0).and_then(Value::as_f64) {
                Some(d) if d.is_finite() && d > 0.0 => {
                    self.difficulty = d;
                    stats.difficulty_bits.store(d.to_bits(), Ordering::Relaxed);
                }
                _ => tracing::warn!("ignoring bad mining.set_difficulty {params}"),
            },
            "mining.set_version_mask" => {
                match params
                    .get(0)
                    .and_then(Value::as_str)
                    .and_then(work::parse_u32_hex)
                {
                    Some(mask) => {
                        if self.version_mask.is_some() {
                            let m = mask & REQUESTED_VERSION_MASK;
                            self.version_mask = (m != 0).then_some(m);
                        }
                    }
                    None => tracing::warn!("ignoring bad mining.set_version_mask {params}"),
                }
            }
            "mining.set_extranonce" => {
                let en1 = params
                    .get(0)
                    .and_then(Value::as_str)
                    .and_then(|s| hex::decode(s).ok());
                let size = params.get(1).and_then(Value::as_u64);
                match (en1, size) {
                    (Some(en1), Some(size)) if size <= 32 => {
                        self.extranonce1 = en1;
                        self.extranonce2_size = size as usize;
                    }
                    _ => tracing::warn!("ignoring bad mining.set_extranonce {params}"),
                }
            }
            "client.show_message" => tracing::info!("server message: {params}"),
            "client.reconnect" => {
                tracing::info!("server asked to reconnect ({params}); reconnect is not supported")
            }
            other => tracing::debug!("ignoring notification {other}"),
        }
    }

    fn handle_reply(&mut self, msg: &Value, stats: &MinerStats) {
        let Some(id) = msg.get("id").and_then(Value::as_u64) else {
            return;
        };
        if !self.pending_submits.remove(&id) {
            return;
        }
        if msg.get("result") == Some(&Value::Bool(true)) && error_text(msg).is_none() {
            stats.accepted.fetch_add(1, Ordering::Relaxed);
        } else {
            let reason = msg
                .get("reject-reason")
                .and_then(Value::as_str)
                .map(str::to_string)
                .or_else(|| error_text(msg))
                .unwrap_or_else(|| "unknown".to_string());
            tracing::debug!("share rejected: {reason}");
            stats.record_reject(reason);
        }
    }
}

async fn handshake_request(
    client: &mut StratumClient,
    method: &'static str,
    params: Value,
) -> Result<Value, MinerError> {
    let id = client.request(method, params).await?;
    Ok(client.wait_reply(id, HANDSHAKE_TIMEOUT).await?)
}

/// Runs one miner until `shutdown` is cancelled (returns `Ok`) or the connection fails
/// (returns the error), because tests and `stratumd --demo` need a real miner driving the
/// server. Counters are updated live in `stats`.
pub async fn run_miner(
    config: MinerConfig,
    stats: Arc<MinerStats>,
    shutdown: CancellationToken,
) -> Result<(), MinerError> {
    let mut client = tokio::select! {
        _ = shutdown.cancelled() => return Ok(()),
        c = StratumClient::connect(config.server) => c?,
    };
    let session = tokio::select! {
        _ = shutdown.cancelled() => return Ok(()),
        s = handshake(&mut client, &config) => s?,
    };
    mine(&mut client, session, &config, &stats, &shutdown).await
}

/// configure (optional), subscribe, authorize, suggest_difficulty (optional).
async fn handshake(
    client: &mut StratumClient,
    config: &MinerConfig,
) -> Result<Session, MinerError> {
    // mining.configure (optional).
    let mut version_mask = None;
    if config.version_rolling {
        let reply = handshake_request(
            client,
            "mining.configure",
            json!([["version-rolling"], {
                "version-rolling.mask": work::u32_hex(REQUESTED_VERSION_MASK),
                "version-rolling.min-bit-count": 2
            }]),
        )
        .await?;
        let result = reply.get("result").unwrap_or(&Value::Null);
        if result.get("version-rolling") == Some(&Value::Bool(true)) {
            let mask = result
                .get("version-rolling.mask")
                .and_then(Value::as_str)
                .and_then(work::parse_u32_hex)
                .ok_or_else(|| MinerError::Handshake {
                    method: "mining.configure",
                    detail: format!("no valid version-rolling.mask in {reply}"),
                })?
                & REQUESTED_VERSION_MASK;
            version_mask = (mask != 0).then_some(mask);
        } else {
            tracing::info!("server did not grant version rolling: {reply}");
        }
    }

    // mining.subscribe.
    let reply = handshake_request(client, "mining.subscribe", json!([config.user_agent])).await?;
    if let Some(err) = error_text(&reply) {
        return Err(MinerError::Handshake {
            method: "mining.subscribe",
            detail: err,
        });
    }
    let result = reply.get("result").unwrap_or(&Value::Null);
    let extranonce1 = result
        .get(1)
        .and_then(Value::as_str)
        .and_then(|s| hex::decode(s).ok());
    let extranonce2_size = result.get(2).and_then(Value::as_u64).filter(|&n| n <= 32);
    let (Some(extranonce1), Some(extranonce2_size)) = (extranonce1, extranonce2_size) else {
        return Err(MinerError::Handshake {
            method: "mining.subscribe",
            detail: format!("malformed result in {reply}"),
        });
    };

    // mining.authorize.
    let reply = handshake_request(
        client,
        "mining.authorize",
        json!([config.username, config.password]),
    )
    .await?;
    if reply.get("result") != Some(&Value::Bool(true)) {
        return Err(MinerError::Unauthorized {
            user: config.username.clone(),
            detail: reply.to_string(),
        });
    }

    // mining.suggest_difficulty (optional; the reply, if any, is ignored).
    if let Some(d) = config.suggest_difficulty {
        client
            .request("mining.suggest_difficulty", json!([d]))
            .await?;
    }

    Ok(Session {
        username: config.username.clone(),
        extranonce1,
        extranonce2_size: extranonce2_size as usize,
        difficulty: 1.0,
        version_mask,
        valid_jobs: VecDeque::new(),
        pending_submits: HashSet::new(),
    })
}

/// Runs the hashing threads and the message loop until shutdown or a connection error, then
/// stops and joins the threads.
async fn mine(
    client: &mut StratumClient,
    mut session: Session,
    config: &MinerConfig,
    stats: &Arc<MinerStats>,
    shutdown: &CancellationToken,
) -> Result<(), MinerError> {
    // Hashing threads.
    let threads = config.threads.max(1);
    let slot = Arc::new(WorkSlot::default());
    let (share_tx, mut share_rx) = mpsc::channel::<FoundShare>(SHARE_CHANNEL);
    let mut handles = Vec::with_capacity(threads);
    for idx in 0..threads {
        let (t_slot, tx, t_stats) = (Arc::clone(&slot), share_tx.clone(), Arc::clone(stats));
        let spawned = std::thread::Builder::new()
            .name(format!("stratum-miner-{idx}"))
            .spawn(move || mining_thread(idx, threads, t_slot, tx, t_stats));
        match spawned {
            Ok(h) => handles.push(h),
            Err(e) => {
                slot.stop();
                return Err(MinerError::Thread(e.to_string()));
            }
        }
    }
    drop(share_tx);
    // Stops the threads however this function exits (error, shutdown or cancellation).
    let _stop_guard = StopOnDrop(Arc::clone(&slot));

    let result = loop {
        tokio::select! {
            _ = shutdown.cancelled() => break Ok(()),
            msg = client.recv() => {
                let msg = match msg {
                    Ok(m) => m,
                    Err(ClientError::InvalidJson { line, source }) => {
                        tracing::warn!("ignoring non-JSON line from server ({source}): {line}");
                        continue;
                    }
                    Err(e) => break Err(MinerError::Client(e)),
                };
                match msg.get("method").and_then(Value::as_str) {
                    Some("mining.ping") => {
                        let id = msg.get("id").cloned().unwrap_or(Value::Null);
                        if let Err(e) = client.send(&json!({"id": id, "result": "pong", "error": null})).await {
                            break Err(e.into());
                        }
                    }
                    Some(method) => session.handle_notification(method, &msg, &slot, stats),
                    None => session.handle_reply(&msg, stats),
                }
            }
            share = share_rx.recv() => {
                let Some(share) = share else {
                    break Err(MinerError::Thread("all hashing threads exited".into()));
                };
                if !session.valid_jobs.contains(&share.job_id) {
                    stats.stale_dropped.fetch_add(1, Ordering::Relaxed);
                    continue;
                }
                let mut params = vec![
                    json!(session.username),
                    json!(share.job_id),
                    json!(hex::encode(&share.extranonce2)),
                    json!(work::u32_hex(share.ntime)),
                    json!(work::u32_hex(share.nonce)),
                ];
                if let Some(bits) = share.version_bits {
                    params.push(json!(work::u32_hex(bits)));
                }
                match client.request("mining.submit", Value::Array(params)).await {
                    Ok(id) => {
                        session.pending_submits.insert(id);
                        stats.submitted.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(e) => break Err(e.into()),
                }
            }
        }
    };

    slot.stop();
    drop(share_rx);
    let joined = tokio::task::spawn_blocking(move || {
        // Join every thread (no short-circuit), then report whether all exited cleanly.
        let results: Vec<bool> = handles.into_iter().map(|h| h.join().is_ok()).collect();
        results.into_iter().all(|ok| ok)
    })
    .await;
    match (result, joined) {
        (Err(e), _) => Err(e),
        (Ok(()), Ok(true)) => Ok(()),
        (Ok(()), _) => Err(MinerError::Thread("a hashing thread panicked".into())),
    }
}

/// Stops hashing threads when dropped, so a cancelled `run_miner` future never leaves them
/// spinning.
struct StopOnDrop(Arc<WorkSlot>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.stop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deposit_bits_fills_mask_from_lowest_bit() {
        let mask = 0x1fff_e000;
        assert_eq!(deposit_bits(0, mask), 0);
        assert_eq!(deposit_bits(1, mask), 0x0000_2000);
        assert_eq!(deposit_bits(2, mask), 0x0000_4000);
        assert_eq!(deposit_bits(0xffff, mask), 0x1fff_e000);
        assert_eq!(deposit_bits(0x1_ffff, mask), 0x1fff_e000);
        for c in 0..1000 {
            assert_eq!(deposit_bits(c, mask) & !mask, 0);
        }
    }

    #[test]
    fn extranonce2_encoding() {
        assert_eq!(hex::encode(encode_extranonce2(1, 8)), "0000000000000001");
        assert_eq!(hex::encode(encode_extranonce2(0x0102, 4)), "00000102");
        assert_eq!(hex::encode(encode_extranonce2(0x0102, 1)), "02");
        assert_eq!(
            hex::encode(encode_extranonce2(5, 10)),
            "00000000000000000005"
        );
        assert!(encode_extranonce2(5, 0).is_empty());
    }

    #[test]
    fn error_text_forms() {
        assert_eq!(error_text(&json!({"error": null})), None);
        assert_eq!(
            error_text(&json!({"error": [23, "Low difficulty share", null]})).as_deref(),
            Some("Low difficulty share")
        );
        assert_eq!(
            error_text(&json!({"error": "Stale"})).as_deref(),
            Some("Stale")
        );
    }
}

//! One miner connection: connect (from a chosen source address), run the firmware handshake,
//! follow jobs and difficulty, submit shares at its share of the aggregate rate, and record
//! every reply.

use super::config::{Firmware, Mode};
use super::fanout::FanoutState;
use super::handshake::{Step, FIRST_SUBMIT_ID};
use super::job_cache::{DecodedJob, JobCache};
use super::stats::Stats;
use super::wire::Incoming;
use serde_json::value::RawValue;
use serde_json::Value;
use std::collections::VecDeque;
use std::io::Write as _;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use stratum_miner::client::{error_field_text, error_text};
use stratum_miner::hash::sha256d;
use stratum_miner::work;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpSocket;
use tokio::time::{Instant, Interval, MissedTickBehavior};
use tokio_util::sync::CancellationToken;

/// Longest line accepted from a server.
const MAX_LINE: usize = 1 << 20;

/// Read buffer per connection (small, so that tens of thousands of connections fit).
const READ_BUFFER: usize = 1024;

/// Shortest submit tick; faster per-connection rates submit several shares per tick.
const MIN_TICK: Duration = Duration::from_millis(5);

/// Longest extranonce2 a connection rolls (servers give 2 to 8 bytes).
const MAX_EN2: usize = 32;

/// Shares must beat the server's difficulty by this factor, against rounding.
const SUBMIT_MARGIN: f64 = 1.001;

/// Settings and counters shared by all connection tasks.
#[derive(Debug)]
pub struct Shared {
    /// Handshake style.
    pub firmware: Firmware,
    /// How shares are made.
    pub mode: Mode,
    /// Password for authorize.
    pub pass: String,
    /// Target shares per second of one connection.
    pub per_conn_rate: f64,
    /// Mine mode hash budget per share.
    pub max_hashes: u64,
    /// Unanswered submits allowed per connection.
    pub max_in_flight: usize,
    /// Handshake deadline.
    pub handshake_timeout: Duration,
    /// Submit reply deadline.
    pub submit_timeout: Duration,
    /// Counters.
    pub stats: Stats,
    /// Block fan-out recording.
    pub fanout: FanoutState,
    /// Notifies decoded once for all connections.
    pub jobs: JobCache,
    /// Stops every connection.
    pub cancel: CancellationToken,
}

/// What one connection is.
#[derive(Debug, Clone)]
pub struct ConnParams {
    /// Index (also seeds its submit phase).
    pub index: u64,
    /// Server.
    pub target: SocketAddr,
    /// Local address to bind, if any.
    pub source: Option<Ipv4Addr>,
    /// Username.
    pub username: String,
}

struct CurJob {
    shared: Arc<DecodedJob>,
    diff: f64,
}

struct Conn<'a> {
    sh: &'a Shared,
    en1: Option<Vec<u8>>,
    en2_size: usize,
    mask: Option<u32>,
    authorized: bool,
    diff: f64,
    job: Option<CurJob>,
    counter: u64,
    pending: VecDeque<(u64, Instant)>,
    next_id: u64,
    credit: f64,
    prefix: Vec<u8>,
    out: Vec<u8>,
}

/// Runs one connection until cancelled or it fails; failures are counted by kind.
pub async fn run_conn(sh: std::sync::Arc<Shared>, p: ConnParams) {
    let mut authorized = false;
    if let Err(kind) = session(&sh, &p, &mut authorized).await {
        sh.stats.error(&kind);
    }
    if authorized {
        sh.stats.down();
    } else {
        sh.stats.failed_before_auth.fetch_add(1, Ordering::Relaxed);
    }
}

async fn connect(sh: &Shared, p: &ConnParams) -> Result<tokio::net::TcpStream, String> {
    let sock = match p.target {
        SocketAddr::V4(_) => TcpSocket::new_v4(),
        SocketAddr::V6(_) => TcpSocket::new_v6(),
    }
    .map_err(|e| format!("socket: {}", e.kind()))?;
    if let Some(ip) = p.source {
        sock.bind(SocketAddr::V4(SocketAddrV4::new(ip, 0)))
            .map_err(|e| format!("bind {ip}: {}", e.kind()))?;
    }
    let stream = tokio::time::timeout(sh.handshake_timeout, sock.connect(p.target))
        .await
        .map_err(|_| "connect timeout".to_string())?
        .map_err(|e| format!("connect: {}", e.kind()))?;
    let _ = stream.set_nodelay(true);
    Ok(stream)
}

/// Reads one line into `buf` (appending), cancel-safe: partial data stays in `buf`.
/// Returns false at end of stream.
async fn read_line(r: &mut BufReader<OwnedReadHalf>, buf: &mut Vec<u8>) -> Result<bool, String> {
    loop {
        let avail = r
            .fill_buf()
            .await
            .map_err(|e| format!("read: {}", e.kind()))?;
        if avail.is_empty() {
            return Ok(false);
        }
        if let Some(i) = avail.iter().position(|&b| b == b'\n') {
            buf.extend_from_slice(&avail[..=i]);
            r.consume(i + 1);
            return Ok(true);
        }
        let n = avail.len();
        buf.extend_from_slice(avail);
        r.consume(n);
        if buf.len() > MAX_LINE {
            return Err("line too long".into());
        }
    }
}

async fn tick(i: &mut Option<Interval>) {
    match i {
        Some(i) => {
            i.tick().await;
        }
        None => std::future::pending().await,
    }
}

/// A small deterministic hash, to spread submit phases.
fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

async fn session(sh: &Shared, p: &ConnParams, authorized: &mut bool) -> Result<(), String> {
    let stream = tokio::select! {
        _ = sh.cancel.cancelled() => return Ok(()),
        s = connect(sh, p) => s?,
    };
    sh.stats.connected.fetch_add(1, Ordering::Relaxed);
    let (r, mut w) = stream.into_split();
    let mut reader = BufReader::with_capacity(READ_BUFFER, r);
    let hs = sh.firmware.handshake(&p.username, &sh.pass);
    let mut c = Conn {
        sh,
        en1: None,
        en2_size: 0,
        mask: None,
        authorized: false,
        diff: 1.0,
        job: None,
        counter: 0,
        pending: VecDeque::new(),
        next_id: FIRST_SUBMIT_ID,
        credit: 0.0,
        prefix: format!(
            "{{\"method\":\"mining.submit\",\"params\":[{},",
            Value::String(p.username.clone())
        )
        .into_bytes(),
        out: Vec::with_capacity(256),
    };
    // Write the handshake: everything at once (pipelined) or the first request only.
    let mut sent = 0;
    while sent < hs.requests.len() && (hs.pipelined || sent == 0) {
        c.out.extend_from_slice(hs.requests[sent].2.as_bytes());
        sent += 1;
    }
    write(&mut w, &mut c.out).await?;

    // Made once: a new timer per loop round cost a runtime-handle clone per reply.
    let mut hs_deadline = std::pin::pin!(tokio::time::sleep(sh.handshake_timeout));
    let mut ticker: Option<Interval> = None;
    let mut buf: Vec<u8> = Vec::with_capacity(256);
    // One wait on the stop signal for the whole connection: a new one per round would join and
    // leave the shared waiter list (a lock) on every reply.
    let mut cancelled = std::pin::pin!(sh.cancel.cancelled());
    loop {
        tokio::select! {
            biased;
            _ = &mut cancelled => break,
            r = read_line(&mut reader, &mut buf) => {
                if !r? {
                    return Err(if c.authorized { "closed by server" } else { "closed during handshake" }.into());
                }
                // Stamped before parsing: the fan-out figure is when the bytes arrived.
                let at = Instant::now();
                let handled = Incoming::parse(buf.trim_ascii()).is_some_and(|m| c.fast_path(&m, at));
                let msg: Option<Value> = if handled {
                    None
                } else {
                    serde_json::from_slice(buf.trim_ascii()).ok()
                };
                let empty = handled || buf.trim_ascii().is_empty();
                buf.clear();
                if buf.capacity() > 16 * 1024 {
                    buf = Vec::with_capacity(256);
                }
                let Some(msg) = msg else {
                    if !empty {
                        sh.stats.error("invalid JSON line (ignored)");
                    }
                    continue;
                };
                if let Some(step) = c.handle(&msg, &hs.requests, &mut w).await? {
                    if !hs.pipelined && sent < hs.requests.len() && hs.requests[sent - 1].1 == step {
                        c.out.extend_from_slice(hs.requests[sent].2.as_bytes());
                        sent += 1;
                        write(&mut w, &mut c.out).await?;
                    }
                    if step == Step::Authorize && c.authorized && !*authorized {
                        *authorized = true;
                        sh.stats.up();
                        if sh.per_conn_rate > 0.0 {
                            let period = Duration::from_secs_f64(1.0 / sh.per_conn_rate).max(MIN_TICK);
                            let frac = (splitmix(p.index) >> 11) as f64 / (1u64 << 53) as f64;
                            let start = Instant::now() + period.mul_f64(frac);
                            let mut i = tokio::time::interval_at(start, period);
                            i.set_missed_tick_behavior(MissedTickBehavior::Skip);
                            c.credit = 0.0;
                            ticker = Some(i);
                        }
                    }
                }
            }
            _ = tick(&mut ticker) => {
                let period = ticker.as_ref().map(|i| i.period()).unwrap_or(MIN_TICK);
                c.credit += sh.per_conn_rate * period.as_secs_f64();
                c.expire_pending();
                let mut n = 0;
                while c.credit >= 1.0 {
                    c.credit -= 1.0;
                    if c.pending.len() >= sh.max_in_flight {
                        sh.stats.skipped_in_flight.fetch_add(1, Ordering::Relaxed);
                        continue;
                    }
                    if c.push_submit() {
                        n += 1;
                    }
                }
                if n > 0 {
                    let now = Instant::now();
                    for e in c.pending.iter_mut().rev().take(n as usize) {
                        e.1 = now;
                    }
                    sh.stats.submitted.fetch_add(n, Ordering::Relaxed);
                    write(&mut w, &mut c.out).await?;
                }
            }
            _ = &mut hs_deadline, if !c.authorized => {
                return Err("handshake timeout".into());
            }
        }
    }
    Ok(())
}

async fn write(w: &mut OwnedWriteHalf, out: &mut Vec<u8>) -> Result<(), String> {
    if out.is_empty() {
        return Ok(());
    }
    let r = w.write_all(out).await;
    out.clear();
    r.map_err(|e| format!("write: {}", e.kind()))
}

impl Conn<'_> {
    /// Handles one message; returns the handshake step it answered, if any.
    async fn handle(
        &mut self,
        msg: &Value,
        reqs: &[(u64, Step, String)],
        w: &mut OwnedWriteHalf,
    ) -> Result<Option<Step>, String> {
        let stats = &self.sh.stats;
        if let Some(method) = msg.get("method").and_then(Value::as_str) {
            let params = msg.get("params").unwrap_or(&Value::Null);
            match method {
                // The fast path reads every notify it can decode.
                "mining.notify" => stats.error("malformed mining.notify (ignored)"),
                "mining.set_difficulty" => match params.get(0).and_then(Value::as_f64) {
                    Some(d) if d.is_finite() && d > 0.0 => {
                        self.diff = d;
                        stats
                            .last_difficulty_bits
                            .store(d.to_bits(), Ordering::Relaxed);
                    }
                    _ => stats.error("bad mining.set_difficulty (ignored)"),
                },
                "mining.set_version_mask" => {
                    if let (Some(m), Some(req)) = (
                        params
                            .get(0)
                            .and_then(Value::as_str)
                            .and_then(work::parse_u32_hex),
                        self.sh.firmware.requested_mask(),
                    ) {
                        self.mask = Some(m & req);
                    }
                }
                "mining.set_extranonce" => {
                    let en1 = params
                        .get(0)
                        .and_then(Value::as_str)
                        .and_then(|s| hex::decode(s).ok());
                    match (en1, params.get(1).and_then(Value::as_u64)) {
                        (Some(en1), Some(n)) if n <= 32 => {
                            self.en1 = Some(en1);
                            self.en2_size = n as usize;
                        }
                        _ => stats.error("bad mining.set_extranonce (ignored)"),
                    }
                }
                "mining.ping" => {
                    let id = msg.get("id").cloned().unwrap_or(Value::Null);
                    self.out
                        .extend_from_slice(self.sh.firmware.ping_answer(&id).as_bytes());
                    write(w, &mut self.out).await?;
                }
                "client.reconnect" => stats.error("client.reconnect (ignored)"),
                _ => {}
            }
            return Ok(None);
        }
        let Some(id) = msg.get("id").and_then(Value::as_u64) else {
            return Ok(None);
        };
        if id >= FIRST_SUBMIT_ID {
            let fields = (
                msg.get("result"),
                msg.get("reject-reason").and_then(Value::as_str),
            );
            let accepted = fields.0 == Some(&Value::Bool(true)) && error_text(msg).is_none();
            self.on_submit_reply(id, accepted, || {
                fields
                    .1
                    .map(str::to_string)
                    .or_else(|| error_text(msg))
                    .unwrap_or_else(|| "unknown".into())
            });
            return Ok(None);
        }
        let Some(&(_, step, _)) = reqs.iter().find(|r| r.0 == id) else {
            return Ok(None);
        };
        let result = msg.get("result").unwrap_or(&Value::Null);
        match step {
            Step::Configure => {
                let granted = result.get("version-rolling") == Some(&Value::Bool(true));
                let mask = result
                    .get("version-rolling.mask")
                    .and_then(Value::as_str)
                    .and_then(work::parse_u32_hex);
                self.mask = match (granted, mask, self.sh.firmware.requested_mask()) {
                    (true, Some(m), Some(req)) => Some(m & req),
                    _ => None,
                };
            }
            Step::Subscribe => {
                if let Some(e) = error_text(msg) {
                    return Err(format!("subscribe refused: {e}"));
                }
                let en1 = result
                    .get(1)
                    .and_then(Value::as_str)
                    .and_then(|s| hex::decode(s).ok());
                let size = result.get(2).and_then(Value::as_u64).filter(|&n| n <= 32);
                match (en1, size) {
                    (Some(en1), Some(size)) => {
                        self.en1 = Some(en1);
                        self.en2_size = size as usize;
                    }
                    _ => return Err("subscribe: malformed result".into()),
                }
            }
            Step::Authorize => {
                if result != &Value::Bool(true) {
                    let why = error_text(msg).unwrap_or_else(|| "result not true".into());
                    return Err(format!("authorize refused: {why}"));
                }
                self.authorized = true;
            }
        }
        Ok(Some(step))
    }

    /// Submit replies and notifies without a `Value` tree; false sends the line down the
    /// general path.
    fn fast_path(&mut self, m: &Incoming<'_>, at: Instant) -> bool {
        match (m.method.as_deref(), m.numeric_id()) {
            // A notify seen before (by any connection) costs a comparison, not a decode.
            (Some("mining.notify"), _) => {
                match m.params.and_then(|p| self.sh.jobs.get_or_decode(p.get())) {
                    Some(shared) => self.on_notify(shared, at),
                    None => self.sh.stats.error("malformed mining.notify (ignored)"),
                }
                true
            }
            (None, Some(id)) if id >= FIRST_SUBMIT_ID => {
                self.on_submit_reply(id, m.is_true(), || match &m.reject_reason {
                    Some(r) => r.to_string(),
                    None => reply_error_text(m.error).unwrap_or_else(|| "unknown".into()),
                });
                true
            }
            _ => false,
        }
    }

    /// Takes a notify's job; records the fan-out arrival of a clean job on a new prevhash.
    fn on_notify(&mut self, shared: Arc<DecodedJob>, at: Instant) {
        let stats = &self.sh.stats;
        stats.notifies.fetch_add(1, Ordering::Relaxed);
        let previous = self.job.as_ref().map(|j| j.shared.prevhash_hex.as_str());
        if shared.job.clean_jobs
            && previous.is_some_and(|p| p != shared.prevhash_hex)
            && self.sh.fanout.armed()
        {
            self.sh.fanout.record(at);
        }
        if previous.is_none() {
            stats.with_job.fetch_add(1, Ordering::Relaxed);
        }
        self.job = Some(CurJob {
            shared,
            diff: self.diff,
        });
    }

    fn on_submit_reply(&mut self, id: u64, accepted: bool, reason: impl FnOnce() -> String) {
        let stats = &self.sh.stats;
        let Some(pos) = self.pending.iter().position(|&(i, _)| i == id) else {
            return; // timed out already, or not ours
        };
        let Some((_, sent)) = self.pending.remove(pos) else {
            return;
        };
        stats
            .latency
            .record(sent.elapsed().as_micros().min(u128::from(u64::MAX)) as u64);
        if accepted {
            stats.accepted.fetch_add(1, Ordering::Relaxed);
        } else {
            stats.reject(&reason());
        }
    }

    fn expire_pending(&mut self) {
        let limit = self.sh.submit_timeout;
        while let Some(&(_, sent)) = self.pending.front() {
            if sent.elapsed() < limit {
                break;
            }
            self.pending.pop_front();
            self.sh.stats.timeouts.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Finds the next share (mine mode: meeting the difficulty) and appends its submit line to
    /// `out`; false when there is no work yet or the hash budget ran out.
    fn push_submit(&mut self) -> bool {
        let (Some(cur), Some(en1)) = (&self.job, &self.en1) else {
            return false;
        };
        let job = &cur.shared.job;
        let six = self.mask.is_some() || self.sh.firmware.always_six_params();
        let vbits = 0u32;
        let version = match self.mask {
            Some(m) => work::rolled_version(job.version, m, vbits),
            None => job.version,
        };
        let ntime = job.ntime;
        let mut en2_buf = [0u8; MAX_EN2];
        let en2 = &mut en2_buf[..self.en2_size.min(MAX_EN2)];
        // The counter's high half picks the extranonce2, its low half the nonce.
        work::encode_extranonce2_into(self.counter >> 32, en2);
        let diff = cur.diff.max(self.diff) * SUBMIT_MARGIN;
        let nonce = if self.sh.mode == Mode::Miss || work::target_top_u64(diff) == u64::MAX {
            // A miss may be any hash, and every hash meets a difficulty this small.
            let n = self.counter as u32;
            self.counter += 1;
            n
        } else {
            let root = job.merkle_root(en1, en2);
            let room = (1u64 << 32) - (self.counter & 0xffff_ffff);
            let budget = self.sh.max_hashes.min(room).max(1);
            let first = self.counter as u32;
            let (tried, found) = search_nonce(job, &root, ntime, version, first, budget, diff);
            self.counter += tried;
            self.sh.stats.hashes.fetch_add(tried, Ordering::Relaxed);
            match found {
                Some(n) => n,
                None => {
                    self.sh.stats.mine_gave_up.fetch_add(1, Ordering::Relaxed);
                    return false;
                }
            }
        };
        let id = self.next_id;
        self.next_id += 1;
        let out = &mut self.out;
        out.extend_from_slice(&self.prefix);
        out.extend_from_slice(cur.shared.job_id_json.as_bytes());
        out.extend_from_slice(b",\"");
        let mut hexbuf = [0u8; 2 * MAX_EN2];
        let hex_en2 = &mut hexbuf[..2 * en2.len()];
        if hex::encode_to_slice(&*en2, hex_en2).is_ok() {
            out.extend_from_slice(hex_en2);
        }
        // Writing into a Vec cannot fail.
        let _ = write!(out, "\",\"{ntime:08x}\",\"{nonce:08x}\"");
        if six {
            let _ = write!(out, ",\"{vbits:08x}\"");
        }
        let _ = writeln!(out, "],\"id\":{id}}}");
        self.pending.push_back((id, Instant::now()));
        true
    }
}

/// Hashes nonces from `first` on, at most `budget` of them, until one meets `diff`: how many
/// were tried, and the nonce found.
fn search_nonce(
    job: &work::Job,
    root: &[u8; 32],
    ntime: u32,
    version: u32,
    first: u32,
    budget: u64,
    diff: f64,
) -> (u64, Option<u32>) {
    let top = work::target_top_u64(diff);
    for k in 0..budget {
        let nonce = first.wrapping_add(k as u32);
        let h = sha256d(&job.header_with_root(root, ntime, nonce, version));
        if work::hash_top_u64(&h) <= top && work::meets(&h, diff) {
            return (k + 1, Some(nonce));
        }
    }
    (budget, None)
}

/// The text of a reply's raw `error` field.
fn reply_error_text(error: Option<&RawValue>) -> Option<String> {
    error_field_text(&serde_json::from_str(error?.get()).ok()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A captured ckpool notify (copied from ../shared/fixtures/ckpool, see tests/fixtures).
    fn captured_job() -> work::Job {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../tests/fixtures/ckpool/sessions/with_version_rolling/notify.json"
        );
        let notify: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        work::Job::from_notify_params(&notify["params"]).unwrap()
    }

    #[test]
    fn the_nonce_found_meets_the_difficulty_and_no_earlier_one_does() {
        let job = captured_job();
        let root = job.merkle_root(&[1, 2, 3, 4], &[0; 8]);
        let (ntime, version, first) = (job.ntime, job.version, 1_000);
        // About one hash in 4,300 meets 1e-6: a budget of a million finds one.
        let diff = 1e-6;
        let (tried, found) = search_nonce(&job, &root, ntime, version, first, 1_000_000, diff);
        let nonce = found.expect("a share within the budget");
        assert_eq!(nonce, first + tried as u32 - 1);
        let hash_of = |n| sha256d(&job.header_with_root(&root, ntime, n, version));
        assert!(work::difficulty_of(&hash_of(nonce)) >= diff);
        for n in first..nonce {
            assert!(
                work::difficulty_of(&hash_of(n)) < diff,
                "nonce {n} was skipped"
            );
        }
    }

    #[test]
    fn the_search_stops_at_its_budget() {
        let job = captured_job();
        let root = job.merkle_root(&[1, 2, 3, 4], &[0; 8]);
        // No hash meets a difficulty of 1e30.
        let (tried, found) = search_nonce(&job, &root, job.ntime, job.version, 0, 50, 1e30);
        assert_eq!((tried, found), (50, None));
    }
}

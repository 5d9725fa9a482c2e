//! One miner's session: handshake state, difficulty, the jobs it was sent, and the outbox
//! of lines to write. The connection task feeds it lines and new jobs; it never does I/O.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use super::context::{Directives, ServerContext};
use super::extranonce::Extranonce1;
use super::message;
use super::vardiff::{DiffBounds, Vardiff};
use crate::events::Event;
use crate::share::found::HeldShare;
use crate::work::{Job, JobId, Payee, Posting, UserWork};

/// How many jobs a session remembers: shares on older ones get "Invalid JobID".
pub const SENT_JOBS_KEPT: usize = 16;
/// Consecutive unparseable lines before the connection is dropped.
pub const MAX_BAD_LINES: u32 = 16;
/// Write buffer a session keeps between replies: a share's reply fits, a notify (~700 bytes)
/// does not, so a submitting miner reuses one small buffer and an idle one holds none.
pub const OUTBOX_KEPT: usize = 256;
/// Worker names one connection may authorize (each costs memory and a scan per submit).
pub const MAX_WORKERS: usize = 32;

/// A job as this session was sent it.
#[derive(Debug)]
pub struct SentJob {
    /// The shared job as the board posted it.
    pub posting: Arc<Posting>,
    /// This session's coinb2 and notify.
    pub work: Arc<UserWork>,
    /// The difficulty in force when it was sent.
    pub difficulty: f64,
}

/// One authorized worker name.
#[derive(Debug, Clone)]
pub struct Worker {
    /// Full worker name as sent (`user.rig1`).
    pub name: Arc<str>,
    /// The user: the worker name up to the first '.' (the address in solo mode).
    pub user: Arc<str>,
}

/// Per-connection state.
#[derive(Debug)]
pub struct Session {
    pub(crate) ctx: Arc<ServerContext>,
    /// Peer address.
    pub peer: SocketAddr,
    /// The listener (as configured) the miner connected to.
    pub listener: SocketAddr,
    /// ckpool's `clientid` for this session.
    pub client_id: u64,
    /// The miner's user agent from subscribe (empty if none).
    pub agent: Arc<str>,
    /// Set once subscribed.
    pub extranonce1: Option<Extranonce1>,
    /// Authorized workers (usually one).
    pub workers: Vec<Worker>,
    /// Whose coinbase this miner works on.
    pub payee: Option<Payee>,
    /// Negotiated version-rolling mask (0 when not negotiated).
    pub version_mask: u32,
    /// Current difficulty.
    pub difficulty: f64,
    /// Difficulty floor from suggest_difficulty, configure or the password.
    pub suggested: Option<f64>,
    /// Whether the miner asked for `mining.set_extranonce`.
    pub extranonce_subscribed: bool,
    /// The operator's fixed difficulty, as this session last heard it.
    pub(crate) fixed_difficulty: Option<f64>,
    /// Found shares the sink had no room for: the connection task hands them on, waiting
    /// for room, before it reads the miner's next line.
    pub(crate) unsent_found: Vec<HeldShare>,
    pub(crate) sent: VecDeque<SentJob>,
    pub(crate) vardiff: Vardiff,
    /// Lines waiting to be written.
    pub outbox: Vec<u8>,
    /// Set when the connection should close after the outbox is written.
    pub closing: bool,
    /// Unparseable lines in a row.
    pub(crate) bad_lines: u32,
    /// Submits refused in a row, stale ones aside (`flood_ban_rejects`).
    pub(crate) rejects_in_a_row: u32,
    /// Whether this session is in the `authorized` count. Kept, not derived from
    /// `is_ready()`: a session dropped between authorize and `on_ready` (a panic) must not
    /// take away a count it never added.
    counted_authorized: bool,
}

impl Session {
    /// A fresh session for a connection from `peer`.
    pub fn new(
        ctx: Arc<ServerContext>,
        peer: SocketAddr,
        listener: SocketAddr,
        startdiff: f64,
    ) -> Self {
        let client_id = ctx.next_client_id();
        Session {
            ctx,
            peer,
            listener,
            client_id,
            agent: Arc::from(""),
            extranonce1: None,
            workers: Vec::new(),
            payee: None,
            version_mask: 0,
            difficulty: startdiff,
            suggested: None,
            extranonce_subscribed: false,
            fixed_difficulty: None,
            unsent_found: Vec::new(),
            sent: VecDeque::new(),
            vardiff: Vardiff::new(Instant::now()),
            outbox: Vec::new(),
            closing: false,
            bad_lines: 0,
            rejects_in_a_row: 0,
            counted_authorized: false,
        }
    }

    /// Subscribed and authorized: ready for work.
    pub fn is_ready(&self) -> bool {
        self.extranonce1.is_some() && self.payee.is_some()
    }

    /// The outbox was written: keep a small buffer for the next reply, give a big one back.
    pub fn outbox_written(&mut self) {
        if self.outbox.capacity() > OUTBOX_KEPT {
            self.outbox = Vec::new();
        } else {
            self.outbox.clear();
        }
    }

    /// First moment subscribed and authorized (it comes once: neither is ever undone while
    /// the connection lasts): difficulty, then a clean job (as soon as there is one).
    pub(crate) fn on_ready(&mut self) {
        self.counted_authorized = true;
        self.ctx.stats.authorized.fetch_add(1, Ordering::Relaxed);
        self.difficulty = self.bounds_for(None).clamp(self.difficulty);
        if let Some(posting) = self.ctx.board.latest() {
            self.send_job(posting);
        }
    }

    /// A new job was published.
    pub fn on_new_job(&mut self, posting: Arc<Posting>) {
        if self.is_ready() {
            self.send_job(posting);
        }
    }

    /// The operator's directives changed (or are first read): a new fixed difficulty is
    /// applied at once, capped at the network difficulty as every difficulty is. Shares on
    /// jobs sent before it are judged at the lower of the two, so neither direction causes
    /// rejects. Clearing it leaves the difficulty where it is, for vardiff to move.
    pub fn on_directives(&mut self, d: &Directives) {
        if d.fixed_difficulty == self.fixed_difficulty {
            return;
        }
        self.fixed_difficulty = d.fixed_difficulty;
        if let Some(fixed) = d.fixed_difficulty {
            let network = self.bounds_for(None).network;
            self.apply_difficulty(fixed.min(network));
        }
    }

    /// Whether `job` goes to this session with `clean_jobs=true`: its first job, or the
    /// previous block changed since its last job, even if the board's clean job was replaced
    /// before this session saw it.
    pub fn needs_clean(&self, job: &Job) -> bool {
        job.clean
            || self
                .sent
                .back()
                .is_none_or(|s| s.posting.job.generation != job.generation)
    }

    /// Sends `posting`'s job; a session's first job comes after its first
    /// `mining.set_difficulty` and always with `clean_jobs=true`.
    fn send_job(&mut self, posting: Arc<Posting>) {
        let Some(payee) = self.payee.clone() else {
            return;
        };
        let job = &posting.job;
        if self.sent.back().is_some_and(|s| s.posting.job.id == job.id) {
            return;
        }
        let clean = self.needs_clean(job);
        let first = self.sent.is_empty();
        let network = job.difficulty_cap();
        // The operator's fixed difficulty overrides the bounds; a share never needs to be
        // harder than a block (nor, in p2pool mode, than a share-chain share) either way.
        let target = match self.fixed_difficulty {
            Some(fixed) => fixed.min(network),
            None => self.bounds_for(Some(network)).clamp(self.difficulty),
        };
        if first {
            self.difficulty = target;
            message::set_difficulty(&mut self.outbox, self.difficulty);
        } else if target != self.difficulty {
            self.apply_difficulty(target);
        }
        let work = match posting.work_for(&payee) {
            Ok(w) => w,
            Err(e) => {
                tracing::error!(peer = %self.peer, "cannot build work for miner: {e}");
                return;
            }
        };
        let line = if clean {
            &work.notify_clean
        } else {
            &work.notify
        };
        line.write_to(&mut self.outbox);
        if self.ctx.events.interest().user_notifies {
            if let Some(w) = self.workers.first() {
                self.ctx.events.publish(Event::UserNotify {
                    job: posting.job.clone(),
                    work: work.clone(),
                    clean,
                    username: w.user.clone(),
                });
            }
        }
        if self.sent.len() == SENT_JOBS_KEPT {
            self.sent.pop_front();
        }
        self.sent.push_back(SentJob {
            posting,
            work,
            difficulty: self.difficulty,
        });
    }

    /// The difficulty bounds for this session; `network` overrides the newest job's.
    pub(crate) fn bounds_for(&self, network: Option<f64>) -> DiffBounds {
        let s = &self.ctx.settings;
        let mut min = s.mindiff;
        if let Some(sug) = self.suggested {
            min = min.max(sug);
        }
        if let Some(max) = s.maxdiff {
            min = min.min(max);
        }
        let network = network
            .or_else(|| self.sent.back().map(|j| j.posting.job.difficulty_cap()))
            .unwrap_or(f64::INFINITY);
        // In p2pool mode the share chain's difficulty caps even the floor (`mindiff`, a
        // miner's suggestion): a session above it would not send every chain share.
        if self.ctx.mode == crate::work::Mode::P2pool {
            min = min.min(network);
        }
        DiffBounds {
            min,
            max: s.maxdiff,
            network,
        }
    }

    /// A difficulty the miner asked for (suggest_difficulty, password `d=`, configure's
    /// minimum-difficulty): it becomes the floor and, clamped, the session's difficulty.
    /// A repeat of the standing suggestion changes nothing: NerdMiner re-sends it as a
    /// keepalive, and applying it again would undo every vardiff increase (ckpool ignores a
    /// repeat too).
    pub(crate) fn apply_suggested(&mut self, d: f64) {
        if self.suggested == Some(d) {
            return;
        }
        self.suggested = Some(d);
        let clamped = self.bounds_for(None).clamp(d);
        if self.sent.is_empty() {
            // Not yet sent any work: it goes out with the first job.
            self.difficulty = clamped;
        } else {
            self.change_difficulty(clamped);
        }
    }

    /// Sets a new difficulty now; it applies to jobs sent from here on.
    /// Does nothing while the operator has fixed the difficulty.
    pub(crate) fn change_difficulty(&mut self, diff: f64) {
        if self.fixed_difficulty.is_none() {
            self.apply_difficulty(diff);
        }
    }

    fn apply_difficulty(&mut self, diff: f64) {
        if diff == self.difficulty || !diff.is_finite() || diff <= 0.0 {
            return;
        }
        self.difficulty = diff;
        self.vardiff.changed(Instant::now());
        // Before the first job, the difficulty goes out with it.
        if self.is_ready() && !self.sent.is_empty() {
            message::set_difficulty(&mut self.outbox, diff);
        }
    }

    /// Finds a job this session was sent.
    pub(crate) fn sent_job(&self, id: JobId) -> Option<&SentJob> {
        self.sent.iter().rev().find(|s| s.posting.job.id == id)
    }

    /// Tells the miner to reconnect (ckpool's `reconnect`); the connection closes after.
    pub fn reconnect(&mut self) {
        message::push_line(
            &mut self.outbox,
            &serde_json::json!({"id": null, "method": "client.reconnect", "params": []}),
        );
        self.closing = true;
    }

    /// The connection is gone: free or park the extranonce1. Runs once however often it
    /// is called; dropping the session calls it too, so a session whose task panicked
    /// still gives its extranonce1 and its place in the counts back.
    pub fn end(&mut self) {
        let workers = std::mem::take(&mut self.workers);
        if self.ctx.events.interest().sessions {
            for w in &workers {
                self.ctx.events.publish(Event::Disconnected {
                    username: w.user.clone(),
                    worker: w.name.clone(),
                });
            }
        }
        if std::mem::take(&mut self.counted_authorized) {
            self.ctx.stats.authorized.fetch_sub(1, Ordering::Relaxed);
        }
        if let Some(e) = self.extranonce1.take() {
            self.ctx.extranonces.release(e, self.payee.is_some());
        }
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        self.end();
        // The connection task hands these on before the session goes; a session dropped
        // without that (its task panicked) still must not lose a block solution.
        // Each held share reports itself lost if it is dropped unsent (no runtime, or one
        // shutting down that drops this task).
        let held = std::mem::take(&mut self.unsent_found);
        if held.is_empty() {
            return;
        }
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let sink = self.ctx.found.clone();
            runtime.spawn(async move {
                for h in held {
                    let _ = sink.send_held(h).await;
                }
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::OnceLock;

    use super::*;
    use crate::stats::Stats;
    use crate::stratum::context::test_context;
    use crate::stratum::request::handle_line;
    use crate::work::Mode;

    fn session() -> Session {
        let ctx = test_context(
            Mode::Pool,
            Arc::new(OnceLock::new()),
            Arc::new(Stats::default()),
        );
        let addr = "127.0.0.1:3333".parse().unwrap();
        Session::new(Arc::new(ctx), addr, addr, 1.0)
    }

    #[test]
    fn a_dropped_session_gives_back_its_extranonce1_and_counts_once() {
        let ctx = Arc::new(test_context(
            Mode::Pool,
            Arc::new(OnceLock::new()),
            Arc::new(Stats::default()),
        ));
        let addr = "127.0.0.1:3333".parse().unwrap();
        let mut s = Session::new(ctx.clone(), addr, addr, 1.0);
        handle_line(
            &mut s,
            br#"{"id":1,"method":"mining.subscribe","params":[]}"#,
        );
        handle_line(
            &mut s,
            br#"{"id":2,"method":"mining.authorize","params":["w1","x"]}"#,
        );
        assert_eq!(ctx.stats.authorized.load(Ordering::Relaxed), 1);
        s.end();
        drop(s);
        assert_eq!(
            ctx.stats.authorized.load(Ordering::Relaxed),
            0,
            "counted once"
        );
        assert_eq!(ctx.extranonces.resumable(), 1, "parked once");
        // Dropped without end(), as when its task panics: the same.
        let mut s = Session::new(ctx.clone(), addr, addr, 1.0);
        handle_line(
            &mut s,
            br#"{"id":1,"method":"mining.subscribe","params":[]}"#,
        );
        handle_line(
            &mut s,
            br#"{"id":2,"method":"mining.authorize","params":["w2","x"]}"#,
        );
        assert_eq!(ctx.stats.authorized.load(Ordering::Relaxed), 1);
        drop(s);
        assert_eq!(ctx.stats.authorized.load(Ordering::Relaxed), 0);
        assert_eq!(ctx.extranonces.resumable(), 2);
    }

    #[test]
    fn a_repeated_suggestion_does_not_undo_vardiff() {
        let mut s = session();
        handle_line(
            &mut s,
            br#"{"id":1,"method":"mining.suggest_difficulty","params":[8]}"#,
        );
        assert_eq!(s.difficulty, 8.0);
        // Vardiff raises it; the same suggestion again (a keepalive) leaves it there.
        s.change_difficulty(64.0);
        handle_line(
            &mut s,
            br#"{"id":2,"method":"mining.suggest_difficulty","params":[8]}"#,
        );
        assert_eq!(s.difficulty, 64.0);
        // A new suggestion is applied.
        handle_line(
            &mut s,
            br#"{"id":3,"method":"mining.suggest_difficulty","params":[16]}"#,
        );
        assert_eq!(s.difficulty, 16.0);
    }

    #[test]
    fn in_p2pool_mode_no_session_goes_above_the_share_chain_difficulty() {
        let network = Arc::new(OnceLock::new());
        network.set(bitcoin::Network::Regtest).unwrap();
        // mindiff 1, far above the regtest share chain's difficulty.
        let ctx = Arc::new(test_context(
            Mode::P2pool,
            network,
            Arc::new(Stats::default()),
        ));
        let path = format!(
            "{}/tests/fixtures/ckpool/gbt-notify/three-txns/gbt.json",
            env!("CARGO_MANIFEST_DIR")
        );
        let json = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let template = Arc::new(crate::node::template::Template::from_json(json).unwrap());
        let spec = crate::p2pool::spec::ChainSpec::preset("regtest").unwrap();
        let plan = Arc::new(crate::work::PayoutPlan::P2pool(
            crate::p2pool::chain::Chain::new(spec).tip_work(),
        ));
        let builder = crate::work::JobBuilder::new(crate::work::JobConfig {
            nonce1_len: 4,
            nonce2_len: 8,
            btcsig: Vec::new(),
        });
        let at = crate::work::BuildContext {
            clean: true,
            generation: 1,
            now: std::time::SystemTime::now(),
        };
        let job = builder.build(&template, &plan, at).unwrap();
        let cap = job.difficulty_cap();
        assert!(cap < 1.0);
        ctx.board.publish(Arc::new(job));
        let addr = "127.0.0.1:3333".parse().unwrap();
        let mut s = Session::new(ctx, addr, addr, 1.0);
        handle_line(
            &mut s,
            br#"{"id":1,"method":"mining.subscribe","params":[]}"#,
        );
        handle_line(
            &mut s,
            br#"{"id":2,"method":"mining.authorize","params":["bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080.rig","x"]}"#,
        );
        assert!(!s.sent.is_empty(), "the job was sent");
        assert!(s.difficulty <= cap, "{} above {cap}", s.difficulty);
        // Nor with a miner's suggestion above it.
        handle_line(
            &mut s,
            br#"{"id":3,"method":"mining.suggest_difficulty","params":[8]}"#,
        );
        assert!(s.difficulty <= cap, "{} above {cap}", s.difficulty);
    }

    #[test]
    fn a_fixed_difficulty_applies_at_once_and_holds_until_cleared() {
        let mut s = session();
        handle_line(
            &mut s,
            br#"{"id":1,"method":"mining.subscribe","params":[]}"#,
        );
        handle_line(
            &mut s,
            br#"{"id":2,"method":"mining.authorize","params":["w","x"]}"#,
        );
        // A first job so that difficulty changes are sent (none on the empty board).
        s.sent.push_back(SentJob {
            posting: crate::work::board::tests::posting(),
            work: Arc::new(UserWork::default()),
            difficulty: 1.0,
        });
        s.outbox_written();
        let fixed = Directives {
            reconnect: 0,
            // Below the fixture's (regtest) network difficulty, which caps it.
            fixed_difficulty: Some(2e-10),
        };
        s.on_directives(&fixed);
        assert_eq!(s.difficulty, 2e-10);
        let sent = String::from_utf8_lossy(&s.outbox).into_owned();
        assert!(sent.contains("mining.set_difficulty"), "{sent}");
        // Vardiff and suggestions do not move it; the same directives again change nothing.
        s.change_difficulty(64.0);
        s.on_directives(&fixed);
        assert_eq!(s.difficulty, 2e-10);
        // Cleared: it stays where it is for vardiff to move.
        s.on_directives(&Directives::default());
        assert_eq!(s.difficulty, 2e-10);
        s.change_difficulty(64.0);
        assert_eq!(s.difficulty, 64.0);
    }

    /// A found share of `posting`'s pool work with this hash and worker.
    fn found_share(
        posting: &crate::work::Posting,
        hash: [u8; 32],
        worker: &str,
    ) -> crate::share::FoundShare {
        crate::share::FoundShare {
            job: posting.job.clone(),
            work: posting.work_for(&crate::work::Payee::Pool).unwrap(),
            extranonce1: crate::short_bytes::ShortBytes::new(&[0; 4]).unwrap(),
            extranonce2: crate::short_bytes::ShortBytes::new(&[0; 8]).unwrap(),
            ntime: 0,
            nonce: 0,
            version: 0,
            header: [0; 80],
            hash,
            worker: worker.into(),
            refused_as: None,
        }
    }

    #[tokio::test]
    async fn a_session_dropped_with_a_waiting_block_still_hands_it_on() {
        let (sink, mut rx) = crate::share::found::channel();
        let ctx = Arc::new(crate::stratum::context::test_context_with_sink(
            Mode::Pool,
            Arc::new(OnceLock::new()),
            Arc::new(Stats::default()),
            sink.clone(),
        ));
        let posting = crate::work::board::tests::posting();
        let addr = "127.0.0.1:3333".parse().unwrap();
        let mut s = Session::new(ctx, addr, addr, 1.0);
        let held = sink.hold(found_share(&posting, [7; 32], "w"));
        s.unsent_found.push(held);
        // As when its connection task panics: dropped without the task handing it on.
        drop(s);
        let found = tokio::time::timeout(std::time::Duration::from_secs(10), rx.recv())
            .await
            .expect("handed on")
            .expect("a share");
        assert_eq!(found.hash, [7; 32]);
    }

    #[tokio::test]
    async fn a_block_found_while_the_sink_is_full_is_kept_not_dropped() {
        use crate::share::Offer;
        let (sink, mut rx) = crate::share::found::channel();
        let ctx = Arc::new(crate::stratum::context::test_context_with_sink(
            Mode::Pool,
            Arc::new(OnceLock::new()),
            Arc::new(Stats::default()),
            sink.clone(),
        ));
        let posting = crate::work::board::tests::posting();
        let filler = found_share(&posting, [0; 32], "filler");
        while let Offer::Taken = sink.offer(filler.clone()) {}
        let addr = "127.0.0.1:3333".parse().unwrap();
        let mut s = Session::new(ctx.clone(), addr, addr, 1.0);
        handle_line(
            &mut s,
            br#"{"id":1,"method":"mining.subscribe","params":[]}"#,
        );
        handle_line(
            &mut s,
            br#"{"id":2,"method":"mining.authorize","params":["w","x"]}"#,
        );
        s.on_new_job(posting.clone());
        s.outbox_written();
        // Regtest's target: about every other hash is a block.
        let job = &posting.job;
        let mut nonce = 0u32;
        while ctx.stats.blocks_found.load(Ordering::Relaxed) == 0 {
            let line = format!(
                r#"{{"id":3,"method":"mining.submit","params":["w","{}","0000000000000000","{:08x}","{nonce:08x}"]}}"#,
                job.id, job.ntime
            );
            handle_line(&mut s, line.as_bytes());
            nonce += 1;
            assert!(nonce < 1000, "no block in 1000 nonces at regtest's target");
        }
        let reply = String::from_utf8_lossy(&s.outbox).into_owned();
        assert!(
            reply.contains("\"result\":true"),
            "the miner is answered: {reply}"
        );
        assert_eq!(
            s.unsent_found.len(),
            1,
            "kept for the connection task to send"
        );
        let held = s.unsent_found.remove(0);
        assert_eq!(held.share().unwrap().worker.as_ref(), "w");
        // Counted in flight while it waits, so a stopping server waits for it (the
        // filler's one refused offer was counted done as it dropped).
        let in_flight = sink.in_flight();
        assert_eq!(in_flight.count(), crate::share::found::SINK_CAPACITY + 1);
        // Once the consumer takes one, there is room for it.
        assert!(rx.try_recv().is_ok());
        sink.send_held(held).await.unwrap();
        assert_eq!(in_flight.count(), crate::share::found::SINK_CAPACITY + 1);
        let mut last = None;
        while let Ok(f) = rx.try_recv() {
            last = Some(f);
        }
        assert_eq!(last.unwrap().worker.as_ref(), "w", "it arrives, last");
    }

    #[test]
    fn a_reply_buffer_is_reused_and_a_big_one_given_back() {
        let mut s = session();
        assert_eq!(s.outbox.capacity(), 0, "a new session holds no buffer");
        handle_line(
            &mut s,
            br#"{"id":1,"method":"mining.subscribe","params":[]}"#,
        );
        assert!(!s.outbox.is_empty() && s.outbox.len() <= OUTBOX_KEPT);
        let buffer = s.outbox.as_ptr();
        s.outbox_written();
        assert!(s.outbox.is_empty());
        handle_line(
            &mut s,
            br#"{"id":2,"method":"mining.subscribe","params":[]}"#,
        );
        assert_eq!(
            s.outbox.as_ptr(),
            buffer,
            "the next reply reuses the buffer"
        );
        s.outbox_written();
        // A notify-sized write outgrows the kept size: the buffer goes back.
        s.outbox.extend_from_slice(&[b'x'; 2 * OUTBOX_KEPT]);
        s.outbox_written();
        assert_eq!(s.outbox.capacity(), 0);
    }
}

//! ckpool's stats files, which third-party dashboards read: `<logdir>/pool/pool.status` and
//! `<logdir>/users/<user>`, written every interval (ckpool: 60 s) and at shutdown, each
//! atomically (a temporary file in the same directory, then a rename, so a reader never
//! sees half a file). The pool's rolling averages are updated 32 times per interval, as
//! ckpool's `statsupdate` does. At start the files of an earlier run are read back
//! (ckpool's `read_poolstats` and `read_userstats`), so totals and best shares carry on.
//!
//! Found blocks are logged to the main log as ckpool's `block_solve` and `block_reject`
//! do: `Solved and confirmed block <height> by <worker>` once bitcoind accepted it, or
//! `Submitted, but rejected block <height>`. ckpool keeps no other record of them (the
//! block itself is archived by the submitter under `<logdir>/blocks/`).

use std::collections::hash_map::Entry;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use ckpool_compat::stats::{
    parse_pool_status, parse_user_stats, pool_status_text, user_stats_text,
};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::accounting::{unix_secs, Accounting, Report};
use super::sharelog::JobHeights;
use crate::events::{Event, Interest};
use crate::node::submitter::{BlockOutcome, BlockVerdict};
use crate::pow::hash::display_hex;

/// The events the stats files need.
pub const INTEREST: Interest = Interest {
    jobs: true,
    user_notifies: false,
    accepted_shares: true,
    rejected_shares: true,
    sessions: true,
    block_verdicts: true,
};

/// ckpool's stats interval.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(60);

/// Pool averages are updated this many times per interval (ckpool: every 1.875 s).
const UPDATES_PER_INTERVAL: u32 = 32;

/// Counts resumable (disconnected) sessions for `pool.status`'s `Disconnected`.
pub type DisconnectedCount = Arc<dyn Fn() -> u64 + Send + Sync>;

/// Whether `name` can be a file name under `users/` (it comes from miners).
fn safe_file_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 255
        && !name.starts_with('.')
        && !name.contains(['/', '\\', '\0'])
}

/// Writes `text` to `path` through a temporary file in the same directory.
pub fn write_atomic(path: &Path, text: &str) -> std::io::Result<()> {
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| std::io::Error::other("no file name"))?;
    let tmp = path.with_file_name(format!(".{name}.tmp"));
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, path)
}

/// Writes a [`Report`]: `pool/pool.status` and one `users/<user>` per user.
pub fn write_report(logdir: &Path, report: &Report) -> std::io::Result<()> {
    let users = logdir.join("users");
    std::fs::create_dir_all(&users)?;
    for (name, stats) in &report.users {
        if !safe_file_name(name) {
            tracing::debug!(
                user = name,
                "user name cannot be a file name; stats not written"
            );
            continue;
        }
        write_atomic(&users.join(name), &user_stats_text(stats))?;
    }
    let pool = logdir.join("pool");
    std::fs::create_dir_all(&pool)?;
    let p = &report.pool;
    write_atomic(
        &pool.join("pool.status"),
        &pool_status_text(&p.counts, &p.hashrates, &p.shares),
    )
}

/// Reads an earlier run's files back into `acc` (missing or unreadable ones are skipped).
/// Every user file is read, but only the most recently active
/// [`IDLE_USERS_KEPT`](super::accounting::IDLE_USERS_KEPT) users stay in memory.
pub fn restore(acc: &mut Accounting, logdir: &Path, now: f64) {
    if let Ok(text) = std::fs::read_to_string(logdir.join("pool").join("pool.status")) {
        match parse_pool_status(&text) {
            Ok(status) => acc.restore_pool(&status, now),
            Err(e) => tracing::info!("cannot read the old pool.status: {e}"),
        }
    }
    let Ok(dir) = std::fs::read_dir(logdir.join("users")) else {
        return;
    };
    let mut users = 0;
    for entry in dir.flatten() {
        let name = entry.file_name();
        let Some(name) = name.to_str().filter(|n| safe_file_name(n)) else {
            continue;
        };
        let Ok(text) = std::fs::read_to_string(entry.path()) else {
            continue;
        };
        match parse_user_stats(&text) {
            Ok(stats) => {
                acc.restore_user(name, &stats, now);
                users += 1;
            }
            Err(e) => tracing::info!(user = name, "cannot read old user stats: {e}"),
        }
    }
    if users > 0 {
        tracing::info!(
            "loaded the stats of {} users, the most recently active of {users} files",
            acc.user_count()
        );
    }
}

/// Where and how often.
#[derive(Debug, Clone)]
pub struct StatsSettings {
    /// The pool's logdir.
    pub logdir: PathBuf,
    /// How often the files are written.
    pub interval: Duration,
}

/// A block solve seen in the shares, waiting for the submitter's verdict on its hash.
#[derive(Debug)]
struct PendingBlock {
    height: u32,
    worker: Arc<str>,
    /// When the solve was seen; forgotten after [`SOLVE_WAIT`] without a verdict.
    seen: Instant,
}

struct Writer {
    acc: Accounting,
    logdir: PathBuf,
    disconnected: DisconnectedCount,
    jobs: JobHeights,
    /// By block hash (display order, hex); a solve sent again is still one block.
    pending: HashMap<String, PendingBlock>,
    /// Verdicts not yet logged: new ones, and those that came before their share's event
    /// (or are about an earlier run's block), with when they were first seen; kept for
    /// [`VERDICT_WAIT`].
    unmatched: Vec<(BlockVerdict, Instant)>,
}

/// How long a verdict waits for the share event of its block (events and verdicts travel
/// separately, so a fast verdict can come first).
const VERDICT_WAIT: Duration = Duration::from_secs(60);

/// How long a solve waits for its verdict: past the submitter's retry window
/// (`BLOCK_RETRY_WINDOW`, 20 minutes), no verdict comes any more.
const SOLVE_WAIT: Duration = Duration::from_secs(30 * 60);

impl Writer {
    fn on_event(&mut self, event: &Event) {
        match event {
            Event::Job(job) => self.jobs.add(job.id, job.template.height),
            Event::BlockVerdict(verdict) => {
                self.unmatched.push((verdict.clone(), Instant::now()));
            }
            Event::Share(rec) if rec.is_block => {
                let height = self
                    .jobs
                    .height(rec.job_id)
                    .or_else(|| self.jobs.current().map(|c| c.1))
                    .unwrap_or(0);
                if let Entry::Vacant(slot) = self.pending.entry(display_hex(&rec.hash)) {
                    tracing::warn!(
                        "Possible block solve diff {:.6} at height {height} by {}",
                        rec.sdiff,
                        rec.worker
                    );
                    slot.insert(PendingBlock {
                        height,
                        worker: rec.worker.clone(),
                        seen: Instant::now(),
                    });
                }
            }
            _ => {}
        }
        self.acc.on_event(event);
    }

    /// Logs the submitter's verdicts beside the solves they are about, as ckpool's
    /// `block_solve` and `block_reject` do; returns the lines logged. A verdict on a block
    /// this run did not see solved (one archived by an earlier run) is left to the
    /// submitter's own log lines.
    fn check_blocks(&mut self) -> Vec<String> {
        let mut lines = Vec::new();
        let now = Instant::now();
        self.pending
            .retain(|_, b| now.duration_since(b.seen) < SOLVE_WAIT);
        for (verdict, seen) in std::mem::take(&mut self.unmatched) {
            let Some(b) = self.pending.remove(&verdict.hash) else {
                if now.duration_since(seen) < VERDICT_WAIT {
                    self.unmatched.push((verdict, seen));
                }
                continue;
            };
            let line = match verdict.outcome {
                BlockOutcome::Accepted => {
                    self.acc.reset_bestshares();
                    format!("Solved and confirmed block {} by {}", b.height, b.worker)
                }
                // bitcoind's reason is in the submitter's own line.
                BlockOutcome::Rejected(_) => format!("Submitted, but rejected block {}", b.height),
                BlockOutcome::NotSubmitted(reason) => {
                    format!(
                        "Block {} by {} was not submitted: {reason}",
                        b.height, b.worker
                    )
                }
            };
            tracing::warn!("{line}");
            lines.push(line);
        }
        lines
    }

    fn report(&mut self) -> Report {
        self.acc
            .report(unix_secs(SystemTime::now()), (self.disconnected)())
    }

    fn write_now(&mut self) {
        let report = self.report();
        if let Err(e) = write_report(&self.logdir, &report) {
            tracing::error!(logdir = %self.logdir.display(), "cannot write stats files: {e}");
        }
    }
}

/// Writes the files one last time when the task ends, also when the runtime drops it at
/// shutdown without polling it again.
struct FinalWrite(Option<Writer>);

impl Drop for FinalWrite {
    fn drop(&mut self) {
        if let Some(w) = self.0.as_mut() {
            w.acc.update_pool(unix_secs(SystemTime::now()));
            w.write_now();
        }
    }
}

/// Starts the stats writer: it accounts every event from `rx`, writes the files every
/// `settings.interval`, and once more when `shutdown` is cancelled or the task is dropped.
/// The submitter's verdicts on blocks come as events too. Each report written is also
/// sent on `published` (the API shows what the files hold).
pub fn spawn(
    mut rx: mpsc::Receiver<Event>,
    settings: StatsSettings,
    disconnected: DisconnectedCount,
    published: watch::Sender<Option<Arc<Report>>>,
    shutdown: CancellationToken,
) -> JoinHandle<()> {
    let tick = (settings.interval / UPDATES_PER_INTERVAL).max(Duration::from_millis(1));
    tokio::spawn(async move {
        // Reading back thousands of files is blocking work: not on a runtime worker. Events
        // arriving meanwhile wait in the channel.
        let logdir = settings.logdir.clone();
        let start = unix_secs(SystemTime::now());
        let acc = tokio::task::spawn_blocking(move || {
            let mut acc = Accounting::new(start);
            restore(&mut acc, &logdir, start);
            acc
        })
        .await
        .unwrap_or_else(|e| {
            tracing::error!("reading back the stats files failed: {e}");
            Accounting::new(start)
        });
        let writer = Writer {
            acc,
            logdir: settings.logdir,
            disconnected,
            jobs: JobHeights::default(),
            pending: HashMap::new(),
            unmatched: Vec::new(),
        };
        let mut guard = FinalWrite(Some(writer));
        let mut ticker = tokio::time::interval(tick);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut ticks_to_write: u32 = 0;
        loop {
            let Some(w) = guard.0.as_mut() else { return };
            tokio::select! {
                biased;
                _ = shutdown.cancelled() => break,
                event = rx.recv() => match event {
                    Some(event) => w.on_event(&event),
                    None => break,
                },
                _ = ticker.tick() => {
                    // ckpool writes first, then updates the averages 32 times.
                    if ticks_to_write == 0 {
                        ticks_to_write = UPDATES_PER_INTERVAL;
                        let report = Arc::new(w.report());
                        published.send_replace(Some(report.clone()));
                        let logdir = w.logdir.clone();
                        let written =
                            tokio::task::spawn_blocking(move || write_report(&logdir, &report))
                                .await;
                        match written {
                            Ok(Err(e)) => tracing::error!(
                                "cannot write stats files under {}: {e}",
                                w.logdir.display()
                            ),
                            Err(e) => tracing::error!("stats writer failed: {e}"),
                            Ok(Ok(())) => {}
                        }
                    }
                    ticks_to_write -= 1;
                    // Events that arrived meanwhile count in this update.
                    while let Ok(event) = rx.try_recv() {
                        w.on_event(&event);
                    }
                    w.acc.update_pool(unix_secs(SystemTime::now()));
                    let _ = w.check_blocks();
                }
            }
        }
        // Shutdown: account what is still queued, then the guard writes the last files.
        if let Some(w) = guard.0.as_mut() {
            while let Ok(event) = rx.try_recv() {
                w.on_event(&event);
            }
            let _ = w.check_blocks();
        }
        drop(guard);
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::{EventsBuilder, ShareRecord};
    use crate::share::Reject;
    use ckpool_compat::stats::parse_suffixed;
    use std::time::Instant;

    fn share(worker: &str, diff: f64) -> ShareRecord {
        let now = unix_secs(SystemTime::now());
        super::super::accounting::tests::share("u", worker, diff, diff * 3.0, Ok(()), now)
    }

    /// Polls `cond` until it holds or 20 s pass.
    async fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while !cond() {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    fn read_user(dir: &Path) -> Option<ckpool_compat::stats::UserStats> {
        let text = std::fs::read_to_string(dir.join("users").join("u")).ok()?;
        Some(parse_user_stats(&text).expect("users/u parses"))
    }

    fn block_share(worker: &str, hash_byte: u8, result: Result<(), Reject>) -> Event {
        let mut rec = share(worker, 1.0);
        rec.hash = [hash_byte; 32];
        rec.is_block = true;
        rec.result = result;
        Event::Share(rec)
    }

    fn hash_hex(hash_byte: u8) -> String {
        hex::encode([hash_byte; 32])
    }

    #[test]
    fn verdicts_are_logged_beside_the_solve_they_are_about() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = Writer {
            acc: Accounting::new(unix_secs(SystemTime::now())),
            logdir: dir.path().to_path_buf(),
            disconnected: Arc::new(|| 0),
            jobs: JobHeights::default(),
            pending: HashMap::new(),
            unmatched: Vec::new(),
        };
        w.on_event(&block_share("u.first", 1, Ok(())));
        // The same solution sent again (a duplicate) is still one block.
        w.on_event(&block_share("u.first", 1, Err(Reject::Duplicate)));
        w.on_event(&block_share("u.second", 2, Err(Reject::Stale)));
        w.on_event(&block_share("u.third", 3, Ok(())));
        // Verdicts in another order than the solves, and one on a block of an earlier run.
        for (hash, outcome) in [
            (hash_hex(9), BlockOutcome::Accepted),
            (hash_hex(2), BlockOutcome::Rejected("inconclusive".into())),
            (
                hash_hex(3),
                BlockOutcome::NotSubmitted("bitcoind unreachable".into()),
            ),
            (hash_hex(1), BlockOutcome::Accepted),
        ] {
            w.on_event(&Event::BlockVerdict(BlockVerdict { hash, outcome }));
        }
        assert_eq!(
            w.check_blocks(),
            [
                "Submitted, but rejected block 0",
                "Block 0 by u.third was not submitted: bitcoind unreachable",
                "Solved and confirmed block 0 by u.first",
            ]
        );
        assert!(w.pending.is_empty());
        assert!(w.check_blocks().is_empty(), "each verdict is logged once");
        // A verdict that comes before its share's event waits for it.
        w.on_event(&Event::BlockVerdict(BlockVerdict {
            hash: hash_hex(4),
            outcome: BlockOutcome::Accepted,
        }));
        assert!(w.check_blocks().is_empty());
        w.on_event(&block_share("u.fourth", 4, Ok(())));
        assert_eq!(
            w.check_blocks(),
            ["Solved and confirmed block 0 by u.fourth"]
        );
    }

    #[tokio::test]
    async fn writes_parseable_files_every_interval_and_at_shutdown() {
        let dir = tempfile::tempdir().unwrap();
        let mut b = EventsBuilder::default();
        let rx = b.subscribe("stats", INTEREST, 1024);
        let events = b.build();
        let shutdown = CancellationToken::new();
        let handle = spawn(
            rx,
            StatsSettings {
                logdir: dir.path().to_path_buf(),
                interval: Duration::from_millis(200),
            },
            Arc::new(|| 5),
            watch::channel(None).0,
            shutdown.clone(),
        );
        events.publish(Event::Authorized {
            username: "u".into(),
            worker: "u.rig".into(),
            at: SystemTime::now(),
        });
        for _ in 0..3 {
            events.publish(Event::Share(share("u.rig", 2.0)));
            tokio::time::sleep(Duration::from_millis(60)).await;
        }
        let status = dir.path().join("pool").join("pool.status");
        eventually("accepted shares in pool.status", || {
            std::fs::read_to_string(&status)
                .ok()
                .and_then(|t| parse_pool_status(&t).ok())
                .is_some_and(|s| s.shares.accepted == 6)
        })
        .await;
        let s = parse_pool_status(&std::fs::read_to_string(&status).unwrap()).unwrap();
        assert_eq!((s.counts.users, s.counts.workers), (1, 1));
        assert_eq!(s.counts.disconnected, 5);
        assert!(s.shares.sps1m > 0.0);
        assert!(parse_suffixed(&s.hashrates.hashrate1m).unwrap() > 0.0);
        let u = read_user(dir.path()).expect("users/u written");
        assert_eq!((u.shares, u.workers, u.bestever), (6, 1, 6));
        assert_eq!(u.bestshare, 6.0);
        assert_eq!(u.worker.len(), 1);
        assert_eq!(u.worker[0].workername, "u.rig");
        assert!(u.lastshare > 0 && u.authorised > 0);
        // Byte for byte what ckpool_compat writes.
        let text = std::fs::read_to_string(dir.path().join("users").join("u")).unwrap();
        assert_eq!(text, user_stats_text(&u));

        // A share just before shutdown is in the last files.
        events.publish(Event::Share(share("u.rig", 4.0)));
        shutdown.cancel();
        tokio::time::timeout(Duration::from_secs(20), handle)
            .await
            .expect("writer stops")
            .expect("writer did not panic");
        let u = read_user(dir.path()).unwrap();
        assert_eq!(u.shares, 10);
        let s = parse_pool_status(&std::fs::read_to_string(&status).unwrap()).unwrap();
        assert_eq!(s.shares.accepted, 10);
        // No temporary files are left behind.
        for sub in ["users", "pool"] {
            for e in std::fs::read_dir(dir.path().join(sub)).unwrap() {
                let name = e.unwrap().file_name();
                assert!(!name.to_string_lossy().ends_with(".tmp"), "{name:?}");
            }
        }

        // A restart carries the totals on.
        let mut acc = Accounting::new(unix_secs(SystemTime::now()));
        restore(&mut acc, dir.path(), unix_secs(SystemTime::now()));
        assert_eq!(acc.pool.accounted_diff, 10.0);
        assert_eq!(acc.user("u").unwrap().tally.shares, 10.0);
    }

    #[test]
    fn restore_loads_only_the_most_recently_active_user_files() {
        use crate::stats::accounting::IDLE_USERS_KEPT;
        let dir = tempfile::tempdir().unwrap();
        let now = unix_secs(SystemTime::now());
        let mut acc = Accounting::new(now);
        acc.on_event(&Event::Authorized {
            username: "u".into(),
            worker: "u.rig".into(),
            at: SystemTime::now(),
        });
        acc.on_event(&Event::Share(share("u.rig", 2.0)));
        let template = acc.report(now, 0).users[0].1.clone();
        // More files than the cap, user i having last shared i seconds after the oldest.
        let n = IDLE_USERS_KEPT + 100;
        let users = dir.path().join("users");
        std::fs::create_dir_all(&users).unwrap();
        for i in 0..n {
            let mut stats = template.clone();
            stats.authorised = 1_500_000_000;
            stats.lastshare = 1_600_000_000 + i as u64;
            stats.worker.clear();
            std::fs::write(users.join(format!("f{i}")), user_stats_text(&stats)).unwrap();
        }
        let mut back = Accounting::new(now);
        restore(&mut back, dir.path(), now);
        assert_eq!(back.user_count(), IDLE_USERS_KEPT);
        for i in 0..n {
            let kept = back.user(&format!("f{i}")).is_some();
            assert_eq!(kept, i >= n - IDLE_USERS_KEPT, "f{i}");
        }
        // The files of the users left out stay as they were.
        assert!(users.join("f0").exists());
    }

    #[test]
    fn hostile_user_names_are_not_files() {
        for bad in ["", ".", "..", "../x", "a/b", ".hidden"] {
            assert!(!safe_file_name(bad), "{bad}");
        }
        assert!(safe_file_name(
            "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080"
        ));
    }
}

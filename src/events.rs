//! Fan-out of what happens on the server (new jobs, the notify each user got, shares,
//! sessions) to independent consumers: ZMQ output, stats files, share logs. Each consumer
//! has its own bounded channel and is fed with `try_send`: a slow consumer loses events (they
//! are counted), it never slows a miner. Found blocks do not travel here: they take the
//! lossless share sink (`share::found`) to the block submitter, and only its verdicts come
//! back here.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::SystemTime;

use tokio::sync::mpsc;

use crate::node::submitter::BlockVerdict;
use crate::share::Reject;
use crate::short_bytes::ShortBytes;
use crate::work::{Job, JobId, UserWork};

/// One submitted share, accepted or not, with everything ckpool's share records carry.
#[derive(Debug, Clone)]
pub struct ShareRecord {
    /// The job (ckpool workinfoid).
    pub job_id: JobId,
    /// The session's number (ckpool clientid).
    pub client_id: u64,
    /// Session extranonce1.
    pub extranonce1: ShortBytes<8>,
    /// Miner extranonce2.
    pub extranonce2: ShortBytes<16>,
    /// Header nonce.
    pub nonce: u32,
    /// Header time.
    pub ntime: u32,
    /// Difficulty the share was judged at (ckpool `diff`).
    pub diff: f64,
    /// Difficulty the hash achieves (ckpool `sdiff`); 0 when not hashed.
    pub sdiff: f64,
    /// Header hash, internal byte order (all zero when not hashed).
    pub hash: [u8; 32],
    /// Accepted, or why not.
    pub result: Result<(), Reject>,
    /// The header version after the miner's rolled bits (`None` when the job was unknown).
    pub version: Option<u32>,
    /// The payee's coinb2 and notify the share was judged on (`None` when the job was
    /// unknown): consumers that announce a user's work before its shares need not build it.
    pub work: Option<Arc<UserWork>>,
    /// True when the share solves a block and went to the block submitter (a solution sent
    /// again is not marked: it is not a new block).
    pub is_block: bool,
    /// When it was judged.
    pub at: SystemTime,
    /// The listener it arrived on (ckpool `createinet`).
    pub listener: SocketAddr,
    /// Worker name as submitted.
    pub worker: Arc<str>,
    /// The user (worker name up to the first '.').
    pub username: Arc<str>,
    /// The miner's address.
    pub peer: SocketAddr,
    /// User agent from subscribe.
    pub agent: Arc<str>,
}

/// Something consumers may want to know.
#[derive(Debug, Clone)]
pub enum Event {
    /// A new job was published (ckpool's Workbase).
    Job(Arc<Job>),
    /// A user was sent a job's notify (ckpool's UserWorkbase). Sent per session; consumers
    /// dedupe by (job, user).
    UserNotify {
        /// The job.
        job: Arc<Job>,
        /// The payee-specific coinb2 and notify.
        work: Arc<UserWork>,
        /// Whether the user was sent the `clean_jobs=true` line.
        clean: bool,
        /// Who got it.
        username: Arc<str>,
    },
    /// A share was judged.
    Share(ShareRecord),
    /// A worker authorized.
    Authorized {
        /// The user.
        username: Arc<str>,
        /// The full worker name.
        worker: Arc<str>,
        /// When.
        at: SystemTime,
    },
    /// A worker's connection ended.
    Disconnected {
        /// The user.
        username: Arc<str>,
        /// The full worker name.
        worker: Arc<str>,
    },
    /// The block submitter's verdict on a found block.
    BlockVerdict(BlockVerdict),
}

impl Event {
    /// A block solve (the share that went to the submitter) or a verdict on a block:
    /// events the bus never drops.
    pub fn is_about_a_block(&self) -> bool {
        match self {
            Event::Share(rec) => rec.is_block,
            Event::BlockVerdict(_) => true,
            _ => false,
        }
    }
}

/// Which events a consumer wants.
#[derive(Debug, Clone, Copy, Default)]
pub struct Interest {
    /// [`Event::Job`].
    pub jobs: bool,
    /// [`Event::UserNotify`].
    pub user_notifies: bool,
    /// [`Event::Share`] for accepted shares.
    pub accepted_shares: bool,
    /// [`Event::Share`] for rejected shares.
    pub rejected_shares: bool,
    /// [`Event::Authorized`] and [`Event::Disconnected`].
    pub sessions: bool,
    /// [`Event::BlockVerdict`].
    pub block_verdicts: bool,
}

impl Interest {
    fn wants(&self, e: &Event) -> bool {
        match e {
            Event::Job(_) => self.jobs,
            Event::UserNotify { .. } => self.user_notifies,
            Event::Share(s) if s.result.is_ok() => self.accepted_shares,
            Event::Share(_) => self.rejected_shares,
            Event::Authorized { .. } | Event::Disconnected { .. } => self.sessions,
            Event::BlockVerdict(_) => self.block_verdicts,
        }
    }

    fn union(self, o: Interest) -> Interest {
        Interest {
            jobs: self.jobs || o.jobs,
            user_notifies: self.user_notifies || o.user_notifies,
            accepted_shares: self.accepted_shares || o.accepted_shares,
            rejected_shares: self.rejected_shares || o.rejected_shares,
            sessions: self.sessions || o.sessions,
            block_verdicts: self.block_verdicts || o.block_verdicts,
        }
    }
}

#[derive(Debug)]
struct Subscriber {
    name: &'static str,
    interest: Interest,
    tx: mpsc::Sender<Event>,
    dropped: AtomicU64,
}

/// The fan-out. Built once at start-up with its consumers, then shared read-only.
#[derive(Debug, Default)]
pub struct Events {
    subscribers: Vec<Subscriber>,
    any: Interest,
}

/// Builds an [`Events`] by registering consumers.
#[derive(Debug, Default)]
pub struct EventsBuilder {
    events: Events,
}

impl EventsBuilder {
    /// Registers a consumer `name` for `interest`; returns its receiving end.
    pub fn subscribe(
        &mut self,
        name: &'static str,
        interest: Interest,
        capacity: usize,
    ) -> mpsc::Receiver<Event> {
        let (tx, rx) = mpsc::channel(capacity.max(1));
        self.events.any = self.events.any.union(interest);
        self.events.subscribers.push(Subscriber {
            name,
            interest,
            tx,
            dropped: AtomicU64::new(0),
        });
        rx
    }

    /// The finished fan-out.
    pub fn build(self) -> Events {
        self.events
    }
}

impl Events {
    /// Whether any consumer wants this kind of event: lets the hot path skip building
    /// records nobody reads.
    #[inline]
    pub fn interest(&self) -> Interest {
        self.any
    }

    /// Each consumer's name and how many events it lost (its queue was full), for the
    /// metrics.
    pub fn dropped_counts(&self) -> Vec<(&'static str, u64)> {
        self.subscribers
            .iter()
            .map(|s| (s.name, s.dropped.load(Ordering::Relaxed)))
            .collect()
    }

    /// Hands `event` to every consumer that wants it, never waiting.
    pub fn publish(&self, event: Event) {
        for s in &self.subscribers {
            if !s.interest.wants(&event) {
                continue;
            }
            match s.tx.try_send(event.clone()) {
                Err(mpsc::error::TrySendError::Full(event)) if event.is_about_a_block() => {
                    // Block solves and their verdicts are rare, and a found block's log
                    // line needs both: never dropped, sent as soon as there is room.
                    if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                        let tx = s.tx.clone();
                        runtime.spawn(async move {
                            let _ = tx.send(event).await;
                        });
                        continue;
                    }
                    s.count_dropped();
                }
                Err(mpsc::error::TrySendError::Full(_)) => s.count_dropped(),
                Ok(()) | Err(mpsc::error::TrySendError::Closed(_)) => {}
            }
        }
    }
}

impl Subscriber {
    /// One more event this consumer had no room for.
    fn count_dropped(&self) {
        let n = self.dropped.fetch_add(1, Ordering::Relaxed);
        if n.is_power_of_two() {
            tracing::warn!(
                consumer = self.name,
                dropped = n + 1,
                "event consumer is behind; events dropped"
            );
        }
    }
}

impl Events {
    /// Events dropped so far for consumer `name`.
    pub fn dropped(&self, name: &str) -> u64 {
        self.subscribers
            .iter()
            .filter(|s| s.name == name)
            .map(|s| s.dropped.load(Ordering::Relaxed))
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn authorized() -> Event {
        Event::Authorized {
            username: "u".into(),
            worker: "u.w".into(),
            at: SystemTime::now(),
        }
    }

    #[test]
    fn slow_consumer_loses_events_without_blocking() {
        let mut b = EventsBuilder::default();
        let mut fast = b.subscribe(
            "fast",
            Interest {
                sessions: true,
                ..Interest::default()
            },
            100,
        );
        let _slow = b.subscribe(
            "slow",
            Interest {
                sessions: true,
                ..Interest::default()
            },
            2,
        );
        let _none = b.subscribe(
            "jobs-only",
            Interest {
                jobs: true,
                ..Interest::default()
            },
            1,
        );
        let events = b.build();
        for _ in 0..10 {
            events.publish(authorized());
        }
        assert_eq!(events.dropped("slow"), 8);
        assert_eq!(events.dropped("fast"), 0);
        assert_eq!(events.dropped("jobs-only"), 0);
        let mut n = 0;
        while fast.try_recv().is_ok() {
            n += 1;
        }
        assert_eq!(n, 10);
        assert!(
            events.interest().sessions
                && events.interest().jobs
                && !events.interest().accepted_shares
        );
    }

    #[tokio::test]
    async fn a_verdict_waits_for_room_instead_of_being_dropped() {
        use crate::node::submitter::{BlockOutcome, BlockVerdict};
        let mut b = EventsBuilder::default();
        let mut rx = b.subscribe(
            "stats",
            Interest {
                sessions: true,
                block_verdicts: true,
                ..Interest::default()
            },
            1,
        );
        let events = b.build();
        events.publish(authorized());
        events.publish(Event::BlockVerdict(BlockVerdict {
            hash: "00".repeat(32),
            outcome: BlockOutcome::Accepted,
        }));
        events.publish(authorized());
        assert_eq!(
            events.dropped("stats"),
            1,
            "the second session event is dropped"
        );
        assert!(matches!(rx.recv().await, Some(Event::Authorized { .. })));
        assert!(matches!(rx.recv().await, Some(Event::BlockVerdict(_))));
    }
}

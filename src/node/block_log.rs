//! The found blocks an operator asks about (`/api/blocks`): each block this run sent to
//! bitcoind (and each an earlier run archived and this one resubmitted), with every node's
//! answer as it comes and the verdict. The submitter writes it as it goes; the API reads a
//! copy. Bounded: the newest [`BLOCKS_KEPT`] submissions; the older ones are in the archive
//! under `<logdir>/blocks/` and in the log.
//!
//! Each submission has its own entry and [`SubmissionId`]: answers and verdicts find their
//! entry by it, so two submissions of one block (a resubmission overlapping a send) never
//! mix their answers, and an answer for an entry already dropped changes nothing.

use std::collections::VecDeque;
use std::sync::{Mutex, PoisonError};
use std::time::SystemTime;

use serde::Serialize;

use super::outcome::{BlockOutcome, SubmitOutcome};

/// How many submissions the log keeps (a pool finds a handful of blocks a day).
pub const BLOCKS_KEPT: usize = 100;

/// Which submission an answer is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SubmissionId(u64);

/// One found block sent once, and what became of it so far.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct FoundBlock {
    #[serde(skip)]
    id: u64,
    /// Its height.
    pub height: u32,
    /// Its hash, display (RPC) byte order, hex.
    pub hash: String,
    /// The worker whose share solved it; `None` for a block an earlier run archived.
    pub worker: Option<String>,
    /// When this run sent it (or found it could not), unix seconds.
    pub at: f64,
    /// Each configured bitcoind's answer, in config order.
    pub nodes: Vec<NodeAnswer>,
    /// The verdict once there is one: accepted as soon as one node took it.
    pub verdict: Option<BlockOutcome>,
}

/// One bitcoind's answer on one block.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct NodeAnswer {
    /// The node, as configured (`btcd` url, without any credentials in it).
    pub node: String,
    /// What it said; `None` while it is still being asked (or retried).
    pub answer: Option<SubmitOutcome>,
    /// When it answered, unix seconds.
    pub at: Option<f64>,
}

/// The log itself: shared by the submitter (writer) and the API (reader).
#[derive(Debug, Default)]
pub struct BlockLog {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    blocks: VecDeque<FoundBlock>,
    next_id: u64,
}

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

impl Inner {
    /// Appends a new entry (dropping the oldest when [`BLOCKS_KEPT`] are kept); its id.
    fn push(
        &mut self,
        height: u32,
        hash: &str,
        worker: Option<&str>,
        nodes: Vec<NodeAnswer>,
        verdict: Option<BlockOutcome>,
    ) -> SubmissionId {
        let id = self.next_id;
        self.next_id += 1;
        if self.blocks.len() >= BLOCKS_KEPT {
            self.blocks.pop_front();
        }
        self.blocks.push_back(FoundBlock {
            id,
            height,
            hash: hash.to_string(),
            worker: worker.map(str::to_string),
            at: unix_now(),
            nodes,
            verdict,
        });
        SubmissionId(id)
    }

    fn find(&mut self, id: SubmissionId) -> Option<&mut FoundBlock> {
        self.blocks.iter_mut().rev().find(|b| b.id == id.0)
    }
}

impl BlockLog {
    fn inner(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A block is being sent to `nodes` (their urls, in order): a new entry, whose id the
    /// answers come with.
    pub fn sent(
        &self,
        height: u32,
        hash: &str,
        worker: Option<&str>,
        nodes: Vec<String>,
    ) -> SubmissionId {
        let nodes = nodes
            .into_iter()
            .map(|node| NodeAnswer {
                node,
                answer: None,
                at: None,
            })
            .collect();
        self.inner().push(height, hash, worker, nodes, None)
    }

    /// A solved block that was never sent (it could not be assembled), with why.
    pub fn not_sent(&self, height: u32, hash: &str, worker: Option<&str>, verdict: BlockOutcome) {
        self.inner()
            .push(height, hash, worker, Vec::new(), Some(verdict));
    }

    /// Node `index` of the submission's list answered.
    pub fn answered(&self, id: SubmissionId, index: usize, answer: SubmitOutcome) {
        let mut inner = self.inner();
        if let Some(slot) = inner.find(id).and_then(|b| b.nodes.get_mut(index)) {
            slot.answer = Some(answer);
            slot.at = Some(unix_now());
        }
    }

    /// The submission's verdict.
    pub fn verdict(&self, id: SubmissionId, verdict: BlockOutcome) {
        if let Some(b) = self.inner().find(id) {
            b.verdict = Some(verdict);
        }
    }

    /// Every submission kept, oldest first.
    pub fn snapshot(&self) -> Vec<FoundBlock> {
        self.inner().blocks.iter().cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_fill_in_per_node_and_the_oldest_block_goes_first() {
        let log = BlockLog::default();
        let aa = log.sent(5, "aa", Some("w.1"), vec!["n0".into(), "n1".into()]);
        log.answered(aa, 1, SubmitOutcome::Rejected("inconclusive".into()));
        let b = &log.snapshot()[0];
        assert_eq!(b.nodes[0].answer, None);
        assert_eq!(
            b.nodes[1].answer,
            Some(SubmitOutcome::Rejected("inconclusive".into()))
        );
        assert!(b.nodes[1].at.is_some());
        log.answered(aa, 0, SubmitOutcome::Accepted);
        log.verdict(aa, BlockOutcome::Accepted);
        let b = &log.snapshot()[0];
        assert_eq!(b.nodes[0].answer, Some(SubmitOutcome::Accepted));
        assert_eq!(b.verdict, Some(BlockOutcome::Accepted));
        // An answer for a node it does not know changes nothing.
        log.answered(aa, 7, SubmitOutcome::Accepted);
        assert_eq!(log.snapshot().len(), 1);

        for i in 0..BLOCKS_KEPT {
            log.sent(6, &format!("h{i}"), None, vec!["n0".into()]);
        }
        let all = log.snapshot();
        assert_eq!(all.len(), BLOCKS_KEPT);
        assert_eq!(
            all[0].hash, "h0",
            "the first block was dropped, not a new one"
        );
        assert_eq!(all[BLOCKS_KEPT - 1].hash, format!("h{}", BLOCKS_KEPT - 1));
        // A late answer and verdict for the dropped entry change nothing, add nothing.
        log.answered(aa, 0, SubmitOutcome::Unreachable("late".into()));
        log.verdict(aa, BlockOutcome::NotSubmitted("late".into()));
        assert_eq!(log.snapshot(), all);
    }

    #[test]
    fn two_submissions_of_one_block_keep_their_own_answers() {
        let log = BlockLog::default();
        let first = log.sent(7, "ee", Some("w"), vec!["n0".into()]);
        let again = log.sent(7, "ee", None, vec!["n0".into()]);
        log.answered(first, 0, SubmitOutcome::Accepted);
        log.verdict(first, BlockOutcome::Accepted);
        log.answered(again, 0, SubmitOutcome::AlreadyKnown);
        let all = log.snapshot();
        assert_eq!(all.len(), 2);
        assert_eq!(all[0].nodes[0].answer, Some(SubmitOutcome::Accepted));
        assert_eq!(all[0].verdict, Some(BlockOutcome::Accepted));
        assert_eq!(all[1].nodes[0].answer, Some(SubmitOutcome::AlreadyKnown));
        assert_eq!(all[1].verdict, None, "its own verdict is still to come");
    }

    #[test]
    fn a_block_never_sent_is_listed_with_its_verdict() {
        let log = BlockLog::default();
        log.not_sent(
            9,
            "cc",
            Some("w.2"),
            BlockOutcome::NotSubmitted("cannot assemble".into()),
        );
        let b = &log.snapshot()[0];
        assert_eq!((b.height, b.worker.as_deref()), (9, Some("w.2")));
        assert!(b.nodes.is_empty());
        assert_eq!(
            b.verdict,
            Some(BlockOutcome::NotSubmitted("cannot assemble".into()))
        );
    }

    #[test]
    fn it_serializes_as_the_api_documents() {
        let log = BlockLog::default();
        let dd = log.sent(1, "dd", Some("w"), vec!["n0".into(), "n1".into()]);
        log.answered(dd, 0, SubmitOutcome::Accepted);
        log.answered(dd, 1, SubmitOutcome::Unreachable("refused".into()));
        log.verdict(dd, BlockOutcome::Accepted);
        let v = serde_json::to_value(log.snapshot()).unwrap();
        assert_eq!(
            v[0]["nodes"][0]["answer"],
            serde_json::json!({"result": "accepted"})
        );
        assert_eq!(
            v[0]["nodes"][1]["answer"],
            serde_json::json!({"result": "unreachable", "reason": "refused"})
        );
        assert_eq!(v[0]["verdict"], serde_json::json!({"result": "accepted"}));
        assert!(v[0].get("id").is_none(), "the id is internal");
    }
}

//! The found blocks an operator asks about (`/api/blocks`): each block this run sent to
//! bitcoind (and each an earlier run archived and this one resubmitted), with every node's
//! answer as it comes and the verdict. The submitter writes it as it goes; the API reads a
//! copy. Bounded: the newest [`BLOCKS_KEPT`] blocks, the older ones are in the archive under
//! `<logdir>/blocks/` and in the log.

use std::collections::VecDeque;
use std::sync::{Mutex, PoisonError};
use std::time::SystemTime;

use serde::Serialize;

use super::submitter::{BlockOutcome, SubmitOutcome};

/// How many blocks the log keeps (a pool finds a handful a day; a long simnet run more).
pub const BLOCKS_KEPT: usize = 100;

/// One found block and what became of it so far.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct FoundBlock {
    /// Its height.
    pub height: u32,
    /// Its hash, display (RPC) byte order, hex.
    pub hash: String,
    /// The worker whose share solved it; `None` for a block an earlier run archived.
    pub worker: Option<String>,
    /// When this run sent it (or could not), unix seconds.
    pub at: f64,
    /// Each configured bitcoind's answer, in config order.
    pub nodes: Vec<NodeAnswer>,
    /// The verdict once there is one: accepted as soon as one node took it.
    pub verdict: Option<BlockOutcome>,
}

/// One bitcoind's answer on one block.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct NodeAnswer {
    /// The node, as configured (`btcd` url).
    pub node: String,
    /// What it said; `None` while it is still being asked (or retried).
    pub answer: Option<SubmitOutcome>,
    /// When it answered, unix seconds.
    pub at: Option<f64>,
}

/// The log itself: shared by the submitter (writer) and the API (reader).
#[derive(Debug, Default)]
pub struct BlockLog {
    blocks: Mutex<VecDeque<FoundBlock>>,
}

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

impl FoundBlock {
    fn new(height: u32, hash: &str, worker: Option<&str>, nodes: Vec<NodeAnswer>) -> Self {
        FoundBlock {
            height,
            hash: hash.to_string(),
            worker: worker.map(str::to_string),
            at: unix_now(),
            nodes,
            verdict: None,
        }
    }
}

/// Appends `block`, dropping the oldest when [`BLOCKS_KEPT`] are kept.
fn push(blocks: &mut VecDeque<FoundBlock>, block: FoundBlock) {
    if blocks.len() >= BLOCKS_KEPT {
        blocks.pop_front();
    }
    blocks.push_back(block);
}

impl BlockLog {
    fn blocks(&self) -> std::sync::MutexGuard<'_, VecDeque<FoundBlock>> {
        self.blocks.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A block is being sent to `nodes` (their urls, in order). A block already in the log
    /// (the same solve again) keeps its entry and is asked about afresh.
    pub fn sent(&self, height: u32, hash: &str, worker: Option<&str>, nodes: Vec<String>) {
        let nodes: Vec<NodeAnswer> = nodes
            .into_iter()
            .map(|node| NodeAnswer {
                node,
                answer: None,
                at: None,
            })
            .collect();
        let mut blocks = self.blocks();
        match blocks.iter_mut().rev().find(|b| b.hash == hash) {
            Some(b) => b.nodes = nodes,
            None => push(&mut blocks, FoundBlock::new(height, hash, worker, nodes)),
        }
    }

    /// Node `index` of the block's list answered.
    pub fn answered(&self, hash: &str, index: usize, answer: SubmitOutcome) {
        let mut blocks = self.blocks();
        let slot = blocks
            .iter_mut()
            .rev()
            .find(|b| b.hash == hash)
            .and_then(|b| b.nodes.get_mut(index));
        if let Some(slot) = slot {
            slot.answer = Some(answer);
            slot.at = Some(unix_now());
        }
    }

    /// The block's verdict; a block the log has not seen (one that could not be assembled,
    /// so never sent) is added with it.
    pub fn verdict(&self, height: u32, hash: &str, worker: Option<&str>, verdict: BlockOutcome) {
        let mut blocks = self.blocks();
        match blocks.iter_mut().rev().find(|b| b.hash == hash) {
            Some(b) => b.verdict = Some(verdict),
            None => {
                let mut b = FoundBlock::new(height, hash, worker, Vec::new());
                b.verdict = Some(verdict);
                push(&mut blocks, b);
            }
        }
    }

    /// Every block kept, oldest first.
    pub fn snapshot(&self) -> Vec<FoundBlock> {
        self.blocks().iter().cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_fill_in_per_node_and_the_oldest_block_goes_first() {
        let log = BlockLog::default();
        log.sent(5, "aa", Some("w.1"), vec!["n0".into(), "n1".into()]);
        log.answered("aa", 1, SubmitOutcome::Rejected("inconclusive".into()));
        let b = &log.snapshot()[0];
        assert_eq!(b.nodes[0].answer, None);
        assert_eq!(
            b.nodes[1].answer,
            Some(SubmitOutcome::Rejected("inconclusive".into()))
        );
        assert!(b.nodes[1].at.is_some());
        log.answered("aa", 0, SubmitOutcome::Accepted);
        log.verdict(5, "aa", Some("w.1"), BlockOutcome::Accepted);
        let b = &log.snapshot()[0];
        assert_eq!(b.nodes[0].answer, Some(SubmitOutcome::Accepted));
        assert_eq!(b.verdict, Some(BlockOutcome::Accepted));
        // An answer for a node or block it does not know changes nothing.
        log.answered("aa", 7, SubmitOutcome::Accepted);
        log.answered("bb", 0, SubmitOutcome::Accepted);
        assert_eq!(log.snapshot().len(), 1);

        for i in 0..BLOCKS_KEPT {
            log.sent(6, &format!("h{i}"), None, vec![]);
        }
        let all = log.snapshot();
        assert_eq!(all.len(), BLOCKS_KEPT);
        assert_eq!(
            all[0].hash, "h0",
            "the first block was dropped, not a new one"
        );
        assert_eq!(all[BLOCKS_KEPT - 1].hash, format!("h{}", BLOCKS_KEPT - 1));
    }

    #[test]
    fn a_block_never_sent_is_listed_with_its_verdict() {
        let log = BlockLog::default();
        log.verdict(
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
        log.sent(1, "dd", Some("w"), vec!["n0".into(), "n1".into()]);
        log.answered("dd", 0, SubmitOutcome::Accepted);
        log.answered("dd", 1, SubmitOutcome::Unreachable("refused".into()));
        log.verdict(1, "dd", Some("w"), BlockOutcome::Accepted);
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
    }
}

//! What bitcoind said about a found block: one node's answer ([`SubmitOutcome`]) and the
//! verdict over every node ([`BlockOutcome`]). Apart from the submitter that produces them
//! so that its block log and the stats files can name them without importing it.

/// What bitcoind said about a block (in `/api/blocks` as `{"result": "accepted"}`,
/// `{"result": "rejected", "reason": "high-hash"}`, …).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(tag = "result", content = "reason", rename_all = "snake_case")]
pub enum SubmitOutcome {
    /// `null`: accepted.
    Accepted,
    /// `"duplicate"`: bitcoind already has this block and found it valid (e.g. our first
    /// attempt reached it before timing out, or an earlier run submitted it).
    AlreadyKnown,
    /// A reject string (`high-hash`, `bad-cb-amount`, …).
    Rejected(String),
    /// Never reached the node.
    Unreachable(String),
}

/// bitcoind's answer on a block (serialized as [`SubmitOutcome`] is).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "result", content = "reason", rename_all = "snake_case")]
pub enum BlockOutcome {
    /// At least one node accepted it (or already had it).
    Accepted,
    /// Every node that answered rejected it, with this reason.
    Rejected(String),
    /// It never reached a node (assembly failed, or no node could be reached in time).
    NotSubmitted(String),
}

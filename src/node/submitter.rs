//! The block submitter: each found block is sent with `submitblock` to every bitcoind at
//! once while it is archived under `<logdir>/blocks/`, retrying a node that cannot take it yet
//! (unreachable, starting up, syncing) for up to [`BLOCK_RETRY_WINDOW`]. bitcoind's
//! answer is logged as it is: `null` is success, any string is a rejection. Blocks left
//! unconfirmed by a previous run are resubmitted at start.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use futures::stream::{FuturesUnordered, StreamExt};
use serde_json::Value;
use tokio::sync::mpsc;

use super::block_log::{BlockLog, SubmissionId};
pub use super::outcome::{BlockOutcome, SubmitOutcome};
use super::rpc::{NodeSet, RpcError};
use super::source::FetchReason;

/// How long a found block keeps being offered to a node that cannot take it yet (down,
/// starting up, syncing): a block can still win its race minutes after it was found, and a
/// restarting bitcoind takes minutes to answer again.
pub const BLOCK_RETRY_WINDOW: Duration = Duration::from_secs(20 * 60);

/// The wait before attempt `attempt` (0-based): at once, then quickly, then every 5 s.
fn retry_delay(attempt: u32) -> Duration {
    match attempt {
        0 => Duration::ZERO,
        1 => Duration::from_millis(100),
        2 => Duration::from_millis(500),
        3 => Duration::from_secs(2),
        _ => Duration::from_secs(5),
    }
}

/// Suffix of a block file once a bitcoind has accepted it.
const DONE_SUFFIX: &str = ".accepted";
/// Suffix of a block file every bitcoind rejected (kept for inspection, not resubmitted).
const REJECTED_SUFFIX: &str = ".rejected";

/// A block ready for `submitblock`.
#[derive(Debug, Clone)]
pub struct SolvedBlock {
    /// Its height.
    pub height: u32,
    /// Its hash, display (RPC) byte order, hex.
    pub hash: String,
    /// The serialized block, hex, as `submitblock` takes it.
    pub hex: String,
    /// The worker whose share solved it (for `/api/blocks`).
    pub worker: String,
}

/// What became of one found block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockVerdict {
    /// The block hash, display (RPC) byte order, hex.
    pub hash: String,
    /// bitcoind's answer.
    pub outcome: BlockOutcome,
}

/// Where verdicts go (counters and the event bus, wired by the app), from the submitter's
/// tasks.
pub type VerdictSink = Arc<dyn Fn(BlockVerdict) + Send + Sync>;

/// Submits found blocks; owns its own RPC connections so a slow `getblocktemplate` never
/// delays a block.
pub struct BlockSubmitter {
    nodes: NodeSet,
    dir: PathBuf,
    verdicts: VerdictSink,
    refresh: mpsc::Sender<FetchReason>,
    log: Arc<BlockLog>,
}

impl std::fmt::Debug for BlockSubmitter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlockSubmitter")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

impl BlockSubmitter {
    /// A submitter writing to `<logdir>/blocks`, telling `verdicts` what became of each
    /// block and asking the template source (`refresh`) for fresh work after each.
    pub fn new(
        nodes: NodeSet,
        logdir: &Path,
        verdicts: VerdictSink,
        refresh: mpsc::Sender<FetchReason>,
    ) -> Self {
        BlockSubmitter {
            nodes,
            dir: logdir.join("blocks"),
            verdicts,
            refresh,
            log: Arc::default(),
        }
    }

    /// The blocks it sent and each node's answer, as they come (what `/api/blocks` shows).
    pub fn blocks(&self) -> Arc<BlockLog> {
        self.log.clone()
    }

    /// Starts resubmitting the blocks an earlier run archived but never confirmed, in the
    /// background; new blocks go out meanwhile, never behind them.
    pub fn start(self) -> Arc<Self> {
        let me = Arc::new(self);
        tokio::spawn(me.clone().resubmit_pending());
        me
    }

    /// Submits `block` to every node (in a task of its own) while archiving it. The
    /// receiver hears once the archive is written (or could not be): from then on a
    /// restart resubmits the block if no node took it.
    pub fn submit(self: &Arc<Self>, block: SolvedBlock) -> tokio::sync::oneshot::Receiver<()> {
        let (archived, heard) = tokio::sync::oneshot::channel();
        let me = self.clone();
        tokio::spawn(async move { me.handle(block, archived).await });
        heard
    }

    /// Records that a solved block could not even be assembled.
    pub fn not_assembled(&self, height: u32, hash: &str, worker: &str, reason: String) {
        let outcome = BlockOutcome::NotSubmitted(reason);
        self.log
            .not_sent(height, hash, Some(worker), outcome.clone());
        self.verdict(hash, outcome);
    }

    async fn handle(
        self: Arc<Self>,
        block: SolvedBlock,
        archived: tokio::sync::oneshot::Sender<()>,
    ) {
        let SolvedBlock {
            height,
            hash,
            hex,
            worker,
        } = block;
        let path = self.dir.join(format!("{height}-{hash}.hex"));
        let block = Arc::new(hex);
        let write = async {
            let written = write_block_file(&self.dir, &path, &block).await;
            let _ = archived.send(());
            written
        };
        // The archive is written while the block is out: a slow disk must not delay it.
        let (written, suffix) = tokio::join!(
            write,
            self.submit_everywhere(height, &hash, Some(&worker), block.clone())
        );
        match written {
            Ok(()) => mark_block_file(&path, suffix).await,
            Err(e) => tracing::error!(path = %path.display(), "cannot archive block: {e}"),
        }
    }

    /// Sends the block to every node and records the verdict; returns the suffix its
    /// archive file takes (none: resubmit it at the next start).
    async fn submit_everywhere(
        &self,
        height: u32,
        hash: &str,
        worker: Option<&str>,
        block: Arc<String>,
    ) -> Option<&'static str> {
        let urls = (0..self.nodes.len()).map(|i| self.nodes.url(i)).collect();
        let id = self.log.sent(height, hash, worker, urls);
        let mut tasks: FuturesUnordered<_> = (0..self.nodes.len())
            .map(|index| {
                let nodes = self.nodes.clone();
                let block = block.clone();
                tokio::spawn(async move {
                    let outcome =
                        submit_with_retry(&nodes, index, &block, BLOCK_RETRY_WINDOW).await;
                    (index, nodes.url(index), outcome)
                })
            })
            .collect();
        let mut accepted = false;
        let mut any_unreachable = false;
        let mut rejection = None;
        let mut unreachable = None;
        // Answers as they come: the first acceptance is the verdict at once, even while
        // another node is still being retried.
        while let Some(joined) = tasks.next().await {
            let Ok((index, url, outcome)) = joined else {
                continue;
            };
            self.log.answered(id, index, outcome.clone());
            match outcome {
                SubmitOutcome::Accepted | SubmitOutcome::AlreadyKnown => {
                    if outcome == SubmitOutcome::Accepted {
                        tracing::info!(height, %hash, %url, "block accepted by bitcoind");
                    } else {
                        tracing::info!(height, %hash, %url, "bitcoind already has the block (duplicate)");
                    }
                    if !accepted {
                        accepted = true;
                        self.logged_verdict(id, hash, BlockOutcome::Accepted);
                    }
                }
                SubmitOutcome::Rejected(reason) => {
                    tracing::error!(height, %hash, %url, %reason, "block REJECTED by bitcoind");
                    rejection = Some(reason);
                }
                SubmitOutcome::Unreachable(reason) => {
                    any_unreachable = true;
                    tracing::error!(height, %hash, %url, %reason, "block not submitted: bitcoind unreachable");
                    unreachable = Some(reason);
                }
            }
        }
        if accepted {
            return Some(DONE_SUFFIX);
        }
        let outcome = match (rejection, unreachable) {
            (Some(reason), _) => BlockOutcome::Rejected(reason),
            (None, reason) => BlockOutcome::NotSubmitted(
                reason.unwrap_or_else(|| "no bitcoind configured".into()),
            ),
        };
        self.logged_verdict(id, hash, outcome);
        // Keep a block nobody could be asked about for the next start; a block every
        // reachable node rejected is kept for inspection only.
        (!any_unreachable).then_some(REJECTED_SUFFIX)
    }

    /// Hands the verdict on a block on, and asks for fresh work (a block of ours on the
    /// chain, or a rejection that may mean our template is stale).
    fn verdict(&self, hash: &str, outcome: BlockOutcome) {
        (self.verdicts)(BlockVerdict {
            hash: hash.to_string(),
            outcome,
        });
        let _ = self.refresh.try_send(FetchReason::BlockSubmitted);
    }

    /// [`Self::verdict`] on submission `id`, in the block log too.
    fn logged_verdict(&self, id: SubmissionId, hash: &str, outcome: BlockOutcome) {
        self.log.verdict(id, outcome.clone());
        self.verdict(hash, outcome);
    }

    /// Blocks archived but never confirmed (the process stopped first) are sent again.
    async fn resubmit_pending(self: Arc<Self>) {
        let Ok(mut entries) = tokio::fs::read_dir(&self.dir).await else {
            return;
        };
        // Listed before any is sent: a block found meanwhile is this run's, not one to
        // send twice.
        let mut archived = Vec::new();
        while let Ok(Some(entry)) = entries.next_entry().await {
            let path = entry.path();
            if path.extension().and_then(|e| e.to_str()) == Some("hex") {
                archived.push(path);
            }
        }
        for path in archived {
            let Ok(block) = tokio::fs::read_to_string(&path).await else {
                continue;
            };
            let name = path
                .file_stem()
                .and_then(|s| s.to_str())
                .unwrap_or("")
                .to_string();
            let (height, hash) = name.split_once('-').unwrap_or(("0", &name));
            let height = height.parse().unwrap_or(0);
            tracing::info!(path = %path.display(), "resubmitting a block archived by an earlier run");
            let suffix = self
                .submit_everywhere(height, hash, None, Arc::new(block.trim().to_string()))
                .await;
            mark_block_file(&path, suffix).await;
        }
    }
}

/// Renames an archived block `<name>.hex<suffix>` once it has its verdict.
async fn mark_block_file(path: &Path, suffix: Option<&str>) {
    if let Some(suffix) = suffix {
        let mut done = path.as_os_str().to_owned();
        done.push(suffix);
        if let Err(e) = tokio::fs::rename(path, PathBuf::from(done)).await {
            tracing::warn!(path = %path.display(), "cannot mark the archived block: {e}");
        }
    }
}

/// Writes the archive durably: the file is what a restart resubmits. Written under a
/// temporary name (not `.hex`, so a restart never reads half a block), synced, renamed into
/// place, and the directory synced so the name survives a crash too.
async fn write_block_file(dir: &Path, path: &Path, block: &str) -> std::io::Result<()> {
    use tokio::io::AsyncWriteExt;
    tokio::fs::create_dir_all(dir).await?;
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| std::io::Error::other("no file name"))?;
    let tmp = path.with_file_name(format!(".{name}.tmp"));
    let mut file = tokio::fs::File::create(&tmp).await?;
    file.write_all(block.as_bytes()).await?;
    file.sync_all().await?;
    drop(file);
    tokio::fs::rename(&tmp, path).await?;
    tokio::fs::File::open(dir).await?.sync_all().await
}

/// `submitblock` to one node. A node that cannot take it yet (unreachable, starting up,
/// syncing, no peers) is asked again until `window` has passed; any answer is final.
pub async fn submit_with_retry(
    nodes: &NodeSet,
    index: usize,
    block_hex: &str,
    window: Duration,
) -> SubmitOutcome {
    let started = tokio::time::Instant::now();
    let mut last = String::new();
    for attempt in 0u32.. {
        let delay = retry_delay(attempt);
        if attempt > 0 && started.elapsed() + delay > window {
            break;
        }
        tokio::time::sleep(delay).await;
        match nodes
            .call_on(
                index,
                "submitblock",
                vec![Value::String(block_hex.to_string())],
            )
            .await
        {
            Ok(Value::Null) => return SubmitOutcome::Accepted,
            Ok(Value::String(reason)) if reason == "duplicate" => {
                return SubmitOutcome::AlreadyKnown
            }
            Ok(Value::String(reason)) => return SubmitOutcome::Rejected(reason),
            Ok(other) => return SubmitOutcome::Rejected(other.to_string()),
            // Never submitted to a node on another chain, and no use asking it again.
            Err(e @ RpcError::WrongChain { .. }) => {
                return SubmitOutcome::Unreachable(e.to_string())
            }
            Err(e) if e.is_node_unavailable() => {
                if attempt == 0 {
                    tracing::warn!("block not taken yet, retrying for up to {window:?}: {e}");
                }
                last = e.to_string();
            }
            Err(RpcError::Node { code, message, .. }) => {
                return SubmitOutcome::Rejected(format!("error {code}: {message}"))
            }
            Err(e) => return SubmitOutcome::Unreachable(e.to_string()),
        }
    }
    SubmitOutcome::Unreachable(last)
}

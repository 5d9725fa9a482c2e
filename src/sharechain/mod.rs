//! The node's share chain at work: one thread owns the chain and its store (the one
//! writer), takes the shares this node's miners find, checks each as it would a peer's,
//! writes what it keeps in one batch with the tip, and publishes the p2pool payout plan of
//! every new tip, from which the job loop rebuilds every miner's job. Its status (tip,
//! height, window) is a watch for the status line and the summary.
//!
//! The thread is not the share path: sessions hand shares to the found-share sink and go
//! on; the sink's consumer waits here only when the chain is 1,024 requests behind.
//!
//! The network (`crate::p2p`) talks to the chain only through [`ChainRequest`]s on the
//! same queue: peers' shares are offered here and their verdicts sent back, and what peers
//! ask of the chain (a locator, the ids after one, shares by id) is read here, so the
//! chain has one owner and every answer sees every share offered before it.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::SystemTime;

use tokio::sync::{mpsc, oneshot, watch};

use crate::config::P2poolSettings;
use crate::p2pool::chain::{Chain, Verdict};
use crate::p2pool::share::{Share, ShareId};
use crate::p2pool::spec::ChainSpec;
use crate::p2pool::store::{Store, StoreError};
use crate::share::found::InFlight;
use crate::work::PayoutPlan;

/// Requests queued for the chain's thread before the found-share consumer waits.
pub const QUEUE: usize = 1024;

/// What the chain's thread is asked to do.
#[derive(Debug)]
pub enum ChainRequest {
    /// Keep a share this node's miners found (and announce it to peers when valid).
    Mined(Box<Offered>),
    /// Shares from a peer in wire form, oldest first; the verdicts come back in order.
    FromPeer {
        /// The shares.
        shares: Vec<Vec<u8>>,
        /// Their verdicts.
        reply: oneshot::Sender<Vec<Verdict>>,
    },
    /// The best chain's locator ([`Chain::locator`]).
    Locator(oneshot::Sender<Vec<ShareId>>),
    /// The best chain's shares after a peer's locator ([`Chain::ids_after`]).
    IdsAfter {
        /// The peer's locator.
        locator: Vec<ShareId>,
        /// Most ids.
        max: usize,
        /// The tip's height and the ids.
        reply: oneshot::Sender<(u64, Vec<ShareId>)>,
    },
    /// Kept shares by id, in wire form (unknown ids left out).
    Get {
        /// The ids.
        ids: Vec<ShareId>,
        /// The shares.
        reply: oneshot::Sender<Vec<Vec<u8>>>,
    },
    /// Shares waiting shares need ([`Chain::wanted`]), at most the given count.
    Wanted(usize, oneshot::Sender<Vec<ShareId>>),
    /// The node caught up with its peers: from now on every new tip's plan is published
    /// (and the current one at once).
    Synced,
}

/// Shares kept below the tip: twice what a share's checks read below its parent (two
/// windows, for a spec whose window goes deepest), so a share on any parent within a
/// window of the tip can always be checked.
pub fn keep_depth(spec: &ChainSpec) -> u64 {
    2 * Chain::checked_depth(spec) + 1
}

/// What the node's share chain looks like now: for the status line, the status file and
/// the API (serialized with the tip as its hex id).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ChainStatus {
    /// The tip.
    #[serde(serialize_with = "as_display")]
    pub tip: ShareId,
    /// Its height.
    pub height: u64,
    /// Shares kept.
    pub shares: usize,
    /// Shares in the tip's window.
    pub window_shares: usize,
    /// Payout scripts in the tip's window.
    pub window_payees: usize,
    /// This node's miners' shares kept on the chain since start.
    pub found: u64,
    /// This node's miners' shares the chain refused since start (a bug if ever above 0).
    pub refused: u64,
    /// Peers' shares kept since start.
    pub from_peers: u64,
    /// Shares waiting for a parent or uncle.
    pub pending: usize,
    /// Kept shares off the best chain credited as uncles by shares on it (paid).
    pub uncles: u64,
    /// Kept shares off the best chain and not credited (unpaid: the stale rate's cost).
    pub orphans: u64,
    /// Whether jobs are built on the tip: false while a node with peers to sync from has
    /// not caught up with one.
    pub synced: bool,
}

/// A share id as its hex display.
fn as_display<S: serde::Serializer>(id: &ShareId, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(id)
}

impl ChainStatus {
    fn of(chain: &Chain, counts: &Counts, synced: bool) -> ChainStatus {
        let placement = chain.placement();
        ChainStatus {
            tip: chain.tip(),
            height: chain.tip_height(),
            shares: chain.len(),
            window_shares: chain.window().len(),
            window_payees: chain.window().tally().len(),
            found: counts.found,
            refused: counts.refused,
            from_peers: counts.from_peers,
            pending: chain.pending(),
            uncles: placement.uncles,
            orphans: placement.orphans,
            synced,
        }
    }
}

/// A share for the chain's thread, counted in flight (a stopping server waits for it)
/// from when it is made until it is dropped: after it is stored or refused, or unstored if
/// the chain's thread is gone.
#[derive(Debug)]
pub struct Offered {
    /// The share.
    pub share: Share,
    /// Who found it, for the log.
    pub worker: Arc<str>,
    in_flight: Arc<InFlight>,
}

impl Offered {
    /// A share for the chain, counted in `in_flight` until dropped.
    pub fn new(share: Share, worker: Arc<str>, in_flight: Arc<InFlight>) -> Offered {
        in_flight.add();
        Offered {
            share,
            worker,
            in_flight,
        }
    }
}

impl Drop for Offered {
    fn drop(&mut self) {
        self.in_flight.done();
    }
}

/// The chain opened from its store, before its thread starts.
#[derive(Debug)]
pub struct OpenChain {
    chain: Chain,
    store: Store,
}

/// Why the share chain could not start.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// The store's folder could not be made.
    #[error("share chain store {path}: {source}")]
    Folder {
        /// The folder.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The store could not be opened or read.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl OpenChain {
    /// Opens the store of `settings` and reads its chain back.
    pub fn open(settings: &P2poolSettings) -> Result<OpenChain, OpenError> {
        std::fs::create_dir_all(&settings.store).map_err(|source| OpenError::Folder {
            path: settings.store.clone(),
            source,
        })?;
        let store = Store::open(&settings.store, &settings.spec)?;
        let chain = store.load(settings.spec.clone())?;
        Ok(OpenChain { chain, store })
    }

    /// The chain as read.
    pub fn chain(&self) -> &Chain {
        &self.chain
    }

    /// The plan of its tip.
    pub fn plan(&self) -> PayoutPlan {
        PayoutPlan::P2pool(self.chain.tip_work())
    }

    /// Starts the chain's thread: it publishes each new tip's plan on `plan` (once
    /// `synced`, or once told [`ChainRequest::Synced`]), hands the wire form of each of
    /// this node's shares it keeps to `announce` (the network), and ends once every
    /// sender of the returned queue is gone.
    pub fn spawn(
        self,
        plan: watch::Sender<Option<Arc<PayoutPlan>>>,
        announce: Option<mpsc::Sender<Vec<u8>>>,
        synced: bool,
    ) -> std::io::Result<(mpsc::Sender<ChainRequest>, watch::Receiver<ChainStatus>)> {
        let (tx, rx) = mpsc::channel(QUEUE);
        let (status_tx, status_rx) =
            watch::channel(ChainStatus::of(&self.chain, &Counts::default(), synced));
        std::thread::Builder::new()
            .name("sharechain".into())
            .spawn(move || {
                let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    let outputs = Outputs {
                        plan,
                        status: status_tx,
                        announce,
                    };
                    self.run(rx, outputs, synced)
                }));
                if caught.is_err() {
                    tracing::error!("the share chain's thread panicked: no more shares are kept and jobs stay on the last tip; restart the node");
                }
            })?;
        Ok((tx, status_rx))
    }

    fn run(mut self, mut rx: mpsc::Receiver<ChainRequest>, out: Outputs, mut synced: bool) {
        let keep = keep_depth(self.chain.spec());
        let mut counts = Counts::default();
        while let Some(first) = rx.blocking_recv() {
            let mut batch = vec![first];
            while let Ok(more) = rx.try_recv() {
                batch.push(more);
            }
            let tip_before = self.chain.tip();
            let was_synced = synced;
            let now = SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            // This node's shares stay in flight until written (or refused).
            let mut mined = Vec::new();
            for request in batch {
                match request {
                    ChainRequest::Mined(offered) => {
                        self.keep_mined(&offered, now, &mut counts, out.announce.as_ref());
                        mined.push(offered);
                    }
                    ChainRequest::FromPeer { shares, reply } => {
                        let verdicts: Vec<Verdict> = shares
                            .iter()
                            .map(|bytes| self.chain.offer_bytes(bytes, now))
                            .collect();
                        counts.from_peers +=
                            verdicts.iter().filter(|v| **v == Verdict::Valid).count() as u64;
                        // Answered before the write: the network forwards what is valid
                        // at once; what is written is the same either way.
                        let _ = reply.send(verdicts);
                    }
                    ChainRequest::Locator(reply) => {
                        let _ = reply.send(self.chain.locator());
                    }
                    ChainRequest::IdsAfter {
                        locator,
                        max,
                        reply,
                    } => {
                        let ids = self.chain.ids_after(&locator, max);
                        let _ = reply.send((self.chain.tip_height(), ids));
                    }
                    ChainRequest::Get { ids, reply } => {
                        let shares = ids.iter().filter_map(|id| self.chain.encoded(id)).collect();
                        let _ = reply.send(shares);
                    }
                    ChainRequest::Wanted(max, reply) => {
                        let _ = reply.send(self.chain.wanted(max));
                    }
                    ChainRequest::Synced => synced = true,
                }
            }
            if let Err(e) = self.store.save(&mut self.chain, keep) {
                // Kept in memory and mined on; on restart the node has what was written.
                tracing::error!("cannot write the share chain: {e}");
            }
            // Done: stored (or refused, or the write failed and is retried with the next).
            drop(mined);
            if synced && (self.chain.tip() != tip_before || !was_synced) {
                out.plan
                    .send_replace(Some(Arc::new(PayoutPlan::P2pool(self.chain.tip_work()))));
            }
            out.status
                .send_replace(ChainStatus::of(&self.chain, &counts, synced));
        }
    }

    fn keep_mined(
        &mut self,
        offered: &Offered,
        now: u64,
        counts: &mut Counts,
        announce: Option<&mpsc::Sender<Vec<u8>>>,
    ) {
        let id = offered.share.id();
        match self.chain.offer(offered.share.clone(), now) {
            Verdict::Valid => {
                counts.found += 1;
                let height = self.chain.get(&id).map_or(0, |e| e.height);
                tracing::info!(share = %id, height, worker = %offered.worker, "share-chain share");
                if let Some(announce) = announce {
                    // Peers that miss it (a full queue) fetch it when a child needs it.
                    if announce.try_send(offered.share.encode()).is_err() {
                        tracing::warn!(share = %id, "the network is behind: share not announced (peers fetch it when they need it)");
                    }
                }
            }
            Verdict::Known => {}
            verdict => {
                counts.refused += 1;
                tracing::error!(share = %id, worker = %offered.worker, ?verdict, "the share chain refused this node's own share");
            }
        }
    }
}

/// What the chain's thread counts since start.
#[derive(Debug, Default)]
struct Counts {
    found: u64,
    refused: u64,
    from_peers: u64,
}

/// Where the chain's thread sends what it decides.
struct Outputs {
    plan: watch::Sender<Option<Arc<PayoutPlan>>>,
    status: watch::Sender<ChainStatus>,
    announce: Option<mpsc::Sender<Vec<u8>>>,
}

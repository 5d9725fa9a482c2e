//! The share chain of one node, in memory: every valid share, the tip (the most cumulative
//! work; ties go to the lower id, so every node with the same shares picks the same tip),
//! and the PPLNS window at the tip, moved incrementally when the tip moves (a reorg walks
//! back to the fork and forward along the new branch). Shares are checked here
//! (`validate`) before they are kept; one whose parent or uncle is not known yet waits in a
//! bounded pending pool and is checked again when it arrives.
//!
//! A share's verdict depends only on the share and its ancestry: its chain id, its proof of
//! work, its target against the ASERT rule, its time against its ancestors' median, its
//! uncles against its ancestors, its payout against the window at its parent, and its
//! coinbase against its header. The local clock only defers a share from the future
//! ([`Verdict::Future`]: retry later), never makes it invalid.

use std::collections::{HashMap, HashSet};

use bitcoin::hashes::Hash;
use bitcoin::ScriptBuf;
use ruint::aliases::U256;

use super::difficulty::Asert;
use super::pplns::{credits, payout, PayoutRules};
use super::script::standard_payout;
use super::share::{outputs_hash, work_of, DecodeError, Share, ShareId};
use super::spec::{ChainId, ChainSpec};
use super::target::{bits_of, target_of, Bits};
use super::window::{Limits, ShareSource, Window, WindowShare};

/// How far ahead of the local clock a share's time may be before it waits.
pub const MAX_FUTURE_SECS: u64 = 60;
/// Ancestors whose median time a share's time must not be below (bitcoin's 11). Not
/// strictly above, as bitcoin's rule is: shares come many times a second at first (before
/// the difficulty has risen), and a strict rule at one-second resolution would push their
/// times ahead of the clock until they were refused as from the future.
pub const MEDIAN_TIME_SPAN: usize = 11;
/// Shares waiting for a parent or uncle, at most (past it, the oldest is let go).
pub const MAX_PENDING: usize = 10_000;
/// Shares from the future kept to be checked again, at most.
pub const MAX_FUTURE_KEPT: usize = 1_000;
/// A share this far (in shares) from where the tip's window is has its parent's window
/// built from scratch (the window's size) instead of walked to (the distance): a cheap
/// share on an old parent must not make the node walk its whole chain.
pub const WINDOW_WALK_LIMIT: u64 = 64;
/// The newest kept shares looked through for uncles of the next share.
pub const RECENT_KEPT: usize = 256;
/// Most ids in a locator ([`Chain::locator`]): exponential steps reach any height in 64.
pub const MAX_LOCATOR: usize = 64;

/// Why a share is invalid, by the check it failed (cheapest first).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Invalid {
    /// The bytes are not a share (oversize, malformed).
    #[error("{0}")]
    Malformed(#[from] DecodeError),
    /// It is for another chain (another spec).
    #[error("share of chain {0}, not ours")]
    ForeignChain(ChainId),
    /// Its payout script is not a standard output (P2PKH, P2SH or a witness program):
    /// another script could make the pool's blocks invalid (sigops) or unspendable.
    #[error("payout script is not a standard output")]
    PayoutScript,
    /// Its header's bitcoin target is not one, or easier than the network allows: it could
    /// never be a block, and it would misstate the block work.
    #[error("header bits are not a target of this network")]
    BitcoinBits,
    /// Its share target is easier than the spec's minimum difficulty.
    #[error("share target easier than the chain's minimum")]
    EasierThanMinimum,
    /// Its header's hash does not meet its share target, or the target is not one.
    #[error("header hash above the share target")]
    ProofOfWork,
    /// Its share target is not the difficulty rule's for its parent (the parent's target
    /// and time, and the grandparent's time).
    #[error("share target {found:08x}, the rule gives {expected:08x}")]
    WrongTarget {
        /// What it says.
        found: u32,
        /// What the rule gives.
        expected: u32,
    },
    /// Its time is below its ancestors' median time.
    #[error("time {time} is below the ancestors' median {median}")]
    TimeTooOld {
        /// Its header time.
        time: u64,
        /// The median of its last 11 ancestors' times.
        median: u64,
    },
    /// Its coinbase scriptSig does not start with a BIP34 height push.
    #[error("coinbase scriptSig has no BIP34 height")]
    BitcoinHeight,
    /// An uncle breaks the rules.
    #[error("uncle {0}: {1}")]
    Uncle(ShareId, &'static str),
    /// Its coinbase does not pay the PPLNS window at its parent.
    #[error("coinbase outputs are not the PPLNS payout of the window at its parent")]
    WrongOutputs,
    /// Its header does not commit to its coinbase (a wrong commitment or merkle branch).
    #[error("the header does not commit to this coinbase and metadata")]
    CoinbaseMismatch,
}

/// What became of a share offered to the chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Valid and kept.
    Valid,
    /// Known already.
    Known,
    /// Invalid, and why.
    Invalid(Invalid),
    /// These shares (its parent or uncles) are not known: it waits for them.
    Missing(Vec<ShareId>),
    /// Its time is ahead of the local clock: kept aside (a bounded number) and checked
    /// again once the clock reaches it.
    Future,
    /// Its parent is so deep that the ancestry its checks need (its window, the median
    /// times, the uncle depth) reaches below what this node pruned: it cannot be judged
    /// here, and is neither kept nor called invalid.
    BelowHorizon,
}

/// A valid share as the chain keeps it.
#[derive(Debug, Clone)]
pub struct Entry {
    /// The share.
    pub share: Share,
    /// Its height (its parent's + 1; the genesis is 0).
    pub height: u64,
    /// Work of the chain up to it: its ancestors', its own and its uncles'.
    pub chain_work: U256,
    /// Its own work.
    pub work: u128,
    /// The work of the bitcoin target in its header.
    pub block_work: u128,
    /// Its PPLNS credits.
    pub credits: Vec<(ScriptBuf, u128)>,
}

/// What a job needs to mine on the tip (or any share): the outputs every coinbase pays and
/// the fields of the next share's metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NextShare {
    /// The parent.
    pub parent: ShareId,
    /// The next share's height.
    pub height: u64,
    /// Its share target.
    pub share_bits: Bits,
    /// The payout outputs, ordered by script.
    pub outputs: Vec<(ScriptBuf, u64)>,
}

/// What every job on the tip needs, whatever the block reward: the next share's fields and
/// the window's tally its outputs are the payout of (see [`TipWork::outputs`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TipWork {
    /// The chain.
    pub chain: ChainId,
    /// The tip: the parent of the share being mined.
    pub parent: ShareId,
    /// The next share's height.
    pub height: u64,
    /// Its share target.
    pub share_bits: Bits,
    /// The earliest time it may have: its ancestors' median time.
    pub min_time: u64,
    /// The uncles it credits.
    pub uncles: Vec<ShareId>,
    /// The window at the tip.
    pub tally: super::pplns::Tally,
    /// The spec's payout rules.
    pub rules: PayoutRules,
}

impl TipWork {
    /// The payout outputs of a share on the tip for a block reward of `value`, `miner`
    /// paid the whole of an empty window: what validation recomputes.
    pub fn outputs(&self, value: u64, miner: &ScriptBuf) -> Vec<(ScriptBuf, u64)> {
        payout(&self.tally, value, &self.rules, self.parent.0, miner)
    }
}

/// The share chain.
#[derive(Debug)]
pub struct Chain {
    spec: ChainSpec,
    chain_id: ChainId,
    genesis: ShareId,
    asert: Asert,
    rules: PayoutRules,
    entries: HashMap<ShareId, Entry>,
    tip: ShareId,
    window: Window,
    /// Shares waiting, by a share they need.
    pending: HashMap<ShareId, Vec<Share>>,
    /// The waiting shares' ids, oldest first, with the share each waits for.
    pending_order: std::collections::VecDeque<(ShareId, ShareId)>,
    pending_ids: HashSet<ShareId>,
    pending_count: usize,
    /// Shares from the future, kept to be checked again once the clock reaches them.
    future: Vec<Share>,
    /// The network's easiest block target, as a number.
    pow_limit: U256,
    limits: Limits,
    /// Shares kept since the last [`Chain::take_kept`], in the order kept (the store writes
    /// them).
    kept: Vec<ShareId>,
    /// The newest kept shares ([`RECENT_KEPT`]), where the next share's uncles are.
    recent: std::collections::VecDeque<ShareId>,
    /// Shares below this height are not kept (pruned); 0 when the chain goes down to the
    /// genesis.
    horizon: u64,
    /// The best chain's ids, lowest first, from height `best_base` to the tip: where a
    /// peer's locator meets it is a lookup, not a walk from the tip (a locator of unknown
    /// ids would otherwise walk the whole chain on every request).
    best: std::collections::VecDeque<ShareId>,
    best_base: u64,
    /// Uncles credited by the shares on `best` (each credited once, by consensus): the
    /// shares off the best chain that are still paid.
    best_uncles: u64,
}

/// The kept shares by where they ended up: on the best chain, off it but credited as an
/// uncle by a share on it (paid, at the uncle penalty), or neither (orphaned, unpaid).
/// The stale rate a network's latency costs its miners, for status and metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Placement {
    /// Shares on the best chain.
    pub on_best: u64,
    /// Shares off it, credited as uncles by shares on it.
    pub uncles: u64,
    /// Shares off it and not credited.
    pub orphans: u64,
}

/// The store as the window sees it.
struct Source<'a>(&'a HashMap<ShareId, Entry>);

impl ShareSource for Source<'_> {
    fn window_share(&self, id: &ShareId) -> Option<WindowShare> {
        self.0.get(id).map(window_share)
    }

    fn block_work(&self, id: &ShareId) -> Option<(u128, ShareId)> {
        self.0.get(id).map(|e| (e.block_work, e.share.meta.parent))
    }
}

fn window_share(e: &Entry) -> WindowShare {
    WindowShare {
        id: e.share.id(),
        parent: e.share.meta.parent,
        work: e.work,
        block_work: e.block_work,
        credits: e.credits.clone(),
    }
}

impl Chain {
    /// An empty chain of `spec` (which must be valid).
    pub fn new(spec: ChainSpec) -> Chain {
        let chain_id = spec.id();
        let genesis = ShareId::genesis(chain_id);
        let limits = Limits {
            max_shares: spec.window_max_shares,
            min_shares: spec.window_min_shares,
            num: spec.window_work_num,
            den: spec.window_work_den,
        };
        let pow_limit = U256::from_le_bytes(
            bitcoin::params::Params::new(spec.network)
                .max_attainable_target
                .to_le_bytes(),
        );
        Chain {
            pending_order: std::collections::VecDeque::new(),
            future: Vec::new(),
            pending_ids: HashSet::new(),
            pow_limit,
            limits,
            asert: Asert::new(&spec),
            rules: PayoutRules::of(&spec),
            chain_id,
            genesis,
            window: Window::at_genesis(genesis, limits),
            spec,
            entries: HashMap::new(),
            tip: genesis,
            pending: HashMap::new(),
            pending_count: 0,
            kept: Vec::new(),
            recent: std::collections::VecDeque::new(),
            horizon: 0,
            best: std::collections::VecDeque::new(),
            best_base: 1,
            best_uncles: 0,
        }
    }

    /// A chain of `spec` holding `entries` as they were kept before (read back from the
    /// store, so not checked again): the tip is the most work among them, by the same rule
    /// as when they were kept, and the window is built at it.
    pub fn restore(spec: ChainSpec, entries: Vec<Entry>) -> Chain {
        let mut chain = Chain::new(spec);
        for entry in entries {
            let id = entry.share.id();
            let tip_work = chain.work_to(&chain.tip);
            if entry.chain_work > tip_work || (entry.chain_work == tip_work && id < chain.tip) {
                chain.tip = id;
            }
            chain.entries.insert(id, entry);
            chain.remember(id);
        }
        // The lowest share's ancestors are pruned unless it is a first share.
        if let Some(lowest) = chain.entries.values().min_by_key(|e| e.height) {
            if lowest.share.meta.parent != chain.genesis {
                chain.horizon = lowest.height;
            }
        }
        chain.window = Window::build(chain.tip, chain.limits, &Source(&chain.entries));
        chain.set_best(chain.tip);
        chain
    }

    /// The shares kept since the last call, oldest first.
    pub fn take_kept(&mut self) -> Vec<ShareId> {
        std::mem::take(&mut self.kept)
    }

    /// Gives back what [`Chain::take_kept`] took (a write that failed), before anything
    /// kept since.
    pub fn return_kept(&mut self, mut ids: Vec<ShareId>) {
        ids.append(&mut self.kept);
        self.kept = ids;
    }

    /// How many shares from a parent down its child's checks read: the window (the
    /// window's block work reads 11 headers of it), the median times, or the uncle depth's
    /// ancestors, whichever goes deepest.
    pub fn checked_depth(spec: &ChainSpec) -> u64 {
        u64::from(spec.window_max_shares)
            .max(MEDIAN_TIME_SPAN as u64)
            .max(u64::from(spec.uncle_max_depth) + 1)
    }

    /// Forgets the shares below `height`; shares whose checks would read below it are
    /// answered [`Verdict::BelowHorizon`] from then on. The caller keeps what the tip's
    /// children read above it.
    pub fn prune_below(&mut self, height: u64) {
        while self.best_base < height {
            let Some(id) = self.best.pop_front() else {
                break;
            };
            self.best_uncles -= self.uncle_count(&id);
            self.best_base += 1;
        }
        // Uncles about to go that shares staying on the path credit: within the uncle
        // depth above the cut, so only the path's first shares can credit any.
        let depth = self.spec.uncle_max_depth as usize + 1;
        let going: u64 = self
            .best
            .iter()
            .take(depth)
            .filter_map(|id| self.entries.get(id))
            .flat_map(|e| &e.share.meta.uncles)
            .filter(|u| self.entries.get(u).is_some_and(|e| e.height < height))
            .count() as u64;
        self.best_uncles -= going;
        self.entries.retain(|_, e| e.height >= height);
        self.horizon = self.horizon.max(height);
    }

    /// How many kept uncles the kept share `id` credits (an uncle below the pruned floor is
    /// no longer counted: the placement adds up to the shares kept).
    fn uncle_count(&self, id: &ShareId) -> u64 {
        self.entries.get(id).map_or(0, |e| {
            e.share
                .meta
                .uncles
                .iter()
                .filter(|u| self.entries.contains_key(u))
                .count() as u64
        })
    }

    /// Where the kept shares ended up: on the best chain, kept uncles credited by it, and
    /// the rest (orphans). The three add up to the shares kept: an uncle is credited at most
    /// once on a path and is never on it.
    pub fn placement(&self) -> Placement {
        let on_best = self.best.len() as u64;
        let uncles = self.best_uncles;
        let kept = self.entries.len() as u64;
        debug_assert!(on_best + uncles <= kept, "{on_best} + {uncles} > {kept}");
        Placement {
            on_best,
            uncles,
            orphans: kept.saturating_sub(on_best + uncles),
        }
    }

    /// The best chain's id at `height`, if the path holds it.
    fn best_at(&self, height: u64) -> Option<ShareId> {
        let i = usize::try_from(height.checked_sub(self.best_base)?).ok()?;
        self.best.get(i).copied()
    }

    /// Makes `tip` the end of the best path: back from it to where it meets the path (a
    /// reorg's depth), the path cut there and the new branch added.
    fn set_best(&mut self, tip: ShareId) {
        let mut branch = Vec::new();
        let mut at = tip;
        while let Some(e) = self.entries.get(&at) {
            if self.best_at(e.height) == Some(at) {
                break;
            }
            branch.push((at, e.height));
            at = e.share.meta.parent;
        }
        match self.entries.get(&at) {
            Some(e) if self.best_at(e.height) == Some(at) => {
                let keep = (e.height + 1 - self.best_base) as usize;
                let cut: u64 = self.best.range(keep..).map(|id| self.uncle_count(id)).sum();
                self.best_uncles -= cut;
                self.best.truncate(keep);
            }
            _ => {
                // Down to the bottom (the genesis or the horizon): a new path.
                self.best.clear();
                self.best_uncles = 0;
                self.best_base = branch.last().map_or(1, |(_, h)| *h);
            }
        }
        let added: u64 = branch.iter().map(|(id, _)| self.uncle_count(id)).sum();
        self.best_uncles += added;
        self.best.extend(branch.into_iter().rev().map(|(id, _)| id));
    }

    /// The tip's height (0 for the genesis).
    pub fn tip_height(&self) -> u64 {
        self.height_of(&self.tip).unwrap_or(0)
    }

    /// The spec.
    pub fn spec(&self) -> &ChainSpec {
        &self.spec
    }

    /// The chain id.
    pub fn id(&self) -> ChainId {
        self.chain_id
    }

    /// The genesis id (the tip of an empty chain).
    pub fn genesis(&self) -> ShareId {
        self.genesis
    }

    /// The tip: the most cumulative work.
    pub fn tip(&self) -> ShareId {
        self.tip
    }

    /// A kept share.
    pub fn get(&self, id: &ShareId) -> Option<&Entry> {
        self.entries.get(id)
    }

    /// How many shares are kept.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True before the first share.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The window at the tip.
    pub fn window(&self) -> &Window {
        &self.window
    }

    /// Shares waiting for a parent or uncle.
    pub fn pending(&self) -> usize {
        self.pending_count
    }

    fn height_of(&self, id: &ShareId) -> Option<u64> {
        if *id == self.genesis {
            return Some(0);
        }
        self.entries.get(id).map(|e| e.height)
    }

    fn time_of(&self, id: &ShareId) -> Option<u64> {
        if *id == self.genesis {
            return Some(self.spec.genesis_time);
        }
        self.entries.get(id).map(|e| u64::from(e.share.header.time))
    }

    fn work_to(&self, id: &ShareId) -> U256 {
        self.entries.get(id).map_or(U256::ZERO, |e| e.chain_work)
    }

    /// `id` and its ancestors, newest first, at most `n` (the genesis not included).
    fn ancestors(&self, id: &ShareId, n: usize) -> Vec<ShareId> {
        let mut out = Vec::with_capacity(n);
        let mut at = *id;
        while out.len() < n {
            let Some(e) = self.entries.get(&at) else {
                break;
            };
            out.push(at);
            at = e.share.meta.parent;
        }
        out
    }

    /// The median time of `parent` and its ancestors (the last 11; the genesis counts).
    fn median_time(&self, parent: &ShareId) -> u64 {
        let mut times: Vec<u64> = self
            .ancestors(parent, MEDIAN_TIME_SPAN)
            .iter()
            .filter_map(|a| self.time_of(a))
            .collect();
        if times.len() < MEDIAN_TIME_SPAN {
            times.push(self.spec.genesis_time);
        }
        times.sort_unstable();
        times[times.len() / 2]
    }

    /// The share target of a child of `parent`.
    fn target_after(&self, parent: &ShareId) -> Option<Bits> {
        if *parent == self.genesis {
            return Some(bits_of(self.asert.initial()));
        }
        let e = self.entries.get(parent)?;
        let grandparent = e.share.meta.parent;
        if grandparent == self.genesis {
            return Some(bits_of(self.asert.initial()));
        }
        let grandparent_time = self.time_of(&grandparent)?;
        let parent_target = target_of(e.share.meta.share_bits)?;
        Some(bits_of(self.asert.after(
            parent_target,
            u64::from(e.share.header.time),
            grandparent_time,
        )))
    }

    fn parent_of(&self, id: &ShareId) -> ShareId {
        self.entries
            .get(id)
            .map_or(self.genesis, |e| e.share.meta.parent)
    }

    /// The newest share both `a` and `b` build on (or are).
    fn fork_point(&self, a: ShareId, b: ShareId) -> ShareId {
        self.fork_within(a, b, u64::MAX).unwrap_or(self.genesis)
    }

    /// The fork point of `a` and `b` if neither is more than `limit` shares above it.
    fn fork_within(&self, a: ShareId, b: ShareId, limit: u64) -> Option<ShareId> {
        let (mut x, mut y) = (a, b);
        let height = |id: &ShareId| self.height_of(id).unwrap_or(0);
        let (hx, hy) = (height(&x), height(&y));
        if hx.abs_diff(hy) > limit {
            return None;
        }
        while height(&x) > height(&y) {
            x = self.parent_of(&x);
        }
        while height(&y) > height(&x) {
            y = self.parent_of(&y);
        }
        let mut steps = hx.abs_diff(hy);
        while x != y {
            steps += 1;
            if steps > limit {
                return None;
            }
            x = self.parent_of(&x);
            y = self.parent_of(&y);
        }
        Some(x)
    }

    /// The payout of a child of `parent` for `value`, with `miner` paid an empty window:
    /// the tip's window moved to `parent` and back when it is near, or `parent`'s window
    /// built from scratch when it is far.
    fn payout_after(
        &mut self,
        parent: ShareId,
        value: u64,
        miner: &ScriptBuf,
    ) -> Vec<(ScriptBuf, u64)> {
        let top = self.window.top();
        if self.fork_within(top, parent, WINDOW_WALK_LIMIT).is_some() {
            self.move_window(parent);
            let outputs = payout(self.window.tally(), value, &self.rules, parent.0, miner);
            self.move_window(top);
            return outputs;
        }
        let window = Window::build(parent, self.limits, &Source(&self.entries));
        payout(window.tally(), value, &self.rules, parent.0, miner)
    }

    /// Moves the window to `to` (a kept share or the genesis): back from its top to the
    /// fork with `to`'s branch, then forward along it. The cost is the path's length and
    /// what enters and leaves the window, not the window's size.
    fn move_window(&mut self, to: ShareId) {
        let top = self.window.top();
        if top == to {
            return;
        }
        let fork = self.fork_point(top, to);
        let mut forward = Vec::new();
        let mut at = to;
        while at != fork {
            forward.push(at);
            at = self.parent_of(&at);
        }
        let source = Source(&self.entries);
        while self.window.top() != fork {
            let before = self.window.top();
            self.window.retreat(&source);
            if self.window.top() == before {
                // An ancestor on the way is not kept (pruned, or never had): the walk
                // cannot go on, so the window is built at `to` instead.
                self.window = Window::build(to, self.limits, &source);
                return;
            }
        }
        for id in forward.iter().rev() {
            if let Some(e) = self.entries.get(id) {
                self.window.advance(window_share(e), &source);
            }
        }
    }

    /// What a share mined on `parent` must pay and say: its outputs for a block reward of
    /// `coinbase_value`, with `miner` paid the whole of an empty window. `None` for an
    /// unknown parent.
    pub fn next_share(
        &mut self,
        parent: ShareId,
        coinbase_value: u64,
        miner: &ScriptBuf,
    ) -> Option<NextShare> {
        let height = self.height_of(&parent)? + 1;
        let share_bits = self.target_after(&parent)?;
        let outputs = self.payout_after(parent, coinbase_value, miner);
        Some(NextShare {
            parent,
            height,
            share_bits,
            outputs,
        })
    }

    /// What a job on the tip pays and says.
    pub fn tip_work(&self) -> TipWork {
        let parent = self.tip;
        TipWork {
            chain: self.chain_id,
            parent,
            height: self.height_of(&parent).unwrap_or(0) + 1,
            share_bits: self
                .target_after(&parent)
                .unwrap_or(self.spec.initial_share_bits),
            min_time: self.median_time(&parent),
            uncles: self.uncle_candidates(&parent),
            tally: self.window.tally().clone(),
            rules: self.rules.clone(),
        }
    }

    /// Where this chain is, for a peer to find where its own best chain leaves it: the
    /// tip and its nearest ancestors one apart, then at doubling distances (bitcoin's
    /// block locator), then the genesis; at most [`MAX_LOCATOR`] ids, read off the best
    /// path.
    pub fn locator(&self) -> Vec<ShareId> {
        let mut out = Vec::new();
        let mut height = self.tip_height();
        let mut step = 1u64;
        while out.len() + 1 < MAX_LOCATOR {
            let Some(id) = self.best_at(height) else {
                break;
            };
            out.push(id);
            if out.len() > 8 {
                step *= 2;
            }
            let Some(next) = height.checked_sub(step) else {
                break;
            };
            height = next;
        }
        out.push(self.genesis);
        out
    }

    /// The best chain's shares after where `locator` (a peer's [`Chain::locator`]) meets
    /// it, oldest first, at most `max`: what the peer lacks of this chain. When no id of
    /// the locator is on the best chain, from the lowest share kept on it.
    pub fn ids_after(&self, locator: &[ShareId], max: usize) -> Vec<ShareId> {
        // The first locator id on the best path (the genesis is below it: from its start).
        let from = locator
            .iter()
            .find_map(|id| {
                if *id == self.genesis {
                    return Some(self.best_base);
                }
                let h = self.entries.get(id)?.height;
                (self.best_at(h) == Some(*id)).then_some(h + 1)
            })
            .unwrap_or(self.best_base);
        let start = usize::try_from(from.saturating_sub(self.best_base)).unwrap_or(usize::MAX);
        self.best.iter().skip(start).take(max).copied().collect()
    }

    /// Shares that waiting shares need and this chain lacks (a parent or an uncle), at
    /// most `max`: what to ask a peer for when a sync pass leaves shares waiting (an uncle
    /// off the peer's best chain never comes with it).
    pub fn wanted(&self, max: usize) -> Vec<ShareId> {
        let mut out: Vec<ShareId> = self
            .pending
            .keys()
            .filter(|id| !self.entries.contains_key(id) && **id != self.genesis)
            .copied()
            .collect();
        out.sort_unstable();
        out.truncate(max);
        out
    }

    /// A kept share's wire form.
    pub fn encoded(&self, id: &ShareId) -> Option<Vec<u8>> {
        self.entries.get(id).map(|e| e.share.encode())
    }

    /// Decodes and offers a share from the wire.
    pub fn offer_bytes(&mut self, bytes: &[u8], now: u64) -> Verdict {
        match Share::decode(bytes) {
            Ok(share) => self.offer(share, now),
            Err(e) => {
                self.retry_future(now);
                Verdict::Invalid(Invalid::Malformed(e))
            }
        }
    }

    /// Checks a share and keeps it when valid (then also the waiting shares it unblocks);
    /// `now` is the local clock, for shares from the future only.
    pub fn offer(&mut self, share: Share, now: u64) -> Verdict {
        self.retry_future(now);
        let verdict = self.check_and_keep(share, now);
        if verdict == Verdict::Valid {
            self.release_pending(now);
        }
        verdict
    }

    /// Checks again the shares from the future whose time the clock has reached.
    fn retry_future(&mut self, now: u64) {
        if self.future.is_empty() {
            return;
        }
        let (due, later): (Vec<Share>, Vec<Share>) = std::mem::take(&mut self.future)
            .into_iter()
            .partition(|s| u64::from(s.header.time) <= now + MAX_FUTURE_SECS);
        self.future = later;
        let mut any = false;
        for share in due {
            any |= self.check_and_keep(share, now) == Verdict::Valid;
        }
        if any {
            self.release_pending(now);
        }
    }

    fn check_and_keep(&mut self, share: Share, now: u64) -> Verdict {
        let id = share.id();
        if self.entries.contains_key(&id) {
            return Verdict::Known;
        }
        match self.validate(&share, now) {
            Ok(entry) => {
                self.keep(id, entry);
                Verdict::Valid
            }
            Err(Verdict::Missing(ids)) => {
                self.wait_for(&ids, share);
                Verdict::Missing(ids)
            }
            Err(Verdict::Future) => {
                if self.future.len() < MAX_FUTURE_KEPT && !self.future.iter().any(|s| s.id() == id)
                {
                    self.future.push(share);
                }
                Verdict::Future
            }
            Err(v) => v,
        }
    }

    fn wait_for(&mut self, ids: &[ShareId], share: Share) {
        let Some(need) = ids.first().copied() else {
            return;
        };
        let id = share.id();
        if !self.pending_ids.insert(id) {
            return;
        }
        if self.pending_count >= MAX_PENDING {
            // The oldest waiting share goes.
            if let Some((old, old_need)) = self.pending_order.pop_front() {
                if let Some(list) = self.pending.get_mut(&old_need) {
                    list.retain(|s| s.id() != old);
                    if list.is_empty() {
                        self.pending.remove(&old_need);
                    }
                }
                self.pending_ids.remove(&old);
                self.pending_count -= 1;
            }
        }
        self.pending.entry(need).or_default().push(share);
        self.pending_order.push_back((id, need));
        self.pending_count += 1;
    }

    fn release_pending(&mut self, now: u64) {
        loop {
            let ready: Vec<ShareId> = self
                .pending
                .keys()
                .filter(|k| self.entries.contains_key(k))
                .copied()
                .collect();
            if ready.is_empty() {
                return;
            }
            for k in ready {
                for share in self.pending.remove(&k).unwrap_or_default() {
                    let id = share.id();
                    self.pending_ids.remove(&id);
                    self.pending_order.retain(|(p, _)| *p != id);
                    self.pending_count -= 1;
                    let _ = self.check_and_keep(share, now);
                }
            }
        }
    }

    fn keep(&mut self, id: ShareId, entry: Entry) {
        let better = entry.chain_work > self.work_to(&self.tip)
            || (entry.chain_work == self.work_to(&self.tip) && id < self.tip);
        self.entries.insert(id, entry);
        self.kept.push(id);
        self.remember(id);
        if better {
            self.tip = id;
            self.move_window(id);
            self.set_best(id);
        }
    }

    fn remember(&mut self, id: ShareId) {
        if self.recent.len() == RECENT_KEPT {
            self.recent.pop_front();
        }
        self.recent.push_back(id);
    }

    /// What the uncle rules of a child of `parent` read: `parent` and its ancestors within
    /// the uncle depth and one more (an uncle's parent must be among them), and the uncles
    /// those within the depth credited already. One function for both `check_uncles` and
    /// `uncle_candidates`, so a node's own shares follow the rules it checks.
    fn uncle_context(&self, parent: &ShareId) -> (HashSet<ShareId>, HashSet<ShareId>) {
        let depth = self.spec.uncle_max_depth as usize;
        let ancestors = self.ancestors(parent, depth + 1);
        let credited = ancestors
            .iter()
            .take(depth)
            .filter_map(|a| self.entries.get(a))
            .flat_map(|e| e.share.meta.uncles.iter().copied())
            .collect();
        (ancestors.into_iter().collect(), credited)
    }

    /// The uncles a child of `parent` may credit, by the rules `check_uncles` applies:
    /// recent shares within the uncle depth, off `parent`'s branch but branching from it,
    /// not credited by an ancestor within the depth; ascending, at most the spec's count.
    fn uncle_candidates(&self, parent: &ShareId) -> Vec<ShareId> {
        let Some(parent_height) = self.height_of(parent) else {
            return Vec::new();
        };
        let height = parent_height + 1;
        let depth = self.spec.uncle_max_depth as usize;
        let (branch, credited) = self.uncle_context(parent);
        let mut out: Vec<ShareId> = self
            .recent
            .iter()
            .filter(|id| {
                self.entries.get(id).is_some_and(|e| {
                    let from = e.share.meta.parent;
                    !branch.contains(id)
                        && e.height < height
                        && e.height + depth as u64 >= height
                        && (branch.contains(&from) || from == self.genesis)
                        && !credited.contains(id)
                })
            })
            .copied()
            .collect();
        out.sort_unstable();
        out.dedup();
        out.truncate(self.spec.uncle_max_count as usize);
        out
    }

    /// Every check, cheapest first; the entry to keep when valid.
    fn validate(&mut self, share: &Share, now: u64) -> Result<Entry, Verdict> {
        let invalid = |i| Err(Verdict::Invalid(i));
        let meta = &share.meta;
        if let Err(e) = share.check_bounds() {
            return invalid(Invalid::Malformed(e));
        }
        if meta.chain != self.chain_id {
            return invalid(Invalid::ForeignChain(meta.chain));
        }
        if !standard_payout(&meta.payout_script) {
            return invalid(Invalid::PayoutScript);
        }
        let block_target = target_of(Bits(share.header.bits.to_consensus()));
        let Some(block_target) = block_target.filter(|t| *t <= self.pow_limit) else {
            return invalid(Invalid::BitcoinBits);
        };
        if share.bitcoin_height().is_none() {
            return invalid(Invalid::BitcoinHeight);
        }
        let Some(target) = target_of(meta.share_bits) else {
            return invalid(Invalid::ProofOfWork);
        };
        if target_of(self.spec.min_share_bits).is_some_and(|min| target > min) {
            return invalid(Invalid::EasierThanMinimum);
        }
        self.check_uncles_alone(share)?;
        let hash = U256::from_le_bytes(share.id().0);
        if hash > target {
            return invalid(Invalid::ProofOfWork);
        }
        let mut missing: Vec<ShareId> = Vec::new();
        if self.height_of(&meta.parent).is_none() {
            missing.push(meta.parent);
        }
        missing.extend(
            meta.uncles
                .iter()
                .filter(|u| !self.entries.contains_key(u))
                .copied(),
        );
        if !missing.is_empty() {
            return Err(Verdict::Missing(missing));
        }
        if self.horizon > 0
            && self.height_of(&meta.parent).unwrap_or(0)
                < self.horizon + Chain::checked_depth(&self.spec)
        {
            return Err(Verdict::BelowHorizon);
        }
        // The parent is kept (checked above): no target means its own parent is not, which
        // only pruning does. Waiting for the parent again would never end.
        let Some(expected) = self.target_after(&meta.parent) else {
            return Err(Verdict::BelowHorizon);
        };
        if expected != meta.share_bits {
            return invalid(Invalid::WrongTarget {
                found: meta.share_bits.0,
                expected: expected.0,
            });
        }
        let time = u64::from(share.header.time);
        let median = self.median_time(&meta.parent);
        if time < median {
            return invalid(Invalid::TimeTooOld { time, median });
        }
        if time > now + MAX_FUTURE_SECS {
            return Err(Verdict::Future);
        }
        let height = self.height_of(&meta.parent).unwrap_or(0) + 1;
        self.check_uncles(share, height)?;
        let expected_outputs =
            self.payout_after(meta.parent, share.coinbase_value, &meta.payout_script);
        if outputs_hash(&expected_outputs) != meta.outputs_hash {
            return invalid(Invalid::WrongOutputs);
        }
        if share.merkle_root_for(&expected_outputs) != share.header.merkle_root.to_byte_array() {
            return invalid(Invalid::CoinbaseMismatch);
        }
        let work = work_of(target);
        let uncle_weights: Vec<(ScriptBuf, u128)> = meta
            .uncles
            .iter()
            .filter_map(|u| self.entries.get(u))
            .map(|e| (e.share.meta.payout_script.clone(), e.work))
            .collect();
        let uncles_work: U256 = uncle_weights
            .iter()
            .fold(U256::ZERO, |acc, (_, w)| acc + U256::from(*w));
        Ok(Entry {
            height,
            chain_work: self.work_to(&meta.parent) + U256::from(work) + uncles_work,
            work,
            block_work: work_of(block_target),
            credits: credits(
                (&meta.payout_script, work),
                &uncle_weights,
                self.spec.uncle_penalty_bps,
            ),
            share: share.clone(),
        })
    }

    /// The uncle rules that need no other share: at most the spec's count, ascending and
    /// unique, the genesis not among them.
    fn check_uncles_alone(&self, share: &Share) -> Result<(), Verdict> {
        let uncles = &share.meta.uncles;
        let bad = |u: ShareId, why| Err(Verdict::Invalid(Invalid::Uncle(u, why)));
        if uncles.len() > self.spec.uncle_max_count as usize {
            return bad(uncles[0], "more uncles than the spec allows");
        }
        if uncles.windows(2).any(|p| p[0] >= p[1]) {
            return bad(uncles[0], "uncles are not ascending and unique");
        }
        if let Some(g) = uncles.iter().find(|u| **u == self.genesis) {
            return bad(*g, "is the genesis");
        }
        Ok(())
    }

    /// Uncles: ascending and unique, at most the spec's count; each a kept share within the
    /// spec's depth, not an ancestor, its parent an ancestor, and not credited already by
    /// an ancestor within the depth.
    fn check_uncles(&self, share: &Share, height: u64) -> Result<(), Verdict> {
        let meta = &share.meta;
        let bad = |u: ShareId, why| Err(Verdict::Invalid(Invalid::Uncle(u, why)));
        let depth = self.spec.uncle_max_depth as usize;
        let (ancestor_set, credited) = self.uncle_context(&meta.parent);
        for u in &meta.uncles {
            let Some(e) = self.entries.get(u) else {
                return Err(Verdict::Missing(vec![*u]));
            };
            if ancestor_set.contains(u) {
                return bad(*u, "is an ancestor");
            }
            if e.height + (depth as u64) < height || e.height >= height {
                return bad(*u, "is not within the uncle depth");
            }
            let parent = e.share.meta.parent;
            if !(ancestor_set.contains(&parent) || parent == self.genesis) {
                return bad(*u, "does not branch off this share's ancestry");
            }
            if credited.contains(u) {
                return bad(*u, "is credited already");
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use bitcoin::block::{Header, Version};
    use bitcoin::{BlockHash, CompactTarget, TxMerkleNode};

    use super::*;
    use crate::p2pool::draw::Draw;
    use crate::p2pool::pplns::Tally;
    use crate::p2pool::share::ShareMeta;
    use crate::p2pool::spec::BPS;

    /// A clock far past every share's time: nothing is from the future.
    const LATE: u64 = u64::MAX / 4;
    const VALUE: u64 = 625_000_000;

    fn spec() -> ChainSpec {
        ChainSpec {
            name: "chain-tests".into(),
            window_max_shares: 30,
            window_min_shares: 3,
            window_work_num: 1,
            window_work_den: 1,
            uncle_max_depth: 3,
            uncle_max_count: 2,
            uncle_penalty_bps: 2_000,
            max_outputs: 8,
            dust_sats: 1_000,
            ..ChainSpec::preset("regtest").unwrap()
        }
    }

    /// The bitcoin target in a test header: a block's work of 40 to 69, 20 to 35 shares at
    /// regtest's easiest share target (work 2), so the window's work limit usually binds
    /// before its cap of 30.
    fn block_bits(tag: u64) -> CompactTarget {
        // Block work between 40 and 69, changing share by share, as shares on different
        // bitcoin blocks (and shares that misstate it) do.
        let w = 40 + (tag * 7919) % 30;
        CompactTarget::from_consensus(bits_of(U256::MAX / U256::from(w)).0)
    }

    fn script(n: u32) -> ScriptBuf {
        let mut program = [0u8; 20];
        program[..4].copy_from_slice(&n.to_le_bytes());
        ScriptBuf::new_p2wpkh(&bitcoin::WPubkeyHash::from_byte_array(program))
    }

    /// How a test share is made; `forge` may change it before the header is ground.
    struct Mine {
        parent: ShareId,
        miner: ScriptBuf,
        time: u32,
        uncles: Vec<ShareId>,
        tag: u64,
    }

    fn mine_with(
        chain: &mut Chain,
        m: Mine,
        forge: impl FnOnce(&mut Share, &mut Vec<(ScriptBuf, u64)>),
    ) -> Share {
        let next = chain
            .next_share(m.parent, VALUE, &m.miner)
            .expect("a known parent");
        let mut uncles = m.uncles.clone();
        uncles.sort();
        let mut outputs = next.outputs.clone();
        let mut script_sig = vec![0x01, 10];
        script_sig.extend_from_slice(&m.tag.to_le_bytes());
        let mut share = Share {
            header: Header {
                version: Version::from_consensus(0x2000_0000),
                prev_blockhash: BlockHash::from_byte_array([1; 32]),
                merkle_root: TxMerkleNode::from_byte_array([0; 32]),
                time: m.time,
                bits: block_bits(m.tag),
                nonce: 0,
            },
            script_sig,
            coinbase_value: VALUE,
            witness_commitment: None,
            merkle_branch: Vec::new(),
            meta: ShareMeta {
                chain: chain.id(),
                parent: m.parent,
                uncles,
                payout_script: m.miner.clone(),
                share_bits: next.share_bits,
                outputs_hash: outputs_hash(&next.outputs),
            },
        };
        forge(&mut share, &mut outputs);
        share.header.merkle_root = TxMerkleNode::from_byte_array(share.merkle_root_for(&outputs));
        grind(&mut share);
        share
    }

    /// Rolls the nonce until the header meets the share target.
    fn grind(share: &mut Share) {
        let target = target_of(share.meta.share_bits).unwrap_or(U256::MAX);
        while U256::from_le_bytes(share.id().0) > target {
            share.header.nonce += 1;
        }
    }

    struct Miner {
        chain: Chain,
        time: u32,
        tag: u64,
    }

    impl Miner {
        fn new() -> Miner {
            let chain = Chain::new(spec());
            let time = spec().genesis_time as u32;
            Miner {
                chain,
                time,
                tag: 0,
            }
        }

        /// A valid share on `parent` by `miner`, offered: its id.
        /// The next share on `parent` by `miner`, one share period later, made with
        /// `forge` applied before its header is ground; not offered.
        fn make_with(
            &mut self,
            parent: ShareId,
            miner: u32,
            uncles: Vec<ShareId>,
            forge: impl FnOnce(&mut Share, &mut Vec<(ScriptBuf, u64)>),
        ) -> Share {
            self.time += spec().share_period_secs;
            self.tag += 1;
            let m = Mine {
                parent,
                miner: script(miner),
                time: self.time,
                uncles,
                tag: self.tag,
            };
            mine_with(&mut self.chain, m, forge)
        }

        /// An honest next share, not offered.
        fn make(&mut self, parent: ShareId, miner: u32, uncles: Vec<ShareId>) -> Share {
            self.make_with(parent, miner, uncles, |_, _| {})
        }

        fn share(&mut self, parent: ShareId, miner: u32, uncles: Vec<ShareId>) -> ShareId {
            let share = self.make(parent, miner, uncles);
            let id = share.id();
            assert_eq!(self.chain.offer(share, LATE), Verdict::Valid);
            id
        }
    }

    /// The window at `top` and its tally by the definition, recomputed from the kept shares
    /// alone: walk back from `top`, credit each share its work and its uncles' penalties and
    /// each uncle its work less the penalty, stop at the cap or once the work limit (the
    /// median block work of `top` and its 10 ancestors) is reached.
    fn naive_tally(chain: &Chain, top: ShareId) -> (Vec<ShareId>, Tally) {
        let s = chain.spec();
        let mut ids = Vec::new();
        let mut tally = Tally::default();
        if chain.get(&top).is_none() {
            return (ids, tally);
        }
        // The median of the bitcoin targets' work in `top` and its 10 ancestors' headers.
        let mut works = Vec::new();
        let mut at = top;
        while let Some(e) = chain.get(&at) {
            if works.len() == 11 {
                break;
            }
            let t = bitcoin::pow::Target::from_compact(e.share.header.bits).to_le_bytes();
            works.push(work_of(U256::from_le_bytes(t)));
            at = e.share.meta.parent;
        }
        works.sort();
        let limit = U256::from(works[(works.len() - 1) / 2]) * U256::from(s.window_work_num)
            / U256::from(s.window_work_den);
        let mut work = U256::ZERO;
        let mut at = top;
        while let Some(e) = chain.get(&at) {
            if ids.len() >= s.window_max_shares as usize
                || (work >= limit && ids.len() >= s.window_min_shares as usize)
            {
                break;
            }
            ids.push(at);
            let own = work_of(target_of(e.share.meta.share_bits).unwrap());
            work += U256::from(own);
            let mut includer = own;
            for u in &e.share.meta.uncles {
                let ue = chain.get(u).unwrap();
                let uw = work_of(target_of(ue.share.meta.share_bits).unwrap());
                // The uncle keeps its work times (1 − penalty), rounded down; the includer
                // gets exactly the rest.
                let kept = uw * u128::from(BPS - s.uncle_penalty_bps) / u128::from(BPS);
                tally.add(&ue.share.meta.payout_script, kept);
                includer += uw - kept;
            }
            tally.add(&e.share.meta.payout_script, includer);
            at = e.share.meta.parent;
        }
        (ids, tally)
    }

    #[test]
    fn a_shares_target_is_the_rule_applied_to_its_parent_and_grandparent() {
        let mut m = Miner::new();
        let g = m.chain.genesis();
        let a = m.share(g, 1, vec![]);
        let b = m.share(a, 2, vec![]);
        let initial = m.chain.spec().initial_share_bits;
        // The first two shares take the initial target.
        assert_eq!(m.chain.get(&a).unwrap().share.meta.share_bits, initial);
        assert_eq!(m.chain.get(&b).unwrap().share.meta.share_bits, initial);
        // Then the parent's target, moved by how long the parent took after its own parent.
        let mut parent = b;
        let mut seen = std::collections::BTreeSet::new();
        for k in 0..5u32 {
            let pe = m.chain.get(&parent).unwrap().share.clone();
            let grand = m.chain.get(&pe.meta.parent).unwrap().share.header.time;
            let want = bits_of(Asert::new(m.chain.spec()).after(
                target_of(pe.meta.share_bits).unwrap(),
                u64::from(pe.header.time),
                u64::from(grand),
            ));
            assert_eq!(m.chain.tip_work().share_bits, want, "share {k}");
            // Early by a varying amount (this spec's initial target is its easiest), so
            // targets move and differ share to share.
            m.time = m.time - spec().share_period_secs + 3 * (k % 3);
            parent = m.share(parent, k, vec![]);
            assert_eq!(m.chain.get(&parent).unwrap().share.meta.share_bits, want);
            seen.insert(want.0);
        }
        assert!(seen.len() >= 3, "targets moved: {seen:?}");
    }

    #[test]
    fn a_share_whose_checks_read_below_the_pruned_horizon_is_not_judged() {
        let mut m = Miner::new();
        let mut ids = vec![m.chain.genesis()];
        for k in 0..120 {
            let id = m.share(*ids.last().unwrap(), k % 4, vec![]);
            ids.push(id);
        }
        m.chain.prune_below(60);
        // Its window (30), median times (11) and uncle depth (3) reach below height 60.
        let old = m.make(ids[80], 7, vec![]);
        assert_eq!(m.chain.offer(old, LATE), Verdict::BelowHorizon);
        // On the tip, everything it reads is kept.
        let tip = m.chain.tip();
        let new = m.make(tip, 7, vec![]);
        assert_eq!(m.chain.offer(new, LATE), Verdict::Valid);
        // Restored from what is kept, the horizon is known again.
        let entries: Vec<Entry> = ids[60..]
            .iter()
            .filter_map(|id| m.chain.get(id).cloned())
            .collect();
        let mut restored = Chain::restore(spec(), entries);
        let old = m.make(ids[80], 8, vec![]);
        assert_eq!(restored.offer(old, LATE), Verdict::BelowHorizon);
    }

    #[test]
    fn the_next_share_credits_recent_side_shares_as_uncles() {
        let mut m = Miner::new();
        let g = m.chain.genesis();
        let a = m.share(g, 1, vec![]);
        let b = m.share(a, 2, vec![]);
        let c = m.share(a, 3, vec![]);
        let tip = m.chain.tip();
        let side = if tip == b { c } else { b };
        let work = m.chain.tip_work();
        assert_eq!(work.uncles, vec![side]);
        // A share with the tip work's uncles is valid (share() asserts it) and credits the
        // side share's miner its work less the penalty.
        let d = m.share(tip, 4, work.uncles.clone());
        let side_miner = m.chain.get(&side).unwrap().share.meta.payout_script.clone();
        assert!(m
            .chain
            .get(&d)
            .unwrap()
            .credits
            .iter()
            .any(|(s, w)| *s == side_miner && *w > 0));
        // Credited once: not an uncle candidate again.
        assert!(m.chain.tip_work().uncles.is_empty());
        // Shares deeper than the uncle depth are not candidates.
        let mut top = d;
        let late = m.share(g, 5, vec![]);
        for k in 0..4 {
            top = m.share(top, k, vec![]);
        }
        assert!(!m.chain.tip_work().uncles.contains(&late));
    }

    #[test]
    fn a_line_of_shares_is_kept_and_its_window_is_the_definitions() {
        let mut m = Miner::new();
        let mut parent = m.chain.genesis();
        for k in 0..80 {
            parent = m.share(parent, k % 5, vec![]);
            assert_eq!(m.chain.tip(), parent);
            let (ids, tally) = naive_tally(&m.chain, parent);
            assert_eq!(m.chain.window().ids().collect::<Vec<_>>(), ids, "share {k}");
            assert_eq!(m.chain.window().tally(), &tally, "share {k}");
        }
        assert_eq!(m.chain.get(&parent).unwrap().height, 80);
        assert!(
            m.chain.window().len() < 30,
            "the work limit binds before the cap"
        );
    }

    #[test]
    fn a_heavier_branch_takes_the_tip_and_the_window_follows() {
        let mut m = Miner::new();
        let mut a = m.chain.genesis();
        for k in 0..20 {
            a = m.share(a, k % 3, vec![]);
        }
        let fork = m.chain.get(&a).unwrap().share.meta.parent;
        let fork = m.chain.get(&fork).unwrap().share.meta.parent;
        // A branch from two shares back, by another miner: shorter at first…
        let mut b = m.share(fork, 7, vec![]);
        assert_eq!(m.chain.tip(), a);
        b = m.share(b, 7, vec![]);
        // …equal work: the lower id wins; one more and it is heavier either way.
        b = m.share(b, 7, vec![]);
        assert_eq!(m.chain.tip(), b);
        let (ids, tally) = naive_tally(&m.chain, b);
        assert_eq!(m.chain.window().ids().collect::<Vec<_>>(), ids);
        assert_eq!(m.chain.window().tally(), &tally);
        assert!(tally.weight(&script(7)) > 0);
    }

    /// One share of the random walk: mostly on the tip, sometimes on a recent share (a
    /// fork, later maybe a reorg), crediting up to two recent shares it may as uncles.
    /// Returns how many uncles it credits.
    fn random_share(m: &mut Miner, draw: &mut Draw, recent: &mut Vec<ShareId>) -> usize {
        let tip = m.chain.tip();
        // Mostly on the tip; sometimes on a recent share (a fork, later maybe a reorg).
        let parent = if draw.below(5) == 0 && recent.len() > 2 {
            recent[recent.len() - 1 - draw.below(3.min(recent.len() as u128 - 1)) as usize]
        } else {
            tip
        };
        // Uncles: recent shares not on the parent's branch, within the depth.
        let height = m.chain.height_of(&parent).unwrap() + 1;
        let branch: HashSet<ShareId> = m.chain.ancestors(&parent, 5).into_iter().collect();
        let credited: HashSet<ShareId> = m
            .chain
            .ancestors(&parent, 3)
            .iter()
            .flat_map(|a| m.chain.get(a).unwrap().share.meta.uncles.clone())
            .collect();
        let mut uncles: Vec<ShareId> = recent
            .iter()
            .filter(|u| {
                m.chain.get(u).is_some_and(|e| {
                    e.height < height
                        && e.height + 3 >= height
                        && !branch.contains(u)
                        && !credited.contains(u)
                        && (branch.contains(&e.share.meta.parent)
                            || e.share.meta.parent == m.chain.genesis())
                })
            })
            .copied()
            .collect();
        uncles.truncate(2);
        let n = uncles.len();
        let id = m.share(parent, draw.below(9) as u32, uncles);
        recent.push(id);
        if recent.len() > 12 {
            recent.remove(0);
        }
        n
    }

    /// The placement by its definition: the best path walked from the tip (down to the
    /// pruned floor), the kept shares its shares credit as uncles, and the rest.
    fn naive_placement(chain: &Chain) -> Placement {
        let path = chain.ancestors(&chain.tip(), chain.len());
        let on_path: HashSet<ShareId> = path.iter().copied().collect();
        let credited: HashSet<ShareId> = path
            .iter()
            .flat_map(|id| chain.get(id).unwrap().share.meta.uncles.clone())
            .filter(|u| chain.get(u).is_some())
            .collect();
        assert!(credited.is_disjoint(&on_path));
        let kept = chain.len() as u64;
        Placement {
            on_best: path.len() as u64,
            uncles: credited.len() as u64,
            orphans: kept - path.len() as u64 - credited.len() as u64,
        }
    }

    #[test]
    fn randomized_chains_with_uncles_and_reorgs_keep_the_definitions_window() {
        let mut m = Miner::new();
        let mut draw = Draw::new([42; 32]);
        let mut recent: Vec<ShareId> = vec![m.chain.genesis()];
        let mut reorgs = 0;
        let mut uncled = 0;
        for step in 0..400 {
            let tip = m.chain.tip();
            uncled += random_share(&mut m, &mut draw, &mut recent);
            let new_tip = m.chain.tip();
            // A reorg: the new tip does not build on the old one.
            if new_tip != tip && m.chain.fork_point(tip, new_tip) != tip {
                reorgs += 1;
            }
            let (ids, tally) = naive_tally(&m.chain, new_tip);
            assert_eq!(
                m.chain.window().ids().collect::<Vec<_>>(),
                ids,
                "step {step}"
            );
            assert_eq!(m.chain.window().tally(), &tally, "step {step}");
            // What a peer is sent after a locator is the best chain walked from the tip.
            let mut path = m.chain.ancestors(&new_tip, 1_000);
            path.reverse();
            assert_eq!(
                m.chain.ids_after(&[m.chain.genesis()], usize::MAX),
                path,
                "step {step}"
            );
            let locator = m.chain.locator();
            assert_eq!(locator.last(), Some(&m.chain.genesis()));
            assert_eq!(locator.first(), path.last().or(Some(&m.chain.genesis())));
            assert!(locator[..locator.len() - 1]
                .iter()
                .all(|id| path.contains(id)));
            // Where the shares ended up, by the definition.
            assert_eq!(
                m.chain.placement(),
                naive_placement(&m.chain),
                "step {step}"
            );
            let mid = path.len() / 2;
            assert_eq!(
                m.chain.ids_after(&[ShareId([9; 32]), path[mid]], 5),
                path[mid + 1..].iter().take(5).copied().collect::<Vec<_>>(),
                "step {step}"
            );
            // The next share's outputs are the payout of that window, exactly.
            let next = m.chain.next_share(new_tip, VALUE, &script(0)).unwrap();
            let expect = crate::p2pool::pplns::payout(
                &tally,
                VALUE,
                &crate::p2pool::pplns::PayoutRules::of(&spec()),
                new_tip.0,
                &script(0),
            );
            assert_eq!(next.outputs, expect, "step {step}");
            assert_eq!(next.outputs.iter().map(|o| o.1).sum::<u64>(), VALUE);
        }
        assert!(reorgs > 5, "the walk made reorgs: {reorgs}");
        assert!(uncled > 20, "the walk included uncles: {uncled}");
        // Pruned as a node prunes (keeping what the tip's children read), and walking on
        // through more forks and reorgs: the placement still counts what is kept, and adds
        // up to it.
        let keep = 2 * Chain::checked_depth(&spec()) + 1;
        let mut pruned = 0;
        for step in 0..200 {
            random_share(&mut m, &mut draw, &mut recent);
            if step % 7 == 0 && m.chain.tip_height() > keep {
                m.chain.prune_below(m.chain.tip_height() - keep);
                pruned += 1;
            }
            assert_eq!(
                m.chain.placement(),
                naive_placement(&m.chain),
                "step {step} after pruning"
            );
        }
        assert!(
            pruned > 20 && m.chain.len() < 200,
            "{pruned} {}",
            m.chain.len()
        );
    }

    /// A valid share on the tip, made with `forge` applied, offered: the verdict.
    fn forged(
        m: &mut Miner,
        forge: impl FnOnce(&mut Share, &mut Vec<(ScriptBuf, u64)>),
        now: u64,
    ) -> Verdict {
        let tip = m.chain.tip();
        let share = m.make_with(tip, 1, vec![], forge);
        m.chain.offer(share, now)
    }

    #[test]
    fn every_forged_share_kind_has_its_own_reason() {
        let mut m = Miner::new();
        let mut parent = m.chain.genesis();
        for k in 0..5 {
            parent = m.share(parent, k, vec![]);
        }
        let foreign = ChainSpec::preset("simnet").unwrap().id();
        assert_eq!(
            forged(&mut m, |s, _| s.meta.chain = foreign, LATE),
            Verdict::Invalid(Invalid::ForeignChain(foreign))
        );
        // A target no header will meet after grinding a few nonces: stop the grinder by
        // setting the hash requirement after it ran.
        let mut missed = { m.make(parent, 1, vec![]) };
        while U256::from_le_bytes(missed.id().0) <= U256::MAX >> 4 {
            missed.header.nonce += 1;
        }
        missed.meta.share_bits = bits_of(U256::MAX >> 4);
        assert_eq!(
            m.chain.offer(missed, LATE),
            Verdict::Invalid(Invalid::ProofOfWork)
        );
        // Harder than the rule: proof of work is met, the target is wrong.
        let verdict = forged(
            &mut m,
            |s, _| s.meta.share_bits = bits_of(U256::MAX >> 2),
            LATE,
        );
        assert!(
            matches!(verdict, Verdict::Invalid(Invalid::WrongTarget { .. })),
            "{verdict:?}"
        );
        let verdict = forged(
            &mut m,
            |s, _| s.header.time = spec().genesis_time as u32,
            LATE,
        );
        assert!(
            matches!(verdict, Verdict::Invalid(Invalid::TimeTooOld { .. })),
            "{verdict:?}"
        );
        let now = u64::from(m.time) + 5;
        assert_eq!(
            forged(&mut m, |s, _| s.header.time += 1_000, now),
            Verdict::Future
        );
        // Pays someone else: the coinbase (and the header) commit to other outputs.
        let verdict = forged(
            &mut m,
            |s, outputs| {
                outputs[0].0 = script(666);
                s.meta.outputs_hash = outputs_hash(outputs);
            },
            LATE,
        );
        assert_eq!(verdict, Verdict::Invalid(Invalid::WrongOutputs));
        // Changed after it was mined (and ground again, so its proof of work holds): the
        // metadata's commitment, or the merkle branch, is not what the header commits to.
        for tamper in [
            (|s: &mut Share| s.meta.payout_script = script(777)) as fn(&mut Share),
            |s: &mut Share| s.merkle_branch = vec![[1; 32]],
        ] {
            let tip = m.chain.tip();
            let mut share = m.make(tip, 1, vec![]);
            tamper(&mut share);
            grind(&mut share);
            assert_eq!(
                m.chain.offer(share, LATE),
                Verdict::Invalid(Invalid::CoinbaseMismatch)
            );
        }
        let verdict = forged(&mut m, |s, _| s.script_sig[0] = 0x4c, LATE);
        assert_eq!(verdict, Verdict::Invalid(Invalid::BitcoinHeight));
        let verdict = forged(
            &mut m,
            |s, _| s.meta.payout_script = ScriptBuf::from_bytes(vec![0xae; 80]),
            LATE,
        );
        assert_eq!(verdict, Verdict::Invalid(Invalid::PayoutScript));
        for bits in [0u32, 0x2100_ffff, 0x0180_0000] {
            let verdict = forged(
                &mut m,
                |s, _| s.header.bits = CompactTarget::from_consensus(bits),
                LATE,
            );
            assert_eq!(
                verdict,
                Verdict::Invalid(Invalid::BitcoinBits),
                "{bits:08x}"
            );
        }
        // A claimed share target easier than the chain's minimum is refused before its
        // proof of work is even looked at.
        let mut easy = {
            let tip = m.chain.tip();
            m.make(tip, 1, vec![])
        };
        easy.meta.share_bits = Bits(0x2100_ffff);
        assert_eq!(
            m.chain.offer(easy, LATE),
            Verdict::Invalid(Invalid::EasierThanMinimum)
        );
        let unknown = ShareId([0xaa; 32]);
        // Built on the tip, then pointed at an unknown parent (grinding again).
        let mut orphan = {
            let tip = m.chain.tip();
            m.make(tip, 1, vec![])
        };
        orphan.meta.parent = unknown;
        grind(&mut orphan);
        assert_eq!(m.chain.offer(orphan, LATE), Verdict::Missing(vec![unknown]));
        assert_eq!(m.chain.pending(), 1);
        assert_eq!(
            m.chain.offer_bytes(&vec![0u8; 3000], LATE),
            Verdict::Invalid(Invalid::Malformed(DecodeError::Oversize(3000)))
        );
    }

    #[test]
    fn a_share_on_a_far_old_parent_is_checked_against_that_parents_window() {
        let mut m = Miner::new();
        let mut line = vec![m.chain.genesis()];
        for k in 0..100 {
            let id = m.share(*line.last().unwrap(), k % 4, vec![]);
            line.push(id);
        }
        // 90 shares back: past WINDOW_WALK_LIMIT, its window is built, not walked to.
        let old = line[10];
        let next = m.chain.next_share(old, VALUE, &script(9)).unwrap();
        let (_, tally) = naive_tally(&m.chain, old);
        let rules = crate::p2pool::pplns::PayoutRules::of(&spec());
        assert_eq!(
            next.outputs,
            crate::p2pool::pplns::payout(&tally, VALUE, &rules, old.0, &script(9))
        );
        let side = m.share(old, 9, vec![]);
        assert_ne!(m.chain.tip(), side, "a side branch, not the tip");
        // The tip's window is where it was.
        let (ids, tally) = naive_tally(&m.chain, m.chain.tip());
        assert_eq!(m.chain.window().ids().collect::<Vec<_>>(), ids);
        assert_eq!(m.chain.window().tally(), &tally);
    }

    #[test]
    fn a_share_from_the_future_is_kept_once_the_clock_reaches_it() {
        let mut m = Miner::new();
        let a = m.share(m.chain.genesis(), 1, vec![]);
        let now = u64::from(m.time);
        let ahead = m.make_with(a, 2, vec![], |s, _| s.header.time += 1_000);
        let id = ahead.id();
        assert_eq!(m.chain.offer(ahead, now), Verdict::Future);
        assert!(m.chain.get(&id).is_none());
        // The next offer, with the clock past it, checks it again.
        let _ = m.chain.offer_bytes(&[0u8; 10], now + 2_000);
        assert!(m.chain.get(&id).is_some(), "kept once its time came");
        assert_eq!(m.chain.tip(), id);
    }

    #[test]
    fn a_share_waits_for_its_parent_and_is_kept_when_it_comes() {
        let mut m = Miner::new();
        let a = m.share(m.chain.genesis(), 1, vec![]);
        // Two shares made on a's child before the child reaches this chain.
        let mut other = Miner::new();
        let a_again = other.share(other.chain.genesis(), 1, vec![]);
        assert_eq!(a_again, a, "the same share, made twice, is the same id");
        other.time = m.time;
        other.tag = 100;
        let b = other.share(a, 2, vec![]);
        let c = other.share(b, 3, vec![]);
        let b_share = other.chain.get(&b).unwrap().share.clone();
        let c_share = other.chain.get(&c).unwrap().share.clone();
        assert_eq!(m.chain.offer(c_share, LATE), Verdict::Missing(vec![b]));
        assert_eq!(m.chain.pending(), 1);
        assert_eq!(m.chain.wanted(10), vec![b], "what to ask a peer for");
        assert_eq!(m.chain.offer(b_share, LATE), Verdict::Valid);
        assert_eq!(m.chain.pending(), 0);
        assert!(m.chain.wanted(10).is_empty());
        assert_eq!(
            m.chain.tip(),
            c,
            "the waiting share was kept once its parent came"
        );
        assert_eq!(
            m.chain.offer(m.chain.get(&c).unwrap().share.clone(), LATE),
            Verdict::Known
        );
    }

    #[test]
    fn uncles_are_credited_with_the_penalty_and_the_rules_hold() {
        let mut m = Miner::new();
        let g = m.chain.genesis();
        let a = m.share(g, 1, vec![]);
        let b = m.share(a, 2, vec![]);
        let sibling = m.share(a, 3, vec![]);
        let c = m.share(b, 4, vec![sibling]);
        // The uncle's miner keeps 80 % of its work (2 → 1), the includer gets the rest.
        let e = m.chain.get(&c).unwrap();
        assert_eq!(e.credits, vec![(script(3), 1), (script(4), 3)]);
        assert!(e.chain_work > m.chain.get(&b).unwrap().chain_work + U256::from(2u8));
        // Credited already by c: d on c cannot credit it again; an ancestor is no uncle.
        let uncle_of = |m: &mut Miner, parent: ShareId, uncles: Vec<ShareId>| {
            let share = m.make(parent, 5, uncles);
            m.chain.offer(share, LATE)
        };
        assert_eq!(
            uncle_of(&mut m, c, vec![sibling]),
            Verdict::Invalid(Invalid::Uncle(sibling, "is credited already"))
        );
        assert_eq!(
            uncle_of(&mut m, c, vec![a]),
            Verdict::Invalid(Invalid::Uncle(a, "is an ancestor"))
        );
        let unknown = ShareId([0xbb; 32]);
        assert_eq!(
            uncle_of(&mut m, c, vec![unknown]),
            Verdict::Missing(vec![unknown])
        );
        // Too deep: a sibling of a, four shares below the new one.
        let old = m.share(g, 6, vec![]);
        let mut top = c;
        for _ in 0..3 {
            top = m.share(top, 1, vec![]);
        }
        assert_eq!(
            uncle_of(&mut m, top, vec![old]),
            Verdict::Invalid(Invalid::Uncle(old, "is not within the uncle depth"))
        );
    }
}

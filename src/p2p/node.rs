//! The share chain's network at work: one task owns the libp2p swarm. New shares arrive by
//! gossip and are offered to the chain's thread; only what it calls valid is forwarded
//! (gossipsub's validation), what it calls invalid gets the sender banned, and a share
//! whose parent is missing starts a sync round with its sender instead. This node's own
//! shares are published as the chain keeps them. A sync round with a peer asks where the
//! two chains meet (a locator), then fetches the peer's best chain from there in bounded
//! batches, offering them in order as they come, until the peer has nothing this node
//! lacks. Peers' requests are answered from the chain's thread.

use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use futures::StreamExt;
use libp2p::request_response::{self, OutboundRequestId, ResponseChannel};
use libp2p::swarm::SwarmEvent;
use libp2p::{gossipsub, identify, noise, tcp, yamux, Multiaddr, PeerId, Swarm};
use serde::Serialize;
use tokio::sync::{mpsc, oneshot, watch};
use tokio_util::sync::CancellationToken;

use super::behaviour::{Behaviour, BehaviourEvent, Names};
use super::key;
use super::peers::{BanView, PeerBook, PeerView};
use super::wire::{SyncRequest, SyncResponse, MAX_GET, MAX_IDS};
use crate::config::P2poolSettings;
use crate::p2pool::chain::Verdict;
use crate::p2pool::share::ShareId;
use crate::p2pool::spec::ChainId;
use crate::sharechain::{ChainRequest, ChainStatus};

/// Get requests of one sync round in flight at once.
pub const GETS_IN_FLIGHT: usize = 4;
/// Gossip messages being validated at once; past it, new ones are ignored (not forwarded,
/// no penalty: the chain's thread is behind).
pub const MAX_VALIDATING: usize = 1_024;
/// Requests for missing shares outside sync rounds in flight at once.
pub const MAX_FETCHES: usize = 64;
/// How long a node with peers to sync from waits for one to answer before it mines on its
/// own chain.
pub const SYNC_ALONE_AFTER: Duration = Duration::from_secs(30);
/// How often configured peers that are not connected are dialled again.
pub const REDIAL_EVERY: Duration = Duration::from_secs(10);
/// How often each peer is asked again what it has that this node lacks (anti-entropy:
/// gossip dropped over a rate limit, or lost with a connection, comes back this way).
pub const RESYNC_EVERY: Duration = Duration::from_secs(10);
/// Full answers in a row that kept nothing before a round gives up: a fork this many
/// answers (2,048 ids each) deep is past any window, and a peer that answers with ids it
/// never serves cannot hold a round (and the node's sync) open for ever.
pub const MAX_FRUITLESS_PASSES: u32 = 64;
/// How often the share chain's status line is logged.
pub const STATUS_LOG_EVERY: Duration = Duration::from_secs(60);

/// Why the network could not start.
#[derive(Debug, thiserror::Error)]
pub enum NetError {
    /// The node key.
    #[error(transparent)]
    Key(#[from] key::KeyError),
    /// The transport or behaviours could not be built.
    #[error("cannot build the network: {0}")]
    Build(String),
    /// The listen address could not be bound.
    #[error("p2pool.listen {addr}: {reason}")]
    Listen {
        /// The address.
        addr: Multiaddr,
        /// Why.
        reason: String,
    },
}

/// A sync round in progress as shown.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct SyncView {
    /// The peer synced from.
    pub peer: String,
    /// Shares fetched so far in this round.
    pub fetched: u64,
    /// Of them, kept (new to this node).
    pub kept: u64,
    /// The peer's tip height.
    pub peer_height: u64,
    /// Shares fetched per second.
    pub rate_per_sec: u64,
}

/// What the network looks like now: for the status line, the summary and
/// `stratumd sharechain peers` (through `<logdir>/pool/p2pool.json`, rewritten every
/// quarter second).
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct NetStatus {
    /// This node's peer id.
    pub peer_id: String,
    /// Where it listens.
    pub listening: Vec<String>,
    /// Its peers.
    pub peers: Vec<PeerView>,
    /// Bans in force.
    pub bans: Vec<BanView>,
    /// Bans since start.
    pub bans_total: u64,
    /// Whether it caught up with a peer (or has none to wait for).
    pub synced: bool,
    /// Sync rounds in progress.
    pub syncing: Vec<SyncView>,
}

/// The network, built and listening, before its task starts.
pub struct Prepared {
    swarm: Swarm<Behaviour>,
    names: Names,
    peers: Vec<Multiaddr>,
    ban: Duration,
    status_file: PathBuf,
}

/// Builds the swarm with the node's key (from the store's folder) and binds the listen
/// address, so that start-up fails here, naming the key, when it cannot.
pub fn prepare(
    settings: &P2poolSettings,
    chain: ChainId,
    status_file: PathBuf,
) -> Result<Prepared, NetError> {
    let key = key::load_or_create(&settings.store)?;
    let names = Names::of(chain);
    let max_peers = settings.net.max_peers;
    let behaviour_names = names.clone();
    let mut swarm = libp2p::SwarmBuilder::with_existing_identity(key)
        .with_tokio()
        .with_tcp(
            tcp::Config::default().nodelay(true),
            noise::Config::new,
            yamux::Config::default,
        )
        .map_err(|e| NetError::Build(e.to_string()))?
        .with_behaviour(|key| Behaviour::new(key, &behaviour_names, max_peers))
        .map_err(|e| NetError::Build(e.to_string()))?
        .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(3_600)))
        .build();
    swarm
        .listen_on(settings.net.listen.clone())
        .map_err(|e| NetError::Listen {
            addr: settings.net.listen.clone(),
            reason: e.to_string(),
        })?;
    Ok(Prepared {
        swarm,
        names,
        peers: settings.net.peers.clone(),
        ban: settings.net.ban,
        status_file,
    })
}

impl Prepared {
    /// This node's peer id.
    pub fn peer_id(&self) -> PeerId {
        *self.swarm.local_peer_id()
    }

    /// The swarm and names without the node's task: for tools that speak the protocol
    /// themselves (a test peer that lies, a bench's peer).
    pub fn into_parts(self) -> (Swarm<Behaviour>, Names) {
        (self.swarm, self.names)
    }

    /// Whether jobs may be built on the stored tip at once: true without peers to catch
    /// up with first.
    pub fn synced_at_start(&self) -> bool {
        self.peers.is_empty()
    }

    /// Starts the network's task: it offers peers' shares on `chain`, publishes the shares
    /// from `announce`, and runs until `shutdown`.
    pub fn spawn(
        self,
        chain: mpsc::Sender<ChainRequest>,
        chain_status: watch::Receiver<ChainStatus>,
        announce: mpsc::Receiver<Vec<u8>>,
        shutdown: CancellationToken,
    ) -> watch::Receiver<NetStatus> {
        let synced = self.synced_at_start();
        let (status_tx, status_rx) = watch::channel(NetStatus {
            peer_id: self.peer_id().to_string(),
            synced,
            ..NetStatus::default()
        });
        let (back_tx, back_rx) = mpsc::unbounded_channel();
        let node = Node {
            book: PeerBook::new(self.ban),
            ban: self.ban,
            swarm: self.swarm,
            names: self.names,
            bootstrap: self.peers.into_iter().map(|a| (a, None)).collect(),
            status_file: self.status_file,
            chain,
            chain_status,
            back_tx,
            rounds: HashMap::new(),
            requests: HashMap::new(),
            fetches: 0,
            validating: 0,
            synced,
            started: Instant::now(),
            listening: Vec::new(),
            status: status_tx,
            last_dial: None,
            last_progress: Instant::now(),
            last_status_log: None,
            last_resync: Instant::now(),
        };
        tokio::spawn(node.run(back_rx, announce, shutdown));
        status_rx
    }
}

/// What a request sent to a peer was for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Purpose {
    Locate,
    RoundGet,
    Fetch,
}

/// A sync round with one peer.
#[derive(Debug)]
struct Round {
    queue: VecDeque<ShareId>,
    gets: usize,
    fetched: u64,
    kept: u64,
    /// Shares kept since the last locator: none after a full pass means the peer's best
    /// chain has nothing more for this node.
    kept_this_pass: u64,
    /// Passes (locator answered with ids) so far.
    passes: u32,
    /// Whether the last answer was a full one (more may follow even if it kept nothing:
    /// a deep fork's first answer is shares this node has).
    last_full: bool,
    /// Passes in a row that kept nothing.
    fruitless: u32,
    /// The last id of the last `Ids` answer: the next locator starts there, so a fork
    /// deeper than one answer goes on from where the last left off.
    last: Option<ShareId>,
    /// Ids asked for because waiting shares needed them (never asked twice in a round).
    wanted_asked: std::collections::HashSet<ShareId>,
    peer_height: u64,
    started: Instant,
}

/// Answers from the chain's thread, back in the swarm's task.
enum Back {
    Gossip {
        id: gossipsub::MessageId,
        source: PeerId,
        verdict: Option<Verdict>,
    },
    Respond {
        channel: ResponseChannel<SyncResponse>,
        response: SyncResponse,
    },
    Locator {
        peer: PeerId,
        locator: Vec<ShareId>,
    },
    Wanted {
        peer: PeerId,
        ids: Vec<ShareId>,
    },
    Fetched {
        peer: PeerId,
        verdicts: Vec<Verdict>,
        purpose: Purpose,
    },
}

struct Node {
    swarm: Swarm<Behaviour>,
    names: Names,
    book: PeerBook,
    ban: Duration,
    /// Configured peers, with the peer id each turned out to be.
    bootstrap: Vec<(Multiaddr, Option<PeerId>)>,
    status_file: PathBuf,
    chain: mpsc::Sender<ChainRequest>,
    chain_status: watch::Receiver<ChainStatus>,
    back_tx: mpsc::UnboundedSender<Back>,
    rounds: HashMap<PeerId, Round>,
    requests: HashMap<OutboundRequestId, (PeerId, Purpose)>,
    fetches: usize,
    validating: usize,
    synced: bool,
    started: Instant,
    listening: Vec<Multiaddr>,
    status: watch::Sender<NetStatus>,
    last_dial: Option<Instant>,
    last_progress: Instant,
    last_status_log: Option<Instant>,
    last_resync: Instant,
}

impl Node {
    async fn run(
        mut self,
        mut back: mpsc::UnboundedReceiver<Back>,
        mut announce: mpsc::Receiver<Vec<u8>>,
        shutdown: CancellationToken,
    ) {
        self.dial_bootstrap();
        // The status file follows the chain within a quarter second.
        let mut tick = tokio::time::interval(Duration::from_millis(250));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => break,
                event = self.swarm.select_next_some() => self.on_swarm(event),
                Some(b) = back.recv() => self.on_back(b),
                Some(share) = announce.recv() => self.publish(share),
                _ = tick.tick() => self.on_tick(),
            }
        }
        self.write_status();
    }

    fn publish(&mut self, share: Vec<u8>) {
        let topic = self.names.topic.clone();
        if let Err(e) = self.swarm.behaviour_mut().gossip.publish(topic, share) {
            // No peers yet: they sync it when they come.
            tracing::debug!("p2pool: share not published: {e}");
        }
    }

    fn on_swarm(&mut self, event: SwarmEvent<BehaviourEvent>) {
        match event {
            SwarmEvent::NewListenAddr { address, .. } => {
                tracing::info!(
                    "p2pool: listening on {address}/p2p/{}",
                    self.swarm.local_peer_id()
                );
                self.listening.push(address);
            }
            SwarmEvent::ConnectionEstablished {
                peer_id,
                endpoint,
                num_established,
                ..
            } if num_established.get() == 1 => {
                let addr = endpoint.get_remote_address().clone();
                if endpoint.is_dialer() {
                    for (a, id) in &mut self.bootstrap {
                        if *a == addr {
                            *id = Some(peer_id);
                        }
                    }
                }
                tracing::info!("p2pool: peer {peer_id} connected ({addr})");
                self.book
                    .connected(peer_id, addr, endpoint.is_dialer(), Instant::now());
                self.start_round(peer_id);
            }
            SwarmEvent::ConnectionClosed {
                peer_id,
                num_established: 0,
                cause,
                ..
            } => {
                let why = cause.map_or_else(|| "closed".to_string(), |c| c.to_string());
                tracing::info!("p2pool: peer {peer_id} disconnected ({why})");
                self.book.disconnected(&peer_id);
                self.rounds.remove(&peer_id);
            }
            SwarmEvent::OutgoingConnectionError { peer_id, error, .. } => {
                tracing::debug!(?peer_id, "p2pool: dial failed: {error}");
            }
            SwarmEvent::ListenerError { error, .. } => {
                tracing::error!("p2pool: listener error: {error}");
            }
            SwarmEvent::Behaviour(event) => self.on_behaviour(event),
            _ => {}
        }
    }

    fn on_behaviour(&mut self, event: BehaviourEvent) {
        match event {
            BehaviourEvent::Identify(identify::Event::Received { peer_id, info, .. }) => {
                if info.protocol_version != self.names.identify {
                    tracing::warn!(
                        "p2pool: peer {peer_id} is on another share chain ({}); disconnecting",
                        info.protocol_version
                    );
                    let _ = self.swarm.disconnect_peer_id(peer_id);
                } else {
                    self.book.identified(&peer_id, info.agent_version);
                }
            }
            BehaviourEvent::Gossip(gossipsub::Event::Message {
                propagation_source,
                message_id,
                message,
            }) => self.on_gossip(propagation_source, message_id, message.data),
            BehaviourEvent::Sync(event) => self.on_sync(event),
            _ => {}
        }
    }

    fn on_gossip(&mut self, source: PeerId, id: gossipsub::MessageId, data: Vec<u8>) {
        let now = Instant::now();
        if !self.book.allow(&source, now) {
            // Not forwarded, not judged; no penalty: valid shares come fast at the easiest
            // target, and what was dropped is fetched when a child needs it.
            self.report(&id, &source, gossipsub::MessageAcceptance::Ignore);
            return;
        }
        if self.validating >= MAX_VALIDATING {
            self.report(&id, &source, gossipsub::MessageAcceptance::Ignore);
            return;
        }
        self.validating += 1;
        let (chain, back) = (self.chain.clone(), self.back_tx.clone());
        tokio::spawn(async move {
            let verdict = offer(&chain, vec![data]).await.and_then(|mut v| v.pop());
            let _ = back.send(Back::Gossip {
                id,
                source,
                verdict,
            });
        });
    }

    fn report(
        &mut self,
        id: &gossipsub::MessageId,
        source: &PeerId,
        acceptance: gossipsub::MessageAcceptance,
    ) {
        self.swarm
            .behaviour_mut()
            .gossip
            .report_message_validation_result(id, source, acceptance);
    }

    fn on_sync(&mut self, event: request_response::Event<SyncRequest, SyncResponse>) {
        use request_response::{Event, Message};
        match event {
            Event::Message {
                peer,
                message:
                    Message::Request {
                        request, channel, ..
                    },
                ..
            } => self.on_request(peer, request, channel),
            Event::Message {
                peer,
                message:
                    Message::Response {
                        request_id,
                        response,
                    },
                ..
            } => {
                let Some((_, purpose)) = self.requests.remove(&request_id) else {
                    return;
                };
                self.on_response(peer, purpose, response);
            }
            Event::OutboundFailure {
                peer,
                request_id,
                error,
                ..
            } => {
                if let Some((_, purpose)) = self.requests.remove(&request_id) {
                    if purpose == Purpose::Fetch {
                        self.fetches = self.fetches.saturating_sub(1);
                    }
                    tracing::debug!("p2pool: request to {peer} failed: {error}");
                    if let request_response::OutboundFailure::Io(e) = &error {
                        if e.kind() == std::io::ErrorKind::InvalidData {
                            self.penalize(peer, "an undecodable sync response");
                        }
                    }
                    // The round ends; the next connection or missing share starts another.
                    if purpose != Purpose::Fetch {
                        self.rounds.remove(&peer);
                    }
                }
            }
            Event::InboundFailure { peer, error, .. } => {
                if let request_response::InboundFailure::Io(e) = &error {
                    if e.kind() == std::io::ErrorKind::InvalidData {
                        self.penalize(peer, "an undecodable sync request");
                    }
                }
            }
            Event::ResponseSent { .. } => {}
        }
    }

    fn on_request(
        &mut self,
        peer: PeerId,
        request: SyncRequest,
        channel: ResponseChannel<SyncResponse>,
    ) {
        if !self.book.allow(&peer, Instant::now()) {
            self.penalize(peer, "requests over the rate limit");
            return; // The dropped channel fails the peer's request.
        }
        let (chain, back) = (self.chain.clone(), self.back_tx.clone());
        tokio::spawn(async move {
            let response = match request {
                SyncRequest::Locate(locator) => ask(&chain, |reply| ChainRequest::IdsAfter {
                    locator,
                    max: MAX_IDS,
                    reply,
                })
                .await
                .map(|(tip_height, ids)| SyncResponse::Ids { tip_height, ids }),
                SyncRequest::Get(ids) => ask(&chain, |reply| ChainRequest::Get { ids, reply })
                    .await
                    .map(SyncResponse::Shares),
            };
            if let Some(response) = response {
                let _ = back.send(Back::Respond { channel, response });
            }
        });
    }

    fn on_response(&mut self, peer: PeerId, purpose: Purpose, response: SyncResponse) {
        match (purpose, response) {
            (Purpose::Locate, SyncResponse::Ids { tip_height, ids }) => {
                self.book.tip_height(&peer, tip_height);
                let Some(round) = self.rounds.get_mut(&peer) else {
                    return;
                };
                round.peer_height = tip_height;
                // Done when the peer has nothing after the locator, or when a whole pass
                // (its ids and what waiting shares needed) kept nothing new.
                let fruitless = round.passes > 0 && round.kept_this_pass == 0;
                round.fruitless = if fruitless { round.fruitless + 1 } else { 0 };
                if ids.is_empty()
                    || (fruitless && (!round.last_full || round.fruitless > MAX_FRUITLESS_PASSES))
                {
                    self.finish_round(peer);
                    return;
                }
                round.passes += 1;
                round.kept_this_pass = 0;
                round.last_full = ids.len() >= MAX_IDS;
                round.last = ids.last().copied();
                round.queue.extend(ids);
                self.fill_gets(peer);
            }
            (Purpose::RoundGet | Purpose::Fetch, SyncResponse::Shares(shares)) => {
                if shares.len() > MAX_GET {
                    self.penalize(peer, "more shares than asked for");
                    return;
                }
                let (chain, back) = (self.chain.clone(), self.back_tx.clone());
                tokio::spawn(async move {
                    let verdicts = offer(&chain, shares).await.unwrap_or_default();
                    let _ = back.send(Back::Fetched {
                        peer,
                        verdicts,
                        purpose,
                    });
                });
            }
            (purpose, _) => {
                // The request is answered (wrongly): what waited on it must not wait on.
                if purpose == Purpose::Fetch {
                    self.fetches = self.fetches.saturating_sub(1);
                } else {
                    self.rounds.remove(&peer);
                }
                self.penalize(peer, "a sync response of the wrong kind");
            }
        }
    }

    fn on_back(&mut self, back: Back) {
        match back {
            Back::Gossip {
                id,
                source,
                verdict,
            } => {
                self.validating = self.validating.saturating_sub(1);
                use gossipsub::MessageAcceptance::{Accept, Ignore, Reject};
                match verdict {
                    Some(Verdict::Valid) => {
                        self.book.valid(&source, 1);
                        self.report(&id, &source, Accept);
                    }
                    Some(Verdict::Invalid(why)) => {
                        self.report(&id, &source, Reject);
                        self.ban_peer(source, format!("sent an invalid share: {why}"));
                    }
                    Some(Verdict::Missing(ids)) => {
                        self.report(&id, &source, Ignore);
                        self.fetch(source, ids);
                        self.start_round(source);
                    }
                    _ => self.report(&id, &source, Ignore),
                }
            }
            Back::Respond { channel, response } => {
                let _ = self
                    .swarm
                    .behaviour_mut()
                    .sync
                    .send_response(channel, response);
            }
            Back::Locator { peer, mut locator } => {
                let Some(round) = self.rounds.get(&peer) else {
                    return;
                };
                if let Some(last) = round.last {
                    // Where the last answer ended, first: on the peer's best chain.
                    locator.insert(0, last);
                    locator.truncate(crate::p2pool::chain::MAX_LOCATOR);
                }
                let id = self
                    .swarm
                    .behaviour_mut()
                    .sync
                    .send_request(&peer, SyncRequest::Locate(locator));
                self.requests.insert(id, (peer, Purpose::Locate));
            }
            Back::Wanted { peer, ids } => self.on_wanted(peer, ids),
            Back::Fetched {
                peer,
                verdicts,
                purpose,
            } => self.on_fetched(peer, verdicts, purpose),
        }
    }

    /// What waiting shares need, at the end of a round's pass: asked of the peer in the
    /// round (once each), then the round locates again.
    fn on_wanted(&mut self, peer: PeerId, ids: Vec<ShareId>) {
        let Some(round) = self.rounds.get_mut(&peer) else {
            self.fetch(peer, ids);
            return;
        };
        let new: Vec<ShareId> = ids
            .into_iter()
            .filter(|id| round.wanted_asked.insert(*id))
            .collect();
        if new.is_empty() {
            self.ask_locator(peer);
        } else {
            round.queue.extend(new);
            self.fill_gets(peer);
        }
    }

    fn on_fetched(&mut self, peer: PeerId, verdicts: Vec<Verdict>, purpose: Purpose) {
        if purpose == Purpose::Fetch {
            self.fetches = self.fetches.saturating_sub(1);
        }
        let kept = verdicts.iter().filter(|v| **v == Verdict::Valid).count() as u64;
        self.book.valid(&peer, kept);
        if kept < verdicts.len() as u64 {
            let first = verdicts.iter().find(|v| **v != Verdict::Valid);
            tracing::debug!(
                "p2pool: {} of {} shares from {peer} not kept now (first: {first:?})",
                verdicts.len() as u64 - kept,
                verdicts.len()
            );
        }
        if let Some(Verdict::Invalid(why)) =
            verdicts.iter().find(|v| matches!(v, Verdict::Invalid(_)))
        {
            self.ban_peer(peer, format!("sent an invalid share: {why}"));
            return;
        }
        if purpose == Purpose::Fetch {
            // What the fetched shares need in turn, from the same peer (a side branch is
            // fetched back one share a round trip, bounded by MAX_FETCHES in flight).
            let missing: Vec<ShareId> = verdicts
                .iter()
                .filter_map(|v| match v {
                    Verdict::Missing(ids) => Some(ids.iter().copied()),
                    _ => None,
                })
                .flatten()
                .collect();
            self.fetch(peer, missing);
            return;
        }
        let Some(round) = self.rounds.get_mut(&peer) else {
            return;
        };
        round.gets = round.gets.saturating_sub(1);
        round.fetched += verdicts.len() as u64;
        round.kept += kept;
        round.kept_this_pass += kept;
        if round.queue.is_empty() && round.gets == 0 {
            // This pass is done: fetch what waiting shares still need (uncles off the
            // peer's best chain), then ask again from the new tip.
            self.ask_wanted(peer);
        } else {
            self.fill_gets(peer);
        }
    }

    /// Asks `peer` for shares this node lacks (a share's parent or uncles), outside rounds.
    fn fetch(&mut self, peer: PeerId, ids: Vec<ShareId>) {
        if self.fetches >= MAX_FETCHES || ids.is_empty() {
            return;
        }
        self.fetches += 1;
        let ids = ids.into_iter().take(MAX_GET).collect();
        let id = self
            .swarm
            .behaviour_mut()
            .sync
            .send_request(&peer, SyncRequest::Get(ids));
        self.requests.insert(id, (peer, Purpose::Fetch));
    }

    fn start_round(&mut self, peer: PeerId) {
        if self.rounds.contains_key(&peer) || !self.book.is_connected(&peer) {
            return;
        }
        self.rounds.insert(
            peer,
            Round {
                queue: VecDeque::new(),
                gets: 0,
                fetched: 0,
                kept: 0,
                kept_this_pass: 0,
                passes: 0,
                last_full: false,
                fruitless: 0,
                last: None,
                wanted_asked: std::collections::HashSet::new(),
                peer_height: 0,
                started: Instant::now(),
            },
        );
        self.ask_locator(peer);
    }

    fn ask_locator(&mut self, peer: PeerId) {
        let (chain, back) = (self.chain.clone(), self.back_tx.clone());
        tokio::spawn(async move {
            if let Some(locator) = ask(&chain, ChainRequest::Locator).await {
                let _ = back.send(Back::Locator { peer, locator });
            }
        });
    }

    fn ask_wanted(&mut self, peer: PeerId) {
        let (chain, back) = (self.chain.clone(), self.back_tx.clone());
        tokio::spawn(async move {
            if let Some(ids) = ask(&chain, |reply| ChainRequest::Wanted(MAX_GET, reply)).await {
                let _ = back.send(Back::Wanted { peer, ids });
            }
        });
    }

    fn fill_gets(&mut self, peer: PeerId) {
        let Some(round) = self.rounds.get_mut(&peer) else {
            return;
        };
        let mut batches = Vec::new();
        while round.gets < GETS_IN_FLIGHT && !round.queue.is_empty() {
            let n = round.queue.len().min(MAX_GET);
            batches.push(round.queue.drain(..n).collect::<Vec<_>>());
            round.gets += 1;
        }
        for ids in batches {
            let id = self
                .swarm
                .behaviour_mut()
                .sync
                .send_request(&peer, SyncRequest::Get(ids));
            self.requests.insert(id, (peer, Purpose::RoundGet));
        }
    }

    fn finish_round(&mut self, peer: PeerId) {
        let Some(round) = self.rounds.remove(&peer) else {
            return;
        };
        if round.fetched > 0 {
            let secs = round.started.elapsed().as_secs_f64();
            tracing::info!(
                "p2pool: sync from {peer} done: {} shares fetched, {} kept, in {secs:.1} s; peer's tip at height {}",
                round.fetched,
                round.kept,
                round.peer_height
            );
        }
        if !self.synced {
            self.set_synced(format!(
                "caught up with peer {peer} (its tip at height {})",
                round.peer_height
            ));
        }
    }

    fn set_synced(&mut self, why: String) {
        self.synced = true;
        let height = self.chain_status.borrow().height;
        tracing::info!(
            "p2pool: synced at height {height}: {why}; jobs are built on the tip from now on"
        );
        let chain = self.chain.clone();
        tokio::spawn(async move {
            let _ = chain.send(ChainRequest::Synced).await;
        });
    }

    fn penalize(&mut self, peer: PeerId, why: &str) {
        if self.book.penalize(&peer, why, Instant::now()) {
            self.banned(peer, why);
        }
    }

    fn ban_peer(&mut self, peer: PeerId, reason: String) {
        if self.book.ban(&peer, reason.clone(), Instant::now()) {
            self.banned(peer, &reason);
        }
    }

    fn banned(&mut self, peer: PeerId, reason: &str) {
        tracing::warn!(
            "p2pool: banned peer {peer} for {} s: {reason}",
            self.ban.as_secs()
        );
        self.rounds.remove(&peer);
        let b = self.swarm.behaviour_mut();
        b.blocked.block_peer(peer);
        b.gossip.blacklist_peer(&peer);
    }

    fn dial_bootstrap(&mut self) {
        self.last_dial = Some(Instant::now());
        let to_dial: Vec<Multiaddr> = self
            .bootstrap
            .iter()
            .filter(|(_, id)| {
                id.is_none_or(|p| !self.book.is_connected(&p) && !self.book.is_banned(&p))
            })
            .map(|(a, _)| a.clone())
            .collect();
        for addr in to_dial {
            if let Err(e) = self.swarm.dial(addr.clone()) {
                tracing::debug!("p2pool: cannot dial {addr}: {e}");
            }
        }
    }

    fn on_tick(&mut self) {
        let now = Instant::now();
        for peer in self.book.lift_expired(now) {
            tracing::info!("p2pool: ban of peer {peer} lifted");
            let b = self.swarm.behaviour_mut();
            b.blocked.unblock_peer(peer);
            b.gossip.remove_blacklisted_peer(&peer);
        }
        if self
            .last_dial
            .is_none_or(|t| now.duration_since(t) >= REDIAL_EVERY)
        {
            self.dial_bootstrap();
        }
        if now.duration_since(self.last_resync) >= RESYNC_EVERY {
            self.last_resync = now;
            for peer in self.book.ids() {
                self.start_round(peer);
            }
        }
        if !self.synced && self.rounds.is_empty() && self.started.elapsed() >= SYNC_ALONE_AFTER {
            tracing::warn!(
                "p2pool: no peer answered within {} s",
                SYNC_ALONE_AFTER.as_secs()
            );
            self.set_synced(
                "mining on this node's own chain; it catches up when a peer connects".into(),
            );
        }
        if !self.rounds.is_empty()
            && now.duration_since(self.last_progress) >= Duration::from_secs(2)
        {
            self.last_progress = now;
            let height = self.chain_status.borrow().height;
            for (peer, r) in &self.rounds {
                let pct = (height.min(r.peer_height) * 100)
                    .checked_div(r.peer_height)
                    .unwrap_or(0);
                tracing::info!(
                    "p2pool: syncing from {peer}: height {height} of {} ({pct}%), {} shares fetched, {}/s",
                    r.peer_height,
                    r.fetched,
                    rate(r)
                );
            }
        }
        if self
            .last_status_log
            .is_none_or(|t| now.duration_since(t) >= STATUS_LOG_EVERY)
        {
            self.last_status_log = Some(now);
            let view = self.view();
            tracing::info!(
                "p2pool: {}",
                status_line(&self.chain_status.borrow(), Some(&view))
            );
        }
        self.write_status();
    }

    fn view(&self) -> NetStatus {
        let (peers, bans) = self.book.view(Instant::now());
        let mut syncing: Vec<SyncView> = self
            .rounds
            .iter()
            .map(|(p, r)| SyncView {
                peer: p.to_string(),
                fetched: r.fetched,
                kept: r.kept,
                peer_height: r.peer_height,
                rate_per_sec: rate(r),
            })
            .collect();
        syncing.sort_by(|a, b| a.peer.cmp(&b.peer));
        NetStatus {
            peer_id: self.swarm.local_peer_id().to_string(),
            listening: self.listening.iter().map(|a| a.to_string()).collect(),
            peers,
            bans,
            bans_total: self.book.bans_total(),
            synced: self.synced,
            syncing,
        }
    }

    /// Publishes the status and writes it (with the chain's) to the status file.
    fn write_status(&mut self) {
        let view = self.view();
        self.status.send_if_modified(|old| {
            if *old == view {
                false
            } else {
                *old = view.clone();
                true
            }
        });
        let chain = self.chain_status.borrow().clone();
        let doc = serde_json::json!({
            "network": view,
            "chain": chain,
        });
        if let Err(e) = write_atomic(&self.status_file, doc.to_string().as_bytes()) {
            tracing::debug!("p2pool: cannot write {}: {e}", self.status_file.display());
        }
    }
}

/// The share chain in one line, for status lines: tip, height, window, peers, sync, bans.
pub fn status_line(chain: &ChainStatus, net: Option<&NetStatus>) -> String {
    let tip = chain.tip.to_string();
    let mut line = format!(
        "share chain {}… height {} window {} shares {} payees",
        &tip[..tip.len().min(12)],
        chain.height,
        chain.window_shares,
        chain.window_payees
    );
    if let Some(net) = net {
        let sync = match net.syncing.first() {
            Some(s) => format!(
                "syncing {}/{} at {}/s",
                chain.height, s.peer_height, s.rate_per_sec
            ),
            None if net.synced => "synced".to_string(),
            None => "waiting for peers".to_string(),
        };
        line.push_str(&format!(
            " | {} peers, {sync}, {} bans",
            net.peers.len(),
            net.bans.len()
        ));
    }
    line
}

fn rate(r: &Round) -> u64 {
    let secs = r.started.elapsed().as_secs_f64();
    if secs > 0.0 {
        (r.fetched as f64 / secs) as u64
    } else {
        0
    }
}

/// Offers peers' shares to the chain; `None` when the chain's thread is gone.
async fn offer(chain: &mpsc::Sender<ChainRequest>, shares: Vec<Vec<u8>>) -> Option<Vec<Verdict>> {
    ask(chain, |reply| ChainRequest::FromPeer { shares, reply }).await
}

/// Sends the chain's thread the request `make` builds around a reply channel and waits for
/// the answer; `None` when the thread is gone.
async fn ask<T>(
    chain: &mpsc::Sender<ChainRequest>,
    make: impl FnOnce(oneshot::Sender<T>) -> ChainRequest,
) -> Option<T> {
    let (reply, rx) = oneshot::channel();
    chain.send(make(reply)).await.ok()?;
    rx.await.ok()
}

fn write_atomic(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension("json.tmp");
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path)
}

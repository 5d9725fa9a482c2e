//! The share chain's network on loopback, nodes in this process (each its own chain
//! thread, RocksDB store and libp2p swarm, as `stratumd` runs them):
//!
//! - sync: a node started late fetches `P2P_BENCH_SYNC_SHARES` shares (default 100,000)
//!   from a peer; the time until its tip is the peer's, and its resident memory growth per
//!   1,000 shares kept;
//! - propagation: a node with three peers keeps `P2P_BENCH_SHARES` new shares (default
//!   500), one at a time; the time from handing each to its chain until all three peers
//!   have it as their tip (p50, p99, max), and the bytes its sockets sent per share per
//!   peer (from the kernel's TCP counters, `ss -ti`: gossip, control and all framing).
//!
//! `cargo bench --bench p2p` (`-- --test` runs it small, as a smoke test).

#[path = "../tests/support/share_maker.rs"]
mod share_maker;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use share_maker::ShareMaker;
use stratumd::config::{NetSettings, P2poolSettings};
use stratumd::p2p::NetStatus;
use stratumd::p2pool::chain::Verdict;
use stratumd::p2pool::spec::ChainSpec;
use stratumd::p2pool::store::Store;
use stratumd::sharechain::{ChainRequest, ChainStatus, Offered, OpenChain};
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

/// regtest's rules (its easiest share target is a couple of hashes, so making 100,000
/// shares is not the bench) with a one-second share period.
fn spec() -> ChainSpec {
    ChainSpec {
        name: "bench-p2p".into(),
        share_period_secs: 1,
        asert_half_life_secs: 60,
        ..ChainSpec::preset("regtest").unwrap()
    }
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn block_bits() -> u32 {
    // Difficulty 0.01 in the headers.
    let diff1 =
        bitcoin::pow::Target::from_compact(bitcoin::CompactTarget::from_consensus(0x1d00_ffff));
    let t = ruint::aliases::U256::from_le_bytes(diff1.to_le_bytes())
        * ruint::aliases::U256::from(100u32);
    stratumd::p2pool::target::bits_of(t).0
}

/// Writes `n` shares into a store at `dir`, spaced to end before now.
fn seed(dir: &Path, n: u32) {
    std::fs::create_dir_all(dir).unwrap();
    let spec = spec();
    let mut store = Store::open(dir, &spec).unwrap();
    let mut chain = store.load(spec.clone()).unwrap();
    let period = ((now() - spec.genesis_time) / (u64::from(n) + 2)).clamp(1, 120);
    let start = now() - period * (u64::from(n) + 1);
    let mut maker = ShareMaker::custom(start as u32, period as u32, block_bits());
    for k in 0..n {
        let share = maker.next_on_tip(&mut chain, k % 50);
        assert_eq!(chain.offer(share, u64::MAX / 4), Verdict::Valid);
        if k % 10_000 == 9_999 {
            store.save(&mut chain, u64::MAX / 4).unwrap();
        }
    }
    store.save(&mut chain, u64::MAX / 4).unwrap();
}

/// A node in this process: its chain's queue and status, its network's status.
struct Node {
    queue: mpsc::Sender<ChainRequest>,
    chain: watch::Receiver<ChainStatus>,
    net: watch::Receiver<NetStatus>,
    addr: String,
    _dir: Option<tempfile::TempDir>,
}

async fn start_node(dir: tempfile::TempDir, peers: &[String], stop: &CancellationToken) -> Node {
    let settings = P2poolSettings {
        spec: spec(),
        store: dir.path().join("sharechain"),
        net: NetSettings {
            listen: "/ip4/127.0.0.1/tcp/0".parse().unwrap(),
            peers: peers.iter().map(|p| p.parse().unwrap()).collect(),
            max_peers: 16,
            ban: Duration::from_secs(60),
        },
    };
    let open = OpenChain::open(&settings).unwrap();
    let net = stratumd::p2p::prepare(&settings, open.chain().id(), dir.path().join("p2pool.json"))
        .unwrap();
    let synced = net.synced_at_start();
    let peer_id = net.peer_id();
    let (plan, _) = watch::channel(None);
    let (announce, announce_rx) = mpsc::channel(1024);
    let (queue, chain) = open.spawn(plan, Some(announce), synced).unwrap();
    let mut net = net.spawn(queue.clone(), chain.clone(), announce_rx, stop.clone());
    let listening = loop {
        if let Some(a) = net.borrow().listening.first() {
            break a.clone();
        }
        net.changed().await.unwrap();
    };
    Node {
        queue,
        chain,
        net,
        addr: format!("{listening}/p2p/{peer_id}"),
        _dir: Some(dir),
    }
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

async fn wait_height(
    rx: &mut watch::Receiver<ChainStatus>,
    height: u64,
    timeout: Duration,
) -> bool {
    tokio::time::timeout(timeout, async {
        while rx.borrow_and_update().height < height {
            if rx.changed().await.is_err() {
                return;
            }
        }
    })
    .await
    .is_ok()
}

async fn bench_sync(n: u32) {
    let stop = CancellationToken::new();
    let a_dir = tempfile::tempdir().unwrap();
    let t = Instant::now();
    seed(&a_dir.path().join("sharechain"), n);
    println!(
        "p2p sync: seeded {n} shares in {:.1} s (not timed below)",
        t.elapsed().as_secs_f64()
    );
    let a = start_node(a_dir, &[], &stop).await;
    let target = a.chain.borrow().height;
    let before = rss_kib();
    let started = Instant::now();
    let mut d = start_node(
        tempfile::tempdir().unwrap(),
        std::slice::from_ref(&a.addr),
        &stop,
    )
    .await;
    let ok = wait_height(&mut d.chain, target, Duration::from_secs(300)).await;
    let secs = started.elapsed().as_secs_f64();
    assert!(ok, "the late node did not reach height {target}");
    assert_eq!(d.chain.borrow().tip, a.chain.borrow().tip);
    let grown = rss_kib().saturating_sub(before);
    println!(
        "p2p sync: {n} shares from one peer on loopback in {secs:.2} s ({:.0} shares/s); resident memory +{} KiB, {:.0} KiB per 1,000 shares kept",
        f64::from(n) / secs,
        grown,
        grown as f64 / (f64::from(n) / 1000.0)
    );
    stop.cancel();
}

/// Bytes sent so far on sockets from local port `port` (the kernel's per-socket counter).
fn bytes_sent_from(port: u16) -> u64 {
    let out = std::process::Command::new("ss")
        .args([
            "-tinH",
            "state",
            "established",
            &format!("( sport = :{port} )"),
        ])
        .output();
    let Ok(out) = out else {
        return 0;
    };
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .filter_map(|w| w.strip_prefix("bytes_sent:"))
        .filter_map(|v| v.parse::<u64>().ok())
        .sum()
}

async fn bench_propagation(n: u32) {
    let stop = CancellationToken::new();
    let origin = start_node(tempfile::tempdir().unwrap(), &[], &stop).await;
    let mut peers = Vec::new();
    for _ in 0..3 {
        peers.push(
            start_node(
                tempfile::tempdir().unwrap(),
                std::slice::from_ref(&origin.addr),
                &stop,
            )
            .await,
        );
    }
    // Wait until the origin has its three peers and they are subscribed (a first share).
    let mut net = origin.net.clone();
    while net.borrow_and_update().peers.len() < 3 {
        net.changed().await.unwrap();
    }
    let port: u16 = origin
        .addr
        .split('/')
        .nth(4)
        .and_then(|p| p.parse().ok())
        .unwrap();
    // Shares made on a copy of the chain, in order, with the clock's time.
    let mut maker_chain = stratumd::p2pool::chain::Chain::new(spec());
    let mut maker = ShareMaker::custom(now() as u32, 0, block_bits());
    let in_flight = Arc::new(stratumd::share::found::InFlight::default());
    let mut latencies = Vec::new();
    let mut sent_before = 0;
    for k in 0..n + 20 {
        let share = maker.next_on_tip(&mut maker_chain, k % 7);
        assert_eq!(maker_chain.offer(share.clone(), now()), Verdict::Valid);
        let height = u64::from(k) + 1;
        if k == 20 {
            // The first 20 form the mesh and warm up; the rest are measured.
            sent_before = bytes_sent_from(port);
        }
        let t = Instant::now();
        let offered = Offered::new(share, "bench".into(), in_flight.clone());
        origin
            .queue
            .send(ChainRequest::Mined(Box::new(offered)))
            .await
            .unwrap();
        for p in &mut peers {
            assert!(
                wait_height(&mut p.chain, height, Duration::from_secs(10)).await,
                "share {k} did not reach a peer"
            );
        }
        if k >= 20 {
            latencies.push(t.elapsed());
        }
    }
    let sent = bytes_sent_from(port).saturating_sub(sent_before);
    latencies.sort();
    let at = |q: f64| latencies[((latencies.len() as f64 * q) as usize).min(latencies.len() - 1)];
    println!(
        "p2p propagation: {n} shares to 3 peers on loopback: p50 {:?}, p99 {:?}, max {:?}; {} bytes sent per share per peer (share wire form {} bytes)",
        at(0.5),
        at(0.99),
        latencies[latencies.len() - 1],
        sent / u64::from(n) / 3,
        maker_chain.encoded(&maker_chain.tip()).map_or(0, |b| b.len())
    );
    stop.cancel();
}

fn main() {
    let quick = std::env::args().any(|a| a == "--test");
    let var = |name: &str, default: u32| {
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let (sync_n, prop_n) = if quick {
        (500, 20)
    } else {
        (
            var("P2P_BENCH_SYNC_SHARES", 100_000),
            var("P2P_BENCH_SHARES", 500),
        )
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        bench_sync(sync_n).await;
        bench_propagation(prop_n).await;
    });
}

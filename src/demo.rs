//! `stratumd --demo`: simnet, the server and built-in CPU miners in one process, with a
//! compact status line every few seconds (in place on a terminal, [`crate::demo_console`]),
//! the dashboard's URL, and a summary at the end; the server's log goes to a file the demo
//! names unless `RUST_LOG` or `-l` keeps it on the console. The miners are the
//! stratum-miner CPU miner speaking stratum over loopback, so the demo drives the real path.
//! With `--p2pool` the server is in p2pool mode: the status line shows the share chain, and
//! the summary lists each found block's payouts as decoded from the block simnet holds.
//! With `--p2pool-nodes N` there are N p2pool nodes peered on loopback, miners on each, and
//! a block found through any node pays the miners of all.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bitcoin::hashes::{sha256, Hash};
use bitcoin::{Address, KnownHrp, WitnessProgram, WitnessVersion};
use stratum_miner::miner::{run_miner, MinerConfig, MinerStats};
use tokio_util::sync::CancellationToken;

use crate::app::{self, AppError};
use crate::config::{Config, Overrides, RawConfig, SimnetNode};
use crate::demo_console::Console;

/// Demo settings.
#[derive(Debug, Clone)]
pub struct DemoOptions {
    /// CPU miners (one thread each).
    pub miners: usize,
    /// Stop (exit 0) once this many blocks were accepted by simnet.
    pub blocks: Option<u64>,
    /// Stop once this long has passed since the miners started.
    pub seconds: Option<Duration>,
    /// Seconds between status lines.
    pub status_every: Duration,
    /// p2pool nodes (1: the one server); each gets `miners` CPU miners.
    pub nodes: usize,
    /// Redraw the status in place (stdout is a terminal the log does not write to).
    pub in_place: bool,
    /// Where the server's log goes, when not to the console (said at start).
    pub log_file: Option<std::path::PathBuf>,
}

/// What the demo did.
#[derive(Debug, Clone, Copy)]
pub struct DemoSummary {
    /// Accepted shares.
    pub accepted: u64,
    /// Rejected shares.
    pub rejected: u64,
    /// Blocks found by the miners.
    pub blocks_found: u64,
    /// Blocks simnet accepted.
    pub blocks_accepted: u64,
    /// simnet's tip height at the end.
    pub tip_height: u32,
    /// Wall time.
    pub elapsed: Duration,
}

/// A deterministic regtest P2WPKH address for demo miner `i` (nobody holds its key).
pub fn demo_address(i: usize) -> String {
    let digest = sha256::Hash::hash(format!("stratumd demo miner {i}").as_bytes());
    let program = WitnessProgram::new(WitnessVersion::V0, &digest.as_byte_array()[..20]);
    match program {
        Ok(p) => Address::from_witness_program(p, KnownHrp::Regtest).to_string(),
        Err(_) => String::new(),
    }
}

fn si(v: f64) -> String {
    let units = [("G", 1e9), ("M", 1e6), ("k", 1e3)];
    for (u, s) in units {
        if v >= s {
            return format!("{:.2}{u}", v / s);
        }
    }
    format!("{v:.0}")
}

/// The demo's settings when no config file is given: fractional difficulties for CPU
/// miners, files under `logs/demo`.
pub fn raw_config() -> RawConfig {
    RawConfig {
        mindiff: Some(0.00001),
        startdiff: Some(0.0002),
        logdir: Some("logs/demo".into()),
        // The dashboard, on any free loopback port (the demo prints its URL).
        api: Some("127.0.0.1:0".into()),
        update_interval: Some(10),
        btcsig: Some("/stratumd demo/".into()),
        ..RawConfig::default()
    }
}

/// What the demo puts over any config: solo mode (its miners are paid at their own
/// addresses), the in-process simnet at `simnet_difficulty`, and a loopback listener on
/// any free port.
pub fn overrides(base: Overrides, simnet_difficulty: f64) -> Overrides {
    Overrides {
        solo: true,
        simnet: Some(SimnetNode {
            difficulty: simnet_difficulty,
            transactions: 8,
        }),
        serverurl: Some(vec![std::net::SocketAddr::from(([127, 0, 0, 1], 0))]),
        // The share chain's network on loopback too, on any free port.
        p2pool_listen: base
            .p2pool_listen
            .clone()
            .or_else(|| base.p2pool.then(|| "127.0.0.1:0".to_string())),
        ..base
    }
}

/// Starts CPU miners on `server`, numbered from `first`; their stats.
fn start_miners(
    server: std::net::SocketAddr,
    first: usize,
    count: usize,
    stop: &CancellationToken,
) -> Vec<Arc<MinerStats>> {
    let mut out = Vec::new();
    for i in first..first + count {
        let stats = Arc::new(MinerStats::default());
        out.push(stats.clone());
        let cfg = MinerConfig {
            server,
            username: format!("{}.cpu{i}", demo_address(i)),
            password: "x".into(),
            user_agent: "stratumd-demo/0.1".into(),
            threads: 1,
            version_rolling: i % 2 == 0,
            suggest_difficulty: None,
        };
        let stop = stop.clone();
        tokio::spawn(async move {
            if let Err(e) = run_miner(cfg, stats, stop).await {
                tracing::warn!("demo miner {i} stopped: {e}");
            }
        });
    }
    out
}

/// One node's part of the status line.
fn node_status(running: &app::Running) -> String {
    running.share_chain.as_ref().map_or_else(String::new, |c| {
        let net = running.share_net.as_ref().map(|n| n.borrow().clone());
        crate::p2p::node::status_line(&c.borrow(), net.as_ref())
    })
}

/// Runs the demo until Ctrl-C or `blocks` accepted blocks, on a config made with
/// [`overrides`]: one server, or with `opts.nodes` above 1 that many p2pool nodes peered on
/// loopback (`crate::demo_nodes`), each with `opts.miners` CPU miners.
pub async fn run(config: Config, opts: DemoOptions) -> Result<DemoSummary, AppError> {
    let mut console = Console::new(opts.in_place);
    let running = app::start(config.clone()).await?;
    if let Some(addr) = running.api_addr {
        console.line(&format!("dashboard: http://{addr}/"));
    }
    if let Some(path) = &opts.log_file {
        console.line(&format!(
            "server log: {} (RUST_LOG=info or -l 6 shows it here instead)",
            path.display()
        ));
    }
    // A template of many transactions takes a while to build; the miners need it.
    // The subscription ends with the wait: a session counted in no delivery clock.
    let board = running.board.clone();
    console
        .wait("waiting for the first block template", async move {
            let _ = board.subscribe().jobs.wait_for(Option::is_some).await;
        })
        .await;
    let mut nodes = vec![running];
    if opts.nodes > 1 {
        match crate::demo_nodes::start_more(&nodes[0], &config, opts.nodes).await {
            Ok(more) => nodes.extend(more),
            Err(e) => {
                stop_nodes(nodes).await;
                return Err(e);
            }
        }
        let waited = Instant::now();
        let peered = console
            .wait(
                "peering the nodes and syncing their share chains",
                crate::demo_nodes::wait_peered(&nodes),
            )
            .await;
        if let Err(e) = peered {
            stop_nodes(nodes).await;
            return Err(e);
        }
        console.line(&format!(
            "{} nodes peered and synced in {:.1}s",
            nodes.len(),
            waited.elapsed().as_secs_f64()
        ));
    }
    let stop = CancellationToken::new();
    let mut miner_stats = Vec::new();
    for (k, node) in nodes.iter().enumerate() {
        let first = k * opts.miners;
        miner_stats.extend(start_miners(
            node.stratum_addrs[0],
            first,
            opts.miners,
            &stop,
        ));
        if nodes.len() > 1 {
            let addrs: Vec<String> = (first..first + opts.miners).map(demo_address).collect();
            console.line(&format!(
                "node {k}: stratum {}, miners {}",
                node.stratum_addrs[0],
                addrs.join(", ")
            ));
        }
    }
    let first_height = nodes[0].simnet.as_ref().map_or(0, |s| s.tip_height());
    let started = Instant::now();
    let mut ticker = tokio::time::interval(opts.status_every);
    ticker.tick().await;
    let mut last_hashes = 0u64;
    let mut last_tick = Instant::now();
    let tip = |r: &app::Running| r.simnet.as_ref().map_or(0, |s| s.tip_height());
    let accepted = |nodes: &[app::Running]| -> u64 {
        nodes
            .iter()
            .map(|n| n.stats.blocks_accepted.load(Ordering::Relaxed))
            .sum()
    };
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    loop {
        let done = opts.blocks.is_some_and(|n| accepted(&nodes) >= n)
            || opts.seconds.is_some_and(|d| started.elapsed() >= d);
        if done || nodes.iter().any(|n| n.shutdown.is_cancelled()) {
            break;
        }
        tokio::select! {
            _ = &mut ctrl_c => break,
            _ = ticker.tick() => {
                let hashes: u64 = miner_stats.iter().map(|m| m.hashes.load(Ordering::Relaxed)).sum();
                let rate = (hashes - last_hashes) as f64 / last_tick.elapsed().as_secs_f64();
                last_hashes = hashes;
                last_tick = Instant::now();
                let s = sum_stats(&nodes);
                let mut lines = vec![format!(
                    "[{:>5.0}s] miners {} | {}H/s | shares {} accepted {} rejected | blocks {} found {} accepted | tip {}",
                    started.elapsed().as_secs_f64(), s.authorized, si(rate), s.accepted, s.rejected,
                    s.blocks_found, s.blocks_accepted, tip(&nodes[0])
                )];
                // The log is in a file: its errors are at least counted here.
                let errors = crate::log_level::errors_logged();
                if opts.log_file.is_some() && errors > 0 {
                    lines[0].push_str(&format!(" | {errors} errors in the log"));
                }
                for (k, node) in nodes.iter().enumerate() {
                    let line = node_status(node);
                    if !line.is_empty() {
                        lines.push(format!("         node {k}: {line}"));
                    }
                }
                console.status(&lines);
            }
            _ = tokio::time::sleep(Duration::from_millis(100)) => {}
        }
    }
    stop.cancel();
    for node in &nodes {
        node.shutdown.cancel();
    }
    for node in &nodes {
        node.settle(Duration::from_secs(10)).await;
    }
    // The last status stays on screen, above the summary.
    let s = sum_stats(&nodes);
    let summary = DemoSummary {
        accepted: s.accepted,
        rejected: s.rejected,
        blocks_found: s.blocks_found,
        blocks_accepted: s.blocks_accepted,
        tip_height: tip(&nodes[0]),
        elapsed: started.elapsed(),
    };
    println!(
        "demo summary: {:.1}s, {} shares accepted, {} rejected, {} blocks found, {} accepted by simnet, tip height {}",
        summary.elapsed.as_secs_f64(), summary.accepted, summary.rejected,
        summary.blocks_found, summary.blocks_accepted, summary.tip_height
    );
    for (k, node) in nodes.iter().enumerate() {
        if let Some(chain) = &node.share_chain {
            let c = chain.borrow();
            println!(
                "share chain{}: tip {} at height {}, {} shares kept ({} uncles, {} orphans), this node's miners added {} ({} refused, {} stratum shares accepted), {} from peers",
                if nodes.len() > 1 { format!(" of node {k}") } else { String::new() },
                c.tip, c.height, c.shares, c.uncles, c.orphans, c.found, c.refused,
                node.stats.snapshot().accepted, c.from_peers
            );
        }
    }
    if nodes[0].share_chain.is_some() {
        if let Some(sim) = &nodes[0].simnet {
            for height in first_height + 1..=sim.tip_height() {
                if let Some(block) = sim.block_at(height) {
                    print_payouts(height, &block);
                }
            }
        }
    }
    stop_nodes(nodes).await;
    Ok(summary)
}

/// The nodes' counters added up.
fn sum_stats(nodes: &[app::Running]) -> crate::stats::StatsSnapshot {
    let mut total = crate::stats::StatsSnapshot::default();
    for n in nodes {
        let s = n.stats.snapshot();
        total.authorized += s.authorized;
        total.accepted += s.accepted;
        total.rejected += s.rejected;
        total.blocks_found += s.blocks_found;
        total.blocks_accepted += s.blocks_accepted;
    }
    total
}

/// Stops every node; the first last, with its simnet.
async fn stop_nodes(mut nodes: Vec<app::Running>) {
    for node in &nodes {
        node.shutdown.cancel();
    }
    if let Some(first) = nodes.first_mut() {
        if let Some(sim) = first.simnet.take() {
            sim.shutdown().await;
        }
    }
}

/// One found block's coinbase outputs, decoded from the block simnet holds.
fn print_payouts(height: u32, block: &bitcoin::Block) {
    let Some(coinbase) = block.txdata.first() else {
        return;
    };
    println!("block {height} {}:", block.block_hash());
    for out in &coinbase.output {
        let to = match Address::from_script(&out.script_pubkey, bitcoin::Network::Regtest) {
            Ok(a) => a.to_string(),
            Err(_) if out.script_pubkey.as_bytes().get(2..6) == Some(b"p2ps") => {
                "(share commitment)".into()
            }
            Err(_) if out.script_pubkey.is_op_return() => "(witness commitment)".into(),
            Err(_) => format!("script {}", out.script_pubkey.to_hex_string()),
        };
        if out.value.to_sat() > 0 || out.script_pubkey.is_op_return() {
            println!("  {:>14} sat  {to}", out.value.to_sat());
        }
    }
}

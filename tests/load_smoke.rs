//! Runs the `stratum-load` library against a real stratumd on simnet: each firmware
//! handshake with 50 connections at a difficulty every hash meets (500 shares/s for 2 s), and
//! the block fan-out measured from simnet's ZMQ announcement.

mod common;

use clap::Parser;
use common::{regtest_address, Server, ServerOptions};
use serde_json::json;
use std::time::Duration;
use stratum_tests::load::{self, config::LoadConfig, report::Report};

async fn start(simnet_difficulty: f64) -> Server {
    tokio::task::spawn_blocking(move || {
        Server::start(ServerOptions {
            config: json!({"mindiff": 1e-10, "startdiff": 1e-10, "maxdiff": 1e-10}),
            simnet_difficulty,
            ..ServerOptions::default()
        })
    })
    .await
    .unwrap()
}

async fn run(args: &[&str]) -> Report {
    // Runs of 2-3 s: the caps leave room for a loaded CI machine, and still prove the run
    // stops by itself.
    let mut argv = vec!["stratum-load", "--max-runtime", "30", "--quiet"];
    argv.extend_from_slice(args);
    let cfg = LoadConfig::parse_from(argv);
    let report = tokio::time::timeout(Duration::from_secs(40), load::run(cfg))
        .await
        .expect("load run stops by itself")
        .expect("load run");
    eprintln!("{}", report.summary());
    report
}

async fn shares_with(handshake: &str) {
    let server = start(1000.0).await;
    let target = server.stratum.to_string();
    let pid = server.pid().to_string();
    let user = regtest_address(7);
    let report = run(&[
        "--targets",
        &target,
        "--server-pid",
        &pid,
        "--connections",
        "50",
        "--ramp-per-sec",
        "500",
        "--source-ips",
        "4",
        "--handshake",
        handshake,
        "--user",
        &user,
        "--shares-per-sec",
        "500",
        "--mode",
        "mine",
        "--duration",
        "2",
    ])
    .await;
    assert_eq!(report.connections.authorized, 50, "{report:#?}");
    assert_eq!(report.connections.held_at_end, 50, "{report:#?}");
    assert!(report.shares.accepted > 0, "{report:#?}");
    assert_eq!(
        report.shares.rejected, 0,
        "{:?}",
        report.shares.reject_reasons
    );
    assert!(report.latency.count > 0);
    assert!(report.latency.p99_ms.is_some());
    assert!(!report.hit_max_runtime);
    let server = report.server.as_ref().expect("server figures from /proc");
    assert!(
        // /proc counts CPU in 10 ms ticks: a short run may show none.
        server
            .cpu_us_per_share
            .is_some_and(|us| us.is_finite() && us >= 0.0),
        "{server:?}"
    );
    let text = serde_json::to_string(&report).unwrap();
    assert!(text.contains("\"p99_ms\""));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn load_smoke_bitaxe() {
    shares_with("bitaxe").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn load_smoke_antminer() {
    shares_with("antminer").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn load_smoke_cgminer() {
    shares_with("cgminer").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fanout_is_measured_from_the_zmq_announcement() {
    // Blocks simnet grinds in well under a second; no shares, so none can solve a block.
    let server = start(0.0001).await;
    let target = server.stratum.to_string();
    let rpc = format!("http://{}", server.rpc_addr);
    let cookie = server.cookie.display().to_string();
    let user = regtest_address(7);
    let report = run(&[
        "--targets",
        &target,
        "--connections",
        "50",
        "--ramp-per-sec",
        "500",
        "--user",
        &user,
        "--shares-per-sec",
        "0",
        "--duration",
        "1",
        "--fanout-rpc",
        &rpc,
        "--fanout-cookie",
        &cookie,
        "--fanout-zmq",
        &server.zmq,
        "--fanout-blocks",
        "2",
    ])
    .await;
    assert_eq!(report.fanout.len(), 2, "{report:#?}");
    for block in &report.fanout {
        assert_eq!(block.error, None, "{report:#?}");
        assert_eq!(block.notified, 50, "every miner got each block's clean job");
        let (p99, last) = (
            block.from_zmq_p99_ms.unwrap(),
            block.from_zmq_max_ms.unwrap(),
        );
        assert!(p99 >= 0.0 && p99 <= last, "{block:?}");
    }
    assert_ne!(
        report.fanout[0].block, report.fanout[1].block,
        "two different blocks"
    );
}

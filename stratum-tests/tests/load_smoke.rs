//! Runs the `stratum-load` library against a real stratumd on simnet at a difficulty every
//! hash meets: 50 bitaxe-style connections, 500 shares/s for 2 s.

mod common;

use clap::Parser;
use common::{regtest_address, Server, ServerOptions};
use serde_json::json;
use stratum_tests::load::{self, config::LoadConfig};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn load_smoke_50_connections() {
    let server = tokio::task::spawn_blocking(|| {
        Server::start(ServerOptions {
            config: json!({"mindiff": 1e-10, "startdiff": 1e-10, "maxdiff": 1e-10}),
            ..ServerOptions::default()
        })
    })
    .await
    .unwrap();
    let target = server.stratum.to_string();
    let user = regtest_address(7);
    let cfg = LoadConfig::parse_from([
        "stratum-load",
        "--targets",
        &target,
        "--connections",
        "50",
        "--ramp-per-sec",
        "500",
        "--source-ips",
        "4",
        "--handshake",
        "bitaxe",
        "--user",
        &user,
        "--shares-per-sec",
        "500",
        "--mode",
        "mine",
        "--duration",
        "2",
        "--max-runtime",
        "12",
        "--quiet",
    ]);
    let report = tokio::time::timeout(std::time::Duration::from_secs(14), load::run(cfg))
        .await
        .expect("load run stops by itself")
        .expect("load run");
    eprintln!("{}", report.summary());
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
    let text = serde_json::to_string(&report).unwrap();
    assert!(text.contains("\"p99_ms\""));
}

//! Smoke test of the harness: the real binary starts on simnet and serves a miner.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{regtest_address, wait_until, Server, ServerOptions};
use stratum_miner::miner::{run_miner, MinerConfig, MinerStats};
use tokio_util::sync::CancellationToken;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_miner_gets_accepted_shares() {
    let server = Server::start(ServerOptions::default());
    let stats = Arc::new(MinerStats::default());
    let stop = CancellationToken::new();
    let cfg = MinerConfig {
        server: server.stratum,
        username: format!("{}.rig1", regtest_address(7)),
        password: "x".into(),
        user_agent: "e2e/1".into(),
        threads: 1,
        version_rolling: true,
        suggest_difficulty: None,
    };
    let task = tokio::spawn(run_miner(cfg, stats.clone(), stop.clone()));
    wait_until("3 accepted shares", Duration::from_secs(60), || {
        stats.snapshot().accepted >= 3
    })
    .await;
    assert_eq!(stats.snapshot().rejected, 0, "{:?}", stats.reject_reasons());
    stop.cancel();
    task.await.unwrap().unwrap();
}

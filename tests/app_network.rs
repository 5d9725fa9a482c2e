//! Start-up against a bitcoind on another chain than the config pins: the server stops
//! with a message naming the config key `network`, and builds no job.

use std::time::Duration;

use serde_json::json;
use stratumd::config::Config;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pinned_network_other_than_bitcoinds_stops_the_server() {
    let sim = simnet::start(simnet::SimnetConfig {
        auth: simnet::SimnetAuth::UserPass {
            user: "u".into(),
            password: "p".into(),
        },
        ..simnet::SimnetConfig::default()
    })
    .await
    .unwrap();
    let logdir = tempfile::tempdir().unwrap();
    // simnet is regtest; the config says testnet, and its address is a testnet one.
    let conf = json!({
        "btcd": [{"url": sim.rpc_addr.to_string(), "auth": "u", "pass": "p"}],
        "serverurl": "127.0.0.1:0",
        "logdir": logdir.path().display().to_string(),
        "network": "testnet",
        "btcaddress": "tb1qw508d6qejxtdg4y5r3zarvary0c5xw7kxpjzsx",
    });
    let running = stratumd::app::start(
        Config::parse(&conf.to_string(), &stratumd::config::Overrides::pool()).unwrap(),
    )
    .await
    .expect("the config itself is consistent");
    tokio::time::timeout(Duration::from_secs(30), running.shutdown.cancelled())
        .await
        .expect("the server stops once bitcoind's chain is known");
    let reason = running.fatal.get().expect("a fatal reason");
    assert!(reason.contains("`network`"), "{reason}");
    assert!(reason.contains("regtest"), "{reason}");
    assert!(running.board.latest().is_none(), "no job for another chain");
    sim.shutdown().await;
}

//! A bitcoind in initial block download gives no work and no crash; miners stay connected
//! and get work as soon as it is synced.

use std::time::Duration;

use serde_json::json;
use stratum_miner::client::StratumClient;
use stratumd::config::Config;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn miners_wait_through_initial_block_download() {
    let sim = simnet::start(simnet::SimnetConfig {
        auth: simnet::SimnetAuth::UserPass {
            user: "u".into(),
            password: "p".into(),
        },
        ..simnet::SimnetConfig::default()
    })
    .await
    .unwrap();
    sim.set_initial_block_download(true);
    let logdir = tempfile::tempdir().unwrap();
    let conf = json!({
        "btcd": [{"url": sim.rpc_addr.to_string(), "auth": "u", "pass": "p"}],
        "serverurl": "127.0.0.1:0",
        "logdir": logdir.path().display().to_string(),
        "mindiff": 0.0001, "startdiff": 0.0001,
        "network": "regtest",
    });
    let running = stratumd::app::start(
        Config::parse(&conf.to_string(), &stratumd::config::Overrides::solo()).unwrap(),
    )
    .await
    .unwrap();

    let mut c = StratumClient::connect(running.stratum_addrs[0])
        .await
        .unwrap();
    let id = c
        .request("mining.subscribe", json!(["ibd-test/1"]))
        .await
        .unwrap();
    c.wait_reply(id, Duration::from_secs(5)).await.unwrap();
    let addr = stratumd::demo::demo_address(3);
    let id = c
        .request("mining.authorize", json!([addr, "x"]))
        .await
        .unwrap();
    let reply = c.wait_reply(id, Duration::from_secs(5)).await.unwrap();
    assert_eq!(reply["result"], true, "{reply}");
    // While the node syncs there is no job: nothing arrives, the connection stays up.
    if let Ok(m) = c.next_message(Duration::from_millis(500)).await {
        panic!("unexpected message during IBD: {m}");
    }
    assert!(running.board.latest().is_none());

    sim.set_initial_block_download(false);
    let diff = c
        .wait_method("mining.set_difficulty", Duration::from_secs(15))
        .await
        .unwrap();
    assert_eq!(diff["params"][0], 0.0001);
    let notify = c
        .wait_method("mining.notify", Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(notify["params"][8], true, "first job is clean: {notify}");
    running.shutdown.cancel();
    sim.shutdown().await;
}

//! The bitcoind side in process, against simnet: JSON-RPC failover and error classes,
//! cookie auth, `submit_with_retry`'s outcomes (a reject string is a failure; transport
//! errors are retried), and the template source waiting for a bitcoind that appears late.

use std::net::SocketAddr;
use std::time::Duration;

use bitcoin::blockdata::block::{Header, Version};
use bitcoin::hashes::Hash;
use bitcoin::{
    absolute, transaction, Amount, Block, BlockHash, CompactTarget, OutPoint, ScriptBuf, Sequence,
    Transaction, TxIn, TxMerkleNode, TxOut, Witness,
};
use serde_json::{json, Value};
use simnet::{SimnetAuth, SimnetConfig, SimnetHandle};
use stratum_miner::client::{ClientError, StratumClient};
use stratumd::node::rpc::{NodeAuth, NodeEndpoint, NodeSet, RpcError};
use stratumd::node::submitter::{submit_with_retry, SubmitOutcome};

#[path = "support/fake_bitcoind.rs"]
mod fake_bitcoind;
use fake_bitcoind::fake_bitcoind;

/// Retry window for submits in tests that expect an answer.
const WINDOW: Duration = Duration::from_secs(30);

const USER: &str = "simnet";
const PASS: &str = "simnet";

/// A loopback port nothing listens on (bound, read, dropped).
fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

fn userpass(url: String) -> NodeEndpoint {
    NodeEndpoint {
        url,
        auth: NodeAuth::UserPass(USER.into(), PASS.into()),
    }
}

/// A loopback node that refuses connections: its port stays bound, so no test running in
/// parallel can take it, but nothing listens on it. Keep it alive while it is used.
struct DeadNode {
    _bound: tokio::net::TcpSocket,
    endpoint: NodeEndpoint,
}

fn dead_node() -> DeadNode {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind(SocketAddr::from(([127, 0, 0, 1], 0))).unwrap();
    let addr = socket.local_addr().unwrap();
    DeadNode {
        _bound: socket,
        endpoint: userpass(addr.to_string()),
    }
}

/// simnet with user/password auth on `rpc_bind`.
async fn start_simnet_at(rpc_bind: SocketAddr, difficulty: f64) -> SimnetHandle {
    simnet::start(SimnetConfig {
        rpc_bind,
        zmq_bind: "tcp://127.0.0.1:*".into(),
        difficulty,
        transactions_per_template: 2,
        auth: SimnetAuth::UserPass {
            user: USER.into(),
            password: PASS.into(),
        },
    })
    .await
    .expect("simnet starts")
}

async fn start_simnet(difficulty: f64) -> SimnetHandle {
    start_simnet_at(SocketAddr::from(([127, 0, 0, 1], 0)), difficulty).await
}

fn simnet_endpoint(sim: &SimnetHandle) -> NodeEndpoint {
    userpass(sim.rpc_addr.to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failover_skips_dead_nodes_but_not_node_errors() {
    let sim = start_simnet(1000.0).await;
    // A spy listener that must never be contacted: a node error ends the call.
    let spy = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let spy_url = spy.local_addr().unwrap().to_string();
    let refusing = dead_node();
    let dead = refusing.endpoint.clone();
    let nodes = NodeSet::new(vec![dead.clone(), simnet_endpoint(&sim), userpass(spy_url)]);
    assert_eq!(nodes.len(), 3);

    // The dead first node is skipped; simnet's JSON-RPC error comes back as is.
    match nodes
        .call("getblockhash", vec![json!(999_999)])
        .await
        .unwrap_err()
    {
        RpcError::Node { url, code, message } => {
            assert_eq!(code, -8, "{message}");
            assert_eq!(url, sim.rpc_addr.to_string());
        }
        other => panic!("expected a node error, got {other:?}"),
    }
    // The call is synchronous: had the third node been tried, its connection would be
    // waiting in the spy's backlog by now.
    let contacted = tokio::time::timeout(Duration::from_millis(300), spy.accept()).await;
    assert!(
        contacted.is_err(),
        "the node after the one that answered with an error was contacted"
    );

    let info = nodes
        .call("getblockchaininfo", vec![])
        .await
        .expect("failover to simnet");
    assert_eq!(info["chain"], "regtest");

    // Every node dead: a transport error naming one of them.
    let (a, b) = (dead_node(), dead_node());
    let all_dead = NodeSet::new(vec![a.endpoint.clone(), b.endpoint.clone()]);
    match all_dead.call("getblockchaininfo", vec![]).await {
        Err(RpcError::Transport { url, .. }) => assert!(url.starts_with("127.0.0.1:"), "{url}"),
        other => panic!("expected a transport error, got {other:?}"),
    }
    assert!(matches!(
        NodeSet::new(vec![]).call("getblockchaininfo", vec![]).await,
        Err(RpcError::NoNodes)
    ));
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cookie_auth_works_and_a_wrong_cookie_path_is_a_transport_error() {
    let dir = tempfile::tempdir().unwrap();
    let sim = simnet::start(SimnetConfig {
        auth: SimnetAuth::Cookie {
            dir: dir.path().join("node"),
        },
        ..SimnetConfig::default()
    })
    .await
    .unwrap();
    let cookie = sim.cookie_file.clone().expect("a cookie file");
    assert!(cookie.exists());
    let nodes = NodeSet::new(vec![NodeEndpoint {
        url: sim.rpc_addr.to_string(),
        auth: NodeAuth::Cookie(cookie),
    }]);
    let info = nodes.call("getblockchaininfo", vec![]).await.unwrap();
    assert_eq!(info["chain"], "regtest");

    let wrong = NodeSet::new(vec![NodeEndpoint {
        url: sim.rpc_addr.to_string(),
        auth: NodeAuth::Cookie(dir.path().join("no-such-dir").join(".cookie")),
    }]);
    match wrong.call("getblockchaininfo", vec![]).await {
        Err(RpcError::Transport { url, .. }) => assert_eq!(url, sim.rpc_addr.to_string()),
        other => panic!("expected a transport error, got {other:?}"),
    }
    sim.shutdown().await;
}

/// A block on simnet's current template whose header hash misses the target.
async fn block_missing_the_target(nodes: &NodeSet) -> String {
    let t = nodes.get_block_template(false).await.unwrap();
    let height = t["height"].as_u64().unwrap() as i64;
    let prev: BlockHash = t["previousblockhash"].as_str().unwrap().parse().unwrap();
    let bits = CompactTarget::from_unprefixed_hex(t["bits"].as_str().unwrap()).unwrap();
    let coinbase = Transaction {
        version: transaction::Version::ONE,
        lock_time: absolute::LockTime::ZERO,
        input: vec![TxIn {
            previous_output: OutPoint::null(),
            script_sig: ScriptBuf::builder()
                .push_int(height)
                .push_slice(b"node_rpc test")
                .into_script(),
            sequence: Sequence::MAX,
            witness: Witness::new(),
        }],
        output: vec![TxOut {
            value: Amount::from_sat(t["coinbasevalue"].as_u64().unwrap()),
            script_pubkey: ScriptBuf::new_op_return([0u8; 4]),
        }],
    };
    let mut block = Block {
        header: Header {
            version: Version::from_consensus(t["version"].as_i64().unwrap() as i32),
            prev_blockhash: prev,
            merkle_root: TxMerkleNode::all_zeros(),
            time: t["curtime"].as_u64().unwrap() as u32,
            bits,
            nonce: 0,
        },
        txdata: vec![coinbase],
    };
    block.header.merkle_root = block.compute_merkle_root().unwrap();
    let target = block.header.target();
    while block.header.validate_pow(target).is_ok() {
        block.header.nonce += 1;
    }
    bitcoin::consensus::encode::serialize_hex(&block)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn submit_outcomes_reject_strings_are_failures() {
    let sim = start_simnet(1000.0).await;
    let nodes = NodeSet::new(vec![simnet_endpoint(&sim)]);

    match submit_with_retry(&nodes, 0, "00ff", WINDOW).await {
        SubmitOutcome::Rejected(r) => assert!(r.contains("decode"), "{r}"),
        other => panic!("junk hex: {other:?}"),
    }

    let block = block_missing_the_target(&nodes).await;
    assert_eq!(
        submit_with_retry(&nodes, 0, &block, WINDOW).await,
        SubmitOutcome::Rejected("high-hash".into())
    );
    assert_eq!(sim.tip_height(), 0);
    assert_eq!(sim.blocks_accepted_by_submit(), 0);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn submit_retries_until_the_node_comes_up() {
    // A listener that hangs up on the first attempt, proving it failed; then simnet takes
    // the port and a retry must reach it.
    let gate = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = gate.local_addr().unwrap();
    let nodes = NodeSet::new(vec![userpass(addr.to_string())]);
    let submit = tokio::spawn(async move { submit_with_retry(&nodes, 0, "00ff", WINDOW).await });
    let (first, _) = tokio::time::timeout(Duration::from_secs(5), gate.accept())
        .await
        .expect("a first submit attempt")
        .unwrap();
    drop(first);
    drop(gate);
    let sim = start_simnet_at(addr, 1000.0).await;
    let outcome = tokio::time::timeout(Duration::from_secs(15), submit)
        .await
        .expect("submit_with_retry finishes")
        .unwrap();
    match outcome {
        SubmitOutcome::Rejected(r) => assert!(r.contains("decode"), "{r}"),
        other => panic!("expected simnet's reject after a retry, got {other:?}"),
    }
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn submit_to_a_dead_node_is_unreachable() {
    let dead = dead_node();
    let nodes = NodeSet::new(vec![dead.endpoint.clone()]);
    let started = std::time::Instant::now();
    // A 3 s window: attempts at 0, 0.1, 0.6 and 2.6 s; the next (5 s later) would pass it.
    let outcome = tokio::time::timeout(
        Duration::from_secs(15),
        submit_with_retry(&nodes, 0, "00ff", Duration::from_secs(3)),
    )
    .await
    .expect("bounded retries");
    assert!(
        matches!(outcome, SubmitOutcome::Unreachable(_)),
        "{outcome:?}"
    );
    let took = started.elapsed();
    // Not the 5 s wait that would follow: that attempt would end past the window.
    assert!(
        took >= Duration::from_millis(2_600) && took < Duration::from_secs(7),
        "{took:?}"
    );
}

fn is_notify(v: &Value) -> bool {
    v["method"] == "mining.notify"
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_source_waits_for_a_late_bitcoind_and_then_serves_work() {
    let logdir = tempfile::tempdir().unwrap();
    let port = free_port();
    let conf = json!({
        "btcd": [{"url": format!("127.0.0.1:{port}"), "auth": USER, "pass": PASS}],
        "serverurl": "127.0.0.1:0",
        "logdir": logdir.path().display().to_string(),
        "mindiff": 0.0001,
        "startdiff": 0.0001,
        "network": "regtest",
    });
    let config =
        stratumd::config::Config::parse(&conf.to_string(), &stratumd::config::Overrides::solo())
            .unwrap();
    let running = stratumd::app::start(config).await.unwrap();
    assert!(running.board.latest().is_none());

    let t = Duration::from_secs(10);
    let mut c = StratumClient::connect(running.stratum_addrs[0])
        .await
        .unwrap();
    let id = c
        .request("mining.subscribe", json!(["node_rpc/1"]))
        .await
        .unwrap();
    let sub = c.wait_reply(id, t).await.unwrap();
    assert!(sub["error"].is_null(), "{sub}");
    let user = format!("{}.w", stratumd::demo::demo_address(0));
    let id = c
        .request("mining.authorize", json!([user, "x"]))
        .await
        .unwrap();
    let auth = c.wait_reply(id, t).await.unwrap();
    assert_eq!(auth["result"], true, "{auth}");

    // No bitcoind: the connection stays open and no work arrives.
    match c
        .wait_for("a notify", Duration::from_millis(1500), is_notify)
        .await
    {
        Err(ClientError::Timeout(_)) => {}
        other => panic!("expected silence while bitcoind is down, got {other:?}"),
    }
    assert!(running.board.latest().is_none());
    assert!(running.fatal.get().is_none());

    let sim = start_simnet_at(SocketAddr::from(([127, 0, 0, 1], port)), 1000.0).await;
    let diff = c.wait_method("mining.set_difficulty", t).await.unwrap();
    assert_eq!(diff["params"][0], 0.0001);
    let notify = c.wait_for("a notify", t, is_notify).await.unwrap();
    assert_eq!(notify["params"][8], true, "{notify}");
    let job = running
        .board
        .latest()
        .expect("a job on the board")
        .job
        .clone();
    assert_eq!(job.template.height, 1);
    let prev_hex = notify["params"][1].as_str().unwrap().to_string();
    assert_eq!(prev_hex.len(), 64);

    running.shutdown.cancel();
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_block_is_offered_again_while_the_node_starts_up() {
    let sim = start_simnet(1000.0).await;
    let nodes = NodeSet::new(vec![simnet_endpoint(&sim)]);
    let block = block_missing_the_target(&nodes).await;
    // bitcoind answers -28 while it loads its block index: not a verdict on the block.
    sim.warm_up_for(2);
    assert_eq!(
        submit_with_retry(&nodes, 0, &block, WINDOW).await,
        SubmitOutcome::Rejected("high-hash".into()),
        "the block reached the node once it had started"
    );
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failover_skips_a_node_that_is_starting_up() {
    let starting = start_simnet(1000.0).await;
    let ready = start_simnet(1000.0).await;
    let nodes = NodeSet::new(vec![simnet_endpoint(&starting), simnet_endpoint(&ready)]);
    starting.warm_up_for(1000);
    let info = nodes
        .call("getblockchaininfo", vec![])
        .await
        .expect("the node that is up answers");
    assert_eq!(info["chain"], "regtest");
    // Once every node is starting, the caller gets the node's own error.
    ready.warm_up_for(1000);
    match nodes.call("getblockchaininfo", vec![]).await {
        Err(e @ RpcError::Node { code: -28, .. }) => assert!(e.is_node_unavailable()),
        other => panic!("expected -28, got {other:?}"),
    }
    starting.shutdown().await;
    ready.shutdown().await;
}

/// A bitcoind stand-in on mainnet: it answers `getblockchaininfo` with chain `main` and
/// every other method with `"from-main"`.
async fn mainnet_node() -> SocketAddr {
    fake_bitcoind(|req: Value| async move {
        if req["method"] == "getblockchaininfo" {
            json!({"chain": "main", "blocks": 1, "headers": 1, "initialblockdownload": false})
        } else {
            json!("from-main")
        }
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failover_never_reaches_a_node_on_another_chain() {
    let main = mainnet_node().await;
    let sim = start_simnet_at(SocketAddr::from(([127, 0, 0, 1], 0)), 1000.0).await;
    let regtest_tip: Value = NodeSet::new(vec![userpass(sim.rpc_addr.to_string())])
        .call("getbestblockhash", vec![])
        .await
        .unwrap();
    // Unpinned, the set takes whatever the first node says.
    let unpinned = NodeSet::new(vec![userpass(main.to_string())]);
    assert_eq!(
        unpinned.call("getbestblockhash", vec![]).await.unwrap(),
        "from-main"
    );
    // Pinned to regtest, the mainnet node is skipped for the regtest one (a fresh set each
    // time, so each call meets the mainnet node first).
    for _ in 0..3 {
        let nodes = NodeSet::new(vec![
            userpass(main.to_string()),
            userpass(sim.rpc_addr.to_string()),
        ]);
        nodes.pin_chain("regtest".into());
        let tip = nodes.call("getbestblockhash", vec![]).await.unwrap();
        assert_eq!(tip, regtest_tip);
    }
    // A node that is down beside one on another chain: the set reports the down one (it may
    // come back on the right chain), not the wrong chain.
    let dead = dead_node();
    let mixed = NodeSet::new(vec![dead.endpoint.clone(), userpass(main.to_string())]);
    mixed.pin_chain("regtest".into());
    assert!(matches!(
        mixed.call("getbestblockhash", vec![]).await,
        Err(RpcError::Transport { .. })
    ));
    // With only the mainnet node, nothing is answered.
    let only_main = NodeSet::new(vec![userpass(main.to_string())]);
    only_main.pin_chain("regtest".into());
    match only_main.call("getbestblockhash", vec![]).await {
        Err(RpcError::WrongChain {
            chain, expected, ..
        }) => {
            assert_eq!((chain.as_str(), expected.as_str()), ("main", "regtest"));
        }
        other => panic!("expected a wrong-chain refusal, got {other:?}"),
    }
    sim.shutdown().await;
}

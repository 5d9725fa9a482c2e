//! A found block survives `kill -9` (issue 13's "found blocks survive anything"): the real
//! binary's only bitcoind is a stand-in that forwards every call to simnet but holds
//! `submitblock` unanswered, so the block a scripted miner finds is archived and sent, and
//! no node has said anything when the process is killed with SIGKILL. Restarted in the same
//! directory, against simnet itself or against a simnet that is down at the restart and
//! comes back, the server resubmits the archived block: simnet accepts it (its tip is that
//! block) and the archive is marked accepted.

mod common;
#[path = "support/fake_bitcoind.rs"]
mod fake_bitcoind;

use std::path::Path;
use std::time::Duration;

use bitcoincore_rpc::RpcApi;
use common::scripted::solve_a_block;
use common::{regtest_address, wait_until, NodeRef, Server, ServerOptions};
use fake_bitcoind::fake_bitcoind;
use serde_json::{json, Value};

const T: Duration = Duration::from_secs(10);
/// simnet's block difficulty: a block in about a million hashes.
const BLOCK_DIFF: f64 = 0.0002;

/// The archived block files under `<logdir>/blocks/` with this suffix.
fn archived(dir: &Path, suffix: &str) -> Vec<String> {
    std::fs::read_dir(dir.join("logs/blocks"))
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().to_string())
                .filter(|n| n.ends_with(suffix) && !n.starts_with('.'))
                .collect()
        })
        .unwrap_or_default()
}

fn options(node: NodeRef) -> ServerOptions {
    ServerOptions {
        config: json!({ "mindiff": 0.00001, "startdiff": 0.00001 }),
        node: Some(node),
        ..ServerOptions::default()
    }
}

fn simnet() -> Server {
    Server::start(ServerOptions {
        simnet_difficulty: BLOCK_DIFF,
        ..ServerOptions::default()
    })
}

/// A server whose miner found a block that was archived and sent, killed with SIGKILL
/// before any bitcoind answered; with the archive's file name.
async fn found_and_killed(sim: &Server) -> (Server, String) {
    let forward_to = sim.node_ref();
    // Forwards everything to simnet, except that `submitblock` is never answered.
    let holding = fake_bitcoind(move |req: Value| {
        let to = forward_to.clone();
        async move {
            let method = req["method"].as_str().unwrap_or("").to_string();
            if method == "submitblock" {
                std::future::pending::<()>().await;
            }
            let params: Vec<Value> = req["params"].as_array().cloned().unwrap_or_default();
            tokio::task::spawn_blocking(move || {
                let client = bitcoincore_rpc::Client::new(
                    &format!("http://{}", to.rpc_addr),
                    bitcoincore_rpc::Auth::CookieFile(to.cookie.clone()),
                )
                .unwrap();
                client
                    .call::<Value>(&method, &params)
                    .unwrap_or(Value::Null)
            })
            .await
            .unwrap()
        }
    })
    .await;
    let mut server = Server::start(options(NodeRef {
        rpc_addr: holding,
        ..sim.node_ref()
    }));

    let user = format!("{}.lucky", regtest_address(23));
    let _miner = solve_a_block(server.stratum, "e2e-kill/1", &user, BLOCK_DIFF).await;
    // Archived (and sent to the holding node, which says nothing): now the kill.
    let dir = server.dir.path().to_path_buf();
    wait_until("the block's archive file", T, || {
        archived(&dir, ".hex").len() == 1
    })
    .await;
    let file = archived(&dir, ".hex").remove(0);
    server.kill();
    let count = tokio::task::block_in_place(|| sim.rpc().get_block_count().unwrap());
    assert_eq!(count, 0, "no bitcoind had the block before the kill");
    assert!(
        server
            .log
            .lock()
            .unwrap()
            .iter()
            .all(|l| !l.contains("block accepted by bitcoind")),
        "{}",
        server.log_tail()
    );
    (server, file)
}

/// The hash in an archive's name, `<height>-<hash>.hex`.
fn hash_of(file: &str) -> String {
    file.trim_end_matches(".hex")
        .split_once('-')
        .map(|(_, h)| h.to_string())
        .expect("<height>-<hash>.hex")
}

/// Waits for simnet to hold the block `file` archived, and for the archive to be marked.
async fn accepted_at_restart(sim: &Server, server: &Server, file: &str) {
    wait_until("simnet to accept the archived block", T, || {
        sim.rpc().get_block_count().unwrap() == 1
    })
    .await;
    let tip = tokio::task::block_in_place(|| sim.rpc().get_best_block_hash().unwrap());
    assert_eq!(tip.to_string(), hash_of(file));
    wait_until("the archive marked accepted", T, || {
        archived(server.dir.path(), ".hex.accepted") == vec![format!("{file}.accepted")]
    })
    .await;
    assert!(archived(server.dir.path(), ".hex").is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_block_found_just_before_kill_9_is_submitted_at_restart() {
    let sim = simnet();
    let (server, file) = found_and_killed(&sim).await;
    // Restarted on simnet itself: the archived block goes out at start.
    let server = server.restart(&options(sim.node_ref()));
    accepted_at_restart(&sim, &server, &file).await;
}

/// The same with the only bitcoind down when the server restarts (connections cut at
/// once, as a stopped bitcoind's port does) and back once the server has tried it a few
/// times: the block goes out when it is.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_block_archived_before_kill_9_waits_for_a_bitcoind_that_comes_back() {
    let sim = simnet();
    let (server, file) = found_and_killed(&sim).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap();
    let target = sim.rpc_addr;
    tokio::spawn(async move {
        let mut tries = 0;
        while let Ok((mut conn, _)) = listener.accept().await {
            tries += 1;
            if tries <= 3 {
                // Down: the connection is cut before a byte is read.
                drop(conn);
                continue;
            }
            tokio::spawn(async move {
                if let Ok(mut up) = tokio::net::TcpStream::connect(target).await {
                    let _ = tokio::io::copy_bidirectional(&mut conn, &mut up).await;
                }
            });
        }
    });
    let server = tokio::task::block_in_place(|| {
        server.restart(&options(NodeRef {
            rpc_addr: port,
            ..sim.node_ref()
        }))
    });
    assert!(
        server
            .log
            .lock()
            .unwrap()
            .iter()
            .any(|l| l.contains("unreachable")),
        "the node was down at start: {}",
        server.log_tail()
    );
    accepted_at_restart(&sim, &server, &file).await;
}

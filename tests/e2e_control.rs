//! The control socket of the real binary, spoken to as ckpool's `ckpmsg` does: ckpool's
//! `ping`, `loglevel`, `stats`, `reconnect` and `shutdown`, and our `setpayouts` and
//! `setdifficulty`, seen from a connected miner.

mod common;

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use bitcoin::{Address, ScriptBuf, Transaction};
use common::{regtest_address, wait_until, Server, ServerOptions};
use serde_json::{json, Value};
use stratum_miner::client::StratumClient;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixStream;

const T: Duration = Duration::from_secs(10);

/// One request as ckpool's `send_unix_msg`/`recv_unix_msg` frame it: a 4-byte
/// little-endian length and the bytes, the reply framed the same way.
async fn ckpmsg(path: &Path, msg: &str) -> String {
    let exchange = async {
        let mut s = UnixStream::connect(path).await?;
        s.write_all(&(msg.len() as u32).to_le_bytes()).await?;
        s.write_all(msg.as_bytes()).await?;
        s.shutdown().await?;
        let mut len = [0u8; 4];
        s.read_exact(&mut len).await?;
        let len = u32::from_le_bytes(len) as usize;
        assert!(len <= 1 << 20, "reply of {len} bytes");
        let mut buf = vec![0u8; len];
        s.read_exact(&mut buf).await?;
        Ok::<_, std::io::Error>(String::from_utf8_lossy(&buf).into_owned())
    };
    tokio::time::timeout(T, exchange)
        .await
        .unwrap_or_else(|_| panic!("no reply to {msg}"))
        .unwrap_or_else(|e| panic!("{msg}: {e}"))
}

async fn ckpjson(path: &Path, req: Value) -> Value {
    let reply = ckpmsg(path, &req.to_string()).await;
    serde_json::from_str(&reply).unwrap_or_else(|e| panic!("{req} → {reply}: {e}"))
}

fn script(address: &str) -> ScriptBuf {
    Address::from_str(address)
        .unwrap()
        .assume_checked()
        .script_pubkey()
}

/// A subscribed, authorized miner that can rebuild the coinbase of each notify.
struct Miner {
    c: StratumClient,
    extranonce1: Vec<u8>,
    extranonce2_len: usize,
}

impl Miner {
    async fn connect(server: &Server) -> Miner {
        let mut c = StratumClient::connect(server.stratum).await.unwrap();
        let id = c
            .request("mining.subscribe", json!(["e2e-control/1"]))
            .await
            .unwrap();
        let sub = c.wait_reply(id, T).await.unwrap();
        let extranonce1 = hex::decode(sub["result"][1].as_str().unwrap()).unwrap();
        let extranonce2_len = sub["result"][2].as_u64().unwrap() as usize;
        let id = c
            .request("mining.authorize", json!(["anyone.rig", "x"]))
            .await
            .unwrap();
        assert_eq!(c.wait_reply(id, T).await.unwrap()["result"], true);
        c.wait_method("mining.notify", T).await.unwrap();
        // The opening set_difficulty was queued while waiting for the notify.
        while c.queued() > 0 {
            c.next_message(T).await.unwrap();
        }
        Miner {
            c,
            extranonce1,
            extranonce2_len,
        }
    }

    /// The next message, which must be a `mining.notify`.
    async fn next_notify(&mut self) -> Value {
        let m = self.c.next_message(T).await.unwrap();
        assert_eq!(m["method"], "mining.notify", "{m}");
        m
    }

    /// The payout outputs (script, value) of a notify's coinbase: every output but the
    /// witness commitment.
    fn payouts(&self, notify: &Value) -> Vec<(ScriptBuf, u64)> {
        let p = &notify["params"];
        let mut raw = hex::decode(p[2].as_str().unwrap()).unwrap();
        raw.extend_from_slice(&self.extranonce1);
        raw.extend(std::iter::repeat_n(0u8, self.extranonce2_len));
        raw.extend(hex::decode(p[3].as_str().unwrap()).unwrap());
        let tx: Transaction = bitcoin::consensus::deserialize(&raw).unwrap();
        tx.output
            .iter()
            .filter(|o| !o.script_pubkey.is_op_return())
            .map(|o| (o.script_pubkey.clone(), o.value.to_sat()))
            .collect()
    }

    fn payout_scripts(&self, notify: &Value) -> Vec<ScriptBuf> {
        self.payouts(notify).into_iter().map(|(s, _)| s).collect()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn control_socket_end_to_end() {
    let sockdir = tempfile::tempdir().unwrap();
    let sockdir_path: PathBuf = sockdir.path().join("pool");
    let pool_address = regtest_address(9);
    let mut server = Server::start(ServerOptions {
        config: json!({
            "mindiff": 0.00001,
            "startdiff": 0.0001,
            "btcaddress": pool_address,
            "sockdir": sockdir_path.display().to_string(),
            // No timed refresh between a command and the job it causes.
            "update_interval": 3600,
        }),
        solo: false,
        // Easy enough for simnet's generatetoaddress to make a new block in about a second.
        simnet_difficulty: 0.0005,
        ..ServerOptions::default()
    });
    let listener = sockdir_path.join("listener");
    tokio::task::block_in_place(|| {
        assert!(
            server.wait_log("control socket listening on", T),
            "no control socket; log:\n{}",
            server.log.lock().unwrap().join("\n")
        )
    });

    // ckpool's commands, on ckpool's socket names.
    assert_eq!(ckpmsg(&listener, "ping").await, "pong");
    assert_eq!(
        ckpmsg(&sockdir_path.join("stratifier"), "ping").await,
        "pong"
    );
    assert_eq!(ckpmsg(&listener, "loglevel=7").await, "success");
    assert_eq!(ckpmsg(&listener, "loglevel=9").await, "Invalid");
    assert_eq!(ckpmsg(&listener, "loglevel=5").await, "success");
    assert_eq!(ckpmsg(&listener, "nonsense").await, "unknown");

    let mut miner = Miner::connect(&server).await;
    let stats: Value = serde_json::from_str(&ckpmsg(&listener, "stats").await).unwrap();
    // The one miner, connected and authorized (it has its first job), and nothing else.
    assert_eq!(stats["connections"], 1, "{stats}");
    assert_eq!(stats["authorized"], 1, "{stats}");
    assert_eq!(stats["blocks_found"], 0, "{stats}");

    // setpayouts: the next job pays exactly these scripts, in this order, by weight.
    let payees: Vec<String> = (1..=3).map(regtest_address).collect();
    let reply = ckpjson(
        &listener,
        json!({"method": "setpayouts", "params": [
            {"address": payees[0], "weight": 1},
            {"address": payees[1], "weight": 2},
            {"address": payees[2], "weight": 3},
        ]}),
    )
    .await;
    assert_eq!(reply, json!({"result": {"outputs": 3}, "error": null}));
    let expected: Vec<ScriptBuf> = payees.iter().map(|a| script(a)).collect();
    let notify = miner.next_notify().await;
    let paid = miner.payouts(&notify);
    assert_eq!(
        paid.iter().map(|(s, _)| s.clone()).collect::<Vec<_>>(),
        expected,
        "{notify}"
    );
    // Independent split of the node's coinbase value (no donation configured) by weights
    // 1:2:3: floor(total * w / 6) each, the rounding remainder to the first entry.
    let gbt = tokio::task::block_in_place(|| {
        server.call("getblocktemplate", &[json!({"rules": ["segwit"]})])
    });
    let total = gbt["coinbasevalue"].as_u64().expect("coinbasevalue");
    let mut want: Vec<u64> = [1u64, 2, 3].iter().map(|w| total * w / 6).collect();
    want[0] += total - want.iter().sum::<u64>();
    assert_eq!(
        paid.iter().map(|(_, v)| *v).collect::<Vec<_>>(),
        want,
        "{paid:?}"
    );

    // setdifficulty: the miner gets it at once (below the network's 0.0005), and no new job
    // is built for a session setting.
    let reply = ckpjson(
        &listener,
        json!({"method": "setdifficulty", "params": [0.0002]}),
    )
    .await;
    assert_eq!(
        reply,
        json!({"result": {"difficulty": 0.0002}, "error": null})
    );
    let m = miner.c.next_message(T).await.unwrap();
    assert_eq!(m["method"], "mining.set_difficulty", "{m}");
    assert_eq!(m["params"], json!([0.0002]), "{m}");

    // Invalid requests: an error reply, and nothing changes.
    let mainnet = "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4";
    for req in [
        json!({"method": "setpayouts", "params": [
            {"address": payees[0], "weight": 1}, {"address": "not-an-address", "weight": 1}]}),
        json!({"method": "setpayouts", "params": [{"address": mainnet, "weight": 1}]}),
        json!({"method": "setpayouts", "params": [{"address": payees[0], "weight": 0}]}),
        json!({"method": "setpayouts", "params": []}),
        json!({"method": "setdifficulty", "params": [-1]}),
    ] {
        let reply = ckpjson(&listener, req.clone()).await;
        assert_eq!(reply["result"], Value::Null, "{req} → {reply}");
        assert!(reply["error"].is_string(), "{req} → {reply}");
    }
    assert!(ckpmsg(&listener, "{\"method\": \"setpayouts\"")
        .await
        .contains("malformed"));
    // Back to vardiff: nothing is sent for it (the difficulty stays until vardiff moves
    // it), and the next job, on a new block, still pays the previous outputs.
    let reply = ckpjson(
        &listener,
        json!({"method": "setdifficulty", "params": [null]}),
    )
    .await;
    assert_eq!(reply["error"], Value::Null, "{reply}");
    tokio::task::block_in_place(|| {
        server.call("generatetoaddress", &[json!(1), json!(regtest_address(4))])
    });
    let notify = miner.next_notify().await;
    assert_eq!(notify["params"][8], true, "a new block's job: {notify}");
    assert_eq!(miner.payout_scripts(&notify), expected, "{notify}");

    // reconnect: every miner is asked to reconnect.
    assert_eq!(ckpmsg(&listener, "reconnect").await, "reconnecting");
    miner.c.wait_method("client.reconnect", T).await.unwrap();

    // shutdown: the server exits and removes its sockets.
    assert_eq!(ckpmsg(&listener, "shutdown").await, "exiting");
    wait_until("the server to exit", T, || !server.is_running()).await;
    for name in ["listener", "stratifier", "connector"] {
        assert!(
            !sockdir_path.join(name).exists(),
            "{name} removed at shutdown"
        );
    }
}

//! Hostile clients against the real `stratumd` binary: every offender gets an error reply or
//! is disconnected, and a well-behaved miner on the same server keeps getting accepted shares
//! throughout (checked after every attack).

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{regtest_address, wait_until, Server, ServerOptions};
use futures::StreamExt;
use serde_json::{json, Value};
use stratum_miner::client::StratumClient;
use stratum_miner::miner::{run_miner, MinerConfig, MinerError, MinerStats};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// How long any single reply may take.
const T: Duration = Duration::from_secs(10);
/// How long the good miner may take for two more accepted shares.
const SHARES_TIMEOUT: Duration = Duration::from_secs(20);
const MINDIFF: f64 = 0.00001;
/// maxdiff = startdiff keeps vardiff from slowing the good miner down during the test.
const DIFF: f64 = 0.0001;

fn options(extra: Value) -> ServerOptions {
    let mut config = json!({ "mindiff": MINDIFF, "startdiff": DIFF, "maxdiff": DIFF });
    if let (Some(c), Some(e)) = (config.as_object_mut(), extra.as_object()) {
        for (k, v) in e {
            c.insert(k.clone(), v.clone());
        }
    }
    ServerOptions {
        config,
        ..ServerOptions::default()
    }
}

/// The well-behaved miner running alongside the attacks.
struct GoodMiner {
    stats: Arc<MinerStats>,
    stop: CancellationToken,
    task: JoinHandle<Result<(), MinerError>>,
}

impl GoodMiner {
    fn start(server: SocketAddr, n: u8) -> GoodMiner {
        let stats = Arc::new(MinerStats::default());
        let stop = CancellationToken::new();
        let cfg = MinerConfig {
            server,
            username: format!("{}.good", regtest_address(n)),
            password: "x".into(),
            user_agent: "good-miner/1".into(),
            threads: 1,
            version_rolling: true,
            suggest_difficulty: None,
        };
        let task = tokio::spawn(run_miner(cfg, stats.clone(), stop.clone()));
        GoodMiner { stats, stop, task }
    }

    fn accepted(&self) -> u64 {
        self.stats.snapshot().accepted
    }

    /// Waits for two more accepted shares than `before`.
    async fn two_more(&self, after: &str, before: u64) {
        assert!(
            !self.task.is_finished(),
            "good miner stopped (after {after})"
        );
        let stats = self.stats.clone();
        wait_until(
            &format!("2 more accepted shares after {after} (had {before})"),
            SHARES_TIMEOUT,
            || stats.snapshot().accepted >= before + 2,
        )
        .await;
    }

    async fn finish(self) {
        let s = self.stats.snapshot();
        assert_eq!(s.rejected, 0, "{:?}", self.stats.reject_reasons());
        self.stop.cancel();
        self.task.await.unwrap().expect("good miner ran cleanly");
    }
}

/// Runs one attack and checks the good miner is still served afterwards.
async fn attack<F: std::future::Future<Output = ()>>(miner: &GoodMiner, name: &str, f: F) {
    let before = miner.accepted();
    let t = Instant::now();
    f.await;
    miner.two_more(name, before).await;
    eprintln!("{name}: ok in {:?}", t.elapsed());
}

/// A byte-level connection.
struct Raw {
    rd: BufReader<OwnedReadHalf>,
    wr: OwnedWriteHalf,
}

impl Raw {
    async fn connect(addr: SocketAddr) -> Raw {
        let s = TcpStream::connect(addr).await.expect("connect");
        let (rd, wr) = s.into_split();
        Raw {
            rd: BufReader::new(rd),
            wr,
        }
    }

    async fn write(&mut self, bytes: &[u8]) {
        self.wr.write_all(bytes).await.expect("write");
    }

    /// The next line as JSON; panics on EOF or timeout.
    async fn line(&mut self) -> Value {
        let mut buf = Vec::new();
        let n = tokio::time::timeout(T, self.rd.read_until(b'\n', &mut buf))
            .await
            .expect("a reply in time")
            .expect("read");
        assert!(n > 0, "connection closed while waiting for a reply");
        serde_json::from_slice(&buf).unwrap_or_else(|e| {
            panic!(
                "server sent non-JSON {e}: {:?}",
                String::from_utf8_lossy(&buf)
            )
        })
    }

    /// The next line must be a parse error (-32700) with id null.
    async fn parse_error(&mut self) {
        let v = self.line().await;
        assert!(v["id"].is_null(), "{v}");
        assert!(v["result"].is_null(), "{v}");
        assert_eq!(v["error"][0], -32700, "{v}");
    }

    /// A request on this connection must still be answered.
    async fn still_served(&mut self, id: u64) {
        let req = json!({"id": id, "method": "mining.subscribe", "params": ["raw/1"]});
        self.write(format!("{req}\n").as_bytes()).await;
        let v = self.line().await;
        assert_eq!(v["id"], id, "{v}");
        assert!(v["error"].is_null(), "{v}");
        assert!(v["result"].is_array(), "{v}");
    }

    /// The server must close the connection (EOF or reset) within `timeout` without
    /// sending anything more.
    async fn expect_closed(&mut self, timeout: Duration) {
        expect_closed(&mut self.rd, timeout).await;
    }
}

/// The server must close the connection (EOF or reset) within `timeout` without sending
/// anything more.
async fn expect_closed<R: AsyncRead + Unpin>(rd: &mut R, timeout: Duration) {
    let mut buf = [0u8; 4096];
    match tokio::time::timeout(timeout, rd.read(&mut buf)).await {
        Err(_) => panic!("connection not closed within {timeout:?}"),
        Ok(Ok(0)) | Ok(Err(_)) => {}
        Ok(Ok(n)) => panic!(
            "expected close, got {n} bytes: {:?}",
            String::from_utf8_lossy(&buf[..n])
        ),
    }
}

/// A subscribed and authorized client; returns it with its first job id.
async fn ready_client(addr: SocketAddr, n: u8) -> (StratumClient, String, String) {
    let user = format!("{}.h", regtest_address(n));
    let mut c = StratumClient::connect(addr).await.unwrap();
    let id = c
        .request(
            "mining.configure",
            json!([["version-rolling"], {"version-rolling.mask": "1fffe000"}]),
        )
        .await
        .unwrap();
    c.wait_reply(id, T).await.unwrap();
    let id = c.request("mining.subscribe", json!(["h/1"])).await.unwrap();
    assert!(c.wait_reply(id, T).await.unwrap()["error"].is_null());
    let id = c
        .request("mining.authorize", json!([user, "x"]))
        .await
        .unwrap();
    assert_eq!(c.wait_reply(id, T).await.unwrap()["result"], true);
    let notify = c.wait_method("mining.notify", T).await.unwrap();
    let job_id = notify["params"][0].as_str().unwrap().to_string();
    (c, user, job_id)
}

/// Sends a request that must get an error reply; returns (code, message).
async fn must_fail(c: &mut StratumClient, method: &str, params: Value) -> (i64, String) {
    let id = c.request(method, params.clone()).await.unwrap();
    let r = c.wait_reply(id, T).await.unwrap_or_else(|e| {
        panic!("{method} {params}: no reply ({e}); an offender must get an error")
    });
    let e = r["error"]
        .as_array()
        .unwrap_or_else(|| panic!("{method} {params}: expected an error, got {r}"));
    assert!(
        r["result"].is_null() || r["result"] == false,
        "{method} {params}: {r}"
    );
    (
        e[0].as_i64().unwrap_or_default(),
        e[1].as_str().unwrap_or_default().to_string(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_clients_never_starve_a_good_miner() {
    let mut server = Server::start(options(json!({})));
    let addr = server.stratum;
    let miner = GoodMiner::start(addr, 1);
    wait_until("first accepted shares", SHARES_TIMEOUT, || {
        miner.accepted() >= 2
    })
    .await;

    attack(&miner, "garbage lines", async {
        let mut c = Raw::connect(addr).await;
        c.write(b"hello world\n{not json\n\x00\x01\x02]]}}\n{\"id\":1,\"method\":5}\n")
            .await;
        for _ in 0..4 {
            c.parse_error().await;
        }
        c.still_served(9).await;
    })
    .await;

    attack(&miner, "invalid UTF-8", async {
        let mut c = Raw::connect(addr).await;
        c.write(b"\xff\xfe\xfd\xc3\x28\n").await;
        c.write(b"{\"id\":1,\"method\":\"mining.subscribe\",\"params\":[\"\xff\xc0\xaf\"]}\n")
            .await;
        c.parse_error().await;
        c.parse_error().await;
        c.still_served(2).await;
    })
    .await;

    attack(&miner, "1 MiB line without newline", async {
        let s = TcpStream::connect(addr).await.unwrap();
        let (mut rd, mut wr) = s.into_split();
        // The write fails once the server hangs up; that is the expected outcome.
        let writer = tokio::spawn(async move {
            let big = vec![b'a'; 1024 * 1024];
            let _ = wr.write_all(&big).await;
            wr
        });
        expect_closed(&mut rd, T).await;
        let _ = tokio::time::timeout(T, writer).await;
        Raw::connect(addr).await.still_served(1).await;
    })
    .await;

    attack(
        &miner,
        "over-long line with newline; 16 KiB line accepted",
        async {
            // Exactly 16 KiB (without the newline) is accepted…
            let mut c = Raw::connect(addr).await;
            let head = r#"{"id":1,"method":"mining.subscribe","params":[""#;
            let tail = r#""]}"#;
            let pad = "u".repeat(16 * 1024 - head.len() - tail.len());
            let line = format!("{head}{pad}{tail}");
            assert_eq!(line.len(), 16 * 1024);
            c.write(format!("{line}\n").as_bytes()).await;
            let v = c.line().await;
            assert_eq!(v["id"], 1, "{v}");
            assert!(v["result"].is_array(), "16 KiB line must be accepted: {v}");
            // …20 KiB is not: the connection is closed, nothing more is answered.
            let pad = "u".repeat(20 * 1024);
            c.write(format!("{head}{pad}{tail}\n").as_bytes()).await;
            c.expect_closed(T).await;
        },
    )
    .await;

    attack(&miner, "numbers out of range", async {
        let (mut c, user, job_id) = ready_client(addr, 2).await;
        // 1e400 does not fit an f64: a parse error (id null) or an error reply are fine.
        c.send_line(r#"{"id":100,"method":"mining.suggest_difficulty","params":[1e400]}"#)
            .await
            .unwrap();
        let r = c
            .wait_for("reply to 1e400", T, |v| {
                v.get("method").is_none_or(Value::is_null) && (v["id"] == 100 || v["id"].is_null())
            })
            .await
            .unwrap();
        assert!(r["error"].is_array(), "suggest_difficulty 1e400: {r}");
        for bad in [json!(-1), json!(0), json!("abc"), json!(-0.0), json!(null)] {
            must_fail(&mut c, "mining.suggest_difficulty", json!([bad])).await;
        }
        let submit = |ntime: &str, nonce: &str, bits: Option<&str>| {
            let mut p = json!([user, job_id, "0000000000000000", ntime, nonce]);
            if let Some(b) = bits {
                p.as_array_mut().unwrap().push(json!(b));
            }
            p
        };
        let (code, msg) = must_fail(
            &mut c,
            "mining.submit",
            submit("ffffffffff", "00000000", None),
        )
        .await;
        assert_eq!((code, msg.as_str()), (20, "Invalid ntime"));
        let (code, msg) = must_fail(
            &mut c,
            "mining.submit",
            submit("00000000", "zzzzzzzz", None),
        )
        .await;
        assert_eq!((code, msg.as_str()), (20, "Invalid nonce"));
        let (code, msg) = must_fail(
            &mut c,
            "mining.submit",
            submit("00000000", "00000000", Some("ffffffff")),
        )
        .await;
        assert_eq!((code, msg.as_str()), (20, "Invalid version mask"));
        let (code, msg) = must_fail(
            &mut c,
            "mining.submit",
            json!([user, job_id, "00".repeat(9), "00000000", "00000000"]),
        )
        .await;
        assert_eq!((code, msg.as_str()), (20, "Invalid nonce2 length"));
        // The difficulty never left the allowed range.
        for _ in 0..c.queued() {
            let m = c.next_message(T).await.unwrap();
            if m["method"] == "mining.set_difficulty" {
                let d = m["params"][0].as_f64().unwrap();
                assert!((MINDIFF..=DIFF).contains(&d), "difficulty {d}");
            }
        }
    })
    .await;

    attack(&miner, "wrong param types", async {
        let (mut c, user, job_id) = ready_client(addr, 3).await;
        let (code, msg) = must_fail(&mut c, "mining.submit", json!([1, 2, 3, 4, 5])).await;
        assert_eq!((code, msg.as_str()), (20, "No username"));
        let (code, msg) = must_fail(&mut c, "mining.submit", json!([user, job_id, 3, 4, 5])).await;
        assert_eq!((code, msg.as_str()), (20, "No nonce2"));
        let (code, msg) = must_fail(&mut c, "mining.submit", json!([user])).await;
        assert_eq!((code, msg.as_str()), (20, "Invalid array size"));
        must_fail(&mut c, "mining.submit", json!({"user": user})).await;
        must_fail(
            &mut c,
            "mining.authorize",
            json!({"user": user, "pass": "x"}),
        )
        .await;
        must_fail(&mut c, "mining.authorize", json!([{"user": user}, "x"])).await;
        must_fail(&mut c, "mining.configure", json!("version-rolling")).await;
        must_fail(&mut c, "mining.configure", json!(["version-rolling"])).await;
        must_fail(&mut c, "mining.suggest_difficulty", json!("0.5")).await;
        // Still a working session.
        let id = c
            .request("mining.extranonce.subscribe", json!([]))
            .await
            .unwrap();
        assert_eq!(c.wait_reply(id, T).await.unwrap()["result"], true);
    })
    .await;

    attack(&miner, "16 consecutive bad lines", async {
        // 15 bad lines, then a good one, resets the count…
        let mut c = Raw::connect(addr).await;
        c.write("junk\n".repeat(15).as_bytes()).await;
        for _ in 0..15 {
            c.parse_error().await;
        }
        c.still_served(1).await;
        // …16 in a row drops the connection after 16 error replies.
        c.write("junk\n".repeat(16).as_bytes()).await;
        for _ in 0..16 {
            c.parse_error().await;
        }
        c.expect_closed(T).await;
    })
    .await;

    // This process holds the 5,000 sockets itself (the server holds its side in its own).
    let limit = stratum_tests::load::limits::raise_nofile().expect("RLIMIT_NOFILE");
    assert!(
        limit >= 5_500,
        "open-file limit {limit} is too low for this test"
    );
    attack(&miner, "5,000 connections opened and dropped", async {
        let t = Instant::now();
        let conns: Vec<TcpStream> = tokio::time::timeout(
            Duration::from_secs(25),
            futures::stream::iter(0..5_000u32)
                .map(|i| async move {
                    let mut s = TcpStream::connect(addr).await?;
                    if i % 2 == 0 {
                        // Half of them also send a request whose reply they never read.
                        s.write_all(b"{\"id\":1,\"method\":\"mining.subscribe\",\"params\":[]}\n")
                            .await?;
                    }
                    Ok::<_, std::io::Error>(s)
                })
                .buffer_unordered(200)
                .map(|r| r.expect("connect"))
                .collect(),
        )
        .await
        .expect("5,000 connections within 25 s");
        assert_eq!(conns.len(), 5_000);
        eprintln!("5,000 connections opened in {:?}", t.elapsed());
        drop(conns);
    })
    .await;
    assert!(server.is_running(), "stratumd died");
    let mut c = StratumClient::connect(addr).await.unwrap();
    let id = c
        .request("mining.subscribe", json!(["fresh/1"]))
        .await
        .unwrap();
    let r = c.wait_reply(id, T).await.unwrap();
    assert!(
        r["result"].is_array(),
        "fresh subscribe after the flood: {r}"
    );

    miner.finish().await;
    assert!(server.is_running(), "stratumd died");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handshake_timeout_closes_idle_connections_only() {
    let server = Server::start(options(json!({ "handshake_timeout": 1 })));
    let addr = server.stratum;
    let miner = GoodMiner::start(addr, 4);
    wait_until("first accepted shares", SHARES_TIMEOUT, || {
        miner.accepted() >= 2
    })
    .await;
    attack(&miner, "idle and half-handshaken connections", async {
        let t = Instant::now();
        let mut idle = Raw::connect(addr).await;
        let mut sub_only = Raw::connect(addr).await;
        sub_only.still_served(1).await;
        let mut auth_only = Raw::connect(addr).await;
        let req = json!({"id": 1, "method": "mining.authorize",
                         "params": [format!("{}.x", regtest_address(5)), "x"]});
        auth_only.write(format!("{req}\n").as_bytes()).await;
        assert_eq!(auth_only.line().await["result"], true);
        idle.expect_closed(Duration::from_secs(5)).await;
        let closed_after = t.elapsed();
        assert!(
            closed_after >= Duration::from_millis(900),
            "closed too early: {closed_after:?}"
        );
        sub_only.expect_closed(Duration::from_secs(5)).await;
        auth_only.expect_closed(Duration::from_secs(5)).await;
        eprintln!("idle connection closed after {closed_after:?}");
    })
    .await;
    // The miner (handshaken long ago) is still served after its handshake deadline passed.
    miner.finish().await;
}

/// JSON arrays are not stratum requests: `[]` is garbage like any other and must get an error
/// (or a disconnect), and a positional array must not be executed as a request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_arrays_are_not_requests() {
    let server = Server::start(options(json!({})));
    let mut c = Raw::connect(server.stratum).await;
    c.write(b"[]\n").await;
    c.write(b"[1,\"mining.subscribe\",[\"array/1\"]]\n").await;
    c.write(b"{\"id\":3,\"method\":\"mining.extranonce.subscribe\",\"params\":[]}\n")
        .await;
    let mut replies = Vec::new();
    for _ in 0..3 {
        let v = c.line().await;
        let last = v["id"] == 3;
        replies.push(v);
        if last {
            break;
        }
    }
    let errors = replies.iter().filter(|v| v["error"].is_array()).count();
    assert!(
        errors == 2 && replies.len() == 3,
        "`[]` and `[1,\"mining.subscribe\",[..]]` must each get an error reply \
         (-32700 or -32600), got only: {replies:?}"
    );
}

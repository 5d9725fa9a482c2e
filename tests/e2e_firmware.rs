//! Firmware transcripts against the real `stratumd` binary: each test replays what one
//! firmware family sends (see the quirk table in PROTOCOL.md) and checks every reply in
//! order, with ids echoed exactly.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::{regtest_address, Server, ServerOptions};
use serde_json::{json, Value};
use stratum_miner::client::StratumClient;
use stratum_miner::hash::sha256d;
use stratum_miner::work::{self, Job};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;

/// How long any single reply or notification may take.
const T: Duration = Duration::from_secs(10);
/// `startdiff` of `ServerOptions::default()`.
const STARTDIFF: f64 = 0.0001;
/// The pool's default `version_mask`.
const POOL_MASK: &str = "1fffe000";

fn is_notification(v: &Value) -> bool {
    matches!(v.get("method"), Some(m) if !m.is_null())
}

fn close_to(a: f64, b: f64) -> bool {
    (a - b).abs() <= b.abs() * 1e-9
}

/// A scripted miner connection that reads everything in arrival order.
struct Transcript {
    c: StratumClient,
    /// Every notification seen so far, in order.
    notes: Vec<Value>,
}

impl Transcript {
    async fn connect(addr: SocketAddr) -> Transcript {
        Transcript {
            c: StratumClient::connect(addr).await.expect("connect"),
            notes: Vec::new(),
        }
    }

    async fn send(&mut self, v: Value) {
        self.c.send(&v).await.expect("send");
    }

    async fn next(&mut self) -> Value {
        match self.c.next_message(T).await {
            Ok(v) => v,
            Err(e) => panic!("waiting for the next message: {e}"),
        }
    }

    /// Reads in order until the next reply, which must carry exactly `id`. Returns the
    /// notifications that came before it and the reply.
    async fn reply(&mut self, id: &Value) -> (Vec<Value>, Value) {
        let mut before = Vec::new();
        for _ in 0..1000 {
            let v = self.next().await;
            if is_notification(&v) {
                self.notes.push(v.clone());
                before.push(v);
                continue;
            }
            assert_eq!(&v["id"], id, "replies out of order or id not echoed: {v}");
            return (before, v);
        }
        panic!("no reply to id {id} among 1000 notifications");
    }

    /// Sends a request and returns its result; it must succeed and nothing may arrive first.
    async fn call_ok(&mut self, id: Value, method: &str, params: Value) -> Value {
        self.send(json!({"id": id, "method": method, "params": params}))
            .await;
        let (before, r) = self.reply(&id).await;
        assert!(
            before.is_empty(),
            "{method}: unexpected {before:?} before reply"
        );
        ok_result(&r, method)
    }

    /// Sends a request that must fail with `code`; returns the error message.
    async fn call_err(&mut self, id: Value, method: &str, params: Value, code: i64) -> String {
        self.send(json!({"id": id, "method": method, "params": params}))
            .await;
        let (_, r) = self.reply(&id).await;
        err_message(&r, code)
    }

    /// The next message must be a notification named `method`; returns its params.
    async fn expect_note(&mut self, method: &str) -> Value {
        let v = self.next().await;
        assert_eq!(v["method"], method, "expected {method}, got {v}");
        self.notes.push(v.clone());
        v["params"].clone()
    }

    /// After subscribe and authorize: `mining.set_difficulty`, then a clean `mining.notify`.
    async fn expect_work(&mut self, diff: f64) -> Job {
        let d = self.expect_note("mining.set_difficulty").await;
        let got = d[0].as_f64().expect("numeric difficulty");
        assert!(close_to(got, diff), "difficulty {got}, expected {diff}");
        let n = self.expect_note("mining.notify").await;
        let job = Job::from_notify_params(&n).expect("valid notify");
        assert!(
            job.clean_jobs,
            "first notify must have clean_jobs=true: {n}"
        );
        job
    }

    /// A `mining.set_difficulty` to `diff` among `before` or as the next notification.
    async fn expect_difficulty(&mut self, before: &[Value], diff: f64) {
        let found = before
            .iter()
            .rfind(|v| v["method"] == "mining.set_difficulty");
        let params = match found {
            Some(v) => v["params"].clone(),
            None => self.expect_note("mining.set_difficulty").await,
        };
        let got = params[0].as_f64().expect("numeric difficulty");
        assert!(close_to(got, diff), "difficulty {got}, expected {diff}");
    }

    /// The most recent job received.
    fn latest_job(&self) -> Job {
        let n = self
            .notes
            .iter()
            .rev()
            .find(|v| v["method"] == "mining.notify")
            .expect("a mining.notify");
        Job::from_notify_params(&n["params"]).expect("valid notify")
    }
}

fn ok_result(r: &Value, what: &str) -> Value {
    assert!(r["error"].is_null(), "{what}: error reply {r}");
    assert!(r.get("result").is_some(), "{what}: no result in {r}");
    r["result"].clone()
}

fn err_message(r: &Value, code: i64) -> String {
    assert!(r["result"].is_null() || r["result"] == false, "{r}");
    let e = r["error"]
        .as_array()
        .unwrap_or_else(|| panic!("error array in {r}"));
    assert_eq!(e.len(), 3, "error must be [code, msg, null]: {r}");
    assert_eq!(e[0], code, "error code in {r}");
    assert!(e[2].is_null(), "{r}");
    e[1].as_str().expect("message").to_string()
}

/// Checks a subscribe result's shape; returns (session id, extranonce1 hex).
fn check_subscribe(result: &Value) -> (String, String) {
    let a = result.as_array().unwrap_or_else(|| panic!("{result}"));
    assert_eq!(a.len(), 3, "{result}");
    let en1 = a[1].as_str().expect("extranonce1 string").to_string();
    assert_eq!(en1.len(), 8, "4-byte extranonce1 by default: {result}");
    assert!(hex::decode(&en1).is_ok(), "{result}");
    assert_eq!(
        a[0],
        json!([["mining.set_difficulty", en1], ["mining.notify", en1]]),
        "subscription tuple: {result}"
    );
    assert_eq!(a[2], 8, "extranonce2 size: {result}");
    (en1.clone(), en1)
}

/// Finds a nonce whose share meets `diff` (bounded by the nonce space; ~diff*2^32 hashes).
fn mine_share(job: &Job, en1: &[u8], en2: &[u8], version: u32, diff: f64) -> u32 {
    let root = job.merkle_root(en1, en2);
    let top = work::target_top_u64(diff);
    for nonce in 0..=u32::MAX {
        let h = sha256d(&job.header_with_root(&root, job.ntime, nonce, version));
        if work::hash_top_u64(&h) <= top && work::meets(&h, diff) {
            return nonce;
        }
    }
    panic!("no share in the whole nonce space");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bitaxe_pipelined_handshake_pong_and_six_param_submit() {
    let server = Server::start(ServerOptions::default());
    let user = format!("{}.bitaxe", regtest_address(1));
    let mut m = Transcript::connect(server.stratum).await;
    // configure + subscribe + authorize in a single write, as AxeOS does.
    let batch = format!(
        "{}\n{}\n{}\n",
        json!({"id": 1, "method": "mining.configure",
               "params": [["version-rolling"], {"version-rolling.mask": "ffffffff"}]}),
        json!({"id": 2, "method": "mining.subscribe", "params": ["bitaxe/BM1370/v2.4.0"]}),
        json!({"id": 3, "method": "mining.authorize", "params": [user, "x"]}),
    );
    m.c.send_line(&batch).await.unwrap();

    let (before, r) = m.reply(&json!(1)).await;
    assert!(before.is_empty(), "{before:?}");
    let cfg = ok_result(&r, "configure");
    assert_eq!(cfg["version-rolling"], true, "{cfg}");
    assert_eq!(
        cfg["version-rolling.mask"], POOL_MASK,
        "ffffffff AND pool mask: {cfg}"
    );

    let (before, r) = m.reply(&json!(2)).await;
    assert!(
        before.is_empty(),
        "nothing unsolicited before subscribe reply: {before:?}"
    );
    let (_, en1) = check_subscribe(&ok_result(&r, "subscribe"));

    let (before, r) = m.reply(&json!(3)).await;
    assert!(before.is_empty(), "{before:?}");
    assert_eq!(ok_result(&r, "authorize"), true);
    m.expect_work(STARTDIFF).await;

    // suggest_difficulty after authorize: true, and the new difficulty follows.
    let sugg = 0.0002;
    m.send(json!({"id": 4, "method": "mining.suggest_difficulty", "params": [sugg]}))
        .await;
    let (before, r) = m.reply(&json!(4)).await;
    assert_eq!(ok_result(&r, "suggest_difficulty"), true);
    m.expect_difficulty(&before, sugg).await;

    // AxeOS answers mining.ping with a *request* named pong.
    let msg = m.call_err(json!(5), "pong", json!([]), -32601).await;
    assert_eq!(msg, "Method not found");

    // The session keeps working: a real share with 6 params (version bits inside the mask).
    let job = m.latest_job();
    let en1 = hex::decode(en1).unwrap();
    let en2 = [0u8, 0, 0, 0, 0, 0, 0, 1];
    let mask = work::parse_u32_hex(POOL_MASK).unwrap();
    let bits = 0x0000_4000u32;
    let version = work::rolled_version(job.version, mask, bits);
    let job2 = job.clone();
    let en1c = en1.clone();
    // Above both the old and the new difficulty, with a margin for rounding.
    let nonce =
        tokio::task::spawn_blocking(move || mine_share(&job2, &en1c, &en2, version, sugg * 1.01))
            .await
            .unwrap();
    let result = m
        .call_ok(
            json!(6),
            "mining.submit",
            json!([
                user,
                job.job_id,
                hex::encode(en2),
                work::u32_hex(job.ntime),
                work::u32_hex(nonce),
                work::u32_hex(bits)
            ]),
        )
        .await;
    assert_eq!(result, true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stock_antminer_waits_for_subscribe_reply() {
    let server = Server::start(ServerOptions::default());
    let user = format!("{}.s19", regtest_address(2));
    let mut m = Transcript::connect(server.stratum).await;
    let r = m
        .call_ok(
            json!(1),
            "mining.subscribe",
            json!(["GodMiner/2.0.0", null]),
        )
        .await;
    check_subscribe(&r);
    // Only now does the firmware send authorize.
    let r = m
        .call_ok(json!(2), "mining.authorize", json!([user, "123"]))
        .await;
    assert_eq!(r, true);
    m.expect_work(STARTDIFF).await;
    // With a "nicehash" URL stock firmware also sends extranonce.subscribe.
    m.send(json!({"id": 3, "method": "mining.extranonce.subscribe", "params": []}))
        .await;
    let (_, r) = m.reply(&json!(3)).await;
    assert_eq!(ok_result(&r, "extranonce.subscribe"), true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn luxos_nulls_in_subscribe_and_configure_after_subscribe() {
    let server = Server::start(ServerOptions::default());
    let user = format!("{}.lux", regtest_address(3));
    let mut m = Transcript::connect(server.stratum).await;
    let r = m
        .call_ok(
            json!(1),
            "mining.subscribe",
            json!(["Antminer S19k Pro|LUXminer 2024.1", null, "host:3333", null]),
        )
        .await;
    let (_, _en1) = check_subscribe(&r);
    // configure may come after subscribe; every requested extension gets an answer.
    let cfg = m
        .call_ok(
            json!(2),
            "mining.configure",
            json!([
                ["version-rolling", "minimum-difficulty", "subscribe-extranonce", "info", "foo"],
                {"version-rolling.mask": "ffffffff", "minimum-difficulty.value": 0.001}
            ]),
        )
        .await;
    assert_eq!(cfg["version-rolling"], true, "{cfg}");
    assert_eq!(cfg["version-rolling.mask"], POOL_MASK, "{cfg}");
    assert_eq!(cfg["minimum-difficulty"], true, "{cfg}");
    assert_eq!(cfg["subscribe-extranonce"], true, "{cfg}");
    assert_eq!(cfg["info"], true, "{cfg}");
    assert_eq!(cfg["foo"], false, "{cfg}");
    // Submit before authorize: unauthorized (24).
    let msg = m
        .call_err(
            json!(3),
            "mining.submit",
            json!([user, "0", "0000000000000000", "00000000", "00000000"]),
            24,
        )
        .await;
    assert!(!msg.is_empty());
    let r = m
        .call_ok(json!(4), "mining.authorize", json!([user, "x"]))
        .await;
    assert_eq!(r, true);
    // minimum-difficulty acts as a floor above startdiff.
    m.expect_work(0.001).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nerdminer_float_suggest_difficulty_before_and_after_authorize() {
    let server = Server::start(ServerOptions::default());
    let user = format!("{}.nerd", regtest_address(4));
    let mut m = Transcript::connect(server.stratum).await;
    let r = m
        .call_ok(json!(1), "mining.subscribe", json!(["NerdMinerV2/1.6.3"]))
        .await;
    check_subscribe(&r);
    // Before authorize: acknowledged, no difficulty sent yet (not ready).
    let r = m
        .call_ok(json!(2), "mining.suggest_difficulty", json!([0.0005]))
        .await;
    assert_eq!(r, true);
    let r = m
        .call_ok(json!(3), "mining.authorize", json!([user, "x"]))
        .await;
    assert_eq!(r, true);
    m.expect_work(0.0005).await;
    // Re-sent after authorize (NerdMiner does it every 30 s): each gets true and the
    // difficulty follows.
    for (id, d) in [(4, json!(0.0002)), (5, json!(0.0003))] {
        m.send(json!({"id": id, "method": "mining.suggest_difficulty", "params": [d]}))
            .await;
        let (before, r) = m.reply(&json!(id)).await;
        assert_eq!(ok_result(&r, "suggest_difficulty"), true);
        m.expect_difficulty(&before, d.as_f64().unwrap()).await;
    }
    // Integers and numeric strings are accepted too.
    for (id, d, want) in [(6, json!(1), 1.0), (7, json!("0.0004"), 0.0004)] {
        m.send(json!({"id": id, "method": "mining.suggest_difficulty", "params": [d]}))
            .await;
        let (before, r) = m.reply(&json!(id)).await;
        assert_eq!(ok_result(&r, "suggest_difficulty"), true);
        m.expect_difficulty(&before, want).await;
    }
}

/// A raw line connection that can half-close and observe the server's EOF, so that a test
/// knows the server has finished with the session.
struct Raw {
    rd: BufReader<OwnedReadHalf>,
    wr: OwnedWriteHalf,
}

impl Raw {
    async fn connect(addr: SocketAddr) -> Raw {
        let s = TcpStream::connect(addr).await.expect("connect");
        s.set_nodelay(true).unwrap();
        let (rd, wr) = s.into_split();
        Raw {
            rd: BufReader::new(rd),
            wr,
        }
    }

    async fn call(&mut self, id: u64, method: &str, params: Value) -> Value {
        let line = format!(
            "{}\n",
            json!({"id": id, "method": method, "params": params})
        );
        self.wr.write_all(line.as_bytes()).await.unwrap();
        self.reply(id, method).await
    }

    /// Reads until the next reply, which must be for `id`.
    async fn reply(&mut self, id: u64, method: &str) -> Value {
        for _ in 0..100 {
            let mut buf = String::new();
            let n = tokio::time::timeout(T, self.rd.read_line(&mut buf))
                .await
                .expect("reply in time")
                .expect("read");
            assert!(n > 0, "closed while waiting for reply to {method}");
            let v: Value = serde_json::from_str(&buf).expect("json");
            if !is_notification(&v) {
                assert_eq!(v["id"], id, "{v}");
                return v;
            }
        }
        panic!("no reply to {method}");
    }

    /// Half-closes, then waits until the server closes its side (its session is over).
    async fn close(mut self) {
        self.wr.shutdown().await.unwrap();
        let mut buf = Vec::new();
        let r = tokio::time::timeout(
            T,
            tokio::io::AsyncReadExt::read_to_end(&mut self.rd, &mut buf),
        )
        .await
        .expect("server closes after our EOF");
        // A reset also means the server is done with it.
        let _ = r;
    }
}

async fn subscribe_raw(c: &mut Raw, session_id: Value) -> String {
    let r = c
        .call(1, "mining.subscribe", json!(["cgminer/4.12.1", session_id]))
        .await;
    check_subscribe(&ok_result(&r, "subscribe")).1
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cgminer_resumes_only_authorized_sessions() {
    let server = Server::start(ServerOptions::default());
    let user = format!("{}.cg", regtest_address(5));

    // Session A subscribes and authorizes.
    let mut a = Raw::connect(server.stratum).await;
    let sid_a = subscribe_raw(&mut a, Value::Null).await;
    let r = a.call(2, "mining.authorize", json!([user, "x"])).await;
    assert_eq!(ok_result(&r, "authorize"), true);

    // While A is live its id cannot be taken over.
    let mut c = Raw::connect(server.stratum).await;
    let en1_c = subscribe_raw(&mut c, json!(sid_a)).await;
    assert_ne!(
        en1_c, sid_a,
        "a live session's extranonce1 was handed out twice"
    );

    // A disconnects; reconnecting with its id resumes its extranonce1.
    a.close().await;
    let mut b = Raw::connect(server.stratum).await;
    let en1_b = subscribe_raw(&mut b, json!(sid_a)).await;
    assert_eq!(en1_b, sid_a, "authorized session was not resumed");
    let r = b.call(2, "mining.authorize", json!([user, "x"])).await;
    assert_eq!(ok_result(&r, "authorize"), true);

    // C never authorized: its id gives a fresh extranonce1 once it is gone.
    c.close().await;
    let mut d = Raw::connect(server.stratum).await;
    let en1_d = subscribe_raw(&mut d, json!(en1_c)).await;
    assert_ne!(en1_d, en1_c, "never-authorized session was resumed");
    assert_ne!(en1_d, sid_a);

    // Garbage ids: fresh values, no error.
    let mut seen = vec![sid_a.clone(), en1_c.clone(), en1_d.clone()];
    for junk in [
        json!("garbage"),
        json!("zzzzzzzz"),
        json!(12345),
        json!({"x": 1}),
    ] {
        let mut e = Raw::connect(server.stratum).await;
        let en1 = subscribe_raw(&mut e, junk.clone()).await;
        assert!(!seen.contains(&en1), "{junk}: reused live/resumable {en1}");
        seen.push(en1);
    }
    drop(b);
    drop(d);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn string_and_null_ids_are_echoed_exactly() {
    let server = Server::start(ServerOptions::default());
    let user = format!("{}.ids", regtest_address(6));
    let mut m = Transcript::connect(server.stratum).await;
    let r = m
        .call_ok(json!("abc"), "mining.subscribe", json!(["ids/1"]))
        .await;
    check_subscribe(&r);
    m.send(json!({"id": null, "method": "mining.authorize", "params": [user, "x"]}))
        .await;
    let (before, r) = m.reply(&Value::Null).await;
    assert!(before.is_empty(), "{before:?}");
    assert_eq!(ok_result(&r, "authorize"), true);
    m.expect_work(STARTDIFF).await;
    for id in [
        json!("1"),
        json!(""),
        json!(0),
        json!(-7),
        json!(u64::MAX),
        json!("ünïcødé id"),
    ] {
        let r = m
            .call_ok(id.clone(), "mining.extranonce.subscribe", json!([]))
            .await;
        assert_eq!(r, true, "id {id}");
    }
    // Errors echo the id too.
    let msg = m
        .call_err(json!("err-1"), "mining.nope", json!([]), -32601)
        .await;
    assert_eq!(msg, "Method not found");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_methods_get_32601_and_the_session_continues() {
    let server = Server::start(ServerOptions::default());
    let user = format!("{}.unk", regtest_address(8));
    let mut m = Transcript::connect(server.stratum).await;
    let r = m
        .call_ok(json!(1), "mining.subscribe", json!(["whatsminer/v1.1"]))
        .await;
    check_subscribe(&r);
    let msg = m
        .call_err(json!(2), "mining.multi_version", json!([1]), -32601)
        .await;
    assert_eq!(msg, "Method not found");
    let r = m
        .call_ok(json!(3), "mining.authorize", json!([user, "x"]))
        .await;
    assert_eq!(r, true);
    let job = m.expect_work(STARTDIFF).await;
    m.send(json!({"id": 4, "method": "mining.get_transactions", "params": [job.job_id]}))
        .await;
    let (_, r) = m.reply(&json!(4)).await;
    assert_eq!(err_message(&r, -32601), "Method not found");
    // Still alive: a share on an unknown job is a proper reject, not a hang-up.
    m.send(json!({"id": 5, "method": "mining.submit",
                  "params": [user, "ffffffffffffffff", "0000000000000000", "00000000", "00000000"]}))
        .await;
    let (_, r) = m.reply(&json!(5)).await;
    assert_eq!(r["result"], false, "{r}");
    assert_eq!(r["reject-reason"], "Invalid JobID", "{r}");
    assert_eq!(r["error"][0], 21, "{r}");
    let r = m
        .call_ok(json!(6), "mining.extranonce.subscribe", json!([]))
        .await;
    assert_eq!(r, true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authorize_before_subscribe_works() {
    let server = Server::start(ServerOptions::default());
    let user = format!("{}.early", regtest_address(9));
    let mut m = Transcript::connect(server.stratum).await;
    // An invalid address is an error (24), not a silent accept.
    let msg = m
        .call_err(
            json!(1),
            "mining.authorize",
            json!(["not-an-address", "x"]),
            24,
        )
        .await;
    assert!(!msg.is_empty());
    // Usernames up to 191 characters; the password may carry d=<difficulty>.
    let pad = 191 - user.len() - 1;
    let user = format!("{user}.{}", "w".repeat(pad));
    assert_eq!(user.len(), 191);
    let r = m
        .call_ok(json!(2), "mining.authorize", json!([user, "x,d=0.0005"]))
        .await;
    assert_eq!(r, true);
    // Submit before subscribe: not subscribed (25).
    m.call_err(
        json!(3),
        "mining.submit",
        json!([user, "0", "0000000000000000", "00000000", "00000000"]),
        25,
    )
    .await;
    // Nothing unsolicited before the subscribe result, then difficulty and a clean job.
    let r = m
        .call_ok(json!(4), "mining.subscribe", json!(["early/1"]))
        .await;
    check_subscribe(&r);
    m.expect_work(0.0005).await;
    let r = m
        .call_ok(json!(5), "mining.extranonce.subscribe", json!([]))
        .await;
    assert_eq!(r, true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_split_over_several_segments_is_reassembled() {
    let server = Server::start(ServerOptions::default());
    let mut c = Raw::connect(server.stratum).await;
    let line = format!(
        "{}\n",
        json!({"id": 1, "method": "mining.subscribe", "params": ["split/1", null]})
    );
    let bytes = line.as_bytes();
    for chunk in [&bytes[..7], &bytes[7..30], &bytes[30..]] {
        c.wr.write_all(chunk).await.unwrap();
        c.wr.flush().await.unwrap();
    }
    let r = c.reply(1, "split subscribe").await;
    check_subscribe(&ok_result(&r, "subscribe"));
    let r = c
        .call(2, "mining.authorize", json!([regtest_address(10), "x"]))
        .await;
    assert_eq!(ok_result(&r, "authorize"), true);
    c.close().await;
}

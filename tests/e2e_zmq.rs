//! ckpool-solo's ZMQ output, end to end: the real binary on simnet publishes Workbase,
//! UserWorkbase and Share messages on `zmqpub`; a subscriber that knows nothing of stratumd
//! (as P2Poolv2 did with ckpool-solo) rebuilds every share's header from the Workbase and
//! the user's notify and gets the share's hash; and `zmqpub_mindiff` holds shares back.

mod common;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ckpool_compat::zmq::{Share, UserWorkbase, Workbase, ZmqMessage};
use common::{regtest_address, Server, ServerOptions};
use serde_json::{json, Value};
use stratum_miner::hash::{sha256d, sha256d_pair};
use stratum_miner::miner::{run_miner, MinerConfig, MinerStats};
use tokio_util::sync::CancellationToken;

/// How long any one wait may take.
const WAIT: Duration = Duration::from_secs(60);

/// The endpoint the server's publisher bound (asked for with a `*` port, so no other test
/// can take it first), from its start-up log line.
fn published_endpoint(server: &Server) -> String {
    const LINE: &str = "zmqpub publishing on ";
    assert!(server.wait_log(LINE, WAIT), "no zmqpub log line");
    let log = server.log.lock().unwrap();
    log.iter()
        .find_map(|l| l.split_once(LINE).map(|(_, e)| e.trim().to_string()))
        .expect("the bound endpoint")
}

/// A ZMQ SUB socket subscribed to everything, read on its own thread; each single-frame
/// message arrives on `rx` as text.
struct Subscriber {
    rx: mpsc::Receiver<String>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Subscriber {
    fn connect(endpoint: &str) -> Subscriber {
        let ctx = zmq::Context::new();
        let sock = ctx.socket(zmq::SUB).unwrap();
        sock.set_subscribe(b"").unwrap();
        sock.set_rcvtimeo(100).unwrap();
        sock.set_linger(0).unwrap();
        sock.connect(endpoint).unwrap();
        let (tx, rx) = mpsc::channel();
        let stop = Arc::new(AtomicBool::new(false));
        let stop2 = stop.clone();
        let thread = std::thread::spawn(move || {
            let _ctx = ctx;
            while !stop2.load(Ordering::Relaxed) {
                match sock.recv_multipart(0) {
                    Ok(frames) => {
                        assert_eq!(frames.len(), 1, "one frame per message, no topic");
                        let text = String::from_utf8(frames[0].clone()).expect("UTF-8 JSON");
                        if tx.send(text).is_err() {
                            return;
                        }
                    }
                    Err(zmq::Error::EAGAIN) => {}
                    Err(e) => panic!("zmq recv: {e}"),
                }
            }
        });
        Subscriber {
            rx,
            stop,
            thread: Some(thread),
        }
    }

    /// The next message, parsed, or `None` once `deadline` passes.
    fn next(&self, deadline: Instant) -> Option<(String, ZmqMessage)> {
        let left = deadline.saturating_duration_since(Instant::now());
        let text = self.rx.recv_timeout(left).ok()?;
        let msg: ZmqMessage = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("not a ckpool ZMQ message ({e}): {text}"));
        // Compact, one object with one key; `diff`/`sdiff` are reals even when whole.
        assert!(text.starts_with("{\"") && !text.ends_with('\n'), "{text}");
        let v: Value = serde_json::from_str(&text).unwrap();
        let obj = v.as_object().unwrap();
        assert_eq!(obj.len(), 1, "{text}");
        if let Some(share) = obj.get("Share") {
            assert!(share["diff"].is_f64() && share["sdiff"].is_f64(), "{text}");
            assert!(
                share["workinfoid"].is_u64() && share["clientid"].is_u64(),
                "{text}"
            );
        }
        if let Some(wb) = obj.get("Workbase") {
            assert!(
                wb["gbt"]["diff"].is_f64() && wb["workinfoid"].is_u64(),
                "{text}"
            );
        }
        Some((text, msg))
    }
}

impl Drop for Subscriber {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn start_server(zmq_endpoint: &str, mindiff: f64) -> Server {
    start_server_with(zmq_endpoint, mindiff, false)
}

/// The server in solo mode (`-B`), or in p2pool mode.
fn start_server_with(zmq_endpoint: &str, mindiff: f64, p2pool: bool) -> Server {
    Server::start(ServerOptions {
        config: json!({
            "mindiff": 0.00001,
            "startdiff": 0.0001,
            "update_interval": 1,
            "zmqpub": zmq_endpoint,
            "zmqpub_mindiff": mindiff,
            "api": "127.0.0.1:0",
        }),
        solo: !p2pool,
        args: if p2pool {
            vec![
                "--p2pool".into(),
                "--p2pool-listen".into(),
                "127.0.0.1:0".into(),
            ]
        } else {
            Vec::new()
        },
        ..ServerOptions::default()
    })
}

fn miner(
    server: &Server,
    stats: Arc<MinerStats>,
    stop: CancellationToken,
    n: u8,
) -> tokio::task::JoinHandle<Result<(), stratum_miner::miner::MinerError>> {
    let cfg = MinerConfig {
        server: server.stratum,
        username: format!("{}.rig{n}", regtest_address(n)),
        password: "x".into(),
        user_agent: "e2e-zmq/1".into(),
        threads: 1,
        // ckpool's Share message has no version field: mine the job's version.
        version_rolling: false,
        suggest_difficulty: None,
    };
    tokio::spawn(run_miner(cfg, stats, stop))
}

fn unhex(s: &str) -> Vec<u8> {
    hex::decode(s).unwrap_or_else(|e| panic!("{s}: {e}"))
}

fn u32_hex(s: &str) -> u32 {
    u32::from_str_radix(s, 16).unwrap_or_else(|e| panic!("{s}: {e}"))
}

/// Rebuilds the share's header from the Workbase and the user's notify alone and checks
/// its sha256d is the share's `hash`; `split`: also ckpool-solo's coinb2/coinb3 split
/// around the user's script (which p2pool mode's per-user commitment does not fit).
fn check_share(share: &Share, wb: &Workbase, uwb: &UserWorkbase, split: bool) {
    let p = &uwb.params;
    let s = |i: usize| p[i].as_str().unwrap_or_else(|| panic!("param {i}: {p:?}"));
    assert_eq!(p.len(), 9);
    assert_eq!(s(0), format!("{:016x}", wb.workinfoid), "notify job id");
    assert_eq!(s(2), wb.coinb1, "notify coinb1 is the workbase's");
    assert!(
        !split || (s(3).starts_with(&wb.coinb2) && s(3).ends_with(&wb.coinb3)),
        "coinb2/coinb3 split"
    );
    let branch: Vec<Value> = wb
        .merkles
        .iter()
        .map(|m| Value::from(m.merkle.clone()))
        .collect();
    assert_eq!(
        p[4],
        Value::Array(branch),
        "notify branch is the workbase's merkles"
    );
    assert_eq!(s(5), wb.gbt.bbversion);
    assert_eq!(s(6), wb.gbt.nbit);
    assert_eq!(
        wb.gbt.template["version"].as_u64(),
        Some(u64::from(u32_hex(&wb.gbt.bbversion)))
    );
    assert_eq!(wb.gbt.template["bits"].as_str(), Some(wb.gbt.nbit.as_str()));
    assert_eq!(
        wb.txns.len(),
        wb.gbt.template["transactions"]
            .as_array()
            .map_or(0, Vec::len)
    );

    let coinbase = [s(2), &share.enonce1, &share.nonce2, s(3)].concat();
    let mut root = sha256d(&unhex(&coinbase));
    for m in &wb.merkles {
        let step: [u8; 32] = unhex(&m.merkle).try_into().expect("32-byte merkle step");
        root = sha256d_pair(&root, &step);
    }
    let mut prev = unhex(
        wb.gbt.template["previousblockhash"]
            .as_str()
            .expect("previousblockhash"),
    );
    prev.reverse();
    let mut header = Vec::with_capacity(80);
    header.extend_from_slice(&u32_hex(&wb.gbt.bbversion).to_le_bytes());
    header.extend_from_slice(&prev);
    header.extend_from_slice(&root);
    header.extend_from_slice(&u32_hex(&share.ntime).to_le_bytes());
    header.extend_from_slice(&u32_hex(&wb.gbt.nbit).to_le_bytes());
    header.extend_from_slice(&u32_hex(&share.nonce).to_le_bytes());
    let mut hash = sha256d(&header);
    hash.reverse();
    assert_eq!(
        hex::encode(hash),
        share.hash,
        "share hash rebuilt from the ZMQ messages"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_share_rebuilds_from_workbase_and_user_notify() {
    shares_rebuild_from_the_stream(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_p2pool_mode_the_stream_is_the_same_and_every_share_rebuilds() {
    shares_rebuild_from_the_stream(true).await;
}

async fn shares_rebuild_from_the_stream(p2pool: bool) {
    let server = start_server_with("tcp://127.0.0.1:*", 0.0, p2pool);
    let endpoint = published_endpoint(&server);
    let sub = Subscriber::connect(&endpoint);
    let deadline = Instant::now() + WAIT;

    // Slow joiner: wait for the first Workbase this subscriber sees before mining.
    let mut workbases: HashMap<u64, Workbase> = HashMap::new();
    let mut users: HashMap<(u64, String), UserWorkbase> = HashMap::new();
    let mut shares: Vec<Share> = Vec::new();
    let mut order_ok = true;
    let mut received = 0u64;
    while workbases.is_empty() {
        let next = sub.next(deadline);
        received += u64::from(next.is_some());
        match next {
            Some((_, ZmqMessage::Workbase(wb))) => {
                workbases.insert(wb.workinfoid, wb);
            }
            Some(_) => {}
            None => panic!("no Workbase on {endpoint}"),
        }
    }

    let stats = Arc::new(MinerStats::default());
    let stop = CancellationToken::new();
    let task = miner(&server, stats.clone(), stop.clone(), 7);
    while shares.len() < 5 {
        let Some((text, msg)) = sub.next(deadline) else {
            panic!(
                "only {} Share messages; miner {:?}",
                shares.len(),
                stats.snapshot()
            );
        };
        received += 1;
        match msg {
            // A job can come twice, the same each time: the replay a subscription asks
            // for may overlap what the subscriber received as it joined.
            ZmqMessage::Workbase(wb) => {
                if let Some(old) = workbases.insert(wb.workinfoid, wb.clone()) {
                    assert_eq!(old, wb, "a Workbase again, different");
                }
            }
            ZmqMessage::UserWorkbase(u) => {
                order_ok &= workbases.contains_key(&u.workinfoid);
                let key = (u.workinfoid, regtest_address(7));
                if let Some(old) = users.insert(key, u.clone()) {
                    assert_eq!(old, u, "a UserWorkbase again, different: {text}");
                }
            }
            ZmqMessage::Share(s) => {
                order_ok &= users.contains_key(&(s.workinfoid, s.username.clone()));
                shares.push(s);
            }
        }
    }
    stop.cancel();
    task.await.unwrap().unwrap();
    assert!(
        order_ok,
        "a UserWorkbase before its Workbase or a Share before its UserWorkbase"
    );
    // /metrics counts at least every message this subscriber got (others went out before
    // it joined, or after its last read), and none refused.
    let metrics = common::http::get(server.api_addr(), "/metrics").body;
    let value = |name: &str| -> u64 {
        metrics
            .lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
            .unwrap_or_else(|| panic!("no {name} in {metrics}"))
    };
    let published = value("stratumd_zmq_messages_published_total");
    assert!(published >= received, "{published} < {received}");
    assert_eq!(value("stratumd_zmq_messages_dropped_total"), 0);

    let addr = regtest_address(7);
    for share in &shares {
        assert!(share.result);
        assert_eq!(share.errn, 0);
        assert_eq!(share.username, addr);
        assert_eq!(share.workername, format!("{addr}.rig7"));
        assert_eq!(share.agent, "e2e-zmq/1");
        assert_eq!(share.address, "127.0.0.1");
        // ckpool prints the listener as configured (the harness's serverurl).
        assert_eq!(share.createinet, "127.0.0.1:0");
        assert_eq!(
            (share.createby.as_str(), share.createcode.as_str()),
            ("code", "parse_submit")
        );
        assert!(share.sdiff >= share.diff * 0.999, "{share:?}");
        let (secs, nanos) = share.createdate.split_once(',').expect("secs,nsecs");
        assert!(
            secs.parse::<u64>().is_ok() && nanos.parse::<u32>().is_ok_and(|n| n < 1_000_000_000)
        );
        let wb = workbases
            .get(&share.workinfoid)
            .expect("Workbase for the share");
        let uwb = users
            .get(&(share.workinfoid, share.username.clone()))
            .expect("UserWorkbase for the share");
        check_share(share, wb, uwb, !p2pool);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shares_below_zmqpub_mindiff_are_not_published() {
    let server = start_server("tcp://127.0.0.1:*", 1e12);
    let endpoint = published_endpoint(&server);
    let sub = Subscriber::connect(&endpoint);
    let deadline = Instant::now() + WAIT;
    loop {
        match sub.next(deadline) {
            Some((_, ZmqMessage::Workbase(_))) => break,
            Some(_) => {}
            None => panic!("no Workbase on {endpoint}"),
        }
    }
    let stats = Arc::new(MinerStats::default());
    let stop = CancellationToken::new();
    let task = miner(&server, stats.clone(), stop.clone(), 8);
    let mut workbases = 0;
    // Read until the miner has 3 accepted shares, then a bounded while more: none of them
    // may come out as a Share.
    let mut after = None;
    loop {
        if after.is_none() && stats.snapshot().accepted >= 3 {
            after = Some(Instant::now() + Duration::from_secs(2));
        }
        let until = after
            .unwrap_or(Instant::now() + Duration::from_millis(200))
            .min(deadline);
        match sub.next(until) {
            Some((text, ZmqMessage::Share(_))) => panic!("Share below zmqpub_mindiff: {text}"),
            Some((_, ZmqMessage::Workbase(_))) => workbases += 1,
            Some(_) => {}
            None if after.is_some_and(|a| Instant::now() >= a) => break,
            None => assert!(
                Instant::now() < deadline,
                "miner got no accepted shares: {:?}",
                stats.snapshot()
            ),
        }
    }
    stop.cancel();
    task.await.unwrap().unwrap();
    assert!(stats.snapshot().accepted >= 3);
    assert!(
        workbases >= 1,
        "the subscriber kept receiving while shares were held back"
    );
}

/// A subscriber that connects mid-job (here: after a first subscriber has seen shares on
/// the job) is sent that job's Workbase and UserWorkbase at once, so none of its shares is
/// orphaned, as P2Poolv2's "Missing workbase" check would call them with ckpool-solo. The
/// same again after it disconnects and reconnects. No new job comes meanwhile
/// (`update_interval` 600 s) unless a block is found, so the replay is all it gets.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscriber_joining_mid_job_gets_the_jobs_workbases_at_once() {
    let server = Server::start(ServerOptions {
        config: json!({
            "mindiff": 0.00001,
            "startdiff": 0.0001,
            "update_interval": 600,
            "zmqpub": "tcp://127.0.0.1:*",
            "api": "127.0.0.1:0",
        }),
        solo: true,
        ..ServerOptions::default()
    });
    let endpoint = published_endpoint(&server);
    let first = Subscriber::connect(&endpoint);
    let deadline = Instant::now() + WAIT;
    let stats = Arc::new(MinerStats::default());
    let stop = CancellationToken::new();
    let task = miner(&server, stats.clone(), stop.clone(), 9);
    // The first subscriber sees a share: its job and the miner's notify went out before
    // the late one joins.
    loop {
        match first.next(deadline) {
            Some((_, ZmqMessage::Share(_))) => break,
            Some(_) => {}
            None => panic!("no Share on {endpoint}; miner {:?}", stats.snapshot()),
        }
    }
    for round in 0..2 {
        let late = Subscriber::connect(&endpoint);
        let mut workbases = HashMap::new();
        let mut users = HashMap::new();
        let mut shares = 0;
        // The replay comes before anything else: a Workbase first.
        match late.next(deadline) {
            Some((_, ZmqMessage::Workbase(wb))) => {
                workbases.insert(wb.workinfoid, wb);
            }
            other => panic!("round {round}: the first message is not a Workbase: {other:?}"),
        }
        // Every Share it sees must have come after its job's Workbase and UserWorkbase.
        while shares < 3 {
            match late.next(deadline) {
                Some((_, ZmqMessage::Workbase(wb))) => {
                    workbases.insert(wb.workinfoid, wb);
                }
                Some((_, ZmqMessage::UserWorkbase(u))) => {
                    users.insert(u.workinfoid, u);
                }
                Some((text, ZmqMessage::Share(s))) => {
                    assert!(
                        workbases.contains_key(&s.workinfoid),
                        "round {round}: a Share without its Workbase: {text}"
                    );
                    let (wb, uwb) = (&workbases[&s.workinfoid], users.get(&s.workinfoid));
                    let uwb = uwb.unwrap_or_else(|| {
                        panic!("round {round}: a Share without its UserWorkbase: {text}")
                    });
                    check_share(&s, wb, uwb, true);
                    shares += 1;
                }
                None => panic!(
                    "round {round}: {shares} Shares; Workbases {:?}",
                    workbases.keys()
                ),
            }
        }
    }
    stop.cancel();
    task.await.unwrap().unwrap();
    let metrics = common::http::get(server.api_addr(), "/metrics").body;
    let subscriptions: u64 = metrics
        .lines()
        .find_map(|l| {
            l.strip_prefix("stratumd_zmq_subscriptions_total ")?
                .parse()
                .ok()
        })
        .unwrap_or_else(|| panic!("no stratumd_zmq_subscriptions_total in {metrics}"));
    assert!(subscriptions >= 3, "{subscriptions} subscriptions counted");
}

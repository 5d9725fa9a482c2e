//! End-to-end tests of the operator's HTTP server against the real `stratumd` binary on its
//! embedded simnet: after a scripted miner's accepted shares and rejects of every reason,
//! `/metrics` (parsed with the `prometheus-parse` crate, a Prometheus text parser that
//! shares no code with ours) counts exactly those, `/api/pool` says the same, and ckpool's
//! `pool.status` holds the same difficulty totals; a control request without the token is
//! refused with 401 and changes nothing.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::http::{get, post};
use common::metrics::scrape;
use common::scripted::{
    assert_accepted, assert_rejected, authorized, find_miss, find_share_async, submit,
};
use common::{regtest_address, wait_until, Server, ServerOptions};
use serde_json::{json, Value};
use stratum_miner::work::Job;

/// Bound for anything the server should do at once.
const T: Duration = Duration::from_secs(10);
/// The token the tests configure.
const TOKEN: &str = "e2e-api-token-0123456789";
/// The difficulty every share is judged at until the test raises it.
const DIFF: f64 = 0.00001;
/// The difficulty the test fixes through the API before its last rejects.
const HIGH_DIFF: f64 = 1000.0;

fn options(token: Option<&str>) -> ServerOptions {
    let mut config = json!({
        "mindiff": DIFF,
        "startdiff": DIFF,
        "stats_interval": 1,
        "api": "127.0.0.1:0",
    });
    if let Some(t) = token {
        config["api_token"] = json!(t);
    }
    ServerOptions {
        config,
        ..ServerOptions::default()
    }
}

fn api_pool(server: &Server) -> Value {
    let r = get(server.api_addr(), "/api/pool");
    assert_eq!(r.status, 200, "{}", r.body);
    serde_json::from_str(&r.body).expect("JSON")
}

fn control(server: &Server, token: Option<&str>, body: &str) -> common::http::Response {
    let auth = token.map(|t| format!("Bearer {t}"));
    let headers: Vec<(&str, &str)> = auth
        .as_deref()
        .map(|a| vec![("Authorization", a)])
        .unwrap_or_default();
    post(server.api_addr(), "/api/control", &headers, body.as_bytes())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_api_and_pool_status_count_the_same_shares() {
    let server = Server::start(options(Some(TOKEN)));
    // Before any share: every counter there, at zero.
    let m = scrape(&server);
    assert_eq!(m["stratumd_shares_accepted_total"], 0.0, "{m:?}");
    for reason in [
        "stale",
        "invalid_job_id",
        "ntime_out_of_range",
        "duplicate",
        "above_target",
    ] {
        assert_eq!(
            m[&format!("stratumd_shares_rejected_total{{reason=\"{reason}\"}}")],
            0.0
        );
    }

    let user = format!("{}.api", regtest_address(21));
    let (mut c, en1, en2_len) = authorized(server.stratum, "e2e-api/1", Value::Null, &user).await;
    let en1 = hex::decode(en1).unwrap();
    let notify = c.wait_method("mining.notify", T).await.unwrap();
    let job = Job::from_notify_params(&notify["params"]).unwrap();
    let en2 = |n: u8| {
        let mut v = vec![0u8; en2_len];
        v[en2_len - 1] = n;
        v
    };
    // N accepted shares (well below simnet's block difficulty).
    const N: u8 = 4;
    let mut first = None;
    for n in 1..=N {
        let nonce = find_share_async(&job, &en1, &en2(n), job.ntime, DIFF, 100.0).await;
        let reply = submit(&mut c, &user, &job.job_id, &en2(n), job.ntime, nonce).await;
        assert_accepted(&reply);
        first.get_or_insert(nonce);
    }
    // Rejects at DIFF: two duplicates, one too early, one above target.
    let first = first.unwrap();
    for _ in 0..2 {
        let reply = submit(&mut c, &user, &job.job_id, &en2(1), job.ntime, first).await;
        assert_rejected(&reply, "Duplicate", 22);
    }
    let early = job.ntime - 1;
    let nonce = find_share_async(&job, &en1, &en2(9), early, DIFF, 100.0).await;
    let reply = submit(&mut c, &user, &job.job_id, &en2(9), early, nonce).await;
    assert_rejected(&reply, "Ntime out of range", 20);
    let nonce = find_miss(&job, &en1, &en2(10), job.ntime, DIFF);
    let reply = submit(&mut c, &user, &job.job_id, &en2(10), job.ntime, nonce).await;
    assert_rejected(&reply, "Above target", 23);

    // A control request without the token, or with a wrong one, is refused and changes
    // nothing; with it, the difficulty is fixed.
    let set_high = format!(r#"{{"method":"setdifficulty","params":[{HIGH_DIFF}]}}"#);
    assert_eq!(control(&server, None, &set_high).status, 401);
    assert_eq!(
        control(&server, Some("e2e-api-token-0123456780"), &set_high).status,
        401
    );
    let stats = control(&server, Some(TOKEN), "stats");
    assert_eq!(stats.status, 200, "{}", stats.body);
    let stats: Value = serde_json::from_str(&stats.body).unwrap();
    assert!(stats["fixed_difficulty"].is_null(), "{stats}");
    let reply = control(&server, Some(TOKEN), &set_high);
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(
        serde_json::from_str::<Value>(&reply.body).unwrap()["error"],
        Value::Null,
        "{}",
        reply.body
    );
    c.wait_for("the fixed difficulty", T, |v| {
        v["method"] == "mining.set_difficulty" && v["params"][0] == json!(HIGH_DIFF)
    })
    .await
    .unwrap();
    // Three unknown job ids, judged at the session's new difficulty.
    for n in 0..3u8 {
        let reply = submit(&mut c, &user, "7fffffffdead", &en2(20 + n), job.ntime, 0).await;
        assert_rejected(&reply, "Invalid JobID", 21);
    }

    let expected: BTreeMap<&str, f64> = [
        ("stale", 0.0),
        ("invalid_job_id", 3.0),
        ("ntime_out_of_range", 1.0),
        ("duplicate", 2.0),
        ("above_target", 1.0),
    ]
    .into();
    let m = scrape(&server);
    assert_eq!(m["stratumd_shares_accepted_total"], f64::from(N), "{m:?}");
    for (reason, n) in &expected {
        let key = format!("stratumd_shares_rejected_total{{reason=\"{reason}\"}}");
        assert_eq!(m[&key], *n, "{key}: {m:?}");
    }
    let accepted_diff = m["stratumd_accepted_difficulty_total"];
    assert!(
        (accepted_diff - f64::from(N) * DIFF).abs() < 1e-9,
        "{accepted_diff}"
    );
    assert_eq!(m["stratumd_connections"], 1.0);
    assert_eq!(m["stratumd_authorized_miners"], 1.0);
    assert_eq!(m["stratumd_blocks_found_total"], 0.0);
    assert!(m["stratumd_template_age_seconds"] >= 0.0);

    // /api/pool says the same.
    let pool = api_pool(&server);
    assert_eq!(pool["shares"]["accepted"], u64::from(N), "{pool}");
    assert_eq!(pool["shares"]["rejected"], 7, "{pool}");
    for (reason, n) in &expected {
        assert_eq!(
            pool["shares"]["rejected_by_reason"][reason], *n as u64,
            "{pool}"
        );
    }
    assert_eq!(pool["shares"]["accepted_difficulty"], json!(accepted_diff));

    // ckpool's pool.status, once written after the last share, holds the same totals
    // (ckpool writes whole numbers of difficulty): rejected 3 × 1000 + 4 × DIFF.
    let status_path = server.dir.path().join("logs/pool/pool.status");
    let want_rejected = (3.0 * HIGH_DIFF + 4.0 * DIFF).floor() as u64;
    let mut file = None;
    wait_until("pool.status with the rejects", T, || {
        file = std::fs::read_to_string(&status_path)
            .ok()
            .and_then(|t| ckpool_compat::stats::parse_pool_status(&t).ok())
            .filter(|s| s.shares.rejected == want_rejected);
        file.is_some()
    })
    .await;
    let file = file.unwrap();
    assert_eq!(file.shares.accepted, (f64::from(N) * DIFF).floor() as u64);
    // The API's copy of pool.status is the report the file was written from (or a later one
    // with the same totals: no share came since).
    let pool = api_pool(&server);
    let api_status: ckpool_compat::stats::PoolStatus =
        serde_json::from_value(pool["pool_status"].clone()).expect("pool_status");
    assert_eq!(api_status.shares.accepted, file.shares.accepted);
    assert_eq!(api_status.shares.rejected, file.shares.rejected);
    assert_eq!(api_status.counts.users, 1, "{pool}");
    assert_eq!(api_status.counts.workers, 1, "{pool}");
    // /api/users lists the miner's user and worker.
    let users = get(server.api_addr(), "/api/users");
    assert_eq!(users.status, 200);
    let users: Value = serde_json::from_str(&users.body).unwrap();
    let me = users["users"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["user"] == regtest_address(21))
        .unwrap_or_else(|| panic!("{users}"));
    assert_eq!(me["stats"]["worker"][0]["workername"], user, "{users}");
    // Hashrates carry their intervals: the first accepted share started the clock, the
    // others count, for the user, its worker and the pool alike.
    for rates in [
        &me["hashrate"],
        &me["workers_hashrate"][&user],
        &pool["hashrate"],
    ] {
        for window in ["5m", "1h"] {
            let e = &rates[window];
            assert_eq!(e["shares"], u64::from(N - 1), "{window}: {rates}");
            assert_eq!(e["confidence"], 0.95, "{rates}");
            let (low, mid, high) = (
                e["low"].as_f64().unwrap(),
                e["hashrate"].as_f64().unwrap(),
                e["high"].as_f64().unwrap(),
            );
            assert!(0.0 < low && low < mid && mid < high, "{window}: {rates}");
        }
    }
    // Not in p2pool mode: no share chain to show.
    assert_eq!(get(server.api_addr(), "/api/sharechain").status, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_token_control_over_http_is_off() {
    let server = Server::start(options(None));
    let set = r#"{"method":"setdifficulty","params":[5]}"#;
    assert_eq!(control(&server, None, set).status, 403);
    assert_eq!(control(&server, Some(TOKEN), set).status, 403);
    // Reading still works.
    assert_eq!(api_pool(&server)["shares"]["accepted"], 0);
    assert!(server.log_tail().contains("api listening on http://"));
}

/// Every metric `contrib/grafana-stratumd.json` plots is on the page of a server with
/// everything on (p2pool mode, zmqpub), so no panel of the shipped dashboard stays empty
/// because of a renamed or missing metric.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_metric_the_grafana_dashboard_plots_is_on_the_page() {
    let dashboard = include_str!("../contrib/grafana-stratumd.json");
    serde_json::from_str::<Value>(dashboard).expect("the dashboard is JSON");
    let mut names: Vec<String> = dashboard
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|w| w.starts_with("stratumd_"))
        .map(|w| match w.strip_suffix("_bucket") {
            // A histogram's buckets: the parsed page keeps its `_count`.
            Some(base) => format!("{base}_count"),
            None => w.to_string(),
        })
        .collect();
    names.sort();
    names.dedup();
    assert!(names.len() >= 20, "{names:?}");

    let server = Server::start(ServerOptions {
        config: json!({
            "mindiff": DIFF,
            "startdiff": DIFF,
            "api": "127.0.0.1:0",
            "zmqpub": "tcp://127.0.0.1:*",
        }),
        solo: false,
        args: vec![
            "--p2pool".into(),
            "--p2pool-listen".into(),
            "127.0.0.1:0".into(),
        ],
        ..ServerOptions::default()
    });
    // Polled: some families appear with their first sample (a node's first call).
    let deadline = tokio::time::Instant::now() + T;
    loop {
        let m = scrape(&server);
        let missing: Vec<&String> = names
            .iter()
            .filter(|n| {
                !m.keys()
                    .any(|k| k == *n || k.starts_with(&format!("{n}{{")))
            })
            .collect();
        if missing.is_empty() {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "not on /metrics: {missing:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

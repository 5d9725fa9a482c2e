//! The web dashboard in a real headless Chromium (Debian's `chromium`, driven by
//! `playwright-core` from `tests/browser/`, both installed by `scripts/setup.sh`): the page
//! loads from the real `stratumd` binary on simnet, and after a scripted miner's shares it
//! shows the counts `/api/pool` gives, the miner's worker with its hashrate and interval,
//! the block its last share found with simnet's answer, the coinbase's outputs, and the
//! chart's band; a screenshot is written (with
//! `STRATUMD_DOCS_SCREENSHOT=1`, to `docs/dashboard.png` as well).

mod common;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::http::get;
use common::scripted::{assert_accepted, authorized, find_share_async, submit};
use common::{regtest_address, wait_until, Server, ServerOptions};
use serde_json::{json, Value};
use stratum_miner::work::Job;

const T: Duration = Duration::from_secs(10);
const DIFF: f64 = 0.00001;
/// simnet's block difficulty: the test's last share is a block.
const BLOCK_DIFF: f64 = 0.0002;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_in_chromium_shows_the_shares_the_api_counts() {
    let server = Server::start(ServerOptions {
        config: json!({
            "mindiff": DIFF,
            "startdiff": DIFF,
            "stats_interval": 1,
            "api": "127.0.0.1:0",
        }),
        simnet_difficulty: BLOCK_DIFF,
        ..ServerOptions::default()
    });
    let user = format!("{}.rig1", regtest_address(22));
    let (mut c, en1, en2_len) =
        authorized(server.stratum, "e2e-dashboard/1", Value::Null, &user).await;
    let en1 = hex::decode(en1).unwrap();
    let notify = c.wait_method("mining.notify", T).await.unwrap();
    let job = Job::from_notify_params(&notify["params"]).unwrap();
    const N: u8 = 6;
    for n in 1..=N {
        let mut en2 = vec![0u8; en2_len];
        en2[en2_len - 1] = n;
        // The last one a block, the others below the block's difficulty.
        let (diff, below) = if n == N {
            (BLOCK_DIFF, f64::INFINITY)
        } else {
            (DIFF, BLOCK_DIFF)
        };
        let nonce = find_share_async(&job, &en1, &en2, job.ntime, diff, below).await;
        let reply = submit(&mut c, &user, &job.job_id, &en2, job.ntime, nonce).await;
        assert_accepted(&reply);
    }
    // The stats writer's report lists the worker once it has written after the shares.
    let api = server.api_addr();
    wait_until("the worker in /api/users", T, || {
        let users = get(api, "/api/users");
        users.status == 200 && users.body.contains(&user) && users.body.contains("\"5m\":{")
    })
    .await;
    // The block's successor is the job the page shows (its coinbase is compared below).
    wait_until("the next block's job", T, || {
        let pool: Value = serde_json::from_str(&get(api, "/api/pool").body).unwrap();
        pool["job"]["height"] == 2
    })
    .await;
    let page = get(api, "/");
    assert_eq!(page.status, 200);
    assert!(
        page.content_type.starts_with("text/html"),
        "{}",
        page.content_type
    );

    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let shot = Path::new(env!("CARGO_TARGET_TMPDIR")).join("dashboard.png");
    let _ = std::fs::remove_file(&shot);
    let out = tokio::task::spawn_blocking({
        let shot = shot.clone();
        let user = user.clone();
        move || {
            // Bounded: a Chromium that hangs is killed, and the test fails.
            Command::new("timeout")
                .args(["-k", "5", "120", "node"])
                .arg(root.join("tests/browser/dashboard.mjs"))
                .arg(format!("http://{api}/"))
                .arg(N.to_string())
                .arg(&user)
                .arg(&shot)
                .current_dir(root.join("tests/browser"))
                .output()
                .expect("timeout and node (scripts/setup.sh --browser installs node)")
        }
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let line = stdout.lines().last().unwrap_or_default();
    let seen: Value = serde_json::from_str(line)
        .unwrap_or_else(|e| panic!("{e}: stdout {stdout} stderr {stderr}"));
    assert!(out.status.success(), "{seen} {stderr}");
    let seen = &seen["seen"];
    // What the page shows is what the API says.
    let pool: Value = serde_json::from_str(&get(api, "/api/pool").body).unwrap();
    assert_eq!(seen["accepted"], N.to_string(), "{seen}");
    assert_eq!(pool["shares"]["accepted"], u64::from(N));
    assert_eq!(
        seen["connections"],
        pool["connections"].to_string(),
        "{seen}"
    );
    let row: Vec<&str> = seen["worker"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(row[0], user, "{seen}");
    assert_eq!(row[1], "live", "{seen}");
    assert!(row[2].ends_with("H/s"), "{seen}");
    assert!(row[3].contains(" – "), "an interval: {seen}");
    assert_ne!(seen["interval"], "–", "{seen}");
    assert_eq!(seen["rows_after_sort"], 1, "{seen}");
    assert_eq!(seen["chart"], 2, "{seen}");
    let job: Value = serde_json::from_str(&get(api, "/api/job").body).unwrap();
    assert_eq!(
        seen["outputs"],
        job["outputs"].as_array().unwrap().len(),
        "{seen}"
    );
    let btc = |sats: &Value| format!("{:.8}", sats.as_u64().unwrap() as f64 / 1e8);
    assert!(
        seen["coinbase"].as_str().unwrap().starts_with(&format!(
            "pays {} BTC of coinbasevalue {}",
            btc(&job["total"]),
            btc(&job["coinbasevalue"])
        )),
        "{seen}"
    );
    let block: Vec<&str> = seen["block"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    let found: Value = serde_json::from_str(&get(api, "/api/blocks").body).unwrap();
    let hash = found["blocks"][0]["hash"].as_str().unwrap();
    assert_eq!(block[0], "1", "{seen}");
    assert!(block[1].starts_with(&hash[..16]), "{seen}");
    assert_eq!(block[2], user, "{seen}");
    assert_eq!(block[4], "accepted", "{seen}");
    assert_eq!(block[5], format!("{}: accepted", server.rpc_addr), "{seen}");
    assert_eq!(seen["errors"], json!([]), "{seen}");
    let png = std::fs::read(&shot).expect("the screenshot");
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    if std::env::var_os("STRATUMD_DOCS_SCREENSHOT").is_some() {
        std::fs::write(root.join("docs/dashboard.png"), &png).unwrap();
    }
}

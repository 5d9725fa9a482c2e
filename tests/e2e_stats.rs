//! End-to-end test of ckpool's stats files and share log against the real `stratumd` binary
//! on its embedded simnet, run with `-L` and a one-second `stats_interval`: a CPU miner's
//! shares show up in `logs/pool/pool.status`, in `logs/users/<address>` (with its worker
//! listed) and as share-log lines under `logs/<height %08x>/<workinfoid>.sharelog`, all of
//! them parsed with `ckpool_compat`. The server is then stopped with SIGTERM and must leave
//! complete files behind.
//!
//! The harness in `common` does not pass extra flags, so this test starts the binary itself
//! (`-L`), reading the bound addresses from its log the same way.

mod common;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use ckpool_compat::sharelog::{parse_sharelog, SharelogEntry};
use ckpool_compat::stats::{parse_pool_status, parse_suffixed, parse_user_stats};
use common::{regtest_address, stratumd_bin, wait_until};
use serde_json::json;
use stratum_miner::miner::{run_miner, MinerConfig, MinerStats};
use tokio_util::sync::CancellationToken;

/// Bound for start-up and for anything that should happen within a few stats intervals.
const T: Duration = Duration::from_secs(60);

/// `stratumd --simnet -B -L` with its temp dir; killed on drop.
struct Pool {
    child: Child,
    stratum: SocketAddr,
    dir: tempfile::TempDir,
    log: Arc<Mutex<Vec<String>>>,
}

impl Drop for Pool {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Pool {
    fn start() -> Pool {
        let dir = tempfile::tempdir().expect("tempdir");
        let conf = json!({
            "serverurl": "127.0.0.1:0",
            "logdir": dir.path().join("logs").display().to_string(),
            "mindiff": 0.00001,
            "startdiff": 0.0001,
            "stats_interval": 1,
        });
        let conf_path = dir.path().join("ckpool.conf");
        std::fs::write(&conf_path, conf.to_string()).unwrap();
        let mut child = Command::new(stratumd_bin())
            .arg("-c")
            .arg(&conf_path)
            .args(["--simnet", "--simnet-difficulty", "1000", "-B", "-L"])
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn stratumd");
        let stderr = child.stderr.take().expect("stderr");
        let log = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let log2 = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = tx.send(line.clone());
                log2.lock().unwrap().push(line);
            }
        });
        let deadline = Instant::now() + T;
        let (mut stratum, mut job) = (None, false);
        while stratum.is_none() || !job {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = rx.recv_timeout(left).unwrap_or_else(|_| {
                panic!(
                    "stratumd did not start; log:\n{}",
                    log.lock().unwrap().join("\n")
                )
            });
            if let Some(i) = line.find("stratum listening on ") {
                stratum = line[i + "stratum listening on ".len()..]
                    .split([' ', ','])
                    .next()
                    .and_then(|a| a.parse().ok());
            }
            job |= line.contains("new block template");
        }
        Pool {
            child,
            stratum: stratum.unwrap(),
            dir,
            log,
        }
    }

    fn logs(&self) -> PathBuf {
        self.dir.path().join("logs")
    }

    fn log_tail(&self) -> String {
        let log = self.log.lock().unwrap();
        log[log.len().saturating_sub(30)..].join("\n")
    }
}

/// Every share-log entry under `logs`, with the directory and file each came from.
fn sharelog_entries(logs: &Path) -> Vec<(String, String, SharelogEntry)> {
    let mut out = Vec::new();
    let Ok(dirs) = std::fs::read_dir(logs) else {
        return out;
    };
    for d in dirs.flatten() {
        let dname = d.file_name().to_string_lossy().to_string();
        if dname.len() != 8 || !dname.chars().all(|c| c.is_ascii_hexdigit()) {
            continue;
        }
        for f in std::fs::read_dir(d.path()).into_iter().flatten().flatten() {
            let fname = f.file_name().to_string_lossy().to_string();
            if !fname.ends_with(".sharelog") {
                continue;
            }
            let text = std::fs::read_to_string(f.path()).unwrap();
            // A line may be mid-append: parse complete lines only.
            let complete = &text[..text.rfind('\n').map_or(0, |i| i + 1)];
            for e in parse_sharelog(complete).expect("share log parses") {
                out.push((dname.clone(), fname.clone(), e));
            }
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stats_files_and_share_log_follow_a_cpu_miner() {
    let mut pool = Pool::start();
    let logs = pool.logs();
    let address = regtest_address(7);
    let workername = format!("{address}.cpu");
    let stats = Arc::new(MinerStats::default());
    let stop = CancellationToken::new();
    let miner = tokio::spawn(run_miner(
        MinerConfig {
            server: pool.stratum,
            username: workername.clone(),
            password: "x".into(),
            user_agent: "e2e-stats/1".into(),
            threads: 1,
            version_rolling: true,
            suggest_difficulty: None,
        },
        stats.clone(),
        stop.clone(),
    ));

    // The user's file lists the worker once it has accepted shares.
    let user_path = logs.join("users").join(&address);
    let status_path = logs.join("pool").join("pool.status");
    let read_user = || {
        std::fs::read_to_string(&user_path)
            .ok()
            .map(|t| parse_user_stats(&t).expect("user stats parse"))
    };
    let read_status = || {
        std::fs::read_to_string(&status_path)
            .ok()
            .map(|t| parse_pool_status(&t).expect("pool.status parses"))
    };
    wait_until("the worker in users/<address>", T, || {
        stats.snapshot().accepted >= 3
            && read_user().is_some_and(|u| u.worker.iter().any(|w| w.workername == workername))
            && read_status().is_some_and(|s| s.shares.sps1m > 0.0)
    })
    .await;
    let user = read_user().unwrap();
    assert_eq!(user.workers, 1, "{user:?}");
    assert!(user.lastshare > 0 && user.authorised > 0, "{user:?}");
    assert!(user.bestshare > 0.0, "{user:?}");
    let w = user
        .worker
        .iter()
        .find(|w| w.workername == workername)
        .unwrap();
    assert!(w.lastshare > 0 && w.bestshare > 0.0, "{w:?}");
    let status = read_status().unwrap();
    assert_eq!((status.counts.users, status.counts.workers), (1, 1));
    assert!(status.shares.sps1m > 0.0, "{status:?}");
    // The miner is shown hashing.
    wait_until("a non-zero pool hashrate", T, || {
        read_status().is_some_and(|s| parse_suffixed(&s.hashrates.hashrate1m).unwrap_or(0.0) > 0.0)
    })
    .await;

    // Share log: one line per share, accepted ones included, under the height directory.
    wait_until("accepted share-log lines", T, || {
        sharelog_entries(&logs)
            .iter()
            .filter(|(_, _, e)| e.result)
            .count()
            >= 3
    })
    .await;
    let entries = sharelog_entries(&logs);
    for (dir, file, e) in &entries {
        assert_eq!(file, &format!("{:016x}.sharelog", e.workinfoid));
        // ckpool's directory is the height in 8 hex digits: simnet's first template is at
        // height 1, and no block is found at this test's difficulty.
        assert_eq!(dir, "00000001");
        assert_eq!(e.workername, workername);
        assert_eq!(e.username, address);
        assert_eq!(e.createcode, "parse_submit");
        assert_eq!(e.agent.as_deref(), Some("e2e-stats/1"));
        assert_eq!(e.hash.len(), 64);
        assert!(e.sdiff >= e.diff || !e.result, "{e:?}");
    }

    // SIGTERM: the server stops and leaves complete files written at shutdown.
    stop.cancel();
    let _ = tokio::time::timeout(T, miner).await;
    let stopped_at = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let killed = Command::new("kill")
        .args(["-TERM", &pool.child.id().to_string()])
        .status()
        .expect("kill");
    assert!(killed.success());
    let deadline = Instant::now() + T;
    while pool.child.try_wait().unwrap().is_none() {
        assert!(
            Instant::now() < deadline,
            "stratumd did not stop on SIGTERM; log:\n{}",
            pool.log_tail()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let status = read_status().expect("pool.status after shutdown");
    assert!(status.counts.lastupdate >= stopped_at, "{status:?}");
    let user = read_user().expect("users/<address> after shutdown");
    assert!(user.worker.iter().any(|w| w.workername == workername));
}

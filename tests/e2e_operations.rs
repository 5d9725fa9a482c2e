//! Operating the real binary: keepalive work, vardiff, the block archive, start-up errors,
//! the demo and the standalone simnet.

mod common;

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bitcoincore_rpc::{Auth, Client, RpcApi};
use common::{regtest_address, stratumd_bin, wait_until, Server, ServerOptions};
use serde_json::{json, Value};
use stratum_miner::client::StratumClient;
use stratum_miner::miner::{run_miner, MinerConfig, MinerStats};
use tokio_util::sync::CancellationToken;

fn miner_config(server: &Server, n: u8) -> MinerConfig {
    MinerConfig {
        server: server.stratum,
        username: format!("{}.rig{n}", regtest_address(n)),
        password: "x".into(),
        user_agent: "e2e-ops/1".into(),
        threads: 1,
        version_rolling: true,
        suggest_difficulty: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn update_interval_sends_fresh_work_without_a_new_block() {
    let server = Server::start(ServerOptions {
        config: json!({ "mindiff": 0.00001, "startdiff": 0.0001, "update_interval": 1 }),
        ..ServerOptions::default()
    });
    let t = Duration::from_secs(5);
    let mut c = StratumClient::connect(server.stratum).await.unwrap();
    let id = c
        .request("mining.subscribe", json!(["e2e-ops/1"]))
        .await
        .unwrap();
    c.wait_reply(id, t).await.unwrap();
    let user = format!("{}.k", regtest_address(3));
    let id = c
        .request("mining.authorize", json!([user, "x"]))
        .await
        .unwrap();
    assert_eq!(c.wait_reply(id, t).await.unwrap()["result"], true);

    let first = c.wait_method("mining.notify", t).await.unwrap();
    assert_eq!(first["params"][8], true, "{first}");
    let second = c.wait_method("mining.notify", t).await.unwrap();
    assert_eq!(
        second["params"][8], false,
        "a refresh is not clean: {second}"
    );
    assert_ne!(second["params"][0], first["params"][0], "a new job id");
    assert_eq!(second["params"][1], first["params"][1], "the same prevhash");
    let height = tokio::task::block_in_place(|| server.call("getblockcount", &[]));
    assert_eq!(height, 0, "no block was found meanwhile");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vardiff_raises_difficulty_without_rejects() {
    let server = Server::start(ServerOptions {
        config: json!({ "mindiff": 0.000001, "startdiff": 0.00001 }),
        ..ServerOptions::default()
    });
    let stats = Arc::new(MinerStats::default());
    let stop = CancellationToken::new();
    let task = tokio::spawn(run_miner(
        miner_config(&server, 4),
        stats.clone(),
        stop.clone(),
    ));
    wait_until(
        "a difficulty above startdiff",
        Duration::from_secs(15),
        || stats.snapshot().difficulty > 0.00001,
    )
    .await;
    let at_raise = stats.snapshot().accepted;
    // Shares keep being accepted across the change.
    wait_until(
        "accepted shares after the raise",
        Duration::from_secs(10),
        || stats.snapshot().accepted >= at_raise + 2,
    )
    .await;
    let s = stats.snapshot();
    assert_eq!(s.rejected, 0, "{:?}", stats.reject_reasons());
    assert!(s.difficulty > 0.00001, "{s:?}");
    stop.cancel();
    task.await.unwrap().unwrap();
}

/// The `<height>-<hash>.hex.accepted` files in `dir`.
fn accepted_block_files(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.to_string_lossy().ends_with(".hex.accepted"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn found_blocks_are_archived_as_submitted() {
    let server = Server::start(ServerOptions {
        simnet_difficulty: 0.0005,
        ..ServerOptions::default()
    });
    let blocks_dir = server.dir.path().join("logs").join("blocks");
    let stats = Arc::new(MinerStats::default());
    let stop = CancellationToken::new();
    let task = tokio::spawn(run_miner(
        miner_config(&server, 5),
        stats.clone(),
        stop.clone(),
    ));
    wait_until("an accepted block file", Duration::from_secs(15), || {
        !accepted_block_files(&blocks_dir).is_empty()
    })
    .await;
    stop.cancel();
    task.await.unwrap().unwrap();

    let path = accepted_block_files(&blocks_dir).remove(0);
    let name = path.file_name().unwrap().to_str().unwrap().to_string();
    let stem = name.strip_suffix(".hex.accepted").unwrap();
    let (height, hash) = stem.split_once('-').expect("<height>-<hash>");
    let height: u64 = height.parse().unwrap();
    let archived = std::fs::read_to_string(&path).unwrap();
    let archived = archived.trim();
    hex::decode(archived).expect("the archive is hex");
    let (node_hex, hash_at_height) = tokio::task::block_in_place(|| {
        (
            server.call("getblock", &[json!(hash), json!(0)]),
            server.call("getblockhash", &[json!(height)]),
        )
    });
    assert_eq!(hash_at_height, json!(hash), "{name} is on simnet's chain");
    assert_eq!(
        node_hex.as_str().unwrap(),
        archived,
        "the archived block is the block simnet holds"
    );
}

/// Runs the binary to its exit (bounded), returning its status, stdout and stderr.
fn run_to_exit(mut cmd: Command, timeout: Duration) -> (ExitStatus, String, String) {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn stratumd (or util-linux `script`, for the terminal test)");
    let out = reader(&mut child, true);
    let err = reader(&mut child, false);
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "stratumd still running after {timeout:?}; stderr:\n{}",
                err.join().unwrap()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    (status, out.join().unwrap(), err.join().unwrap())
}

fn reader(child: &mut Child, stdout: bool) -> std::thread::JoinHandle<String> {
    let mut pipe: Box<dyn Read + Send> = if stdout {
        Box::new(child.stdout.take().unwrap())
    } else {
        Box::new(child.stderr.take().unwrap())
    };
    std::thread::spawn(move || {
        let mut s = String::new();
        let _ = pipe.read_to_string(&mut s);
        s
    })
}

fn conf_command(dir: &Path, conf: &str, extra: &[&str]) -> Command {
    let path = dir.join("ckpool.conf");
    std::fs::write(&path, conf).unwrap();
    let mut cmd = Command::new(stratumd_bin());
    cmd.arg("-c").arg(&path).args(extra).current_dir(dir);
    cmd
}

#[test]
fn start_up_errors_name_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let quick = Duration::from_secs(10);
    for (conf, extra, key) in [
        (
            r#"{"nonce2length": 12}"#,
            &["-B", "--simnet"][..],
            "nonce2length",
        ),
        (r#"{"mindiff": -1}"#, &["-B", "--simnet"][..], "mindiff"),
        (r#"{}"#, &["--simnet"][..], "btcaddress"),
    ] {
        let started = Instant::now();
        let (status, _, stderr) = run_to_exit(conf_command(dir.path(), conf, extra), quick);
        assert!(!status.success(), "{conf} {extra:?}: {status}");
        assert!(
            stderr.contains(key),
            "{conf}: stderr names `{key}`:\n{stderr}"
        );
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{conf} exits quickly"
        );
    }

    let missing = dir.path().join("nowhere").join("missing.conf");
    let mut cmd = Command::new(stratumd_bin());
    cmd.arg("-c")
        .arg(&missing)
        .arg("-B")
        .current_dir(dir.path());
    let (status, _, stderr) = run_to_exit(cmd, quick);
    assert!(!status.success());
    assert!(
        stderr.contains(&missing.display().to_string()),
        "stderr names the missing file:\n{stderr}"
    );
}

#[test]
fn an_unknown_key_is_only_a_warning() {
    let mut server = Server::start(ServerOptions {
        config: json!({ "mindiff": 0.00001, "startdiff": 0.0001, "frobnicate": 1 }),
        ..ServerOptions::default()
    });
    assert!(server.is_running());
    let log = server.log.lock().unwrap().clone();
    let line = log
        .iter()
        .find(|l| l.contains("frobnicate"))
        .unwrap_or_else(|| panic!("no warning naming the key:\n{}", log.join("\n")));
    assert!(line.contains("WARN"), "{line}");
}

#[test]
fn the_demo_mines_the_blocks_it_was_asked_for() {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(stratumd_bin());
    cmd.args(["--demo", "--demo-blocks", "2", "--demo-miners", "1"])
        .env_remove("RUST_LOG")
        .current_dir(dir.path());
    let started = Instant::now();
    let (status, stdout, stderr) = run_to_exit(cmd, Duration::from_secs(60));
    assert!(status.success(), "{status}\n{stdout}\n{stderr}");
    // Quiet: the server's log is in the file the demo names, not on the console.
    assert!(
        stderr.trim().is_empty(),
        "log lines on the console:\n{stderr}"
    );
    let log = dir.path().join("logs/demo/demo.log");
    assert!(
        stdout.contains(
            "server log: logs/demo/demo.log (RUST_LOG=info or -l 6 shows it here instead)"
        ),
        "{stdout}"
    );
    let logged = std::fs::read_to_string(&log).expect("the demo's log file");
    assert!(logged.contains("stratum listening on"), "{logged}");
    assert!(logged.contains("block accepted by bitcoind"), "{logged}");
    // Each new block reached the one miner (the demo's own wait for the first template
    // is no session left uncounted).
    assert!(logged.contains("reached all 1 sessions in"), "{logged}");
    assert!(!logged.contains("reached all 2 sessions"), "{logged}");
    assert!(!logged.contains('\x1b'), "no colour codes in a file");
    // The dashboard's URL, with a real port.
    let url = stdout
        .lines()
        .find_map(|l| l.strip_prefix("dashboard: http://"))
        .unwrap_or_else(|| panic!("no dashboard line:\n{stdout}"));
    let addr: std::net::SocketAddr = url.trim_end_matches('/').parse().expect("an address");
    assert_ne!(addr.port(), 0);
    // Piped, no terminal codes.
    assert!(!stdout.contains('\x1b'), "{stdout:?}");
    let summary = stdout
        .lines()
        .find(|l| l.contains("demo summary"))
        .unwrap_or_else(|| panic!("no summary line:\n{stdout}"));
    let accepted: u64 = summary
        .split(", ")
        .find_map(|part| part.strip_suffix(" accepted by simnet"))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no block count in {summary}"));
    assert!(accepted >= 2, "{summary}");
    assert!(dir.path().join("logs").join("demo").exists());
    eprintln!("demo took {:?}", started.elapsed());
}

/// On a terminal (a pty from util-linux's `script`) the demo redraws its status line in
/// place: each update moves the cursor back over the last one, the line wrap off while it
/// draws; `-l 6` brings the log back to the console (and the status prints line by line,
/// since the log writes there too). Timed, not by blocks (none at difficulty 1000): status
/// lines every 3 s, the end at 10 s (the margin for a loaded machine).
#[test]
fn on_a_terminal_the_demo_redraws_its_status_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let demo = format!(
        "'{}' --demo --demo-miners 1 --simnet-difficulty 1000",
        stratumd_bin().display()
    );
    let mut cmd = Command::new("script");
    cmd.args(["-qec", &format!("{demo} --demo-seconds 10"), "/dev/null"])
        .env_remove("RUST_LOG")
        .current_dir(dir.path());
    let (status, tty, stderr) = run_to_exit(cmd, Duration::from_secs(60));
    assert!(status.success(), "{status}\n{tty:?}\n{stderr}");
    let redraws = tty.matches("\x1b[1A\r\x1b[J\x1b[?7l[").count();
    let lines = tty.matches("] miners ").count();
    assert!(lines >= 2, "{tty:?}");
    assert_eq!(
        redraws,
        lines - 1,
        "every status after the first redraws the last: {tty:?}"
    );
    assert!(!tty.contains("INFO"), "{tty:?}");
    assert!(!tty.contains("errors in the log"), "{tty:?}");

    let mut cmd = Command::new("script");
    cmd.args([
        "-qec",
        &format!("{demo} --demo-seconds 7 -l 6"),
        "/dev/null",
    ])
    .env_remove("RUST_LOG")
    .current_dir(dir.path());
    let (status, tty, stderr) = run_to_exit(cmd, Duration::from_secs(60));
    assert!(status.success(), "{status}\n{tty:?}\n{stderr}");
    assert!(
        tty.contains("INFO") && tty.contains("stratum listening on"),
        "{tty:?}"
    );
    // The status, line after line: there, and never redrawn.
    assert!(tty.contains("] miners "), "{tty:?}");
    assert!(
        !tty.contains("\x1b[1A") && !tty.contains("\x1b[?7l"),
        "{tty:?}"
    );
    assert!(!tty.contains("server log:"), "{tty:?}");
}

/// Kills the standalone simnet even when an assertion fails.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn the_standalone_simnet_answers_rpc() {
    // Port 0 and a `*` ZMQ port: simnet binds free ones and says which.
    let child = Command::new(stratumd_bin())
        .args([
            "simnet",
            "--rpc",
            "127.0.0.1:0",
            "--zmq",
            "tcp://127.0.0.1:*",
            "--difficulty",
            "0.0001",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn stratumd simnet");
    let mut child = Killed(child);
    let stderr = child.0.stderr.take().expect("stderr");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(10);
    let rpc = loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = rx.recv_timeout(left).expect("simnet's address line");
        if let Some((_, rest)) = line.split_once("JSON-RPC on http://") {
            break rest.split_whitespace().next().expect("address").to_string();
        }
    };
    let client = Client::new(
        &format!("http://{rpc}"),
        Auth::UserPass("simnet".into(), "simnet".into()),
    )
    .unwrap();
    let info = client
        .call::<Value>("getblockchaininfo", &[])
        .expect("simnet answers once it has said where");
    assert_eq!(info["chain"], "regtest", "{info}");
    assert_eq!(info["blocks"], 0, "{info}");
    let wrong = Client::new(
        &format!("http://{rpc}"),
        Auth::UserPass("simnet".into(), "wrong".into()),
    )
    .unwrap();
    assert!(wrong.call::<Value>("getblockchaininfo", &[]).is_err());
    child.0.kill().unwrap();
    child.0.wait().unwrap();
}

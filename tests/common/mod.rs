//! Harness for end-to-end tests: starts the real `stratumd` binary on its in-process simnet
//! with a config written to a temporary directory, reads the bound addresses from its log,
//! and talks to simnet over its JSON-RPC with the `bitcoincore-rpc` client.
#![allow(dead_code)]

pub mod http;
pub mod metrics;
pub mod scripted;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bitcoincore_rpc::{Auth, Client, RpcApi};
use serde_json::{json, Value};

/// How long start-up may take.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// The `stratumd` binary cargo built for these tests (`CARGO_BIN_EXE_stratumd`: an
/// integration test of the `stratumd` package gets its binary built first, so it is never stale).
pub fn stratumd_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_stratumd"))
}

/// A running `stratumd --simnet`, killed on drop.
pub struct Server {
    child: Child,
    /// The stratum listener.
    pub stratum: SocketAddr,
    /// simnet's JSON-RPC address.
    pub rpc_addr: SocketAddr,
    /// simnet's cookie file.
    pub cookie: PathBuf,
    /// simnet's ZMQ hashblock endpoint (`tcp://…`).
    pub zmq: String,
    /// The temp dir holding config and logs.
    pub dir: tempfile::TempDir,
    /// Every stderr line so far.
    pub log: Arc<Mutex<Vec<String>>>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Options for [`Server::start`].
pub struct ServerOptions {
    /// Extra/overriding ckpool.conf keys (serverurl and logdir are set by the harness).
    pub config: Value,
    /// ckpool -B.
    pub solo: bool,
    /// simnet block difficulty.
    pub simnet_difficulty: f64,
    /// simnet transactions per template.
    pub simnet_txs: usize,
    /// More command-line arguments (e.g. `--p2pool`).
    pub args: Vec<String>,
    /// Run against this (another server's) simnet instead of an in-process one (first in
    /// `btcd`, before any entries `config` has).
    pub node: Option<NodeRef>,
}

/// Where a simnet is, for a server to use it as its bitcoind.
#[derive(Debug, Clone)]
pub struct NodeRef {
    /// JSON-RPC.
    pub rpc_addr: SocketAddr,
    /// Cookie file.
    pub cookie: PathBuf,
    /// ZMQ hashblock endpoint.
    pub zmq: String,
}

impl Default for ServerOptions {
    fn default() -> Self {
        ServerOptions {
            config: json!({ "mindiff": 0.00001, "startdiff": 0.0001 }),
            solo: true,
            // High enough that the test's own CPU miners rarely find blocks by accident.
            simnet_difficulty: 1000.0,
            simnet_txs: 4,
            args: Vec::new(),
            node: None,
        }
    }
}

fn find_after<'a>(line: &'a str, marker: &str) -> Option<&'a str> {
    let i = line.find(marker)?;
    line[i + marker.len()..].split([' ', ',']).next()
}

impl Server {
    /// Starts the binary and waits until it listens and has published its first job.
    pub fn start(opts: ServerOptions) -> Server {
        Server::start_in(tempfile::tempdir().expect("tempdir"), &opts)
    }

    /// Kills the process (SIGKILL: no clean shutdown) if it still runs and starts it again
    /// in the same directory (config, logs, stores), with `opts`.
    pub fn restart(mut self, opts: &ServerOptions) -> Server {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let dir = std::mem::replace(&mut self.dir, tempfile::tempdir().expect("tempdir"));
        drop(self);
        Server::start_in(dir, opts)
    }

    /// Kills the process with SIGKILL and waits for it.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Starts the binary in `dir` (which may hold a store already).
    pub fn start_in(dir: tempfile::TempDir, opts: &ServerOptions) -> Server {
        let mut conf = opts.config.clone();
        conf["serverurl"] = json!("127.0.0.1:0");
        conf["logdir"] = json!(dir.path().join("logs").display().to_string());
        if let Some(node) = &opts.node {
            // The node first; `btcd` entries the test configured come after it.
            let mut btcd = vec![json!({
                "url": node.rpc_addr.to_string(),
                "cookie": node.cookie.display().to_string(),
            })];
            if let Some(more) = conf["btcd"].as_array() {
                btcd.extend(more.iter().cloned());
            }
            conf["btcd"] = json!(btcd);
            conf["zmqblock"] = json!(node.zmq);
            // Not simnet: the instance's pid file and sockets go in its own directory.
            conf["sockdir"] = json!(dir.path().join("sock").display().to_string());
        }
        let conf_path = dir.path().join("ckpool.conf");
        std::fs::write(&conf_path, serde_json::to_string_pretty(&conf).unwrap()).unwrap();
        let mut cmd = Command::new(stratumd_bin());
        cmd.arg("-c").arg(&conf_path);
        if opts.node.is_none() {
            cmd.arg("--simnet")
                .arg("--simnet-difficulty")
                .arg(opts.simnet_difficulty.to_string())
                .arg("--simnet-txs")
                .arg(opts.simnet_txs.to_string());
        }
        cmd.env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        if opts.solo {
            cmd.arg("-B");
        }
        cmd.args(&opts.args);
        let mut child = cmd.spawn().expect("spawn stratumd");
        let stderr = child.stderr.take().expect("stderr");
        let log = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = mpsc::channel();
        let log2 = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = tx.send(line.clone());
                log2.lock().unwrap().push(line);
            }
        });
        let deadline = Instant::now() + START_TIMEOUT;
        let (mut stratum, mut rpc_addr, mut cookie, mut zmq, mut job) = match &opts.node {
            Some(n) => (
                None,
                Some(n.rpc_addr),
                Some(n.cookie.clone()),
                Some(n.zmq.clone()),
                false,
            ),
            None => (None, None, None, None, false),
        };
        while stratum.is_none() || rpc_addr.is_none() || !job {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = match rx.recv_timeout(left) {
                Ok(l) => l,
                Err(_) => panic!(
                    "stratumd did not start; log:\n{}",
                    log.lock().unwrap().join("\n")
                ),
            };
            if let Some(a) = find_after(&line, "stratum listening on ") {
                stratum = a.parse().ok();
            }
            if let Some(a) = find_after(&line, "simnet JSON-RPC on http://") {
                rpc_addr = a.parse().ok();
                cookie = find_after(&line, " cookie ").map(PathBuf::from);
                zmq = find_after(&line, "ZMQ hashblock on ").map(str::to_string);
            }
            if line.contains("new block template") {
                job = true;
            }
        }
        Server {
            child,
            stratum: stratum.unwrap(),
            rpc_addr: rpc_addr.unwrap(),
            cookie: cookie.expect("cookie path in log"),
            zmq: zmq.expect("ZMQ endpoint in log"),
            dir,
            log,
        }
    }

    /// Its simnet, for another server to use.
    pub fn node_ref(&self) -> NodeRef {
        NodeRef {
            rpc_addr: self.rpc_addr,
            cookie: self.cookie.clone(),
            zmq: self.zmq.clone(),
        }
    }

    /// The share chain network's address with its peer id (`/ip4/…/tcp/…/p2p/…`), once it
    /// listens.
    pub fn p2p_addr(&self) -> String {
        assert!(
            self.wait_log("p2pool: listening on ", START_TIMEOUT),
            "no p2pool listen line"
        );
        let log = self.log.lock().unwrap();
        let line = log
            .iter()
            .find(|l| l.contains("p2pool: listening on "))
            .expect("listen line");
        find_after(line, "p2pool: listening on ")
            .expect("address")
            .to_string()
    }

    /// The node's `<logdir>/pool/p2pool.json`, once written.
    pub fn p2pool_status(&self) -> Option<Value> {
        let path = self.dir.path().join("logs/pool/p2pool.json");
        let text = std::fs::read_to_string(path).ok()?;
        serde_json::from_str(&text).ok()
    }

    /// The HTTP server's address (the config's `api`), from its log line.
    pub fn api_addr(&self) -> SocketAddr {
        assert!(
            self.wait_log("api listening on http://", START_TIMEOUT),
            "no api listen line"
        );
        let log = self.log.lock().unwrap();
        let line = log
            .iter()
            .find(|l| l.contains("api listening on http://"))
            .expect("api line");
        find_after(line, "api listening on http://")
            .and_then(|a| a.parse().ok())
            .expect("an address")
    }

    /// The last 40 log lines, for failure messages.
    pub fn log_tail(&self) -> String {
        let log = self.log.lock().unwrap();
        log[log.len().saturating_sub(40)..].join("\n")
    }

    /// p2pool mode: the chain took every share this node's miners found (a refusal would
    /// be a bug in the job's coinbase or metadata).
    pub fn assert_none_refused(&self) {
        let log = self.log.lock().unwrap();
        let refused: Vec<&String> = log
            .iter()
            .filter(|l| l.contains("refused this node's own share"))
            .collect();
        assert!(refused.is_empty(), "{refused:?}");
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// A blocking JSON-RPC client for simnet.
    pub fn rpc(&self) -> Client {
        Client::new(
            &format!("http://{}", self.rpc_addr),
            Auth::CookieFile(self.cookie.clone()),
        )
        .expect("rpc client")
    }

    /// Calls a simnet RPC method (blocking; call from spawn_blocking in async tests).
    pub fn call(&self, method: &str, params: &[Value]) -> Value {
        self.rpc()
            .call::<Value>(method, params)
            .unwrap_or_else(|e| panic!("{method}: {e}"))
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Waits until a log line contains `needle`.
    pub fn wait_log(&self, needle: &str, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            if self.log.lock().unwrap().iter().any(|l| l.contains(needle)) {
                return true;
            }
            if Instant::now() > deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// A regtest P2WPKH address whose 20-byte program is `[n; 20]` (nobody holds the key).
pub fn regtest_address(n: u8) -> String {
    use bitcoin::{Address, KnownHrp, WitnessProgram, WitnessVersion};
    let program = WitnessProgram::new(WitnessVersion::V0, &[n; 20]).unwrap();
    Address::from_witness_program(program, KnownHrp::Regtest).to_string()
}

/// Waits (polling, bounded) until `cond` holds.
pub async fn wait_until(what: &str, timeout: Duration, mut cond: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + timeout;
    while !cond() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The time a log line was written, from the RFC 3339 UTC stamp tracing puts first
/// (`2026-12-02T19:03:29.123456Z …`).
pub fn log_time(line: &str) -> Option<std::time::SystemTime> {
    let stamp = line.split_whitespace().next()?.strip_suffix('Z')?;
    let (date, time) = stamp.split_once('T')?;
    let mut d = date.split('-').map(|p| p.parse::<i64>().ok());
    let (y, m, day) = (d.next()??, d.next()??, d.next()??);
    let (hms, frac) = time.split_once('.').unwrap_or((time, "0"));
    let mut t = hms.split(':').map(|p| p.parse::<i64>().ok());
    let (h, min, s) = (t.next()??, t.next()??, t.next()??);
    // Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = u64::try_from(days * 86_400 + h * 3600 + min * 60 + s).ok()?;
    let nanos: u32 = format!("{frac:0<9}").get(..9)?.parse().ok()?;
    Some(std::time::UNIX_EPOCH + Duration::new(secs, nanos))
}

impl Server {
    /// When the first log line containing `needle` was written (its own time stamp).
    pub fn logged_at(&self, needle: &str) -> Option<std::time::SystemTime> {
        let log = self.log.lock().unwrap();
        log.iter()
            .find(|l| l.contains(needle))
            .and_then(|l| log_time(l))
    }
}

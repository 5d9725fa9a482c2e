//! ckpool's command-line flags on the real binary: unserved modes, -h, the pid file with
//! -k/-n/-s, and -D. Every server runs on simnet, on loopback, with temp dirs.

mod common;

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::json;

const START_TIMEOUT: Duration = Duration::from_secs(60);
const EXIT_TIMEOUT: Duration = Duration::from_secs(20);

/// A temp dir with a simnet-friendly ckpool.conf, a logdir and a sockdir.
struct Setup {
    dir: tempfile::TempDir,
}

impl Setup {
    fn new() -> Setup {
        let dir = tempfile::tempdir().expect("tempdir");
        let conf = json!({
            "serverurl": "127.0.0.1:0",
            "logdir": dir.path().join("logs").display().to_string(),
            "mindiff": 0.00001,
            "startdiff": 0.0001,
        });
        std::fs::write(dir.path().join("ckpool.conf"), conf.to_string()).expect("write conf");
        Setup { dir }
    }
    fn conf(&self) -> PathBuf {
        self.dir.path().join("ckpool.conf")
    }
    fn sockdir(&self) -> PathBuf {
        self.dir.path().join("sock")
    }
    fn pid_file(&self) -> PathBuf {
        self.sockdir().join("main.pid")
    }
    /// `stratumd -c conf -B --simnet -n flagtest -s sockdir` plus `extra`.
    fn command(&self, extra: &[&str]) -> Command {
        let mut cmd = Command::new(common::stratumd_bin());
        cmd.arg("-c")
            .arg(self.conf())
            .args([
                "-B",
                "--simnet",
                "--simnet-difficulty",
                "1000",
                "--simnet-txs",
                "2",
            ])
            .args(["-n", "flagtest", "-s"])
            .arg(self.sockdir())
            .args(extra)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        cmd
    }
}

/// A child stratumd whose stderr is read line by line; killed on drop.
struct Running {
    child: Child,
    lines: mpsc::Receiver<String>,
    log: Vec<String>,
}

impl Running {
    fn spawn(mut cmd: Command) -> Running {
        let mut child = cmd.spawn().expect("spawn stratumd");
        let stderr = child.stderr.take().expect("stderr");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        Running {
            child,
            lines,
            log: Vec::new(),
        }
    }

    /// Waits for the stratum listener; returns its address.
    fn wait_listening(&mut self) -> SocketAddr {
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    let addr = listening_addr(&line);
                    self.log.push(line);
                    if let Some(a) = addr {
                        return a;
                    }
                }
                Err(_) => panic!("stratumd did not start; log:\n{}", self.log.join("\n")),
            }
        }
    }

    /// Waits for the process to exit; returns whether it succeeded.
    fn wait_exit(&mut self) -> bool {
        let deadline = Instant::now() + EXIT_TIMEOUT;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status.success();
            }
            assert!(Instant::now() < deadline, "stratumd did not exit");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn listening_addr(line: &str) -> Option<SocketAddr> {
    let marker = "stratum listening on ";
    let i = line.find(marker)?;
    line[i + marker.len()..]
        .split([' ', ','])
        .next()?
        .parse()
        .ok()
}

/// Runs a command that should end quickly; returns (success, stdout, stderr).
fn run_to_end(mut cmd: Command) -> (bool, String, String) {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let child = cmd.spawn().expect("spawn stratumd");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    let out = rx
        .recv_timeout(EXIT_TIMEOUT)
        .expect("stratumd did not exit in time")
        .expect("wait for stratumd");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn signal(pid: i32, sig: &str) -> bool {
    Command::new("kill")
        .args([sig, &pid.to_string()])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Alive and not a zombie.
fn alive(pid: i32) -> bool {
    if !signal(pid, "-0") {
        return false;
    }
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')),
        Err(_) => false,
    }
}

fn read_pid(path: &Path) -> Option<i32> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

fn wait_for<T>(what: &str, within: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + within;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn unserved_modes_are_refused_by_name() {
    for (flag, mode) in [
        ("-p", "proxy"),
        ("--proxy", "proxy"),
        ("-P", "passthrough"),
        ("-N", "node"),
        ("-R", "redirector"),
        ("-u", "userproxy"),
        ("-t", "trusted"),
    ] {
        let mut cmd = Command::new(common::stratumd_bin());
        cmd.arg(flag);
        let (ok, _, stderr) = run_to_end(cmd);
        assert!(!ok, "{flag} should fail");
        assert!(
            stderr.contains(mode) && stderr.contains("not served"),
            "{flag}: {stderr}"
        );
    }
}

#[test]
fn help_lists_ckpools_flags() {
    let mut cmd = Command::new(common::stratumd_bin());
    cmd.arg("-h");
    let (ok, stdout, _) = run_to_end(cmd);
    assert!(ok);
    for flag in [
        "-c, --config",
        "-B, --btcsolo",
        "-D, --daemonise",
        "-g, --group",
        "-H, --handover",
        "-k, --killold",
        "-L, --log-shares",
        "-l, --loglevel",
        "-n, --name",
        "-s, --sockdir",
        "-q, --quiet",
        "-p, --proxy",
        "-P, --passthrough",
        "-N, --node",
        "-R, --redirector",
        "-u, --userproxy",
        "-t, --trusted",
        "--simnet",
    ] {
        assert!(stdout.contains(flag), "help lacks {flag}:\n{stdout}");
    }
}

#[test]
fn killold_with_a_stale_pid_file_starts() {
    let setup = Setup::new();
    std::fs::create_dir_all(setup.sockdir()).unwrap();
    // No process has this pid (above Linux's pid_max ceiling).
    std::fs::write(setup.pid_file(), "2147483646").unwrap();
    let mut server = Running::spawn(setup.command(&["-k"]));
    let addr = server.wait_listening();
    assert!(TcpStream::connect_timeout(&addr, Duration::from_secs(5)).is_ok());
    assert_eq!(read_pid(&setup.pid_file()), Some(server.child.id() as i32));
    // SIGTERM: a clean exit that removes the pid file.
    assert!(signal(server.child.id() as i32, "-TERM"));
    assert!(server.wait_exit(), "exit after SIGTERM: {:?}", server.log);
    assert!(!setup.pid_file().exists());
}

#[test]
fn second_instance_is_refused_without_k_and_replaces_with_k() {
    let setup = Setup::new();
    let mut first = Running::spawn(setup.command(&[]));
    first.wait_listening();
    let first_pid = first.child.id() as i32;
    assert_eq!(read_pid(&setup.pid_file()), Some(first_pid));

    let (ok, _, stderr) = run_to_end(setup.command(&[]));
    assert!(!ok, "second instance without -k must not start");
    assert!(
        stderr.contains("-k") && stderr.contains(&first_pid.to_string()),
        "{stderr}"
    );
    assert!(alive(first_pid), "the first instance must survive");

    let mut second = Running::spawn(setup.command(&["-k"]));
    let addr = second.wait_listening();
    assert!(
        first.wait_exit(),
        "the first instance exits cleanly on SIGTERM"
    );
    assert!(TcpStream::connect_timeout(&addr, Duration::from_secs(5)).is_ok());
    assert_eq!(read_pid(&setup.pid_file()), Some(second.child.id() as i32));
}

#[test]
fn daemonise_returns_at_once_and_the_daemon_serves() {
    let setup = Setup::new();
    let started = Instant::now();
    let (ok, _, stderr) = run_to_end(setup.command(&["-D"]));
    assert!(ok, "the parent exits 0: {stderr}");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "the parent returns promptly"
    );
    let pid = wait_for("the daemon's pid file", START_TIMEOUT, || {
        read_pid(&setup.pid_file())
    });
    assert!(alive(pid), "daemon pid {pid} is running");
    struct Kill(i32);
    impl Drop for Kill {
        fn drop(&mut self) {
            if alive(self.0) {
                signal(self.0, "-KILL");
            }
        }
    }
    let _guard = Kill(pid);
    let log_file = setup.dir.path().join("logs").join("flagtest.log");
    let addr = wait_for(
        "the daemon's listener in its log file",
        START_TIMEOUT,
        || {
            std::fs::read_to_string(&log_file)
                .ok()?
                .lines()
                .find_map(listening_addr)
        },
    );
    assert!(TcpStream::connect_timeout(&addr, Duration::from_secs(5)).is_ok());
    assert!(signal(pid, "-TERM"));
    wait_for("the daemon to exit", EXIT_TIMEOUT, || {
        (!alive(pid)).then_some(())
    });
    wait_for("the pid file to go", EXIT_TIMEOUT, || {
        (!setup.pid_file().exists()).then_some(())
    });
}

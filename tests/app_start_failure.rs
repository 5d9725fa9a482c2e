//! A start that fails part way leaves nothing running: the stratum listener it bound and
//! the simnet it started are gone when `app::start` returns the error. Alone in its test
//! binary: it reads the bound addresses from the log through a thread-local tracing
//! subscriber, which tests running beside it in one process would disturb (tracing caches
//! which subscriber wants a log line per call site, for the whole process).

use std::io::Write;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::json;
use stratumd::config::{Config, Overrides, SimnetNode};

/// Log lines written by the server's tracing, for the addresses it bound.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }

    /// The address logged after `marker` (up to the next space or comma).
    fn addr_after(&self, marker: &str) -> SocketAddr {
        let text = self.text();
        let at = text
            .find(marker)
            .unwrap_or_else(|| panic!("no `{marker}` in the log:\n{text}"));
        let rest = &text[at + marker.len()..];
        let end = rest.find([' ', ',', '\n']).unwrap_or(rest.len());
        rest[..end]
            .parse()
            .unwrap_or_else(|e| panic!("`{}`: {e}", &rest[..end]))
    }
}

// One thread: the server's tasks log through this test's subscriber.
#[tokio::test(flavor = "current_thread")]
async fn a_failed_start_leaves_nothing_running() {
    let log = Captured::default();
    let writer = log.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let dir = tempfile::tempdir().unwrap();
    // The control socket's directory is a file: the last step of start-up fails, after
    // simnet runs and the stratum listener is bound.
    let not_a_dir = dir.path().join("sockdir");
    std::fs::write(&not_a_dir, "a file").unwrap();
    let conf = json!({
        "serverurl": "127.0.0.1:0",
        "logdir": dir.path().join("logs").display().to_string(),
        "sockdir": not_a_dir.display().to_string(),
    });
    let overrides = Overrides {
        simnet: Some(SimnetNode {
            difficulty: 1000.0,
            transactions: 0,
        }),
        ..Overrides::solo()
    };
    let config = Config::parse(&conf.to_string(), &overrides).unwrap();
    let err = match stratumd::app::start(config).await {
        Ok(_) => panic!("start-up must fail on the control socket"),
        Err(e) => e.to_string(),
    };
    assert!(err.contains("`sockdir`"), "{err}");

    let stratum = log.addr_after("stratum listening on ");
    let rpc = log.addr_after("simnet JSON-RPC on http://");
    for (what, addr) in [("stratum listener", stratum), ("simnet", rpc)] {
        let connected = tokio::time::timeout(
            Duration::from_secs(10),
            tokio::net::TcpStream::connect(addr),
        )
        .await
        .expect("connect answers at once");
        assert!(
            connected.is_err(),
            "the {what} at {addr} still accepts connections after a failed start"
        );
    }
}

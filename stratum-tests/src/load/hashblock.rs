//! When the node announced each block: a ZMQ SUB on bitcoind's (or simnet's) `hashblock`
//! topic, on a thread of its own so the busy runtime cannot delay the stamp. The fan-out is
//! measured from this event, the anchor PERFORMANCE.md names.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Instant;

/// How often the thread looks at its stop flag.
const POLL_MS: i32 = 100;

/// Announcements seen so far, newest last.
type Seen = Arc<Mutex<Vec<(String, Instant)>>>;

/// A running `hashblock` subscription.
#[derive(Debug)]
pub struct HashblockWatch {
    seen: Seen,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl HashblockWatch {
    /// Subscribes to `endpoint` (e.g. `tcp://127.0.0.1:28332`).
    pub fn start(endpoint: &str) -> Result<HashblockWatch, String> {
        let ctx = zmq::Context::new();
        let sub = ctx
            .socket(zmq::SUB)
            .map_err(|e| format!("--fanout-zmq: socket: {e}"))?;
        sub.set_subscribe(b"hashblock")
            .and_then(|()| sub.set_rcvtimeo(POLL_MS))
            .and_then(|()| sub.connect(endpoint))
            .map_err(|e| format!("--fanout-zmq {endpoint}: {e}"))?;
        let seen: Seen = Arc::default();
        let stop = Arc::new(AtomicBool::new(false));
        let (seen2, stop2) = (seen.clone(), stop.clone());
        let thread = std::thread::Builder::new()
            .name("hashblock".into())
            .spawn(move || {
                let _ctx = ctx;
                while !stop2.load(Ordering::Relaxed) {
                    let Ok(parts) = sub.recv_multipart(0) else {
                        continue; // timeout: look at the stop flag
                    };
                    let at = Instant::now();
                    if let [topic, body, ..] = parts.as_slice() {
                        if topic.as_slice() == b"hashblock" && body.len() == 32 {
                            let mut v = seen2.lock().unwrap_or_else(|p| p.into_inner());
                            v.push((hex::encode(body), at));
                        }
                    }
                }
            })
            .map_err(|e| format!("--fanout-zmq: thread: {e}"))?;
        Ok(HashblockWatch {
            seen,
            stop,
            thread: Some(thread),
        })
    }

    /// When block `hash` (hex, as the RPC returns it) was announced, if it was.
    pub fn announced(&self, hash: &str) -> Option<Instant> {
        let v = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        v.iter().find(|(h, _)| h == hash).map(|&(_, at)| at)
    }
}

impl Drop for HashblockWatch {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

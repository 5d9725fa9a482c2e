//! bitcoind's ZMQ `hashblock` feed: a blocking SUB socket on its own thread that pokes the
//! template source whenever a new block arrives.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Stops the subscriber thread when dropped.
#[derive(Debug)]
pub struct ZmqSubscriber {
    stop: Arc<AtomicBool>,
}

impl Drop for ZmqSubscriber {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Subscribes to `hashblock` at `endpoint`; `on_block` is called for each message and
/// answers whether anyone still listens (the thread stops when not). Connection problems
/// are retried by ZMQ itself.
pub fn spawn(
    endpoint: String,
    on_block: impl Fn() -> bool + Send + 'static,
) -> Result<ZmqSubscriber, zmq::Error> {
    let ctx = zmq::Context::new();
    let socket = ctx.socket(zmq::SUB)?;
    socket.set_rcvtimeo(250)?;
    socket.set_subscribe(b"hashblock")?;
    socket.connect(&endpoint)?;
    let stop = Arc::new(AtomicBool::new(false));
    let thread_stop = stop.clone();
    std::thread::Builder::new()
        .name("zmq-hashblock".into())
        .spawn(move || {
            let _ctx = ctx;
            while !thread_stop.load(Ordering::Relaxed) {
                match socket.recv_multipart(0) {
                    Ok(frames) => {
                        if frames.len() >= 2 && frames[0] == b"hashblock" && frames[1].len() == 32 {
                            // bitcoind sends the hash in display (RPC) order.
                            tracing::debug!(hash = %hex::encode(&frames[1]), "zmq hashblock");
                            if !on_block() {
                                break;
                            }
                        } else {
                            tracing::warn!(%endpoint, "unexpected ZMQ message with {} frames", frames.len());
                        }
                    }
                    Err(zmq::Error::EAGAIN) => {}
                    Err(e) => {
                        tracing::warn!(%endpoint, "ZMQ receive failed: {e}");
                        std::thread::sleep(std::time::Duration::from_millis(250));
                    }
                }
            }
        })
        .map_err(|_| zmq::Error::EFAULT)?;
    Ok(ZmqSubscriber { stop })
}

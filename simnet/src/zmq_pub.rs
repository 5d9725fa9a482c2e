//! The ZMQ `hashblock` publisher, on its own thread because the `zmq` crate is blocking.
//!
//! It uses an XPUB socket (which SUB sockets see as a plain PUB) so that it can
//! count subscriptions and let tests wait until a subscriber has really joined.

use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::thread::JoinHandle;
use std::time::Duration;

use bitcoin::hashes::Hash;
use bitcoin::BlockHash;

use crate::SimnetError;

/// What the publisher thread is asked to do.
pub(crate) enum ZmqMsg {
    /// Announce a new tip.
    HashBlock(BlockHash),
    /// Exit the thread.
    Stop,
}

/// The running publisher thread.
pub(crate) struct ZmqPublisher {
    tx: Sender<ZmqMsg>,
    thread: Option<JoinHandle<()>>,
}

/// bitcoind's three frames for a new tip: topic, hash in display order, little-endian sequence.
pub(crate) fn hashblock_frames(hash: &BlockHash, seq: u32) -> [Vec<u8>; 3] {
    let mut h = hash.to_byte_array();
    h.reverse();
    [
        b"hashblock".to_vec(),
        h.to_vec(),
        seq.to_le_bytes().to_vec(),
    ]
}

impl ZmqPublisher {
    /// Binds the socket and starts the thread; returns the real endpoint and a counter of subscriptions seen.
    pub(crate) fn start(
        bind: &str,
    ) -> Result<(Self, String, tokio::sync::watch::Receiver<u64>), SimnetError> {
        let err = |e: zmq::Error| SimnetError::ZmqBind {
            endpoint: bind.to_string(),
            reason: e.to_string(),
        };
        let ctx = zmq::Context::new();
        let socket = ctx.socket(zmq::XPUB).map_err(err)?;
        socket.set_linger(0).map_err(err)?;
        socket.set_xpub_verbose(true).map_err(err)?;
        socket.bind(bind).map_err(err)?;
        let endpoint =
            socket
                .get_last_endpoint()
                .map_err(err)?
                .map_err(|raw| SimnetError::ZmqBind {
                    endpoint: bind.to_string(),
                    reason: format!("endpoint is not UTF-8: {raw:?}"),
                })?;
        let (tx, rx) = mpsc::channel();
        let (subs_tx, subs_rx) = tokio::sync::watch::channel(0u64);
        let thread = std::thread::Builder::new()
            .name("simnet-zmq".to_string())
            .spawn(move || run(ctx, socket, rx, subs_tx))
            .map_err(|e| SimnetError::ZmqBind {
                endpoint: bind.to_string(),
                reason: format!("cannot spawn publisher thread: {e}"),
            })?;
        Ok((
            ZmqPublisher {
                tx,
                thread: Some(thread),
            },
            endpoint,
            subs_rx,
        ))
    }

    /// A sender of new tip hashes to publish.
    pub(crate) fn sender(&self) -> Sender<ZmqMsg> {
        self.tx.clone()
    }

    /// Asks the thread to exit without waiting for it.
    pub(crate) fn signal_stop(&self) {
        let _ = self.tx.send(ZmqMsg::Stop);
    }

    /// Stops the thread (blocking until it exits).
    pub(crate) fn stop(mut self) {
        self.signal_stop();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Publishes hashes until told to stop (or every sender is dropped), counting subscriptions in between.
fn run(
    _ctx: zmq::Context,
    socket: zmq::Socket,
    rx: Receiver<ZmqMsg>,
    subs: tokio::sync::watch::Sender<u64>,
) {
    let mut seq: u32 = 0;
    loop {
        // Drain subscription messages (first byte 1 = subscribe).
        while let Ok(msg) = socket.recv_bytes(zmq::DONTWAIT) {
            if msg.first() == Some(&1) {
                subs.send_modify(|n| *n += 1);
            }
        }
        match rx.recv_timeout(Duration::from_millis(5)) {
            Ok(ZmqMsg::HashBlock(hash)) => {
                let frames = hashblock_frames(&hash, seq);
                if let Err(e) = socket.send_multipart(frames, 0) {
                    tracing::warn!("simnet: ZMQ publish failed: {e}");
                }
                seq = seq.wrapping_add(1);
            }
            Err(RecvTimeoutError::Timeout) => {}
            Ok(ZmqMsg::Stop) | Err(RecvTimeoutError::Disconnected) => break,
        }
    }
}

//! ckpool-solo's ZMQ output (`zmqpub`): every new job as a `Workbase`, the notify each user
//! got as a `UserWorkbase`, and every accepted share as a `Share`, one JSON document per
//! single-frame message on a PUB socket, as P2Poolv2 consumed them from ckpool-solo.
//!
//! Events arrive on a bounded [`crate::events`] channel (full = dropped, never waiting) and
//! a dedicated thread converts and sends them without blocking: past the socket's
//! high-water mark a slow or absent subscriber loses messages, miners never wait.

pub mod convert;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use tokio::sync::mpsc;

use crate::config::{Config, ConfigError};
use crate::events::{Event, EventsBuilder, Interest};
use convert::Converter;

/// Events queued for the publisher before new ones are dropped.
pub const EVENT_CAPACITY: usize = 65_536;
/// Messages ZMQ queues per subscriber before it drops (ZMQ_SNDHWM).
pub const SEND_HWM: i32 = 100_000;

/// Registers the ZMQ publisher's interest when `zmqpub` is set; `None` when it is off, so
/// the hot path builds no records for it.
pub fn subscribe(events: &mut EventsBuilder, config: &Config) -> Option<mpsc::Receiver<Event>> {
    config.zmqpub.as_ref()?;
    Some(events.subscribe(
        "zmqpub",
        Interest {
            jobs: true,
            user_notifies: true,
            accepted_shares: true,
            ..Interest::default()
        },
        EVENT_CAPACITY,
    ))
}

/// What the publisher has sent and what ZMQ refused, for `/metrics`.
#[derive(Debug, Default)]
pub struct ZmqCounts {
    /// Messages handed to the PUB socket.
    pub published: AtomicU64,
    /// Messages ZMQ refused (counted, never retried). A PUB socket past its high-water mark
    /// drops for a slow subscriber without telling: those are not counted here.
    pub dropped: AtomicU64,
}

/// A bound publisher; [`Publisher::run`] moves it onto its own thread.
pub struct Publisher {
    // Declared before the context so it closes first (a context waits for its sockets).
    socket: zmq::Socket,
    _context: zmq::Context,
    endpoint: String,
    converter: Converter,
    /// Messages sent and refused.
    pub counts: Arc<ZmqCounts>,
}

impl Publisher {
    /// Binds the PUB socket on `endpoint` now, so a bad `zmqpub` fails start-up with an
    /// error naming the key rather than silently publishing nothing.
    pub fn bind(endpoint: &str, mindiff: f64) -> Result<Publisher, ConfigError> {
        let invalid = |what: &str, e: zmq::Error| ConfigError::Invalid {
            key: "zmqpub",
            problem: format!("cannot {what} ZMQ PUB socket on {endpoint}: {e}"),
        };
        let context = zmq::Context::new();
        let socket = context.socket(zmq::PUB).map_err(|e| invalid("create", e))?;
        socket
            .set_sndhwm(SEND_HWM)
            .map_err(|e| invalid("configure", e))?;
        // Unsent messages are worthless once we stop; never hold exit for them.
        socket.set_linger(0).map_err(|e| invalid("configure", e))?;
        socket.bind(endpoint).map_err(|e| invalid("bind", e))?;
        Ok(Publisher {
            socket,
            _context: context,
            endpoint: endpoint.to_string(),
            converter: Converter::new(mindiff),
            counts: Arc::new(ZmqCounts::default()),
        })
    }

    /// The endpoint actually bound (resolves a `*` port), for logs and tests.
    pub fn last_endpoint(&self) -> Option<String> {
        self.socket.get_last_endpoint().ok().and_then(Result::ok)
    }

    /// Publishes events from `rx` until every sender is gone, on a thread of its own
    /// because ZMQ sockets are blocking objects that must not sit on the async runtime.
    pub fn run(self, rx: mpsc::Receiver<Event>) -> std::io::Result<std::thread::JoinHandle<()>> {
        std::thread::Builder::new()
            .name("zmqpub".into())
            .spawn(move || self.publish_all(rx))
    }

    fn publish_all(mut self, mut rx: mpsc::Receiver<Event>) {
        let mut out = Vec::new();
        while let Some(event) = rx.blocking_recv() {
            self.converter.on_event(event, &mut out);
            for msg in out.drain(..) {
                let text = ckpool_compat::zmq::to_json_line(&msg);
                if let Err(e) = self.socket.send(text.as_bytes(), zmq::DONTWAIT) {
                    let n = self.counts.dropped.fetch_add(1, Ordering::Relaxed) + 1;
                    if n.is_power_of_two() {
                        tracing::warn!(
                            endpoint = %self.endpoint,
                            dropped = n,
                            "zmqpub: message dropped: {e}"
                        );
                    }
                } else {
                    self.counts.published.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
    }
}

/// Binds `zmqpub` when it is set (`None` when it is off), so that a bad endpoint is a
/// start-up error; [`Publisher::run`] then publishes.
pub fn bind_for(config: &Config) -> Result<Option<Publisher>, ConfigError> {
    let Some(endpoint) = config.zmqpub.as_deref() else {
        return Ok(None);
    };
    let publisher = Publisher::bind(endpoint, config.zmqpub_mindiff)?;
    let bound = publisher
        .last_endpoint()
        .unwrap_or_else(|| endpoint.to_string());
    tracing::info!("zmqpub publishing on {bound}");
    Ok(Some(publisher))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A `zmqpub` that cannot be bound fails start-up with an error naming the key.
    #[test]
    fn bind_failure_names_the_key() {
        let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let endpoint = format!("tcp://{}", taken.local_addr().unwrap());
        let err = Publisher::bind(&endpoint, 0.0).err().unwrap().to_string();
        assert!(err.contains("`zmqpub`") && err.contains(&endpoint), "{err}");
        let ok = Publisher::bind("tcp://127.0.0.1:*", 0.0).unwrap();
        assert!(ok.last_endpoint().unwrap().starts_with("tcp://127.0.0.1:"));
    }

    /// Off by default: no subscription, nothing started.
    #[test]
    fn off_without_zmqpub() {
        let config = Config::parse("{}", &crate::config::Overrides::solo()).unwrap();
        let mut events = EventsBuilder::default();
        let rx = subscribe(&mut events, &config);
        assert!(rx.is_none());
        assert!(!events.build().interest().jobs);
        assert!(bind_for(&config).unwrap().is_none());
    }
}

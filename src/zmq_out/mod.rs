//! ckpool-solo's ZMQ output (`zmqpub`): every new job as a `Workbase`, the notify each user
//! got as a `UserWorkbase`, and every accepted share as a `Share`, one JSON document per
//! single-frame message on a PUB socket, as P2Poolv2 consumed them from ckpool-solo.
//!
//! Events arrive on a bounded [`crate::events`] channel (full = dropped, never waiting) and
//! a dedicated thread converts and sends them without blocking: past the socket's
//! high-water mark a slow or absent subscriber loses messages, miners never wait.
//!
//! The socket is an XPUB (a PUB that hears subscriptions; subscribers see no difference): a
//! subscriber that connects or reconnects mid-job is sent the newest jobs' `Workbase`s and
//! `UserWorkbase`s again at once ([`convert::Converter::replay`]), so that its first shares
//! are not orphaned for want of a workbase that went out before it joined.

pub mod convert;
pub mod xpub;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use tokio::sync::mpsc;

use crate::config::{Config, ConfigError};
use crate::events::{Event, EventsBuilder, Interest};
use ckpool_compat::zmq::ZmqMessage;
use convert::Converter;

/// Events queued for the publisher before new ones are dropped.
pub const EVENT_CAPACITY: usize = 65_536;
/// Messages ZMQ queues per subscriber before it drops (ZMQ_SNDHWM).
pub const SEND_HWM: i32 = 100_000;
/// How long the publisher waits on the socket for a subscription when no event is queued:
/// the most an event then waits to be published.
const IDLE_POLL_MS: i64 = 5;
/// Events converted and sent between two looks at the socket's subscriptions.
const EVENTS_PER_ROUND: usize = 1024;

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
    /// Subscriptions seen (each one replayed the newest jobs to every subscriber).
    pub subscriptions: AtomicU64,
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
        let mut socket = context
            .socket(zmq::XPUB)
            .map_err(|e| invalid("create", e))?;
        // Every subscription reaches us (a reconnecting subscriber's too), and is applied
        // only by us: see `on_subscriptions`.
        socket
            .set_xpub_verbose(true)
            .map_err(|e| invalid("configure", e))?;
        xpub::set_manual(&mut socket).map_err(|e| invalid("configure", e))?;
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

    /// Until every sender of `rx` is gone: the queued events, then a look at the socket
    /// for subscriptions (waiting up to [`IDLE_POLL_MS`] when no event is queued).
    fn publish_all(mut self, mut rx: mpsc::Receiver<Event>) {
        let mut out = Vec::new();
        loop {
            let mut converted = 0;
            while converted < EVENTS_PER_ROUND {
                match rx.try_recv() {
                    Ok(event) => {
                        self.converter.on_event(event, &mut out);
                        self.send_all(&mut out);
                        converted += 1;
                    }
                    Err(mpsc::error::TryRecvError::Empty) => break,
                    Err(mpsc::error::TryRecvError::Disconnected) => return,
                }
            }
            let wait = if converted == 0 { IDLE_POLL_MS } else { 0 };
            match self.socket.poll(zmq::POLLIN, wait) {
                Ok(n) if n > 0 => self.on_subscriptions(&mut out),
                Ok(_) => {}
                Err(e) => {
                    tracing::error!(endpoint = %self.endpoint, "zmqpub: cannot poll the socket: {e}; publishing stopped");
                    return;
                }
            }
        }
    }

    /// Reads what subscribers sent (byte 1 then a topic: subscribe; byte 0: unsubscribe),
    /// applies each to the subscriber that sent it (manual mode: libzmq applies an option
    /// to the pipe of the last message read), then, if any subscribed, replays the newest
    /// jobs before anything else is sent, so that they are a new subscriber's first
    /// messages.
    fn on_subscriptions(&mut self, out: &mut Vec<ZmqMessage>) {
        let mut subscribed = 0u64;
        while let Ok(msg) = self.socket.recv_bytes(zmq::DONTWAIT) {
            let applied = match msg.split_first() {
                Some((1, topic)) => {
                    subscribed += 1;
                    self.socket.set_subscribe(topic)
                }
                Some((0, topic)) => self.socket.set_unsubscribe(topic),
                _ => Ok(()),
            };
            if let Err(e) = applied {
                tracing::warn!(endpoint = %self.endpoint, "zmqpub: cannot apply a subscription: {e}");
            }
        }
        if subscribed == 0 {
            return;
        }
        self.counts
            .subscriptions
            .fetch_add(subscribed, Ordering::Relaxed);
        self.converter.replay(out);
        tracing::info!(
            endpoint = %self.endpoint,
            "zmqpub: a subscriber joined; sent the newest jobs again ({} messages)",
            out.len()
        );
        self.send_all(out);
    }

    fn send_all(&self, out: &mut Vec<ZmqMessage>) {
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

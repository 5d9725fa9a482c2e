//! The stratum listener and the per-connection task: read lines, feed the session, write
//! its outbox in one batch, follow the job board, and enforce the handshake timeout.
//!
//! The waits on shutdown, new jobs and reconnect requests live as long as the connection:
//! re-creating them in every round of the loop registered and unregistered each session with
//! those shared notifiers on every share.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::admission::Refusal;
use super::codec::{LineError, LineReader};
use super::context::ServerContext;
use super::refusal_log::RefusalLog;
use super::session::Session;
use crate::work::delivery::SessionDeliveries;
use crate::work::Posting;

/// Initial read buffer per connection.
const READ_BUFFER: usize = 512;

/// Pending connections the kernel queues for `accept`. A farm's miners all reconnect at
/// once after a restart; past tokio's default of 1,024 the kernel falls back to SYN cookies
/// (this machine's `dmesg` shows it for earlier storm runs). The kernel caps the value at
/// `net.core.somaxconn` (4,096 by default).
const LISTEN_BACKLOG: u32 = 4096;

/// A job that keeps the miner on the same block (the periodic refresh, new payouts) reaches
/// the sessions spread over this long, each at its own offset. Sent all at once, 10,000
/// notifies took the server's cores for about 80 ms, and every share that arrived meanwhile
/// waited behind them. A new block's job goes out at once.
const REFRESH_SPREAD: Duration = Duration::from_millis(500);

/// A bound stratum listener.
pub struct StratumServer {
    listener: TcpListener,
    /// The address as configured (ckpool reports it as a share's `createinet`).
    configured: SocketAddr,
    /// Difficulty new miners on this listener start at (ckpool: `highdiff` above port 4000).
    startdiff: f64,
    ctx: Arc<ServerContext>,
    /// Refusals logged at most once a minute per limit, not once per connection.
    refusals: RefusalLog,
}

impl StratumServer {
    /// Binds `addr` (port 0 picks a free port); miners here start at `startdiff`.
    pub async fn bind(
        addr: SocketAddr,
        startdiff: f64,
        ctx: Arc<ServerContext>,
    ) -> std::io::Result<Self> {
        let socket = match addr {
            SocketAddr::V4(_) => TcpSocket::new_v4()?,
            SocketAddr::V6(_) => TcpSocket::new_v6()?,
        };
        // As tokio's own bind does, so a restart can rebind while old connections linger.
        socket.set_reuseaddr(true)?;
        socket.bind(addr)?;
        let listener = socket.listen(LISTEN_BACKLOG)?;
        Ok(StratumServer {
            listener,
            configured: addr,
            startdiff,
            ctx,
            refusals: RefusalLog::default(),
        })
    }

    /// The address actually bound.
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Accepts connections until `shutdown` fires.
    pub async fn run(mut self, shutdown: CancellationToken) {
        loop {
            let accepted = tokio::select! {
                _ = shutdown.cancelled() => return,
                a = self.listener.accept() => a,
            };
            match accepted {
                Ok((stream, peer)) => {
                    let ctx = self.ctx.clone();
                    let shutdown = shutdown.clone();
                    let listener = self.configured;
                    let startdiff = self.startdiff;
                    // Counted before the task starts, so a burst of accepts cannot pass
                    // `maxclients` before the first of them is counted.
                    let counted = match ctx.admission.try_admit(peer.ip()) {
                        Ok(counted) => counted,
                        Err(refusal) => {
                            self.refusals.note(refusal, peer);
                            tokio::spawn(refuse(stream, refusal, ctx.settings.write_timeout));
                            continue;
                        }
                    };
                    tokio::spawn(async move {
                        serve_connection(stream, peer, listener, startdiff, ctx, shutdown).await;
                        drop(counted);
                    });
                }
                Err(e) => {
                    // EMFILE and friends: log, back off briefly, keep serving the others.
                    tracing::warn!("accept failed: {e}");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
            }
        }
    }
}

async fn serve_connection(
    stream: TcpStream,
    peer: SocketAddr,
    listener: SocketAddr,
    startdiff: f64,
    ctx: Arc<ServerContext>,
    shutdown: CancellationToken,
) {
    let _ = stream.set_nodelay(true);
    let (rd, mut wr) = stream.into_split();
    // Requests are small: start the read buffer small, it grows for the rare long line. Idle
    // miners are most of a pool's memory.
    let mut lines = LineReader::new(rd, ctx.settings.max_line, READ_BUFFER);
    // New receivers count what was sent before them as seen: a job published from here on
    // wakes this session.
    let board = ctx.board.subscribe();
    let mut deliveries = SessionDeliveries::new(board.joined);
    let mut directives = ctx.directives();
    let mut session = Session::new(ctx.clone(), peer, listener, startdiff);
    let first = *directives.borrow_and_update();
    let mut reconnects_seen = first.reconnect;
    session.on_directives(&first);
    let handshake_deadline = tokio::time::Instant::now() + ctx.settings.handshake_timeout;

    let mut cancelled = std::pin::pin!(shutdown.cancelled());
    // Boxed so that it (and the receiver it owns) can be dropped before the session counts
    // itself out of the newest block's delivery.
    let mut next_job = Box::pin(next_change(board.jobs));
    let mut next_directive = std::pin::pin!(next_change(directives));
    let mut directives_open = true;
    // A refresh waiting for this session's turn.
    let mut deferred: Option<Arc<Posting>> = None;
    let mut deferred_until = tokio::time::Instant::now();
    let refresh_offset = REFRESH_SPREAD.mul_f64(spread_fraction(session.client_id));
    loop {
        // A job this session has just handled, reported once its notify is written.
        let mut handled_job = None;
        let wake_at = if session.is_ready() {
            deferred_until
        } else {
            handshake_deadline
        };
        tokio::select! {
            biased;
            _ = &mut cancelled => break,
            (open, mut jobs) = &mut next_job => {
                if !open {
                    break;
                }
                let job = jobs.borrow_and_update().clone();
                next_job.set(next_change(jobs));
                match job {
                    Some(job) if session.is_ready() && !session.needs_clean(&job.job) => {
                        if deferred.is_none() {
                            deferred_until = tokio::time::Instant::now() + refresh_offset;
                        }
                        deferred = Some(job);
                    }
                    Some(job) => {
                        deferred = None;
                        session.on_new_job(job.clone());
                        handled_job = Some(job);
                    }
                    None => {}
                }
            }
            more = lines.fill() => {
                if !matches!(more, Ok(true)) {
                    break;
                }
                // Everything read is answered in one write (bitaxe pipelines its handshake).
                while let Some(line) = lines.next_line() {
                    if !handle_line(&mut session, line) || session.closing {
                        session.closing = true;
                        break;
                    }
                }
            }
            (open, mut directives) = &mut next_directive, if directives_open => {
                directives_open = open;
                if open {
                    let d = *directives.borrow_and_update();
                    if d.reconnect != reconnects_seen {
                        reconnects_seen = d.reconnect;
                        session.reconnect();
                    }
                    session.on_directives(&d);
                }
                next_directive.set(next_change(directives));
            }
            // One timer for both: the handshake deadline before the session is ready, a
            // deferred refresh after.
            _ = tokio::time::sleep_until(wake_at), if !session.is_ready() || deferred.is_some() => {
                if !session.is_ready() {
                    tracing::debug!(%peer, "no subscribe and authorize in time; closing");
                    break;
                }
                if let Some(job) = deferred.take() {
                    session.on_new_job(job.clone());
                    handled_job = Some(job);
                }
            }
        }
        if !session.outbox.is_empty() {
            let write = wr.write_all(&session.outbox);
            match tokio::time::timeout(ctx.settings.write_timeout, write).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) | Err(_) => break,
            }
            session.outbox_written();
        }
        // Shares that matter for money are never dropped: when the sink is full, this
        // miner waits (after its reply went out) until there is room.
        if !session.unsent_found.is_empty() {
            hand_on_found(&ctx, &mut session).await;
        }
        if let Some(job) = handled_job {
            deliveries.done_with(job.delivery());
        }
        if session.closing {
            break;
        }
    }
    // A found share still waiting for room goes on whatever ended the connection (a failed
    // write, the handshake deadline, shutdown).
    if !session.unsent_found.is_empty() {
        hand_on_found(&ctx, &mut session).await;
    }
    // Release the session first: once the miner sees the close it may resume right away.
    session.end();
    // A session leaving before it handled the newest block is no longer waiting for it. Its
    // receiver goes first, so no later block counts it.
    drop(next_job);
    if let Some(latest) = ctx.board.latest() {
        deliveries.done_with(latest.delivery());
    }
    let _ = wr.shutdown().await;
}

/// Hands the session's waiting found shares to the sink, waiting for room. Boxed: the
/// wait is rare, and its future (a share and a semaphore wait) would otherwise enlarge
/// every connection's task.
fn hand_on_found<'a>(
    ctx: &'a ServerContext,
    session: &'a mut Session,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send + 'a>> {
    Box::pin(async move {
        for held in std::mem::take(&mut session.unsent_found) {
            // On failure the held share reports itself lost as it drops.
            let _ = ctx.found.send_held(held).await;
        }
    })
}

/// Past `maxclients`: one error line, then close (ckpool drops such connections silently).
/// Tells a refused miner why, then closes.
async fn refuse(mut stream: TcpStream, refusal: Refusal, timeout: std::time::Duration) {
    let _ = tokio::time::timeout(timeout, stream.write_all(refusal.line())).await;
    let _ = stream.shutdown().await;
}

/// Where in [`REFRESH_SPREAD`] a session's refreshes go: a fixed, well-mixed fraction of its
/// client id, so the sessions spread evenly.
fn spread_fraction(client_id: u64) -> f64 {
    let mut x = client_id.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^= x >> 31;
    (x >> 11) as f64 / (1u64 << 53) as f64
}

/// Waits for the next change of a watch channel. It owns the receiver, so one wait (and its
/// place in the sender's list of waiters) lasts until the change comes.
async fn next_change<T>(mut rx: watch::Receiver<T>) -> (bool, watch::Receiver<T>) {
    let open = rx.changed().await.is_ok();
    (open, rx)
}

/// Feeds one framed line to the session; false when the connection must close.
fn handle_line(session: &mut Session, line: Result<&[u8], LineError>) -> bool {
    match line {
        Ok(bytes) => {
            super::request::handle_line(session, bytes);
            true
        }
        Err(e) => {
            tracing::info!(peer = %session.peer, "{e}; closing");
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refresh_offsets_cover_the_spread_evenly() {
        let mut deciles = [0u32; 10];
        for id in 1..=10_000u64 {
            let f = spread_fraction(id);
            assert!((0.0..1.0).contains(&f), "{f}");
            deciles[(f * 10.0) as usize] += 1;
        }
        for (i, n) in deciles.iter().enumerate() {
            assert!(
                (850..=1150).contains(n),
                "decile {i} holds {n} of 10,000 sessions"
            );
        }
    }
}

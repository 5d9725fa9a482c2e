//! `fanout-floor`: the physical floor of a block fan-out on this machine, to set stratumd's
//! figure against. The writer (this process) accepts N loopback TCP connections from a
//! reader (a child process running `fanout-floor --reader`, as the miners' side is a process
//! of its own in the load scenarios). Each round it writes the same bytes (a notify's size)
//! to every connection from plain threads, one `write` per socket and no stratum logic; the
//! reader's tokio runtime reads them with one task per connection, as `stratum-load` does.
//! It prints the time from the first write to the readers' receipt: p50, p99 and last.
//!
//! Usage: `fanout-floor [connections=10000] [bytes=700] [writer_threads=2] [rounds=5]`

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use stratum_tests::load::fanout::quantile_sorted;
use stratum_tests::load::limits::raise_nofile;
use tokio::io::AsyncReadExt;

/// Nanoseconds on the monotonic clock, which both processes share.
fn mono_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime only writes the struct passed by pointer.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

fn arg(args: &[String], i: usize, default: usize) -> usize {
    args.get(i).and_then(|s| s.parse().ok()).unwrap_or(default)
}

fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    raise_nofile().map_err(std::io::Error::other)?;
    if args.get(1).map(String::as_str) == Some("--reader") {
        let addr = args.get(2).cloned().unwrap_or_default();
        return reader(&addr, arg(&args, 3, 10_000), arg(&args, 4, 700));
    }
    let (conns, bytes, writers, rounds) = (
        arg(&args, 1, 10_000),
        arg(&args, 2, 700).max(1),
        arg(&args, 3, 2).max(1),
        arg(&args, 4, 5),
    );
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    let exe = std::env::current_exe()?;
    let mut child = Command::new(exe)
        .args([
            "--reader",
            &addr.to_string(),
            &conns.to_string(),
            &bytes.to_string(),
        ])
        .stdout(Stdio::piped())
        .stdin(Stdio::null())
        .spawn()?;
    let mut lines = BufReader::new(
        child
            .stdout
            .take()
            .ok_or_else(|| std::io::Error::other("no stdout"))?,
    )
    .lines();
    let mut socks = Vec::with_capacity(conns);
    for _ in 0..conns {
        let (s, _) = listener.accept()?;
        s.set_nodelay(true)?;
        socks.push(s);
    }
    let payload = vec![b'x'; bytes];
    let per = conns.div_ceil(writers);
    let mut chunks: Vec<Arc<Mutex<Vec<TcpStream>>>> = Vec::new();
    let mut it = socks.into_iter().peekable();
    while it.peek().is_some() {
        chunks.push(Arc::new(Mutex::new(it.by_ref().take(per).collect())));
    }
    println!("connections {conns}, {bytes} bytes each, {writers} writer threads");
    for round in 1..=rounds {
        // The reader says it is ready for the round (every task waiting on its socket).
        match lines.next() {
            Some(Ok(l)) if l == "ready" => {}
            other => return Err(std::io::Error::other(format!("reader: {other:?}"))),
        }
        let start = mono_ns();
        let handles: Vec<_> = chunks
            .iter()
            .map(|chunk| {
                let (chunk, payload) = (chunk.clone(), payload.clone());
                std::thread::spawn(move || -> std::io::Result<()> {
                    let mut socks = chunk.lock().unwrap_or_else(|p| p.into_inner());
                    for s in socks.iter_mut() {
                        s.write_all(&payload)?;
                    }
                    Ok(())
                })
            })
            .collect();
        for h in handles {
            h.join()
                .map_err(|_| std::io::Error::other("writer panicked"))??;
        }
        let written = mono_ns() - start;
        let Some(Ok(line)) = lines.next() else {
            return Err(std::io::Error::other("reader ended"));
        };
        let q: Vec<u64> = line.split(' ').filter_map(|s| s.parse().ok()).collect();
        let [p50, p99, last] = q[..] else {
            return Err(std::io::Error::other(format!("reader said {line:?}")));
        };
        let ms = |t: u64| t.saturating_sub(start) as f64 / 1e6;
        println!(
            "round {round}: writes done {:.1} ms; received p50 {:.1} ms, p99 {:.1} ms, last {:.1} ms",
            written as f64 / 1e6,
            ms(p50),
            ms(p99),
            ms(last),
        );
    }
    drop(chunks);
    let _ = child.wait();
    Ok(())
}

/// The miners' side: connects `conns` sockets, then each round reads `bytes` on every one and
/// prints the p50, p99 and last arrival (monotonic ns).
fn reader(addr: &str, conns: usize, bytes: usize) -> std::io::Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    rt.block_on(async {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<u64>();
        for _ in 0..conns {
            let s = tokio::net::TcpStream::connect(addr).await?;
            s.set_nodelay(true)?;
            let tx = tx.clone();
            tokio::spawn(async move {
                let mut s = s;
                let mut buf = vec![0u8; bytes];
                while s.read_exact(&mut buf).await.is_ok() {
                    if tx.send(mono_ns()).is_err() {
                        break;
                    }
                }
            });
        }
        drop(tx);
        let mut out = std::io::stdout();
        loop {
            writeln!(out, "ready")?;
            out.flush()?;
            let mut at = Vec::with_capacity(conns);
            while at.len() < conns {
                match tokio::time::timeout(Duration::from_secs(10), rx.recv()).await {
                    Ok(Some(t)) => at.push(t),
                    _ => return Ok(()), // the writer is gone
                }
            }
            at.sort_unstable();
            let q = |q| quantile_sorted(&at, q).unwrap_or_default();
            writeln!(out, "{} {} {}", q(0.5), q(0.99), q(1.0))?;
            out.flush()?;
        }
    })
}

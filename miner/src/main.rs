//! `stratum-miner`: a CPU stratum v1 miner for exercising a stratum server by hand.

use clap::Parser;
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::Arc;
use std::time::{Duration, Instant};
use stratum_miner::miner::{run_miner, MinerConfig, MinerStats};
use tokio_util::sync::CancellationToken;

/// Command-line options.
#[derive(Parser, Debug)]
#[command(name = "stratum-miner", about = "A CPU stratum v1 test miner")]
struct Args {
    /// Server address, host:port (a leading stratum+tcp:// is accepted).
    #[arg(long, default_value = "127.0.0.1:3333")]
    url: String,
    /// Username for mining.authorize / mining.submit.
    #[arg(long, default_value = "stratum-miner")]
    user: String,
    /// Password for mining.authorize.
    #[arg(long, default_value = "x")]
    pass: String,
    /// Hashing threads.
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// Negotiate BIP310 version rolling (mask 1fffe000).
    #[arg(long)]
    version_rolling: bool,
    /// Send mining.suggest_difficulty with this value after authorizing.
    #[arg(long)]
    suggest_difficulty: Option<f64>,
    /// Stop after this many seconds (at most one week); runs until Ctrl-C if omitted.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=604_800))]
    seconds: Option<u64>,
    /// Seconds between status lines.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..=3600))]
    status_interval: u64,
}

fn resolve(url: &str) -> Result<SocketAddr, String> {
    let hostport = url.strip_prefix("stratum+tcp://").unwrap_or(url);
    hostport
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve {hostport}: {e}"))?
        .next()
        .ok_or_else(|| format!("{hostport} resolved to no address"))
}

fn format_rate(hashes_per_sec: f64) -> String {
    let units = ["H/s", "kH/s", "MH/s", "GH/s", "TH/s"];
    let mut v = hashes_per_sec;
    let mut i = 0;
    while v >= 1000.0 && i + 1 < units.len() {
        v /= 1000.0;
        i += 1;
    }
    format!("{v:.2} {}", units[i])
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let args = Args::parse();
    let server = match resolve(&args.url) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("stratum-miner: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    let config = MinerConfig {
        server,
        username: args.user.clone(),
        password: args.pass.clone(),
        user_agent: format!("stratum-miner/{}", env!("CARGO_PKG_VERSION")),
        threads: args.threads.max(1),
        version_rolling: args.version_rolling,
        suggest_difficulty: args.suggest_difficulty,
    };
    let stats = Arc::new(MinerStats::default());
    let shutdown = CancellationToken::new();
    let started = Instant::now();

    let mut miner = tokio::spawn(run_miner(config, Arc::clone(&stats), shutdown.clone()));

    let stop_at = args
        .seconds
        .map(|s| tokio::time::Instant::now() + Duration::from_secs(s));
    let mut ticker = tokio::time::interval(Duration::from_secs(args.status_interval));
    ticker.tick().await;
    let mut last_hashes = 0u64;
    let mut last_tick = Instant::now();
    let result = loop {
        tokio::select! {
            r = &mut miner => break r,
            _ = tokio::signal::ctrl_c() => { shutdown.cancel(); }
            _ = async {
                match stop_at {
                    Some(t) => tokio::time::sleep_until(t).await,
                    None => std::future::pending().await,
                }
            }, if !shutdown.is_cancelled() => { shutdown.cancel(); }
            _ = ticker.tick() => {
                let s = stats.snapshot();
                let secs = last_tick.elapsed().as_secs_f64().max(1e-9);
                println!(
                    "hashrate {} | accepted {} | rejected {} | diff {} | jobs {}",
                    format_rate((s.hashes - last_hashes) as f64 / secs),
                    s.accepted, s.rejected, s.difficulty, s.jobs_received
                );
                last_hashes = s.hashes;
                last_tick = Instant::now();
            }
        }
    };

    let s = stats.snapshot();
    let secs = started.elapsed().as_secs_f64().max(1e-9);
    println!(
        "summary: {:.1}s, {} hashes ({}), submitted {}, accepted {}, rejected {}, stale dropped {}, jobs {} ({} clean)",
        secs,
        s.hashes,
        format_rate(s.hashes as f64 / secs),
        s.submitted,
        s.accepted,
        s.rejected,
        s.stale_dropped,
        s.jobs_received,
        s.clean_jobs_received
    );
    for (reason, count) in stats.reject_reasons() {
        println!("  rejected {count}x: {reason}");
    }
    match result {
        Ok(Ok(())) => std::process::ExitCode::SUCCESS,
        Ok(Err(e)) => {
            eprintln!("stratum-miner: {e}");
            std::process::ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("stratum-miner: miner task failed: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

//! The `stratumd` binary: ckpool's command line, plus `--simnet`, `--demo` and the
//! `simnet` subcommand.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use stratumd::app::{self, SimnetOptions};
use stratumd::config::Config;
use stratumd::demo::{self, DemoOptions};

/// A stratum v1 mining server: a drop-in ckpool alternative.
#[derive(Parser, Debug)]
#[command(
    name = "stratumd",
    version,
    about,
    args_conflicts_with_subcommands = true
)]
struct Cli {
    /// ckpool.conf to read (ckpool's -c).
    #[arg(short = 'c', long = "config")]
    config: Option<PathBuf>,
    /// Solo mining: each miner's coinbase pays the address it authorizes as (ckpool's -B).
    #[arg(short = 'B', long = "btcsolo")]
    btcsolo: bool,
    /// Log level as ckpool's -l: 0 (emergency) to 7 (debug); 5 (notice) by default.
    #[arg(short = 'l', long = "loglevel", default_value_t = 5, value_parser = clap::value_parser!(u8).range(0..=7))]
    loglevel: u8,
    /// Run against an in-process simnet instead of the configured bitcoinds.
    #[arg(long)]
    simnet: bool,
    /// simnet's block difficulty (fractional allowed); 0.001 with --simnet, 0.004 with --demo.
    #[arg(long)]
    simnet_difficulty: Option<f64>,
    /// Synthetic segwit transactions in each simnet template.
    #[arg(long, default_value_t = 8)]
    simnet_txs: usize,
    /// Run the demo: simnet, the server and CPU miners in one process.
    #[arg(long)]
    demo: bool,
    /// With --demo: exit 0 once this many blocks were accepted by simnet.
    #[arg(long)]
    demo_blocks: Option<u64>,
    /// With --demo: number of CPU miners (one thread each).
    #[arg(long, default_value_t = 2)]
    demo_miners: usize,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run simnet alone, for other servers (ckpool) and tools.
    Simnet {
        /// JSON-RPC listen address.
        #[arg(long, default_value = "127.0.0.1:18443")]
        rpc: std::net::SocketAddr,
        /// ZMQ PUB endpoint for hashblock.
        #[arg(long, default_value = "tcp://127.0.0.1:28332")]
        zmq: String,
        /// Block difficulty (fractional allowed).
        #[arg(long, default_value_t = 0.001)]
        difficulty: f64,
        /// Synthetic transactions per template.
        #[arg(long, default_value_t = 8)]
        txs: usize,
        /// RPC user.
        #[arg(long, default_value = "simnet")]
        user: String,
        /// RPC password.
        #[arg(long, default_value = "simnet")]
        password: String,
    },
}

fn init_logging(level: u8) {
    let filter = match level {
        0..=3 => "error",
        4 => "warn",
        5 | 6 => "info",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new(format!("{filter},bitcoincore_rpc=warn"))
    });
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.loglevel);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("stratumd: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(run(cli))
}

/// simnet's block difficulty with --simnet: blocks in about a second for one CPU miner.
const SIMNET_DIFFICULTY: f64 = 0.001;
/// The demo's: a block every few seconds from two CPU miners, shares in between.
const DEMO_DIFFICULTY: f64 = 0.004;

fn valid_difficulty(d: f64) -> bool {
    d.is_finite() && d > 0.0
}

async fn run(cli: Cli) -> ExitCode {
    if let Some(Command::Simnet {
        rpc,
        zmq,
        difficulty,
        txs,
        user,
        password,
    }) = cli.command
    {
        if !valid_difficulty(difficulty) {
            eprintln!("stratumd simnet: --difficulty must be a number above 0");
            return ExitCode::FAILURE;
        }
        let config = stratumd::node::simnet::SimnetConfig {
            rpc_bind: rpc,
            zmq_bind: zmq,
            difficulty,
            transactions_per_template: txs,
            auth: stratumd::node::simnet::SimnetAuth::UserPass { user, password },
        };
        return match stratumd::node::simnet::run_standalone(config).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("stratumd simnet: {e}");
                ExitCode::FAILURE
            }
        };
    }
    let simnet_difficulty = cli.simnet_difficulty.unwrap_or(if cli.demo {
        DEMO_DIFFICULTY
    } else {
        SIMNET_DIFFICULTY
    });
    if !valid_difficulty(simnet_difficulty) {
        eprintln!("stratumd: --simnet-difficulty must be a number above 0");
        return ExitCode::FAILURE;
    }
    let config = match &cli.config {
        Some(path) => match Config::load(path, cli.btcsolo || cli.demo) {
            Ok(c) => c,
            Err(e) => {
                eprintln!("stratumd: {e}");
                return ExitCode::FAILURE;
            }
        },
        None if cli.demo => demo_config(),
        None => match Config::load(std::path::Path::new("ckpool.conf"), cli.btcsolo) {
            Ok(c) => c,
            Err(e) => {
                eprintln!("stratumd: {e} (use -c to name the config file)");
                return ExitCode::FAILURE;
            }
        },
    };
    if cli.demo {
        let opts = DemoOptions {
            miners: cli.demo_miners.max(1),
            blocks: cli.demo_blocks,
            simnet_difficulty,
            status_every: Duration::from_secs(3),
        };
        return match demo::run(config, opts).await {
            Ok(summary) => {
                if cli.demo_blocks.is_some_and(|n| summary.blocks_accepted < n) {
                    ExitCode::FAILURE
                } else {
                    ExitCode::SUCCESS
                }
            }
            Err(e) => {
                eprintln!("stratumd: {e}");
                ExitCode::FAILURE
            }
        };
    }
    let simnet = cli.simnet.then_some(SimnetOptions {
        difficulty: simnet_difficulty,
        transactions: cli.simnet_txs,
    });
    let running = match app::start(config, cli.btcsolo, simnet).await {
        Ok(r) => r,
        Err(e) => {
            eprintln!("stratumd: {e}");
            return ExitCode::FAILURE;
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => tracing::info!("shutting down"),
        _ = running.shutdown.cancelled() => {}
    }
    running.shutdown.cancel();
    if let Some(reason) = running.fatal.get() {
        eprintln!("stratumd: {reason}");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

/// The demo's settings: fractional difficulties for CPU miners, files under `logs/demo`.
fn demo_config() -> Config {
    Config {
        mindiff: 0.00001,
        startdiff: 0.0002,
        logdir: PathBuf::from("logs/demo"),
        update_interval: Duration::from_secs(10),
        btcsig: "/stratumd demo/".into(),
        ..Config::default()
    }
}

//! The `stratumd` binary: ckpool's command line, plus `--simnet`, `--demo` and the
//! `simnet` subcommand.

mod instance;
mod sharechain_cmd;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use stratumd::app;
use stratumd::config::{Config, Overrides, SimnetNode};
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
    /// Config file to read; <NAME>.conf (ckpool.conf) by default.
    #[arg(short = 'c', long = "config")]
    config: Option<PathBuf>,
    /// Solo mining: each miner's coinbase pays the address it authorizes as.
    #[arg(short = 'B', long = "btcsolo")]
    btcsolo: bool,
    /// Fork to the background; logs go to <logdir>/<NAME>.log.
    #[arg(short = 'D', long = "daemonise")]
    daemonise: bool,
    /// Group owning the unix sockets (default: the process's group).
    #[arg(short = 'g', long = "group")]
    group: Option<String>,
    /// Take over from a running instance. stratumd does not inherit its listening
    /// sockets: this stops it as -k does.
    #[arg(short = 'H', long = "handover")]
    handover: bool,
    /// Kill an old instance with the same socket directory, found by its pid file.
    #[arg(short = 'k', long = "killold")]
    killold: bool,
    /// Log every share.
    #[arg(short = 'L', long = "log-shares")]
    log_shares: bool,
    /// Log level: 0 (emergency) to 7 (debug); 5 (notice) by default. With --demo, giving
    /// it (or RUST_LOG) brings the log back from its file to the console.
    #[arg(short = 'l', long = "loglevel", value_parser = clap::value_parser!(u8).range(0..=7))]
    loglevel: Option<u8>,
    /// Instance name: the default socket directory is /tmp/<NAME> and the default config
    /// <NAME>.conf.
    #[arg(short = 'n', long = "name", default_value = stratumd::config::DEFAULT_NAME)]
    name: String,
    /// Socket directory holding the pid file main.pid (default /tmp/<NAME>).
    #[arg(short = 's', long = "sockdir")]
    sockdir: Option<PathBuf>,
    /// Less output: warnings and errors only on the console.
    #[arg(short = 'q', long = "quiet")]
    quiet: bool,
    /// ckpool's node mode: not served by stratumd.
    #[arg(short = 'N', long = "node")]
    node: bool,
    /// ckpool's passthrough mode: not served by stratumd.
    #[arg(short = 'P', long = "passthrough")]
    passthrough: bool,
    /// ckpool's proxy mode: not served by stratumd.
    #[arg(short = 'p', long = "proxy")]
    proxy: bool,
    /// ckpool's redirector mode: not served by stratumd.
    #[arg(short = 'R', long = "redirector")]
    redirector: bool,
    /// ckpool's trusted remote mode: not served by stratumd.
    #[arg(short = 't', long = "trusted")]
    trusted: bool,
    /// ckpool's user proxy mode: not served by stratumd.
    #[arg(short = 'u', long = "userproxy")]
    userproxy: bool,
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
    /// With --demo: stop (after the summary) once this many seconds have passed; the exit
    /// status is 0 unless --demo-blocks asked for more blocks than were found.
    #[arg(long, value_name = "SECS")]
    demo_seconds: Option<u64>,
    /// With --demo: number of CPU miners (one thread each; per node with --p2pool-nodes).
    #[arg(long)]
    demo_miners: Option<usize>,
    /// With --demo: run this many p2pool nodes peered on loopback, miners on each (implies
    /// --p2pool).
    #[arg(long, value_name = "N")]
    p2pool_nodes: Option<usize>,
    /// p2pool mode: every job pays the share chain's PPLNS window (as a `p2pool` section
    /// of the config does).
    #[arg(long)]
    p2pool: bool,
    /// p2pool mode: where the share chain's network listens (`host:port` or a multiaddr;
    /// over `p2pool.listen`, default 0.0.0.0:9339).
    #[arg(long, value_name = "ADDR")]
    p2pool_listen: Option<String>,
    /// p2pool mode: a peer to connect to (repeatable; added to `p2pool.peers`).
    #[arg(long = "p2pool-peer", value_name = "ADDR")]
    p2pool_peers: Vec<String>,
    /// The operator's HTTP server (Prometheus /metrics, the JSON API) on this address, e.g.
    /// 127.0.0.1:8080 (over the config's `api`).
    #[arg(long, value_name = "ADDR")]
    api: Option<std::net::SocketAddr>,
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
    /// Inspect the p2pool share chain.
    Sharechain {
        #[command(subcommand)]
        what: sharechain_cmd::Sharechain,
    },
}

/// Counts the error lines logged ([`stratumd::log_level::errors_logged`]).
struct ErrorCount;

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for ErrorCount {
    fn on_event(&self, event: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        if *event.metadata().level() == tracing::Level::ERROR {
            stratumd::log_level::count_error();
        }
    }
}

/// ckpool's default log level (LOG_NOTICE).
const DEFAULT_LOGLEVEL: u8 = 5;

/// Where the log goes: the console (stderr), or a file (the quiet demo's).
enum LogTo {
    Stderr,
    File(std::fs::File),
}

fn init_logging(level: Option<u8>, quiet: bool, to: LogTo) -> stratumd::log_level::Setter {
    use stratumd::log_level;
    let level = if quiet {
        log_level::QUIET
    } else {
        level.unwrap_or(DEFAULT_LOGLEVEL)
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(log_level::filter(level)));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    let builder = match to {
        LogTo::Stderr => builder
            .with_writer(tracing_subscriber::fmt::writer::BoxMakeWriter::new(
                std::io::stderr,
            ))
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr())),
        LogTo::File(file) => builder
            .with_writer(tracing_subscriber::fmt::writer::BoxMakeWriter::new(
                std::sync::Mutex::new(file),
            ))
            .with_ansi(false),
    };
    let builder = builder.with_filter_reloading();
    let handle = builder.reload_handle();
    {
        use tracing_subscriber::layer::SubscriberExt;
        use tracing_subscriber::util::SubscriberInitExt;
        builder.finish().with(ErrorCount).init();
    }
    Box::new(move |level| {
        handle
            .reload(tracing_subscriber::EnvFilter::new(log_level::filter(level)))
            .map_err(|e| e.to_string())
    })
}

/// The ckpool mode a flag asks for, when it is one stratumd does not serve.
fn unserved_mode(cli: &Cli) -> Option<(&'static str, &'static str)> {
    [
        (cli.proxy, "proxy", "-p/--proxy"),
        (cli.passthrough, "passthrough", "-P/--passthrough"),
        (cli.node, "node", "-N/--node"),
        (cli.redirector, "redirector", "-R/--redirector"),
        (cli.userproxy, "userproxy", "-u/--userproxy"),
        (cli.trusted, "trusted remote", "-t/--trusted"),
    ]
    .into_iter()
    .find_map(|(on, mode, flag)| on.then_some((mode, flag)))
}

fn build_runtime() -> Option<tokio::runtime::Runtime> {
    match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => Some(r),
        Err(e) => {
            eprintln!("stratumd: cannot start the runtime: {e}");
            None
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Some((mode, flag)) = unserved_mode(&cli) {
        eprintln!(
            "stratumd: ckpool's {mode} mode ({flag}) is not served by stratumd; \
             it runs ckpool's pool mode and solo mode (-B) only"
        );
        return ExitCode::FAILURE;
    }
    if let Some(Command::Sharechain { what }) = &cli.command {
        return sharechain_cmd::run(what);
    }
    if let Some(Command::Simnet { .. }) = cli.command {
        let _ = init_logging(cli.loglevel, cli.quiet, LogTo::Stderr);
        let Some(runtime) = build_runtime() else {
            return ExitCode::FAILURE;
        };
        return runtime.block_on(run_simnet(cli));
    }
    let Some(simnet_difficulty) = simnet_difficulty(&cli) else {
        return ExitCode::FAILURE;
    };
    let overrides = match overrides(&cli, simnet_difficulty) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("stratumd: {e}");
            return ExitCode::FAILURE;
        }
    };
    let config = match load_config(&cli, &overrides) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let sockdir = config.socket_dir();
    // simnet and demo runs (tests, trying things out) share no pid file unless asked to.
    let manage_instance = !(cli.simnet || cli.demo)
        || config.sockdir.is_some()
        || cli.killold
        || cli.handover
        || cli.daemonise
        || cli.name != stratumd::config::DEFAULT_NAME;
    let mut replaced = None;
    if manage_instance {
        match instance::manage_old_instance(&sockdir, cli.killold || cli.handover) {
            Ok(instance::OldInstance::Replaced(pid)) => replaced = Some(pid),
            Ok(instance::OldInstance::None) => {}
            Err(e) => {
                eprintln!("stratumd: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    if cli.daemonise {
        let log_file = config.logdir.join(format!("{}.log", config.name));
        if let Err(e) = instance::daemonise(&log_file) {
            eprintln!("stratumd: {e}");
            return ExitCode::FAILURE;
        }
    }
    let pid_file = if manage_instance {
        match instance::PidFile::write(&sockdir) {
            Ok(p) => Some(p),
            Err(e) => {
                eprintln!("stratumd: {e}");
                return ExitCode::FAILURE;
            }
        }
    } else {
        None
    };
    // The demo on its own keeps the console for its status line: the log goes to a file
    // it names, unless RUST_LOG or -l asks for it here.
    // (-D sends the console to its own log file already.)
    let demo_log = (cli.demo
        && !cli.daemonise
        && cli.loglevel.is_none()
        && std::env::var_os("RUST_LOG").is_none())
    .then(|| config.logdir.join(DEMO_LOG));
    let (log_to, demo_log) = match demo_log.map(|path| (open_log(&path), path)) {
        Some((Ok(file), path)) => (LogTo::File(file), Some(path)),
        Some((Err(e), path)) => {
            eprintln!(
                "stratumd: cannot write the demo's log to {}: {e}; logging here",
                path.display()
            );
            (LogTo::Stderr, None)
        }
        None => (LogTo::Stderr, None),
    };
    stratumd::log_level::install_setter(init_logging(cli.loglevel, cli.quiet, log_to));
    tracing::info!(
        "{} starting, pid {}, socket directory {}",
        config.name,
        std::process::id(),
        sockdir.display()
    );
    if let Some(pid) = replaced {
        tracing::warn!("stopped the old instance, pid {pid}");
    }
    if cli.handover {
        tracing::warn!(
            "-H: listening sockets are not handed over; the old instance was stopped as with -k"
        );
    }
    if let Some(g) = &config.group {
        tracing::info!("unix sockets group {} (gid {})", g.name, g.gid);
    }
    let Some(runtime) = build_runtime() else {
        return ExitCode::FAILURE;
    };
    let code = runtime.block_on(run(cli, config, demo_log));
    runtime.shutdown_timeout(Duration::from_secs(2));
    drop(pid_file);
    // The share chain's thread closes its store once the runtime dropped its last sender:
    // exiting before that lets RocksDB's static teardown race the close and abort.
    if !stratumd::p2pool::open_stores::wait_all_closed(STORE_CLOSE_WITHIN) {
        tracing::error!(
            "a share chain store was still open {}s after shutdown; exiting without closing it (its write-ahead log keeps it whole, as after a crash)",
            STORE_CLOSE_WITHIN.as_secs()
        );
        use std::io::Write;
        let _ = std::io::stdout().flush();
        let _ = std::io::stderr().flush();
        // SAFETY: ends the process at once, skipping the C++ static destructors that
        // would run while the store is still open; nothing after this needs to run.
        unsafe { libc::_exit(if code == ExitCode::SUCCESS { 0 } else { 1 }) };
    }
    code
}

/// How long the binary waits at exit for the share chain's stores to close.
const STORE_CLOSE_WITHIN: Duration = Duration::from_secs(10);

/// What the command line puts over the config file: ckpool's `-B -n -s -L -g`, and
/// simnet with `--simnet` or `--demo` (the demo also solo mode and a loopback listener).
fn overrides(cli: &Cli, simnet_difficulty: f64) -> Result<Overrides, String> {
    let group = match &cli.group {
        Some(g) => Some(instance::resolve_group(g).map_err(|e| e.to_string())?),
        None => None,
    };
    let base = Overrides {
        solo: cli.btcsolo,
        name: Some(cli.name.clone()),
        sockdir: cli.sockdir.clone(),
        log_shares: cli.log_shares,
        group,
        simnet: cli.simnet.then_some(SimnetNode {
            difficulty: simnet_difficulty,
            transactions: cli.simnet_txs,
        }),
        serverurl: None,
        p2pool: cli.p2pool || cli.p2pool_nodes.is_some(),
        p2pool_listen: cli.p2pool_listen.clone(),
        p2pool_peers: cli.p2pool_peers.clone(),
        api: cli.api,
    };
    Ok(if cli.demo {
        demo::overrides(base, simnet_difficulty)
    } else {
        base
    })
}

/// Reads the config: `-c`, else `<name>.conf` (ckpool's default), else the demo's.
fn load_config(cli: &Cli, overrides: &Overrides) -> Result<Config, ExitCode> {
    let loaded = match &cli.config {
        Some(path) => Config::load(path, overrides),
        None if cli.demo => Config::new(demo::raw_config(), overrides),
        None => {
            return Config::load(&PathBuf::from(format!("{}.conf", cli.name)), overrides).map_err(
                |e| {
                    eprintln!("stratumd: {e} (use -c to name the config file)");
                    ExitCode::FAILURE
                },
            )
        }
    };
    loaded.map_err(|e| {
        eprintln!("stratumd: {e}");
        ExitCode::FAILURE
    })
}

/// How long a stopping server waits for found blocks to be archived.
const SETTLE_WITHIN: Duration = Duration::from_secs(10);

/// simnet's block difficulty with --simnet: blocks in about a second for one CPU miner.
const SIMNET_DIFFICULTY: f64 = 0.001;
/// The demo's: a block every few seconds from two CPU miners, shares in between.
const DEMO_DIFFICULTY: f64 = 0.004;

fn valid_difficulty(d: f64) -> bool {
    d.is_finite() && d > 0.0
}

/// The `simnet` subcommand: simnet alone.
async fn run_simnet(cli: Cli) -> ExitCode {
    let Some(Command::Simnet {
        rpc,
        zmq,
        difficulty,
        txs,
        user,
        password,
    }) = cli.command
    else {
        return ExitCode::FAILURE;
    };
    if !valid_difficulty(difficulty) {
        eprintln!("stratumd simnet: --difficulty must be a number above 0");
        return ExitCode::FAILURE;
    }
    let config = simnet::SimnetConfig {
        rpc_bind: rpc,
        zmq_bind: zmq,
        difficulty,
        transactions_per_template: txs,
        auth: simnet::SimnetAuth::UserPass { user, password },
    };
    match simnet::run_standalone(config).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("stratumd simnet: {e}");
            ExitCode::FAILURE
        }
    }
}

/// simnet's difficulty for `--simnet`/`--demo`, `None` (after saying why) when invalid.
fn simnet_difficulty(cli: &Cli) -> Option<f64> {
    let d = cli.simnet_difficulty.unwrap_or(if cli.demo {
        DEMO_DIFFICULTY
    } else {
        SIMNET_DIFFICULTY
    });
    if valid_difficulty(d) {
        Some(d)
    } else {
        eprintln!("stratumd: --simnet-difficulty must be a number above 0");
        None
    }
}

/// Waits for SIGINT or SIGTERM (what `-k` sends); `term` is registered before start-up so
/// an early SIGTERM is not lost.
async fn stop_signal(term: Option<tokio::signal::unix::Signal>) {
    match term {
        Some(mut term) => {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
        }
        None => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

/// The quiet demo's log file, in `logdir`: a name of its own, so a demo pointed at a real
/// server's config (`-c`) never writes into that server's `-D` log.
const DEMO_LOG: &str = "demo.log";

/// Opens the quiet demo's log file for appending (each run's lines after the last's).
fn open_log(path: &std::path::Path) -> std::io::Result<std::fs::File> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
}

/// Runs the server (or the demo, whose log is in `demo_log` when not on the console).
async fn run(cli: Cli, config: Config, demo_log: Option<PathBuf>) -> ExitCode {
    if cli.demo {
        let nodes = cli.p2pool_nodes.unwrap_or(1).clamp(1, 16);
        let opts = DemoOptions {
            // Two CPU miners for one server, one per node for several.
            miners: cli
                .demo_miners
                .unwrap_or(if nodes > 1 { 1 } else { 2 })
                .max(1),
            blocks: cli.demo_blocks,
            seconds: cli.demo_seconds.map(Duration::from_secs),
            status_every: Duration::from_secs(3),
            nodes,
            // In place only when nothing else writes to the terminal.
            in_place: demo_log.is_some() && std::io::IsTerminal::is_terminal(&std::io::stdout()),
            log_file: demo_log,
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
    let term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(t) => Some(t),
        Err(e) => {
            tracing::warn!("cannot watch for SIGTERM: {e}");
            None
        }
    };
    log_fd_limit(config.maxclients);
    let running = match app::start(config).await {
        Ok(r) => r,
        Err(e) => {
            eprintln!("stratumd: {e}");
            return ExitCode::FAILURE;
        }
    };
    tokio::select! {
        _ = stop_signal(term) => tracing::info!("shutting down"),
        _ = running.shutdown.cancelled() => {}
    }
    running.shutdown.cancel();
    // A block found in the last moments is archived before the runtime goes.
    if !running.settle(SETTLE_WITHIN).await {
        tracing::error!(
            "block solutions were still being archived after {}s; stopping anyway",
            SETTLE_WITHIN.as_secs()
        );
    }
    if let Some(reason) = running.fatal.get() {
        eprintln!("stratumd: {reason}");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

/// Raises the open-file limit to the hard limit and says how many miners it allows.
fn log_fd_limit(maxclients: Option<usize>) {
    match stratumd::limits::raise_fd_limit() {
        Ok(l) => {
            tracing::info!(
                "open-file limit {} (was {}, hard {}): room for about {} miners",
                l.now,
                l.before,
                l.hard,
                l.miners()
            );
            if let Some(max) = maxclients {
                if max as u64 > l.miners() {
                    tracing::warn!(
                        "maxclients {max} is above what the open-file limit allows ({}); raise the hard limit (ulimit -Hn, systemd LimitNOFILE)",
                        l.miners()
                    );
                }
            }
        }
        Err(e) => tracing::warn!("cannot raise the open-file limit: {e}"),
    }
}

//! `stratumd sharechain …`: looking at a share chain from the command line: `spec` (a
//! chain spec and its id), and against a node's store, offline or while the node runs,
//! `tip`, `window` (the payout table of the next block) and `share <hash>` (one share
//! decoded, with its verdict checked again against its ancestry); and from a running
//! node's status file, `peers` (its peers, bans and sync state).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;
use stratumd::p2pool::inspect;
use stratumd::p2pool::spec::{ChainSpec, PRESETS};

/// What to show.
#[derive(Subcommand, Debug)]
pub enum Sharechain {
    /// Print a chain spec and its chain id.
    Spec {
        /// A built-in spec: main, testnet4, test, signet, regtest or simnet.
        #[arg(long, default_value = "main", conflicts_with = "file")]
        preset: String,
        /// A spec file (JSON, every field given) instead of a preset.
        #[arg(long)]
        file: Option<PathBuf>,
        /// Print one JSON object `{"id", "spec"}`.
        #[arg(long)]
        json: bool,
    },
    /// The tip of a node's stored chain.
    Tip {
        /// The store's folder (the `p2pool.store` key; default `<logdir>/sharechain`).
        #[arg(long, default_value = "logs/sharechain")]
        store: PathBuf,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// The payout table of the next block: address, amount, weight.
    Window {
        /// The store's folder.
        #[arg(long, default_value = "logs/sharechain")]
        store: PathBuf,
        /// The block reward to split, in satoshis (default: the tip share's).
        #[arg(long)]
        reward: Option<u64>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// A running node's peers, bans and sync state (from `<logdir>/pool/p2pool.json`,
    /// which the node rewrites four times a second).
    Peers {
        /// The node's log directory (`logdir`).
        #[arg(long, default_value = "logs")]
        logdir: PathBuf,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// One stored share, decoded, with its verdict checked again.
    Share {
        /// The share's hash (its header's, as displayed).
        hash: String,
        /// The store's folder.
        #[arg(long, default_value = "logs/sharechain")]
        store: PathBuf,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

/// Prints `value` as JSON, or as `key: value` lines.
fn print(value: &serde_json::Value, json: bool) {
    if json {
        println!("{value}");
    } else {
        println!(
            "{}",
            serde_json::to_string_pretty(value).unwrap_or_default()
        );
    }
}

/// The window as a table: one line per payee.
fn print_window(v: &serde_json::Value) {
    println!(
        "next block on tip {} (height {}): reward {} sat, {} outputs, total weight {}",
        v["tip"].as_str().unwrap_or(""),
        v["height"],
        v["reward"],
        v["outputs"],
        v["total_weight"].as_str().unwrap_or("")
    );
    println!("{:>16}  {:>24}  address", "amount (sat)", "weight");
    for row in v["payouts"].as_array().into_iter().flatten() {
        println!(
            "{:>16}  {:>24}  {}",
            row["amount"],
            row["weight"].as_str().unwrap_or(""),
            row["address"].as_str().unwrap_or("")
        );
    }
}

fn report(result: Result<serde_json::Value, inspect::InspectError>, json: bool) -> ExitCode {
    match result {
        Ok(v) => {
            print(&v, json);
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("stratumd: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The peers table.
fn print_peers(v: &serde_json::Value) {
    let net = &v["network"];
    let chain = &v["chain"];
    println!(
        "node {} listening on {}; {}; tip {} at height {}",
        net["peer_id"].as_str().unwrap_or(""),
        net["listening"]
            .as_array()
            .map(|a| a
                .iter()
                .filter_map(|x| x.as_str())
                .collect::<Vec<_>>()
                .join(", "))
            .unwrap_or_default(),
        if net["synced"].as_bool() == Some(true) {
            "synced"
        } else {
            "syncing"
        },
        chain["tip"].as_str().unwrap_or(""),
        chain["height"]
    );
    println!(
        "{:<54} {:<28} {:>3} {:>8} {:>8} {:>8} {:>5}  agent",
        "peer", "address", "dir", "secs", "height", "shares", "score"
    );
    for p in net["peers"].as_array().into_iter().flatten() {
        println!(
            "{:<54} {:<28} {:>3} {:>8} {:>8} {:>8} {:>5}  {}",
            p["peer"].as_str().unwrap_or(""),
            p["addr"].as_str().unwrap_or(""),
            p["direction"].as_str().unwrap_or(""),
            p["connected_secs"],
            p["tip_height"],
            p["valid_shares"],
            p["score"],
            p["agent"].as_str().unwrap_or("")
        );
    }
    for s in net["syncing"].as_array().into_iter().flatten() {
        println!(
            "syncing from {}: {} shares fetched ({} kept), {}/s, its tip at height {}",
            s["peer"].as_str().unwrap_or(""),
            s["fetched"],
            s["kept"],
            s["rate_per_sec"],
            s["peer_height"]
        );
    }
    println!("bans since start: {}", net["bans_total"]);
    for b in net["bans"].as_array().into_iter().flatten() {
        println!(
            "banned {} ({} s left): {}",
            b["peer"].as_str().unwrap_or(""),
            b["secs_left"],
            b["reason"].as_str().unwrap_or("")
        );
    }
}

fn peers(logdir: &std::path::Path, json: bool) -> ExitCode {
    let path = logdir.join("pool").join(stratumd::p2p::STATUS_FILE);
    let parsed = std::fs::read_to_string(&path)
        .map_err(|e| e.to_string())
        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).map_err(|e| e.to_string()));
    match parsed {
        Ok(v) if json => {
            println!("{v}");
            ExitCode::SUCCESS
        }
        Ok(v) => {
            print_peers(&v);
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!(
                "stratumd: {}: {e} (is a p2pool node running with this logdir?)",
                path.display()
            );
            ExitCode::FAILURE
        }
    }
}

/// Runs the subcommand; errors go to stderr with a non-zero exit.
pub fn run(what: &Sharechain) -> ExitCode {
    match what {
        Sharechain::Peers { logdir, json } => peers(logdir, *json),
        Sharechain::Tip { store, json } => report(inspect::tip(store), *json),
        Sharechain::Window {
            store,
            reward,
            json,
        } => match (inspect::window(store, *reward), *json) {
            (Ok(v), false) => {
                print_window(&v);
                ExitCode::SUCCESS
            }
            (result, json) => report(result, json),
        },
        Sharechain::Share { hash, store, json } => report(inspect::share(store, hash), *json),
        Sharechain::Spec { preset, file, json } => {
            let spec = match file {
                Some(path) => ChainSpec::load(path),
                None => ChainSpec::preset(preset),
            };
            let spec = match spec {
                Ok(s) => s,
                Err(e) => {
                    eprintln!("stratumd: {e}");
                    return ExitCode::FAILURE;
                }
            };
            let id = spec.id().to_string();
            if *json {
                println!(
                    "{}",
                    serde_json::json!({ "id": id, "spec": spec.to_json() })
                );
            } else {
                println!("chain id {id}");
                println!(
                    "{}",
                    serde_json::to_string_pretty(&spec.to_json()).unwrap_or_default()
                );
                if file.is_none() {
                    println!("(presets: {})", PRESETS.join(", "));
                }
            }
            ExitCode::SUCCESS
        }
    }
}

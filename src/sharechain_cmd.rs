//! `stratumd sharechain …`: looking at a share chain from the command line. Today `spec`:
//! a chain spec (a built-in preset or a spec file) and its chain id.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;
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
}

/// Runs the subcommand; errors go to stderr with a non-zero exit.
pub fn run(what: &Sharechain) -> ExitCode {
    match what {
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

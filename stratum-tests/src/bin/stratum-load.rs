//! `stratum-load`: a stratum v1 load generator (see `stratum_tests::load`). Prints one JSON
//! report on stdout (and to `--report`), a progress line every second and a summary on stderr.

use clap::Parser;
use stratum_tests::load::{self, config::LoadConfig};

fn main() {
    let cfg = LoadConfig::parse();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(cfg.threads.max(1))
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("stratum-load: cannot start the runtime: {e}");
            std::process::exit(2);
        }
    };
    let report_path = cfg.report.clone();
    let report = match rt.block_on(load::run(cfg)) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("stratum-load: {e}");
            std::process::exit(2);
        }
    };
    let json = match serde_json::to_string_pretty(&report) {
        Ok(j) => j,
        Err(e) => {
            eprintln!("stratum-load: cannot serialize the report: {e}");
            std::process::exit(2);
        }
    };
    println!("{json}");
    if let Some(path) = report_path {
        if let Err(e) = std::fs::write(&path, format!("{json}\n")) {
            eprintln!("stratum-load: writing {}: {e}", path.display());
        }
    }
    eprint!("{}", report.summary());
    rt.shutdown_timeout(std::time::Duration::from_secs(1));
}

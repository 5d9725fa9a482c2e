//! Lines from a miner into a real `Session`, every method reachable: the input is split on
//! newlines and each line handed to `handle_line`, as the connection task does. A job built
//! from a captured regtest template is on the board, so submits reach share validation and,
//! at regtest's difficulty, block assembly. `$JOB` in a line becomes the current job's id, so
//! the seeds' submits name a job that exists. Two more lines are directives: `!newjob`
//! publishes a further job (as a new template would), `!reconnect` asks the session to
//! reconnect (the control socket's command).
//!
//! Checked: nothing panics, and everything the session writes is whole JSON lines.

#![no_main]

use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime};

use libfuzzer_sys::fuzz_target;
use stratumd::node::template::Template;
use stratumd::stats::Stats;
use stratumd::stratum::extranonce::ExtranonceAllocator;
use stratumd::stratum::request::handle_line;
use stratumd::stratum::{ServerContext, Session, StratumSettings};
use stratumd::work::{BuildContext, JobBoard, JobBuilder, JobConfig, Mode, PayoutPlan};

const GBT: &str = include_str!("../../tests/fixtures/ckpool/gbt-notify/three-txns/gbt.json");

fn template() -> &'static Arc<Template> {
    static T: OnceLock<Arc<Template>> = OnceLock::new();
    T.get_or_init(|| {
        let json = serde_json::from_str(GBT).expect("fixture is JSON");
        Arc::new(Template::from_json(json).expect("fixture is a template"))
    })
}

/// Replaces every `from` in `line` with `to`.
fn substitute(line: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(line.len());
    let mut i = 0;
    while i < line.len() {
        if line[i..].starts_with(from) {
            out.extend_from_slice(to);
            i += from.len();
        } else {
            out.push(line[i]);
            i += 1;
        }
    }
    out
}

/// Every line written is a JSON value.
fn check_outbox(outbox: &[u8]) {
    if outbox.is_empty() {
        return;
    }
    assert_eq!(outbox.last(), Some(&b'\n'), "a partial line was written");
    for line in outbox[..outbox.len() - 1].split(|b| *b == b'\n') {
        if let Err(e) = serde_json::from_slice::<serde_json::Value>(line) {
            panic!(
                "wrote a line that is not JSON ({e}): {:?}",
                String::from_utf8_lossy(line)
            );
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let network = Arc::new(OnceLock::new());
    let _ = network.set(bitcoin::Network::Regtest);
    let (found, mut found_rx) = stratumd::share::found::channel();
    let ctx = Arc::new(ServerContext::new(
        Mode::Solo,
        StratumSettings {
            version_mask: 0x1fff_e000,
            mindiff: 0.0001,
            maxdiff: None,
            nonce2_len: 8,
            max_line: 16 * 1024,
            handshake_timeout: Duration::from_secs(5),
            write_timeout: Duration::from_secs(5),
            max_clients: None,
            max_clients_per_ip: None,
            flood_ban_rejects: None,
            flood_ban_for: Duration::from_secs(600),
        },
        Arc::new(JobBoard::new()),
        ExtranonceAllocator::new(4, 1),
        network,
        Arc::new(Stats::default()),
        found,
        Arc::new(stratumd::events::EventsBuilder::default().build()),
    ));
    let builder = JobBuilder::new(JobConfig {
        nonce1_len: 4,
        nonce2_len: 8,
        btcsig: b"/fuzz/".to_vec(),
    });
    let plan = Arc::new(PayoutPlan::Solo { donation: None });
    let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    let mut generation = 1;
    let publish = |generation: u64| {
        let at = BuildContext {
            clean: generation == 1,
            generation: 1,
            now: now + Duration::from_secs(generation),
        };
        let job = builder
            .build(template(), &plan, at)
            .expect("the fixture builds a job");
        ctx.board.publish(Arc::new(job))
    };
    let mut posting = publish(generation);
    let addr = "127.0.0.1:3333".parse().expect("an address");
    let mut s = Session::new(ctx.clone(), addr, addr, 0.0001);
    for line in data.split(|b| *b == b'\n') {
        match line {
            b"!newjob" => {
                generation += 1;
                posting = publish(generation);
                s.on_new_job(posting.clone());
            }
            b"!reconnect" => s.reconnect(),
            _ => {
                let id = posting.job.id.to_string();
                let line = substitute(line, b"$JOB", id.as_bytes());
                handle_line(&mut s, &line);
            }
        }
        check_outbox(&s.outbox);
        s.outbox_written();
        while found_rx.try_recv().is_ok() {}
        if s.closing {
            break;
        }
    }
    s.end();
});

//! The whole submit path inside a session: a `mining.submit` JSON line in, the reply line
//! out (parse, decode hex, look up the job, validate, duplicate check, vardiff, reply).
//! Compared with share validation alone, this is the cost of everything around the hash.

mod common;

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use stratumd::events::EventsBuilder;
use stratumd::stats::Stats;
use stratumd::stratum::extranonce::ExtranonceAllocator;
use stratumd::stratum::request::handle_line;
use stratumd::stratum::{ServerContext, Session, StratumSettings};
use stratumd::work::{JobBoard, Mode};

/// A subscribed, authorized session whose shares are judged at `diff`, and the start of a
/// submit line for the board's job.
fn session(diff: f64) -> (Session, String) {
    let board = Arc::new(JobBoard::new());
    board.publish(common::job(4000));
    let (found, _rx) = stratumd::share::found::channel();
    let ctx = Arc::new(ServerContext::new(
        Mode::Pool,
        StratumSettings {
            version_mask: 0x1fff_e000,
            mindiff: diff,
            maxdiff: Some(diff),
            nonce2_len: 8,
            max_line: 16 * 1024,
            handshake_timeout: Duration::from_secs(60),
            write_timeout: Duration::from_secs(10),
            max_clients: None,
            max_clients_per_ip: None,
            flood_ban_rejects: None,
            flood_ban_for: Duration::from_secs(600),
        },
        board.clone(),
        ExtranonceAllocator::new(4, 1),
        Arc::new(OnceLock::new()),
        Arc::new(Stats::default()),
        found,
        Arc::new(EventsBuilder::default().build()),
    ));
    let addr = "127.0.0.1:3333".parse().unwrap();
    let mut s = Session::new(ctx, addr, addr, diff);
    handle_line(
        &mut s,
        br#"{"id":1,"method":"mining.subscribe","params":["bench/1"]}"#,
    );
    handle_line(
        &mut s,
        br#"{"id":2,"method":"mining.authorize","params":["w","x"]}"#,
    );
    let job = board.latest().unwrap().job.clone();
    let prefix = format!(
        r#"{{"id":9,"method":"mining.submit","params":["w","{}","0000000000000000","{:08x}","#,
        job.id, job.ntime
    );
    (s, prefix)
}

fn bench(c: &mut Criterion) {
    // Every hash meets 1e-12 (accepted shares); none meets 1e12 (ckpool's load test:
    // well-formed submits that miss the target, each rejected "Above target").
    for (name, diff) in [
        ("submit_path/12_levels_accepted", 1e-12),
        ("submit_path/12_levels_above_target", 1e12),
    ] {
        let (mut s, prefix) = session(diff);
        let mut nonce = 0u32;
        let mut line = Vec::with_capacity(256);
        c.bench_function(name, |b| {
            b.iter(|| {
                nonce = nonce.wrapping_add(1);
                line.clear();
                line.extend_from_slice(prefix.as_bytes());
                line.extend_from_slice(format!("\"{nonce:08x}\"]}}").as_bytes());
                handle_line(&mut s, black_box(&line));
                let n = black_box(s.outbox.len());
                // As the server does once the reply is written.
                s.outbox_written();
                n
            })
        });
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);

//! Notify serialization (once per job and payee, then shared) and ckpool's vardiff update
//! (once per accepted share).

mod common;

use std::time::{Duration, Instant};

use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion};
use stratumd::stratum::vardiff::{DiffBounds, Vardiff};
use stratumd::work::notify::{notify_line, NotifyFields};
use stratumd::work::Payee;

fn notify(c: &mut Criterion) {
    let mut group = c.benchmark_group("notify_serialization");
    for (txs, outputs) in [(0usize, 1u32), (4000, 1), (0, 500)] {
        let job = common::job_with(txs, outputs);
        let work = job.work_for(&Payee::Pool).unwrap();
        let id = job.id.to_string();
        let prevhash = stratumd::work::notify::prevhash_words_swapped(&job.prevhash);
        let coinb2 = work.coinb2.to_vec();
        let fields = NotifyFields {
            job_id: &id,
            prevhash: &prevhash,
            coinb1: &job.coinb1,
            coinb2: &coinb2,
            branch: &job.merkle_branch,
            version: job.version,
            bits: job.bits,
            ntime: job.ntime,
        };
        group.bench_function(
            BenchmarkId::new(format!("{txs}_txs"), format!("{outputs}_outputs")),
            |b| b.iter(|| black_box(notify_line(black_box(&fields), false).len())),
        );
    }
    group.finish();
}

fn vardiff(c: &mut Criterion) {
    let bounds = DiffBounds {
        min: 0.0001,
        max: None,
        network: 1e12,
    };
    let t0 = Instant::now();
    let mut v = Vardiff::new(t0);
    let mut i = 0u64;
    c.bench_function("vardiff/on_share", |b| {
        b.iter(|| {
            i += 1;
            // One share every 3.33 s at difficulty 1: in the band, the common case.
            let now = t0 + Duration::from_millis(3330 * i);
            black_box(v.on_share(now, 1.0, 1.0, black_box(&bounds)))
        })
    });
}

criterion_group!(benches, notify, vardiff);
criterion_main!(benches);

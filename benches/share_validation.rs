//! Share validation (the hot path) against the bare SHA-256 work on the same bytes:
//! coinbase double hash, one double hash per merkle level, header double hash.

mod common;

use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use stratumd::pow::hash::{sha256d, sha256d_pair};
use stratumd::share::{validate_share, Submission};
use stratumd::work::Payee;

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("share_validation");
    group.throughput(Throughput::Elements(1));
    // 0 transactions: empty branch; 4000 transactions: 12 merkle levels.
    for txs in [0usize, 4000] {
        let job = common::job(txs);
        let work = job.work_for(&Payee::Pool).unwrap();
        let levels = job.merkle_branch.len();
        let en1 = [1u8, 2, 3, 4];
        let en2 = [0u8; 8];
        let mut nonce = 0u32;
        group.bench_function(
            BenchmarkId::new("validate_share", format!("{levels}_levels")),
            |b| {
                b.iter(|| {
                    nonce = nonce.wrapping_add(1);
                    let sub = Submission {
                        extranonce1: &en1,
                        extranonce2: &en2,
                        ntime: job.ntime,
                        nonce,
                        version: job.version,
                    };
                    // Difficulty 1e6: virtually every share misses, as most submits at load do.
                    black_box(validate_share(&job, &work, black_box(&sub), 1e6, 1).accepted())
                })
            },
        );
        // The same SHA-256 work on prepared bytes, nothing else.
        let mut coinbase = job.coinb1.clone();
        coinbase.extend_from_slice(&en1);
        coinbase.extend_from_slice(&en2);
        coinbase.extend_from_slice(&work.coinb2.to_vec());
        let header = [7u8; 80];
        let branch = job.merkle_branch.clone();
        group.bench_function(
            BenchmarkId::new("sha256_same_bytes", format!("{levels}_levels")),
            |b| {
                b.iter(|| {
                    let mut root = sha256d(black_box(&coinbase));
                    for step in &branch {
                        root = sha256d_pair(&root, step);
                    }
                    black_box(root);
                    black_box(sha256d(black_box(&header)))
                })
            },
        );
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);

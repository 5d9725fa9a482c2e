//! Job building: template → coinbase split, merkle branch and the payee's notify line, for
//! 1, 100 and 500 outputs and 0 or 4,000 transactions.

mod common;

use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion};

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("job_building");
    for txs in [0usize, 4000] {
        let template = common::template(txs);
        for outputs in [1u32, 100, 500] {
            let builder = common::builder();
            let plan = common::plan(outputs);
            group.bench_function(
                BenchmarkId::new(format!("{txs}_txs"), format!("{outputs}_outputs")),
                |b| b.iter(|| black_box(builder.build(&template, &plan, common::at_now()).is_ok())),
            );
        }
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);

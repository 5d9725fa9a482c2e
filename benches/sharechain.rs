//! The share chain: validating and connecting generated shares with the RocksDB store on
//! (timed once over 100,000 shares; `SHARECHAIN_BENCH_SHARES` to change it), the cost of
//! one more share at a small and at a 100,000-share window (criterion), a p2pool job's
//! rebuild for a 500-payee window, and the per-payee notifies of a new job for 10,000
//! miners under 10,000 addresses against 10,000 under one.
//!
//! Shares are made with `tests/support/share_maker.rs` (public API only): generation is not
//! timed, only the receiving node's work.

#[path = "../tests/support/share_maker.rs"]
mod share_maker;

mod common;

use std::sync::Arc;
use std::time::Instant;

use criterion::{black_box, criterion_group, Criterion};
use share_maker::{script, ShareMaker};
use stratumd::p2pool::chain::{Chain, Verdict};
use stratumd::p2pool::share::Share;
use stratumd::p2pool::spec::ChainSpec;
use stratumd::p2pool::store::Store;
use stratumd::work::{JobBoard, Payee, PayoutPlan};

const LATE: u64 = u64::MAX / 4;

/// A chain whose window can hold `cap` shares: the block's work is 100 shares' at the
/// easiest target, times a work ratio that lets the cap bind.
fn spec(cap: u32) -> ChainSpec {
    ChainSpec {
        name: format!("bench-{cap}"),
        window_max_shares: cap,
        window_min_shares: 1,
        window_work_num: cap,
        window_work_den: 10,
        ..ChainSpec::preset("regtest").unwrap()
    }
}

/// `n` shares in a line by `miners` miners, made on an in-memory chain.
fn make_line(spec: &ChainSpec, n: usize, miners: u32) -> Vec<Share> {
    let mut chain = Chain::new(spec.clone());
    let mut maker = ShareMaker::new(spec.clone());
    let mut out = Vec::with_capacity(n);
    for k in 0..n {
        let share = maker.next_on_tip(&mut chain, k as u32 % miners);
        assert_eq!(chain.offer(share.clone(), LATE), Verdict::Valid);
        out.push(share);
    }
    out
}

fn quick() -> bool {
    std::env::args().any(|a| a == "--test")
}

/// Validate and connect `n` shares from an empty store, one batch per share as the node
/// writes them.
fn connect_with_store() {
    let n: usize = std::env::var("SHARECHAIN_BENCH_SHARES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if quick() { 2_000 } else { 100_000 });
    let spec = spec(100_000);
    let made = Instant::now();
    let shares = make_line(&spec, n, 50);
    eprintln!("made {n} shares in {:.1?} (not timed)", made.elapsed());
    let dir = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let mut store = Store::open(dir.path(), &spec).unwrap();
    let mut chain = store.load(spec.clone()).unwrap();
    for share in shares {
        assert_eq!(chain.offer(share, LATE), Verdict::Valid);
        store.save(&mut chain, 200_000).unwrap();
    }
    let took = started.elapsed();
    println!(
        "sharechain/connect_with_store: {n} shares validated, connected and stored in {:.2?} ({:.1} µs/share), window {} shares",
        took,
        took.as_secs_f64() * 1e6 / n as f64,
        chain.window().len()
    );
    // Reopened: the same tip, as a restart sees it.
    drop(store);
    let reopened = Instant::now();
    let store = Store::open(dir.path(), &spec).unwrap();
    let again = store.load(spec).unwrap();
    assert_eq!(again.tip(), chain.tip());
    println!(
        "sharechain/reopen: {} shares loaded in {:.2?}",
        again.len(),
        reopened.elapsed()
    );
}

/// One more share on a chain whose window holds `window` shares (validation and connect,
/// in memory): the same cost whatever the window's size.
fn one_more_share(c: &mut Criterion) {
    let mut group = c.benchmark_group("sharechain/one_more_share");
    group.sample_size(10);
    let sizes: &[usize] = if quick() { &[100] } else { &[1_000, 100_000] };
    for &window in sizes {
        let spec = spec(window as u32);
        let shares = make_line(&spec, window + 200, 50);
        let (base, next) = shares.split_at(window);
        let mut chain = Chain::new(spec.clone());
        for s in base {
            chain.offer(s.clone(), LATE);
        }
        assert_eq!(chain.window().len(), window);
        // Each iteration offers the next of 200 prepared shares; the chain is rebuilt
        // (untimed) when they run out.
        let mut i = 0;
        group.bench_function(format!("window_{window}"), |b| {
            b.iter_custom(|iters| {
                let mut total = std::time::Duration::ZERO;
                for _ in 0..iters {
                    if i == next.len() {
                        chain = Chain::new(spec.clone());
                        for s in base {
                            chain.offer(s.clone(), LATE);
                        }
                        i = 0;
                    }
                    let share = next[i].clone();
                    i += 1;
                    let t = Instant::now();
                    black_box(chain.offer(share, LATE));
                    total += t.elapsed();
                }
                total
            })
        });
    }
    group.finish();
}

/// A chain whose tip window pays `payees` scripts.
fn chain_with_payees(payees: u32) -> Chain {
    let spec = ChainSpec {
        max_outputs: 500,
        ..spec(payees * 2)
    };
    let mut chain = Chain::new(spec.clone());
    let mut maker = ShareMaker::new(spec);
    for k in 0..payees * 2 {
        let share = maker.next_on_tip(&mut chain, k % payees);
        chain.offer(share, LATE);
    }
    chain
}

/// A p2pool job's rebuild for a window of 500 payees (the job loop's work on a new tip).
fn job_rebuild(c: &mut Criterion) {
    let chain = chain_with_payees(if quick() { 50 } else { 500 });
    let plan = Arc::new(PayoutPlan::P2pool(chain.tip_work()));
    let template = common::template(0);
    let builder = common::builder();
    c.bench_function("sharechain/job_rebuild_500_payees", |b| {
        b.iter(|| black_box(builder.build(&template, &plan, common::at_now()).is_ok()))
    });
}

/// A new job's notifies for 10,000 miners: under 10,000 addresses each payee's work is
/// built (its commitment hashed, its coinb2 and notify serialized); under one address it is
/// built once and shared.
fn fan_out(c: &mut Criterion) {
    let chain = chain_with_payees(if quick() { 20 } else { 100 });
    let plan = Arc::new(PayoutPlan::P2pool(chain.tip_work()));
    let template = common::template(0);
    let builder = common::builder();
    let miners = if quick() { 100 } else { 10_000 };
    let payees: Vec<Payee> = (0..miners)
        .map(|i| Payee::Miner(script(1_000 + i)))
        .collect();
    let one = Payee::Miner(script(7));
    let board = JobBoard::new();
    let mut group = c.benchmark_group("sharechain/fan_out");
    group.sample_size(10);
    for (name, distinct) in [("one_address", false), ("distinct_addresses", true)] {
        group.bench_function(format!("{miners}_miners_{name}"), |b| {
            b.iter(|| {
                let job = builder.build(&template, &plan, common::at_now()).unwrap();
                let posting = board.publish(Arc::new(job));
                let mut bytes = 0usize;
                for payee in &payees {
                    let payee = if distinct { payee } else { &one };
                    bytes += posting.work_for(payee).unwrap().notify.len();
                }
                black_box(bytes)
            })
        });
    }
    group.finish();
}

criterion_group!(benches, one_more_share, job_rebuild, fan_out);

fn main() {
    connect_with_store();
    benches();
    Criterion::default().configure_from_args().final_summary();
}

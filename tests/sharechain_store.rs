//! The share chain's RocksDB store: a reopened store gives the same tip and window, shares
//! below the kept depth are pruned from the chain and the store, a store of another chain
//! is refused, and a corrupt record is an error naming it.

#[path = "support/share_maker.rs"]
mod share_maker;

use share_maker::ShareMaker;
use stratumd::p2pool::chain::{Chain, Verdict};
use stratumd::p2pool::spec::ChainSpec;
use stratumd::p2pool::store::{Store, StoreError};

/// A clock past every made share's time.
const LATE: u64 = u64::MAX / 4;

fn spec() -> ChainSpec {
    ChainSpec {
        name: "store-tests".into(),
        window_max_shares: 20,
        window_min_shares: 2,
        ..ChainSpec::preset("regtest").unwrap()
    }
}

fn grow(store: &mut Store, chain: &mut Chain, maker: &mut ShareMaker, n: u32, keep: u64) {
    for k in 0..n {
        let share = maker.next_on_tip(chain, k % 4);
        assert_eq!(chain.offer(share, LATE), Verdict::Valid);
        store.save(chain, keep).unwrap();
    }
}

#[test]
fn a_reopened_store_gives_the_same_tip_and_window() {
    let dir = tempfile::tempdir().unwrap();
    let mut maker = ShareMaker::new(spec());
    let mut store = Store::open(dir.path(), &spec()).unwrap();
    let mut chain = store.load(spec()).unwrap();
    grow(&mut store, &mut chain, &mut maker, 50, 1_000);
    // A side branch from the tip's parent, by another miner: kept (equal work: the tip is
    // the lower id of the two, by the same rule on restart).
    let fork = chain.get(&chain.tip()).unwrap().share.meta.parent;
    let side = maker.next_on(&mut chain, fork, 9);
    let side_id = side.id();
    assert_eq!(chain.offer(side, LATE), Verdict::Valid);
    store.save(&mut chain, 1_000).unwrap();
    let tip = chain.tip();
    let window: Vec<_> = chain.window().ids().collect();
    let tally = chain.window().tally().clone();
    assert_eq!(window.len(), 20, "the cap binds");
    drop(store);

    let store = Store::open(dir.path(), &spec()).unwrap();
    assert_eq!(store.stored_tip().unwrap(), Some(tip));
    let mut again = store.load(spec()).unwrap();
    assert_eq!(again.len(), 51);
    assert!(again.get(&side_id).is_some());
    assert_eq!(again.tip(), tip);
    assert_eq!(again.window().ids().collect::<Vec<_>>(), window);
    assert_eq!(again.window().tally(), &tally);
    // And it goes on: the next share on the restored tip is valid.
    let next = maker.next_on_tip(&mut again, 2);
    assert_eq!(again.offer(next, LATE), Verdict::Valid);
}

#[test]
fn shares_below_the_kept_depth_are_pruned_from_chain_and_store() {
    let dir = tempfile::tempdir().unwrap();
    let mut maker = ShareMaker::new(spec());
    let mut store = Store::open(dir.path(), &spec()).unwrap();
    let mut chain = store.load(spec()).unwrap();
    grow(&mut store, &mut chain, &mut maker, 100, 40);
    // Pruned in steps of keep/10 = 4: the last at tip height 100, below height 60.
    assert_eq!(chain.len(), 41);
    assert_eq!(store.entries().unwrap().len(), 41);
    let again = store.load(spec()).unwrap();
    assert_eq!(again.len(), 41);
    assert_eq!(again.tip(), chain.tip());
    assert_eq!(
        again.window().ids().collect::<Vec<_>>(),
        chain.window().ids().collect::<Vec<_>>()
    );
    assert_eq!(again.window().tally(), chain.window().tally());
}

#[test]
fn a_store_of_another_chain_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    drop(Store::open(dir.path(), &spec()).unwrap());
    let other = ChainSpec {
        name: "another".into(),
        ..spec()
    };
    let err = Store::open(dir.path(), &other).unwrap_err();
    assert!(matches!(err, StoreError::OtherChain { .. }), "{err}");
}

#[test]
fn a_corrupt_record_is_named_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let mut maker = ShareMaker::new(spec());
    let id = {
        let mut store = Store::open(dir.path(), &spec()).unwrap();
        let mut chain = store.load(spec()).unwrap();
        grow(&mut store, &mut chain, &mut maker, 3, 100);
        chain.tip()
    };
    {
        // Overwrite the tip's record behind the store's back.
        let opts = rocksdb::Options::default();
        let db = rocksdb::DB::open_cf(&opts, dir.path(), ["shares", "heights", "meta"]).unwrap();
        let cf = db.cf_handle("shares").unwrap();
        // The record format's version (3), then too few bytes.
        db.put_cf(cf, id.0, [3u8, 2, 3]).unwrap();
    }
    let store = Store::open(dir.path(), &spec()).unwrap();
    let err = store.load(spec()).unwrap_err();
    assert!(matches!(err, StoreError::Corrupt { .. }), "{err}");
    assert!(err.to_string().contains(&id.to_string()), "{err}");
    drop(store);
    {
        let opts = rocksdb::Options::default();
        let db = rocksdb::DB::open_cf(&opts, dir.path(), ["shares", "heights", "meta"]).unwrap();
        let cf = db.cf_handle("shares").unwrap();
        // A record of an older format.
        db.put_cf(cf, id.0, [1u8, 2, 3]).unwrap();
    }
    let store = Store::open(dir.path(), &spec()).unwrap();
    let err = store.load(spec()).unwrap_err();
    assert!(
        matches!(err, StoreError::OldFormat { found: 1, .. }),
        "{err}"
    );
}

#[test]
fn a_small_window_chain_prunes_and_goes_on() {
    // A window of 4 shares: the median times (11 ancestors) read deeper than the window,
    // and what is kept must cover them, or shares on the tip could not be checked.
    let spec = ChainSpec {
        name: "small-window".into(),
        window_max_shares: 4,
        window_min_shares: 1,
        ..spec()
    };
    let keep = stratumd::sharechain::keep_depth(&spec);
    let dir = tempfile::tempdir().unwrap();
    let mut maker = ShareMaker::new(spec.clone());
    let mut store = Store::open(dir.path(), &spec).unwrap();
    let mut chain = store.load(spec.clone()).unwrap();
    // Every share on the tip is valid (grow asserts it), pruning or not.
    grow(&mut store, &mut chain, &mut maker, 200, keep);
    assert!(chain.len() < 200, "pruned: {} kept", chain.len());
    let mut again = store.load(spec).unwrap();
    assert_eq!(again.tip(), chain.tip());
    let next = maker.next_on_tip(&mut again, 1);
    assert_eq!(again.offer(next, LATE), Verdict::Valid);
}

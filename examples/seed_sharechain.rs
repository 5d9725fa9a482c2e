//! Seeds a share chain store with generated shares, for load runs that need a node whose
//! window pays many miners (`scripts/load.sh c-p2pool…`): `seed_sharechain <store> <spec
//! file or preset> <shares> <payees>`. The shares are at most two minutes apart, between the
//! genesis and now (so ASERT takes the share target to the spec's minimum, cheap to grind), with a block
//! target of difficulty 0.01 in their headers (so the window holds them all).

#[path = "../tests/support/share_maker.rs"]
mod share_maker;

use std::path::Path;
use std::process::ExitCode;

use share_maker::ShareMaker;
use stratumd::p2pool::chain::Verdict;
use stratumd::p2pool::spec::ChainSpec;
use stratumd::p2pool::store::Store;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let [_, store, chain, shares, payees] = &args[..] else {
        eprintln!("usage: seed_sharechain <store> <spec file or preset> <shares> <payees>");
        return ExitCode::FAILURE;
    };
    let spec = match ChainSpec::preset(chain).or_else(|_| ChainSpec::load(Path::new(chain))) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("seed_sharechain: {e}");
            return ExitCode::FAILURE;
        }
    };
    let (Ok(shares), Ok(payees)) = (shares.parse::<u32>(), payees.parse::<u32>()) else {
        eprintln!("seed_sharechain: <shares> and <payees> are numbers");
        return ExitCode::FAILURE;
    };
    if let Err(e) = std::fs::create_dir_all(store) {
        eprintln!("seed_sharechain: {store}: {e}");
        return ExitCode::FAILURE;
    }
    let mut db = match Store::open(Path::new(store), &spec) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("seed_sharechain: {e}");
            return ExitCode::FAILURE;
        }
    };
    let Ok(mut chain) = db.load(spec.clone()) else {
        eprintln!("seed_sharechain: cannot read {store}");
        return ExitCode::FAILURE;
    };
    // Difficulty 0.01: the diff-1 target (0x1d00ffff) times 100.
    let block_bits =
        bitcoin::pow::Target::from_compact(bitcoin::CompactTarget::from_consensus(0x1d00_ffff));
    let target = ruint::aliases::U256::from_le_bytes(block_bits.to_le_bytes())
        * ruint::aliases::U256::from(100u32);
    let block_bits = stratumd::p2pool::target::bits_of(target).0;
    // Ending a period before now: jobs on the seeded tip take the clock's time.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    // At most two minutes apart, and all between the genesis and now: none from the future.
    let period = (now.saturating_sub(spec.genesis_time) / (u64::from(shares) + 2)).min(120);
    if period < 2 {
        eprintln!("seed_sharechain: the chain's genesis is too recent for {shares} shares");
        return ExitCode::FAILURE;
    }
    let start = now - period * (u64::from(shares) + 1);
    let mut maker = ShareMaker::custom(
        u32::try_from(start).unwrap_or(u32::MAX),
        period as u32,
        block_bits,
    );
    for k in 0..shares {
        let share = maker.next_on_tip(&mut chain, k % payees);
        let verdict = chain.offer(share, u64::MAX / 4);
        if verdict != Verdict::Valid {
            eprintln!("seed_sharechain: share {k}: {verdict:?}");
            return ExitCode::FAILURE;
        }
    }
    if let Err(e) = db.save(&mut chain, u64::MAX / 4) {
        eprintln!("seed_sharechain: {e}");
        return ExitCode::FAILURE;
    }
    println!(
        "seeded {shares} shares by {payees} payees: tip {} at height {}, window {} shares, {} payees",
        chain.tip(),
        chain.tip_height(),
        chain.window().len(),
        chain.window().tally().len()
    );
    ExitCode::SUCCESS
}

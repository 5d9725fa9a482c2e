//! bitcoind's `getblocktemplate` result into a `Template`, and a valid template into a job
//! and a solo miner's coinbase, as the job loop does with every template.
//!
//! Checked: nothing panics, and the coinbase a miner is sent is a transaction that pays
//! exactly the fitted template's coinbase value, never more.

#![no_main]

use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bitcoin::consensus::deserialize;
use bitcoin::{Address, Transaction};
use libfuzzer_sys::fuzz_target;
use stratumd::node::template::Template;
use stratumd::work::{BuildContext, JobBuilder, JobConfig, Payee, PayoutPlan};

fuzz_target!(|data: &[u8]| {
    let Ok(json) = serde_json::from_slice::<serde_json::Value>(data) else {
        return;
    };
    let Ok(template) = Template::from_json(json) else {
        return;
    };
    let template = Arc::new(template);
    let builder = JobBuilder::new(JobConfig {
        nonce1_len: 4,
        nonce2_len: 8,
        btcsig: b"/fuzz/".to_vec(),
    });
    let plan = Arc::new(PayoutPlan::Solo { donation: None });
    let at = BuildContext {
        clean: true,
        generation: 1,
        now: SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000),
    };
    let Ok(job) = builder.build(&template, &plan, at) else {
        return;
    };
    let script = Address::from_str("bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080")
        .expect("a regtest address")
        .assume_checked()
        .script_pubkey();
    let Ok(work) = job.work_for(&Payee::Miner(script)) else {
        return;
    };
    let mut coinbase = job.coinb1.clone();
    coinbase.extend(std::iter::repeat_n(0u8, job.nonce1_len + job.nonce2_len));
    coinbase.extend(work.coinb2.to_vec());
    let tx: Transaction = match deserialize(&coinbase) {
        Ok(tx) => tx,
        Err(e) => panic!("the coinbase is not a transaction: {e}"),
    };
    assert!(tx.is_coinbase(), "not a coinbase");
    let paid: u64 = tx.output.iter().map(|o| o.value.to_sat()).sum();
    assert_eq!(
        paid, job.template.coinbase_value,
        "coinbase pays other than the template's value"
    );
    assert!(
        job.template.coinbase_value <= template.coinbase_value,
        "fitting raised the value"
    );
});

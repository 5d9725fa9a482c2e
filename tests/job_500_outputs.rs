//! A pool job paying 500 P2WPKH outputs builds, a share on it solves the (regtest-easy)
//! block, and the assembled block passes rust-bitcoin's own checks with every amount equal
//! to an independent computation.

use std::sync::Arc;
use std::time::SystemTime;

use bitcoin::hashes::Hash;
use bitcoin::{Block, ScriptBuf, Target};
use stratumd::node::template::Template;
use stratumd::share::block::assemble_block;
use stratumd::share::{validate_share, Submission};
use stratumd::work::payout::{PoolPayees, WeightedPayee};
use stratumd::work::{BuildContext, JobBuilder, JobConfig, Payee, PayoutPlan};

fn p2wpkh(i: u32) -> ScriptBuf {
    let mut program = [0u8; 20];
    program[..4].copy_from_slice(&i.to_le_bytes());
    program[19] = 0x5a;
    ScriptBuf::new_p2wpkh(&bitcoin::WPubkeyHash::from_byte_array(program))
}

#[test]
fn five_hundred_outputs_build_and_mine() {
    let path = format!(
        "{}/tests/fixtures/ckpool/gbt-notify/three-txns/gbt.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let gbt: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let template = Arc::new(Template::from_json(gbt).unwrap());
    let value = template.coinbase_value;
    let payees: Vec<WeightedPayee> = (0..500u32)
        .map(|i| WeightedPayee {
            script: p2wpkh(i),
            weight: u64::from(i % 7 + 1),
        })
        .collect();
    let builder = JobBuilder::new(JobConfig {
        nonce1_len: 4,
        nonce2_len: 8,
        btcsig: b"/stratumd/".to_vec(),
    });
    let plan = Arc::new(PayoutPlan::pool(
        PoolPayees::new(payees.clone()).unwrap(),
        None,
    ));
    let at = BuildContext {
        clean: true,
        generation: 1,
        now: SystemTime::now(),
    };
    let job = Arc::new(builder.build(&template, &plan, at).unwrap());
    let work = job.work_for(&Payee::Pool).unwrap();
    assert!(
        work.notify.len() > 16 * 1024,
        "a 500-output notify is long: {}",
        work.notify.len()
    );

    // Mine: regtest's target accepts about half of all hashes.
    let extranonce1 = [1, 2, 3, 4];
    let extranonce2 = [0u8; 8];
    let mut found = None;
    for nonce in 0..10_000u32 {
        let sub = Submission {
            extranonce1: &extranonce1,
            extranonce2: &extranonce2,
            ntime: job.ntime,
            nonce,
            version: job.version,
        };
        let o = validate_share(&job, &work, &sub, 1e-12, 1);
        if o.is_block && o.accepted() {
            found = Some((sub, o));
            break;
        }
    }
    let (sub, outcome) = found.expect("a block within 10,000 nonces at regtest difficulty");
    let block_bytes = assemble_block(&job, &work, &sub, &outcome.header).unwrap();

    let block: Block = bitcoin::consensus::deserialize(&block_bytes).unwrap();
    assert_eq!(block.block_hash().to_byte_array(), outcome.hash);
    assert!(block
        .header
        .validate_pow(Target::from_compact(block.header.bits))
        .is_ok());
    assert!(block.check_merkle_root());
    assert!(block.check_witness_commitment());
    assert_eq!(
        block.bip34_block_height().unwrap(),
        u64::from(template.height)
    );
    assert_eq!(block.txdata.len(), 1 + template.transactions.len());

    // Independent split: floor(value * w / W), remainder to the first payee.
    let total_weight: u64 = payees.iter().map(|p| p.weight).sum();
    let mut expected: Vec<u64> = payees
        .iter()
        .map(|p| (u128::from(value) * u128::from(p.weight) / u128::from(total_weight)) as u64)
        .collect();
    let paid: u64 = expected.iter().sum();
    expected[0] += value - paid;
    let coinbase = &block.txdata[0];
    assert_eq!(
        coinbase.output.len(),
        501,
        "500 payees and the witness commitment"
    );
    for (i, (out, payee)) in coinbase.output.iter().zip(&payees).enumerate() {
        assert_eq!(out.script_pubkey, payee.script, "output {i} script");
        assert_eq!(out.value.to_sat(), expected[i], "output {i} amount");
    }
    assert_eq!(coinbase.output[500].value.to_sat(), 0);
    assert_eq!(
        coinbase.output[500].script_pubkey,
        template.witness_commitment.clone().unwrap()
    );
    let sum: u64 = coinbase.output.iter().map(|o| o.value.to_sat()).sum();
    assert_eq!(sum, value);
}

//! Shared bench inputs: templates with 0 or N synthetic transactions and jobs built on them.
#![allow(dead_code)]

use std::sync::Arc;
use std::time::SystemTime;

use bitcoin::hashes::{sha256d, Hash};
use bitcoin::{ScriptBuf, Txid, Wtxid};
use stratumd::node::template::{Template, TemplateTransaction};
use stratumd::work::payout::{PoolPayees, WeightedPayee};
use stratumd::work::{BuildContext, Job, JobBuilder, JobConfig, PayoutPlan};

/// The captured signet-like template with no transactions (tests/fixtures/.../sessions/a).
pub fn template(transactions: usize) -> Arc<Template> {
    let path = format!(
        "{}/tests/fixtures/ckpool/sessions/a/template.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut t = Template::from_json(json).unwrap();
    t.transactions = (0..transactions as u32)
        .map(|i| {
            let h = sha256d::Hash::hash(&i.to_le_bytes()).to_byte_array();
            TemplateTransaction {
                data: Vec::new(),
                txid: Txid::from_byte_array(h),
                wtxid: Wtxid::from_byte_array(h),
                fee: 1000,
                weight: 560,
                sigops: 1,
            }
        })
        .collect();
    Arc::new(t)
}

/// A P2WPKH script numbered `i`.
pub fn p2wpkh(i: u32) -> ScriptBuf {
    let mut program = [0u8; 20];
    program[..4].copy_from_slice(&i.to_le_bytes());
    ScriptBuf::new_p2wpkh(&bitcoin::WPubkeyHash::from_byte_array(program))
}

/// A job builder with ckpool's extranonce sizes.
pub fn builder() -> JobBuilder {
    JobBuilder::new(JobConfig {
        nonce1_len: 4,
        nonce2_len: 8,
        btcsig: b"/stratumd/".to_vec(),
    })
}

/// A pool-mode plan paying `outputs` equal-weight P2WPKH outputs.
pub fn plan(outputs: u32) -> Arc<PayoutPlan> {
    let payees = (0..outputs)
        .map(|i| WeightedPayee {
            script: p2wpkh(i),
            weight: 1,
        })
        .collect();
    Arc::new(PayoutPlan::pool(PoolPayees::new(payees).unwrap(), None))
}

/// A new block's first job, built now.
pub fn at_now() -> BuildContext {
    BuildContext {
        clean: true,
        generation: 1,
        now: SystemTime::now(),
    }
}

/// A job with `transactions` transactions and `outputs` payouts.
pub fn job_with(transactions: usize, outputs: u32) -> Arc<Job> {
    Arc::new(
        builder()
            .build(&template(transactions), &plan(outputs), at_now())
            .unwrap(),
    )
}

/// A job with `transactions` transactions and one payout.
pub fn job(transactions: usize) -> Arc<Job> {
    job_with(transactions, 1)
}

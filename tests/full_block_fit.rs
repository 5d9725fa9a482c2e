//! A 500-output pool coinbase beside a nearly full template (7,950 simnet transactions): the job leaves out trailing
//! transactions (and their fees) so the block stays within consensus limits, and simnet,
//! which checks weight, coinbase value and the witness commitment with rust-bitcoin,
//! accepts the block.

use std::sync::Arc;
use std::time::SystemTime;

use bitcoin::hashes::Hash;
use bitcoin::ScriptBuf;
use bitcoincore_rpc::{Auth, Client, RpcApi};
use serde_json::{json, Value};
use stratumd::node::template::Template;
use stratumd::share::block::assemble_block;
use stratumd::share::{validate_share, Submission};
use stratumd::work::fit::MAX_BLOCK_WEIGHT;
use stratumd::work::payout::{PoolPayees, WeightedPayee};
use stratumd::work::{BuildContext, JobBuilder, JobConfig, Payee, PayoutPlan};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_hundred_outputs_beside_a_full_template_make_a_valid_block() {
    let sim = simnet::start(simnet::SimnetConfig {
        difficulty: 0.000001,
        transactions_per_template: 7_950,
        auth: simnet::SimnetAuth::UserPass {
            user: "u".into(),
            password: "p".into(),
        },
        ..simnet::SimnetConfig::default()
    })
    .await
    .unwrap();
    let url = format!("http://{}", sim.rpc_addr);
    let outcome = tokio::task::spawn_blocking(move || {
        let rpc = Client::new(&url, Auth::UserPass("u".into(), "p".into())).unwrap();
        let gbt: Value = rpc
            .call("getblocktemplate", &[json!({"rules": ["segwit"]})])
            .unwrap();
        let template = Arc::new(Template::from_json(gbt).unwrap());
        let template_weight: u64 = template.transactions.iter().map(|t| t.weight).sum();
        assert!(
            template_weight > MAX_BLOCK_WEIGHT - 62_000,
            "template must be nearly full: {template_weight}"
        );

        let payees: Vec<WeightedPayee> = (0..500u32)
            .map(|i| {
                let mut program = [0u8; 20];
                program[..4].copy_from_slice(&i.to_le_bytes());
                WeightedPayee {
                    script: ScriptBuf::new_p2wpkh(&bitcoin::WPubkeyHash::from_byte_array(program)),
                    weight: 1,
                }
            })
            .collect();
        let builder = JobBuilder::new(JobConfig {
            nonce1_len: 4,
            nonce2_len: 8,
            btcsig: b"/fit/".to_vec(),
        });
        let plan = Arc::new(PayoutPlan::pool(PoolPayees::new(payees).unwrap(), None));
        let at = BuildContext {
            clean: true,
            generation: 1,
            now: SystemTime::now(),
        };
        let job = Arc::new(builder.build(&template, &plan, at).unwrap());
        let work = job.work_for(&Payee::Pool).unwrap();
        let kept = job.template.transactions.len();
        assert!(
            kept < template.transactions.len(),
            "some transactions must be left out"
        );
        let dropped_fees: u64 = template.transactions[kept..].iter().map(|t| t.fee).sum();
        assert_eq!(
            job.template.coinbase_value,
            template.coinbase_value - dropped_fees
        );

        let en1 = [9u8; 4];
        let en2 = [0u8; 8];
        let (sub, o) = (0..10_000_000u32)
            .find_map(|nonce| {
                let sub = Submission {
                    extranonce1: &en1,
                    extranonce2: &en2,
                    ntime: job.ntime,
                    nonce,
                    version: job.version,
                };
                Some(validate_share(&job, &work, &sub, 1e-12, 1))
                    .filter(|o| o.is_block && o.accepted())
                    .map(|o| (sub, o))
            })
            .expect("a block at difficulty 1e-6");
        let block = assemble_block(&job, &work, &sub, &o.header).unwrap();
        let decoded: bitcoin::Block = bitcoin::consensus::deserialize(&block).unwrap();
        assert!(
            decoded.weight().to_wu() <= MAX_BLOCK_WEIGHT,
            "{}",
            decoded.weight()
        );
        assert_eq!(decoded.txdata[0].output.len(), 501);
        let paid: u64 = decoded.txdata[0]
            .output
            .iter()
            .map(|o| o.value.to_sat())
            .sum();
        assert_eq!(paid, job.template.coinbase_value);
        rpc.call::<Value>("submitblock", &[json!(hex::encode(&block))])
            .unwrap()
    })
    .await
    .unwrap();
    assert_eq!(outcome, Value::Null, "simnet's answer: {outcome}");
    assert_eq!(sim.blocks_accepted_by_submit(), 1);
    sim.shutdown().await;
}

//! A p2pool job, checked from outside: every payee's coinbase (coinb1 + extranonces +
//! coinb2, decoded with rust-bitcoin) pays the tip window's outputs, the same for every
//! payee, then its own share commitment, then the template's witness commitment, and sums
//! to the coinbase value; a share mined on the job is valid on the chain it came from; and
//! no session may be given a difficulty above the share chain's.

#[path = "support/share_maker.rs"]
mod share_maker;

use std::sync::Arc;
use std::time::SystemTime;

use bitcoin::hashes::Hash;
use bitcoin::{ScriptBuf, Transaction};
use share_maker::{script, ShareMaker};
use stratumd::node::template::Template;
use stratumd::p2pool::chain::{Chain, Verdict};
use stratumd::p2pool::spec::ChainSpec;
use stratumd::pow::target::difficulty_of_target;
use stratumd::share::validate::{header_and_hash, HeaderParts, Submission};
use stratumd::share::FoundShare;
use stratumd::short_bytes::ShortBytes;
use stratumd::work::{BuildContext, JobBuilder, JobConfig, Payee, PayoutPlan};

/// A regtest template captured from ckpool's bitcoind (three transactions, a witness
/// commitment), from tests/fixtures/ckpool/gbt-notify/three-txns.
fn template() -> Arc<Template> {
    let path = format!(
        "{}/tests/fixtures/ckpool/gbt-notify/three-txns/gbt.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let json = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    Arc::new(Template::from_json(json).unwrap())
}

/// A chain whose window pays five miners.
fn chain() -> Chain {
    let spec = ChainSpec {
        name: "p2pool-jobs".into(),
        window_max_shares: 50,
        window_min_shares: 5,
        ..ChainSpec::preset("regtest").unwrap()
    };
    let mut chain = Chain::new(spec.clone());
    let mut maker = ShareMaker::new(spec);
    for k in 0..20 {
        let share = maker.next_on_tip(&mut chain, k % 5);
        assert_eq!(chain.offer(share, u64::MAX / 4), Verdict::Valid);
    }
    chain
}

#[test]
fn every_payees_coinbase_pays_the_window_then_its_own_commitment() {
    let mut chain = chain();
    let tip = chain.tip_work();
    assert_eq!(tip.tally.len(), 5);
    let template = template();
    let plan = Arc::new(PayoutPlan::P2pool(tip.clone()));
    let builder = JobBuilder::new(JobConfig {
        nonce1_len: 4,
        nonce2_len: 8,
        btcsig: b"/test/".to_vec(),
    });
    let at = BuildContext {
        clean: true,
        generation: 1,
        now: SystemTime::now(),
    };
    let job = Arc::new(builder.build(&template, &plan, at).unwrap());
    let value = job.template.coinbase_value;
    let window = tip.outputs(value, &ScriptBuf::new());
    assert_eq!(window.len(), 5);
    // No session above the chain's difficulty (regtest's: the network's too).
    let share_target = job.share_job.as_ref().unwrap().target;
    assert_eq!(job.difficulty_cap(), difficulty_of_target(&share_target));
    assert!(job.difficulty_cap() <= job.network_difficulty);

    let (en1, en2) = ([1u8, 2, 3, 4], [9u8; 8]);
    let mut coinbases = Vec::new();
    for miner in [script(100), script(101)] {
        let payee = Payee::Miner(miner.clone());
        let work = job.work_for(&payee).unwrap();
        let bytes = [&job.coinb1[..], &en1, &en2, &work.coinb2.to_vec()].concat();
        // The notify carries exactly this coinb2.
        let notify: serde_json::Value = serde_json::from_slice(&work.notify.to_vec()).unwrap();
        assert_eq!(notify["params"][3], hex::encode(work.coinb2.to_vec()));
        assert_eq!(notify["params"][2], hex::encode(&job.coinb1));
        let tx: Transaction = bitcoin::consensus::deserialize(&bytes).expect("a transaction");
        let outs: Vec<(ScriptBuf, u64)> = tx
            .output
            .iter()
            .map(|o| (o.script_pubkey.clone(), o.value.to_sat()))
            .collect();
        assert_eq!(outs.len(), window.len() + 2);
        assert_eq!(&outs[..window.len()], &window[..]);
        let meta = work.share_meta.clone().unwrap();
        assert_eq!(meta.payout_script, miner);
        assert_eq!(meta.parent, chain.tip());
        let commitment = &outs[window.len()];
        assert_eq!(commitment.1, 0);
        let data = commitment.0.as_bytes();
        assert_eq!(&data[2..6], b"p2ps");
        assert_eq!(&data[6..], &meta.commitment()[..]);
        assert_eq!(
            Some(&outs[window.len() + 1].0),
            template.witness_commitment.as_ref()
        );
        assert_eq!(outs.iter().map(|o| o.1).sum::<u64>(), value);
        coinbases.push((payee, work, tx));
    }
    // The two differ only in the commitment.
    assert_ne!(coinbases[0].2.output, coinbases[1].2.output);

    // A share mined on the first payee's work is a valid share of the chain.
    let (_, work, _) = &coinbases[0];
    let [shared, own] = work.coinb2.parts();
    // The window's payout is in the part every payee shares; the commitment in its own.
    assert!(shared.len() > own.len());
    let parts = HeaderParts {
        coinb1: &job.coinb1,
        coinb2: shared,
        coinb2_own: own,
        merkle_branch: &job.merkle_branch,
        prevhash: &job.prevhash,
        bits: job.bits,
    };
    let mut nonce = 0u32;
    let (header, hash) = loop {
        let sub = Submission {
            extranonce1: &en1,
            extranonce2: &en2,
            ntime: job.ntime,
            nonce,
            version: job.version,
        };
        let (header, hash) = header_and_hash(&parts, &sub);
        let h = ruint::aliases::U256::from_le_bytes(hash);
        if h <= ruint::aliases::U256::from_le_bytes(share_target) {
            break (header, hash);
        }
        nonce += 1;
    };
    let found = FoundShare {
        job: job.clone(),
        work: work.clone(),
        extranonce1: ShortBytes::new(&en1).unwrap(),
        extranonce2: ShortBytes::new(&en2).unwrap(),
        ntime: job.ntime,
        nonce,
        version: job.version,
        header,
        hash,
        worker: "w".into(),
        refused_as: None,
    };
    assert!(found.is_chain_share());
    let share = found.chain_share().unwrap();
    assert_eq!(share.id().0, hash);
    let tip_before = chain.tip();
    assert_eq!(chain.offer(share, u64::MAX / 4), Verdict::Valid);
    assert_eq!(
        chain.get(&chain.tip()).unwrap().share.meta.parent,
        tip_before
    );
    // The share's id is the header's hash, the block hash a block would have.
    let block_hash = bitcoin::consensus::deserialize::<bitcoin::block::Header>(&header)
        .unwrap()
        .block_hash();
    assert_eq!(block_hash.to_byte_array(), hash);
}

//! The block submitter against simnet and against scripted nodes: the first acceptance is
//! the verdict at once, while another node is still being retried; and a new block never
//! queues behind the resubmission of an archived one to the same node.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bitcoin::ScriptBuf;
use serde_json::Value;
use stratumd::node::rpc::{NodeAuth, NodeEndpoint, NodeSet};
use stratumd::node::source::FetchReason;
use stratumd::node::submitter::{
    BlockOutcome, BlockSubmitter, BlockVerdict, SolvedBlock, SubmitOutcome, VerdictSink,
};
use stratumd::node::template::Template;
use stratumd::share::{validate_share, Submission};
use stratumd::work::payout::{PoolPayees, WeightedPayee};
use stratumd::work::{BuildContext, JobBuilder, JobConfig, Payee, PayoutPlan};
use tokio::sync::{mpsc, Notify};

#[path = "support/fake_bitcoind.rs"]
mod fake_bitcoind;
use fake_bitcoind::fake_bitcoind;

fn endpoint(addr: SocketAddr) -> NodeEndpoint {
    NodeEndpoint {
        url: addr.to_string(),
        auth: NodeAuth::UserPass("u".into(), "p".into()),
    }
}

/// A verdict sink feeding a channel the test reads.
fn verdict_channel() -> (VerdictSink, mpsc::UnboundedReceiver<BlockVerdict>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let sink: VerdictSink = Arc::new(move |v| {
        let _ = tx.send(v);
    });
    (sink, rx)
}

/// A block on simnet's current template, solved by grinding the nonce.
async fn solved_block(nodes: &NodeSet) -> SolvedBlock {
    let gbt = nodes.get_block_template(false).await.expect("a template");
    let template = Arc::new(Template::from_json(gbt).expect("simnet's template parses"));
    let builder = JobBuilder::new(JobConfig {
        nonce1_len: 4,
        nonce2_len: 8,
        btcsig: Vec::new(),
    });
    let payees = PoolPayees::new(vec![WeightedPayee {
        script: ScriptBuf::new_op_return([7u8; 4]),
        weight: 1,
    }])
    .unwrap();
    let plan = Arc::new(PayoutPlan::pool(payees, None));
    let at = BuildContext {
        clean: true,
        generation: 1,
        now: SystemTime::now(),
    };
    let job = Arc::new(builder.build(&template, &plan, at).unwrap());
    let work = job.work_for(&Payee::Pool).unwrap();
    let (en1, en2) = ([3u8; 4], [0u8; 8]);
    let (sub, outcome) = (0..u32::MAX)
        .find_map(|nonce| {
            let sub = Submission {
                extranonce1: &en1,
                extranonce2: &en2,
                ntime: job.ntime,
                nonce,
                version: job.version,
            };
            let o = validate_share(&job, &work, &sub, 1e-12, 1);
            o.is_block.then_some((sub, o))
        })
        .expect("a block at simnet's difficulty");
    let block = stratumd::share::block::assemble_block(&job, &work, &sub, &outcome.header)
        .expect("assembles");
    SolvedBlock {
        height: job.template.height,
        hash: stratumd::pow::hash::display_hex(&outcome.hash),
        hex: hex::encode(block),
        worker: "bcrt1qtest.cpu".into(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_acceptance_is_the_verdict_while_another_node_is_retried() {
    let sim = simnet::start(simnet::SimnetConfig {
        difficulty: 0.000001,
        transactions_per_template: 2,
        auth: simnet::SimnetAuth::UserPass {
            user: "u".into(),
            password: "p".into(),
        },
        ..simnet::SimnetConfig::default()
    })
    .await
    .unwrap();
    // A node that refuses connections: its port is bound, nothing listens.
    let refusing = tokio::net::TcpSocket::new_v4().unwrap();
    refusing
        .bind(SocketAddr::from(([127, 0, 0, 1], 0)))
        .unwrap();
    let nodes = NodeSet::new(vec![
        endpoint(refusing.local_addr().unwrap()),
        endpoint(sim.rpc_addr),
    ]);
    let block = solved_block(&nodes).await;
    let hash = block.hash.clone();

    let logdir = tempfile::tempdir().unwrap();
    let (verdicts, mut verdict_rx) = verdict_channel();
    let (refresh_tx, mut refresh_rx) = mpsc::channel(4);
    let submitter = BlockSubmitter::new(nodes, logdir.path(), verdicts, refresh_tx).start();
    submitter.submit(block);

    // The refusing node is retried for minutes; the verdict must not wait for it.
    let verdict = tokio::time::timeout(Duration::from_secs(10), verdict_rx.recv())
        .await
        .expect("a verdict within seconds, not after the other node's retries")
        .unwrap();
    assert_eq!(verdict.hash, hash);
    assert_eq!(verdict.outcome, BlockOutcome::Accepted);
    let asked = refresh_rx.recv().await;
    assert_eq!(asked, Some(FetchReason::BlockSubmitted));
    assert_eq!(sim.blocks_accepted_by_submit(), 1);
    // The block log (`/api/blocks`) has each node's answer as it came: simnet's, and none
    // yet from the node still being retried.
    let logged = submitter.blocks().snapshot();
    assert_eq!(logged.len(), 1, "{logged:?}");
    let b = &logged[0];
    assert_eq!(
        (b.hash.as_str(), b.worker.as_deref()),
        (hash.as_str(), Some("bcrt1qtest.cpu"))
    );
    assert_eq!(b.nodes.len(), 2);
    assert_eq!(b.nodes[0].node, refusing.local_addr().unwrap().to_string());
    assert_eq!(b.nodes[0].answer, None, "still retried");
    assert_eq!(b.nodes[1].node, sim.rpc_addr.to_string());
    assert_eq!(b.nodes[1].answer, Some(SubmitOutcome::Accepted));
    assert_eq!(b.verdict, Some(BlockOutcome::Accepted));
    drop(refusing);
    sim.shutdown().await;
}

/// A bitcoind stand-in that answers `submitblock` with `null`, except that it holds the
/// answer to the block `held` until `release` is notified; `arrived` is notified when that
/// block has come in.
async fn holding_node(held: String, arrived: Arc<Notify>, release: Arc<Notify>) -> SocketAddr {
    fake_bitcoind(move |req: Value| {
        let (held, arrived, release) = (held.clone(), arrived.clone(), release.clone());
        async move {
            if req["method"] == "submitblock" && req["params"][0] == held.as_str() {
                arrived.notify_one();
                release.notified().await;
            }
            Value::Null
        }
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_block_does_not_wait_behind_an_archived_one() {
    // An archived block of an earlier run, which the node takes its time to answer.
    let logdir = tempfile::tempdir().unwrap();
    let blocks = logdir.path().join("blocks");
    std::fs::create_dir_all(&blocks).unwrap();
    let old_hash = "11".repeat(32);
    std::fs::write(blocks.join(format!("100-{old_hash}.hex")), "00aa00").unwrap();
    let (arrived, release) = (Arc::new(Notify::new()), Arc::new(Notify::new()));
    let node = holding_node("00aa00".into(), arrived.clone(), release.clone()).await;

    let (verdicts, mut verdict_rx) = verdict_channel();
    let (refresh_tx, _refresh_rx) = mpsc::channel(4);
    let nodes = NodeSet::new(vec![endpoint(node)]);
    let submitter = BlockSubmitter::new(nodes, logdir.path(), verdicts, refresh_tx).start();
    // The resubmission is with the node, unanswered.
    tokio::time::timeout(Duration::from_secs(10), arrived.notified())
        .await
        .expect("the archived block is resubmitted at start");

    let new_hash = "22".repeat(32);
    submitter.submit(SolvedBlock {
        height: 101,
        hash: new_hash.clone(),
        hex: "00bb00".into(),
        worker: "w.2".into(),
    });
    let first = tokio::time::timeout(Duration::from_secs(10), verdict_rx.recv())
        .await
        .expect("the new block's verdict while the old one is still unanswered")
        .unwrap();
    assert_eq!(first.hash, new_hash);
    assert_eq!(first.outcome, BlockOutcome::Accepted);

    release.notify_one();
    let second = tokio::time::timeout(Duration::from_secs(10), verdict_rx.recv())
        .await
        .expect("the archived block's verdict once the node answers")
        .unwrap();
    assert_eq!(second.hash, old_hash);
    assert_eq!(second.outcome, BlockOutcome::Accepted);
}

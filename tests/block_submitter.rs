//! The block submitter against simnet and a node that refuses connections: the first
//! acceptance is the verdict at once, while the other node is still being retried.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bitcoin::ScriptBuf;
use stratumd::node::rpc::{NodeAuth, NodeEndpoint, NodeSet};
use stratumd::node::submitter::BlockSubmitter;
use stratumd::node::template::Template;
use stratumd::share::block_found::FoundBlock;
use stratumd::share::{validate_share, Submission};
use stratumd::stats::{BlockOutcome, Stats};
use stratumd::work::job::JobConfig;
use stratumd::work::payout::{PayoutMode, PayoutPlan, WeightedPayee};
use stratumd::work::{JobBuilder, Payee};

fn endpoint(addr: SocketAddr) -> NodeEndpoint {
    NodeEndpoint {
        url: addr.to_string(),
        auth: NodeAuth::UserPass("u".into(), "p".into()),
    }
}

/// A block on simnet's current template, solved by grinding the nonce.
async fn solved_block(nodes: &NodeSet) -> FoundBlock {
    let gbt = nodes.get_block_template(false).await.expect("a template");
    let template = Arc::new(Template::from_json(gbt).expect("simnet's template parses"));
    let builder = JobBuilder::new(
        JobConfig {
            nonce1_len: 4,
            nonce2_len: 8,
            btcsig: Vec::new(),
        },
        PayoutPlan {
            mode: PayoutMode::Pool(vec![WeightedPayee {
                script: ScriptBuf::new_op_return([7u8; 4]),
                weight: 1,
            }]),
            donation: None,
        },
    );
    let job = Arc::new(builder.build(template, true, 1, SystemTime::now()).unwrap());
    let work = job.work_for(&Payee::Pool).unwrap();
    let (en1, en2) = ([3u8; 4], [0u8; 8]);
    let (nonce, outcome) = (0..u32::MAX)
        .find_map(|nonce| {
            let sub = Submission {
                extranonce1: &en1,
                extranonce2: &en2,
                ntime: job.ntime,
                nonce,
                version: job.version,
            };
            let o = validate_share(&job, &work, &sub, 1e-12, 1);
            o.is_block.then_some((nonce, o))
        })
        .expect("a block at simnet's difficulty");
    FoundBlock {
        job: job.clone(),
        work,
        extranonce1: en1.to_vec(),
        extranonce2: en2.to_vec(),
        ntime: job.ntime,
        nonce,
        version: job.version,
        header: outcome.header,
        hash: outcome.hash,
        worker: "submitter-test".into(),
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
    let found = solved_block(&nodes).await;
    let hash = found.hash_hex();

    let logdir = tempfile::tempdir().unwrap();
    let stats = Arc::new(Stats::default());
    let (refresh_tx, mut refresh_rx) = tokio::sync::mpsc::channel(4);
    let (block_tx, block_rx) = tokio::sync::mpsc::unbounded_channel();
    let submitter = BlockSubmitter::new(nodes, logdir.path(), stats.clone(), refresh_tx);
    tokio::spawn(submitter.run(block_rx));
    block_tx.send(found).unwrap();

    // The refusing node is retried for minutes; the verdict must not wait for it.
    let asked = tokio::time::timeout(Duration::from_secs(10), refresh_rx.recv())
        .await
        .expect("a verdict within seconds, not after the other node's retries");
    assert_eq!(asked.as_deref(), Some(hash.as_str()));
    let verdicts = stats.take_block_verdicts();
    assert_eq!(verdicts.len(), 1, "{verdicts:?}");
    assert_eq!(verdicts[0].hash, hash);
    assert_eq!(verdicts[0].outcome, BlockOutcome::Accepted);
    assert_eq!(sim.blocks_accepted_by_submit(), 1);
    assert_eq!(
        stats
            .blocks_accepted
            .load(std::sync::atomic::Ordering::Relaxed),
        1
    );
    drop(refusing);
    sim.shutdown().await;
}

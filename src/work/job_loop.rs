//! The job loop: turns the latest template × the payout plan into the job on the board.
//! `node` publishes templates; the operator (the control socket) replaces the plan; either
//! change rebuilds the job from the newest of both, without asking bitcoind for anything.
//! In p2pool mode the plan is the share chain's tip, so a new tip rebuilds the job too,
//! with `clean_jobs` set (see `docs/ARCHITECTURE.md`: a miner should drop work on a parent
//! that is no longer the tip) but the same generation: shares on the previous tip's jobs
//! are still accepted and credited. A session setting never comes here.

use std::sync::Arc;
use std::time::SystemTime;

use bitcoin::BlockHash;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::board::JobBoard;
use super::builder::{BuildContext, JobBuilder};
use super::job::Job;
use super::payout::PayoutPlan;
use crate::node::template::Template;

/// Why the job on the board is rebuilt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refresh {
    /// `node` published a template: a new block, new transactions, or the periodic refresh.
    Template,
    /// The payout plan changed (the control socket's `setpayouts`, or the plan becoming
    /// known once the chain is).
    Plan,
}

/// Told of every job published (the event bus's `Job` event), from the loop's task.
pub type JobObserver = Box<dyn Fn(&Arc<Job>) + Send + Sync>;

/// The loop's inputs and outputs.
pub struct JobLoop {
    builder: Arc<JobBuilder>,
    board: Arc<JobBoard>,
    templates: watch::Receiver<Option<Arc<Template>>>,
    plan: watch::Receiver<Option<Arc<PayoutPlan>>>,
    observer: JobObserver,
    /// The previous block of the last job published.
    tip: Option<BlockHash>,
    /// The share-chain tip the last job mined on (p2pool mode).
    share_tip: Option<crate::p2pool::share::ShareId>,
    /// Counts previous-block changes among published jobs.
    generation: u64,
}

impl std::fmt::Debug for JobLoop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JobLoop")
            .field("tip", &self.tip)
            .field("generation", &self.generation)
            .finish_non_exhaustive()
    }
}

impl JobLoop {
    /// A loop publishing on `board` jobs built from `templates` and `plan` (no job until
    /// both are there), telling `observer` of each.
    pub fn new(
        builder: JobBuilder,
        board: Arc<JobBoard>,
        templates: watch::Receiver<Option<Arc<Template>>>,
        plan: watch::Receiver<Option<Arc<PayoutPlan>>>,
        observer: JobObserver,
    ) -> Self {
        JobLoop {
            builder: Arc::new(builder),
            board,
            templates,
            plan,
            observer,
            tip: None,
            share_tip: None,
            generation: 0,
        }
    }

    /// Runs until `shutdown`, or until the template source is gone.
    pub async fn run(mut self, shutdown: CancellationToken) {
        // A plan or template published before the loop started is built at once.
        let mut pending = Some(Refresh::Template);
        let mut plan_open = true;
        loop {
            if let Some(reason) = pending.take() {
                self.rebuild(reason).await;
            }
            pending = tokio::select! {
                biased;
                _ = shutdown.cancelled() => return,
                changed = self.templates.changed() => match changed {
                    Ok(()) => Some(Refresh::Template),
                    Err(_) => return,
                },
                changed = self.plan.changed(), if plan_open => match changed {
                    Ok(()) => Some(Refresh::Plan),
                    // Nobody can change the plan any more: the last one stays.
                    Err(_) => {
                        plan_open = false;
                        None
                    }
                },
            };
        }
    }

    /// Builds a job from the newest template and plan and publishes it. Building takes
    /// milliseconds for a full block (hashing every transaction's position in the merkle
    /// tree, serializing the notify), so it runs on the blocking pool.
    async fn rebuild(&mut self, reason: Refresh) {
        let template = self.templates.borrow_and_update().clone();
        let plan = self.plan.borrow_and_update().clone();
        let (Some(template), Some(plan)) = (template, plan) else {
            return;
        };
        let new_block = self.tip != Some(template.previous_block_hash);
        let share_tip = plan.tip_work().map(|t| t.parent);
        let clean = new_block || share_tip != self.share_tip;
        // The generation moves only once a job on the new block is published: a failed
        // build leaves the board as it was, and the next template tries the block again.
        let at = BuildContext {
            clean,
            generation: self.generation + u64::from(new_block),
            now: SystemTime::now(),
        };
        let builder = self.builder.clone();
        let for_job = template.clone();
        let built = tokio::task::spawn_blocking(move || builder.build(&for_job, &plan, at)).await;
        match built {
            Err(e) => tracing::error!("job builder failed: {e}"),
            Ok(Err(e)) => tracing::error!(?reason, "cannot build a job: {e}"),
            Ok(Ok(job)) => {
                tracing::debug!(?reason, id = %job.id, clean, "job built");
                self.tip = Some(template.previous_block_hash);
                self.share_tip = share_tip;
                self.generation = at.generation;
                let posting = self.board.publish(Arc::new(job));
                (self.observer)(&posting.job);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::work::builder::JobConfig;
    use crate::work::payout::{PoolPayees, WeightedPayee};
    use bitcoin::ScriptBuf;
    use tokio::sync::mpsc;

    /// The fixture's template on previous block `prev`, `secs` after its `mintime`.
    fn template(prev: u8, secs: u32) -> Arc<Template> {
        let path = format!(
            "{}/tests/fixtures/ckpool/gbt-notify/three-txns/gbt.json",
            env!("CARGO_MANIFEST_DIR")
        );
        let mut json: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        json["previousblockhash"] = serde_json::json!(format!("{:064x}", prev));
        let mintime = json["mintime"].as_u64().unwrap();
        json["curtime"] = serde_json::json!(mintime + u64::from(secs));
        Arc::new(Template::from_json(json).unwrap())
    }

    fn plan(script: u8) -> Arc<PayoutPlan> {
        let payees = PoolPayees::new(vec![WeightedPayee {
            script: ScriptBuf::new_op_return([script; 4]),
            weight: 1,
        }])
        .unwrap();
        Arc::new(PayoutPlan::pool(payees, None))
    }

    struct Harness {
        templates: watch::Sender<Option<Arc<Template>>>,
        plan: watch::Sender<Option<Arc<PayoutPlan>>>,
        jobs: mpsc::UnboundedReceiver<Arc<Job>>,
        board: Arc<JobBoard>,
        shutdown: CancellationToken,
    }

    fn start(plan_now: Option<Arc<PayoutPlan>>) -> Harness {
        let (templates, template_rx) = watch::channel(None);
        let (plan, plan_rx) = watch::channel(plan_now);
        let (tx, jobs) = mpsc::unbounded_channel();
        let board = Arc::new(JobBoard::new());
        let builder = JobBuilder::new(JobConfig {
            nonce1_len: 4,
            nonce2_len: 8,
            btcsig: Vec::new(),
        });
        let observer: JobObserver = Box::new(move |job| {
            let _ = tx.send(job.clone());
        });
        let shutdown = CancellationToken::new();
        let job_loop = JobLoop::new(builder, board.clone(), template_rx, plan_rx, observer);
        tokio::spawn(job_loop.run(shutdown.clone()));
        Harness {
            templates,
            plan,
            jobs,
            board,
            shutdown,
        }
    }

    fn first_output(job: &Job) -> ScriptBuf {
        job.payouts(&crate::work::Payee::Pool).unwrap()[0].0.clone()
    }

    #[tokio::test]
    async fn templates_and_plans_each_rebuild_from_the_newest_of_both() {
        let mut h = start(Some(plan(1)));
        h.templates.send_replace(Some(template(1, 1000)));
        let first = h.jobs.recv().await.unwrap();
        assert!(first.clean);
        assert_eq!(first.generation, 1);
        assert_eq!(first_output(&first), ScriptBuf::new_op_return([1; 4]));

        // A new plan: the same template, no new block.
        h.plan.send_replace(Some(plan(2)));
        let replanned = h.jobs.recv().await.unwrap();
        assert!(!replanned.clean);
        assert_eq!(replanned.generation, 1);
        assert_eq!(
            replanned.ntime, first.ntime,
            "rebuilt from the last template"
        );
        assert_eq!(first_output(&replanned), ScriptBuf::new_op_return([2; 4]));

        // A refreshed template on the same block keeps the plan and the generation.
        h.templates.send_replace(Some(template(1, 1030)));
        let refreshed = h.jobs.recv().await.unwrap();
        assert!(!refreshed.clean);
        assert_eq!(refreshed.ntime, first.ntime + 30);
        assert_eq!(first_output(&refreshed), ScriptBuf::new_op_return([2; 4]));

        // A new block.
        h.templates.send_replace(Some(template(2, 1040)));
        let block = h.jobs.recv().await.unwrap();
        assert!(block.clean);
        assert_eq!(block.generation, 2);
        assert_eq!(h.board.generation(), 2);
        assert_eq!(h.board.latest().unwrap().job.id, block.id);
        h.shutdown.cancel();
    }

    #[tokio::test]
    async fn no_job_until_the_plan_is_known() {
        let mut h = start(None);
        h.templates.send_replace(Some(template(1, 1000)));
        // The plan arrives (the chain became known): the job is built from the template
        // already there.
        h.plan.send_replace(Some(plan(3)));
        let job = h.jobs.recv().await.unwrap();
        assert!(job.clean);
        assert_eq!(first_output(&job), ScriptBuf::new_op_return([3; 4]));
        // One job for both inputs: the next one is the sentinel template's.
        h.templates.send_replace(Some(template(9, 0)));
        let next = h.jobs.recv().await.unwrap();
        assert_eq!(
            next.template.previous_block_hash,
            template(9, 0).previous_block_hash,
            "one job, not one per input"
        );
        h.shutdown.cancel();
    }
}

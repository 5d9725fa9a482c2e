//! Building a [`Job`]: a pure function of the latest template, the payout plan and the
//! start-up settings (plus the wall clock, for the coinbase's time pushes). It asks nobody
//! for anything, so the job loop can rebuild from the last template whenever the plan
//! changes.

use std::sync::Arc;
use std::time::SystemTime;

use bitcoin::hashes::Hash;
use bitcoin::pow::Target;
use bitcoin::ScriptBuf;

use super::coinbase::{build_coinb1_and_tail, outputs_and_locktime, ScriptSigParts};
use super::fit::{fit_template, output_sigops_cost, CoinbaseCost};
use super::job::{Job, JobError, ShareJob};
use super::job_id::JobIdAllocator;
use super::mode::Payee;
use super::payout::PayoutPlan;
use crate::node::template::Template;
use crate::p2pool::target::target_of;
use crate::pow::merkle::coinbase_branch;
use crate::pow::target::difficulty_of_target;

/// Settings fixed at start-up that shape every coinbase.
#[derive(Debug, Clone)]
pub struct JobConfig {
    /// Bytes of extranonce1 (ckpool `nonce1length`).
    pub nonce1_len: usize,
    /// Bytes of extranonce2 (ckpool `nonce2length`).
    pub nonce2_len: usize,
    /// The operator's coinbase tag (ckpool `btcsig`).
    pub btcsig: Vec<u8>,
}

/// Builds jobs with the start-up settings, numbering them as ckpool numbers workinfoids.
#[derive(Debug)]
pub struct JobBuilder {
    config: JobConfig,
    ids: JobIdAllocator,
}

/// What a job is built from besides the template and the plan.
#[derive(Debug, Clone, Copy)]
pub struct BuildContext {
    /// The job builds on a different previous block than the last job published.
    pub clean: bool,
    /// Its previous-block generation.
    pub generation: u64,
    /// The wall-clock time for the coinbase's time pushes and the job id.
    pub now: SystemTime,
}

impl JobBuilder {
    /// A builder with these settings.
    pub fn new(config: JobConfig) -> Self {
        JobBuilder {
            config,
            ids: JobIdAllocator::default(),
        }
    }

    /// The extranonce sizes every job uses.
    pub fn config(&self) -> &JobConfig {
        &self.config
    }

    /// The largest coinbase any payee of `plan` gets: pool mode's shared one, or in solo mode
    /// one paying a 34-byte script (the longest standard one) with a P2PKH's sigops.
    fn coinbase_cost(
        &self,
        plan: &PayoutPlan,
        template: &Template,
        fixed_len: usize,
    ) -> CoinbaseCost {
        let value = template.coinbase_value;
        let (mut outputs, extra_sigops) = match plan.shared_outputs(value) {
            Some(shared) => (shared, 0),
            None => (
                plan.outputs_for(value, &ScriptBuf::from_bytes(vec![0; 34])),
                4,
            ),
        };
        if plan.tip_work().is_some() {
            // The share commitment: OP_RETURN of 36 bytes.
            outputs.push((ScriptBuf::from_bytes(vec![0; 38]), 0));
        }
        let tail = outputs_and_locktime(&outputs, template.witness_commitment.as_ref());
        let size = fixed_len + self.config.nonce1_len + self.config.nonce2_len + tail.len();
        let sigops_cost = outputs
            .iter()
            .map(|(s, _)| output_sigops_cost(s))
            .sum::<u64>()
            + extra_sigops;
        CoinbaseCost {
            size: size as u64,
            sigops_cost,
        }
    }

    /// Builds a job from `template` paying `plan`.
    pub fn build(
        &self,
        template: &Arc<Template>,
        plan: &Arc<PayoutPlan>,
        at: BuildContext,
    ) -> Result<Job, JobError> {
        let since_epoch = at
            .now
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default();
        let secs = u32::try_from(since_epoch.as_secs()).unwrap_or(u32::MAX);
        let (coinb1, coinb2_head) = build_coinb1_and_tail(&ScriptSigParts {
            height: template.height,
            flags: &template.coinbaseaux_flags,
            time_secs: secs,
            time_nanos: since_epoch.subsec_nanos(),
            extranonce_len: self.config.nonce1_len + self.config.nonce2_len,
            btcsig: &self.config.btcsig,
        })?;
        let template = fit_template(
            template,
            self.coinbase_cost(plan, template, coinb1.len() + coinb2_head.len()),
        );
        let target = Target::from_compact(template.bits).to_le_bytes();
        let mut job = Job {
            id: self.ids.next(secs),
            clean: at.clean,
            generation: at.generation,
            version: template.version as u32,
            bits: template.bits.to_consensus(),
            // A share-chain share must not be earlier than its ancestors' median time: with
            // shares every second, the template's time (fetched every update_interval)
            // would soon be too old, so p2pool jobs take the clock's time, or later.
            ntime: match plan.tip_work() {
                Some(tip) => {
                    let min = u32::try_from(tip.min_time).unwrap_or(u32::MAX);
                    template.curtime.max(template.mintime).max(secs).max(min)
                }
                None => template.curtime.max(template.mintime),
            },
            prevhash: template.previous_block_hash.to_byte_array(),
            network_target: target,
            network_difficulty: difficulty_of_target(&target),
            merkle_branch: coinbase_branch(&template.txid_leaves()),
            coinb1,
            nonce1_len: self.config.nonce1_len,
            nonce2_len: self.config.nonce2_len,
            created: at.now,
            coinb2_head,
            plan: plan.clone(),
            shared: None,
            share_job: plan.tip_work().map(|tip| {
                let target = target_of(tip.share_bits)
                    .unwrap_or(ruint::aliases::U256::ZERO)
                    .to_le_bytes();
                ShareJob {
                    target,
                    difficulty: difficulty_of_target(&target),
                    shared: None,
                }
            }),
            template,
        };
        // p2pool mode, once the window has work: every miner is paid the same outputs.
        if let Some(tip) = plan.tip_work().filter(|t| t.tally.total() > 0) {
            let shared =
                job.shared_payout(tip.outputs(job.template.coinbase_value, &ScriptBuf::new()));
            if let Some(share_job) = job.share_job.as_mut() {
                share_job.shared = Some(shared);
            }
        }
        // Pool mode: every miner shares one coinbase, so build it with the job rather than
        // on the first miner's path.
        if !plan.mode().pays_miners_directly() {
            job.shared = Some(Arc::new(job.build_user_work(&Payee::Pool)?));
        }
        Ok(job)
    }
}

//! A [`Job`]: everything a miner needs for one template, built once and shared as
//! `Arc<Job>`; and [`UserWork`], the payee-specific coinb2 and pre-serialized notify.

use super::delivery::Delivery;
use std::sync::{Arc, OnceLock, RwLock};
use std::time::SystemTime;

use bitcoin::hashes::Hash;
use bitcoin::pow::Target;
use dashmap::DashMap;

use super::coinbase::{build_coinb1_and_tail, outputs_and_locktime, CoinbaseError, ScriptSigParts};
use super::fit::{fit_template, output_sigops_cost, CoinbaseCost};
use super::job_id::{JobId, JobIdAllocator};
use super::merkle::coinbase_branch;
use super::notify::{notify_line, prevhash_words_swapped, NotifyFields};
use super::payout::{Payee, PayoutError, PayoutPlan};
use crate::node::template::Template;
use crate::share::duplicates::SeenShares;
use crate::share::target::difficulty_of_target;

/// Why a job could not be built.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    /// The coinbase does not fit bitcoind's rules.
    #[error(transparent)]
    Coinbase(#[from] CoinbaseError),
    /// The payout plan cannot pay this payee.
    #[error(transparent)]
    Payout(#[from] PayoutError),
}

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

/// The payee-specific part of a job: coinb2 and the notify lines carrying it.
#[derive(Debug)]
pub struct UserWork {
    /// coinb2 for this payee.
    pub coinb2: Vec<u8>,
    /// The `mining.notify` line with `clean_jobs` as the job says.
    pub notify: bytes::Bytes,
    /// The same with `clean_jobs=true`, for a miner's first job.
    pub notify_clean: bytes::Bytes,
}

/// One unit of work, shared by all sessions.
#[derive(Debug)]
pub struct Job {
    /// ckpool workinfoid.
    pub id: JobId,
    /// The template it came from.
    pub template: Arc<Template>,
    /// True when this job's previous block differs from the last job's.
    pub clean: bool,
    /// Counts previous-block changes: shares on a job of an older generation are stale.
    pub generation: u64,
    /// Header version before rolling.
    pub version: u32,
    /// Compact network target.
    pub bits: u32,
    /// Job time (header ntime before rolling).
    pub ntime: u32,
    /// Previous block hash, internal byte order.
    pub prevhash: [u8; 32],
    /// The network target as a little-endian 256-bit number.
    pub network_target: [u8; 32],
    /// The network difficulty, for caps and logs.
    pub network_difficulty: f64,
    /// Merkle branch for the coinbase.
    pub merkle_branch: Vec<[u8; 32]>,
    /// coinb1, identical for every payee.
    pub coinb1: Vec<u8>,
    /// Bytes of extranonce1.
    pub nonce1_len: usize,
    /// Bytes of extranonce2.
    pub nonce2_len: usize,
    /// When the job was built.
    pub created: SystemTime,
    /// Its block's delivery clock, attached by the board when it publishes the job.
    delivery: OnceLock<Arc<Delivery>>,
    /// The shares accepted on this job by any session, for duplicate detection.
    pub seen: SeenShares,
    coinb2_head: Vec<u8>,
    plan: Arc<PayoutPlan>,
    users: DashMap<Payee, Arc<UserWork>>,
}

impl Job {
    /// Its block's delivery clock, once published (none for jobs published before any
    /// block change was seen).
    pub fn delivery(&self) -> Option<&Arc<Delivery>> {
        self.delivery.get()
    }

    /// Attaches the block's delivery clock (the board does, once, when it publishes).
    pub(super) fn attach_delivery(&self, delivery: Arc<Delivery>) {
        let _ = self.delivery.set(delivery);
    }

    /// The payee-specific work, built on first use and then shared.
    pub fn work_for(&self, payee: &Payee) -> Result<Arc<UserWork>, JobError> {
        if let Some(w) = self.users.get(payee) {
            return Ok(w.clone());
        }
        let work = Arc::new(self.build_user_work(payee)?);
        Ok(self.users.entry(payee.clone()).or_insert(work).clone())
    }

    /// The coinbase outputs paid for `payee` (script, satoshis), in coinbase order without
    /// the witness commitment.
    pub fn payouts(&self, payee: &Payee) -> Result<Vec<(bitcoin::ScriptBuf, u64)>, JobError> {
        Ok(self.plan.outputs(self.template.coinbase_value, payee)?)
    }

    /// ckpool-solo's split of coinb2 around the first payout's script, as its ZMQ
    /// `Workbase` carries it: `coinb2` ends with the first output's amount, and a user's
    /// notify coinb2 is `coinb2 + varint(script length) + script + coinb3`.
    pub fn ckpool_coinb2_coinb3(&self) -> Result<(Vec<u8>, Vec<u8>), JobError> {
        // Amounts do not depend on the payee's script, so any solo script serves.
        let payee = self
            .plan
            .shared_payee()
            .unwrap_or_else(|| Payee::Solo(bitcoin::ScriptBuf::new()));
        let outputs = self.payouts(&payee)?;
        let full = outputs_and_locktime(&outputs, self.template.witness_commitment.as_ref());
        let count_len = bitcoin::VarInt(
            (outputs.len() + usize::from(self.template.witness_commitment.is_some())) as u64,
        )
        .size();
        let first_script_len = outputs.first().map_or(0, |(s, _)| s.len());
        let head_len = count_len + 8;
        let script_field = bitcoin::VarInt(first_script_len as u64).size() + first_script_len;
        let mut coinb2 = self.coinb2_head.clone();
        coinb2.extend_from_slice(&full[..head_len.min(full.len())]);
        let coinb3 = full[(head_len + script_field).min(full.len())..].to_vec();
        Ok((coinb2, coinb3))
    }

    /// ckpool's `header` field: its 112-byte pre-swapped header template (version, prevhash
    /// in notify form, zero merkle root, ntime, nbits, zero nonce, then SHA-256 padding
    /// words), hex.
    pub fn ckpool_header_hex(&self) -> String {
        format!(
            "{:08x}{}{}{:08x}{:08x}{}{}{}",
            self.version,
            prevhash_words_swapped(&self.prevhash),
            "0".repeat(64),
            self.ntime,
            self.bits,
            "00000000",
            "00000080",
            "0".repeat(56)
        )
    }

    fn build_user_work(&self, payee: &Payee) -> Result<UserWork, JobError> {
        let outputs = self.payouts(payee)?;
        let mut coinb2 = self.coinb2_head.clone();
        coinb2.extend(outputs_and_locktime(
            &outputs,
            self.template.witness_commitment.as_ref(),
        ));
        let id = self.id.to_string();
        let prevhash = prevhash_words_swapped(&self.prevhash);
        let fields = NotifyFields {
            job_id: &id,
            prevhash: &prevhash,
            coinb1: &self.coinb1,
            coinb2: &coinb2,
            branch: &self.merkle_branch,
            version: self.version,
            bits: self.bits,
            ntime: self.ntime,
        };
        let notify_clean = bytes::Bytes::from(notify_line(&fields, true));
        let notify = if self.clean {
            notify_clean.clone()
        } else {
            bytes::Bytes::from(notify_line(&fields, false))
        };
        Ok(UserWork {
            coinb2,
            notify,
            notify_clean,
        })
    }
}

/// Builds jobs from templates with the start-up settings and the current payout plan.
#[derive(Debug)]
pub struct JobBuilder {
    config: JobConfig,
    plan: RwLock<Arc<PayoutPlan>>,
    ids: JobIdAllocator,
}

impl JobBuilder {
    /// A builder with these settings and this initial plan.
    pub fn new(config: JobConfig, plan: PayoutPlan) -> Self {
        JobBuilder {
            config,
            plan: RwLock::new(Arc::new(plan)),
            ids: JobIdAllocator::default(),
        }
    }

    /// Replaces the payout plan; it applies from the next job.
    pub fn set_plan(&self, plan: PayoutPlan) {
        let mut guard = self.plan.write().unwrap_or_else(|p| p.into_inner());
        *guard = Arc::new(plan);
    }

    /// The plan new jobs use.
    pub fn plan(&self) -> Arc<PayoutPlan> {
        self.plan.read().unwrap_or_else(|p| p.into_inner()).clone()
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
    ) -> Result<CoinbaseCost, JobError> {
        let (payee, extra_sigops) = match plan.shared_payee() {
            Some(p) => (p, 0),
            None => (Payee::Solo(bitcoin::ScriptBuf::from_bytes(vec![0; 34])), 4),
        };
        let outputs = plan.outputs(template.coinbase_value, &payee)?;
        let tail = outputs_and_locktime(&outputs, template.witness_commitment.as_ref());
        let size = fixed_len + self.config.nonce1_len + self.config.nonce2_len + tail.len();
        let sigops_cost = outputs
            .iter()
            .map(|(s, _)| output_sigops_cost(s))
            .sum::<u64>()
            + extra_sigops;
        Ok(CoinbaseCost {
            size: size as u64,
            sigops_cost,
        })
    }

    /// Builds a job from `template` at wall-clock time `now`.
    pub fn build(
        &self,
        template: Arc<Template>,
        clean: bool,
        generation: u64,
        now: SystemTime,
    ) -> Result<Job, JobError> {
        let since_epoch = now
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
        let plan = self.plan();
        let template = fit_template(
            &template,
            self.coinbase_cost(&plan, &template, coinb1.len() + coinb2_head.len())?,
        );
        let target = Target::from_compact(template.bits).to_le_bytes();
        let job = Job {
            id: self.ids.next(secs),
            clean,
            generation,
            version: template.version as u32,
            bits: template.bits.to_consensus(),
            ntime: template.curtime.max(template.mintime),
            prevhash: template.previous_block_hash.to_byte_array(),
            network_target: target,
            network_difficulty: difficulty_of_target(&target),
            merkle_branch: coinbase_branch(&template.txid_leaves()),
            coinb1,
            nonce1_len: self.config.nonce1_len,
            nonce2_len: self.config.nonce2_len,
            created: now,
            delivery: OnceLock::new(),
            seen: SeenShares::default(),
            coinb2_head,
            plan: plan.clone(),
            users: DashMap::new(),
            template,
        };
        // Pool mode: every miner shares one coinbase, so build it (and catch payout errors)
        // now rather than on the first miner's path.
        if let Some(payee) = plan.shared_payee() {
            job.work_for(&payee)?;
        }
        Ok(job)
    }
}

//! A [`Job`]: everything a miner needs for one template, the pure result of building
//! (`builder.rs`), shared as `Arc<Job>` and never changed afterwards; and [`UserWork`], the
//! payee-specific coinb2 and pre-serialized notify. What changes while a job is out (the
//! shares seen on it, its block's delivery clock, the per-payee work made on demand) lives
//! beside it on the board's [`Posting`](super::board::Posting).

use std::sync::Arc;
use std::time::SystemTime;

use bitcoin::ScriptBuf;

use super::coinbase::{outputs_and_locktime, CoinbaseError};
use super::job_id::JobId;
use super::mode::Payee;
use super::notify::{notify_line, prevhash_words_swapped, NotifyFields};
use super::payout::PayoutPlan;
use crate::node::template::Template;

/// Why a job, or a payee's work on it, could not be built.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    /// The coinbase does not fit bitcoind's rules.
    #[error(transparent)]
    Coinbase(#[from] CoinbaseError),
    /// A session without its own address asked for work on a job that pays each miner at
    /// its address. Sessions and jobs follow one [`Mode`](super::Mode), so this is a bug.
    #[error("this job pays each miner at its own address; the session has none")]
    NoMinerAddress,
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
    /// The template it came from (fitted to the block limits beside our coinbase).
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
    /// coinb2 up to the outputs: the coinbase tag and the input's sequence.
    pub(super) coinb2_head: Vec<u8>,
    /// The plan its coinbases pay.
    pub(super) plan: Arc<PayoutPlan>,
    /// Pool mode's one coinbase for every miner, built with the job.
    pub(super) shared: Option<Arc<UserWork>>,
}

impl Job {
    /// The plan this job's coinbases pay.
    pub fn plan(&self) -> &PayoutPlan {
        &self.plan
    }

    /// The coinbase outputs paid for `payee` (script, satoshis), in coinbase order without
    /// the witness commitment.
    pub fn payouts(&self, payee: &Payee) -> Result<Vec<(ScriptBuf, u64)>, JobError> {
        let value = self.template.coinbase_value;
        match payee {
            Payee::Miner(script) => Ok(self.plan.outputs_for(value, script)),
            Payee::Pool => self
                .plan
                .shared_outputs(value)
                .ok_or(JobError::NoMinerAddress),
        }
    }

    /// `payee`'s work on this job: pool mode's shared work, or in solo mode one built for
    /// the miner's script now (the board's posting keeps it, so it is built once).
    pub fn work_for(&self, payee: &Payee) -> Result<Arc<UserWork>, JobError> {
        match &self.shared {
            Some(shared) => Ok(shared.clone()),
            None => Ok(Arc::new(self.build_user_work(payee)?)),
        }
    }

    /// ckpool-solo's split of coinb2 around the first payout's script, as its ZMQ
    /// `Workbase` carries it: `coinb2` ends with the first output's amount, and a user's
    /// notify coinb2 is `coinb2 + varint(script length) + script + coinb3`.
    pub fn ckpool_coinb2_coinb3(&self) -> (Vec<u8>, Vec<u8>) {
        // Amounts do not depend on the miner's script, so any script serves.
        let value = self.template.coinbase_value;
        let outputs = self
            .plan
            .shared_outputs(value)
            .unwrap_or_else(|| self.plan.outputs_for(value, &ScriptBuf::new()));
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
        (coinb2, coinb3)
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

    /// Builds `payee`'s coinb2 and notify lines.
    pub(super) fn build_user_work(&self, payee: &Payee) -> Result<UserWork, JobError> {
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

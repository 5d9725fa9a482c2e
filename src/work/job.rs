//! A [`Job`]: everything a miner needs for one template, the pure result of building
//! (`builder.rs`), shared as `Arc<Job>` and never changed afterwards; and [`UserWork`], the
//! payee-specific coinb2 and pre-serialized notify. What changes while a job is out (the
//! shares seen on it, its block's delivery clock, the per-payee work made on demand) lives
//! beside it on the board's [`Posting`](super::board::Posting).

use std::sync::Arc;
use std::time::SystemTime;

use bitcoin::consensus::Encodable;
use bitcoin::ScriptBuf;

use super::coinbase::{outputs_and_locktime, CoinbaseError};
use super::job_id::JobId;
use super::mode::Payee;
use super::notify::{notify_head, notify_line, notify_tail, prevhash_words_swapped, NotifyFields};
use super::payout::PayoutPlan;
use crate::node::template::Template;
use crate::p2pool::share::{outputs_hash, ShareMeta};

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
#[derive(Debug, Default)]
pub struct UserWork {
    /// coinb2 for this payee.
    pub coinb2: Coinb2,
    /// The `mining.notify` line with `clean_jobs` as the job says.
    pub notify: NotifyLine,
    /// The same with `clean_jobs=true`, for a miner's first job.
    pub notify_clean: NotifyLine,
    /// p2pool mode: the share metadata this payee's coinbase commits to.
    pub share_meta: Option<ShareMeta>,
}

/// A payee's coinb2: a part every payee of the job shares (in p2pool mode, up to the
/// window's payout, which is most of it), then the payee's own. Kept apart so that 10,000
/// miners under 10,000 addresses hold one copy of the window, not 10,000.
#[derive(Debug, Clone, Default)]
pub struct Coinb2 {
    shared: bytes::Bytes,
    own: Vec<u8>,
}

impl Coinb2 {
    /// A coinb2 of one payee's own bytes.
    pub fn whole(bytes: Vec<u8>) -> Coinb2 {
        Coinb2 {
            shared: bytes::Bytes::new(),
            own: bytes,
        }
    }

    /// The shared part, then the payee's own: hashed and serialized one after the other.
    pub fn parts(&self) -> [&[u8]; 2] {
        [&self.shared, &self.own]
    }

    /// Bytes in all.
    pub fn len(&self) -> usize {
        self.shared.len() + self.own.len()
    }

    /// True for an empty coinb2 (never for a built job).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The whole coinb2.
    pub fn to_vec(&self) -> Vec<u8> {
        [&self.shared[..], &self.own[..]].concat()
    }
}

/// A `mining.notify` line as parts written one after the other: in p2pool mode the job's
/// shared head (up to the hex of the window's payout), the payee's own hex (its commitment),
/// and the job's shared tail; otherwise one part.
#[derive(Debug, Clone, Default)]
pub struct NotifyLine {
    head: bytes::Bytes,
    own: bytes::Bytes,
    tail: bytes::Bytes,
}

impl NotifyLine {
    /// A line in one part.
    pub fn whole(line: bytes::Bytes) -> NotifyLine {
        NotifyLine {
            own: line,
            ..NotifyLine::default()
        }
    }

    /// The parts, in order.
    pub fn parts(&self) -> [&[u8]; 3] {
        [&self.head, &self.own, &self.tail]
    }

    /// Bytes in all.
    pub fn len(&self) -> usize {
        self.head.len() + self.own.len() + self.tail.len()
    }

    /// True for an empty line.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Appends the line to `out`.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        for part in self.parts() {
            out.extend_from_slice(part);
        }
    }

    /// The whole line.
    pub fn to_vec(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.len());
        self.write_to(&mut out);
        out
    }
}

/// p2pool mode's part of a job, worked out once when it is built: the window's payout and
/// its hash are the same for every miner once the window has shares (only the commitment
/// differs), so a notify per payee costs a hash of its metadata, not a payout.
#[derive(Debug)]
pub struct ShareJob {
    /// The share target, a little-endian 256-bit number: a share meeting it goes on the
    /// chain.
    pub target: [u8; 32],
    /// Its difficulty: no session's difficulty goes above it, or a miner would not send
    /// hashes that are shares on the chain.
    pub difficulty: f64,
    /// Every miner's payout and the lines around it; `None` while the window has no work
    /// (each miner is then paid the whole reward).
    pub(super) shared: Option<SharedPayout>,
}

/// The window's payout, the same for every miner of a p2pool job, and the parts of each
/// payee's coinb2 and notify it makes.
#[derive(Debug)]
pub(super) struct SharedPayout {
    /// The outputs (script, satoshis), ordered by script.
    outputs: Vec<(ScriptBuf, u64)>,
    /// Their hash, as share metadata holds it.
    hash: [u8; 32],
    /// coinb2 up to the end of the window's payout.
    coinb2: bytes::Bytes,
    /// The notify up to (and with) that part's hex.
    head: bytes::Bytes,
    /// The notify after coinb2, `clean_jobs` as the job says.
    tail: bytes::Bytes,
    /// The same with `clean_jobs=true`.
    tail_clean: bytes::Bytes,
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
    /// p2pool mode's share part.
    pub share_job: Option<ShareJob>,
}

impl Job {
    /// The highest difficulty a session mining this job may have: the network's, and in
    /// p2pool mode the share chain's (a harder session would not send every chain share).
    pub fn difficulty_cap(&self) -> f64 {
        match &self.share_job {
            Some(s) => s.difficulty.min(self.network_difficulty),
            None => self.network_difficulty,
        }
    }

    /// The plan this job's coinbases pay.
    pub fn plan(&self) -> &PayoutPlan {
        &self.plan
    }

    /// The coinbase outputs paid for `payee` (script, satoshis), in coinbase order without
    /// p2pool's share commitment and the witness commitment.
    pub fn payouts(&self, payee: &Payee) -> Result<Vec<(ScriptBuf, u64)>, JobError> {
        let value = self.template.coinbase_value;
        if let (Some(shared), Payee::Miner(_)) = (
            self.share_job.as_ref().and_then(|s| s.shared.as_ref()),
            payee,
        ) {
            return Ok(shared.outputs.clone());
        }
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

    /// The coinbase scriptSig a miner's extranonces make: coinb1's part of it, the
    /// extranonces, and coinb2's part before the input's sequence.
    pub fn script_sig(&self, extranonce1: &[u8], extranonce2: &[u8]) -> Vec<u8> {
        // coinb1: version (4), input count (1), null prevout (36), scriptSig length (1).
        let head = self.coinb1.get(42..).unwrap_or_default();
        let tail = &self.coinb2_head[..self.coinb2_head.len().saturating_sub(4)];
        [head, extranonce1, extranonce2, tail].concat()
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

    /// The metadata of a share on this job by `payee` and the commitment output paying it
    /// (p2pool mode only).
    fn share_meta(
        &self,
        payee: &Payee,
        outputs: &[(ScriptBuf, u64)],
    ) -> Result<Option<ShareMeta>, JobError> {
        let (Some(share_job), Some(tip)) = (&self.share_job, self.plan.tip_work()) else {
            return Ok(None);
        };
        let Payee::Miner(script) = payee else {
            return Err(JobError::NoMinerAddress);
        };
        let hash = match &share_job.shared {
            Some(shared) => shared.hash,
            None => outputs_hash(outputs),
        };
        Ok(Some(ShareMeta {
            chain: tip.chain,
            parent: tip.parent,
            uncles: tip.uncles.clone(),
            payout_script: script.clone(),
            share_bits: tip.share_bits,
            outputs_hash: hash,
        }))
    }

    /// The notify fields of this job around `coinb2`.
    fn notify_fields<'a>(
        &'a self,
        id: &'a str,
        prevhash: &'a str,
        coinb2: &'a [u8],
    ) -> NotifyFields<'a> {
        NotifyFields {
            job_id: id,
            prevhash,
            coinb1: &self.coinb1,
            coinb2,
            branch: &self.merkle_branch,
            version: self.version,
            bits: self.bits,
            ntime: self.ntime,
        }
    }

    /// p2pool mode: the window's payout `outputs`, paid by every payee of this job, and the
    /// lines every payee shares (coinb2 up to the end of the payout, and the notify around
    /// each payee's own part).
    pub(super) fn shared_payout(&self, outputs: Vec<(ScriptBuf, u64)>) -> SharedPayout {
        let witness = self.template.witness_commitment.as_ref();
        let count = outputs.len() + 1 + usize::from(witness.is_some());
        let mut coinb2 = self.coinb2_head.clone();
        // Writing into a Vec cannot fail.
        let _ = bitcoin::VarInt(count as u64).consensus_encode(&mut coinb2);
        for (script, value) in &outputs {
            let txout = bitcoin::TxOut {
                value: bitcoin::Amount::from_sat(*value),
                script_pubkey: script.clone(),
            };
            let _ = txout.consensus_encode(&mut coinb2);
        }
        let id = self.id.to_string();
        let prevhash = prevhash_words_swapped(&self.prevhash);
        let fields = self.notify_fields(&id, &prevhash, &coinb2);
        let mut head = notify_head(&fields, coinb2.len() + 120);
        head.push_str(&hex::encode(&coinb2));
        let tail_clean = bytes::Bytes::from(notify_tail(&fields, true));
        let tail = if self.clean {
            tail_clean.clone()
        } else {
            bytes::Bytes::from(notify_tail(&fields, false))
        };
        SharedPayout {
            hash: outputs_hash(&outputs),
            outputs,
            coinb2: bytes::Bytes::from(coinb2),
            head: bytes::Bytes::from(head),
            tail,
            tail_clean,
        }
    }

    /// p2pool mode with a shared payout: `payee`'s work is its commitment output, the
    /// witness commitment and the locktime, beside the job's shared lines.
    fn shared_work(&self, payee: &Payee) -> Result<Option<UserWork>, JobError> {
        let Some(shared) = self.share_job.as_ref().and_then(|s| s.shared.as_ref()) else {
            return Ok(None);
        };
        let Some(meta) = self.share_meta(payee, &shared.outputs)? else {
            return Err(JobError::NoMinerAddress);
        };
        let witness = self.template.witness_commitment.as_ref();
        let tail = outputs_and_locktime(&[(meta.commitment_script(), 0)], witness);
        // Without its own count: the shared part's count covers every output.
        let own_count = bitcoin::VarInt(1 + u64::from(witness.is_some())).size();
        let own = tail[own_count..].to_vec();
        let own_hex = bytes::Bytes::from(hex::encode(&own));
        let line = |tail: &bytes::Bytes| NotifyLine {
            head: shared.head.clone(),
            own: own_hex.clone(),
            tail: tail.clone(),
        };
        Ok(Some(UserWork {
            coinb2: Coinb2 {
                shared: shared.coinb2.clone(),
                own,
            },
            notify: line(&shared.tail),
            notify_clean: line(&shared.tail_clean),
            share_meta: Some(meta),
        }))
    }

    /// `payee`'s whole coinb2 (from the head) and, in p2pool mode, the share metadata its
    /// commitment output hashes.
    fn coinb2_for(&self, payee: &Payee) -> Result<(Vec<u8>, Option<ShareMeta>), JobError> {
        let witness = self.template.witness_commitment.as_ref();
        let mut coinb2 = self.coinb2_head.clone();
        let mut outputs = self.payouts(payee)?;
        let share_meta = self.share_meta(payee, &outputs)?;
        if let Some(meta) = &share_meta {
            outputs.push((meta.commitment_script(), 0));
        }
        coinb2.extend(outputs_and_locktime(&outputs, witness));
        Ok((coinb2, share_meta))
    }

    /// Builds `payee`'s coinb2 and notify lines.
    pub(super) fn build_user_work(&self, payee: &Payee) -> Result<UserWork, JobError> {
        if let Some(work) = self.shared_work(payee)? {
            return Ok(work);
        }
        let (coinb2, share_meta) = self.coinb2_for(payee)?;
        let id = self.id.to_string();
        let prevhash = prevhash_words_swapped(&self.prevhash);
        let fields = self.notify_fields(&id, &prevhash, &coinb2);
        let notify_clean = bytes::Bytes::from(notify_line(&fields, true));
        let notify = if self.clean {
            notify_clean.clone()
        } else {
            bytes::Bytes::from(notify_line(&fields, false))
        };
        Ok(UserWork {
            coinb2: Coinb2::whole(coinb2),
            notify: NotifyLine::whole(notify),
            notify_clean: NotifyLine::whole(notify_clean),
            share_meta,
        })
    }
}

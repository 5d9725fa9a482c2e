//! The current job's coinbase, decoded: every output's address and amount, their total
//! against the template's `coinbasevalue`, and for a given miner the output that pays it.
//! The per-job coinbase audit: a miner can check what it is asked to mine pays it, an
//! operator what every block would pay, without trusting anything but the coinbase itself.
//!
//! With a user (`?user=<address>[.<worker>]`, or always in pool mode, where every miner
//! mines one coinbase) the transaction is the one that miner is sent: coinb1, zero
//! extranonces, and the payee's coinb2, deserialized with rust-bitcoin. Without one in solo
//! or p2pool mode (each miner's coinbase differs) it is the payout every miner's coinbase
//! carries, with the miner's own output shown as the miner's place.

use bitcoin::{Address, Network, ScriptBuf, Transaction};
use serde::Serialize;

use crate::work::mode::PayeeError;
use crate::work::{Job, JobError, Mode, Payee, Posting, UserWork};

/// What an output of the coinbase is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(super) enum OutputKind {
    /// Pays someone.
    Payout,
    /// Where each miner's own address goes (the coinbase of no single miner).
    Miner,
    /// p2pool mode: the commitment to this miner's share.
    ShareCommitment,
    /// The segwit witness commitment.
    WitnessCommitment,
}

/// One output.
#[derive(Debug, Clone, Serialize)]
pub(super) struct Output {
    /// Its place in the coinbase.
    pub index: usize,
    /// Satoshis.
    pub amount: u64,
    /// The address it pays, when its script has one on this chain.
    pub address: Option<String>,
    /// Its script, hex.
    pub script: String,
    /// What it is for.
    pub kind: OutputKind,
    /// Whether it pays the user asked about.
    pub yours: bool,
}

/// The decoded job.
#[derive(Debug, Clone, Serialize)]
pub(super) struct Audit {
    /// The job (ckpool's workinfoid, hex as in notify).
    pub job_id: String,
    /// The block height it builds.
    pub height: u32,
    /// The previous block, display order.
    pub prevhash: String,
    /// Transactions besides the coinbase.
    pub transactions: usize,
    /// The user asked about, if any.
    pub user: Option<String>,
    /// Whether `outputs` is a miner's real coinbase (not the shape every miner's shares).
    pub decoded: bool,
    /// The coinbase's txid with zero extranonces (a miner's differs by its extranonces).
    pub txid: Option<String>,
    /// Every output, in coinbase order.
    pub outputs: Vec<Output>,
    /// Their sum.
    pub total: u64,
    /// The template's `coinbasevalue` (subsidy and fees).
    pub coinbasevalue: u64,
    /// `total == coinbasevalue`.
    pub balanced: bool,
    /// What the user's outputs get, when a user was asked about.
    pub yours: Option<u64>,
}

/// Why a job cannot be decoded for the asker.
#[derive(Debug, thiserror::Error)]
pub(super) enum AuditError {
    /// The username cannot be paid (not an address on this chain), or the chain is not
    /// known yet.
    #[error("{0}")]
    Payee(#[from] PayeeError),
    /// The payee's work could not be built.
    #[error("{0}")]
    Work(#[from] JobError),
    /// The coinbase did not deserialize: a bug in building it.
    #[error("the coinbase does not decode: {0}")]
    Decode(String),
}

/// Decodes `posting`'s job for `user` (if any) in `mode` on `network`, with the work the
/// user's session was sent when there is one (else built here, and not kept).
pub(super) fn audit(
    posting: &Posting,
    mode: Mode,
    network: Option<Network>,
    user: Option<&str>,
) -> Result<Audit, AuditError> {
    let job = &*posting.job;
    let payee = match (mode, user) {
        (Mode::Pool, _) => Some(Payee::Pool),
        (_, Some(user)) => Some(mode.payee(user, network)?),
        (_, None) => None,
    };
    let mut audit = Audit {
        job_id: job.id.to_string(),
        height: job.template.height,
        prevhash: job.template.previous_block_hash.to_string(),
        transactions: job.template.transactions.len(),
        user: user.map(str::to_string),
        decoded: payee.is_some(),
        txid: None,
        outputs: Vec::new(),
        total: 0,
        coinbasevalue: job.template.coinbase_value,
        balanced: false,
        yours: None,
    };
    let mine = match &payee {
        Some(Payee::Miner(script)) => Some(script.clone()),
        _ => None,
    };
    match &payee {
        Some(payee) => {
            let work = match posting.cached_work(payee) {
                Some(work) => work,
                None => job.work_for(payee)?,
            };
            let tx = coinbase(job, &work)?;
            audit.txid = Some(tx.compute_txid().to_string());
            let share_commitment = work.share_meta.as_ref().map(|m| m.commitment_script());
            for (index, out) in tx.output.iter().enumerate() {
                let script = &out.script_pubkey;
                let kind = if Some(script) == job.template.witness_commitment.as_ref() {
                    OutputKind::WitnessCommitment
                } else if Some(script) == share_commitment.as_ref() {
                    OutputKind::ShareCommitment
                } else {
                    OutputKind::Payout
                };
                audit
                    .outputs
                    .push(output(index, script, out.value.to_sat(), kind, network));
            }
        }
        None => {
            // Any script marks the miner's place: the payout around it does not depend
            // on it. The empty one pays no real miner.
            let place = ScriptBuf::new();
            for (index, (script, amount)) in job
                .payouts(&Payee::Miner(place.clone()))?
                .iter()
                .enumerate()
            {
                let kind = if *script == place {
                    OutputKind::Miner
                } else {
                    OutputKind::Payout
                };
                audit
                    .outputs
                    .push(output(index, script, *amount, kind, network));
            }
        }
    }
    if let Some(script) = &mine {
        let script_hex = script.to_hex_string();
        let mut yours = 0;
        for o in audit.outputs.iter_mut().filter(|o| o.script == script_hex) {
            o.yours = true;
            yours += o.amount;
        }
        audit.yours = Some(yours);
    }
    audit.total = audit.outputs.iter().map(|o| o.amount).sum();
    audit.balanced = audit.total == audit.coinbasevalue;
    Ok(audit)
}

fn output(
    index: usize,
    script: &ScriptBuf,
    amount: u64,
    kind: OutputKind,
    network: Option<Network>,
) -> Output {
    let address = match (kind, network) {
        (OutputKind::Payout, Some(n)) => {
            Address::from_script(script, n).ok().map(|a| a.to_string())
        }
        _ => None,
    };
    Output {
        index,
        amount,
        address,
        script: script.to_hex_string(),
        kind,
        yours: false,
    }
}

/// The coinbase a miner with all-zero extranonces would build from this work.
fn coinbase(job: &Job, work: &UserWork) -> Result<Transaction, AuditError> {
    let mut bytes = job.coinb1.clone();
    bytes.resize(bytes.len() + job.nonce1_len + job.nonce2_len, 0);
    bytes.extend(work.coinb2.to_vec());
    bitcoin::consensus::deserialize(&bytes).map_err(|e| AuditError::Decode(e.to_string()))
}

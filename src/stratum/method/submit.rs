//! `mining.submit [worker, job_id, extranonce2, ntime, nonce, version_bits?]`: the hot path.
//! Malformed params get ckpool's error strings; a well-formed share that fails gets
//! `result: false` with ckpool's `reject-reason`.

use std::sync::atomic::Ordering;
use std::time::{Instant, SystemTime};

use serde_json::Value;

use super::submit_params::SubmitParams;
use super::Reply;
use crate::events::{Event, ShareRecord};
use crate::hex_util::parse_u32_be;
use crate::share::{validate_share, FoundShare, Offer, Reject, ShareOutcome, Submission};
use crate::short_bytes::ShortBytes;
use crate::stratum::message::StratumError;
use crate::stratum::session::{SentJob, Session, Worker};
use crate::work::JobId;

/// Longest extranonce2 we support (Whatsminer and cgminer forks break above 8 anyway).
const MAX_NONCE2: usize = 16;

fn other(msg: &str) -> Reply {
    Reply::Error(StratumError::other(msg))
}

fn reject(s: &Session, r: Reject) -> Reply {
    s.ctx.stats.share_rejected(r);
    Reply::Rejected {
        code: r.code(),
        reason: r.reason(),
    }
}

pub(super) fn handle(s: &mut Session, p: &SubmitParams<'_>) -> Reply {
    if p.len() < 5 || p.len() > 6 {
        return other("Invalid array size");
    }
    let Some(worker) = p.str(0) else {
        return other("No username");
    };
    let Some(job_id) = p.str(1) else {
        return other("No job_id");
    };
    let Some(nonce2_hex) = p.str(2) else {
        return other("No nonce2");
    };
    let Some(ntime_hex) = p.str(3) else {
        return other("No ntime");
    };
    let Some(nonce_hex) = p.str(4) else {
        return other("No nonce");
    };
    let Some(extranonce1) = s.extranonce1.map(|e| e.bytes()) else {
        return Reply::Error(StratumError::new(25, "Not subscribed"));
    };
    if s.payee.is_none() {
        return Reply::Error(StratumError::new(24, "Unauthorized worker"));
    }
    let Some(worker) = s.workers.iter().find(|w| *w.name == *worker).cloned() else {
        return Reply::Error(StratumError::new(24, "Worker mismatch"));
    };
    let Some(extranonce2) = ShortBytes::from_hex_exact(&nonce2_hex, s.ctx.settings.nonce2_len)
    else {
        return other("Invalid nonce2 length");
    };
    let Some(ntime) = parse_u32_be(&ntime_hex) else {
        return other("Invalid ntime");
    };
    let Some(nonce) = parse_u32_be(&nonce_hex) else {
        return other("Invalid nonce");
    };
    let version_bits = match (p.present(5), p.str(5)) {
        (false, _) => None,
        (true, Some(v)) => match parse_u32_be(&v) {
            Some(bits) => Some(bits),
            None => return other("Invalid version mask"),
        },
        (true, None) => return other("Invalid version mask"),
    };
    let mask = s.version_mask;
    if let Some(bits) = version_bits {
        if bits & !mask != 0 {
            return other("Invalid version mask");
        }
    }
    let mut share = Share {
        job_id: JobId::parse(&job_id),
        extranonce1,
        extranonce2,
        ntime,
        nonce,
        version_bits,
        mask,
        worker,
        diff: s.difficulty,
        version: None,
        block_sent: false,
    };
    judge(s, &mut share)
}

/// A decoded, well-formed submit.
struct Share {
    /// `None` when the job id is not even one we could have sent.
    job_id: Option<JobId>,
    extranonce1: ShortBytes<8>,
    extranonce2: ShortBytes<MAX_NONCE2>,
    ntime: u32,
    nonce: u32,
    version_bits: Option<u32>,
    mask: u32,
    worker: Worker,
    /// The difficulty it is judged at: the session's, until the job is known.
    diff: f64,
    /// The header version after rolling, once the job is known.
    version: Option<u32>,
    /// This submit's block solution went to the submitter (the first time it was seen).
    block_sent: bool,
}

fn judge(s: &mut Session, share: &mut Share) -> Reply {
    let tip_generation = s.ctx.board.generation();
    let current_diff = s.difficulty;
    let Some(sent) = share.job_id.and_then(|id| s.sent_job(id)) else {
        return finish(s, share, Err(Reject::InvalidJobId), None);
    };
    let job = &sent.posting.job;
    let version = match share.version_bits {
        Some(bits) => (job.version & !share.mask) | (bits & share.mask),
        None => job.version,
    };
    share.version = Some(version);
    let sub = Submission {
        extranonce1: &share.extranonce1,
        extranonce2: &share.extranonce2,
        ntime: share.ntime,
        nonce: share.nonce,
        version,
    };
    // Shares on jobs sent before a change are judged at the lower of the two difficulties,
    // so that neither an increase nor a decrease causes rejects.
    share.diff = sent.difficulty.min(current_diff);
    let outcome = validate_share(job, &sent.work, &sub, share.diff, tip_generation);
    let verdict = outcome.verdict();
    // One record per job of the hashes seen: for duplicates, and so that a block solution
    // goes out once however often it is sent.
    let first_time =
        (verdict.is_ok() || outcome.is_block) && sent.posting.seen.first_time(&outcome.hash);
    if outcome.is_block && first_time {
        let found = found_share(sent, share, version, &outcome);
        send_block(s, found);
        share.block_sent = true;
    } else if outcome.is_chain_share && first_time && verdict.is_ok() {
        let found = found_share(sent, share, version, &outcome);
        hand_on(s, found);
    }
    if let Err(r) = verdict {
        return finish(s, share, Err(r), Some(&outcome));
    }
    if !first_time {
        return finish(s, share, Err(Reject::Duplicate), Some(&outcome));
    }
    s.ctx.stats.share_accepted(share.diff);
    let bounds = s.bounds_for(None);
    if let Some(new_diff) = s
        .vardiff
        .on_share(Instant::now(), share.diff, current_diff, &bounds)
    {
        s.change_difficulty(new_diff);
    }
    finish(s, share, Ok(()), Some(&outcome))
}

/// Everything needed to rebuild the share from its job: what the lossless sink carries.
fn found_share(sent: &SentJob, share: &Share, version: u32, outcome: &ShareOutcome) -> FoundShare {
    FoundShare {
        job: sent.posting.job.clone(),
        work: sent.work.clone(),
        extranonce1: share.extranonce1,
        extranonce2: share.extranonce2,
        ntime: share.ntime,
        nonce: share.nonce,
        version,
        header: outcome.header,
        hash: outcome.hash,
        worker: share.worker.name.clone(),
        refused_as: outcome.early_reject,
    }
}

/// Hands a block solution on, losslessly. A stale one goes too, as ckpool sends it: it
/// builds on the previous tip, and bitcoind decides whether it can still win.
fn send_block(s: &mut Session, found: FoundShare) {
    s.ctx.stats.blocks_found.fetch_add(1, Ordering::Relaxed);
    let height = found.job.template.height;
    let hash = found.hash_hex();
    match found.refused_as {
        None => tracing::info!(height, %hash, worker = %found.worker, "block solved"),
        Some(r) => tracing::warn!(
            height, %hash, worker = %found.worker,
            "block solved on a {} share; submitting it anyway", r.reason()
        ),
    }
    hand_on(s, found);
}

/// Hands a found share on, losslessly, in the order found.
fn hand_on(s: &mut Session, found: FoundShare) {
    // Behind one already waiting, it waits too: found shares go on in the order found.
    if !s.unsent_found.is_empty() {
        let held = s.ctx.found.hold(found);
        s.unsent_found.push(held);
        return;
    }
    match s.ctx.found.offer(found) {
        Offer::Taken => {}
        // Sent once the reply is out, waiting for room (the connection task does it).
        Offer::Full(held) => s.unsent_found.push(held),
        Offer::Closed => tracing::error!("found-share consumer is gone; share not handed on"),
    }
}

/// Counts the result, tells the event consumers that want it, and builds the reply.
fn finish(
    s: &Session,
    share: &Share,
    result: Result<(), Reject>,
    outcome: Option<&ShareOutcome>,
) -> Reply {
    let interest = s.ctx.events.interest();
    let wanted = if result.is_ok() {
        interest.accepted_shares
    } else {
        interest.rejected_shares
    };
    if wanted {
        s.ctx
            .events
            .publish(Event::Share(record(s, share, result, outcome)));
    }
    match result {
        Ok(()) => Reply::Result(Value::Bool(true)),
        Err(r) => reject(s, r),
    }
}

fn record(
    s: &Session,
    share: &Share,
    result: Result<(), Reject>,
    outcome: Option<&ShareOutcome>,
) -> ShareRecord {
    ShareRecord {
        // ckpool's workinfoid field; 0 for an id that cannot be one of ours.
        job_id: share.job_id.unwrap_or(JobId(0)),
        client_id: s.client_id,
        extranonce1: share.extranonce1,
        extranonce2: share.extranonce2,
        nonce: share.nonce,
        ntime: share.ntime,
        diff: share.diff,
        sdiff: outcome.map_or(0.0, |o| o.difficulty),
        hash: outcome.map_or([0; 32], |o| o.hash),
        result,
        version: share.version,
        // Looked up again only for a record someone wants: the hot path clones nothing.
        work: share
            .job_id
            .and_then(|id| s.sent_job(id))
            .map(|sent| sent.work.clone()),
        // Only the submit whose solution went to the submitter: a resent one is not a new
        // block for the stats and logs.
        is_block: share.block_sent,
        at: SystemTime::now(),
        listener: s.listener,
        worker: share.worker.name.clone(),
        username: share.worker.user.clone(),
        peer: s.peer,
        agent: s.agent.clone(),
    }
}

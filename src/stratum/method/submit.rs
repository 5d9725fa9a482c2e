//! `mining.submit [worker, job_id, extranonce2, ntime, nonce, version_bits?]`: the hot path.
//! Malformed params get ckpool's error strings; a well-formed share that fails gets
//! `result: false` with ckpool's `reject-reason`.

use std::sync::atomic::Ordering;
use std::time::Instant;

use serde_json::Value;

use super::Reply;
use crate::hex_util::{decode_exact, parse_u32_be};
use crate::share::block_found::FoundBlock;
use crate::share::{validate_share, Reject, Submission};
use crate::stratum::message::StratumError;
use crate::stratum::session::Session;
use crate::work::JobId;

/// Longest extranonce2 we support (Whatsminer and cgminer forks break above 8 anyway).
const MAX_NONCE2: usize = 16;

fn other(msg: &str) -> Reply {
    Reply::Error(StratumError::other(msg))
}

fn reject(s: &Session, r: Reject) -> Reply {
    s.ctx.stats.rejected.fetch_add(1, Ordering::Relaxed);
    Reply::Rejected {
        code: r.code(),
        reason: r.reason(),
    }
}

pub(super) fn handle(s: &mut Session, params: &Value) -> Reply {
    let Value::Array(p) = params else {
        return other("Params not array");
    };
    if p.len() < 5 || p.len() > 6 {
        return other("Invalid array size");
    }
    let Some(worker) = p[0].as_str() else {
        return other("No username");
    };
    let Some(job_id) = p[1].as_str() else {
        return other("No job_id");
    };
    let Some(nonce2_hex) = p[2].as_str() else {
        return other("No nonce2");
    };
    let Some(ntime_hex) = p[3].as_str() else {
        return other("No ntime");
    };
    let Some(nonce_hex) = p[4].as_str() else {
        return other("No nonce");
    };
    if s.extranonce1.is_none() {
        return Reply::Error(StratumError::new(25, "Not subscribed"));
    }
    if s.payee.is_none() {
        return Reply::Error(StratumError::new(24, "Unauthorized worker"));
    }
    if !s.workers.iter().any(|w| w.username == worker) {
        return Reply::Error(StratumError::new(24, "Worker mismatch"));
    }
    let nonce2_len = s.ctx.settings.nonce2_len;
    let mut nonce2 = [0u8; MAX_NONCE2];
    if nonce2_len > MAX_NONCE2 || !decode_exact(nonce2_hex, &mut nonce2[..nonce2_len]) {
        return other("Invalid nonce2 length");
    }
    let Some(ntime) = parse_u32_be(ntime_hex) else {
        return other("Invalid ntime");
    };
    let Some(nonce) = parse_u32_be(nonce_hex) else {
        return other("Invalid nonce");
    };
    let version_bits = match p.get(5) {
        None | Some(Value::Null) => None,
        Some(Value::String(v)) => match parse_u32_be(v) {
            Some(bits) => Some(bits),
            None => return other("Invalid version mask"),
        },
        Some(_) => return other("Invalid version mask"),
    };
    let mask = s.version_mask;
    if let Some(bits) = version_bits {
        if bits & !mask != 0 {
            return other("Invalid version mask");
        }
    }

    let tip_generation = s.ctx.board.generation();
    let current_diff = s.difficulty;
    let Some(job_id) = JobId::parse(job_id) else {
        return reject(s, Reject::InvalidJobId);
    };
    let extranonce1 = std::mem::take(&mut s.extranonce1_bytes);
    let reply = judge(
        s,
        &extranonce1,
        &nonce2[..nonce2_len],
        job_id,
        ntime,
        nonce,
        version_bits,
        mask,
        tip_generation,
        current_diff,
        worker,
    );
    s.extranonce1_bytes = extranonce1;
    reply
}

#[allow(clippy::too_many_arguments)]
fn judge(
    s: &mut Session,
    extranonce1: &[u8],
    extranonce2: &[u8],
    job_id: JobId,
    ntime: u32,
    nonce: u32,
    version_bits: Option<u32>,
    mask: u32,
    tip_generation: u64,
    current_diff: f64,
    worker: &str,
) -> Reply {
    let Some(sent) = s.sent_job(job_id) else {
        return reject(s, Reject::InvalidJobId);
    };
    let version = match version_bits {
        Some(bits) => (sent.job.version & !mask) | (bits & mask),
        None => sent.job.version,
    };
    let sub = Submission {
        extranonce1,
        extranonce2,
        ntime,
        nonce,
        version,
    };
    // Shares on jobs sent before a change are judged at the lower of the two difficulties,
    // so that neither an increase nor a decrease causes rejects.
    let share_diff = sent.difficulty.min(current_diff);
    let outcome = match validate_share(&sent.job, &sent.work, &sub, share_diff, tip_generation) {
        Ok(o) => o,
        Err(r) => return reject(s, r),
    };
    let key = u64::from_le_bytes([
        outcome.hash[0],
        outcome.hash[1],
        outcome.hash[2],
        outcome.hash[3],
        outcome.hash[4],
        outcome.hash[5],
        outcome.hash[6],
        outcome.hash[7],
    ]);
    if !sent.seen.insert(key) {
        return reject(s, Reject::Duplicate);
    }
    if outcome.is_block {
        let found = FoundBlock {
            job: sent.job.clone(),
            work: sent.work.clone(),
            extranonce1: extranonce1.to_vec(),
            extranonce2: extranonce2.to_vec(),
            ntime,
            nonce,
            version,
            header: outcome.header,
            hash: outcome.hash,
            worker: worker.to_string(),
        };
        s.ctx.stats.blocks_found.fetch_add(1, Ordering::Relaxed);
        tracing::info!(
            height = found.job.template.height,
            hash = %found.hash_hex(),
            worker,
            "block solved"
        );
        if s.ctx.blocks.send(found).is_err() {
            tracing::error!("block submitter is gone; block not submitted");
        }
    }
    s.ctx.stats.share_accepted(share_diff);
    let bounds = s.bounds_for(None);
    if let Some(new_diff) = s
        .vardiff
        .on_share(Instant::now(), share_diff, current_diff, &bounds)
    {
        s.change_difficulty(new_diff);
    }
    Reply::Result(Value::Bool(true))
}

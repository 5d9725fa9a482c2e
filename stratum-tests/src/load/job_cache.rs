//! Notifies decoded once for all connections. Under load every connection gets the same
//! notify at the same moment (a new block, or the server's periodic refresh), and decoding it
//! 10,000 times stalled the generator for about 100 ms, long enough to show up in the
//! submit latency it reports as if the server had been slow.

use serde_json::Value;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use stratum_miner::work::Job;

/// Distinct notifies kept (per payee and job; a run sees a handful at a time).
const KEEP: usize = 16;

/// A notify's job with what a submit line needs of it.
#[derive(Debug)]
pub struct DecodedJob {
    /// The job.
    pub job: Job,
    /// Its id as a JSON string, ready to paste into submits.
    pub job_id_json: String,
    /// The prevhash as sent (connections compare it to spot a new block).
    pub prevhash_hex: String,
}

impl DecodedJob {
    /// Decodes a notify's params array.
    fn decode(params: &Value) -> Option<DecodedJob> {
        let job = Job::from_notify_params(params).ok()?;
        let job_id_json = Value::String(job.job_id.clone()).to_string();
        let prevhash_hex = params.get(1)?.as_str()?.to_string();
        Some(DecodedJob {
            job,
            job_id_json,
            prevhash_hex,
        })
    }
}

/// The most recent notifies, by their params text.
#[derive(Debug, Default)]
pub struct JobCache {
    recent: Mutex<VecDeque<(Box<str>, Arc<DecodedJob>)>>,
}

impl JobCache {
    /// The job for `params` (a notify's params array as sent), decoded on first sight;
    /// `None` when it does not decode.
    pub fn get_or_decode(&self, params: &str) -> Option<Arc<DecodedJob>> {
        // Newest first: under load nearly every lookup is for the latest notify.
        if let Some(found) = self.lock().iter().rev().find(|(raw, _)| **raw == *params) {
            return Some(found.1.clone());
        }
        let value: Value = serde_json::from_str(params).ok()?;
        let decoded = Arc::new(DecodedJob::decode(&value)?);
        let mut recent = self.lock();
        recent.push_back((params.into(), decoded.clone()));
        if recent.len() > KEEP {
            recent.pop_front();
        }
        Some(decoded)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<(Box<str>, Arc<DecodedJob>)>> {
        self.recent.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PARAMS: &str = r#"["1a","00000000000000000000000000000000000000000000000000000000000000aa","01000000","ffffffff",[],"20000000","1d00ffff","5f000000",true]"#;

    #[test]
    fn the_same_notify_is_decoded_once_and_shared() {
        let cache = JobCache::default();
        let a = cache.get_or_decode(PARAMS).expect("decodes");
        let b = cache.get_or_decode(PARAMS).expect("decodes");
        assert!(
            Arc::ptr_eq(&a, &b),
            "second connection reuses the first decode"
        );
        assert_eq!(a.job_id_json, "\"1a\"");
        assert!(a.prevhash_hex.ends_with("aa"));
        assert!(a.job.clean_jobs);
        let other = PARAMS.replace("\"1a\"", "\"1b\"");
        let c = cache.get_or_decode(&other).expect("decodes");
        assert!(
            !Arc::ptr_eq(&a, &c),
            "a different notify is a different job"
        );
        assert!(cache.get_or_decode(r#"["1a"]"#).is_none(), "malformed");
    }
}

//! `mining.subscribe [user_agent?, session_id?, host?, port?]`: allocate (or resume) the
//! extranonce1 and answer `[[["mining.set_difficulty", id], ["mining.notify", id]], en1, n2]`.

use serde_json::{json, Value};

use super::params;
use crate::stratum::message::StratumError;
use crate::stratum::session::Session;

/// Longest user agent kept.
const MAX_USER_AGENT: usize = 255;

pub(super) fn handle(s: &mut Session, params: &Value) -> Result<Value, StratumError> {
    // Any param may be null or missing (LuxOS, stock Antminer); other types are ignored
    // rather than refused, since they only carry hints.
    let a = params::array(params).unwrap_or(&[]);
    if let Ok(Some(ua)) = params::opt_str(a, 0) {
        s.agent = ua.chars().take(MAX_USER_AGENT).collect::<String>().into();
    }
    if s.extranonce1.is_none() {
        let resumed = match params::opt_str(a, 1) {
            Ok(Some(id)) => s.ctx.extranonces.resume(id),
            _ => None,
        };
        let e = match resumed.or_else(|| s.ctx.extranonces.allocate()) {
            Some(e) => e,
            None => {
                s.closing = true;
                return Err(StratumError::other("Server full"));
            }
        };
        s.extranonce1 = Some(e);
    }
    let Some(e) = s.extranonce1 else {
        return Err(StratumError::other("Server full"));
    };
    let id = e.hex();
    Ok(json!([
        [["mining.set_difficulty", id], ["mining.notify", id]],
        id,
        s.ctx.settings.nonce2_len
    ]))
}

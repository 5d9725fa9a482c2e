//! `mining.suggest_difficulty [d]`: integer or float, before or after authorize, repeated
//! (NerdMiner re-sends it as a keepalive). Clamped to the pool's bounds.

use serde_json::Value;

use super::params;
use crate::stratum::message::StratumError;
use crate::stratum::session::Session;

pub(super) fn handle(s: &mut Session, params: &Value) -> Result<Value, StratumError> {
    let a = params::array(params).ok_or_else(|| StratumError::other("Params not array"))?;
    let d = a
        .first()
        .and_then(params::difficulty)
        .ok_or_else(|| StratumError::other("Invalid difficulty"))?;
    s.apply_suggested(d);
    Ok(Value::Bool(true))
}

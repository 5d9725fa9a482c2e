//! `mining.extranonce.subscribe`: acknowledged; we may later send `mining.set_extranonce`.

use serde_json::Value;

use crate::stratum::message::StratumError;
use crate::stratum::session::Session;

pub(super) fn handle(s: &mut Session) -> Result<Value, StratumError> {
    s.extranonce_subscribed = true;
    Ok(Value::Bool(true))
}

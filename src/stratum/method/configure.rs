//! `mining.configure [[extensions], {params}]` (BIP310): every requested extension gets an
//! answer; version rolling gets the intersection of the miner's and the pool's masks.

use serde_json::{Map, Value};

use super::params;
use crate::stratum::message::StratumError;
use crate::stratum::session::Session;

pub(super) fn handle(s: &mut Session, params: &Value) -> Result<Value, StratumError> {
    let a = params::array(params).ok_or_else(|| StratumError::other("Params not array"))?;
    let Some(Value::Array(extensions)) = a.first() else {
        return Err(StratumError::other("No extensions array"));
    };
    let empty = Map::new();
    let opts = match a.get(1) {
        Some(Value::Object(m)) => m,
        _ => &empty,
    };
    let mut result = Map::new();
    for ext in extensions {
        let Some(name) = ext.as_str() else { continue };
        match name {
            "version-rolling" => {
                let requested = opts
                    .get("version-rolling.mask")
                    .and_then(Value::as_str)
                    .and_then(|m| u32::from_str_radix(m, 16).ok())
                    .unwrap_or(u32::MAX);
                let mask = requested & s.ctx.settings.version_mask;
                s.version_mask = mask;
                result.insert(name.into(), Value::Bool(true));
                result.insert(
                    "version-rolling.mask".into(),
                    Value::String(format!("{mask:08x}")),
                );
            }
            "minimum-difficulty" => {
                let floor = opts
                    .get("minimum-difficulty.value")
                    .and_then(params::difficulty);
                if let Some(d) = floor {
                    let floor = s.suggested.map_or(d, |x| x.max(d));
                    if floor > s.difficulty {
                        s.apply_suggested(floor);
                    } else {
                        s.suggested = Some(floor); // a floor only: never lowers
                    }
                }
                result.insert(name.into(), Value::Bool(floor.is_some()));
            }
            "subscribe-extranonce" => {
                s.extranonce_subscribed = true;
                result.insert(name.into(), Value::Bool(true));
            }
            "info" => {
                result.insert(name.into(), Value::Bool(true));
            }
            other => {
                result.insert(other.into(), Value::Bool(false));
            }
        }
    }
    Ok(Value::Object(result))
}

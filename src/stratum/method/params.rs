//! Helpers for reading positional params: missing and `null` are the same, and a wrong
//! type is a typed error rather than a panic.

use serde_json::Value;

/// The params as a slice; a missing or null params counts as empty.
pub fn array(params: &Value) -> Option<&[Value]> {
    match params {
        Value::Array(a) => Some(a),
        Value::Null => Some(&[]),
        _ => None,
    }
}

/// The `i`th param as a string, `None` when absent or null, `Err` for another type.
pub fn opt_str(a: &[Value], i: usize) -> Result<Option<&str>, ()> {
    match a.get(i) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(()),
    }
}

/// A difficulty given as a JSON number or a numeric string; must be finite and > 0.
pub fn difficulty(v: &Value) -> Option<f64> {
    let d = match v {
        Value::Number(n) => n.as_f64()?,
        Value::String(s) => s.trim().parse().ok()?,
        _ => return None,
    };
    (d.is_finite() && d > 0.0).then_some(d)
}

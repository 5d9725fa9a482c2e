//! Which keys the config file may hold: ckpool's (`ckpool_compat::CKPOOL_KEYS`), ours, and
//! those of ckpool modes stratumd does not serve (accepted with a warning).

use std::collections::BTreeMap;

use serde_json::Value;

/// Keys this project adds to ckpool's.
pub const OWN_KEYS: &[&str] = &[
    "donaddress",
    "payouts",
    "network",
    "handshake_timeout",
    "maxclients_per_ip",
    "flood_ban_rejects",
    "flood_ban_secs",
    "zmqpub",
    "zmqpub_mindiff",
    "sockdir",
    "stats_interval",
    "p2pool",
    "api",
    "api_token",
];

/// ckpool keys that only matter to ckpool modes stratumd does not serve, with what they
/// are for. They are checked for ckpool's shape and ignored with a warning.
pub const OTHER_MODE_KEYS: &[(&str, &str)] = &[
    ("upstream", "the upstream pool of a trusted remote (-t)"),
    ("nodeserver", "listeners for ckpool nodes (-N)"),
    ("trusted", "listeners for trusted remotes (-t)"),
    ("proxy", "the upstream pools of proxy modes (-p, -P, -u)"),
    ("redirecturl", "the redirector's targets (-R)"),
    ("redirectport", "the redirector (-R)"),
    ("useragent", "proxy modes (-p, -P, -u)"),
];

/// The key as a `'static` name, for error messages, when it is one we know.
pub fn known(key: &str) -> Option<&'static str> {
    ckpool_compat::CKPOOL_KEYS
        .iter()
        .chain(OWN_KEYS)
        .find(|k| **k == key)
        .copied()
}

fn is_string_array(v: &Value) -> bool {
    matches!(v, Value::Array(a) if a.iter().all(Value::is_string))
}

/// ckpool's shape for a key of a mode stratumd does not serve, or `None` when anything goes.
fn other_mode_shape_ok(key: &str, v: &Value) -> Option<(bool, &'static str)> {
    match key {
        "upstream" => Some((v.is_string(), "a \"host:port\" string")),
        "nodeserver" | "trusted" | "redirecturl" => {
            Some((is_string_array(v), "an array of \"host:port\" strings"))
        }
        "proxy" => Some((
            matches!(v, Value::Array(a) if a.iter().all(|p| {
                p.get("url").is_some_and(Value::is_string)
                    && p.get("auth").is_some_and(Value::is_string)
            })),
            "an array of {\"url\", \"auth\", \"pass\"} objects",
        )),
        _ => None,
    }
}

/// Warnings for the keys no field of the raw config took: other modes' keys (with the shape
/// ckpool expects when it is not that) and unknown keys.
pub fn warnings_for_others(other: &BTreeMap<String, Value>) -> Vec<String> {
    let mut warnings = Vec::new();
    for (key, v) in other {
        if v.is_null() {
            continue;
        }
        let Some((key, what)) = OTHER_MODE_KEYS.iter().find(|(k, _)| k == key) else {
            warnings.push(format!("unknown config key `{key}` ignored"));
            continue;
        };
        let mut w = format!(
            "config key `{key}` is for {what}, a ckpool mode stratumd does not serve; ignored"
        );
        if let Some((false, shape)) = other_mode_shape_ok(key, v) {
            w.push_str(&format!(" (and ckpool expects {shape})"));
        }
        warnings.push(w);
    }
    warnings
}

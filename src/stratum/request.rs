//! One line from the miner: parsed into a request, dispatched to its method (one file per
//! method under `method/`), and the reply written before anything the method queued, as
//! ckpool orders them. Unparseable lines get JSON-RPC errors; too many in a row close the
//! connection.

use serde_json::Value;

use super::message::{self, Request, StratumError};
use super::method;
use super::session::{Session, MAX_BAD_LINES, OUTBOX_KEPT};

/// Handles one line from the miner.
pub fn handle_line(s: &mut Session, line: &[u8]) {
    if s.outbox.capacity() == 0 {
        // One allocation for the reply instead of a doubling series.
        s.outbox.reserve(OUTBOX_KEPT);
    }
    let Some(&first) = line.iter().find(|b| !b.is_ascii_whitespace()) else {
        return; // a blank line
    };
    // serde would map a JSON array onto the struct's fields in order: only an object
    // is a request.
    let is_object = first == b'{';
    let parsed = if is_object {
        serde_json::from_slice::<Request>(line)
            .map_err(|_| StratumError::new(-32700, "Parse error"))
    } else if serde_json::from_slice::<serde::de::IgnoredAny>(line).is_ok() {
        Err(StratumError::new(
            -32600,
            "Invalid request: not a JSON object",
        ))
    } else {
        Err(StratumError::new(-32700, "Parse error"))
    };
    let req = match parsed {
        Ok(r) => r,
        Err(e) => {
            s.bad_lines += 1;
            message::err(&mut s.outbox, &Value::Null, &e);
            if s.bad_lines >= MAX_BAD_LINES {
                tracing::info!(peer = %s.peer, "dropping connection after {MAX_BAD_LINES} unparseable lines");
                s.closing = true;
            }
            return;
        }
    };
    s.bad_lines = 0;
    if req.method.is_empty() {
        return; // a reply to our ping, or noise: nothing to answer
    }
    let was_ready = s.is_ready();
    let mark = s.outbox.len();
    let reply = method::dispatch(s, &req.method, req.params);
    // The reply goes before anything the method queued (e.g. a vardiff
    // set_difficulty), as ckpool orders them.
    let queued = s.outbox.split_off(mark);
    match reply {
        method::Reply::Result(v) => message::ok(&mut s.outbox, &req.id, v),
        method::Reply::Error(e) => message::err(&mut s.outbox, &req.id, &e),
        method::Reply::Rejected { code, reason } => {
            message::rejected(&mut s.outbox, &req.id, code, reason)
        }
        method::Reply::None => {}
    }
    s.outbox.extend_from_slice(&queued);
    if !was_ready && s.is_ready() {
        s.on_ready();
    }
}

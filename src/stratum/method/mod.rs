//! One file per stratum method, as mini-redis keeps one file per command: each parses its
//! params into a typed request and applies it to the [`Session`].

mod authorize;
mod configure;
mod extranonce_subscribe;
mod params;
mod submit;
pub mod submit_params;
mod subscribe;
mod suggest_difficulty;

use serde_json::value::RawValue;
use serde_json::Value;
use submit_params::SubmitParams;

use super::message::StratumError;
use super::session::Session;

/// What a method asks the session to write back.
#[derive(Debug)]
pub enum Reply {
    /// `{"result": v, "error": null}`.
    Result(Value),
    /// `{"result": null, "error": [code, message, null]}`.
    Error(StratumError),
    /// A rejected share: `result: false`, error array and `reject-reason`.
    Rejected {
        /// Classic stratum code.
        code: i32,
        /// ckpool's reason string.
        reason: &'static str,
    },
    /// Nothing.
    None,
}

impl Reply {
    /// Counts a submit's reply towards `flood_ban_rejects`: an accepted share ends a run
    /// of refusals; a stale one (honest miners send them after every block) neither counts
    /// nor ends it. At the limit the connection closes and its address is banned.
    fn counted_for_flood(self, s: &mut Session) -> Self {
        let refused = match &self {
            Reply::Result(_) => false,
            Reply::Rejected { reason, .. } if *reason == crate::share::Reject::Stale.reason() => {
                return self
            }
            _ => true,
        };
        if !refused {
            s.rejects_in_a_row = 0;
            return self;
        }
        s.rejects_in_a_row = s.rejects_in_a_row.saturating_add(1);
        let Some(limit) = s.ctx.settings.flood_ban_rejects else {
            return self;
        };
        if s.rejects_in_a_row >= limit && !s.closing {
            let for_ = s.ctx.settings.flood_ban_for;
            tracing::warn!(
                peer = %s.peer,
                "{limit} rejected shares in a row: closing the connection and banning {} for {}s (flood_ban_rejects)",
                s.peer.ip(),
                for_.as_secs()
            );
            s.ctx.admission.ban(s.peer.ip(), for_);
            s.closing = true;
        }
        self
    }
}

impl From<Result<Value, StratumError>> for Reply {
    fn from(r: Result<Value, StratumError>) -> Self {
        match r {
            Ok(v) => Reply::Result(v),
            Err(e) => Reply::Error(e),
        }
    }
}

/// Routes a request to its method. Submits read their params borrowed; the rarer methods
/// get them as a `Value`.
pub fn dispatch(session: &mut Session, method: &str, raw: Option<&RawValue>) -> Reply {
    if method == "mining.submit" {
        return match raw.map(|r| serde_json::from_str::<SubmitParams>(r.get())) {
            Some(Ok(p)) => submit::handle(session, &p),
            Some(Err(_)) | None => Reply::Error(StratumError::other("Params not array")),
        }
        .counted_for_flood(session);
    }
    let owned;
    let params = match raw.map(|r| serde_json::from_str::<Value>(r.get())) {
        Some(Ok(v)) => {
            owned = v;
            &owned
        }
        _ => &Value::Null,
    };
    match method {
        "mining.subscribe" => subscribe::handle(session, params).into(),
        "mining.authorize" => authorize::handle(session, params).into(),
        "mining.configure" => configure::handle(session, params).into(),
        "mining.suggest_difficulty" => suggest_difficulty::handle(session, params).into(),
        "mining.extranonce.subscribe" => extranonce_subscribe::handle(session).into(),
        "mining.ping" => Reply::Result(Value::String("pong".into())),
        _ => Reply::Error(StratumError::new(-32601, "Method not found")),
    }
}

//! Our JSON requests, `{"method":…,"params":…,"id":…}`: the envelope, read before the
//! method's own file parses its params.

use serde::Deserialize;
use serde_json::Value;

use super::{
    truncate, Command, DifficultyParamsError, ParseError, PayoutsParamsError, SetDifficulty,
    SetPayouts,
};
use crate::control::ControlError;

/// Why a JSON request was refused: the text of its reply's `error`.
#[derive(Debug, thiserror::Error)]
pub enum JsonError {
    /// Not a JSON request object with `method` and only `params` and `id` besides.
    #[error("malformed request: {0}")]
    Malformed(#[source] serde_json::Error),
    /// A method we do not serve. Holds the start of its name.
    #[error(
        "unknown method `{0}`; the methods are {payouts} and {difficulty}",
        payouts = SetPayouts::METHOD,
        difficulty = SetDifficulty::METHOD
    )]
    UnknownMethod(String),
    /// `setpayouts` params that are not a valid payout list.
    #[error(transparent)]
    SetPayouts(#[from] PayoutsParamsError),
    /// `setdifficulty` params that are not a valid difficulty.
    #[error(transparent)]
    SetDifficulty(#[from] DifficultyParamsError),
    /// [`Control`](crate::control::Control) refused the request.
    #[error(transparent)]
    Control(#[from] ControlError),
}

/// The request as sent.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Envelope {
    method: String,
    #[serde(default)]
    params: Value,
    #[serde(default)]
    id: Option<Value>,
}

/// Parses a JSON request into its command.
pub(super) fn parse(text: &str) -> Result<Command, ParseError> {
    let Envelope { method, params, id } =
        serde_json::from_str(text).map_err(|e| ParseError::Json {
            id: None,
            error: Box::new(JsonError::Malformed(e)),
        })?;
    let error = match method.as_str() {
        SetPayouts::METHOD => match SetPayouts::parse(&params) {
            Ok(request) => return Ok(Command::SetPayouts { id, request }),
            Err(e) => e.into(),
        },
        SetDifficulty::METHOD => match SetDifficulty::parse(&params) {
            Ok(request) => return Ok(Command::SetDifficulty { id, request }),
            Err(e) => e.into(),
        },
        other => JsonError::UnknownMethod(truncate(other, 40).to_owned()),
    };
    Err(ParseError::Json {
        id,
        error: Box::new(error),
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::control::test_fixture::{fixture, refused};

    #[test]
    fn malformed_requests_and_unknown_methods_change_nothing() {
        let f = fixture(false);
        for (req, needle) in [
            ("{".to_string(), "malformed"),
            ("{\"method\": \"setpayouts\"".to_string(), "malformed"),
            ("{\"params\": []}".to_string(), "malformed"),
            (
                json!({"method": "setpayouts", "bogus": 1}).to_string(),
                "malformed",
            ),
            (
                json!({"method": "nosuch", "params": []}).to_string(),
                "unknown method",
            ),
        ] {
            refused(&f, &req, needle);
        }
    }

    #[test]
    fn a_refused_request_keeps_its_id() {
        let f = fixture(false);
        let r = f.handler.handle(br#"{"method":"nosuch","id":"a"}"#);
        let v: serde_json::Value = serde_json::from_str(&r).unwrap();
        assert_eq!(v["id"], "a", "{v}");
        assert_eq!(
            v["error"],
            "unknown method `nosuch`; the methods are setpayouts and setdifficulty"
        );
    }
}

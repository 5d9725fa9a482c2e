//! Our `{"method":"setdifficulty","params":[d]}`: fixes every miner's difficulty at `d`
//! (above 0), or with `[null]` returns them to vardiff. Answers
//! `{"result":{"difficulty":d},…}`.

use serde_json::{json, Value};

use super::{truncate, JsonError, Reply};
use crate::control::Handler;

/// A difficulty to fix, or `None` for vardiff.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SetDifficulty {
    difficulty: Option<f64>,
}

/// Why `setdifficulty`'s params were refused.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum DifficultyParamsError {
    /// A number, but not one above 0.
    #[error("difficulty must be a number above 0, got {0}")]
    NotAboveZero(Value),
    /// Neither a number nor null. Holds the start of its JSON text.
    #[error("difficulty must be a number above 0 or null, got {0}")]
    NotANumber(String),
    /// Not a one-element array.
    #[error("setdifficulty params must be [difficulty] or [null]")]
    Shape,
}

impl SetDifficulty {
    /// The method's name.
    pub const METHOD: &'static str = "setdifficulty";

    /// Parses the params: `[d]` with `d` above 0, or `[null]`.
    pub(super) fn parse(params: &Value) -> Result<SetDifficulty, DifficultyParamsError> {
        let difficulty = match params.as_array().map(Vec::as_slice) {
            Some([Value::Null]) => None,
            Some([v @ Value::Number(n)]) => match n.as_f64() {
                Some(d) if d.is_finite() && d > 0.0 => Some(d),
                _ => return Err(DifficultyParamsError::NotAboveZero(v.clone())),
            },
            Some([v]) => {
                return Err(DifficultyParamsError::NotANumber(
                    truncate(&v.to_string(), 40).to_owned(),
                ))
            }
            _ => return Err(DifficultyParamsError::Shape),
        };
        Ok(SetDifficulty { difficulty })
    }

    pub(super) fn apply(self, id: Option<Value>, handler: &Handler) -> Reply {
        let d = self.difficulty;
        let result = handler.control.set_difficulty(d).map_err(JsonError::from);
        if let Err(e) = &result {
            tracing::warn!("control: {} refused: {e}", Self::METHOD);
        }
        Reply::Json {
            id,
            result: result.map(|()| json!({ "difficulty": d })),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::control::test_fixture::{fixture, json_reply, refused};

    #[test]
    fn setdifficulty_sets_and_clears() {
        let f = fixture(false);
        let v = json_reply(&f, r#"{"method":"setdifficulty","params":[0.002]}"#);
        assert_eq!(v, json!({"result": {"difficulty": 0.002}, "error": null}));
        assert_eq!(f.ctx.fixed_difficulty(), Some(0.002));
        for (req, needle) in [
            (r#"{"method":"setdifficulty","params":[0]}"#, "above 0"),
            (r#"{"method":"setdifficulty","params":[-1]}"#, "above 0"),
            (r#"{"method":"setdifficulty","params":["1"]}"#, "above 0"),
            (
                r#"{"method":"setdifficulty","params":[1e400]}"#,
                "malformed",
            ),
            (r#"{"method":"setdifficulty","params":[NaN]}"#, "malformed"),
            (r#"{"method":"setdifficulty","params":[]}"#, "[difficulty]"),
            (
                r#"{"method":"setdifficulty","params":[1, 2]}"#,
                "[difficulty]",
            ),
            (r#"{"method":"setdifficulty","params":2}"#, "[difficulty]"),
            (r#"{"method":"setdifficulty"}"#, "[difficulty]"),
        ] {
            refused(&f, req, needle);
        }
        assert_eq!(f.ctx.fixed_difficulty(), Some(0.002));
        let v = json_reply(&f, r#"{"method":"setdifficulty","params":[null]}"#);
        assert_eq!(v, json!({"result": {"difficulty": null}, "error": null}));
        assert_eq!(f.ctx.fixed_difficulty(), None);
    }

    #[test]
    fn setdifficulty_params_parse_to_typed_errors() {
        assert_eq!(
            SetDifficulty::parse(&json!([null])),
            Ok(SetDifficulty { difficulty: None })
        );
        assert_eq!(
            SetDifficulty::parse(&json!([0])),
            Err(DifficultyParamsError::NotAboveZero(json!(0)))
        );
        assert_eq!(
            SetDifficulty::parse(&json!(["1"])),
            Err(DifficultyParamsError::NotANumber("\"1\"".into()))
        );
        assert_eq!(
            SetDifficulty::parse(&Value::Null),
            Err(DifficultyParamsError::Shape)
        );
    }
}

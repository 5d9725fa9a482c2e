//! Cheap reading of what a server sends. Submit replies and notifies are nearly all of the
//! traffic under load, and the generator shares the machine with the server it measures: they
//! are read into borrowed fields (no `serde_json::Value` tree), and a notify's params stay raw
//! for the job cache to recognise. Everything else takes the general path.

use serde::Deserialize;
use serde_json::value::RawValue;
use std::borrow::Cow;

/// One line from the server, fields left as raw JSON until needed.
#[derive(Debug, Deserialize)]
pub struct Incoming<'a> {
    /// Set on notifications.
    #[serde(default, borrow)]
    pub method: Option<Cow<'a, str>>,
    /// Request id (replies) or null.
    #[serde(default, borrow)]
    pub id: Option<&'a RawValue>,
    /// Notification parameters.
    #[serde(default, borrow)]
    pub params: Option<&'a RawValue>,
    /// Reply result (`None` for JSON null).
    #[serde(default, borrow)]
    pub result: Option<&'a RawValue>,
    /// Reply error (`None` for JSON null).
    #[serde(default, borrow)]
    pub error: Option<&'a RawValue>,
    /// ckpool's reason for a rejected share.
    #[serde(default, borrow, rename = "reject-reason")]
    pub reject_reason: Option<Cow<'a, str>>,
}

impl<'a> Incoming<'a> {
    /// Parses a line; `None` when it is not a JSON object of this shape.
    pub fn parse(line: &'a [u8]) -> Option<Incoming<'a>> {
        serde_json::from_slice(line).ok()
    }

    /// The id as a number, when it is one.
    pub fn numeric_id(&self) -> Option<u64> {
        self.id.and_then(|r| r.get().parse().ok())
    }

    /// A reply whose result is `true` and whose error is null.
    pub fn is_true(&self) -> bool {
        self.error.is_none() && self.result.is_some_and(|r| r.get() == "true")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn submit_replies_accepted_and_rejected() {
        let ok = Incoming::parse(br#"{"id":1000,"result":true,"error":null}"#).unwrap();
        assert_eq!(ok.numeric_id(), Some(1000));
        assert!(ok.is_true());
        let rej =
            Incoming::parse(br#"{"reject-reason":"Stale","result":false,"error":null,"id":1001}"#)
                .unwrap();
        assert!(!rej.is_true());
        assert_eq!(rej.reject_reason.as_deref(), Some("Stale"));
        let err = Incoming::parse(br#"{"id":"x","result":null,"error":[21,"Job not found",null]}"#)
            .unwrap();
        assert_eq!(err.numeric_id(), None);
        assert!(!err.is_true());
        assert!(Incoming::parse(b"[1,2]").is_none());
        assert!(Incoming::parse(b"{\"id\":").is_none());
    }
}

//! `ckpool.conf`: read the way ckpool does: one JSON object, anything after its closing
//! brace ignored (ckpool's sample config ends with a line of prose), and the keys ckpool
//! itself reads.

use serde_json::{Map, Value};

/// Keys ckpool reads from `ckpool.conf` (all modes).
pub const CKPOOL_KEYS: &[&str] = &[
    "btcd",
    "btcaddress",
    "btcsig",
    "blockpoll",
    "donation",
    "nonce1length",
    "nonce2length",
    "update_interval",
    "version_mask",
    "serverurl",
    "mindiff",
    "startdiff",
    "highdiff",
    "maxdiff",
    "logdir",
    "maxclients",
    "zmqblock",
    "upstream",
    "nodeserver",
    "trusted",
    "proxy",
    "redirecturl",
    "redirectport",
    "useragent",
];

/// Why a config file could not be read as ckpool reads it.
#[derive(Debug, PartialEq)]
pub enum ConfReadError {
    /// The text does not start with a JSON value.
    Json(String),
    /// The first JSON value is not an object.
    NotAnObject,
}

impl std::fmt::Display for ConfReadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ConfReadError::Json(e) => write!(f, "not valid JSON: {e}"),
            ConfReadError::NotAnObject => write!(f, "the top level must be a JSON object {{…}}"),
        }
    }
}

impl std::error::Error for ConfReadError {}

/// Reads the first JSON object of `text`, ignoring whatever follows it.
pub fn read_conf(text: &str) -> Result<Map<String, Value>, ConfReadError> {
    let mut stream = serde_json::Deserializer::from_str(text).into_iter::<Value>();
    match stream.next() {
        Some(Ok(Value::Object(map))) => Ok(map),
        Some(Ok(_)) => Err(ConfReadError::NotAnObject),
        Some(Err(e)) => Err(ConfReadError::Json(e.to_string())),
        None => Err(ConfReadError::Json("empty file".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trailing_prose_is_ignored_like_ckpool() {
        let text = "{\n \"btcsig\" : \"/mined by ck/\",\n \"mindiff\" : 1\n}\nComments from here on are ignored.\n";
        let map = read_conf(text).unwrap();
        assert_eq!(map["btcsig"], "/mined by ck/");
        assert_eq!(map.len(), 2);
    }

    #[test]
    fn errors_are_typed() {
        assert!(matches!(
            read_conf("{ \"a\": }"),
            Err(ConfReadError::Json(_))
        ));
        assert_eq!(read_conf("[1]"), Err(ConfReadError::NotAnObject));
        assert!(matches!(read_conf(""), Err(ConfReadError::Json(_))));
    }
}

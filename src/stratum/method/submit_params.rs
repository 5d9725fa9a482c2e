//! `mining.submit`'s params read without allocating: each element is kept as raw JSON and
//! its string borrowed from the request line (hex and worker names have no escapes; a
//! string with escapes is read into an owned copy instead).

use std::borrow::Cow;
use std::fmt;

use serde::de::{Deserialize, Deserializer, IgnoredAny, SeqAccess, Visitor};
use serde_json::value::RawValue;

/// Most elements kept; a seventh marks the array as too long.
const MAX: usize = 7;

/// The positional params of a submit, as raw JSON values.
#[derive(Debug, Default)]
pub struct SubmitParams<'a> {
    items: [Option<&'a RawValue>; MAX],
    len: usize,
}

impl<'a> SubmitParams<'a> {
    /// How many params there were (capped at 7).
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when there were none.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Param `i` as a string; `None` when absent, null or another type.
    pub fn str(&self, i: usize) -> Option<Cow<'a, str>> {
        let raw = self.items.get(i).copied().flatten()?;
        if let Ok(s) = serde_json::from_str::<&'a str>(raw.get()) {
            return Some(Cow::Borrowed(s));
        }
        serde_json::from_str::<String>(raw.get())
            .ok()
            .map(Cow::Owned)
    }

    /// Whether param `i` is present and not null.
    pub fn present(&self, i: usize) -> bool {
        self.items
            .get(i)
            .copied()
            .flatten()
            .is_some_and(|r| r.get() != "null")
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for SubmitParams<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = SubmitParams<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an array of params")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut out = SubmitParams::default();
                while out.len < MAX {
                    match seq.next_element::<&'de RawValue>()? {
                        Some(raw) => {
                            out.items[out.len] = Some(raw);
                            out.len += 1;
                        }
                        None => return Ok(out),
                    }
                }
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(out)
            }
        }
        d.deserialize_seq(V(std::marker::PhantomData))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn borrows_plain_strings_and_copies_escaped_ones() {
        let text = r#"["w\u0041", "0011", null, 5, "x"]"#;
        let p: SubmitParams = serde_json::from_str(text).unwrap();
        assert_eq!(p.len(), 5);
        assert_eq!(p.str(0).as_deref(), Some("wA"));
        assert!(matches!(p.str(1), Some(Cow::Borrowed("0011"))));
        assert_eq!(p.str(2), None);
        assert!(!p.present(2));
        assert_eq!(p.str(3), None);
        assert!(p.present(3));
        assert_eq!(p.str(9), None);
    }

    #[test]
    fn long_arrays_are_capped_and_non_arrays_refused() {
        let p: SubmitParams = serde_json::from_str("[1,2,3,4,5,6,7,8,9]").unwrap();
        assert_eq!(p.len(), 7);
        assert!(serde_json::from_str::<SubmitParams>(r#"{"a":1}"#).is_err());
    }
}

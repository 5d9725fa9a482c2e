//! `mining.submit`'s params: the borrowing parser (`SubmitParams`) against serde_json's own
//! `Value`, and each field's parser (job id, extranonce2, ntime, nonce, version bits)
//! against a plain reading of what the field must be.
//!
//! Checked: the same arrays are accepted, the same strings read at every position, and each
//! field accepted exactly when it is what the protocol says it is.

#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use stratumd::hex_util::parse_u32_be;
use stratumd::short_bytes::ShortBytes;
use stratumd::stratum::method::submit_params::SubmitParams;
use stratumd::work::JobId;

fn is_hex(s: &str) -> bool {
    s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// A job id is 1 to 16 hex digits.
fn job_id_reference(s: &str) -> Option<u64> {
    if s.is_empty() || s.len() > 16 || !is_hex(s) {
        return None;
    }
    Some(
        s.bytes()
            .fold(0u64, |n, b| (n << 4) | u64::from(hex_digit(b))),
    )
}

fn hex_digit(b: u8) -> u8 {
    match b {
        b'0'..=b'9' => b - b'0',
        b'a'..=b'f' => b - b'a' + 10,
        _ => b - b'A' + 10,
    }
}

/// A u32 field is exactly 8 hex digits, big-endian.
fn u32_reference(s: &str) -> Option<u32> {
    if s.len() != 8 || !is_hex(s) {
        return None;
    }
    Some(
        s.bytes()
            .fold(0u32, |n, b| (n << 4) | u32::from(hex_digit(b))),
    )
}

/// extranonce2 is exactly `len` bytes of hex.
fn nonce2_reference(s: &str, len: usize) -> Option<Vec<u8>> {
    if s.len() != 2 * len || !is_hex(s) {
        return None;
    }
    Some(
        s.as_bytes()
            .chunks(2)
            .map(|p| (hex_digit(p[0]) << 4) | hex_digit(p[1]))
            .collect(),
    )
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let ours = serde_json::from_str::<SubmitParams>(text);
    let theirs = serde_json::from_str::<Value>(text);
    match (&ours, &theirs) {
        (Ok(p), Ok(Value::Array(a))) => {
            assert_eq!(p.len(), a.len().min(7), "param count");
            for i in 0..8 {
                let want = a.get(i).filter(|_| i < 7).and_then(Value::as_str);
                assert_eq!(p.str(i).as_deref(), want, "param {i} as a string");
                let present = a.get(i).filter(|_| i < 7).is_some_and(|v| !v.is_null());
                assert_eq!(p.present(i), present, "param {i} present");
            }
        }
        (Err(_), Ok(Value::Array(a))) => panic!("refused an array serde_json reads: {a:?}"),
        (Ok(p), Ok(v)) => panic!("accepted {p:?} where serde_json reads {v:?}"),
        // serde_json's raw values skip over a string's escapes without checking them (a
        // lone surrogate): the array is kept, and such an element reads as no string.
        (Ok(p), Err(_)) => {
            for i in 0..8 {
                let _ = p.str(i);
            }
        }
        (Err(_), _) => {}
    }
    let Ok(p) = ours else {
        return;
    };
    for i in 0..p.len() {
        let Some(s) = p.str(i) else {
            continue;
        };
        assert_eq!(
            JobId::parse(&s).map(|j| j.0),
            job_id_reference(&s),
            "job id {s:?}"
        );
        assert_eq!(parse_u32_be(&s), u32_reference(&s), "u32 field {s:?}");
        for len in [0, 1, 4, 8, 16, 17] {
            let got = ShortBytes::<16>::from_hex_exact(&s, len).map(|b| b.as_slice().to_vec());
            let want = nonce2_reference(&s, len).filter(|_| len <= 16);
            assert_eq!(got, want, "extranonce2 {s:?} of {len} bytes");
        }
    }
});

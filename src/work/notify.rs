//! `mining.notify` serialized once per (job, payee): every miner on the same coinbase gets
//! the very same bytes.

use std::fmt::Write;

/// The fields of a notify, already in wire form.
pub struct NotifyFields<'a> {
    /// 16 hex digits.
    pub job_id: &'a str,
    /// Previous block hash in ckpool's word-swapped form.
    pub prevhash: &'a str,
    /// coinb1 bytes.
    pub coinb1: &'a [u8],
    /// coinb2 bytes.
    pub coinb2: &'a [u8],
    /// Merkle branch, internal byte order.
    pub branch: &'a [[u8; 32]],
    /// Header version.
    pub version: u32,
    /// Compact target.
    pub bits: u32,
    /// Job time.
    pub ntime: u32,
}

/// The full `mining.notify` line (with its newline) for `clean_jobs` = `clean`.
pub fn notify_line(f: &NotifyFields<'_>, clean: bool) -> String {
    let mut s = notify_head(f, f.coinb2.len());
    s.push_str(&hex::encode(f.coinb2));
    s.push_str(&notify_tail(f, clean));
    s
}

/// A notify line up to its coinb2's hex (`coinb2_len` bytes of it will follow): the part
/// every payee of a p2pool job shares, with the shared part of coinb2 appended.
pub fn notify_head(f: &NotifyFields<'_>, coinb2_len: usize) -> String {
    let mut s =
        String::with_capacity(160 + 2 * (f.coinb1.len() + coinb2_len) + 67 * f.branch.len());
    s.push_str("{\"id\":null,\"method\":\"mining.notify\",\"params\":[\"");
    s.push_str(f.job_id);
    s.push_str("\",\"");
    s.push_str(f.prevhash);
    s.push_str("\",\"");
    s.push_str(&hex::encode(f.coinb1));
    s.push_str("\",\"");
    s
}

/// A notify line after its coinb2's hex, with the newline.
pub fn notify_tail(f: &NotifyFields<'_>, clean: bool) -> String {
    let mut s = String::with_capacity(40 + 67 * f.branch.len());
    s.push_str("\",[");
    for (i, b) in f.branch.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        s.push('"');
        s.push_str(&hex::encode(b));
        s.push('"');
    }
    // Writing into a String cannot fail.
    let _ = writeln!(
        s,
        "],\"{:08x}\",\"{:08x}\",\"{:08x}\",{}]}}",
        f.version, f.bits, f.ntime, clean
    );
    s
}

/// ckpool's prevhash form: internal byte order with each 4-byte word byte-swapped.
pub fn prevhash_words_swapped(internal: &[u8; 32]) -> String {
    let mut swapped = [0u8; 32];
    for (dst, src) in swapped.chunks_mut(4).zip(internal.chunks(4)) {
        for i in 0..4 {
            dst[i] = src[3 - i];
        }
    }
    hex::encode(swapped)
}

#[cfg(test)]
mod tests {
    use super::*;
    use bitcoin::hashes::Hash;

    #[test]
    fn prevhash_of_captured_notify() {
        // gbt-notify/one-txn: previousblockhash 45f85fa6…aadbdeb0 → notify aadbdeb0…45f85fa6
        let prev: bitcoin::BlockHash =
            "45f85fa6e71b3d91c0cd7ddb1732c422aa0a34e9c9115a42c770ef1caadbdeb0"
                .parse()
                .unwrap();
        assert_eq!(
            prevhash_words_swapped(&prev.to_byte_array()),
            "aadbdeb0c770ef1cc9115a42aa0a34e91732c422c0cd7ddbe71b3d9145f85fa6"
        );
    }

    #[test]
    fn line_is_valid_json_with_nine_params() {
        let f = NotifyFields {
            job_id: "682fff4f0000001d",
            prevhash: "ab",
            coinb1: &[1, 2],
            coinb2: &[3],
            branch: &[[7u8; 32], [8u8; 32]],
            version: 0x2000_0000,
            bits: 0x207f_ffff,
            ntime: 0x6830_0286,
        };
        let line = notify_line(&f, true);
        assert!(line.ends_with('\n'));
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        let p = v["params"].as_array().unwrap();
        assert_eq!(p.len(), 9);
        assert_eq!(p[2], "0102");
        assert_eq!(p[4][1], "08".repeat(32));
        assert_eq!(p[5], "20000000");
        assert_eq!(p[6], "207fffff");
        assert_eq!(p[7], "68300286");
        assert_eq!(p[8], true);
        assert!(v["id"].is_null());
    }
}

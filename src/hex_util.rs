//! Small hex helpers for the stratum wire format, where u32 fields travel as 8 big-endian
//! hex digits and byte strings as plain lowercase hex.

/// Parses exactly 8 hex digits as a big-endian `u32` (stratum's ntime, nonce, version form).
pub fn parse_u32_be(s: &str) -> Option<u32> {
    // from_str_radix would also take a leading '+'.
    if s.len() != 8 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u32::from_str_radix(s, 16).ok()
}

/// Decodes hex of exactly `len` bytes into `out`, without allocating.
pub fn decode_exact(s: &str, out: &mut [u8]) -> bool {
    s.len() == out.len() * 2 && hex::decode_to_slice(s, out).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn u32_round_trip() {
        assert_eq!(parse_u32_be("6878b602"), Some(0x6878_b602));
        assert_eq!(parse_u32_be("6878b60"), None);
        assert_eq!(parse_u32_be("zzzzzzzz"), None);
        assert_eq!(parse_u32_be("+878b602"), None);
        assert_eq!(parse_u32_be("-878b602"), None);
    }

    #[test]
    fn decode_exact_checks_length() {
        let mut b = [0u8; 4];
        assert!(decode_exact("00112233", &mut b));
        assert_eq!(b, [0, 0x11, 0x22, 0x33]);
        assert!(!decode_exact("001122", &mut b));
        assert!(!decode_exact("0011223g", &mut b));
    }
}

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
}

//! Short byte strings held inline. Extranonces are at most a few bytes and are copied into
//! every share: holding them in a fixed array with a length costs no allocation, and the
//! length travels with the bytes, so a slice past the used part cannot be taken.

use std::fmt;
use std::ops::Deref;

/// Up to `N` bytes, stored inline.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct ShortBytes<const N: usize> {
    buf: [u8; N],
    len: u8,
}

impl<const N: usize> ShortBytes<N> {
    /// The bytes of `bytes`, or `None` when there are more than `N` of them.
    pub fn new(bytes: &[u8]) -> Option<Self> {
        if bytes.len() > N || bytes.len() > usize::from(u8::MAX) {
            return None;
        }
        let mut buf = [0u8; N];
        buf[..bytes.len()].copy_from_slice(bytes);
        Some(ShortBytes {
            buf,
            len: bytes.len() as u8,
        })
    }

    /// Decodes hex that must be exactly `len` bytes long (stratum's extranonce2 form);
    /// `None` for bad hex, another length, or `len` above `N`.
    pub fn from_hex_exact(hex_str: &str, len: usize) -> Option<Self> {
        if len > N || len > usize::from(u8::MAX) || hex_str.len() != 2 * len {
            return None;
        }
        let mut buf = [0u8; N];
        hex::decode_to_slice(hex_str, &mut buf[..len]).ok()?;
        Some(ShortBytes {
            buf,
            len: len as u8,
        })
    }

    /// The last `len` bytes of `bytes` (all of them when `len` is `N` or more): the
    /// big-endian form of a number held in its low `len` bytes.
    pub fn suffix_of(bytes: [u8; N], len: usize) -> Self {
        let len = len.min(N).min(usize::from(u8::MAX));
        let mut buf = [0u8; N];
        buf[..len].copy_from_slice(&bytes[N - len..]);
        ShortBytes {
            buf,
            len: len as u8,
        }
    }

    /// The bytes in use.
    pub fn as_slice(&self) -> &[u8] {
        &self.buf[..usize::from(self.len)]
    }
}

impl<const N: usize> Deref for ShortBytes<N> {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        self.as_slice()
    }
}

impl<const N: usize> fmt::Debug for ShortBytes<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", hex::encode(self.as_slice()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_exactly_the_bytes_given() {
        let b = ShortBytes::<8>::new(&[1, 2, 3]).unwrap();
        assert_eq!(b.as_slice(), &[1, 2, 3]);
        assert_eq!(b.len(), 3);
        assert_eq!(ShortBytes::<8>::new(&[]).unwrap().as_slice(), &[] as &[u8]);
        assert_eq!(ShortBytes::<8>::new(&[7; 8]).unwrap().as_slice(), &[7; 8]);
    }

    #[test]
    fn suffix_keeps_the_low_bytes_of_a_big_endian_number() {
        let n = 0x0102_0304_0506_0708u64.to_be_bytes();
        assert_eq!(ShortBytes::suffix_of(n, 3).as_slice(), &[6, 7, 8]);
        assert_eq!(ShortBytes::suffix_of(n, 8).as_slice(), &n);
        assert_eq!(ShortBytes::suffix_of(n, 9).as_slice(), &n);
        assert!(ShortBytes::suffix_of(n, 0).is_empty());
    }

    #[test]
    fn refuses_more_than_fits() {
        assert!(ShortBytes::<4>::new(&[0; 5]).is_none());
        assert!(ShortBytes::<4>::from_hex_exact("0011223344", 5).is_none());
    }

    #[test]
    fn hex_must_be_the_exact_length_and_valid() {
        let b = ShortBytes::<16>::from_hex_exact("00ff10ab", 4).unwrap();
        assert_eq!(b.as_slice(), &[0x00, 0xff, 0x10, 0xab]);
        assert!(ShortBytes::<16>::from_hex_exact("00ff10", 4).is_none());
        assert!(ShortBytes::<16>::from_hex_exact("00ff10abcd", 4).is_none());
        assert!(ShortBytes::<16>::from_hex_exact("00ff10zz", 4).is_none());
        assert!(ShortBytes::<16>::from_hex_exact("+0ff10ab", 4).is_none());
    }

    #[test]
    fn equal_bytes_are_equal_whatever_was_stored_before() {
        // Unused tail bytes are always zero, so derived equality compares the used part.
        let a = ShortBytes::<8>::new(&[1, 2]).unwrap();
        let b = ShortBytes::<8>::from_hex_exact("0102", 2).unwrap();
        assert_eq!(a, b);
        assert_ne!(a, ShortBytes::<8>::new(&[1, 2, 0]).unwrap());
    }
}

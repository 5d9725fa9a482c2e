//! SHA-256d, the hash of every coinbase, merkle node and header.
//!
//! Uses the `sha2` crate, which detects the CPU's SHA extensions at run time.

use sha2::{Digest, Sha256};

/// Double SHA-256 of `data`.
#[inline]
pub fn sha256d(data: &[u8]) -> [u8; 32] {
    let first = Sha256::digest(data);
    Sha256::digest(first).into()
}

/// Double SHA-256 of the concatenation `a || b` (a merkle tree node), without a buffer.
#[inline]
pub fn sha256d_pair(a: &[u8; 32], b: &[u8; 32]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(a);
    h.update(b);
    Sha256::digest(h.finalize()).into()
}

/// Double SHA-256 of `parts` hashed as one byte string, without concatenating them.
#[inline]
pub fn sha256d_parts(parts: &[&[u8]]) -> [u8; 32] {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p);
    }
    Sha256::digest(h.finalize()).into()
}

/// A hash as RPC and block explorers show it: bytes reversed, lowercase hex. Block hashes in
/// logs, archive names and the submitter's verdicts all use this form, so they match.
pub fn display_hex(hash: &[u8; 32]) -> String {
    let mut display = *hash;
    display.reverse();
    hex::encode(display)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_bitcoin_hashes() {
        use bitcoin::hashes::{sha256d, Hash};
        let data = b"stratumd share hash";
        assert_eq!(sha256d(data), sha256d::Hash::hash(data).to_byte_array());
        assert_eq!(sha256d_parts(&[&data[..5], &data[5..]]), sha256d(data));
        let a = [1u8; 32];
        let b = [2u8; 32];
        let mut ab = [0u8; 64];
        ab[..32].copy_from_slice(&a);
        ab[32..].copy_from_slice(&b);
        assert_eq!(sha256d_pair(&a, &b), sha256d(&ab));
    }
}

//! Double SHA-256 (`sha256d`), the hash used for block headers, transaction ids and merkle
//! nodes. Uses the `sha2` crate, which picks SHA-NI / ARMv8 instructions at runtime.

use sha2::{Digest, Sha256};

/// Hashes `data` twice with SHA-256, because Bitcoin's proof-of-work, txids and merkle nodes
/// are all defined over `sha256(sha256(data))`. The result is in internal byte order.
pub fn sha256d(data: &[u8]) -> [u8; 32] {
    let first = Sha256::digest(data);
    Sha256::digest(first).into()
}

/// Hashes the concatenation `left || right` with [`sha256d`], because that is one merkle
/// tree step (both halves in internal byte order).
pub fn sha256d_pair(left: &[u8; 32], right: &[u8; 32]) -> [u8; 32] {
    let mut buf = [0u8; 64];
    buf[..32].copy_from_slice(left);
    buf[32..].copy_from_slice(right);
    sha256d(&buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256d_of_empty_matches_known_value() {
        // Well-known: sha256d("") = 5df6e0e2761359d30a8275058e299fcc0381534545f55cf43e41983f5d4c9456
        assert_eq!(
            hex::encode(sha256d(b"")),
            "5df6e0e2761359d30a8275058e299fcc0381534545f55cf43e41983f5d4c9456"
        );
    }

    #[test]
    fn genesis_header_hash() {
        // Bitcoin mainnet genesis block header and its hash (display order reversed).
        let header = hex::decode(concat!(
            "01000000",
            "0000000000000000000000000000000000000000000000000000000000000000",
            "3ba3edfd7a7b12b27ac72c3e67768f617fc81bc3888a51323a9fb8aa4b1e5e4a",
            "29ab5f49",
            "ffff001d",
            "1dac2b7c"
        ))
        .unwrap();
        let mut h = sha256d(&header);
        h.reverse();
        assert_eq!(
            hex::encode(h),
            "000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f"
        );
    }
}

//! Targets and difficulties: the conversion between a hash, a 256-bit target and the
//! floating-point difficulty miners and pools speak in.

/// Difficulty 1's target as f64: 0xFFFF * 2^208.
pub const DIFF1_TARGET_F64: f64 =
    65535.0 * 411_376_139_330_301_510_538_742_295_639_337_626_245_683_966_408_394_965_837_152_256.0;

/// A hash interpreted as a little-endian 256-bit number, as a float (enough precision for
/// difficulty; exact comparisons against the network target use [`hash_meets_target`]).
#[inline]
pub fn hash_to_f64(hash_le: &[u8; 32]) -> f64 {
    let mut v = 0.0f64;
    for b in hash_le.iter().rev() {
        v = v * 256.0 + f64::from(*b);
    }
    v
}

/// The difficulty a hash achieves: diff1_target / hash (ckpool's `sdiff`).
#[inline]
pub fn difficulty_of_hash(hash_le: &[u8; 32]) -> f64 {
    let h = hash_to_f64(hash_le);
    if h == 0.0 {
        f64::INFINITY
    } else {
        DIFF1_TARGET_F64 / h
    }
}

/// Exact check `hash <= target`, both little-endian 256-bit numbers.
#[inline]
pub fn hash_meets_target(hash_le: &[u8; 32], target_le: &[u8; 32]) -> bool {
    for i in (0..32).rev() {
        if hash_le[i] != target_le[i] {
            return hash_le[i] < target_le[i];
        }
    }
    true
}

/// The network difficulty of a compact target (for logs, vardiff caps and ckpool's `diff`).
pub fn difficulty_of_target(target_le: &[u8; 32]) -> f64 {
    let t = hash_to_f64(target_le);
    if t == 0.0 {
        f64::INFINITY
    } else {
        DIFF1_TARGET_F64 / t
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bitcoin::pow::Target;

    #[test]
    fn diff1_constant_is_exact() {
        let diff1 = Target::MAX_ATTAINABLE_MAINNET.to_le_bytes();
        assert_eq!(hash_to_f64(&diff1), DIFF1_TARGET_F64);
        assert_eq!(difficulty_of_hash(&diff1), 1.0);
    }

    #[test]
    fn meets_target_is_numeric() {
        let mut t = [0u8; 32];
        t[31] = 0x10;
        let mut h = [0xffu8; 32];
        h[31] = 0x0f;
        assert!(hash_meets_target(&h, &t));
        h[31] = 0x10;
        assert!(!hash_meets_target(&h, &t));
        assert!(hash_meets_target(&t, &t));
    }

    #[test]
    fn difficulty_of_bits_matches_rust_bitcoin() {
        let bits = bitcoin::CompactTarget::from_consensus(0x1e0377ae);
        let target = Target::from_compact(bits);
        let d = difficulty_of_target(&target.to_le_bytes());
        let expected = target.difficulty_float();
        assert!((d - expected).abs() / expected < 1e-12, "{d} vs {expected}");
    }
}

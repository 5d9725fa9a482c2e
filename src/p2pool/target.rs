//! Share targets as the chain spec and shares write them: compact bits (8 hex digits, as
//! `getblocktemplate`'s `bits`) and the 256-bit targets they stand for. A leaf of `p2pool`.

use bitcoin::CompactTarget;
use ruint::aliases::U256;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A compact target as a spec writes it: 8 hex digits, as `getblocktemplate`'s `bits`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bits(pub u32);

impl Bits {
    /// As rust-bitcoin's compact target.
    pub fn compact(self) -> CompactTarget {
        CompactTarget::from_consensus(self.0)
    }
}

impl Serialize for Bits {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format!("{:08x}", self.0))
    }
}

impl<'de> Deserialize<'de> for Bits {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        crate::hex_util::parse_u32_be(&s)
            .map(Bits)
            .ok_or_else(|| serde::de::Error::custom(format!("`{s}` is not 8 hex digits")))
    }
}

/// The target of compact bits; `None` for a zero, negative or overflowing value (never a
/// valid share target).
pub fn target_of(bits: Bits) -> Option<U256> {
    let exponent = bits.0 >> 24;
    let mantissa = bits.0 & 0x007f_ffff;
    if bits.0 & 0x0080_0000 != 0 || mantissa == 0 {
        return None;
    }
    let m = U256::from(mantissa);
    if exponent <= 3 {
        let t = m >> (8 * (3 - exponent) as usize);
        return (t != U256::ZERO).then_some(t);
    }
    let shift = 8 * (exponent as usize - 3);
    // bitcoind's overflow: the value needs more than 256 bits.
    if m.bit_len() + shift > 256 {
        return None;
    }
    Some(m << shift)
}

/// The compact form of `target`, rounding down as bitcoind's `GetCompact` does.
pub fn bits_of(target: U256) -> Bits {
    let bytes = target.byte_len() as u32;
    let mut mantissa: u32 = if bytes <= 3 {
        (target.to::<u64>() << (8 * (3 - bytes))) as u32
    } else {
        (target >> (8 * (bytes as usize - 3))).to::<u64>() as u32
    };
    let mut exponent = bytes;
    // The sign bit must stay clear.
    if mantissa & 0x0080_0000 != 0 {
        mantissa >>= 8;
        exponent += 1;
    }
    Bits((exponent << 24) | mantissa)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compact_targets_decode_as_bitcoind_does() {
        for bits in [
            0x1d00_ffffu32,
            0x1b00_ffff,
            0x207f_ffff,
            0x1f00_ffff,
            0x1703_a30c,
            0x0101_0000,
        ] {
            let ours = target_of(Bits(bits)).unwrap();
            let theirs =
                bitcoin::pow::Target::from_compact(bitcoin::CompactTarget::from_consensus(bits));
            assert_eq!(ours.to_le_bytes::<32>(), theirs.to_le_bytes(), "{bits:08x}");
            assert_eq!(bits_of(ours), Bits(bits), "{bits:08x} round trip");
        }
        // A non-canonical form decodes to the same target as the canonical one.
        assert_eq!(target_of(Bits(0x0300_0001)), target_of(Bits(0x0101_0000)));
        for bad in [0u32, 0x1d80_ffff, 0x2200_ffff, 0x0200_0001] {
            assert_eq!(target_of(Bits(bad)), None, "{bad:08x}");
        }
    }
}

//! A share on the chain: the bitcoin header a miner found, and what a validator needs to
//! check it without the block's transactions: the coinbase without its outputs (they
//! follow from the parent's PPLNS window and are recomputed), the coinbase's merkle branch,
//! and the share's metadata. The metadata's hash is committed in the coinbase (an
//! `OP_RETURN` output), so the header's proof of work binds it: a share cannot be moved to
//! another parent, another chain or another payout script after it was mined.
//!
//! The coinbase of a share is, in order: version 1, one input (null prevout, the carried
//! scriptSig, sequence `ffffffff`), the PPLNS payout outputs, the commitment output, the
//! witness commitment (when the template had one), locktime 0.
//!
//! Wire form (little-endian integers, length-prefixed lists): header (80) | scriptSig
//! (u8 length) | coinbase value (u64) | witness commitment (u8 length, 0 = none) | merkle
//! branch (u8 count × 32) | metadata. Under 1 KiB for any window: the outputs are not sent.

use std::fmt;

use bitcoin::block::Header;
use bitcoin::consensus::{deserialize, serialize};
use bitcoin::hashes::{sha256d, Hash};
use bitcoin::ScriptBuf;
use ruint::aliases::U256;

use super::spec::ChainId;
use super::target::Bits;
use crate::pow::hash::display_hex;

/// Most bytes a share may take on the wire.
pub const MAX_SHARE_BYTES: usize = 2048;
/// Most merkle branch hashes (a block of 2^16 transactions needs 16).
pub const MAX_BRANCH: usize = 16;
/// Most uncles the wire form carries (the spec's cap is checked by validation).
pub const MAX_UNCLES_WIRE: usize = 16;
/// Longest payout script (standard scripts are at most 34 bytes).
pub const MAX_PAYOUT_SCRIPT: usize = 80;
/// Longest coinbase scriptSig (bitcoind's limit).
pub const MAX_SCRIPT_SIG: usize = 100;
/// Longest witness commitment script.
pub const MAX_WITNESS_COMMITMENT: usize = 80;

/// Tag of the commitment output's data: `p2ps` and the metadata hash.
pub const COMMITMENT_MAGIC: &[u8; 4] = b"p2ps";
/// Domain of the metadata hash.
const META_DOMAIN: &[u8] = b"stratumd share metadata";

/// A share's id: its header's hash (internal byte order), which is also its proof of work.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ShareId(pub [u8; 32]);

impl ShareId {
    /// The genesis of a chain: the parent of its first shares. It is the chain id, which
    /// no share's header hash can be.
    pub fn genesis(chain: ChainId) -> ShareId {
        ShareId(chain.0)
    }
}

impl fmt::Display for ShareId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&display_hex(&self.0))
    }
}

/// What a share says of itself on the chain, committed in its coinbase.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShareMeta {
    /// The chain it is on.
    pub chain: ChainId,
    /// The share it builds on ([`ShareId::genesis`] for a first share).
    pub parent: ShareId,
    /// Shares of other branches it credits, ascending.
    pub uncles: Vec<ShareId>,
    /// Where its miner is paid.
    pub payout_script: ScriptBuf,
    /// Its share target.
    pub share_bits: Bits,
    /// sha256d of the serialized payout outputs of its coinbase (count and outputs, before
    /// the commitment), so a wrong payout is told from a wrong commitment.
    pub outputs_hash: [u8; 32],
}

impl ShareMeta {
    /// The canonical encoding (also the metadata part of the wire form).
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.chain.0);
        out.extend_from_slice(&self.parent.0);
        out.push(self.uncles.len() as u8);
        for u in &self.uncles {
            out.extend_from_slice(&u.0);
        }
        out.push(self.payout_script.len() as u8);
        out.extend_from_slice(self.payout_script.as_bytes());
        out.extend_from_slice(&self.share_bits.0.to_le_bytes());
        out.extend_from_slice(&self.outputs_hash);
    }

    /// The hash committed in the coinbase.
    pub fn commitment(&self) -> [u8; 32] {
        let mut bytes = Vec::with_capacity(160);
        bytes.extend_from_slice(META_DOMAIN);
        self.encode(&mut bytes);
        sha256d::Hash::hash(&bytes).to_byte_array()
    }

    /// The commitment output's script: `OP_RETURN <"p2ps" ‖ commitment>`.
    pub fn commitment_script(&self) -> ScriptBuf {
        commitment_script(&self.commitment())
    }
}

/// The commitment output's script for a metadata hash.
pub fn commitment_script(commitment: &[u8; 32]) -> ScriptBuf {
    let mut data = [0u8; 36];
    data[..4].copy_from_slice(COMMITMENT_MAGIC);
    data[4..].copy_from_slice(commitment);
    ScriptBuf::new_op_return(data)
}

/// sha256d of serialized payout outputs (count, then each output), as
/// [`ShareMeta::outputs_hash`] holds it.
pub fn outputs_hash(outputs: &[(ScriptBuf, u64)]) -> [u8; 32] {
    sha256d::Hash::hash(&serialize_outputs(outputs, None, None)).to_byte_array()
}

/// Serialized outputs: count, the payouts, then the commitment and witness commitment
/// outputs (value 0) when given.
fn serialize_outputs(
    outputs: &[(ScriptBuf, u64)],
    commitment: Option<&ScriptBuf>,
    witness: Option<&ScriptBuf>,
) -> Vec<u8> {
    let extra: Vec<&ScriptBuf> = commitment.into_iter().chain(witness).collect();
    let all: Vec<(ScriptBuf, u64)> = outputs
        .iter()
        .cloned()
        .chain(extra.into_iter().map(|s| (s.clone(), 0)))
        .collect();
    let txouts: Vec<bitcoin::TxOut> = all
        .into_iter()
        .map(|(script_pubkey, v)| bitcoin::TxOut {
            value: bitcoin::Amount::from_sat(v),
            script_pubkey,
        })
        .collect();
    serialize(&txouts)
}

/// A share as it travels and is stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Share {
    /// The bitcoin header (its hash is the share's id and proof of work).
    pub header: Header,
    /// The coinbase input's scriptSig (height, extranonces, tags).
    pub script_sig: Vec<u8>,
    /// What the coinbase pays out in all (the block's subsidy and fees).
    pub coinbase_value: u64,
    /// The template's witness commitment output script, when it had one.
    pub witness_commitment: Option<ScriptBuf>,
    /// The coinbase's merkle branch, internal byte order.
    pub merkle_branch: Vec<[u8; 32]>,
    /// The metadata.
    pub meta: ShareMeta,
}

/// Why bytes are not a share.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// More than [`MAX_SHARE_BYTES`].
    #[error("share of {0} bytes is over {MAX_SHARE_BYTES}")]
    Oversize(usize),
    /// The bytes end early, or a length is over its limit.
    #[error("malformed share: {0}")]
    Malformed(&'static str),
    /// Bytes are left after the share.
    #[error("{0} bytes after the share")]
    Trailing(usize),
}

/// Reads the wire form, each length checked against its limit.
struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], DecodeError> {
        if self.bytes.len() < n {
            return Err(DecodeError::Malformed(what));
        }
        let (head, rest) = self.bytes.split_at(n);
        self.bytes = rest;
        Ok(head)
    }

    fn u8(&mut self, what: &'static str) -> Result<usize, DecodeError> {
        Ok(self.take(1, what)?[0] as usize)
    }

    fn array32(&mut self, what: &'static str) -> Result<[u8; 32], DecodeError> {
        let mut a = [0u8; 32];
        a.copy_from_slice(self.take(32, what)?);
        Ok(a)
    }

    fn limited(&mut self, max: usize, what: &'static str) -> Result<&'a [u8], DecodeError> {
        let n = self.u8(what)?;
        if n > max {
            return Err(DecodeError::Malformed(what));
        }
        self.take(n, what)
    }
}

impl Share {
    /// Whether every length fits the wire form's bounds (a share made here, not decoded,
    /// must also be one every peer can decode).
    pub fn check_bounds(&self) -> Result<(), DecodeError> {
        let too = |what| Err(DecodeError::Malformed(what));
        if self.script_sig.len() > MAX_SCRIPT_SIG {
            return too("scriptSig");
        }
        if self
            .witness_commitment
            .as_ref()
            .is_some_and(|w| w.is_empty() || w.len() > MAX_WITNESS_COMMITMENT)
        {
            return too("witness commitment");
        }
        if self.merkle_branch.len() > MAX_BRANCH {
            return too("merkle branch");
        }
        if self.meta.uncles.len() > MAX_UNCLES_WIRE {
            return too("uncles");
        }
        if self.meta.payout_script.len() > MAX_PAYOUT_SCRIPT {
            return too("payout script");
        }
        Ok(())
    }

    /// The share's id.
    pub fn id(&self) -> ShareId {
        ShareId(self.header.block_hash().to_byte_array())
    }

    /// The wire form (of a share within [`Share::check_bounds`]: the chain keeps no other).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(512);
        out.extend_from_slice(&serialize(&self.header));
        out.push(self.script_sig.len() as u8);
        out.extend_from_slice(&self.script_sig);
        out.extend_from_slice(&self.coinbase_value.to_le_bytes());
        match &self.witness_commitment {
            Some(w) => {
                out.push(w.len() as u8);
                out.extend_from_slice(w.as_bytes());
            }
            None => out.push(0),
        }
        out.push(self.merkle_branch.len() as u8);
        for h in &self.merkle_branch {
            out.extend_from_slice(h);
        }
        self.meta.encode(&mut out);
        out
    }

    /// Reads the wire form; every length is bounded, and the whole under
    /// [`MAX_SHARE_BYTES`].
    pub fn decode(bytes: &[u8]) -> Result<Share, DecodeError> {
        if bytes.len() > MAX_SHARE_BYTES {
            return Err(DecodeError::Oversize(bytes.len()));
        }
        let mut r = Reader { bytes };
        let header: Header =
            deserialize(r.take(80, "header")?).map_err(|_| DecodeError::Malformed("header"))?;
        let script_sig = r.limited(MAX_SCRIPT_SIG, "scriptSig")?.to_vec();
        let mut value = [0u8; 8];
        value.copy_from_slice(r.take(8, "coinbase value")?);
        let witness = r.limited(MAX_WITNESS_COMMITMENT, "witness commitment")?;
        let witness_commitment =
            (!witness.is_empty()).then(|| ScriptBuf::from_bytes(witness.to_vec()));
        let branch_len = r.u8("merkle branch")?;
        if branch_len > MAX_BRANCH {
            return Err(DecodeError::Malformed("merkle branch"));
        }
        let mut merkle_branch = Vec::with_capacity(branch_len);
        for _ in 0..branch_len {
            merkle_branch.push(r.array32("merkle branch")?);
        }
        let chain = ChainId(r.array32("chain id")?);
        let parent = ShareId(r.array32("parent")?);
        let uncle_count = r.u8("uncles")?;
        if uncle_count > MAX_UNCLES_WIRE {
            return Err(DecodeError::Malformed("uncles"));
        }
        let mut uncles = Vec::with_capacity(uncle_count);
        for _ in 0..uncle_count {
            uncles.push(ShareId(r.array32("uncles")?));
        }
        let payout_script =
            ScriptBuf::from_bytes(r.limited(MAX_PAYOUT_SCRIPT, "payout script")?.to_vec());
        let mut bits = [0u8; 4];
        bits.copy_from_slice(r.take(4, "share bits")?);
        let outputs_hash = r.array32("outputs hash")?;
        if !r.bytes.is_empty() {
            return Err(DecodeError::Trailing(r.bytes.len()));
        }
        Ok(Share {
            header,
            script_sig,
            coinbase_value: u64::from_le_bytes(value),
            witness_commitment,
            merkle_branch,
            meta: ShareMeta {
                chain,
                parent,
                uncles,
                payout_script,
                share_bits: Bits(u32::from_le_bytes(bits)),
                outputs_hash,
            },
        })
    }

    /// The coinbase (serialized without witness, as its txid hashes it) paying `outputs`.
    pub fn coinbase(&self, outputs: &[(ScriptBuf, u64)]) -> Vec<u8> {
        let mut tx = Vec::with_capacity(64 + self.script_sig.len() + outputs.len() * 44);
        tx.extend_from_slice(&1u32.to_le_bytes());
        tx.push(1);
        tx.extend_from_slice(&[0u8; 32]);
        tx.extend_from_slice(&[0xff; 4]);
        tx.push(self.script_sig.len() as u8);
        tx.extend_from_slice(&self.script_sig);
        tx.extend_from_slice(&[0xff; 4]);
        tx.extend(serialize_outputs(
            outputs,
            Some(&self.meta.commitment_script()),
            self.witness_commitment.as_ref(),
        ));
        tx.extend_from_slice(&0u32.to_le_bytes());
        tx
    }

    /// The merkle root the header must hold for a coinbase paying `outputs`.
    pub fn merkle_root_for(&self, outputs: &[(ScriptBuf, u64)]) -> [u8; 32] {
        let txid = sha256d::Hash::hash(&self.coinbase(outputs)).to_byte_array();
        crate::pow::merkle::root_from_branch(txid, &self.merkle_branch)
    }

    /// The bitcoin height its coinbase's scriptSig starts with (BIP34), if it reads.
    pub fn bitcoin_height(&self) -> Option<u64> {
        let s = &self.script_sig;
        let first = *s.first()?;
        match first {
            0x51..=0x60 => Some(u64::from(first - 0x50)),
            1..=8 => {
                let bytes = s.get(1..1 + first as usize)?;
                Some(
                    bytes
                        .iter()
                        .rev()
                        .fold(0u64, |acc, b| (acc << 8) | u64::from(*b)),
                )
            }
            _ => None,
        }
    }
}

/// The work a target stands for, `2^256 / (target + 1)`, saturating at `u128::MAX` (a
/// share of that work would be a hash of at most 2^128: none will be found).
pub fn work_of(target: U256) -> u128 {
    if target == U256::MAX {
        return 1;
    }
    if target == U256::ZERO {
        return u128::MAX;
    }
    // 2^256 / (t + 1) = (2^256 − 1 − t) / (t + 1) + 1, all within 256 bits.
    let w = (U256::MAX - target) / (target + U256::from(1u8)) + U256::from(1u8);
    if w.bit_len() > 128 {
        u128::MAX
    } else {
        w.to::<u128>()
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::p2pool::spec::ChainSpec;

    pub(crate) fn sample() -> Share {
        let spec = ChainSpec::preset("regtest").unwrap();
        Share {
            header: Header {
                version: bitcoin::block::Version::from_consensus(0x2000_0000),
                prev_blockhash: bitcoin::BlockHash::from_byte_array([3; 32]),
                merkle_root: bitcoin::TxMerkleNode::from_byte_array([4; 32]),
                time: 1_796_083_300,
                bits: bitcoin::CompactTarget::from_consensus(0x207f_ffff),
                nonce: 7,
            },
            script_sig: vec![0x02, 0xe8, 0x03, 0x08, 1, 2, 3, 4, 5, 6, 7, 8],
            coinbase_value: 5_000_000_000,
            witness_commitment: Some(ScriptBuf::from_bytes(vec![0x6a; 38])),
            merkle_branch: vec![[9; 32]; 12],
            meta: ShareMeta {
                chain: spec.id(),
                parent: ShareId([1; 32]),
                uncles: vec![ShareId([5; 32]), ShareId([6; 32]), ShareId([7; 32])],
                payout_script: ScriptBuf::from_bytes(vec![0x51; 34]),
                share_bits: Bits(0x207f_ffff),
                outputs_hash: [8; 32],
            },
        }
    }

    #[test]
    fn the_wire_form_round_trips_and_stays_small() {
        let share = sample();
        let bytes = share.encode();
        assert_eq!(Share::decode(&bytes).unwrap(), share);
        // 12 merkle levels, 3 uncles, a 34-byte script: well under 2 KiB, whatever the
        // window (outputs are not sent).
        assert!(bytes.len() < 1024, "{} bytes", bytes.len());
        let no_witness = Share {
            witness_commitment: None,
            ..share
        };
        assert_eq!(Share::decode(&no_witness.encode()).unwrap(), no_witness);
    }

    #[test]
    fn malformed_bytes_are_refused_with_a_reason() {
        let bytes = sample().encode();
        assert_eq!(
            Share::decode(&vec![0u8; MAX_SHARE_BYTES + 1]),
            Err(DecodeError::Oversize(MAX_SHARE_BYTES + 1))
        );
        for cut in [0, 79, 85, bytes.len() - 1] {
            assert!(matches!(
                Share::decode(&bytes[..cut]),
                Err(DecodeError::Malformed(_))
            ));
        }
        let mut long = bytes.clone();
        long.push(0);
        assert_eq!(Share::decode(&long), Err(DecodeError::Trailing(1)));
        // A scriptSig length past bitcoind's 100.
        let mut big = bytes.clone();
        big[80] = 101;
        assert_eq!(
            Share::decode(&big),
            Err(DecodeError::Malformed("scriptSig"))
        );
    }

    #[test]
    fn the_coinbase_is_a_transaction_rust_bitcoin_reads() {
        let share = sample();
        let outputs = vec![
            (ScriptBuf::from_bytes(vec![0x51; 22]), 4_000_000_000),
            (ScriptBuf::from_bytes(vec![0x52; 22]), 1_000_000_000),
        ];
        let bytes = share.coinbase(&outputs);
        let tx: bitcoin::Transaction = deserialize(&bytes).unwrap();
        assert!(tx.is_coinbase());
        assert_eq!(tx.output.len(), 4);
        assert_eq!(tx.output[2].script_pubkey, share.meta.commitment_script());
        assert_eq!(
            Some(&tx.output[3].script_pubkey),
            share.witness_commitment.as_ref()
        );
        assert_eq!(
            tx.compute_txid().to_byte_array(),
            sha256d::Hash::hash(&bytes).to_byte_array()
        );
        assert_eq!(share.bitcoin_height(), Some(1000));
    }

    #[test]
    fn the_commitment_binds_every_metadata_field() {
        let share = sample();
        let base = share.meta.commitment();
        let mut variants = Vec::new();
        let m = &share.meta;
        variants.push(ShareMeta {
            chain: ChainId([0; 32]),
            ..m.clone()
        });
        variants.push(ShareMeta {
            parent: ShareId([2; 32]),
            ..m.clone()
        });
        variants.push(ShareMeta {
            uncles: vec![],
            ..m.clone()
        });
        variants.push(ShareMeta {
            payout_script: ScriptBuf::new(),
            ..m.clone()
        });
        variants.push(ShareMeta {
            share_bits: Bits(0x1d00_ffff),
            ..m.clone()
        });
        variants.push(ShareMeta {
            outputs_hash: [0; 32],
            ..m.clone()
        });
        for v in variants {
            assert_ne!(v.commitment(), base, "{v:?}");
        }
    }

    #[test]
    fn work_is_two_to_the_256_over_the_target_plus_one() {
        assert_eq!(work_of(U256::MAX), 1);
        // Difficulty 1's target: work 2^32 / 0xffff × ... = 4295032833 (bitcoind's value).
        let diff1 = crate::p2pool::target::target_of(Bits(0x1d00_ffff)).unwrap();
        assert_eq!(work_of(diff1), 4_295_032_833);
        assert_eq!(work_of(U256::from(1u8) << 200), (1u128 << 56) - 1);
        assert_eq!(work_of(U256::ZERO), u128::MAX, "saturates");
    }
}

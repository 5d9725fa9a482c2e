//! The coinbase transaction, split around the extranonce into coinb1 and coinb2 in
//! ckpool's layout (so ckpool consumers see the same bytes):
//!
//! coinb1 = version 1 | 1 input | null prevout | scriptSig length | BIP34 height push |
//!          coinbaseaux flags push | ntime seconds push | nanoseconds push |
//!          push opcode covering extranonce1 + extranonce2
//! coinb2 = `0a "ckpool"` tag | btcsig length | btcsig | sequence ffffffff | outputs |
//!          locktime 0

use bitcoin::consensus::Encodable;
use bitcoin::{Amount, ScriptBuf, TxOut, VarInt};

/// The longest `btcsig` ckpool allows.
pub const MAX_BTCSIG_LEN: usize = 38;
/// bitcoind's limit on a coinbase scriptSig.
pub const MAX_SCRIPTSIG_LEN: usize = 100;

/// ckpool's fixed tag at the start of coinb2 (a push-10 opcode and "ckpool").
const CKPOOL_TAG: &[u8] = b"\x0ackpool";

/// Coinbases that cannot be built.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum CoinbaseError {
    /// The scriptSig would exceed bitcoind's 100 bytes.
    #[error("coinbase scriptSig would be {0} bytes, over bitcoind's 100")]
    ScriptSigTooLong(usize),
}

/// What goes into every coinbase's scriptSig.
#[derive(Debug, Clone)]
pub struct ScriptSigParts<'a> {
    /// Block height (BIP34).
    pub height: u32,
    /// `coinbaseaux.flags` from the template.
    pub flags: &'a [u8],
    /// Seconds pushed for uniqueness across restarts (ckpool pushes the wall clock).
    pub time_secs: u32,
    /// Nanoseconds pushed beside them.
    pub time_nanos: u32,
    /// extranonce1 + extranonce2 bytes.
    pub extranonce_len: usize,
    /// The operator's tag (`btcsig`), at most 38 bytes.
    pub btcsig: &'a [u8],
}

/// Pushes a number the way ckpool's `ser_number` does: length byte, then the minimal
/// little-endian script number.
fn push_number(out: &mut Vec<u8>, n: u32) {
    let mut bytes = Vec::with_capacity(5);
    let mut v = n;
    while v > 0 {
        bytes.push((v & 0xff) as u8);
        v >>= 8;
    }
    if bytes.last().is_some_and(|b| b & 0x80 != 0) {
        bytes.push(0);
    }
    out.push(bytes.len() as u8);
    out.extend_from_slice(&bytes);
}

/// The height push bitcoind requires (BIP34, `CScript() << height`): OP_1..OP_16 for
/// heights up to 16, a minimal number push above.
fn push_height(out: &mut Vec<u8>, height: u32) {
    match height {
        0 => out.push(0x00),
        1..=16 => out.push(0x50 + height as u8),
        _ => push_number(out, height),
    }
}

/// A data push of up to 75 bytes (direct push opcode).
fn push_data(out: &mut Vec<u8>, data: &[u8]) {
    out.push(data.len() as u8);
    out.extend_from_slice(data);
}

/// Builds coinb1 and the scriptSig tail + sequence that starts coinb2.
pub fn build_coinb1_and_tail(p: &ScriptSigParts<'_>) -> Result<(Vec<u8>, Vec<u8>), CoinbaseError> {
    let mut script_head = Vec::with_capacity(32);
    push_height(&mut script_head, p.height);
    push_data(&mut script_head, p.flags);
    push_number(&mut script_head, p.time_secs);
    push_number(&mut script_head, p.time_nanos);
    script_head.push(p.extranonce_len as u8);

    let btcsig = &p.btcsig[..p.btcsig.len().min(MAX_BTCSIG_LEN)];
    let mut tail = Vec::with_capacity(CKPOOL_TAG.len() + 1 + btcsig.len() + 4);
    tail.extend_from_slice(CKPOOL_TAG);
    if !btcsig.is_empty() {
        push_data(&mut tail, btcsig);
    }
    let script_len = script_head.len() + p.extranonce_len + tail.len();
    if script_len > MAX_SCRIPTSIG_LEN || p.flags.len() > 75 {
        return Err(CoinbaseError::ScriptSigTooLong(script_len));
    }
    tail.extend_from_slice(&[0xff; 4]); // sequence

    let mut coinb1 = Vec::with_capacity(42 + script_head.len());
    coinb1.extend_from_slice(&1u32.to_le_bytes()); // tx version 1, as ckpool
    coinb1.push(1); // one input
    coinb1.extend_from_slice(&[0u8; 32]);
    coinb1.extend_from_slice(&[0xff; 4]); // prevout index
    coinb1.push(script_len as u8); // < 0xfd, so a one-byte varint
    coinb1.extend_from_slice(&script_head);
    Ok((coinb1, tail))
}

/// Serializes the outputs and locktime that end coinb2.
pub fn outputs_and_locktime(
    outputs: &[(ScriptBuf, u64)],
    commitment: Option<&ScriptBuf>,
) -> Vec<u8> {
    let count = outputs.len() + usize::from(commitment.is_some());
    let mut out = Vec::with_capacity(count * 44 + 13);
    let write = |out: &mut Vec<u8>, script: &ScriptBuf, value: u64| {
        let txout = TxOut {
            value: Amount::from_sat(value),
            script_pubkey: script.clone(),
        };
        // Writing into a Vec cannot fail.
        let _ = txout.consensus_encode(out);
    };
    let _ = VarInt(count as u64).consensus_encode(&mut out);
    for (script, value) in outputs {
        write(&mut out, script, *value);
    }
    if let Some(c) = commitment {
        write(&mut out, c, 0);
    }
    out.extend_from_slice(&0u32.to_le_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ckpool_coinb1_of_captured_notify() {
        // gbt-notify/one-txn, height 505, ckpool's coinb1 with its time pushes
        // 0x68300286 s and 0x0bb099d2 ns and an 12-byte extranonce.
        let parts = ScriptSigParts {
            height: 505,
            flags: &[],
            time_secs: 0x6830_0286,
            time_nanos: 0x0bb0_99d2,
            extranonce_len: 12,
            btcsig: b"/p2poolv2/",
        };
        let (coinb1, tail) = build_coinb1_and_tail(&parts).unwrap();
        assert_eq!(
            hex::encode(coinb1),
            "01000000010000000000000000000000000000000000000000000000000000000000000000ffffffff2d02f90100048602306804d299b00b0c"
        );
        assert_eq!(
            hex::encode(tail),
            "0a636b706f6f6c0a2f7032706f6f6c76322fffffffff"
        );
    }

    #[test]
    fn bip34_small_heights_use_op_n() {
        let mut v = Vec::new();
        push_height(&mut v, 16);
        assert_eq!(v, [0x60]);
        v.clear();
        push_height(&mut v, 17);
        assert_eq!(v, [0x01, 0x11]);
        v.clear();
        push_height(&mut v, 128);
        assert_eq!(v, [0x02, 0x80, 0x00]);
        // Independent: rust-bitcoin's script builder gives bitcoind's encoding.
        for h in [1u32, 16, 17, 127, 128, 255, 256, 65535, 840_000] {
            let mut ours = Vec::new();
            push_height(&mut ours, h);
            let theirs = bitcoin::script::Builder::new()
                .push_int(i64::from(h))
                .into_script();
            assert_eq!(ours, theirs.as_bytes(), "height {h}");
        }
    }

    #[test]
    fn long_btcsig_is_truncated_and_length_checked() {
        let sig = [b'x'; 60];
        let parts = ScriptSigParts {
            height: 840_000,
            flags: &[],
            time_secs: 1,
            time_nanos: 1,
            extranonce_len: 16,
            btcsig: &sig,
        };
        let (_, tail) = build_coinb1_and_tail(&parts).unwrap();
        assert_eq!(tail.len(), 7 + 1 + MAX_BTCSIG_LEN + 4);
        let flags = [0u8; 60];
        let too_long = ScriptSigParts {
            flags: &flags,
            ..parts
        };
        assert!(build_coinb1_and_tail(&too_long).is_err());
    }
}

//! Which output scripts the chain pays. A leaf of `p2pool`.

use bitcoin::ScriptBuf;

/// A payout script the chain pays: P2PKH, P2SH or a witness program (versions 0 to 16),
/// bitcoind's standard outputs: no sigops beyond a P2PKH's (a payout of bare
/// `OP_CHECKMULTISIG`s could push a block past bitcoind's sigop limit), nothing
/// unspendable, nothing that looks like a witness commitment.
pub fn standard_payout(script: &ScriptBuf) -> bool {
    script.is_p2pkh() || script.is_p2sh() || script.is_witness_program()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standard_outputs_only() {
        let wpkh = ScriptBuf::new_p2wpkh(&bitcoin::WPubkeyHash::from_byte_array([1; 20]));
        assert!(standard_payout(&wpkh));
        assert!(standard_payout(&ScriptBuf::new_p2pkh(
            &bitcoin::PubkeyHash::from_byte_array([2; 20])
        )));
        assert!(!standard_payout(&ScriptBuf::from_bytes(vec![0xae; 80])));
        assert!(!standard_payout(&ScriptBuf::new_op_return([0u8; 36])));
        assert!(!standard_payout(&ScriptBuf::new()));
    }

    use bitcoin::hashes::Hash;
}

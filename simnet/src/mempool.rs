//! The synthetic mempool: segwit transactions spending fake outpoints, each with a recorded fee.

use std::collections::HashMap;

use bitcoin::hashes::Hash;
use bitcoin::secp256k1::rand::{thread_rng, Rng, RngCore};
use bitcoin::{
    absolute, transaction, Amount, OutPoint, ScriptBuf, Sequence, Transaction, TxIn, TxOut, Txid,
    WPubkeyHash, Witness,
};

/// One mempool transaction and the fee simnet pretends it pays.
#[derive(Clone, Debug)]
pub(crate) struct MempoolTx {
    /// The transaction.
    pub(crate) tx: Transaction,
    /// Its txid (cached).
    pub(crate) txid: Txid,
    /// The fee it pays (its inputs are fake, so the fee is simply recorded).
    pub(crate) fee: Amount,
}

/// The mempool, kept at a fixed size.
pub(crate) struct Mempool {
    entries: Vec<MempoolTx>,
    by_txid: HashMap<Txid, usize>,
    target_size: usize,
}

impl Mempool {
    /// A mempool filled with `target_size` synthetic transactions.
    pub(crate) fn new(target_size: usize) -> Self {
        let mut pool = Mempool {
            entries: Vec::new(),
            by_txid: HashMap::new(),
            target_size,
        };
        pool.refill();
        pool
    }

    /// All transactions, in template order.
    pub(crate) fn entries(&self) -> &[MempoolTx] {
        &self.entries
    }

    /// A transaction by txid.
    pub(crate) fn get(&self, txid: &Txid) -> Option<&MempoolTx> {
        self.by_txid.get(txid).and_then(|&i| self.entries.get(i))
    }

    /// Removes the given transactions (they were mined) and tops the pool up with fresh ones.
    pub(crate) fn remove_and_refill(&mut self, mined: &[Txid]) {
        self.entries.retain(|e| !mined.contains(&e.txid));
        self.refill();
    }

    /// Adds a transaction sent with `sendrawtransaction` (its inputs are not looked up; it pays no fee).
    ///
    /// Returns `None` when it spends an outpoint another mempool transaction spends.
    pub(crate) fn insert(&mut self, tx: Transaction) -> Option<Txid> {
        let txid = tx.compute_txid();
        if self.get(&txid).is_some() {
            return Some(txid);
        }
        let conflict = self.entries.iter().any(|e| {
            e.tx.input.iter().any(|a| {
                tx.input
                    .iter()
                    .any(|b| a.previous_output == b.previous_output)
            })
        });
        if conflict {
            return None;
        }
        {
            self.by_txid.insert(txid, self.entries.len());
            self.entries.push(MempoolTx {
                tx,
                txid,
                fee: Amount::ZERO,
            });
        }
        Some(txid)
    }

    fn refill(&mut self) {
        while self.entries.len() < self.target_size {
            self.entries.push(synthetic_tx());
        }
        self.by_txid = self
            .entries
            .iter()
            .enumerate()
            .map(|(i, e)| (e.txid, i))
            .collect();
    }
}

/// A version-2 segwit transaction spending a random fake outpoint, with a fake P2WPKH witness.
fn synthetic_tx() -> MempoolTx {
    let mut rng = thread_rng();
    let mut prev = [0u8; 32];
    rng.fill_bytes(&mut prev);
    // A DER-looking signature of 71 or 72 bytes ending in SIGHASH_ALL, and a compressed pubkey.
    let sig_len: usize = rng.gen_range(71..=72);
    let mut sig = vec![0u8; sig_len];
    rng.fill_bytes(&mut sig);
    sig[0] = 0x30;
    sig[1] = (sig_len - 3) as u8;
    sig[sig_len - 1] = 0x01;
    let mut pubkey = [0u8; 33];
    rng.fill_bytes(&mut pubkey);
    pubkey[0] = 0x02 | (pubkey[0] & 1);
    let mut witness = Witness::new();
    witness.push(sig);
    witness.push(pubkey);

    let outputs = rng.gen_range(1..=2);
    let output = (0..outputs)
        .map(|_| {
            let mut h = [0u8; 20];
            rng.fill_bytes(&mut h);
            TxOut {
                value: Amount::from_sat(rng.gen_range(10_000..5_000_000)),
                script_pubkey: ScriptBuf::new_p2wpkh(&WPubkeyHash::from_byte_array(h)),
            }
        })
        .collect();
    let tx = Transaction {
        version: transaction::Version::TWO,
        lock_time: absolute::LockTime::ZERO,
        input: vec![TxIn {
            previous_output: OutPoint {
                txid: Txid::from_byte_array(prev),
                vout: rng.gen_range(0..4),
            },
            script_sig: ScriptBuf::new(),
            sequence: Sequence::ENABLE_RBF_NO_LOCKTIME,
            witness,
        }],
        output,
    };
    MempoolTx {
        txid: tx.compute_txid(),
        fee: Amount::from_sat(rng.gen_range(1_000..6_000)),
        tx,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn synthetic_txs_are_segwit_with_distinct_wtxid() {
        let pool = Mempool::new(5);
        assert_eq!(pool.entries().len(), 5);
        for e in pool.entries() {
            assert_ne!(e.tx.compute_wtxid().to_byte_array(), e.txid.to_byte_array());
            assert_eq!(e.tx.version, transaction::Version::TWO);
            assert!(pool.get(&e.txid).is_some());
            let w = &e.tx.input[0].witness;
            assert_eq!(w.len(), 2);
        }
    }

    #[test]
    fn refill_replaces_mined() {
        let mut pool = Mempool::new(3);
        let first = pool.entries()[0].txid;
        pool.remove_and_refill(&[first]);
        assert_eq!(pool.entries().len(), 3);
        assert!(pool.get(&first).is_none());
    }
}

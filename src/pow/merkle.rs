//! Merkle branches: the hashes a miner needs to fold its coinbase txid into the merkle root.

use super::hash::sha256d_pair;

/// The branch for the coinbase (leaf 0) given the other leaves in block order.
pub fn coinbase_branch(txids: &[[u8; 32]]) -> Vec<[u8; 32]> {
    let mut branch = Vec::new();
    let mut level: Vec<[u8; 32]> = txids.to_vec();
    while let Some(first) = level.first().copied() {
        branch.push(first);
        level = level[1..]
            .chunks(2)
            .map(|pair| sha256d_pair(&pair[0], pair.get(1).unwrap_or(&pair[0])))
            .collect();
    }
    branch
}

/// Folds a coinbase txid up a branch to the merkle root.
#[inline]
pub fn root_from_branch(coinbase_txid: [u8; 32], branch: &[[u8; 32]]) -> [u8; 32] {
    branch
        .iter()
        .fold(coinbase_txid, |acc, step| sha256d_pair(&acc, step))
}

#[cfg(test)]
mod tests {
    use super::*;
    use bitcoin::hashes::Hash;
    use bitcoin::{merkle_tree, Txid};

    /// Independent check: rust-bitcoin's merkle root over [coinbase, txids...].
    fn reference_root(leaves: &[[u8; 32]]) -> [u8; 32] {
        let ids = leaves.iter().map(|l| Txid::from_byte_array(*l));
        merkle_tree::calculate_root(ids)
            .map(|r| r.to_byte_array())
            .unwrap_or([0; 32])
    }

    #[test]
    fn matches_rust_bitcoin_for_every_size() {
        for n in 0..40u8 {
            let cb = [0xcb; 32];
            let txids: Vec<[u8; 32]> = (0..n).map(|i| [i.wrapping_add(1); 32]).collect();
            let mut leaves = vec![cb];
            leaves.extend_from_slice(&txids);
            let branch = coinbase_branch(&txids);
            assert_eq!(
                root_from_branch(cb, &branch),
                reference_root(&leaves),
                "n={n}"
            );
        }
    }
}

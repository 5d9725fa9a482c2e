//! Makes valid shares for a chain without a stratum server: the next share on a parent,
//! its outputs the chain's payout at that parent, its header ground until it meets the
//! share target (at regtest's easiest targets, a couple of hashes). For store tests and the
//! share-chain bench; it uses only the public API.
#![allow(dead_code)]

use bitcoin::block::{Header, Version};
use bitcoin::hashes::Hash;
use bitcoin::{BlockHash, CompactTarget, ScriptBuf, TxMerkleNode};
use ruint::aliases::U256;
use stratumd::p2pool::chain::Chain;
use stratumd::p2pool::share::{outputs_hash, Share, ShareId, ShareMeta};
use stratumd::p2pool::spec::ChainSpec;
use stratumd::p2pool::target::{bits_of, target_of};

/// The block reward every made share's coinbase pays.
pub const VALUE: u64 = 625_000_000;

/// A standard payout script for miner `n`.
pub fn script(n: u32) -> ScriptBuf {
    let mut program = [0u8; 20];
    program[..4].copy_from_slice(&n.to_le_bytes());
    ScriptBuf::new_p2wpkh(&bitcoin::WPubkeyHash::from_byte_array(program))
}

/// Makes shares one share period apart.
pub struct ShareMaker {
    time: u32,
    tag: u64,
    period: u32,
    /// The bitcoin target in every header.
    block_bits: u32,
}

impl ShareMaker {
    /// Shares of `spec`, starting at its genesis time.
    pub fn new(spec: ChainSpec) -> ShareMaker {
        let period = spec.share_period_secs;
        // A block work of 100: with a window of twice the block's work, 100 shares at
        // regtest's easiest share target (work 2), so the spec's share cap binds.
        let start = spec.genesis_time as u32;
        ShareMaker::custom(start, period, bits_of(U256::MAX / U256::from(100u32)).0)
    }

    /// Shares from `start`, `period` seconds apart, with `block_bits` in their headers.
    pub fn custom(start: u32, period: u32, block_bits: u32) -> ShareMaker {
        ShareMaker {
            time: start,
            tag: 0,
            period,
            block_bits,
        }
    }

    /// The next share on the tip by miner `n`.
    pub fn next_on_tip(&mut self, chain: &mut Chain, n: u32) -> Share {
        let tip = chain.tip();
        self.next_on(chain, tip, n)
    }

    /// The next share on `parent` by miner `n` (not offered).
    pub fn next_on(&mut self, chain: &mut Chain, parent: ShareId, n: u32) -> Share {
        self.time += self.period;
        self.tag += 1;
        let miner = script(n);
        let next = chain
            .next_share(parent, VALUE, &miner)
            .expect("a known parent");
        let mut script_sig = vec![0x01, 10];
        script_sig.extend_from_slice(&self.tag.to_le_bytes());
        let mut share = Share {
            header: Header {
                version: Version::from_consensus(0x2000_0000),
                prev_blockhash: BlockHash::from_byte_array([1; 32]),
                merkle_root: TxMerkleNode::from_byte_array([0; 32]),
                time: self.time,
                bits: CompactTarget::from_consensus(self.block_bits),
                nonce: 0,
            },
            script_sig,
            coinbase_value: VALUE,
            witness_commitment: None,
            merkle_branch: Vec::new(),
            meta: ShareMeta {
                chain: chain.id(),
                parent,
                uncles: Vec::new(),
                payout_script: miner,
                share_bits: next.share_bits,
                outputs_hash: outputs_hash(&next.outputs),
            },
        };
        share.header.merkle_root =
            TxMerkleNode::from_byte_array(share.merkle_root_for(&next.outputs));
        let target = target_of(share.meta.share_bits).unwrap_or(U256::MAX);
        while U256::from_le_bytes(share.id().0) > target {
            share.header.nonce += 1;
        }
        share
    }
}

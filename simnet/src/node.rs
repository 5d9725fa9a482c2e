//! The node state shared by the RPC server and the handle, and the single block-acceptance path.

use std::sync::mpsc::Sender;

use bitcoin::block::Block;
use bitcoin::pow::CompactTarget;
use bitcoin::Txid;

use crate::chain::Chain;
use crate::mempool::Mempool;
use crate::template::now;
use crate::validate::{check_block, BlockReject};
use crate::zmq_pub::ZmqMsg;

/// Chain, mempool, and the channel to the ZMQ publisher.
pub(crate) struct Node {
    pub(crate) chain: Chain,
    pub(crate) mempool: Mempool,
    pub(crate) accepted_by_submit: u64,
    /// Pretend to be syncing: getblockchaininfo says so and getblocktemplate refuses.
    pub(crate) initial_block_download: bool,
    /// RPC calls still to refuse with -28, as a starting bitcoind does.
    pub(crate) warmup_calls: u32,
    zmq: Sender<ZmqMsg>,
}

impl Node {
    /// A node at regtest's genesis whose blocks must carry `bits`.
    pub(crate) fn new(bits: CompactTarget, txs_per_template: usize, zmq: Sender<ZmqMsg>) -> Self {
        Node {
            chain: Chain::new(bits),
            mempool: Mempool::new(txs_per_template),
            accepted_by_submit: 0,
            initial_block_download: false,
            warmup_calls: 0,
            zmq,
        }
    }

    /// Validates `block` and, when valid, makes it the tip, refreshes the mempool and announces it over ZMQ.
    pub(crate) fn accept(&mut self, block: Block, by_submit: bool) -> Result<(), BlockReject> {
        check_block(&block, &self.chain, &self.mempool, now())?;
        let hash = block.block_hash();
        let mined: Vec<Txid> = block
            .txdata
            .iter()
            .skip(1)
            .map(|tx| tx.compute_txid())
            .collect();
        self.chain.push(block);
        self.mempool.remove_and_refill(&mined);
        if by_submit {
            self.accepted_by_submit += 1;
        }
        // The publisher thread is gone only during shutdown; nothing to announce then.
        let _ = self.zmq.send(ZmqMsg::HashBlock(hash));
        tracing::debug!(
            "simnet: new tip {} at height {}",
            hash,
            self.chain.tip_height()
        );
        Ok(())
    }
}

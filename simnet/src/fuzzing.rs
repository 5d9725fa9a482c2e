//! The RPC handler without a socket, for the `simnet_rpc` fuzz target: compiled only under
//! `cargo fuzz` (`--cfg fuzzing`), never into simnet as tests and stratumd use it.

use std::sync::mpsc::{self, Receiver};
use std::sync::Mutex;

use serde_json::Value;

use crate::chain::bits_from_difficulty;
use crate::node::Node;
use crate::zmq_pub::ZmqMsg;

/// A fresh node at genesis, mined at regtest's easiest target so that a fuzzed
/// `generatetoaddress` takes a few hashes, not millions.
pub struct Rpc {
    node: Mutex<Node>,
    announced: Receiver<ZmqMsg>,
}

impl Rpc {
    /// A node with `txs_per_template` transactions offered per template.
    pub fn new(txs_per_template: usize) -> Option<Rpc> {
        let bits = bits_from_difficulty(1e-12)?;
        let (tx, announced) = mpsc::channel();
        Some(Rpc {
            node: Mutex::new(Node::new(bits, txs_per_template, tx)),
            announced,
        })
    }

    /// One HTTP body, as the server handles it: the status code and the JSON reply.
    pub fn process(&self, body: &[u8]) -> (u16, Option<Value>) {
        let (status, value) = crate::rpc::process(&self.node, body);
        while self.announced.try_recv().is_ok() {}
        (status.as_u16(), value)
    }
}

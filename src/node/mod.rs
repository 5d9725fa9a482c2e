//! Everything about bitcoind: the JSON-RPC client with failover ([`rpc`]), the template
//! source driven by ZMQ `hashblock`, polling and a refresh timer ([`source`]), and the block
//! submitter ([`submitter`]) with its log of found blocks ([`block_log`]).

pub mod block_log;
pub mod outcome;
pub mod rpc;
pub mod rpc_metrics;
pub mod source;
pub mod submitter;
pub mod template;
pub mod zmq_sub;

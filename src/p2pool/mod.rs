//! The p2pool share chain of one node. Consensus, a pure function of the chain: the chain
//! spec and its id ([`spec`]), the share-difficulty rule ([`difficulty`]), the PPLNS payout
//! of a window of shares ([`pplns`], with the deterministic draw of [`draw`]), the share
//! and its wire form ([`share`]), the incremental window ([`window`]) and the in-memory
//! chain that validates shares and picks the tip ([`chain`]). Nothing of those reads local
//! config or local state. Beside them: the RocksDB store ([`store`], counted by [`open_stores`]) and what the
//! `stratumd sharechain` commands show of it ([`inspect`]). The node's thread that owns
//! chain and store is `crate::sharechain`.

pub mod chain;
pub mod difficulty;
pub mod draw;
pub mod inspect;
pub mod open_stores;
pub mod pplns;
pub mod script;
pub mod share;
pub mod spec;
pub mod store;
pub mod target;
pub mod window;

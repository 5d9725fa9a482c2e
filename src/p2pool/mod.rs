//! The p2pool share chain (being built; see `docs/ARCHITECTURE.md`, "Not built yet").
//! What is here is consensus, and so a pure function of the chain: the chain spec and its
//! id ([`spec`]), the share-difficulty rule ([`difficulty`]), and the PPLNS payout of a
//! window of shares ([`pplns`], with the deterministic draw of [`draw`]). Nothing here reads
//! local config or local state.

pub mod chain;
pub mod difficulty;
pub mod draw;
pub mod pplns;
pub mod script;
pub mod share;
pub mod spec;
pub mod target;
pub mod window;

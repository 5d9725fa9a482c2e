//! Proof-of-work arithmetic shared by job building and share validation: SHA-256d
//! ([`hash`]), the merkle branch of a coinbase ([`merkle`]) and the conversion between hashes, targets and difficulties ([`target`]).
//! A leaf: it imports nothing else of the crate, so `work` and `share` both build on it
//! without depending on each other.

pub mod hash;
pub mod merkle;
pub mod target;

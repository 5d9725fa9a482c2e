//! Share validation: rebuild coinbase, merkle root and header from a job and a submit, hash
//! them, and classify the result. Pure and allocation-free on the hot path.

pub mod block;
pub mod block_found;
pub mod duplicates;
pub mod hash;
pub mod target;
pub mod validate;

pub use validate::{
    header_and_hash, validate_share, HeaderParts, Reject, ShareOutcome, Submission,
};

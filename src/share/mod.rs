//! Share validation: rebuild coinbase, merkle root and header from a job and a submit, hash
//! them, and classify the result ([`validate`]). Pure and allocation-free on the hot path.
//! Shares that matter for money leave through the lossless sink ([`found`]); blocks are
//! assembled from them ([`block`]), and share-chain shares made ([`chain_share`]).

pub mod block;
pub mod chain_share;
pub mod found;
pub mod validate;

pub use found::{FoundShare, Offer, ShareSink};
pub use validate::{
    header_and_hash, validate_share, HeaderParts, Reject, ShareOutcome, Submission,
};

//! Why [`Control`](super::Control) refused an action. Nothing was changed. The texts are
//! what the control socket's JSON replies carry in `error`.

use bitcoin::Network;

use crate::work::payout::PayeesError;

/// Why a control action was refused (nothing was changed).
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ControlError {
    /// Payouts were asked of a solo-mode server, whose coinbases pay each miner.
    #[error("solo mode (-B) pays each miner at its own address; payouts apply to pool mode")]
    SoloMode,
    /// Payouts were asked of a p2pool-mode server, whose coinbases pay the share chain's
    /// window.
    #[error("p2pool mode pays the share chain's PPLNS window: payouts come from the chain, not from setpayouts")]
    P2poolMode,
    /// The payout list has too few or too many entries, or an entry has weight 0.
    #[error(transparent)]
    Payees(#[from] PayeesError),
    /// An entry's address does not parse.
    #[error("entry {entry}: `{address}` is not an address ({source})")]
    NotAnAddress {
        /// The entry's index in the request.
        entry: usize,
        /// The address as sent.
        address: String,
        /// Why it does not parse.
        source: bitcoin::address::ParseError,
    },
    /// An entry's address belongs to another chain.
    #[error("entry {entry}: `{address}` is not an address on {network}")]
    WrongNetwork {
        /// The entry's index in the request.
        entry: usize,
        /// The address as sent.
        address: String,
        /// The chain this server mines.
        network: Network,
    },
    /// bitcoind has not been reached yet, so the addresses cannot be checked.
    #[error("the chain is not known yet (bitcoind not reached); retry")]
    ChainUnknown,
    /// There is no payout plan to change yet (bitcoind has not been reached).
    #[error("the payout plan is not ready yet (bitcoind not reached); retry")]
    PlanNotReady,
    /// A difficulty that is not a finite number above 0.
    #[error("difficulty must be a number above 0, got {0}")]
    Difficulty(f64),
}

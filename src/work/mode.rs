//! How this server pays miners, decided once from the config: ckpool's solo mode (`-B`:
//! every miner's coinbase pays the address it authorized as) or pool mode (every coinbase
//! pays the operator's payout list). The [`Payee`] of a session and the
//! [`PayoutPlan`](super::PayoutPlan) of a job both follow from it, so a session and the jobs
//! it mines always agree on who is paid. p2pool mode pays the share chain's window; its
//! miners authorize with their own address, as in solo mode, since each coinbase commits
//! to a share paying the miner.

use std::str::FromStr;

use bitcoin::address::NetworkUnchecked;
use bitcoin::{Address, Network, ScriptBuf};

/// Whose work a notify carries: everyone shares the pool's coinbase; in solo mode each
/// miner's payout script gets its own. Made by [`Mode::payee`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Payee {
    /// The pool-mode coinbase, identical for every miner.
    Pool,
    /// A miner's own output script (solo mode).
    Miner(ScriptBuf),
}

/// The server's payout mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// ckpool `-B`: usernames are payout addresses; each miner's coinbase pays it.
    Solo,
    /// Any username; every coinbase pays the configured payout list.
    Pool,
    /// Usernames are payout addresses, as in solo mode; every coinbase pays the PPLNS window
    /// of the share chain and commits to a share paying the miner.
    P2pool,
}

/// Why a username cannot be paid in this mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PayeeError {
    /// The chain is not known yet (bitcoind not reached), so no address can be checked.
    #[error("Node not ready, retry")]
    ChainUnknown,
    /// The username's address part is not an address on this chain.
    #[error("Invalid address")]
    InvalidAddress,
}

impl Mode {
    /// Whether a miner must authorize with its own payout address.
    pub fn pays_miners_directly(self) -> bool {
        match self {
            Mode::Solo | Mode::P2pool => true,
            Mode::Pool => false,
        }
    }

    /// Whose coinbase a session authorizing as `username` (`<address>[.<worker>]` in solo
    /// mode) mines, on `network` if it is known yet.
    pub fn payee(self, username: &str, network: Option<Network>) -> Result<Payee, PayeeError> {
        match self {
            Mode::Pool => Ok(Payee::Pool),
            Mode::Solo | Mode::P2pool => {
                let network = network.ok_or(PayeeError::ChainUnknown)?;
                let address = username.split('.').next().unwrap_or(username);
                Address::<NetworkUnchecked>::from_str(address)
                    .ok()
                    .and_then(|a| a.require_network(network).ok())
                    .map(|a| Payee::Miner(a.script_pubkey()))
                    .ok_or(PayeeError::InvalidAddress)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const REGTEST: &str = "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080";

    #[test]
    fn solo_payees_are_the_miners_addresses_on_the_chain() {
        let p = Mode::Solo
            .payee(&format!("{REGTEST}.rig1"), Some(Network::Regtest))
            .unwrap();
        let script = Address::<NetworkUnchecked>::from_str(REGTEST)
            .unwrap()
            .assume_checked()
            .script_pubkey();
        assert_eq!(p, Payee::Miner(script));
        assert_eq!(
            Mode::Solo.payee(REGTEST, Some(Network::Bitcoin)),
            Err(PayeeError::InvalidAddress)
        );
        assert_eq!(
            Mode::Solo.payee("worker1", Some(Network::Regtest)),
            Err(PayeeError::InvalidAddress)
        );
        assert_eq!(
            Mode::Solo.payee(REGTEST, None),
            Err(PayeeError::ChainUnknown)
        );
    }

    #[test]
    fn pool_mode_takes_any_username_before_the_chain_is_known() {
        assert_eq!(Mode::Pool.payee("anyone.rig", None), Ok(Payee::Pool));
    }
}

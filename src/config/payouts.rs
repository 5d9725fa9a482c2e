//! Who the config says is paid: pool mode's list (`btcaddress` or our `payouts`) and the
//! donation. Addresses stay unchecked until the chain is known, and the only way to their
//! scripts is [`PayoutAddresses::plan`], which checks each for the chain.

use std::str::FromStr;

use bitcoin::address::NetworkUnchecked;
use bitcoin::{Address, Network, ScriptBuf};

use super::{invalid, ConfigError};
use crate::work::payout::{Donation, PoolPayees, WeightedPayee, MAX_PAYOUTS};
use crate::work::{Mode, PayoutPlan};

/// An address of the config, with the key it came from.
#[derive(Debug, Clone, PartialEq)]
struct KeyedAddress {
    key: &'static str,
    address: Address<NetworkUnchecked>,
}

impl KeyedAddress {
    fn parse(key: &'static str, s: &str) -> Result<KeyedAddress, ConfigError> {
        let address = Address::<NetworkUnchecked>::from_str(s)
            .map_err(|e| invalid(key, format!("`{s}` is not a bitcoin address ({e})")))?;
        Ok(KeyedAddress { key, address })
    }

    fn script_on(&self, network: Network) -> Result<ScriptBuf, ConfigError> {
        if !self.address.is_valid_for_network(network) {
            // Shown as written (the network is only what is wrong with it).
            let shown = self.address.clone().assume_checked();
            return Err(invalid(
                self.key,
                format!("{shown} is not an address on {network}"),
            ));
        }
        Ok(self.address.clone().assume_checked().script_pubkey())
    }
}

/// The config's payees, unchecked for any chain.
#[derive(Debug, Clone, PartialEq)]
pub struct PayoutAddresses {
    mode: Mode,
    /// Pool mode's list (empty in solo mode), with weights.
    pool: Vec<(KeyedAddress, u64)>,
    /// The donation address and percentage.
    donation: Option<(KeyedAddress, f64)>,
    /// Addresses configured but not paid (solo mode's `btcaddress` and `payouts`, pool
    /// mode's `btcaddress` beside `payouts`, a `donaddress` without a donation): checked like
    /// the others, so that a config for another chain is refused whatever the mode.
    unused: Vec<KeyedAddress>,
}

impl PayoutAddresses {
    /// The payees of `mode`: in pool mode `payouts` when given, else `btcaddress` (one is
    /// required); a donation needs `donaddress`.
    pub fn new(
        mode: Mode,
        btcaddress: Option<&str>,
        payouts: Option<super::raw::Entries<super::raw::RawPayout>>,
        donation: f64,
        donaddress: Option<&str>,
        warnings: &mut Vec<String>,
    ) -> Result<PayoutAddresses, ConfigError> {
        let btcaddress = btcaddress
            .map(|a| KeyedAddress::parse("btcaddress", a))
            .transpose()?;
        let mut pool = Vec::new();
        if let Some(super::raw::Entries(list)) = payouts {
            if list.is_empty() || list.len() > MAX_PAYOUTS {
                return Err(invalid(
                    "payouts",
                    format!("needs 1 to {MAX_PAYOUTS} entries"),
                ));
            }
            for (i, p) in list.into_iter().enumerate() {
                if p.amount.as_ref().is_some_and(|a| !a.is_null()) {
                    return Err(invalid(
                        "payouts",
                        format!("entry {i}: `amount` is not taken: payouts are weights, and each job's coinbase value (less donation) is split in their proportions"),
                    ));
                }
                for key in p.other.keys() {
                    warnings.push(format!("config key `payouts`: entry {i}: `{key}` ignored"));
                }
                let weight = match p.weight {
                    None => 1,
                    Some(0) => {
                        return Err(invalid(
                            "payouts",
                            format!("entry {i}: \"weight\" must be a whole number above 0"),
                        ))
                    }
                    Some(w) => w,
                };
                pool.push((KeyedAddress::parse("payouts", &p.address)?, weight));
            }
        }
        let donaddress = donaddress
            .map(|a| KeyedAddress::parse("donaddress", a))
            .transpose()?;
        let mut unused = Vec::new();
        let mut donation = match donaddress {
            Some(a) if donation <= 0.0 => {
                unused.push(a);
                None
            }
            None if donation <= 0.0 => None,
            Some(a) => Some((a, donation)),
            None => {
                return Err(invalid(
                    "donaddress",
                    format!("`donation` is {donation}% but no `donaddress` says where it goes"),
                ))
            }
        };
        match mode {
            Mode::Solo | Mode::P2pool => {
                unused.extend(pool.drain(..).map(|(a, _)| a));
                unused.extend(btcaddress);
                if mode == Mode::P2pool {
                    // The fee and payouts are the chain spec's: a donation would make every
                    // share of this node invalid to the others.
                    if let Some((a, _)) = donation.take() {
                        unused.push(a);
                    }
                }
            }
            Mode::Pool if pool.is_empty() => {
                match btcaddress {
                    Some(a) => pool.push((a, 1)),
                    None => return Err(invalid(
                        "btcaddress",
                        "is required outside solo mode (-B): the address the pool's coinbase pays",
                    )),
                }
            }
            Mode::Pool => unused.extend(btcaddress),
        }
        Ok(PayoutAddresses {
            mode,
            pool,
            donation,
            unused,
        })
    }

    /// Checks every address of the config for `network` (an error names the key), for a
    /// mode whose plan does not come from the config (p2pool).
    pub fn check(&self, network: Network) -> Result<(), ConfigError> {
        for a in self.unused.iter().chain(self.pool.iter().map(|(a, _)| a)) {
            a.script_on(network)?;
        }
        Ok(())
    }

    /// The payout plan on `network`, every address checked for it (an error names the key).
    pub fn plan(&self, network: Network) -> Result<PayoutPlan, ConfigError> {
        for a in &self.unused {
            a.script_on(network)?;
        }
        let donation = match &self.donation {
            Some((a, percent)) => Some(Donation {
                script: a.script_on(network)?,
                percent: *percent,
            }),
            None => None,
        };
        let mut payees = Vec::with_capacity(self.pool.len());
        for (a, weight) in &self.pool {
            payees.push(WeightedPayee {
                script: a.script_on(network)?,
                weight: *weight,
            });
        }
        match self.mode {
            Mode::P2pool => Err(invalid(
                "p2pool",
                "in p2pool mode the payouts come from the share chain, not the config",
            )),
            Mode::Solo => Ok(PayoutPlan::solo(donation)),
            Mode::Pool => {
                let key = self.pool.first().map_or("btcaddress", |(a, _)| a.key);
                let payees = PoolPayees::new(payees).map_err(|e| invalid(key, e.to_string()))?;
                Ok(PayoutPlan::pool(payees, donation))
            }
        }
    }
}

//! Who the coinbase pays and how much: a money path, so the arithmetic is integer-exact
//! (but for ckpool's donation, which is computed as ckpool computes it) and tested against
//! captured ckpool coinbases.

use bitcoin::ScriptBuf;

/// How the coinbase value is shared out.
#[derive(Debug, Clone, PartialEq)]
pub struct PayoutPlan {
    /// Solo (each miner is paid) or pool (a fixed weighted list is paid).
    pub mode: PayoutMode,
    /// An optional percentage of every coinbase to a fixed script (ckpool's `donation`).
    pub donation: Option<Donation>,
}

/// The two ways of choosing payees.
#[derive(Debug, Clone, PartialEq)]
pub enum PayoutMode {
    /// ckpool `-B`: the whole reward (less donation) to the address the miner authorized as.
    Solo,
    /// Pool: the reward (less donation) split by weight among these scripts, in this order.
    Pool(Vec<WeightedPayee>),
}

/// One entry of a pool-mode payout list.
#[derive(Debug, Clone, PartialEq)]
pub struct WeightedPayee {
    /// The output script paid.
    pub script: ScriptBuf,
    /// Its share of the reward relative to the other entries' weights (> 0).
    pub weight: u64,
}

/// A donation output.
#[derive(Debug, Clone, PartialEq)]
pub struct Donation {
    /// The output script paid.
    pub script: ScriptBuf,
    /// Percentage of the coinbase value, 0.1 to 99.9 as ckpool accepts.
    pub percent: f64,
}

/// Whose work a notify carries: everyone shares the pool's coinbase; in solo mode each
/// payout script gets its own.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Payee {
    /// The pool-mode coinbase, identical for every miner.
    Pool,
    /// A solo miner's own output script.
    Solo(ScriptBuf),
}

/// Payout plans that cannot produce a coinbase.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum PayoutError {
    /// A solo plan was asked for the pool coinbase or the other way round.
    #[error("payee does not match the payout mode")]
    WrongPayee,
    /// A pool plan without entries, or with zero total weight.
    #[error("pool payout list is empty or has zero total weight")]
    NoPayees,
}

impl PayoutPlan {
    /// The payee every miner gets in pool mode, or `None` in solo mode.
    pub fn shared_payee(&self) -> Option<Payee> {
        match self.mode {
            PayoutMode::Solo => None,
            PayoutMode::Pool(_) => Some(Payee::Pool),
        }
    }

    /// The outputs (script, satoshis) that share `value` for `payee`, in coinbase order:
    /// payees, then the donation.
    pub fn outputs(&self, value: u64, payee: &Payee) -> Result<Vec<(ScriptBuf, u64)>, PayoutError> {
        let donation = self
            .donation
            .as_ref()
            .map(|d| (d.script.clone(), donation_amount(value, d.percent)));
        let rest = value - donation.as_ref().map_or(0, |d| d.1);
        let mut out = match (&self.mode, payee) {
            (PayoutMode::Solo, Payee::Solo(script)) => vec![(script.clone(), rest)],
            (PayoutMode::Pool(list), Payee::Pool) => split_by_weight(rest, list)?,
            _ => return Err(PayoutError::WrongPayee),
        };
        out.extend(donation);
        Ok(out)
    }
}

/// ckpool's donation: `value * percent / 100` in floating point, truncated.
fn donation_amount(value: u64, percent: f64) -> u64 {
    let d = (value as f64 * percent / 100.0) as u64;
    d.min(value)
}

/// Splits `value` by weight, each share rounded down, the remainder to the first payee.
fn split_by_weight(
    value: u64,
    list: &[WeightedPayee],
) -> Result<Vec<(ScriptBuf, u64)>, PayoutError> {
    let total: u128 = list.iter().map(|p| u128::from(p.weight)).sum();
    if total == 0 {
        return Err(PayoutError::NoPayees);
    }
    let mut out: Vec<(ScriptBuf, u64)> = list
        .iter()
        .map(|p| {
            let amount = u128::from(value) * u128::from(p.weight) / total;
            // amount <= value, so it fits.
            (p.script.clone(), amount as u64)
        })
        .collect();
    let paid: u64 = out.iter().map(|o| o.1).sum();
    if let Some(first) = out.first_mut() {
        first.1 += value - paid;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn script(n: u8) -> ScriptBuf {
        ScriptBuf::from_bytes(vec![0x00, 0x14].into_iter().chain([n; 20]).collect())
    }

    #[test]
    fn ckpool_donation_of_captured_coinbase() {
        // gbt-notify/one-txn: coinbasevalue 625002820 with 2% donation paid 12500056 to the
        // donation address and 612502764 to the miner (read from ckpool's coinb2).
        let plan = PayoutPlan {
            mode: PayoutMode::Solo,
            donation: Some(Donation {
                script: script(9),
                percent: 2.0,
            }),
        };
        let out = plan.outputs(625_002_820, &Payee::Solo(script(1))).unwrap();
        assert_eq!(out, vec![(script(1), 612_502_764), (script(9), 12_500_056)]);
    }

    #[test]
    fn weights_sum_to_value_exactly() {
        let list: Vec<WeightedPayee> = (1..=7)
            .map(|i| WeightedPayee {
                script: script(i),
                weight: u64::from(i) * 3,
            })
            .collect();
        let plan = PayoutPlan {
            mode: PayoutMode::Pool(list),
            donation: None,
        };
        let out = plan.outputs(5_000_000_001, &Payee::Pool).unwrap();
        assert_eq!(out.iter().map(|o| o.1).sum::<u64>(), 5_000_000_001);
        // weight 3/84 of 5_000_000_001 = 178571428 (floor) plus the remainder of rounding
        assert_eq!(out[1].1, 5_000_000_001u64 * 6 / 84);
        assert_eq!(out[6].1, 5_000_000_001u64 * 21 / 84);
    }

    #[test]
    fn mode_mismatch_is_an_error() {
        let plan = PayoutPlan {
            mode: PayoutMode::Solo,
            donation: None,
        };
        assert_eq!(plan.outputs(1, &Payee::Pool), Err(PayoutError::WrongPayee));
        let plan = PayoutPlan {
            mode: PayoutMode::Pool(vec![]),
            donation: None,
        };
        assert_eq!(plan.outputs(1, &Payee::Pool), Err(PayoutError::NoPayees));
    }
}

//! Who the coinbase pays and how much: a money path, so the arithmetic is integer-exact
//! (but for ckpool's donation, which is computed as ckpool computes it) and tested against
//! captured ckpool coinbases.

use bitcoin::ScriptBuf;

use super::mode::Mode;
use crate::p2pool::chain::TipWork;

/// Most payout outputs a pool's list may have, from the config (`payouts`) or the control
/// socket (`setpayouts`): a 1,000-output coinbase is about 34 kB, which still fits beside a
/// full template once `fit` leaves out its last transactions.
pub const MAX_PAYOUTS: usize = 1000;

/// How the coinbase value of every job is shared out. Its variant is the server's
/// [`Mode`]: a plan is made for a mode ([`PayoutPlan::solo`], [`PayoutPlan::pool`]) and only
/// a pool plan's list can be replaced.
#[derive(Debug, Clone, PartialEq)]
pub enum PayoutPlan {
    /// ckpool `-B`: each miner's coinbase pays the whole reward (less donation) to the
    /// address it authorized as.
    Solo {
        /// ckpool's `donation`, if any.
        donation: Option<Donation>,
    },
    /// Pool: every coinbase splits the reward (less donation) by weight among `payees`.
    Pool {
        /// The list, in coinbase order.
        payees: PoolPayees,
        /// ckpool's `donation`, if any.
        donation: Option<Donation>,
    },
    /// p2pool: every coinbase pays the PPLNS window of the share-chain tip, and commits to
    /// a share on it paying the miner (no donation: a fee is the chain spec's).
    P2pool(TipWork),
}

/// A pool's payout list: 1 to [`MAX_PAYOUTS`] entries with weights above 0 (checked when
/// it is made, so every list splits a reward).
#[derive(Debug, Clone, PartialEq)]
pub struct PoolPayees(Vec<WeightedPayee>);

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

/// Why a pool payout list was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PayeesError {
    /// No entries, or more than [`MAX_PAYOUTS`].
    #[error("payouts needs 1 to {MAX_PAYOUTS} entries, got {0}")]
    Count(usize),
    /// An entry with weight 0.
    #[error("entry {0}: weight must be above 0")]
    ZeroWeight(usize),
}

impl PoolPayees {
    /// Checks a list: 1 to [`MAX_PAYOUTS`] entries, every weight above 0.
    pub fn new(list: Vec<WeightedPayee>) -> Result<PoolPayees, PayeesError> {
        if list.is_empty() || list.len() > MAX_PAYOUTS {
            return Err(PayeesError::Count(list.len()));
        }
        if let Some(i) = list.iter().position(|p| p.weight == 0) {
            return Err(PayeesError::ZeroWeight(i));
        }
        Ok(PoolPayees(list))
    }

    /// The entries, in coinbase order.
    pub fn entries(&self) -> &[WeightedPayee] {
        &self.0
    }

    /// Splits `value` by weight, each share rounded down, the remainder to the first entry.
    pub fn split(&self, value: u64) -> Vec<(ScriptBuf, u64)> {
        // At most MAX_PAYOUTS weights of at most u64::MAX: the sum fits a u128.
        let total: u128 = self.0.iter().map(|p| u128::from(p.weight)).sum();
        let mut out: Vec<(ScriptBuf, u64)> = self
            .0
            .iter()
            .map(|p| {
                // weight <= total, so the share is at most `value` and fits a u64.
                let amount = u128::from(value) * u128::from(p.weight) / total;
                (p.script.clone(), amount as u64)
            })
            .collect();
        let paid: u64 = out.iter().map(|o| o.1).sum();
        if let Some(first) = out.first_mut() {
            first.1 += value - paid;
        }
        out
    }
}

impl PayoutPlan {
    /// Solo mode's plan.
    pub fn solo(donation: Option<Donation>) -> PayoutPlan {
        PayoutPlan::Solo { donation }
    }

    /// Pool mode's plan.
    pub fn pool(payees: PoolPayees, donation: Option<Donation>) -> PayoutPlan {
        PayoutPlan::Pool { payees, donation }
    }

    /// The mode this plan pays in.
    pub fn mode(&self) -> Mode {
        match self {
            PayoutPlan::Solo { .. } => Mode::Solo,
            PayoutPlan::Pool { .. } => Mode::Pool,
            PayoutPlan::P2pool(_) => Mode::P2pool,
        }
    }

    /// The share-chain tip a p2pool plan mines on.
    pub fn tip_work(&self) -> Option<&TipWork> {
        match self {
            PayoutPlan::P2pool(work) => Some(work),
            _ => None,
        }
    }

    /// The donation output, if any.
    pub fn donation(&self) -> Option<&Donation> {
        match self {
            PayoutPlan::Solo { donation } | PayoutPlan::Pool { donation, .. } => donation.as_ref(),
            PayoutPlan::P2pool(_) => None,
        }
    }

    /// The same plan with a new pool payout list; `None` for a solo or p2pool plan, which
    /// have none.
    pub fn with_pool_payees(&self, payees: PoolPayees) -> Option<PayoutPlan> {
        match self {
            PayoutPlan::Solo { .. } | PayoutPlan::P2pool(_) => None,
            PayoutPlan::Pool { donation, .. } => Some(PayoutPlan::Pool {
                payees,
                donation: donation.clone(),
            }),
        }
    }

    /// The donation's amount out of `value` and what is left for the payees.
    fn take_donation(&self, value: u64) -> (Option<(ScriptBuf, u64)>, u64) {
        let donation = self
            .donation()
            .map(|d| (d.script.clone(), donation_amount(value, d.percent)));
        let rest = value - donation.as_ref().map_or(0, |d| d.1);
        (donation, rest)
    }

    /// A pool plan's outputs (script, satoshis) sharing `value`, in coinbase order: payees,
    /// then the donation. `None` for a solo plan, whose outputs depend on the miner.
    pub fn shared_outputs(&self, value: u64) -> Option<Vec<(ScriptBuf, u64)>> {
        let PayoutPlan::Pool { payees, .. } = self else {
            return None;
        };
        let (donation, rest) = self.take_donation(value);
        let mut out = payees.split(rest);
        out.extend(donation);
        Some(out)
    }

    /// The outputs of a coinbase paying `miner` under this plan: in solo mode the miner
    /// gets the reward less donation; in pool mode every miner gets the shared outputs; in
    /// p2pool mode the tip's window is paid (the miner alone while it is empty), without
    /// the share's commitment output.
    pub fn outputs_for(&self, value: u64, miner: &ScriptBuf) -> Vec<(ScriptBuf, u64)> {
        if let PayoutPlan::P2pool(work) = self {
            return work.outputs(value, miner);
        }
        if let Some(shared) = self.shared_outputs(value) {
            return shared;
        }
        let (donation, rest) = self.take_donation(value);
        let mut out = vec![(miner.clone(), rest)];
        out.extend(donation);
        out
    }
}

/// ckpool's donation: `value * percent / 100` in floating point, truncated.
fn donation_amount(value: u64, percent: f64) -> u64 {
    let d = (value as f64 * percent / 100.0) as u64;
    d.min(value)
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
        let plan = PayoutPlan::solo(Some(Donation {
            script: script(9),
            percent: 2.0,
        }));
        let out = plan.outputs_for(625_002_820, &script(1));
        assert_eq!(out, vec![(script(1), 612_502_764), (script(9), 12_500_056)]);
        assert_eq!(plan.shared_outputs(625_002_820), None);
    }

    #[test]
    fn weights_sum_to_value_exactly() {
        let list: Vec<WeightedPayee> = (1..=7)
            .map(|i| WeightedPayee {
                script: script(i),
                weight: u64::from(i) * 3,
            })
            .collect();
        let plan = PayoutPlan::pool(PoolPayees::new(list).unwrap(), None);
        let out = plan.shared_outputs(5_000_000_001).unwrap();
        assert_eq!(out.iter().map(|o| o.1).sum::<u64>(), 5_000_000_001);
        // weight 3/84 of 5_000_000_001 = 178571428 (floor) plus the remainder of rounding
        assert_eq!(out[1].1, 5_000_000_001u64 * 6 / 84);
        assert_eq!(out[6].1, 5_000_000_001u64 * 21 / 84);
        // Every miner of a pool gets the same outputs.
        assert_eq!(plan.outputs_for(5_000_000_001, &script(99)), out);
    }

    #[test]
    fn huge_weights_do_not_overflow() {
        let list = vec![
            WeightedPayee {
                script: script(1),
                weight: u64::MAX,
            },
            WeightedPayee {
                script: script(2),
                weight: u64::MAX,
            },
        ];
        let out = PoolPayees::new(list)
            .unwrap()
            .split(21_000_000 * 100_000_000);
        assert_eq!(out[0].1, 1_050_000_000_000_000);
        assert_eq!(out[1].1, 1_050_000_000_000_000);
    }

    #[test]
    fn lists_are_checked_when_made() {
        assert_eq!(PoolPayees::new(vec![]), Err(PayeesError::Count(0)));
        let one = |weight| WeightedPayee {
            script: script(1),
            weight,
        };
        assert_eq!(
            PoolPayees::new(vec![one(1), one(0)]),
            Err(PayeesError::ZeroWeight(1))
        );
        assert_eq!(
            PoolPayees::new(vec![one(1); MAX_PAYOUTS + 1]),
            Err(PayeesError::Count(MAX_PAYOUTS + 1))
        );
        assert!(PoolPayees::new(vec![one(1); MAX_PAYOUTS]).is_ok());
    }

    #[test]
    fn only_a_pool_plan_takes_a_new_list() {
        let list = PoolPayees::new(vec![WeightedPayee {
            script: script(3),
            weight: 1,
        }])
        .unwrap();
        assert_eq!(PayoutPlan::solo(None).with_pool_payees(list.clone()), None);
        let donation = Some(Donation {
            script: script(9),
            percent: 1.0,
        });
        let pool = PayoutPlan::pool(list.clone(), donation.clone());
        let replaced = pool.with_pool_payees(list.clone()).unwrap();
        assert_eq!(replaced, PayoutPlan::pool(list, donation));
        assert_eq!(replaced.mode(), Mode::Pool);
    }
}

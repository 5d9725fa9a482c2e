//! Operator control of a running server: the actions behind ckpool's unix-socket commands
//! and the two P2Poolv2 needed (set the coinbase payouts, set the miners' difficulty).
//! Each action validates its input completely before changing anything.
//!
//! The layers: [`socket`] reads ckpool-framed requests, [`Handler`] turns one into a reply,
//! [`command`] parses it into a typed [`command::Command`] and applies it through
//! [`Control`], the actions here.

use std::str::FromStr;
use std::sync::Arc;

use bitcoin::address::NetworkUnchecked;
use bitcoin::Address;
use tokio::sync::watch;

use crate::stats::Stats;
use crate::stratum::ServerContext;
use crate::work::payout::{PayeesError, PoolPayees, WeightedPayee};
use crate::work::PayoutPlan;

pub mod command;
mod error;
mod handler;
pub mod socket;
#[cfg(test)]
mod test_fixture;

pub use crate::work::payout::MAX_PAYOUTS;
pub use error::ControlError;
pub use handler::Handler;

/// One requested payout: an address and its weight. Weights are relative: each job's
/// coinbase value (less donation) is split in their proportions, as the `payouts` key
/// splits it.
#[derive(Debug, Clone, PartialEq)]
pub struct PayoutRequest {
    /// The address paid.
    pub address: String,
    /// Weight (> 0).
    pub weight: u64,
}

/// A cloneable handle to the running server's controls.
#[derive(Clone)]
pub struct Control {
    ctx: Arc<ServerContext>,
    plan: watch::Sender<Option<Arc<PayoutPlan>>>,
    stats: Arc<Stats>,
}

impl std::fmt::Debug for Control {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Control")
    }
}

impl Control {
    /// A handle over the server's parts: `plan` is the job loop's payout plan.
    pub fn new(
        ctx: Arc<ServerContext>,
        plan: watch::Sender<Option<Arc<PayoutPlan>>>,
        stats: Arc<Stats>,
    ) -> Self {
        Control { ctx, plan, stats }
    }

    /// Replaces the pool-mode payout outputs; the job loop rebuilds the job from the last
    /// template at once, so they apply from the next job.
    pub fn set_payouts(&self, requests: &[PayoutRequest]) -> Result<(), ControlError> {
        match self.ctx.mode {
            crate::work::Mode::P2pool => return Err(ControlError::P2poolMode),
            crate::work::Mode::Solo => return Err(ControlError::SoloMode),
            crate::work::Mode::Pool => {}
        }
        if requests.is_empty() || requests.len() > MAX_PAYOUTS {
            return Err(PayeesError::Count(requests.len()).into());
        }
        let network = self.ctx.network.get().copied();
        let mut payees = Vec::with_capacity(requests.len());
        for (entry, r) in requests.iter().enumerate() {
            if r.weight == 0 {
                return Err(PayeesError::ZeroWeight(entry).into());
            }
            let unchecked =
                Address::<NetworkUnchecked>::from_str(&r.address).map_err(|source| {
                    ControlError::NotAnAddress {
                        entry,
                        address: r.address.clone(),
                        source,
                    }
                })?;
            let Some(network) = network else {
                return Err(ControlError::ChainUnknown);
            };
            let address =
                unchecked
                    .require_network(network)
                    .map_err(|_| ControlError::WrongNetwork {
                        entry,
                        address: r.address.clone(),
                        network,
                    })?;
            payees.push(WeightedPayee {
                script: address.script_pubkey(),
                weight: r.weight,
            });
        }
        let payees = PoolPayees::new(payees)?;
        let replaced = self.plan.send_if_modified(|plan| {
            match plan
                .as_ref()
                .and_then(|p| p.with_pool_payees(payees.clone()))
            {
                Some(new) => {
                    *plan = Some(Arc::new(new));
                    true
                }
                None => false,
            }
        });
        if !replaced {
            return Err(ControlError::PlanNotReady);
        }
        tracing::info!(outputs = requests.len(), "payouts set by control request");
        Ok(())
    }

    /// Fixes every miner's difficulty (sessions apply it at once), or with `None` returns
    /// them to vardiff.
    pub fn set_difficulty(&self, diff: Option<f64>) -> Result<(), ControlError> {
        if let Some(d) = diff {
            if !d.is_finite() || d <= 0.0 {
                return Err(ControlError::Difficulty(d));
            }
        }
        self.ctx.set_fixed_difficulty(diff);
        tracing::info!(?diff, "miners' difficulty set by control request");
        Ok(())
    }

    /// Asks every miner to reconnect.
    pub fn reconnect_all(&self) {
        tracing::info!("reconnect requested for all miners");
        self.ctx.reconnect_all();
    }

    /// A summary of the server's counters, for ckpool's `stats`-style commands.
    pub fn stats(&self) -> serde_json::Value {
        let s = self.stats.snapshot();
        serde_json::json!({
            "connections": s.connections,
            "authorized": s.authorized,
            "accepted": s.accepted,
            "rejected": s.rejected,
            "accepted_diff": s.accepted_diff,
            "blocks_found": s.blocks_found,
            "blocks_accepted": s.blocks_accepted,
            "blocks_rejected": s.blocks_rejected,
            "fixed_difficulty": self.ctx.fixed_difficulty(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::test_fixture::fixture;

    #[test]
    fn control_rejects_nan_and_infinite_difficulty() {
        // JSON cannot carry these; the Control beneath refuses them anyway.
        let f = fixture(false);
        for d in [f64::NAN, f64::INFINITY, -0.5, 0.0] {
            assert!(f.handler.control.set_difficulty(Some(d)).is_err(), "{d}");
        }
        assert_eq!(f.ctx.fixed_difficulty(), None);
    }
}

//! Operator control of a running server: the actions behind ckpool's unix-socket commands
//! and the two P2Poolv2 needed (set the coinbase payouts, set the miners' difficulty).
//! Each action validates its input completely before changing anything.

use std::str::FromStr;
use std::sync::{Arc, OnceLock};

use bitcoin::address::NetworkUnchecked;
use bitcoin::{Address, Network};
use tokio::sync::mpsc;

use crate::stats::Stats;
use crate::stratum::ServerContext;
use crate::work::payout::{PayoutMode, PayoutPlan, WeightedPayee};
use crate::work::JobBuilder;

pub mod commands;
pub mod socket;

/// Most payout outputs a control request may set.
pub const MAX_PAYOUTS: usize = 500;

/// Why a control request was refused (nothing was changed).
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ControlError {
    /// The request's content is invalid.
    #[error("{0}")]
    Invalid(String),
    /// The request does not apply to this server's mode.
    #[error("{0}")]
    NotApplicable(String),
}

/// One requested payout: an address and its weight (an amount in satoshis is a weight too:
/// amounts that sum to the coinbase value less donation are paid exactly, otherwise they
/// are scaled proportionally).
#[derive(Debug, Clone, PartialEq)]
pub struct PayoutRequest {
    /// The address paid.
    pub address: String,
    /// Weight or amount (> 0).
    pub weight: u64,
}

/// A cloneable handle to the running server's controls.
#[derive(Clone)]
pub struct Control {
    ctx: Arc<ServerContext>,
    builder: Arc<JobBuilder>,
    refresh: mpsc::Sender<String>,
    network: Arc<OnceLock<Network>>,
    stats: Arc<Stats>,
    solo: bool,
}

impl std::fmt::Debug for Control {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Control")
    }
}

impl Control {
    /// A handle over the server's parts.
    pub fn new(
        ctx: Arc<ServerContext>,
        builder: Arc<JobBuilder>,
        refresh: mpsc::Sender<String>,
        network: Arc<OnceLock<Network>>,
        stats: Arc<Stats>,
        solo: bool,
    ) -> Self {
        Control {
            ctx,
            builder,
            refresh,
            network,
            stats,
            solo,
        }
    }

    /// Replaces the pool-mode payout outputs; they apply from the next job, which is
    /// requested at once.
    pub fn set_payouts(&self, requests: &[PayoutRequest]) -> Result<(), ControlError> {
        if self.solo {
            return Err(ControlError::NotApplicable(
                "solo mode (-B) pays each miner at its own address; payouts apply to pool mode"
                    .into(),
            ));
        }
        if requests.is_empty() || requests.len() > MAX_PAYOUTS {
            return Err(ControlError::Invalid(format!(
                "payouts needs 1 to {MAX_PAYOUTS} entries, got {}",
                requests.len()
            )));
        }
        let network = self.network.get().copied();
        let mut payees = Vec::with_capacity(requests.len());
        for (i, r) in requests.iter().enumerate() {
            if r.weight == 0 {
                return Err(ControlError::Invalid(format!(
                    "entry {i}: weight must be above 0"
                )));
            }
            let unchecked = Address::<NetworkUnchecked>::from_str(&r.address).map_err(|e| {
                ControlError::Invalid(format!(
                    "entry {i}: `{}` is not an address ({e})",
                    r.address
                ))
            })?;
            let address = match network {
                Some(n) => unchecked.require_network(n).map_err(|_| {
                    ControlError::Invalid(format!(
                        "entry {i}: `{}` is not an address on {n}",
                        r.address
                    ))
                })?,
                None => {
                    return Err(ControlError::Invalid(
                        "the chain is not known yet (bitcoind not reached); retry".into(),
                    ))
                }
            };
            payees.push(WeightedPayee {
                script: address.script_pubkey(),
                weight: r.weight,
            });
        }
        let donation = self.builder.plan().donation.clone();
        self.builder.set_plan(PayoutPlan {
            mode: PayoutMode::Pool(payees),
            donation,
        });
        tracing::info!(outputs = requests.len(), "payouts set by control request");
        let _ = self.refresh.try_send("control: payouts".into());
        Ok(())
    }

    /// Fixes every miner's difficulty (from its next job, requested at once), or with
    /// `None` returns them to vardiff.
    pub fn set_difficulty(&self, diff: Option<f64>) -> Result<(), ControlError> {
        if let Some(d) = diff {
            if !d.is_finite() || d <= 0.0 {
                return Err(ControlError::Invalid(format!(
                    "difficulty must be a number above 0, got {d}"
                )));
            }
        }
        self.ctx.set_fixed_difficulty(diff);
        tracing::info!(?diff, "miners' difficulty set by control request");
        let _ = self.refresh.try_send("control: difficulty".into());
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

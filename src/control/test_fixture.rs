//! A [`Handler`] over a test server context, and helpers to send it requests and see what
//! they changed. Shared by the tests of every command and of the socket.

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, OnceLock};

use bitcoin::{Address, KnownHrp, Network, ScriptBuf, WitnessProgram, WitnessVersion};
use serde_json::Value;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::{Control, Handler};
use crate::log_level;
use crate::stats::Stats;
use crate::stratum::context::test_context;
use crate::stratum::ServerContext;
use crate::work::payout::{PayoutPlan, PoolPayees, WeightedPayee};
use crate::work::Mode;

pub(super) struct Fixture {
    pub handler: Handler,
    pub ctx: Arc<ServerContext>,
    pub plan: watch::Receiver<Option<Arc<PayoutPlan>>>,
    /// The last level the handler's log level setter was given.
    pub level: Arc<AtomicU8>,
    pub shutdown: CancellationToken,
}

pub(super) fn address(n: u8, hrp: KnownHrp) -> Address {
    let program = WitnessProgram::new(WitnessVersion::V0, &[n; 20]).unwrap();
    Address::from_witness_program(program, hrp)
}

pub(super) fn regtest(n: u8) -> String {
    address(n, KnownHrp::Regtest).to_string()
}

/// A regtest server in solo or pool mode; pool mode pays `address(9)`.
pub(super) fn fixture(solo: bool) -> Fixture {
    fixture_in(if solo { Mode::Solo } else { Mode::Pool })
}

/// A regtest server in `mode` (p2pool: on an empty chain of the regtest preset).
pub(super) fn fixture_in(mode: Mode) -> Fixture {
    let stats = Arc::new(Stats::default());
    let network = Arc::new(OnceLock::new());
    network.set(Network::Regtest).unwrap();
    let ctx = Arc::new(test_context(mode, network, stats.clone()));
    let plan = if mode == Mode::Solo {
        PayoutPlan::solo(None)
    } else if mode == Mode::P2pool {
        let spec = crate::p2pool::spec::ChainSpec::preset("regtest").unwrap();
        PayoutPlan::P2pool(crate::p2pool::chain::Chain::new(spec).tip_work())
    } else {
        let payees = PoolPayees::new(vec![WeightedPayee {
            script: address(9, KnownHrp::Regtest).script_pubkey(),
            weight: 1,
        }])
        .unwrap();
        PayoutPlan::pool(payees, None)
    };
    let (plan_tx, plan_rx) = watch::channel(Some(Arc::new(plan)));
    let control = Control::new(ctx.clone(), plan_tx, stats);
    let level = Arc::new(AtomicU8::new(5));
    let seen = level.clone();
    let setter: log_level::Setter = Box::new(move |l| {
        seen.store(l, Ordering::SeqCst);
        Ok(())
    });
    let shutdown = CancellationToken::new();
    Fixture {
        handler: Handler::new(control, shutdown.clone(), Some(Arc::new(setter))),
        ctx,
        plan: plan_rx,
        level,
        shutdown,
    }
}

pub(super) fn json_reply(f: &Fixture, req: &str) -> Value {
    let r = f.handler.handle(req.as_bytes());
    serde_json::from_str(&r).unwrap_or_else(|e| panic!("reply {r} is not JSON: {e}"))
}

pub(super) fn plan(f: &Fixture) -> Arc<PayoutPlan> {
    f.plan.borrow().clone().unwrap()
}

/// The pool-mode payout scripts, in coinbase order.
pub(super) fn scripts(f: &Fixture) -> Vec<ScriptBuf> {
    match &*plan(f) {
        PayoutPlan::Pool { payees, .. } => {
            payees.entries().iter().map(|w| w.script.clone()).collect()
        }
        PayoutPlan::Solo { .. } | PayoutPlan::P2pool(_) => Vec::new(),
    }
}

/// Asserts `req` gets an error reply mentioning `needle` and changes nothing.
pub(super) fn refused(f: &Fixture, req: &str, needle: &str) {
    let before = plan(f);
    let diff = f.ctx.fixed_difficulty();
    let v = json_reply(f, req);
    assert_eq!(v["result"], Value::Null, "{req} → {v}");
    let e = v["error"].as_str().unwrap_or_else(|| panic!("{req} → {v}"));
    assert!(e.contains(needle), "{req} → `{e}` lacks `{needle}`");
    assert_eq!(plan(f), before, "{req} changed the payouts");
    assert_eq!(
        f.ctx.fixed_difficulty(),
        diff,
        "{req} changed the difficulty"
    );
}

//! The control socket's commands: parsing one request and carrying it out through
//! [`Control`], producing the reply text. Independent of the socket so it can be tested
//! without one.
//!
//! Two kinds of request share the socket, told apart by the first byte:
//!
//! * ckpool's plain-text commands, matched as ckpool's `cmdmatch` does (a case-insensitive
//!   prefix): `ping` → `pong`; `loglevel=<0-7>` → `success`, `Invalid` (out of range) or
//!   `Failed` (unparseable, or the log level cannot be changed in this process);
//!   `reconnect` → `reconnecting` (every miner gets `client.reconnect`); `stats`,
//!   `stratifierstats`, `connectorstats` → a JSON object of counters; `shutdown` (exact) →
//!   `exiting`, then the server stops; anything else → `unknown`.
//! * Ours, a JSON object (first byte `{`): `{"method":"setpayouts","params":[…]}` and
//!   `{"method":"setdifficulty","params":[d]}`, answered with
//!   `{"result":…,"error":null}` or `{"result":null,"error":"why"}` (and the request's
//!   `id`, when it had one).
//!
//! A request that is malformed or invalid in any part changes nothing: parsing finishes
//! before [`Control`] is called, and [`Control`] validates fully before it changes anything.

use std::sync::Arc;

use serde::Deserialize;
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

use super::{Control, ControlError, PayoutRequest, MAX_PAYOUTS};
use crate::log_level;

/// Carries out control requests for one server.
#[derive(Clone)]
pub struct Handler {
    control: Control,
    shutdown: CancellationToken,
    log_level: Option<Arc<log_level::Setter>>,
}

impl std::fmt::Debug for Handler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Handler")
            .field("log_level", &self.log_level.is_some())
            .finish_non_exhaustive()
    }
}

/// ckpool's `cmdmatch`: `buf` starts with `cmd`, ignoring ASCII case.
fn cmdmatch(buf: &str, cmd: &str) -> bool {
    buf.len() >= cmd.len() && buf.as_bytes()[..cmd.len()].eq_ignore_ascii_case(cmd.as_bytes())
}

/// One requested payout as sent: an address and its weight. `amount` is named only to be
/// refused with a clear reason: payouts are weights, never satoshi amounts.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PayoutParam {
    address: String,
    #[serde(default)]
    weight: Option<u64>,
    #[serde(default)]
    amount: Option<serde::de::IgnoredAny>,
}

/// Our JSON request.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonRequest {
    method: String,
    #[serde(default)]
    params: Value,
    #[serde(default)]
    id: Option<Value>,
}

impl Handler {
    /// A handler acting on `control`; `shutdown` is cancelled by the `shutdown` command;
    /// `log_level` serves `loglevel=` (without one, `loglevel=` answers `Failed`).
    pub fn new(
        control: Control,
        shutdown: CancellationToken,
        log_level: Option<Arc<log_level::Setter>>,
    ) -> Self {
        Handler {
            control,
            shutdown,
            log_level,
        }
    }

    /// Carries out one request (the framed message's bytes) and returns the reply text.
    pub fn handle(&self, msg: &[u8]) -> String {
        let Ok(text) = std::str::from_utf8(msg) else {
            tracing::warn!("control request is not UTF-8");
            return "failed".into();
        };
        // ckpmsg strips the newline; other senders may not.
        let text = text.trim_end_matches(['\n', '\r', '\0']);
        if text.trim_start().starts_with('{') {
            self.handle_json(text)
        } else {
            self.handle_plain(text)
        }
    }

    fn handle_plain(&self, buf: &str) -> String {
        if cmdmatch(buf, "ping") {
            tracing::debug!("control: ping");
            "pong".into()
        } else if cmdmatch(buf, "loglevel") {
            self.loglevel(buf)
        } else if cmdmatch(buf, "reconnect") {
            if !buf.eq_ignore_ascii_case("reconnect") {
                tracing::warn!("control: `{buf}` refused: only a plain `reconnect` is served");
                return "Invalid".into();
            }
            self.control.reconnect_all();
            "reconnecting".into()
        } else if cmdmatch(buf, "stratifierstats")
            || cmdmatch(buf, "connectorstats")
            || cmdmatch(buf, "stats")
        {
            self.control.stats().to_string()
        } else if buf.eq_ignore_ascii_case("shutdown") {
            tracing::warn!("control: shutdown requested");
            self.shutdown.cancel();
            "exiting".into()
        } else {
            tracing::info!("control: unhandled message `{}`", truncate(buf, 80));
            "unknown".into()
        }
    }

    fn loglevel(&self, buf: &str) -> String {
        let Some(level) = buf
            .get("loglevel".len()..)
            .and_then(|rest| rest.strip_prefix('='))
            .and_then(|v| v.trim().parse::<i64>().ok())
        else {
            tracing::warn!(
                "control: cannot parse loglevel message `{}`",
                truncate(buf, 80)
            );
            return "Failed".into();
        };
        if !(0..=i64::from(log_level::MAX)).contains(&level) {
            tracing::warn!("control: invalid loglevel {level} sent");
            return "Invalid".into();
        }
        let Some(setter) = &self.log_level else {
            tracing::warn!("control: loglevel cannot be changed in this process");
            return "Failed".into();
        };
        match setter(level as u8) {
            Ok(()) => {
                tracing::warn!("control: log level set to {level}");
                "success".into()
            }
            Err(e) => {
                tracing::warn!("control: cannot set log level {level}: {e}");
                "Failed".into()
            }
        }
    }

    fn handle_json(&self, text: &str) -> String {
        let request: JsonRequest = match serde_json::from_str(text) {
            Ok(r) => r,
            Err(e) => return reply(None, Err(format!("malformed request: {e}"))),
        };
        let result = match request.method.as_str() {
            "setpayouts" => self.set_payouts(&request.params),
            "setdifficulty" => self.set_difficulty(&request.params),
            other => Err(format!(
                "unknown method `{}`; the methods are setpayouts and setdifficulty",
                truncate(other, 40)
            )),
        };
        if let Err(e) = &result {
            tracing::warn!("control: {} refused: {e}", truncate(&request.method, 40));
        }
        reply(request.id, result)
    }

    fn set_payouts(&self, params: &Value) -> Result<Value, String> {
        let requests = parse_payouts(params)?;
        self.control
            .set_payouts(&requests)
            .map_err(|e: ControlError| e.to_string())?;
        Ok(json!({ "outputs": requests.len() }))
    }

    fn set_difficulty(&self, params: &Value) -> Result<Value, String> {
        let diff = parse_difficulty(params)?;
        self.control
            .set_difficulty(diff)
            .map_err(|e: ControlError| e.to_string())?;
        Ok(json!({ "difficulty": diff }))
    }
}

/// `setpayouts`' params: 1 to [`MAX_PAYOUTS`] `{"address", "weight"}` objects.
fn parse_payouts(params: &Value) -> Result<Vec<PayoutRequest>, String> {
    let Some(entries) = params.as_array() else {
        return Err(
            "setpayouts params must be an array of {\"address\", \"weight\"} objects".into(),
        );
    };
    if entries.is_empty() || entries.len() > MAX_PAYOUTS {
        return Err(format!(
            "payouts needs 1 to {MAX_PAYOUTS} entries, got {}",
            entries.len()
        ));
    }
    let mut requests = Vec::with_capacity(entries.len());
    for (i, entry) in entries.iter().enumerate() {
        let p = PayoutParam::deserialize(entry).map_err(|e| format!("entry {i}: {e}"))?;
        if p.amount.is_some() {
            return Err(format!(
                "entry {i}: `amount` is not taken: payouts are weights, and each job's \
                 coinbase value (less donation) is split in their proportions"
            ));
        }
        let Some(weight) = p.weight else {
            return Err(format!("entry {i}: needs a `weight`"));
        };
        if weight == 0 {
            return Err(format!("entry {i}: weight must be above 0"));
        }
        requests.push(PayoutRequest {
            address: p.address,
            weight,
        });
    }
    Ok(requests)
}

/// `setdifficulty`'s params: `[d]` with `d` above 0, or `[null]` for vardiff.
fn parse_difficulty(params: &Value) -> Result<Option<f64>, String> {
    match params.as_array().map(Vec::as_slice) {
        Some([Value::Null]) => Ok(None),
        Some([v @ Value::Number(n)]) => match n.as_f64() {
            Some(d) if d.is_finite() && d > 0.0 => Ok(Some(d)),
            _ => Err(format!("difficulty must be a number above 0, got {v}")),
        },
        Some([v]) => Err(format!(
            "difficulty must be a number above 0 or null, got {}",
            truncate(&v.to_string(), 40)
        )),
        _ => Err("setdifficulty params must be [difficulty] or [null]".into()),
    }
}

fn reply(id: Option<Value>, result: Result<Value, String>) -> String {
    let mut v = match result {
        Ok(r) => json!({ "result": r, "error": null }),
        Err(e) => json!({ "result": null, "error": e }),
    };
    if let Some(id) = id {
        v["id"] = id;
    }
    v.to_string()
}

fn truncate(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

#[cfg(test)]
pub(super) mod tests {
    use std::sync::atomic::{AtomicU8, Ordering};
    use std::sync::OnceLock;

    use bitcoin::{Address, KnownHrp, Network, ScriptBuf, WitnessProgram, WitnessVersion};
    use tokio::sync::watch;

    use super::*;
    use crate::stats::Stats;
    use crate::stratum::context::test_context;
    use crate::stratum::ServerContext;
    use crate::work::payout::{PayoutPlan, PoolPayees, WeightedPayee};
    use crate::work::Mode;

    pub(in crate::control) struct Fixture {
        pub handler: Handler,
        pub ctx: Arc<ServerContext>,
        pub plan: watch::Receiver<Option<Arc<PayoutPlan>>>,
        pub level: Arc<AtomicU8>,
        pub shutdown: CancellationToken,
    }

    fn address(n: u8, hrp: KnownHrp) -> Address {
        let program = WitnessProgram::new(WitnessVersion::V0, &[n; 20]).unwrap();
        Address::from_witness_program(program, hrp)
    }

    fn regtest(n: u8) -> String {
        address(n, KnownHrp::Regtest).to_string()
    }

    pub(in crate::control) fn fixture(solo: bool) -> Fixture {
        let stats = Arc::new(Stats::default());
        let network = Arc::new(OnceLock::new());
        network.set(Network::Regtest).unwrap();
        let mode = if solo { Mode::Solo } else { Mode::Pool };
        let ctx = Arc::new(test_context(mode, network, stats.clone()));
        let plan = if solo {
            PayoutPlan::solo(None)
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

    fn json_reply(f: &Fixture, req: &str) -> Value {
        let r = f.handler.handle(req.as_bytes());
        serde_json::from_str(&r).unwrap_or_else(|e| panic!("reply {r} is not JSON: {e}"))
    }

    fn plan(f: &Fixture) -> Arc<PayoutPlan> {
        f.plan.borrow().clone().unwrap()
    }

    fn scripts(f: &Fixture) -> Vec<ScriptBuf> {
        match &*plan(f) {
            PayoutPlan::Pool { payees, .. } => {
                payees.entries().iter().map(|w| w.script.clone()).collect()
            }
            PayoutPlan::Solo { .. } => Vec::new(),
        }
    }

    /// Asserts `req` gets an error reply mentioning `needle` and changes nothing.
    fn refused(f: &Fixture, req: &str, needle: &str) {
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

    #[test]
    fn ckpool_plain_commands() {
        let f = fixture(false);
        assert_eq!(f.handler.handle(b"ping"), "pong");
        assert_eq!(f.handler.handle(b"PING\n"), "pong");
        assert_eq!(f.handler.handle(b"loglevel=7"), "success");
        assert_eq!(f.level.load(Ordering::SeqCst), 7);
        assert_eq!(f.handler.handle(b"loglevel=8"), "Invalid");
        assert_eq!(f.handler.handle(b"loglevel=-1"), "Invalid");
        assert_eq!(f.handler.handle(b"loglevel=x"), "Failed");
        assert_eq!(f.handler.handle(b"loglevel"), "Failed");
        assert_eq!(
            f.level.load(Ordering::SeqCst),
            7,
            "refused levels change nothing"
        );
        let mut directives = f.ctx.directives();
        assert_eq!(f.handler.handle(b"reconnect"), "reconnecting");
        assert!(directives.has_changed().unwrap());
        assert_eq!(directives.borrow_and_update().reconnect, 1);
        assert_eq!(f.handler.handle(b"reconnect:example.com:3333"), "Invalid");
        assert!(!directives.has_changed().unwrap());
        let stats: Value = serde_json::from_str(&f.handler.handle(b"stats")).unwrap();
        assert!(stats.get("accepted").is_some(), "{stats}");
        assert!(f.handler.handle(b"stratifierstats").starts_with('{'));
        assert_eq!(f.handler.handle(b"getxfd0"), "unknown");
        assert_eq!(f.handler.handle(b"shutdownx"), "unknown");
        assert_eq!(f.handler.handle(&[0xff, 0xfe]), "failed");
        assert!(!f.shutdown.is_cancelled());
        assert_eq!(f.handler.handle(b"shutdown"), "exiting");
        assert!(f.shutdown.is_cancelled());
    }

    #[test]
    fn loglevel_without_a_setter_fails() {
        let f = fixture(false);
        let h = Handler::new(f.handler.control.clone(), CancellationToken::new(), None);
        assert_eq!(h.handle(b"loglevel=5"), "Failed");
    }

    #[test]
    fn setpayouts_replaces_the_outputs_in_order() {
        let f = fixture(false);
        let req = json!({"method": "setpayouts", "id": 4, "params": [
            {"address": regtest(1), "weight": 1},
            {"address": regtest(2), "weight": 2},
            {"address": regtest(3), "weight": 3},
        ]});
        let v = json_reply(&f, &req.to_string());
        assert_eq!(v, json!({"result": {"outputs": 3}, "error": null, "id": 4}));
        assert_eq!(
            scripts(&f),
            (1..=3)
                .map(|n| address(n, KnownHrp::Regtest).script_pubkey())
                .collect::<Vec<_>>()
        );
        let req = json!({"method": "setpayouts", "params": [
            {"address": regtest(4), "weight": 100_000},
            {"address": regtest(5), "weight": 200_000},
        ]});
        assert_eq!(json_reply(&f, &req.to_string())["error"], Value::Null);
        match &*plan(&f) {
            PayoutPlan::Pool { payees, .. } => {
                assert_eq!(
                    payees
                        .entries()
                        .iter()
                        .map(|w| w.weight)
                        .collect::<Vec<_>>(),
                    [100_000, 200_000]
                )
            }
            PayoutPlan::Solo { .. } => panic!("solo"),
        }
        let max: Vec<Value> = (0..MAX_PAYOUTS)
            .map(|i| json!({"address": regtest((i % 250) as u8), "weight": 1}))
            .collect();
        let v = json_reply(
            &f,
            &json!({"method": "setpayouts", "params": max}).to_string(),
        );
        assert_eq!(v["result"]["outputs"], MAX_PAYOUTS, "{v}");
    }

    #[test]
    fn invalid_setpayouts_change_nothing() {
        let f = fixture(false);
        let a = regtest(1);
        let too_many: Vec<Value> = (0..=MAX_PAYOUTS)
            .map(|_| json!({"address": a, "weight": 1}))
            .collect();
        let mainnet = address(1, KnownHrp::Mainnet).to_string();
        for (req, needle) in [
            ("{".to_string(), "malformed"),
            ("{\"method\": \"setpayouts\"".to_string(), "malformed"),
            ("{\"params\": []}".to_string(), "malformed"),
            (json!({"method": "setpayouts", "bogus": 1}).to_string(), "malformed"),
            (json!({"method": "nosuch", "params": []}).to_string(), "unknown method"),
            (json!({"method": "setpayouts"}).to_string(), "array"),
            (json!({"method": "setpayouts", "params": {}}).to_string(), "array"),
            (json!({"method": "setpayouts", "params": []}).to_string(), "1 to 1000"),
            (json!({"method": "setpayouts", "params": too_many}).to_string(), "got 1001"),
            (
                json!({"method": "setpayouts", "params": [{"address": "nonsense", "weight": 1}]}).to_string(),
                "not an address",
            ),
            (
                json!({"method": "setpayouts", "params": [{"address": a, "weight": 1}, {"address": mainnet, "weight": 1}]}).to_string(),
                "entry 1",
            ),
            (
                json!({"method": "setpayouts", "params": [{"address": a, "weight": 0}]}).to_string(),
                "above 0",
            ),
            (
                json!({"method": "setpayouts", "params": [{"address": a, "amount": 100}]}).to_string(),
                "payouts are weights",
            ),
            (
                json!({"method": "setpayouts", "params": [{"address": a, "weight": -1}]}).to_string(),
                "entry 0",
            ),
            (
                json!({"method": "setpayouts", "params": [{"address": a, "weight": 1.5}]}).to_string(),
                "entry 0",
            ),
            (
                json!({"method": "setpayouts", "params": [{"address": a}]}).to_string(),
                "needs a `weight`",
            ),
            (
                json!({"method": "setpayouts", "params": [{"address": a, "weight": 1, "amount": 1}]}).to_string(),
                "payouts are weights",
            ),
            (
                json!({"method": "setpayouts", "params": [{"address": a, "weight": 1, "extra": true}]}).to_string(),
                "unknown field",
            ),
            (
                json!({"method": "setpayouts", "params": [{"address": 7, "weight": 1}]}).to_string(),
                "entry 0",
            ),
        ] {
            refused(&f, &req, needle);
        }
        assert_eq!(scripts(&f), [address(9, KnownHrp::Regtest).script_pubkey()]);
    }

    #[test]
    fn setpayouts_in_solo_mode_is_refused() {
        let f = fixture(true);
        refused(
            &f,
            &json!({"method": "setpayouts", "params": [{"address": regtest(1), "weight": 1}]})
                .to_string(),
            "solo",
        );
    }

    #[test]
    fn setdifficulty_sets_and_clears() {
        let f = fixture(false);
        let v = json_reply(&f, r#"{"method":"setdifficulty","params":[0.002]}"#);
        assert_eq!(v, json!({"result": {"difficulty": 0.002}, "error": null}));
        assert_eq!(f.ctx.fixed_difficulty(), Some(0.002));
        for (req, needle) in [
            (r#"{"method":"setdifficulty","params":[0]}"#, "above 0"),
            (r#"{"method":"setdifficulty","params":[-1]}"#, "above 0"),
            (r#"{"method":"setdifficulty","params":["1"]}"#, "above 0"),
            (
                r#"{"method":"setdifficulty","params":[1e400]}"#,
                "malformed",
            ),
            (r#"{"method":"setdifficulty","params":[NaN]}"#, "malformed"),
            (r#"{"method":"setdifficulty","params":[]}"#, "[difficulty]"),
            (
                r#"{"method":"setdifficulty","params":[1, 2]}"#,
                "[difficulty]",
            ),
            (r#"{"method":"setdifficulty","params":2}"#, "[difficulty]"),
            (r#"{"method":"setdifficulty"}"#, "[difficulty]"),
        ] {
            refused(&f, req, needle);
        }
        assert_eq!(f.ctx.fixed_difficulty(), Some(0.002));
        let v = json_reply(&f, r#"{"method":"setdifficulty","params":[null]}"#);
        assert_eq!(v, json!({"result": {"difficulty": null}, "error": null}));
        assert_eq!(f.ctx.fixed_difficulty(), None);
    }

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

//! Our `{"method":"setpayouts","params":[{"address":…,"weight":…},…]}`: replaces the
//! pool-mode coinbase outputs, from the next job on. Answers `{"result":{"outputs":n},…}`.

use serde::Deserialize;
use serde_json::{json, Value};

use super::{JsonError, Reply};
use crate::control::{Handler, PayoutRequest, MAX_PAYOUTS};
use crate::work::payout::PayeesError;

/// The payouts asked for, in coinbase order.
#[derive(Debug, Clone, PartialEq)]
pub struct SetPayouts {
    payouts: Vec<PayoutRequest>,
}

/// Why `setpayouts`' params were refused.
#[derive(Debug, thiserror::Error)]
pub enum PayoutsParamsError {
    /// Not an array.
    #[error("setpayouts params must be an array of {{\"address\", \"weight\"}} objects")]
    NotArray,
    /// Too few or too many entries, or a weight of 0: the limits a payout list has.
    #[error(transparent)]
    Payees(#[from] PayeesError),
    /// An entry that is not an `{"address", "weight"}` object.
    #[error("entry {entry}: {source}")]
    Entry {
        /// The entry's index.
        entry: usize,
        /// What is wrong with it.
        source: serde_json::Error,
    },
    /// An entry with an `amount`: payouts are weights, never satoshi amounts.
    #[error(
        "entry {0}: `amount` is not taken: payouts are weights, and each job's coinbase \
         value (less donation) is split in their proportions"
    )]
    Amount(usize),
    /// An entry without a `weight`.
    #[error("entry {0}: needs a `weight`")]
    NoWeight(usize),
}

/// One payout as sent. `amount` is named only to be refused with a clear reason.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PayoutParam {
    address: String,
    #[serde(default)]
    weight: Option<u64>,
    #[serde(default)]
    amount: Option<serde::de::IgnoredAny>,
}

impl SetPayouts {
    /// The method's name.
    pub const METHOD: &'static str = "setpayouts";

    /// Parses the params: 1 to [`MAX_PAYOUTS`] `{"address", "weight"}` objects. The
    /// addresses are checked when the request is applied, against the server's chain.
    pub(super) fn parse(params: &Value) -> Result<SetPayouts, PayoutsParamsError> {
        let entries = params.as_array().ok_or(PayoutsParamsError::NotArray)?;
        if entries.is_empty() || entries.len() > MAX_PAYOUTS {
            return Err(PayeesError::Count(entries.len()).into());
        }
        let mut payouts = Vec::with_capacity(entries.len());
        for (entry, value) in entries.iter().enumerate() {
            let p = PayoutParam::deserialize(value)
                .map_err(|source| PayoutsParamsError::Entry { entry, source })?;
            if p.amount.is_some() {
                return Err(PayoutsParamsError::Amount(entry));
            }
            let weight = p.weight.ok_or(PayoutsParamsError::NoWeight(entry))?;
            if weight == 0 {
                return Err(PayeesError::ZeroWeight(entry).into());
            }
            payouts.push(PayoutRequest {
                address: p.address,
                weight,
            });
        }
        Ok(SetPayouts { payouts })
    }

    pub(super) fn apply(self, id: Option<Value>, handler: &Handler) -> Reply {
        let outputs = self.payouts.len();
        let result = handler
            .control
            .set_payouts(&self.payouts)
            .map_err(JsonError::from);
        if let Err(e) = &result {
            tracing::warn!("control: {} refused: {e}", Self::METHOD);
        }
        Reply::Json {
            id,
            result: result.map(|()| json!({ "outputs": outputs })),
        }
    }
}

#[cfg(test)]
mod tests {
    use bitcoin::KnownHrp;
    use serde_json::json;

    use super::*;
    use crate::control::test_fixture::{
        address, fixture, json_reply, plan, refused, regtest, scripts,
    };
    use crate::work::PayoutPlan;

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
            other => panic!("not a pool plan: {other:?}"),
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
    fn setpayouts_is_refused_in_p2pool_mode_and_changes_nothing() {
        let f = crate::control::test_fixture::fixture_in(crate::work::Mode::P2pool);
        let before = plan(&f);
        let req = json!({"method": "setpayouts", "params": [{"address": regtest(1), "weight": 1}]});
        let v = json_reply(&f, &req.to_string());
        let error = v["error"].as_str().unwrap_or_default();
        assert!(error.contains("p2pool mode"), "{v}");
        assert!(error.contains("from the chain"), "{v}");
        assert_eq!(plan(&f), before);
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
    fn setpayouts_params_parse_to_typed_errors() {
        let a = regtest(1);
        assert!(matches!(
            SetPayouts::parse(&json!([])),
            Err(PayoutsParamsError::Payees(PayeesError::Count(0)))
        ));
        assert!(matches!(
            SetPayouts::parse(&json!([{"address": a, "weight": 1}, {"address": a}])),
            Err(PayoutsParamsError::NoWeight(1))
        ));
        assert!(matches!(
            SetPayouts::parse(&json!([{"address": a, "weight": 2}])),
            Ok(SetPayouts { payouts }) if payouts == [PayoutRequest { address: a.clone(), weight: 2 }]
        ));
    }
}

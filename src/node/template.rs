//! A block template as bitcoind's `getblocktemplate` returns it, parsed into typed values at
//! the edge so that nothing past this point handles raw JSON.

use bitcoin::consensus::deserialize;
use bitcoin::hashes::Hash;
use bitcoin::{BlockHash, CompactTarget, ScriptBuf, Transaction, Txid, Wtxid};
use serde::Deserialize;

/// Why a template could not be used.
#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    /// The JSON did not have the shape of a getblocktemplate result.
    #[error("getblocktemplate result malformed: {0}")]
    Shape(#[from] serde_json::Error),
    /// A field was present but its value is unusable.
    #[error("getblocktemplate field `{field}` invalid: {reason}")]
    Field {
        /// The GBT field name.
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
}

/// One transaction the template asks us to include.
#[derive(Debug, Clone)]
pub struct TemplateTransaction {
    /// Serialized transaction (with witness), as it goes into the block.
    pub data: Vec<u8>,
    /// Its txid (the merkle leaf).
    pub txid: Txid,
    /// Its wtxid.
    pub wtxid: Wtxid,
    /// Fee in satoshis, as bitcoind reports it.
    pub fee: u64,
    /// Block weight it takes (computed from `data`).
    pub weight: u64,
    /// Signature-operation cost, as bitcoind reports it.
    pub sigops: u64,
}

/// A parsed `getblocktemplate` result.
#[derive(Debug, Clone)]
pub struct Template {
    /// Height of the block being built.
    pub height: u32,
    /// Block version bitbcoind proposes.
    pub version: i32,
    /// The block this one builds on.
    pub previous_block_hash: BlockHash,
    /// Network target in compact form.
    pub bits: CompactTarget,
    /// bitcoind's current time; the job's ntime starts here.
    pub curtime: u32,
    /// Earliest allowed block time.
    pub mintime: u32,
    /// Subsidy plus fees, in satoshis: what the coinbase may pay out.
    pub coinbase_value: u64,
    /// Transactions to include after the coinbase.
    pub transactions: Vec<TemplateTransaction>,
    /// `coinbaseaux.flags` bytes, pushed in the coinbase scriptSig.
    pub coinbaseaux_flags: Vec<u8>,
    /// The witness commitment output script, when the template has one.
    pub witness_commitment: Option<ScriptBuf>,
    /// The original JSON, kept for consumers that republish it (ckpool's `Workbase.gbt`).
    pub raw: serde_json::Value,
}

/// A template transaction as bitcoind sends it. `fee` and `sigops` are required: fitting a
/// long coinbase beside a full template drops transactions by them, and a fee or a sigop
/// cost taken as 0 would leave fees in the coinbase value that the block no longer has
/// (`bad-cb-amount`) or undercount sigops (`bad-blk-sigops`).
#[derive(Deserialize)]
struct RawTx {
    data: String,
    txid: Option<String>,
    hash: Option<String>,
    fee: Option<u64>,
    sigops: Option<u64>,
}

#[derive(Deserialize)]
struct RawAux {
    #[serde(default)]
    flags: Option<String>,
}

#[derive(Deserialize)]
struct RawTemplate {
    height: u32,
    version: i32,
    previousblockhash: String,
    bits: String,
    curtime: u32,
    #[serde(default)]
    mintime: u32,
    coinbasevalue: u64,
    #[serde(default)]
    transactions: Vec<RawTx>,
    #[serde(default)]
    coinbaseaux: Option<RawAux>,
    #[serde(default)]
    default_witness_commitment: Option<String>,
}

fn field(field: &'static str, reason: impl ToString) -> TemplateError {
    TemplateError::Field {
        field,
        reason: reason.to_string(),
    }
}

impl Template {
    /// Parses and checks a getblocktemplate result.
    pub fn from_json(value: serde_json::Value) -> Result<Self, TemplateError> {
        let raw = RawTemplate::deserialize(&value)?;
        let previous_block_hash: BlockHash = raw
            .previousblockhash
            .parse()
            .map_err(|e| field("previousblockhash", e))?;
        let bits_u32 = crate::hex_util::parse_u32_be(&raw.bits)
            .ok_or_else(|| field("bits", "expected 8 hex digits"))?;
        let mut transactions = Vec::with_capacity(raw.transactions.len());
        for tx in raw.transactions {
            let data = hex::decode(&tx.data).map_err(|e| field("transactions.data", e))?;
            let parsed: Transaction =
                deserialize(&data).map_err(|e| field("transactions.data", e))?;
            let txid = parsed.compute_txid();
            let wtxid = parsed.compute_wtxid();
            if let Some(claimed) = &tx.txid {
                if claimed != &txid.to_string() {
                    return Err(field("transactions.txid", "does not match data"));
                }
            }
            if let Some(claimed) = &tx.hash {
                if claimed != &wtxid.to_string() {
                    return Err(field("transactions.hash", "does not match data"));
                }
            }
            let fee = tx
                .fee
                .ok_or_else(|| field("transactions.fee", format!("missing for {txid}")))?;
            let sigops = tx
                .sigops
                .ok_or_else(|| field("transactions.sigops", format!("missing for {txid}")))?;
            transactions.push(TemplateTransaction {
                weight: parsed.weight().to_wu(),
                data,
                txid,
                wtxid,
                fee,
                sigops,
            });
        }
        let coinbaseaux_flags = match raw.coinbaseaux.and_then(|a| a.flags) {
            Some(f) => hex::decode(f).map_err(|e| field("coinbaseaux.flags", e))?,
            None => Vec::new(),
        };
        let witness_commitment = match raw.default_witness_commitment {
            Some(s) => Some(ScriptBuf::from_bytes(
                hex::decode(s).map_err(|e| field("default_witness_commitment", e))?,
            )),
            None => None,
        };
        if raw.height == 0 {
            return Err(field("height", "must be above 0"));
        }
        Ok(Template {
            height: raw.height,
            version: raw.version,
            previous_block_hash,
            bits: CompactTarget::from_consensus(bits_u32),
            curtime: raw.curtime,
            mintime: raw.mintime,
            coinbase_value: raw.coinbasevalue,
            transactions,
            coinbaseaux_flags,
            witness_commitment,
            raw: value,
        })
    }

    /// The txids in template order, as raw internal-order bytes (merkle leaves after the
    /// coinbase).
    pub fn txid_leaves(&self) -> Vec<[u8; 32]> {
        self.transactions
            .iter()
            .map(|t| t.txid.to_byte_array())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> serde_json::Value {
        let path = format!(
            "{}/tests/fixtures/ckpool/gbt-notify/{name}/gbt.json",
            env!("CARGO_MANIFEST_DIR")
        );
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        serde_json::from_str(&text).unwrap()
    }

    #[test]
    fn parses_captured_template() {
        let t = Template::from_json(fixture("one-txn")).unwrap();
        assert_eq!(t.height, 505);
        assert_eq!(t.coinbase_value, 625_002_820);
        assert_eq!(t.transactions.len(), 1);
        assert_eq!(t.transactions[0].fee, 2820);
        assert_eq!(t.bits.to_consensus(), 0x207fffff);
        assert!(t.witness_commitment.is_some());
    }

    #[test]
    fn rejects_mismatched_txid() {
        let mut v = fixture("one-txn");
        v["transactions"][0]["txid"] = serde_json::json!("00".repeat(32));
        assert!(matches!(
            Template::from_json(v),
            Err(TemplateError::Field {
                field: "transactions.txid",
                ..
            })
        ));
    }

    #[test]
    fn a_transaction_without_fee_or_sigops_makes_the_template_unusable() {
        for (key, named) in [
            ("fee", "transactions.fee"),
            ("sigops", "transactions.sigops"),
        ] {
            let mut v = fixture("two-txns");
            v["transactions"][1]
                .as_object_mut()
                .unwrap()
                .remove(key)
                .unwrap();
            match Template::from_json(v) {
                Err(TemplateError::Field { field, .. }) => assert_eq!(field, named),
                other => panic!("{key} missing: {other:?}"),
            }
            // A null is missing too.
            let mut v = fixture("two-txns");
            v["transactions"][0][key] = serde_json::Value::Null;
            assert!(Template::from_json(v).is_err(), "{key}: null");
        }
    }

    #[test]
    fn rejects_missing_fields() {
        let v = serde_json::json!({"height": 1});
        assert!(matches!(
            Template::from_json(v),
            Err(TemplateError::Shape(_))
        ));
    }
}

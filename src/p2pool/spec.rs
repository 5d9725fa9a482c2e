//! The chain spec: every consensus parameter of a share chain, and nothing else. Two nodes
//! agree on every verdict exactly when they run the same spec, so the chain id is a hash of
//! the spec's canonical encoding, and it goes into every share's hash (and, with the
//! network, into the p2p protocol name): chains with different specs cannot mix. Nothing
//! from ckpool.conf, the command line or a node's keys changes a spec. All values are
//! integers (basis points for fractions; a ratio as numerator and denominator): a float
//! rounds differently on different machines, and a consensus rule must not.

use std::fmt;

use bitcoin::hashes::{sha256d, Hash};
use bitcoin::Network;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::target::target_of;
pub use super::target::Bits;

/// The spec format and consensus rules this code follows (3: share times may equal the
/// median, the difficulty rule anchored at each share's parent; 4: a window's share
/// floor); part of the encoding, so of the chain id.
pub const SPEC_VERSION: u32 = 4;

/// Basis points in one whole.
pub const BPS: u32 = 10_000;

/// Longest coinbase tag a spec may set: it is pushed in every coinbase's scriptSig, which
/// bitcoind caps at 100 bytes with the height and extranonces.
pub const MAX_TAG_LEN: usize = 32;

/// Most outputs a spec may allow in a coinbase (including the fee output): a 1,000-output
/// coinbase is about 34 kB, which `fit` still places beside a full template.
pub const MAX_OUTPUTS_LIMIT: u32 = 1000;

/// Most shares a window may hold.
pub const MAX_WINDOW_SHARES: u32 = 1_000_000;
/// Most uncles one share may include (the wire form's bound).
pub const MAX_UNCLES: u32 = 16;
/// Deepest an uncle may be.
pub const MAX_UNCLE_DEPTH: u32 = 16;

/// Longest spec name.
pub const MAX_NAME_LEN: usize = 64;

/// What the encoding starts with: a spec hash can never be taken for another hash.
const DOMAIN: &[u8] = b"stratumd share chain spec";

/// Bytes as a spec writes them: hex.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HexBytes(pub Vec<u8>);

impl Serialize for HexBytes {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(&self.0))
    }
}

impl<'de> Deserialize<'de> for HexBytes {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        hex::decode(&s)
            .map(HexBytes)
            .map_err(|e| serde::de::Error::custom(format!("`{s}` is not hex: {e}")))
    }
}

/// The bitcoin network, as `getblockchaininfo` names it.
fn network_name(n: Network) -> &'static str {
    crate::node::source::chain_name(n)
}

mod network_serde {
    use super::*;

    pub fn serialize<S: Serializer>(n: &Network, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(network_name(*n))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Network, D::Error> {
        let s = String::deserialize(d)?;
        crate::node::source::chain_network(&s).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "`{s}` is not one of main, test, testnet4, signet, regtest"
            ))
        })
    }
}

/// Every consensus parameter of a share chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChainSpec {
    /// The spec format ([`SPEC_VERSION`]).
    pub version: u32,
    /// A name for people (in logs and the protocol name); part of the id.
    pub name: String,
    /// The bitcoin network whose blocks the chain's shares are.
    #[serde(with = "network_serde")]
    pub network: Network,
    /// Unix time of the genesis: the share-difficulty rule's anchor.
    pub genesis_time: u64,
    /// The target time between shares, seconds.
    pub share_period_secs: u32,
    /// ASERT's half-life: the time off schedule that halves or doubles the share target.
    pub asert_half_life_secs: u32,
    /// The easiest share target (the minimum share difficulty).
    pub min_share_bits: Bits,
    /// The share target at the genesis anchor.
    pub initial_share_bits: Bits,
    /// Most shares in a PPLNS window.
    pub window_max_shares: u32,
    /// Fewest shares in a PPLNS window (once the chain has them), whatever the work the
    /// headers claim: a header's bitcoin target is only as honest as its miner until it is
    /// a block, so the work limit alone could be talked down to one share.
    pub window_min_shares: u32,
    /// With [`ChainSpec::window_work_den`]: a window holds shares (newest first) until
    /// their work reaches this fraction of the bitcoin block's work.
    pub window_work_num: u32,
    /// See [`ChainSpec::window_work_num`].
    pub window_work_den: u32,
    /// How many shares back an uncle may be (from the share that includes it).
    pub uncle_max_depth: u32,
    /// Most uncles one share may include.
    pub uncle_max_count: u32,
    /// What an uncle loses of its weight, in basis points; the including share gets it.
    pub uncle_penalty_bps: u32,
    /// Pushed in every coinbase's scriptSig.
    pub coinbase_tag: HexBytes,
    /// Most outputs a coinbase pays (the fee output included; the witness commitment not).
    pub max_outputs: u32,
    /// No payout output below this many satoshis (the PPLNS tail rule pools them).
    pub dust_sats: u64,
    /// Of every block reward, this many basis points to [`ChainSpec::fee_script`].
    pub fee_bps: u32,
    /// Where the fee goes (empty without a fee).
    pub fee_script: HexBytes,
}

/// A chain's id: the hash of its spec's canonical encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ChainId(pub [u8; 32]);

impl fmt::Display for ChainId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

/// Why a spec is refused, naming the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SpecError {
    /// A field's value is not allowed.
    #[error("chain spec field `{field}`: {problem}")]
    Invalid {
        /// The field.
        field: &'static str,
        /// What is wrong and what is allowed.
        problem: String,
    },
    /// The file could not be read or is not a spec.
    #[error("chain spec {path}: {reason}")]
    File {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// No preset of that name.
    #[error("no chain spec preset `{0}`; the presets are {list}", list = PRESETS.join(", "))]
    UnknownPreset(String),
}

fn invalid(field: &'static str, problem: impl Into<String>) -> SpecError {
    SpecError::Invalid {
        field,
        problem: problem.into(),
    }
}

/// The built-in specs, by name: one per bitcoin network served, and `simnet`, a fast chain
/// for the embedded simnet, the demo and tests.
pub const PRESETS: &[&str] = &["main", "testnet4", "test", "signet", "regtest", "simnet"];

/// 2026-12-01 00:00:00 UTC: the presets' genesis.
const PRESET_GENESIS: u64 = 1_796_083_200;

impl ChainSpec {
    /// A built-in spec.
    pub fn preset(name: &str) -> Result<ChainSpec, SpecError> {
        // Shared by every preset but what differs below.
        let base = ChainSpec {
            version: SPEC_VERSION,
            name: format!("stratumd-{name}"),
            network: Network::Bitcoin,
            genesis_time: PRESET_GENESIS,
            share_period_secs: 10,
            asert_half_life_secs: 600,
            min_share_bits: Bits(0x1b00_ffff),
            initial_share_bits: Bits(0x1b00_ffff),
            window_max_shares: 100_000,
            // A few hours at the share period: what a miner lying about the block work can
            // shrink a window to, no further.
            window_min_shares: 1_000,
            window_work_num: 2,
            window_work_den: 1,
            uncle_max_depth: 3,
            uncle_max_count: 3,
            uncle_penalty_bps: 2_000,
            coinbase_tag: HexBytes(b"/p2pool stratumd/".to_vec()),
            max_outputs: 100,
            dust_sats: 5_000,
            fee_bps: 0,
            fee_script: HexBytes::default(),
        };
        let spec = match name {
            // Difficulty 65,536 at least: an ASIC's share every few seconds at least.
            "main" => base,
            "testnet4" => ChainSpec {
                network: Network::Testnet4,
                min_share_bits: Bits(0x1d00_ffff),
                initial_share_bits: Bits(0x1d00_ffff),
                ..base
            },
            "test" => ChainSpec {
                network: Network::Testnet,
                min_share_bits: Bits(0x1d00_ffff),
                initial_share_bits: Bits(0x1d00_ffff),
                ..base
            },
            "signet" => ChainSpec {
                network: Network::Signet,
                min_share_bits: Bits(0x1d00_ffff),
                initial_share_bits: Bits(0x1d00_ffff),
                ..base
            },
            "regtest" => ChainSpec {
                network: Network::Regtest,
                min_share_bits: Bits(0x207f_ffff),
                initial_share_bits: Bits(0x207f_ffff),
                ..base
            },
            // CPU miners on simnet: difficulty 1/65,536 at least, 1/4,096 to start (a few
            // shares a second from a CPU thread), a share a second, and few outputs so
            // that a demo's tail is pooled as on a big chain.
            "simnet" => ChainSpec {
                network: Network::Regtest,
                share_period_secs: 1,
                asert_half_life_secs: 60,
                min_share_bits: Bits(0x1f00_ffff),
                initial_share_bits: Bits(0x1e0f_fff0),
                window_max_shares: 10_000,
                window_min_shares: 100,
                max_outputs: 20,
                dust_sats: 1_000,
                ..base
            },
            other => return Err(SpecError::UnknownPreset(other.to_string())),
        };
        Ok(spec)
    }

    /// Reads a spec file (JSON, every field given) and checks it.
    pub fn load(path: &std::path::Path) -> Result<ChainSpec, SpecError> {
        let file = |reason: String| SpecError::File {
            path: path.display().to_string(),
            reason,
        };
        let text = std::fs::read_to_string(path).map_err(|e| file(e.to_string()))?;
        let spec: ChainSpec = serde_json::from_str(&text).map_err(|e| file(e.to_string()))?;
        spec.validate()?;
        Ok(spec)
    }

    /// Checks every field's range; an error names the field.
    pub fn validate(&self) -> Result<(), SpecError> {
        if self.version != SPEC_VERSION {
            return Err(invalid(
                "version",
                format!(
                    "this build reads version {SPEC_VERSION}, got {}",
                    self.version
                ),
            ));
        }
        if self.name.is_empty() || self.name.len() > MAX_NAME_LEN || !self.name.is_ascii() {
            return Err(invalid(
                "name",
                format!("must be 1 to {MAX_NAME_LEN} ASCII characters"),
            ));
        }
        let positive = |field, v: u32| {
            if v == 0 {
                Err(invalid(field, "must be above 0"))
            } else {
                Ok(())
            }
        };
        positive("share_period_secs", self.share_period_secs)?;
        positive("asert_half_life_secs", self.asert_half_life_secs)?;
        positive("window_max_shares", self.window_max_shares)?;
        positive("window_min_shares", self.window_min_shares)?;
        if self.window_min_shares > self.window_max_shares {
            return Err(invalid("window_min_shares", "is at most window_max_shares"));
        }
        positive("window_work_num", self.window_work_num)?;
        positive("window_work_den", self.window_work_den)?;
        for (field, bits) in [
            ("min_share_bits", self.min_share_bits),
            ("initial_share_bits", self.initial_share_bits),
        ] {
            if target_of(bits).is_none() {
                return Err(invalid(field, "is not a positive compact target"));
            }
        }
        if target_of(self.initial_share_bits) > target_of(self.min_share_bits) {
            return Err(invalid(
                "initial_share_bits",
                "is easier than min_share_bits",
            ));
        }
        if self.genesis_time > u64::from(u32::MAX) {
            return Err(invalid(
                "genesis_time",
                "must fit a header's time (at most 4294967295)",
            ));
        }
        if self.window_max_shares > MAX_WINDOW_SHARES {
            return Err(invalid(
                "window_max_shares",
                format!("is at most {MAX_WINDOW_SHARES}"),
            ));
        }
        if self.uncle_max_count > MAX_UNCLES || self.uncle_max_depth > MAX_UNCLE_DEPTH {
            return Err(invalid(
                "uncle_max_count",
                format!("uncles: at most {MAX_UNCLES}, at most {MAX_UNCLE_DEPTH} shares deep"),
            ));
        }
        if self.uncle_penalty_bps > BPS {
            return Err(invalid("uncle_penalty_bps", "is at most 10000"));
        }
        if self.uncle_max_count > 0 && self.uncle_max_depth == 0 {
            return Err(invalid(
                "uncle_max_depth",
                "must be above 0 when uncles are allowed",
            ));
        }
        if self.coinbase_tag.0.len() > MAX_TAG_LEN {
            return Err(invalid(
                "coinbase_tag",
                format!("is at most {MAX_TAG_LEN} bytes"),
            ));
        }
        if self.max_outputs < 2 || self.max_outputs > MAX_OUTPUTS_LIMIT {
            return Err(invalid(
                "max_outputs",
                format!("must be 2 to {MAX_OUTPUTS_LIMIT}"),
            ));
        }
        if self.fee_bps >= BPS {
            return Err(invalid("fee_bps", "must be below 10000"));
        }
        let fee_script = bitcoin::ScriptBuf::from_bytes(self.fee_script.0.clone());
        if !fee_script.is_empty() && !super::script::standard_payout(&fee_script) {
            return Err(invalid(
                "fee_script",
                "must be a standard output (P2PKH, P2SH or a witness program)",
            ));
        }
        if (self.fee_bps > 0) == self.fee_script.0.is_empty() {
            return Err(invalid(
                "fee_script",
                "is set exactly when fee_bps is above 0",
            ));
        }
        Ok(())
    }

    /// The canonical encoding: a domain string, then every field in declaration order,
    /// integers little-endian, strings and bytes length-prefixed (u32), the network by its
    /// magic bytes.
    pub fn encode(&self) -> Vec<u8> {
        fn bytes(out: &mut Vec<u8>, b: &[u8]) {
            // Lengths are bounded by validation (name, tag) or by the script's own bounds.
            out.extend_from_slice(&(b.len() as u32).to_le_bytes());
            out.extend_from_slice(b);
        }
        let mut out = Vec::with_capacity(160);
        out.extend_from_slice(DOMAIN);
        out.extend_from_slice(&self.version.to_le_bytes());
        bytes(&mut out, self.name.as_bytes());
        out.extend_from_slice(&self.network.magic().to_bytes());
        out.extend_from_slice(&self.genesis_time.to_le_bytes());
        for v in [
            self.share_period_secs,
            self.asert_half_life_secs,
            self.min_share_bits.0,
            self.initial_share_bits.0,
            self.window_max_shares,
            self.window_min_shares,
            self.window_work_num,
            self.window_work_den,
            self.uncle_max_depth,
            self.uncle_max_count,
            self.uncle_penalty_bps,
        ] {
            out.extend_from_slice(&v.to_le_bytes());
        }
        bytes(&mut out, &self.coinbase_tag.0);
        out.extend_from_slice(&self.max_outputs.to_le_bytes());
        out.extend_from_slice(&self.dust_sats.to_le_bytes());
        out.extend_from_slice(&self.fee_bps.to_le_bytes());
        bytes(&mut out, &self.fee_script.0);
        out
    }

    /// The chain id: sha256d of the canonical encoding.
    pub fn id(&self) -> ChainId {
        ChainId(sha256d::Hash::hash(&self.encode()).to_byte_array())
    }

    /// The spec as JSON, the form a spec file takes (and `stratumd sharechain spec` prints).
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_preset_is_valid_and_has_its_own_id() {
        let mut ids = std::collections::BTreeSet::new();
        for name in PRESETS {
            let spec = ChainSpec::preset(name).unwrap();
            spec.validate().unwrap_or_else(|e| panic!("{name}: {e}"));
            assert!(ids.insert(spec.id()), "{name} shares an id");
        }
        assert!(matches!(
            ChainSpec::preset("mainnet"),
            Err(SpecError::UnknownPreset(_))
        ));
    }

    #[test]
    fn every_field_changes_the_id() {
        let base = ChainSpec::preset("main").unwrap();
        let id = base.id();
        let changed: Vec<(&str, ChainSpec)> = vec![
            (
                "version",
                ChainSpec {
                    version: SPEC_VERSION + 1,
                    ..base.clone()
                },
            ),
            (
                "name",
                ChainSpec {
                    name: "x".into(),
                    ..base.clone()
                },
            ),
            (
                "network",
                ChainSpec {
                    network: Network::Signet,
                    ..base.clone()
                },
            ),
            (
                "genesis_time",
                ChainSpec {
                    genesis_time: 1,
                    ..base.clone()
                },
            ),
            (
                "share_period_secs",
                ChainSpec {
                    share_period_secs: 11,
                    ..base.clone()
                },
            ),
            (
                "asert_half_life_secs",
                ChainSpec {
                    asert_half_life_secs: 601,
                    ..base.clone()
                },
            ),
            (
                "min_share_bits",
                ChainSpec {
                    min_share_bits: Bits(0x1c00_ffff),
                    ..base.clone()
                },
            ),
            (
                "initial_share_bits",
                ChainSpec {
                    initial_share_bits: Bits(0x1a00_ffff),
                    ..base.clone()
                },
            ),
            (
                "window_max_shares",
                ChainSpec {
                    window_max_shares: 1,
                    ..base.clone()
                },
            ),
            (
                "window_work_num",
                ChainSpec {
                    window_work_num: 3,
                    ..base.clone()
                },
            ),
            (
                "window_work_den",
                ChainSpec {
                    window_work_den: 2,
                    ..base.clone()
                },
            ),
            (
                "uncle_max_depth",
                ChainSpec {
                    uncle_max_depth: 4,
                    ..base.clone()
                },
            ),
            (
                "uncle_max_count",
                ChainSpec {
                    uncle_max_count: 4,
                    ..base.clone()
                },
            ),
            (
                "uncle_penalty_bps",
                ChainSpec {
                    uncle_penalty_bps: 1,
                    ..base.clone()
                },
            ),
            (
                "coinbase_tag",
                ChainSpec {
                    coinbase_tag: HexBytes(b"x".to_vec()),
                    ..base.clone()
                },
            ),
            (
                "max_outputs",
                ChainSpec {
                    max_outputs: 3,
                    ..base.clone()
                },
            ),
            (
                "dust_sats",
                ChainSpec {
                    dust_sats: 1,
                    ..base.clone()
                },
            ),
            (
                "fee_bps",
                ChainSpec {
                    fee_bps: 1,
                    fee_script: HexBytes(vec![0x51]),
                    ..base.clone()
                },
            ),
        ];
        let mut seen = std::collections::BTreeSet::new();
        for (field, spec) in changed {
            let other = spec.id();
            assert_ne!(other, id, "{field} is not in the id");
            assert!(seen.insert(other), "{field} collides with another change");
        }
        // Moving bytes between two length-prefixed fields changes the encoding too.
        let a = ChainSpec {
            name: "ab".into(),
            coinbase_tag: HexBytes(b"c".to_vec()),
            ..base.clone()
        };
        let b = ChainSpec {
            name: "a".into(),
            coinbase_tag: HexBytes(b"bc".to_vec()),
            ..base
        };
        assert_ne!(a.id(), b.id());
    }

    #[test]
    fn a_spec_file_round_trips_and_is_checked() {
        let spec = ChainSpec::preset("simnet").unwrap();
        let text = serde_json::to_string_pretty(&spec.to_json()).unwrap();
        let back: ChainSpec = serde_json::from_str(&text).unwrap();
        assert_eq!(back, spec);
        assert_eq!(back.id(), spec.id());
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("spec.json");
        std::fs::write(&path, &text).unwrap();
        assert_eq!(ChainSpec::load(&path).unwrap(), spec);
        // A field missing, unknown, or out of range is refused, naming it.
        let mut v = spec.to_json();
        v.as_object_mut().unwrap().remove("dust_sats");
        std::fs::write(&path, v.to_string()).unwrap();
        assert!(ChainSpec::load(&path)
            .unwrap_err()
            .to_string()
            .contains("dust_sats"));
        let mut v = spec.to_json();
        v["extra"] = serde_json::json!(1);
        std::fs::write(&path, v.to_string()).unwrap();
        assert!(ChainSpec::load(&path)
            .unwrap_err()
            .to_string()
            .contains("extra"));
        for (field, value) in [
            ("uncle_penalty_bps", serde_json::json!(10_001)),
            ("max_outputs", serde_json::json!(1)),
            ("share_period_secs", serde_json::json!(0)),
            ("window_min_shares", serde_json::json!(20_000)),
            ("window_min_shares", serde_json::json!(0)),
            ("fee_bps", serde_json::json!(5)),
            ("network", serde_json::json!("mainnet")),
            ("min_share_bits", serde_json::json!("00000000")),
        ] {
            let mut v = spec.to_json();
            v[field] = value;
            std::fs::write(&path, v.to_string()).unwrap();
            let e = ChainSpec::load(&path).unwrap_err().to_string();
            assert!(
                e.contains(field) || e.contains("mainnet") || e.contains("compact"),
                "{field}: {e}"
            );
        }
    }

    #[test]
    fn the_id_is_the_hash_of_the_encoding() {
        // Recomputed here from the encoding's bytes with another SHA-256 implementation.
        use sha2::{Digest, Sha256};
        let spec = ChainSpec::preset("regtest").unwrap();
        let once = Sha256::digest(spec.encode());
        let twice: [u8; 32] = Sha256::digest(once).into();
        assert_eq!(spec.id().0, twice);
        assert!(spec
            .encode()
            .starts_with(b"stratumd share chain spec\x04\x00\x00\x00"));
    }
}

//! Mining work: a parsed `mining.notify` [`Job`], block header assembly and share difficulty.
//!
//! Byte-order conventions (stratum v1 as ckpool and ASIC firmware speak it):
//! - `prevhash` in the notify is the internal-order hash with every 4-byte word byte-swapped.
//! - `version`, `nbits`, `ntime` and submitted `nonce` are 8 hex digits, big-endian; the
//!   header stores them little-endian.
//! - Merkle branches are raw internal-order bytes.
//! - A hash is compared as a 256-bit little-endian number.

use crate::hash::{sha256d, sha256d_pair};
use serde_json::Value;

/// The difficulty-1 target `0x00000000FFFF0000…0000` as an `f64`, because share difficulty is
/// defined as `diff1_target / hash`.
pub const DIFF1_TARGET_F64: f64 =
    65535.0 * 411_376_139_330_301_510_538_742_295_639_337_626_245_683_966_408_394_965_837_152_256.0; // 0xFFFF * 2^208

/// Errors parsing a `mining.notify`, because anything the server sends may be malformed.
#[derive(Debug, thiserror::Error)]
pub enum WorkError {
    /// The params were not an array of (at least) nine elements.
    #[error("mining.notify params must be an array of 9 elements, got {0}")]
    Shape(String),
    /// One field had the wrong JSON type or an unparsable value.
    #[error("mining.notify field {field}: {detail}")]
    Field {
        /// Which notify field was bad.
        field: &'static str,
        /// What was wrong with it.
        detail: String,
    },
}

/// One job from `mining.notify`, decoded into header-ready bytes so that hashing threads never
/// touch JSON or hex.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Job {
    /// The server's job id, echoed back in `mining.submit`.
    pub job_id: String,
    /// Previous block hash in header (internal) byte order, already un-word-swapped.
    pub prevhash: [u8; 32],
    /// Coinbase bytes before extranonce1.
    pub coinb1: Vec<u8>,
    /// Coinbase bytes after extranonce2.
    pub coinb2: Vec<u8>,
    /// Merkle branch hashes (internal byte order) from the coinbase up to the root.
    pub merkle_branches: Vec<[u8; 32]>,
    /// Block version as sent (before any version rolling).
    pub version: u32,
    /// Compact network target.
    pub nbits: u32,
    /// Block time suggested by the server.
    pub ntime: u32,
    /// Whether the miner must drop all older work at once.
    pub clean_jobs: bool,
}

/// Parses 8 big-endian hex digits into a `u32`, because stratum sends version, nbits, ntime and
/// nonces that way.
pub fn parse_u32_hex(s: &str) -> Option<u32> {
    if s.len() != 8 {
        return None;
    }
    u32::from_str_radix(s, 16).ok()
}

/// Formats a `u32` as 8 big-endian hex digits, the form `mining.submit` expects for ntime,
/// nonce and version bits.
pub fn u32_hex(v: u32) -> String {
    format!("{v:08x}")
}

/// Applies BIP310 version rolling: `(job_version & !mask) | (version_bits & mask)`, because
/// both the miner and the server must derive the header version the same way.
pub fn rolled_version(job_version: u32, mask: u32, version_bits: u32) -> u32 {
    (job_version & !mask) | (version_bits & mask)
}

fn field_str<'a>(
    params: &'a [Value],
    idx: usize,
    field: &'static str,
) -> Result<&'a str, WorkError> {
    params[idx].as_str().ok_or_else(|| WorkError::Field {
        field,
        detail: format!("expected a string, got {}", params[idx]),
    })
}

fn field_hex(params: &[Value], idx: usize, field: &'static str) -> Result<Vec<u8>, WorkError> {
    hex::decode(field_str(params, idx, field)?).map_err(|e| WorkError::Field {
        field,
        detail: e.to_string(),
    })
}

fn field_u32(params: &[Value], idx: usize, field: &'static str) -> Result<u32, WorkError> {
    let s = field_str(params, idx, field)?;
    parse_u32_hex(s).ok_or_else(|| WorkError::Field {
        field,
        detail: format!("expected 8 hex digits, got {s:?}"),
    })
}

fn to_32(bytes: Vec<u8>, field: &'static str) -> Result<[u8; 32], WorkError> {
    <[u8; 32]>::try_from(bytes.as_slice()).map_err(|_| WorkError::Field {
        field,
        detail: format!("expected 32 bytes, got {}", bytes.len()),
    })
}

impl Job {
    /// Parses the `params` array of a `mining.notify`, because that is how work arrives.
    pub fn from_notify_params(params: &Value) -> Result<Job, WorkError> {
        let p = params
            .as_array()
            .filter(|a| a.len() >= 9)
            .ok_or_else(|| WorkError::Shape(params.to_string()))?;
        let job_id = match &p[0] {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            other => {
                return Err(WorkError::Field {
                    field: "job_id",
                    detail: format!("expected a string, got {other}"),
                })
            }
        };
        let mut prevhash = to_32(field_hex(p, 1, "prevhash")?, "prevhash")?;
        for word in prevhash.chunks_exact_mut(4) {
            word.reverse();
        }
        let coinb1 = field_hex(p, 2, "coinb1")?;
        let coinb2 = field_hex(p, 3, "coinb2")?;
        let branches = p[4].as_array().ok_or_else(|| WorkError::Field {
            field: "merkle_branches",
            detail: format!("expected an array, got {}", p[4]),
        })?;
        let mut merkle_branches = Vec::with_capacity(branches.len());
        for b in branches {
            let s = b.as_str().ok_or_else(|| WorkError::Field {
                field: "merkle_branches",
                detail: format!("expected a string, got {b}"),
            })?;
            let bytes = hex::decode(s).map_err(|e| WorkError::Field {
                field: "merkle_branches",
                detail: e.to_string(),
            })?;
            merkle_branches.push(to_32(bytes, "merkle_branches")?);
        }
        let version = field_u32(p, 5, "version")?;
        let nbits = field_u32(p, 6, "nbits")?;
        let ntime = field_u32(p, 7, "ntime")?;
        let clean_jobs = p[8].as_bool().ok_or_else(|| WorkError::Field {
            field: "clean_jobs",
            detail: format!("expected a bool, got {}", p[8]),
        })?;
        Ok(Job {
            job_id,
            prevhash,
            coinb1,
            coinb2,
            merkle_branches,
            version,
            nbits,
            ntime,
            clean_jobs,
        })
    }

    /// Assembles the full coinbase transaction `coinb1 | extranonce1 | extranonce2 | coinb2`,
    /// because its txid is the leftmost merkle leaf.
    pub fn coinbase(&self, extranonce1: &[u8], extranonce2: &[u8]) -> Vec<u8> {
        let mut cb = Vec::with_capacity(
            self.coinb1.len() + extranonce1.len() + extranonce2.len() + self.coinb2.len(),
        );
        cb.extend_from_slice(&self.coinb1);
        cb.extend_from_slice(extranonce1);
        cb.extend_from_slice(extranonce2);
        cb.extend_from_slice(&self.coinb2);
        cb
    }

    /// Computes the merkle root for the given extranonces, because it only changes with
    /// extranonce2 and hashing threads compute it once per extranonce2, not once per nonce.
    pub fn merkle_root(&self, extranonce1: &[u8], extranonce2: &[u8]) -> [u8; 32] {
        let mut root = sha256d(&self.coinbase(extranonce1, extranonce2));
        for branch in &self.merkle_branches {
            root = sha256d_pair(&root, branch);
        }
        root
    }

    /// Builds the 80-byte header from a precomputed merkle root, because that is the hot path.
    pub fn header_with_root(
        &self,
        merkle_root: &[u8; 32],
        ntime: u32,
        nonce: u32,
        version: u32,
    ) -> [u8; 80] {
        let mut h = [0u8; 80];
        h[0..4].copy_from_slice(&version.to_le_bytes());
        h[4..36].copy_from_slice(&self.prevhash);
        h[36..68].copy_from_slice(merkle_root);
        h[68..72].copy_from_slice(&ntime.to_le_bytes());
        h[72..76].copy_from_slice(&self.nbits.to_le_bytes());
        h[76..80].copy_from_slice(&nonce.to_le_bytes());
        h
    }

    /// Builds the 80-byte block header for a share, because that is what gets hashed (and what
    /// a server must rebuild from a `mining.submit`). `version` is the final header version
    /// (already rolled, see [`rolled_version`]).
    pub fn header(
        &self,
        extranonce1: &[u8],
        extranonce2: &[u8],
        ntime: u32,
        nonce: u32,
        version: u32,
    ) -> [u8; 80] {
        self.header_with_root(
            &self.merkle_root(extranonce1, extranonce2),
            ntime,
            nonce,
            version,
        )
    }

    /// The share hash (internal byte order) of [`Job::header`], because that is what is
    /// compared with the share target.
    pub fn share_hash(
        &self,
        extranonce1: &[u8],
        extranonce2: &[u8],
        ntime: u32,
        nonce: u32,
        version: u32,
    ) -> [u8; 32] {
        sha256d(&self.header(extranonce1, extranonce2, ntime, nonce, version))
    }
}

/// Interprets a hash (internal byte order) as a 256-bit little-endian number in `f64`, because
/// difficulty comparisons only need ~15 significant digits.
pub fn hash_to_f64(hash: &[u8; 32]) -> f64 {
    hash.iter()
        .rev()
        .fold(0.0f64, |acc, &b| acc * 256.0 + f64::from(b))
}

/// The difficulty a hash achieves, `diff1_target / hash`, because pools report and compare
/// shares by difficulty. A zero hash gives `f64::INFINITY`.
pub fn difficulty_of(hash: &[u8; 32]) -> f64 {
    let h = hash_to_f64(hash);
    if h == 0.0 {
        f64::INFINITY
    } else {
        DIFF1_TARGET_F64 / h
    }
}

/// Whether `hash` meets share difficulty `diff` (hash ≤ diff1_target / diff), because that
/// decides whether a share is worth submitting. Accurate to f64 precision; callers that must
/// never submit a borderline share should pass a slightly raised difficulty.
pub fn meets(hash: &[u8; 32], diff: f64) -> bool {
    difficulty_of(hash) >= diff
}

/// The top 64 bits of the share target for `diff` (target / 2^192, rounded up), because
/// comparing a hash's top 64 bits against it rejects almost all hashes without floating point.
/// A hash can only meet `diff` if its top 64 bits are ≤ this value.
pub fn target_top_u64(diff: f64) -> u64 {
    if diff <= 0.0 || diff.is_nan() {
        return u64::MAX;
    }
    let top = (DIFF1_TARGET_F64 / diff) / 2f64.powi(192);
    if top >= 18_446_744_073_709_551_615.0 {
        u64::MAX
    } else {
        top.ceil() as u64
    }
}

/// The top 64 bits of a hash as a number, the counterpart of [`target_top_u64`].
pub fn hash_top_u64(hash: &[u8; 32]) -> u64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&hash[24..32]);
    u64::from_le_bytes(b)
}

/// Writes an extranonce2 counter big-endian into all of `out` (high bytes zero when `out` is
/// longer than 8 bytes, the counter's low bytes when shorter), so that every miner here rolls
/// extranonce2 the same way.
pub fn encode_extranonce2_into(counter: u64, out: &mut [u8]) {
    out.fill(0);
    let be = counter.to_be_bytes();
    let n = out.len().min(8);
    let start = out.len() - n;
    out[start..].copy_from_slice(&be[8 - n..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The workspace root's fixtures (`tests/fixtures/README.md`), relative to `src/`.
    const VR: &str = "../../tests/fixtures/ckpool/sessions/with_version_rolling";

    fn load(path: &str) -> Value {
        let text = std::fs::read_to_string(format!("{}/src/{path}", env!("CARGO_MANIFEST_DIR")))
            .unwrap_or_else(|e| panic!("reading {path}: {e}"));
        serde_json::from_str(&text).unwrap()
    }

    fn str_param(v: &Value, i: usize) -> String {
        v["params"][i].as_str().unwrap().to_string()
    }

    #[test]
    fn extranonce2_is_the_counter_big_endian_in_any_width() {
        let mut b = [0xffu8; 4];
        encode_extranonce2_into(0x0102, &mut b);
        assert_eq!(b, [0, 0, 1, 2]);
        let mut b = [0xffu8; 10];
        encode_extranonce2_into(0x0102_0304_0506_0708, &mut b);
        assert_eq!(b, [0, 0, 1, 2, 3, 4, 5, 6, 7, 8]);
        let mut b = [0xffu8; 2];
        encode_extranonce2_into(0x0102_0304, &mut b);
        assert_eq!(b, [3, 4]);
    }

    #[test]
    fn diff1_constant_is_exact() {
        assert_eq!(DIFF1_TARGET_F64, 65535.0 * 2f64.powi(208));
        let mut diff1 = [0u8; 32];
        diff1[26] = 0xff;
        diff1[27] = 0xff;
        assert_eq!(difficulty_of(&diff1), 1.0);
        assert!(meets(&diff1, 1.0));
        assert!(!meets(&diff1, 1.0001));
    }

    #[test]
    fn notify_prevhash_is_word_swapped_previousblockhash() {
        let notify = load(&format!("{VR}/notify.json"));
        let template = load(&format!("{VR}/template.json"));
        let job = Job::from_notify_params(&notify["params"]).unwrap();
        let mut display = job.prevhash;
        display.reverse();
        assert_eq!(
            hex::encode(display),
            template["previousblockhash"].as_str().unwrap()
        );
        assert_eq!(job.version, 0x2000_0000);
        assert_eq!(job.nbits, 0x1e03_77ae);
        assert_eq!(job.ntime, 0x6878_b602);
        assert!(job.clean_jobs);
        assert!(job.merkle_branches.is_empty());
    }

    /// The key test: the captured ckpool share with version rolling must hash to the captured
    /// result.
    #[test]
    fn captured_version_rolling_share_hash_matches_ckpool() {
        let notify = load(&format!("{VR}/notify.json"));
        let submit = load(&format!("{VR}/submit.json"));
        let subscribe = load(&format!("{VR}/authorize_response.json"));
        let vr = load(&format!("{VR}/version_rolling.json"));
        let result = load(&format!("{VR}/result.json"));

        let job = Job::from_notify_params(&notify["params"]).unwrap();
        let en1 = hex::decode(subscribe["result"][1].as_str().unwrap()).unwrap();
        assert_eq!(hex::encode(&en1), "03b67868");
        let mask = parse_u32_hex(
            vr["response"]["result"]["version-rolling.mask"]
                .as_str()
                .unwrap(),
        )
        .unwrap();
        assert_eq!(mask, 0x1fff_e000);

        assert_eq!(str_param(&submit, 1), job.job_id);
        let en2 = hex::decode(str_param(&submit, 2)).unwrap();
        let ntime = parse_u32_hex(&str_param(&submit, 3)).unwrap();
        let nonce = parse_u32_hex(&str_param(&submit, 4)).unwrap();
        let bits = parse_u32_hex(&str_param(&submit, 5)).unwrap();
        let version = rolled_version(job.version, mask, bits);
        assert_eq!(version, 0x283a_c000);

        let mut hash = job.share_hash(&en1, &en2, ntime, nonce, version);
        assert!(meets(&hash, 1.0), "difficulty {}", difficulty_of(&hash));
        hash.reverse();
        assert_eq!(hex::encode(hash), result["hash"].as_str().unwrap());
    }

    #[test]
    fn quick_target_check_never_rejects_a_meeting_hash() {
        for diff in [0.00001, 0.5, 1.0, 3.0, 1e6, 1e12] {
            let top = target_top_u64(diff);
            // A hash exactly at the (f64) target's top bits, all lower bits set.
            let mut h = [0xffu8; 32];
            h[24..32].copy_from_slice(&top.saturating_sub(1).to_le_bytes());
            if meets(&h, diff) {
                assert!(hash_top_u64(&h) <= top);
            }
        }
        assert_eq!(target_top_u64(1.0), 0xffff_u64 << 16);
    }

    #[test]
    fn malformed_notify_is_an_error_not_a_panic() {
        for bad in [
            serde_json::json!(null),
            serde_json::json!([1, 2, 3]),
            serde_json::json!([
                "j",
                "zz",
                "",
                "",
                [],
                "20000000",
                "1d00ffff",
                "00000000",
                true
            ]),
            serde_json::json!([
                "j",
                "00".repeat(32),
                "",
                "",
                ["00"],
                "20000000",
                "1d00ffff",
                "00000000",
                true
            ]),
            serde_json::json!([
                "j",
                "00".repeat(32),
                "",
                "",
                [],
                "2000000",
                "1d00ffff",
                "00000000",
                true
            ]),
            serde_json::json!([
                "j",
                "00".repeat(32),
                "",
                "",
                [],
                "20000000",
                "1d00ffff",
                "00000000",
                "yes"
            ]),
        ] {
            assert!(Job::from_notify_params(&bad).is_err(), "{bad}");
        }
    }
}

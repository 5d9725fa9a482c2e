//! ckpool's stats files, which third-party dashboards read: `logs/pool/pool.status` and
//! `logs/users/<address>`. The `*_text` functions reproduce ckpool's bytes exactly
//! (jansson's separators, indentation and real formatting) so those dashboards keep
//! working unchanged.

use serde::{Deserialize, Serialize};

use crate::jansson::{self, DumpFormat};

/// First line of `pool.status`: uptime and connection counts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PoolStatusCounts {
    /// Seconds since the pool started.
    pub runtime: u64,
    /// Unix time of this update.
    pub lastupdate: u64,
    /// Users with at least one connected worker.
    #[serde(rename = "Users")]
    pub users: u64,
    /// Connected workers.
    #[serde(rename = "Workers")]
    pub workers: u64,
    /// Workers connected but not submitting.
    #[serde(rename = "Idle")]
    pub idle: u64,
    /// Clients that disconnected and are kept for session resumption.
    #[serde(rename = "Disconnected")]
    pub disconnected: u64,
}

/// Second line of `pool.status`: pool hashrates as [`suffix_hashrate`] strings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PoolStatusHashrates {
    /// Decaying average over 1 minute.
    pub hashrate1m: String,
    /// Decaying average over 5 minutes.
    pub hashrate5m: String,
    /// Decaying average over 15 minutes.
    pub hashrate15m: String,
    /// Decaying average over 1 hour.
    pub hashrate1hr: String,
    /// Decaying average over 6 hours.
    pub hashrate6hr: String,
    /// Decaying average over 1 day.
    pub hashrate1d: String,
    /// Decaying average over 7 days.
    pub hashrate7d: String,
}

/// Third line of `pool.status`: share counters and shares-per-second rates.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PoolStatusShares {
    /// Round progress as ckpool reports it (a real: printed `100.0`).
    pub diff: f64,
    /// Accepted share difficulty total.
    pub accepted: u64,
    /// Rejected share difficulty total.
    pub rejected: u64,
    /// Best share difficulty (ckpool packs it as an integer).
    pub bestshare: u64,
    /// Shares per second, 1-minute average.
    #[serde(rename = "SPS1m")]
    pub sps1m: f64,
    /// Shares per second, 5-minute average.
    #[serde(rename = "SPS5m")]
    pub sps5m: f64,
    /// Shares per second, 15-minute average.
    #[serde(rename = "SPS15m")]
    pub sps15m: f64,
    /// Shares per second, 1-hour average.
    #[serde(rename = "SPS1h")]
    pub sps1h: f64,
}

/// The whole `pool.status` file, its three lines parsed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PoolStatus {
    /// Line 1.
    pub counts: PoolStatusCounts,
    /// Line 2.
    pub hashrates: PoolStatusHashrates,
    /// Line 3.
    pub shares: PoolStatusShares,
}

/// Significant digits ckpool prints the reals of `pool.status`'s third line with
/// (jansson `JSON_REAL_PRECISION(3)`, inferred from the sample: `1.54e-5`, `0.000901`).
pub const POOL_STATUS_REAL_PRECISION: usize = 3;

/// Reads `pool.status` (three JSON lines; blank lines ignored).
pub fn parse_pool_status(text: &str) -> Result<PoolStatus, serde_json::Error> {
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let mut next = || {
        lines.next().ok_or_else(|| {
            <serde_json::Error as serde::de::Error>::custom("pool.status needs three lines")
        })
    };
    Ok(PoolStatus {
        counts: serde_json::from_str(next()?)?,
        hashrates: serde_json::from_str(next()?)?,
        shares: serde_json::from_str(next()?)?,
    })
}

fn line<T: Serialize>(value: &T, real_precision: usize) -> String {
    let value = serde_json::to_value(value).expect("stats types always serialize");
    let format = DumpFormat {
        real_precision,
        ..DumpFormat::PLAIN
    };
    let mut s = jansson::dumps(&value, &format);
    s.push('\n');
    s
}

/// `pool.status` exactly as ckpool writes it: three one-line objects with `, ` and `: `
/// separators, each ending in `\n`, third-line reals at 3 significant digits.
pub fn pool_status_text(
    counts: &PoolStatusCounts,
    rates: &PoolStatusHashrates,
    shares: &PoolStatusShares,
) -> String {
    let mut s = line(counts, jansson::DEFAULT_REAL_PRECISION);
    s.push_str(&line(rates, jansson::DEFAULT_REAL_PRECISION));
    s.push_str(&line(shares, POOL_STATUS_REAL_PRECISION));
    s
}

/// Per-worker entry of a user stats file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkerStats {
    /// Full worker name (`address.rig` or just the address).
    pub workername: String,
    /// 1-minute hashrate ([`suffix_hashrate`] string).
    pub hashrate1m: String,
    /// 5-minute hashrate.
    pub hashrate5m: String,
    /// 1-hour hashrate.
    pub hashrate1hr: String,
    /// 1-day hashrate.
    pub hashrate1d: String,
    /// 7-day hashrate.
    pub hashrate7d: String,
    /// Unix time of the worker's last share.
    pub lastshare: u64,
    /// Shares (difficulty total) since the pool started.
    pub shares: u64,
    /// Best share difficulty this session (a real).
    pub bestshare: f64,
    /// Best share difficulty ever (an integer).
    pub bestever: u64,
}

/// `logs/users/<address>`: one user's stats and their workers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UserStats {
    /// 1-minute hashrate ([`suffix_hashrate`] string).
    pub hashrate1m: String,
    /// 5-minute hashrate.
    pub hashrate5m: String,
    /// 1-hour hashrate.
    pub hashrate1hr: String,
    /// 1-day hashrate.
    pub hashrate1d: String,
    /// 7-day hashrate.
    pub hashrate7d: String,
    /// Unix time of the user's last share.
    pub lastshare: u64,
    /// Connected workers.
    pub workers: u64,
    /// Shares (difficulty total) since the pool started.
    pub shares: u64,
    /// Best share difficulty this session (a real).
    pub bestshare: f64,
    /// Best share difficulty ever (an integer).
    pub bestever: u64,
    /// Unix time the user first authorised.
    pub authorised: u64,
    /// The user's workers.
    pub worker: Vec<WorkerStats>,
}

/// Reads a `logs/users/<address>` file.
pub fn parse_user_stats(text: &str) -> Result<UserStats, serde_json::Error> {
    serde_json::from_str(text)
}

/// A user stats file exactly as ckpool writes it: `JSON_INDENT(1)`, `%.17g` reals,
/// trailing newline.
pub fn user_stats_text(stats: &UserStats) -> String {
    let value = serde_json::to_value(stats).expect("stats types always serialize");
    let format = DumpFormat {
        indent: 1,
        ..DumpFormat::PLAIN
    };
    let mut s = jansson::dumps(&value, &format);
    s.push('\n');
    s
}

/// ckpool's `suffix_string(val, buf, bufsiz, 0)` for hashrates: values of 1000 and up are
/// scaled to K/M/G/T/P/E and printed `%.3g` (so `7.1K`, `3.87M`, and C's quirk
/// `1e+03K` just below the next unit); smaller values print as a truncated integer.
pub fn suffix_hashrate(h: f64) -> String {
    const KILO: f64 = 1e3;
    const MEGA: f64 = 1e6;
    const GIGA: f64 = 1e9;
    const TERA: f64 = 1e12;
    const PETA: f64 = 1e15;
    const EXA: f64 = 1e18;
    // Same divisions in the same order as ckpool, so the doubles round identically.
    let (dval, suffix) = if h >= EXA {
        ((h / PETA) / KILO, "E")
    } else if h >= PETA {
        ((h / TERA) / KILO, "P")
    } else if h >= TERA {
        ((h / GIGA) / KILO, "T")
    } else if h >= GIGA {
        ((h / MEGA) / KILO, "G")
    } else if h >= MEGA {
        ((h / KILO) / KILO, "M")
    } else if h >= KILO {
        (h / KILO, "K")
    } else {
        // `%d` of `(unsigned int)dval`: truncation.
        return format!("{}", h as u32);
    };
    format!("{}{suffix}", jansson::format_g(dval, 3))
}

/// Reads a [`suffix_hashrate`] string back to hashes per second (`"3.87M"` → 3.87e6), for
/// tools that consume ckpool's stats.
pub fn parse_suffixed(s: &str) -> Option<f64> {
    let s = s.trim();
    let (num, mult) = match s.chars().last()? {
        'K' => (&s[..s.len() - 1], 1e3),
        'M' => (&s[..s.len() - 1], 1e6),
        'G' => (&s[..s.len() - 1], 1e9),
        'T' => (&s[..s.len() - 1], 1e12),
        'P' => (&s[..s.len() - 1], 1e15),
        'E' => (&s[..s.len() - 1], 1e18),
        _ => (s, 1.0),
    };
    num.parse::<f64>().ok().map(|n| n * mult)
}

/// A value rounded to the 3 significant digits ckpool prints SPS rates with, for callers
/// that want the number a dashboard will see (ckpool rounds only when printing).
pub fn sig3(f: f64) -> f64 {
    jansson::format_g(f, 3).parse().unwrap_or(f)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suffixes() {
        assert_eq!(suffix_hashrate(0.0), "0");
        assert_eq!(suffix_hashrate(999.9), "999");
        assert_eq!(suffix_hashrate(7100.0), "7.1K");
        assert_eq!(suffix_hashrate(979_400.0), "979K");
        assert_eq!(suffix_hashrate(999_600.0), "1e+03K");
        assert_eq!(suffix_hashrate(3.8712e6), "3.87M");
        assert_eq!(suffix_hashrate(1.5e18), "1.5E");
        assert_eq!(parse_suffixed("3.87M"), Some(3.87e6));
        assert_eq!(parse_suffixed("0"), Some(0.0));
        assert_eq!(sig3(0.00090123), 0.000901);
    }
}

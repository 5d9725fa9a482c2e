//! PPLNS: a block pays the miners of the last N shares in proportion to their work. A money
//! path and a consensus rule, so integer arithmetic only, and every step is decided by the
//! window and a seed the chain fixes.
//!
//! - The window's weights are kept per payout script in a [`Tally`], updated share by share
//!   (add the newest, remove those that fell out): O(log n) per change, never a recount of
//!   the window.
//! - An uncle is credited with its weight less the spec's penalty; the including share's
//!   miner gets the penalty ([`credits`]). Nothing is lost to rounding.
//! - [`payout`] splits the reward (less the spec's fee) by weight with cumulative floors,
//!   `floor(R·C_i/W) − floor(R·C_{i−1}/W)`, so the amounts add up to the reward exactly and
//!   no one is "the remainder's owner".
//! - **The tail.** The spec caps the outputs and sets a dust floor. Payees whose share is at
//!   least the dust floor, heaviest first, get their own output while there is room; the
//!   others, the tail, pool theirs into the pot `P`. The pot is split into `m` equal slots
//!   (as many as outputs are left, and no more than `P / dust`, at least one), and each
//!   slot goes to a tail payee drawn with probability proportional to its weight, from a
//!   [`Draw`] seeded by the chain. A tail payee's expected payout is `P · w / T`, its exact
//!   share: no one's payout is lost to the cap or the dust rule, it is paid in expectation
//!   (`tests::the_tail_is_paid_its_weight_in_expectation` checks it statistically). Only a
//!   pot below the dust floor makes an output below it.
//! - Outputs are merged per script and ordered by script bytes.

use std::collections::BTreeMap;

use bitcoin::ScriptBuf;
use ruint::aliases::U256;

use super::draw::Draw;
use super::spec::{ChainSpec, BPS};

/// A window's weight (work) per payout script, kept as shares enter and leave.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tally {
    weights: BTreeMap<ScriptBuf, u128>,
    total: u128,
}

impl Tally {
    /// `weight` more for `script`.
    pub fn add(&mut self, script: &ScriptBuf, weight: u128) {
        if weight == 0 {
            return;
        }
        let w = self.weights.entry(script.clone()).or_insert(0);
        *w = w.saturating_add(weight);
        self.total = self.total.saturating_add(weight);
    }

    /// `weight` less for `script` (a share that left the window): at most what it has.
    pub fn remove(&mut self, script: &ScriptBuf, weight: u128) {
        let Some(w) = self.weights.get_mut(script) else {
            return;
        };
        let taken = weight.min(*w);
        *w -= taken;
        self.total -= taken;
        if *w == 0 {
            self.weights.remove(script);
        }
    }

    /// The window's total weight.
    pub fn total(&self) -> u128 {
        self.total
    }

    /// How many scripts have weight.
    pub fn len(&self) -> usize {
        self.weights.len()
    }

    /// True when no script has weight.
    pub fn is_empty(&self) -> bool {
        self.weights.is_empty()
    }

    /// `script`'s weight.
    pub fn weight(&self, script: &ScriptBuf) -> u128 {
        self.weights.get(script).copied().unwrap_or(0)
    }

    /// Every (script, weight), ordered by script.
    pub fn iter(&self) -> impl Iterator<Item = (&ScriptBuf, u128)> {
        self.weights.iter().map(|(s, w)| (s, *w))
    }
}

/// The weight credits of one share in the window: its miner's share weight plus the
/// penalty of each uncle it includes, and each uncle's miner its weight less the penalty.
/// The credits sum to the share's and its uncles' weights exactly.
pub fn credits(
    share: (&ScriptBuf, u128),
    uncles: &[(ScriptBuf, u128)],
    penalty_bps: u32,
) -> Vec<(ScriptBuf, u128)> {
    let mut to_includer = share.1;
    let mut out = Vec::with_capacity(uncles.len() + 1);
    for (script, w) in uncles {
        // w × (BPS − penalty) / BPS, exactly as a fraction of a u128: w < 2^128 and the
        // factor < 2^14, so it is done in 256 bits.
        let kept = (U256::from(*w) * U256::from(BPS - penalty_bps.min(BPS)) / U256::from(BPS))
            .to::<u128>();
        out.push((script.clone(), kept));
        to_includer = to_includer.saturating_add(w - kept);
    }
    out.push((share.0.clone(), to_includer));
    out
}

/// What shapes a payout: the spec's output cap, dust floor and fee.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PayoutRules {
    /// Most outputs, the fee's included.
    pub max_outputs: u32,
    /// No payee output below this (but a tail pot that is smaller).
    pub dust_sats: u64,
    /// Basis points of the reward to `fee_script`.
    pub fee_bps: u32,
    /// Where the fee goes.
    pub fee_script: ScriptBuf,
}

impl PayoutRules {
    /// The rules of `spec`.
    pub fn of(spec: &ChainSpec) -> PayoutRules {
        PayoutRules {
            max_outputs: spec.max_outputs,
            dust_sats: spec.dust_sats,
            fee_bps: spec.fee_bps,
            fee_script: ScriptBuf::from_bytes(spec.fee_script.0.clone()),
        }
    }
}

/// `floor(a × b / c)` for a reward and weights, in 256 bits (c above 0).
fn mul_div(a: u64, b: u128, c: u128) -> u64 {
    // b ≤ c, so the result is at most a.
    (U256::from(a) * U256::from(b) / U256::from(c)).to::<u64>()
}

/// The outputs (script, satoshis) paying `reward` to the window `tally` under `rules`, the
/// tail drawn from `seed`; ordered by script bytes, one per script, summing to `reward`.
/// An empty window pays everything (less the fee) to `nobody_else`: the miner of the share
/// being mined, at a chain's start.
pub fn payout(
    tally: &Tally,
    reward: u64,
    rules: &PayoutRules,
    seed: [u8; 32],
    nobody_else: &ScriptBuf,
) -> Vec<(ScriptBuf, u64)> {
    let fee = if rules.fee_script.is_empty() {
        0
    } else {
        mul_div(reward, u128::from(rules.fee_bps.min(BPS)), u128::from(BPS))
    };
    let rest = reward - fee;
    let mut paid: BTreeMap<ScriptBuf, u64> = BTreeMap::new();
    let mut pay = |script: &ScriptBuf, amount: u64| {
        if amount > 0 {
            *paid.entry(script.clone()).or_insert(0) += amount;
        }
    };
    pay(&rules.fee_script, fee);
    let slots = rules.max_outputs.max(2) as usize - usize::from(fee > 0);
    let total = tally.total();
    if total == 0 {
        pay(nobody_else, rest);
        return paid.into_iter().collect();
    }
    // Heaviest first, then by script: the order the cumulative floors run in.
    let mut order: Vec<(&ScriptBuf, u128)> = tally.iter().collect();
    order.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0)));
    let mut amounts = Vec::with_capacity(order.len());
    let mut cumulative: u128 = 0;
    let mut before: u64 = 0;
    for (_, w) in &order {
        cumulative += w;
        let upto = mul_div(rest, cumulative, total);
        amounts.push(upto - before);
        before = upto;
    }
    // Own outputs: a share of at least the dust floor (rest × w ≥ dust × W, compared
    // exactly), heaviest first, while outputs are left; one slot kept when a tail remains.
    let dust = U256::from(rules.dust_sats);
    let eligible = order
        .iter()
        .take_while(|(_, w)| U256::from(rest) * U256::from(*w) >= dust * U256::from(total))
        .count();
    let head = if eligible == order.len() && order.len() <= slots {
        order.len()
    } else {
        eligible.min(slots - 1)
    };
    for i in 0..head {
        pay(order[i].0, amounts[i]);
    }
    let tail = &order[head..];
    let pot: u64 = amounts[head..].iter().sum();
    if tail.is_empty() || pot == 0 {
        return paid.into_iter().collect();
    }
    let tail_weight: u128 = tail.iter().map(|(_, w)| w).sum();
    let by_dust = pot.checked_div(rules.dust_sats).unwrap_or(u64::MAX);
    let room = (slots - head) as u64;
    let m = room.min(by_dust).max(1);
    // Cumulative tail weights, to find a draw's winner by binary search.
    let mut bounds = Vec::with_capacity(tail.len());
    let mut acc: u128 = 0;
    for (_, w) in tail {
        acc += w;
        bounds.push(acc);
    }
    let mut draw = Draw::new(seed);
    let mut slot_before: u64 = 0;
    for j in 1..=m {
        let upto = mul_div(pot, u128::from(j), u128::from(m));
        let amount = upto - slot_before;
        slot_before = upto;
        let r = draw.below(tail_weight);
        let winner = bounds.partition_point(|b| *b <= r);
        pay(tail[winner].0, amount);
    }
    paid.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn script(i: u32) -> ScriptBuf {
        let mut program = [0u8; 20];
        program[..4].copy_from_slice(&i.to_be_bytes());
        ScriptBuf::new_p2wpkh(&bitcoin::WPubkeyHash::from_byte_array(program))
    }

    use bitcoin::hashes::Hash;

    fn rules(max_outputs: u32, dust_sats: u64) -> PayoutRules {
        PayoutRules {
            max_outputs,
            dust_sats,
            fee_bps: 0,
            fee_script: ScriptBuf::new(),
        }
    }

    fn tally(weights: &[(u32, u128)]) -> Tally {
        let mut t = Tally::default();
        for (s, w) in weights {
            t.add(&script(*s), *w);
        }
        t
    }

    fn seed(i: u64) -> [u8; 32] {
        bitcoin::hashes::sha256::Hash::hash(&i.to_le_bytes()).to_byte_array()
    }

    #[test]
    fn without_a_tail_everyone_gets_their_exact_share_and_the_total_is_exact() {
        let t = tally(&[(1, 3), (2, 5), (3, 7), (4, 11), (5, 1)]);
        let reward = 312_500_001u64;
        let out = payout(&t, reward, &rules(10, 0), seed(0), &script(99));
        assert_eq!(out.iter().map(|o| o.1).sum::<u64>(), reward);
        assert_eq!(out.len(), 5);
        // Independently: each amount is the exact share rounded down or up (27 in all).
        for (s, amount) in &out {
            let w = t.weight(s);
            let exact = reward as f64 * w as f64 / 27.0;
            assert!(
                (*amount as f64 - exact).abs() < 1.0,
                "{s}: {amount} vs {exact}"
            );
        }
        // Ordered by script bytes.
        assert!(out.windows(2).all(|p| p[0].0 < p[1].0));
    }

    #[test]
    fn the_fee_is_taken_first_and_merges_with_a_payee_of_the_same_script() {
        let t = tally(&[(1, 1), (2, 1)]);
        let r = PayoutRules {
            fee_bps: 100,
            fee_script: script(2),
            ..rules(10, 0)
        };
        let out = payout(&t, 1_000_000, &r, seed(0), &script(99));
        // 1% fee = 10,000 to script 2, the rest 495,000 each.
        assert_eq!(out, vec![(script(1), 495_000), (script(2), 505_000)]);
    }

    #[test]
    fn an_empty_window_pays_the_miner_of_the_share() {
        let out = payout(&Tally::default(), 5_000, &rules(10, 0), seed(0), &script(7));
        assert_eq!(out, vec![(script(7), 5_000)]);
    }

    #[test]
    fn the_cap_and_the_dust_floor_hold_and_the_total_stays_exact() {
        // 5 big miners and 300 small ones; 20 outputs; dust 10,000 sats.
        let mut weights: Vec<(u32, u128)> = (0..5).map(|i| (i, 1_000_000)).collect();
        weights.extend((5..305).map(|i| (i, u128::from(i % 17 + 1) * 100)));
        let t = tally(&weights);
        let reward = 625_000_000u64;
        for s in 0..50 {
            let out = payout(&t, reward, &rules(20, 10_000), seed(s), &script(999));
            assert!(out.len() <= 20, "{} outputs", out.len());
            assert_eq!(out.iter().map(|o| o.1).sum::<u64>(), reward);
            // Every big miner has its own output; no output is dust (the pot is large).
            for i in 0..5 {
                assert!(out.iter().any(|o| o.0 == script(i)), "miner {i}");
            }
            assert!(out.iter().all(|o| o.1 >= 10_000), "{out:?}");
        }
    }

    #[test]
    fn the_tail_is_paid_its_weight_in_expectation() {
        // 3 miners big enough for outputs of their own, 120 small ones of varied weight
        // (each owed less than the 0.01 BTC dust floor) pooled into the remaining 7 slots
        // of 10. Over 20,000 blocks (seeds), each small
        // miner's mean payout must be within 5 standard errors of its exact PPLNS share;
        // its payout per block is (pot / m) × Binomial(m, w / T).
        let mut weights: Vec<(u32, u128)> = (0..3).map(|i| (i, 5_000_000)).collect();
        weights.extend((3..123).map(|i| (i, u128::from(i % 13 + 1) * 1_000)));
        let t = tally(&weights);
        let reward = 625_000_000u64;
        let r = rules(10, 1_000_000);
        let blocks = 20_000u64;
        let mut sums: BTreeMap<ScriptBuf, f64> = BTreeMap::new();
        for s in 0..blocks {
            for (sc, a) in payout(&t, reward, &r, seed(s), &script(999)) {
                *sums.entry(sc).or_insert(0.0) += a as f64;
            }
        }
        let total = t.total() as f64;
        let tail_weight: f64 = (3..123).map(|i| t.weight(&script(i)) as f64).sum();
        let pot = reward as f64 * tail_weight / total;
        let m = 7.0;
        let mut chi2 = 0.0;
        for i in 3..123 {
            let w = t.weight(&script(i)) as f64;
            let q = w / tail_weight;
            let expected = reward as f64 * w / total;
            let sd_one = (pot / m) * (m * q * (1.0 - q)).sqrt();
            let se = sd_one / (blocks as f64).sqrt();
            let mean = sums.get(&script(i)).copied().unwrap_or(0.0) / blocks as f64;
            let z = (mean - expected) / se;
            assert!(
                z.abs() < 5.0,
                "miner {i}: mean {mean} vs {expected} (z {z:.2})"
            );
            chi2 += z * z;
        }
        // 120 degrees of freedom: mean 120, sd ~15.5; 5 sd above is a failure.
        assert!(chi2 < 120.0 + 5.0 * 15.5, "chi-square {chi2}");
        // The big miners are paid exactly their share every time (no draw).
        for i in 0..3 {
            let exact = reward as f64 * 5_000_000.0 / total;
            let mean = sums[&script(i)] / blocks as f64;
            assert!((mean - exact).abs() < 1.0, "big miner {i}");
        }
    }

    #[test]
    fn the_same_window_and_seed_give_the_same_payout_anywhere() {
        let weights: Vec<(u32, u128)> = (0..200).map(|i| (i, u128::from(i) + 1)).collect();
        let a = tally(&weights);
        // Built in another order, with shares added and removed on the way.
        let mut b = Tally::default();
        for (s, w) in weights.iter().rev() {
            b.add(&script(*s), w + 5);
            b.remove(&script(*s), 5);
        }
        assert_eq!(a, b);
        let r = rules(25, 50_000);
        assert_eq!(
            payout(&a, 625_000_000, &r, seed(3), &script(0)),
            payout(&b, 625_000_000, &r, seed(3), &script(0))
        );
        assert_ne!(
            payout(&a, 625_000_000, &r, seed(3), &script(0)),
            payout(&a, 625_000_000, &r, seed(4), &script(0)),
            "another seed draws another tail"
        );
    }

    #[test]
    fn the_tally_is_what_a_recount_gives() {
        // A random walk of shares entering and leaving, against a recount from the list.
        let mut draw = Draw::new([5; 32]);
        let mut window: Vec<(u32, u128)> = Vec::new();
        let mut t = Tally::default();
        for _ in 0..5_000 {
            if window.is_empty() || draw.below(3) > 0 {
                let s = draw.below(40) as u32;
                let w = draw.below(1 << 100) + 1;
                t.add(&script(s), w);
                window.push((s, w));
            } else {
                let (s, w) = window.remove(draw.below(window.len() as u128) as usize);
                t.remove(&script(s), w);
            }
        }
        let mut recount = Tally::default();
        for (s, w) in &window {
            recount.add(&script(*s), *w);
        }
        assert_eq!(t, recount);
    }

    #[test]
    fn uncles_keep_their_weight_less_the_penalty_and_the_includer_gets_it() {
        let c = credits(
            (&script(1), 1_000),
            &[(script(2), 1_000), (script(3), 333)],
            2_000,
        );
        assert_eq!(
            c,
            vec![
                (script(2), 800),
                (script(3), 266),
                (script(1), 1_000 + 200 + 67)
            ]
        );
        let total: u128 = c.iter().map(|x| x.1).sum();
        assert_eq!(total, 2_333, "nothing lost to rounding");
        assert_eq!(credits((&script(1), 5), &[], 2_000), vec![(script(1), 5)]);
    }
}

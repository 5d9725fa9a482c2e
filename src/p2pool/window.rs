//! The PPLNS window of one share, kept incrementally as the share it is taken at moves:
//! the shares from it back (newest first) until their work reaches the spec's fraction of
//! the bitcoin block's work and they are at least the spec's share floor, or the spec's
//! share cap. The block work is the median of the
//! bitcoin targets in the newest share's header and its last ten ancestors' headers
//! ([`BLOCK_WORK_SPAN`]): one share cannot set it (a share's `bits` is only as honest as
//! its miner, until it is a block).
//! Each share brings its credits (its own work, and its uncles' less the penalty, the
//! penalty to it). Moving to a child, or back to the parent, changes only what enters and
//! leaves: the cost is the number of changed entries, not the window's size.

use std::collections::VecDeque;

use bitcoin::ScriptBuf;
use ruint::aliases::U256;

use super::pplns::Tally;
use super::share::ShareId;

/// Shares whose headers' bitcoin targets give the window's block work (their median).
pub const BLOCK_WORK_SPAN: usize = 11;

/// What the window needs of a share.
#[derive(Debug, Clone)]
pub struct WindowShare {
    /// The share.
    pub id: ShareId,
    /// Its parent (the genesis for a first share).
    pub parent: ShareId,
    /// Its own work, which counts towards the window's work limit.
    pub work: u128,
    /// The work of the bitcoin target in its header: the block work the limit is a
    /// fraction of, when it is the window's newest share.
    pub block_work: u128,
    /// Its PPLNS credits (script, weight).
    pub credits: Vec<(ScriptBuf, u128)>,
}

/// Finds shares by id for the window (the chain's store).
pub trait ShareSource {
    /// The share, or `None` for the genesis (or an unknown id).
    fn window_share(&self, id: &ShareId) -> Option<WindowShare>;

    /// A share's block work and parent, without its credits (`None` for the genesis).
    fn block_work(&self, id: &ShareId) -> Option<(u128, ShareId)>;
}

/// The block work the window at `top` is measured against: the median over `top` and its
/// ancestors, [`BLOCK_WORK_SPAN`] at most (the lower middle of an even count); zero at the
/// genesis.
pub fn median_block_work(top: &ShareId, source: &impl ShareSource) -> u128 {
    let mut works = Vec::with_capacity(BLOCK_WORK_SPAN);
    let mut at = *top;
    while works.len() < BLOCK_WORK_SPAN {
        let Some((w, parent)) = source.block_work(&at) else {
            break;
        };
        works.push(w);
        at = parent;
    }
    if works.is_empty() {
        return 0;
    }
    works.sort_unstable();
    works[(works.len() - 1) / 2]
}

/// A window's limits, from the spec.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Most shares.
    pub max_shares: u32,
    /// Fewest shares (when the chain has them), whatever the work: the block work is the
    /// median of what 11 headers claim, and a miner holding 6 of 11 shares could claim it
    /// near zero, so without a floor it could shrink the window to its own last share.
    pub min_shares: u32,
    /// The work limit's fraction of block work: numerator.
    pub num: u32,
    /// … and denominator.
    pub den: u32,
}

/// The window at one share.
#[derive(Debug, Clone)]
pub struct Window {
    limits: Limits,
    /// The share it is taken at (the genesis: empty).
    top: ShareId,
    /// Newest first.
    shares: VecDeque<WindowShare>,
    tally: Tally,
    work: U256,
}

impl Window {
    /// The empty window at the genesis.
    pub fn at_genesis(genesis: ShareId, limits: Limits) -> Window {
        Window {
            limits,
            top: genesis,
            shares: VecDeque::new(),
            tally: Tally::default(),
            work: U256::ZERO,
        }
    }

    /// The share it is taken at.
    pub fn top(&self) -> ShareId {
        self.top
    }

    /// Its weights per script.
    pub fn tally(&self) -> &Tally {
        &self.tally
    }

    /// How many shares it holds.
    pub fn len(&self) -> usize {
        self.shares.len()
    }

    /// True at the genesis.
    pub fn is_empty(&self) -> bool {
        self.shares.is_empty()
    }

    /// The ids it holds, newest first.
    pub fn ids(&self) -> impl Iterator<Item = ShareId> + '_ {
        self.shares.iter().map(|s| s.id)
    }

    /// The work limit at the top.
    fn work_limit(&self, source: &impl ShareSource) -> U256 {
        U256::from(median_block_work(&self.top, source)) * U256::from(self.limits.num)
            / U256::from(self.limits.den.max(1))
    }

    fn push_back(&mut self, s: WindowShare) {
        for (script, w) in &s.credits {
            self.tally.add(script, *w);
        }
        self.work += U256::from(s.work);
        self.shares.push_back(s);
    }

    fn drop_back(&mut self) {
        if let Some(s) = self.shares.pop_back() {
            self.forget(&s);
        }
    }

    fn forget(&mut self, s: &WindowShare) {
        for (script, w) in &s.credits {
            self.tally.remove(script, *w);
        }
        self.work -= U256::from(s.work).min(self.work);
    }

    /// After the newest share changed: drop the oldest while the rest still reach the
    /// work limit and the share floor (or while over the share cap), take older ones back
    /// while short of either.
    fn settle(&mut self, source: &impl ShareSource) {
        let limit = self.work_limit(source);
        let max = self.limits.max_shares as usize;
        let min = (self.limits.min_shares as usize).clamp(1, max.max(1));
        while self.shares.len() > max {
            self.drop_back();
        }
        while let Some(back) = self.shares.back() {
            if self.work - U256::from(back.work) >= limit && self.shares.len() > min {
                self.drop_back();
            } else {
                break;
            }
        }
        while (self.work < limit || self.shares.len() < min) && self.shares.len() < max {
            let Some(back) = self.shares.back() else {
                break;
            };
            let Some(older) = source.window_share(&back.parent) else {
                break;
            };
            self.push_back(older);
        }
    }

    /// Moves to `child`, a child of the current top.
    pub fn advance(&mut self, child: WindowShare, source: &impl ShareSource) {
        for (script, w) in &child.credits {
            self.tally.add(script, *w);
        }
        self.work += U256::from(child.work);
        self.top = child.id;
        self.shares.push_front(child);
        self.settle(source);
    }

    /// The window at `top`, built by walking back from it (for a share far from where a
    /// window already is: the cost is the window's size, not the distance).
    pub fn build(top: ShareId, limits: Limits, source: &impl ShareSource) -> Window {
        let mut w = Window {
            limits,
            top,
            shares: VecDeque::new(),
            tally: Tally::default(),
            work: U256::ZERO,
        };
        if let Some(first) = source.window_share(&top) {
            w.push_back(first);
            w.settle(source);
        }
        w
    }

    /// Moves back to the top's parent.
    pub fn retreat(&mut self, source: &impl ShareSource) {
        let Some(front) = self.shares.pop_front() else {
            return;
        };
        self.forget(&front);
        self.top = front.parent;
        if self.shares.is_empty() {
            // Rebuilt from the parent itself, if it is a share.
            if let Some(parent) = source.window_share(&front.parent) {
                self.push_back(parent);
            }
        }
        self.settle(source);
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    struct Line(HashMap<ShareId, WindowShare>);

    impl ShareSource for Line {
        fn window_share(&self, id: &ShareId) -> Option<WindowShare> {
            self.0.get(id).cloned()
        }

        fn block_work(&self, id: &ShareId) -> Option<(u128, ShareId)> {
            self.0.get(id).map(|s| (s.block_work, s.parent))
        }
    }

    fn id(n: u32) -> ShareId {
        let mut b = [0u8; 32];
        b[..4].copy_from_slice(&n.to_le_bytes());
        b[31] = 1;
        ShareId(b)
    }

    fn script(n: u32) -> ScriptBuf {
        ScriptBuf::from_bytes(n.to_le_bytes().to_vec())
    }

    /// Shares 1..=n in a line, share k of work `work(k)` and block work `block_work(k)`,
    /// paying script k % 5.
    fn line(n: u32, work: impl Fn(u32) -> u128, block_work: impl Fn(u32) -> u128) -> Line {
        Line(
            (1..=n)
                .map(|k| {
                    let s = WindowShare {
                        id: id(k),
                        parent: if k == 1 { id(0) } else { id(k - 1) },
                        work: work(k),
                        block_work: block_work(k),
                        credits: vec![(script(k % 5), work(k))],
                    };
                    (id(k), s)
                })
                .collect(),
        )
    }

    /// The window at share `top` by its definition, from the line: the median block work
    /// of `top` and its 10 ancestors, then shares from `top` back until their work reaches
    /// num/den of it, at most the cap.
    fn naive(src: &Line, top: u32, limits: Limits) -> Vec<ShareId> {
        let mut works: Vec<u128> = (top.saturating_sub(10).max(1)..=top)
            .map(|k| src.0[&id(k)].block_work)
            .collect();
        works.sort();
        let median = if works.is_empty() {
            0
        } else {
            works[(works.len() - 1) / 2]
        };
        let limit = U256::from(median) * U256::from(limits.num) / U256::from(limits.den);
        let mut out = Vec::new();
        let mut work = U256::ZERO;
        let mut k = top;
        while k >= 1
            && (work < limit || out.len() < limits.min_shares as usize)
            && out.len() < limits.max_shares as usize
        {
            out.push(id(k));
            work += U256::from(src.0[&id(k)].work);
            k -= 1;
        }
        out
    }

    #[test]
    fn moving_up_and_down_matches_the_definition() {
        let limits = Limits {
            max_shares: 50,
            min_shares: 1,
            num: 3,
            den: 2,
        };
        // Block work that swings (bitcoin difficulty changes, and shares that lie about
        // it): the window follows the median.
        let src = line(
            300,
            |k| u128::from(k % 7 + 1) * 10,
            |k| {
                if k % 13 == 0 {
                    1
                } else {
                    300 + u128::from(k % 5) * 40
                }
            },
        );
        let mut w = Window::at_genesis(id(0), limits);
        for k in 1..=300 {
            w.advance(src.0[&id(k)].clone(), &src);
            assert_eq!(
                w.ids().collect::<Vec<_>>(),
                naive(&src, k, limits),
                "up to {k}"
            );
            let built = Window::build(id(k), limits, &src);
            assert_eq!(
                built.ids().collect::<Vec<_>>(),
                naive(&src, k, limits),
                "built at {k}"
            );
            assert_eq!(built.tally(), w.tally());
        }
        for k in (0..300).rev() {
            w.retreat(&src);
            assert_eq!(w.top(), id(k));
            assert_eq!(
                w.ids().collect::<Vec<_>>(),
                naive(&src, k, limits),
                "down to {k}"
            );
        }
        assert!(w.is_empty() && w.tally().is_empty());
    }

    #[test]
    fn one_share_lying_about_the_block_work_does_not_set_the_window() {
        let limits = Limits {
            max_shares: 1_000,
            min_shares: 1,
            num: 1,
            den: 1,
        };
        // Honest shares say 100 (50 shares of work 2); the newest one says 1.
        let src = line(60, |_| 2, |k| if k == 60 { 1 } else { 100 });
        let mut w = Window::at_genesis(id(0), limits);
        for k in 1..=60 {
            w.advance(src.0[&id(k)].clone(), &src);
        }
        assert_eq!(
            w.len(),
            50,
            "the median, not the newest share, sets the limit"
        );
    }

    #[test]
    fn a_majority_lying_about_the_block_work_shrinks_the_window_only_to_its_floor() {
        // Honest shares say 100 (50 shares of work 2); 6 of the newest 11 say 1, so the
        // median says 1 and the work limit is one share's.
        let src = line(60, |_| 2, |k| if k > 54 { 1 } else { 100 });
        let at = |min_shares| {
            let limits = Limits {
                max_shares: 1_000,
                min_shares,
                num: 1,
                den: 1,
            };
            let mut w = Window::at_genesis(id(0), limits);
            for k in 1..=60 {
                w.advance(src.0[&id(k)].clone(), &src);
            }
            let built = Window::build(id(60), limits, &src);
            assert_eq!(built.ids().collect::<Vec<_>>(), naive(&src, 60, limits));
            assert_eq!(w.ids().collect::<Vec<_>>(), naive(&src, 60, limits));
            w.len()
        };
        assert_eq!(
            at(1),
            1,
            "without a floor the liars pay the last share alone"
        );
        assert_eq!(at(20), 20, "the floor holds");
    }

    #[test]
    fn the_share_cap_binds_when_the_work_limit_is_far() {
        let limits = Limits {
            max_shares: 10,
            min_shares: 1,
            num: 1_000,
            den: 1,
        };
        let src = line(40, |_| 1, |_| 1_000);
        let mut w = Window::at_genesis(id(0), limits);
        for k in 1..=40 {
            w.advance(src.0[&id(k)].clone(), &src);
        }
        assert_eq!(w.len(), 10);
        assert_eq!(w.tally().total(), 10);
    }
}

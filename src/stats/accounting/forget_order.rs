//! An order of names by a key (their last activity), oldest first: what the accounting
//! forgets first. A leaf, so that the accounts (`tally.rs`) can hold one and the rules of
//! forgetting (`forget.rs`) can use them.

use std::collections::BTreeSet;

/// Names of accounts without a connection by the key they are filed under (their last
/// activity), oldest first; ties go by name.
#[derive(Debug, Clone)]
pub(crate) struct ForgetOrder<K> {
    order: BTreeSet<(u64, K)>,
}

impl<K> Default for ForgetOrder<K> {
    fn default() -> Self {
        ForgetOrder {
            order: BTreeSet::new(),
        }
    }
}

impl<K: Ord + Clone> ForgetOrder<K> {
    /// Moves `name` from the key it was filed under (`old`) to `new`; `None` is out of the
    /// order.
    pub(crate) fn refile(&mut self, name: &K, old: Option<u64>, new: Option<u64>) {
        if old == new {
            return;
        }
        if let Some(k) = old {
            self.order.remove(&(k, name.clone()));
        }
        if let Some(k) = new {
            self.order.insert((k, name.clone()));
        }
    }

    /// Every filed (key, name), oldest first, for tests to check the filing.
    #[cfg(test)]
    pub(crate) fn entries(&self) -> &BTreeSet<(u64, K)> {
        &self.order
    }

    /// How many names are filed.
    pub(crate) fn len(&self) -> usize {
        self.order.len()
    }

    /// Takes out the least recently active name, with the key it was filed under.
    pub(crate) fn pop_oldest(&mut self) -> Option<(u64, K)> {
        self.order.pop_first()
    }
}

//! ckpool's `stats`, `stratifierstats` and `connectorstats`: all answer the same JSON object
//! of counters, as there is one process behind the three sockets.

use super::Reply;
use crate::control::Handler;

/// A request for the server's counters.
#[derive(Debug)]
pub struct Stats;

impl Stats {
    /// The names answered (each matched as a prefix, as ckpool does).
    pub const NAMES: [&'static str; 3] = ["stratifierstats", "connectorstats", "stats"];

    pub(super) fn apply(self, handler: &Handler) -> Reply {
        Reply::Stats(handler.control.stats())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use crate::control::test_fixture::fixture;

    #[test]
    fn stats_are_a_json_object_of_counters() {
        let f = fixture(false);
        let stats: Value = serde_json::from_str(&f.handler.handle(b"stats")).unwrap();
        assert!(stats.get("accepted").is_some(), "{stats}");
        assert!(f.handler.handle(b"stratifierstats").starts_with('{'));
    }
}

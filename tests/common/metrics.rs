//! `/metrics` as a test reads it: parsed with the `prometheus-parse` crate (a Prometheus
//! text parser that shares no code with ours) into one value per sample, keyed
//! `name{k="v",…}` with the labels sorted. A histogram gives its `_count` and `_sum`
//! samples (and no buckets).

use std::collections::BTreeMap;

use super::http::get;
use super::Server;

/// Every sample of the server's `/metrics` page by name and labels.
pub fn scrape(server: &Server) -> BTreeMap<String, f64> {
    let r = get(server.api_addr(), "/metrics");
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(
        r.content_type.starts_with("application/openmetrics-text"),
        "{}",
        r.content_type
    );
    let lines = r.body.lines().map(|l| Ok(l.to_string()));
    let scrape = prometheus_parse::Scrape::parse(lines).expect("a Prometheus text page");
    let mut out = BTreeMap::new();
    for s in scrape.samples {
        let value = match s.value {
            prometheus_parse::Value::Counter(v)
            | prometheus_parse::Value::Gauge(v)
            | prometheus_parse::Value::Untyped(v) => v,
            // Its `_count` and `_sum` come as samples of their own.
            prometheus_parse::Value::Histogram(_) => continue,
            other => panic!("{}: unexpected {other:?}", s.metric),
        };
        let mut labels: Vec<String> = s
            .labels
            .iter()
            .map(|(k, v)| format!("{k}=\"{v}\""))
            .collect();
        labels.sort();
        let key = if labels.is_empty() {
            s.metric.clone()
        } else {
            format!("{}{{{}}}", s.metric, labels.join(","))
        };
        assert!(out.insert(key.clone(), value).is_none(), "{key} twice");
    }
    out
}

//! `/metrics`: the server's counters in the Prometheus text format (OpenMetrics 1.0, which
//! Prometheus reads), encoded with `prometheus-client`. Nothing is counted here: at each
//! scrape the collector reads the same atomics and watches that the status line and
//! ckpool's files read ([`Sources`]), so there is no second set of numbers to drift.

use std::sync::atomic::Ordering;
use std::time::SystemTime;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::{Registry, Unit};

use super::Sources;
use crate::share::Reject;

/// The content type of [`render`]'s text.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Every metric's name starts with this (`stratumd_`).
const PREFIX: &str = "stratumd";

/// Reads [`Sources`] at each scrape.
#[derive(Debug)]
struct Scrape(Sources);

/// One metric family: a single value, or a `Family` (histograms, labelled counters) that
/// encodes its own labels.
fn plain(
    encoder: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    unit: Option<&Unit>,
    metric: &impl EncodeMetric,
) -> Result<(), std::fmt::Error> {
    let e = encoder.encode_descriptor(name, help, unit, metric.metric_type())?;
    metric.encode(e)
}

/// One metric family with one label, a value per label value.
fn labelled<M: EncodeMetric>(
    encoder: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    label: &'static str,
    values: impl IntoIterator<Item = (&'static str, M)>,
    metric_type: prometheus_client::metrics::MetricType,
) -> Result<(), std::fmt::Error> {
    let mut family = encoder.encode_descriptor(name, help, None, metric_type)?;
    for (value, metric) in values {
        let labels = [(label, value)];
        let e = family.encode_family(&labels)?;
        metric.encode(e)?;
    }
    Ok(())
}

fn counter(v: u64) -> ConstCounter<u64> {
    ConstCounter::new(v)
}

fn gauge(v: i64) -> ConstGauge<i64> {
    ConstGauge::new(v)
}

/// A count as a gauge's value (counts here are far below `i64::MAX`).
fn count(v: u64) -> ConstGauge<i64> {
    gauge(i64::try_from(v).unwrap_or(i64::MAX))
}

impl Collector for Scrape {
    fn encode(&self, mut e: DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        use prometheus_client::metrics::MetricType;
        let s = self.0.stats.snapshot();
        plain(
            &mut e,
            "connections",
            "Stratum connections open now.",
            None,
            &count(s.connections),
        )?;
        labelled(
            &mut e,
            "connections_refused",
            "Connections refused at a limit: maxclients, maxclients_per_ip, or a flood ban.",
            "reason",
            [
                ("maxclients", &self.0.stats.refused_full),
                ("maxclients_per_ip", &self.0.stats.refused_per_ip),
                ("banned", &self.0.stats.refused_banned),
            ]
            .map(|(reason, n)| (reason, counter(n.load(Ordering::Relaxed)))),
            MetricType::Counter,
        )?;
        plain(
            &mut e,
            "flood_bans",
            "Addresses banned for a flood of rejected shares (flood_ban_rejects).",
            None,
            &counter(self.0.stats.flood_bans.load(Ordering::Relaxed)),
        )?;
        plain(
            &mut e,
            "authorized_miners",
            "Connected sessions that have authorized.",
            None,
            &count(s.authorized),
        )?;
        plain(
            &mut e,
            "shares_accepted",
            "Shares accepted.",
            None,
            &counter(s.accepted),
        )?;
        labelled(
            &mut e,
            "shares_rejected",
            "Well-formed shares rejected, by ckpool's reject reason.",
            "reason",
            Reject::ALL
                .iter()
                .map(|r| (r.label(), counter(s.rejected_by[r.index()]))),
            MetricType::Counter,
        )?;
        plain(
            &mut e,
            "accepted_difficulty",
            "Sum of the difficulty accepted shares were judged at (times 2^32: hashes done).",
            None,
            &ConstCounter::new(s.accepted_diff),
        )?;
        plain(
            &mut e,
            "blocks_found",
            "Block solutions found by this server's miners and sent to bitcoind.",
            None,
            &counter(s.blocks_found),
        )?;
        plain(
            &mut e,
            "blocks_accepted",
            "Found blocks a bitcoind accepted.",
            None,
            &counter(s.blocks_accepted),
        )?;
        plain(
            &mut e,
            "blocks_rejected",
            "Found blocks every bitcoind that answered rejected.",
            None,
            &counter(s.blocks_rejected),
        )?;
        plain(
            &mut e,
            "bitcoind_rpc_duration",
            "Time each bitcoind JSON-RPC call took, by node and method (failed calls too).",
            Some(&Unit::Seconds),
            &self.0.rpc.latency,
        )?;
        plain(
            &mut e,
            "bitcoind_rpc_errors",
            "bitcoind calls that failed, by node and kind (transport, rpc, wrong_chain).",
            None,
            &self.0.rpc.errors,
        )?;
        plain(
            &mut e,
            "new_block_fanout",
            "Time from a new block's first job to its reaching every session subscribed then.",
            Some(&Unit::Seconds),
            self.0.board.fanout(),
        )?;
        labelled(
            &mut e,
            "events_dropped",
            "Events a slow consumer (ZMQ publisher, stats files, share log) did not take.",
            "consumer",
            self.0
                .events
                .dropped_counts()
                .into_iter()
                .map(|(name, n)| (name, counter(n))),
            MetricType::Counter,
        )?;
        if let Some(zmq) = &self.0.zmq {
            plain(
                &mut e,
                "zmq_messages_published",
                "ckpool-solo's JSON messages (Workbase, UserWorkbase, Share, …) sent on zmqpub.",
                None,
                &counter(zmq.published.load(Ordering::Relaxed)),
            )?;
            plain(
                &mut e,
                "zmq_messages_dropped",
                "Messages the zmqpub socket refused.",
                None,
                &counter(zmq.dropped.load(Ordering::Relaxed)),
            )?;
            plain(
                &mut e,
                "zmq_subscriptions",
                "Subscriptions the zmqpub socket saw; each sent the newest jobs' workbases again.",
                None,
                &counter(zmq.subscriptions.load(Ordering::Relaxed)),
            )?;
        }
        if let Some(posting) = self.0.board.latest() {
            let age = SystemTime::now()
                .duration_since(posting.job.created)
                .map(|d| d.as_secs_f64())
                .unwrap_or(0.0);
            plain(
                &mut e,
                "template_age",
                "Time since the current job was built from bitcoind's latest template.",
                Some(&Unit::Seconds),
                &ConstGauge::new(age),
            )?;
            plain(
                &mut e,
                "template_height",
                "Height of the block the current job mines.",
                None,
                &gauge(i64::from(posting.job.template.height)),
            )?;
        }
        plain(
            &mut e,
            "start_time",
            "When this server started, unix time.",
            Some(&Unit::Seconds),
            &ConstGauge::new(self.0.started_unix),
        )?;
        if let Some(chain) = &self.0.share_chain {
            let c = chain.borrow().clone();
            plain(
                &mut e,
                "sharechain_height",
                "Height of the share chain's tip.",
                None,
                &count(c.height),
            )?;
            plain(
                &mut e,
                "sharechain_shares",
                "Shares the share chain keeps.",
                None,
                &count(c.shares as u64),
            )?;
            plain(
                &mut e,
                "sharechain_window_shares",
                "Shares in the tip's PPLNS window.",
                None,
                &count(c.window_shares as u64),
            )?;
            plain(
                &mut e,
                "sharechain_window_payees",
                "Payout scripts in the tip's PPLNS window.",
                None,
                &count(c.window_payees as u64),
            )?;
            plain(
                &mut e,
                "sharechain_uncles",
                "Kept shares off the best chain credited as uncles by it (paid).",
                None,
                &count(c.uncles),
            )?;
            plain(
                &mut e,
                "sharechain_orphans",
                "Kept shares off the best chain and not credited (unpaid).",
                None,
                &count(c.orphans),
            )?;
            plain(
                &mut e,
                "sharechain_pending",
                "Shares waiting for a parent or an uncle.",
                None,
                &count(c.pending as u64),
            )?;
            plain(
                &mut e,
                "sharechain_found",
                "This node's miners' shares the share chain kept.",
                None,
                &counter(c.found),
            )?;
            plain(
                &mut e,
                "sharechain_from_peers",
                "Peers' shares the share chain kept.",
                None,
                &counter(c.from_peers),
            )?;
            plain(
                &mut e,
                "sharechain_synced",
                "1 when jobs are built on the share chain's tip, 0 while it catches up.",
                None,
                &gauge(i64::from(c.synced)),
            )?;
        }
        if let Some(net) = &self.0.share_net {
            let n = net.borrow();
            plain(
                &mut e,
                "sharechain_peers",
                "Share-chain peers connected.",
                None,
                &count(n.peers.len() as u64),
            )?;
            plain(
                &mut e,
                "sharechain_bans",
                "Peers banned since start (an invalid share, a foreign chain, a flood).",
                None,
                &counter(n.bans_total),
            )?;
        }
        Ok(())
    }
}

/// The whole `/metrics` page for `sources`, read now.
pub fn render(sources: &Sources) -> String {
    let mut registry = Registry::with_prefix(PREFIX);
    registry.register_collector(Box::new(Scrape(sources.clone())));
    let mut out = String::new();
    // Writing to a String cannot fail; an encoder error would be a bug in a metric above.
    if let Err(e) = prometheus_client::encoding::text::encode(&mut out, &registry) {
        tracing::error!("cannot encode the metrics: {e}");
    }
    out
}

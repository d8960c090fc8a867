//! Counters and latency histograms, rendered in the Prometheus text format by `GET /metrics`.
//! Gauges that live in the database (jobs by state, queue age) are read at scrape time.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::time::Duration;

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

type Labels = Vec<(&'static str, String)>;

/// The topic labels of `printbridge_deliveries_total`: WooCommerce's order topics, the
/// actions it sends about orders, `none` (no topic header) and `unsigned` (a request
/// without a signature). Any other topic is counted as `other`: a label value taken from a
/// request as it is would add a series per distinct header, without bound.
pub const KNOWN_TOPICS: &[&str] = &[
    "order.created",
    "order.updated",
    "order.deleted",
    "order.restored",
    "action.woocommerce_payment_complete",
    "action.woocommerce_order_status_changed",
    "action.woocommerce_new_order",
    "none",
    "unsigned",
];

/// The label a delivery's topic is counted under: the topic if it is one of
/// [`KNOWN_TOPICS`] (ignoring case and surrounding space), else `other`.
pub fn topic_label(topic: &str) -> &'static str {
    let topic = topic.trim();
    KNOWN_TOPICS
        .iter()
        .find(|known| known.eq_ignore_ascii_case(topic))
        .copied()
        .unwrap_or("other")
}

#[derive(Default)]
struct Histogram {
    counts: Vec<u64>,
    sum: f64,
    count: u64,
}

#[derive(Default)]
pub struct Metrics {
    counters: Mutex<BTreeMap<(&'static str, Labels), u64>>,
    histograms: Mutex<BTreeMap<(&'static str, Labels), Histogram>>,
}

impl Metrics {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn inc(&self, name: &'static str, labels: Labels) {
        if let Ok(mut c) = self.counters.lock() {
            *c.entry((name, labels)).or_default() += 1;
        }
    }

    pub fn observe(&self, name: &'static str, labels: Labels, value: Duration) {
        let secs = value.as_secs_f64();
        if let Ok(mut h) = self.histograms.lock() {
            let hist = h.entry((name, labels)).or_default();
            if hist.counts.is_empty() {
                hist.counts = vec![0; BUCKETS.len()];
            }
            for (i, bound) in BUCKETS.iter().enumerate() {
                if secs <= *bound {
                    hist.counts[i] += 1;
                }
            }
            hist.sum += secs;
            hist.count += 1;
        }
    }

    /// A webhook delivery by topic and what the ledger did with it. The topic label is one
    /// of [`KNOWN_TOPICS`] or `other` (see [`topic_label`]), so no sender can add series.
    pub fn delivery(&self, topic: &str, outcome: &str) {
        self.inc(
            "printbridge_deliveries_total",
            vec![
                ("topic", topic_label(topic).to_owned()),
                ("outcome", outcome.to_owned()),
            ],
        );
    }

    /// One provider call: its provider, outcome class and duration.
    /// A job that became a dead letter.
    pub fn dead_letter(&self, provider: &str) {
        self.inc(
            "printbridge_dead_letters_total",
            vec![("provider", provider.to_owned())],
        );
    }

    pub fn attempt(&self, provider: &str, outcome: &str, took: Duration) {
        let labels = vec![
            ("provider", provider.to_owned()),
            ("outcome", outcome.to_owned()),
        ];
        self.inc("printbridge_attempts_total", labels.clone());
        self.observe("printbridge_attempt_duration_seconds", labels, took);
    }

    /// Renders counters and histograms, with `HELP`/`TYPE` lines.
    pub fn render(&self, out: &mut String) {
        let help = |name: &str| match name {
            "printbridge_deliveries_total" => "Webhook deliveries received, by topic and outcome.",
            "printbridge_attempts_total" => "Provider calls, by provider and outcome.",
            "printbridge_attempt_duration_seconds" => "Provider call latency.",
            "printbridge_dead_letters_total" => "Jobs that became dead letters.",
            _ => "PrintBridge metric.",
        };
        if let Ok(c) = self.counters.lock() {
            let mut last = "";
            for ((name, labels), v) in c.iter() {
                if *name != last {
                    let _ = writeln!(out, "# HELP {name} {}\n# TYPE {name} counter", help(name));
                    last = name;
                }
                let _ = writeln!(out, "{name}{} {v}", fmt_labels(labels, None));
            }
        }
        if let Ok(h) = self.histograms.lock() {
            let mut last = "";
            for ((name, labels), hist) in h.iter() {
                if *name != last {
                    let _ = writeln!(out, "# HELP {name} {}\n# TYPE {name} histogram", help(name));
                    last = name;
                }
                write_histogram(
                    out,
                    name,
                    labels,
                    (BUCKETS, &hist.counts),
                    hist.sum,
                    hist.count,
                );
            }
        }
    }
}

/// One histogram's series: a bucket per bound (`within[i]` observations at most
/// `bounds[i]`, cumulative), `+Inf`, `_sum` and `_count`; without `HELP`/`TYPE` lines.
pub fn write_histogram(
    out: &mut String,
    name: &str,
    labels: &[(&'static str, String)],
    (bounds, within): (&[f64], &[u64]),
    sum: f64,
    count: u64,
) {
    for (bound, n) in bounds.iter().zip(within) {
        let _ = writeln!(
            out,
            "{name}_bucket{} {n}",
            fmt_labels(labels, Some(&bound.to_string()))
        );
    }
    let _ = writeln!(
        out,
        "{name}_bucket{} {count}",
        fmt_labels(labels, Some("+Inf"))
    );
    let _ = writeln!(out, "{name}_sum{} {sum}", fmt_labels(labels, None));
    let _ = writeln!(out, "{name}_count{} {count}", fmt_labels(labels, None));
}

/// `{a="x",b="y"}` with Prometheus escaping; `le` appended for histogram buckets.
pub fn fmt_labels(labels: &[(&'static str, String)], le: Option<&str>) -> String {
    let mut parts: Vec<String> = labels
        .iter()
        .map(|(k, v)| format!("{k}=\"{}\"", escape(v)))
        .collect();
    if let Some(le) = le {
        parts.push(format!("le=\"{le}\""));
    }
    if parts.is_empty() {
        String::new()
    } else {
        format!("{{{}}}", parts.join(","))
    }
}

fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_prometheus_text() {
        let m = Metrics::new();
        m.delivery("order.updated", "applied");
        m.delivery("order.updated", "applied");
        m.attempt("spiff", "success", Duration::from_millis(20));
        let mut out = String::new();
        m.render(&mut out);
        assert!(out.contains(
            "printbridge_deliveries_total{topic=\"order.updated\",outcome=\"applied\"} 2"
        ));
        assert!(out.contains("# TYPE printbridge_attempt_duration_seconds histogram"));
        m.delivery("Order.Updated ", "applied");
        m.delivery("x".repeat(1000).as_str(), "rejected");
        let mut out = String::new();
        m.render(&mut out);
        assert!(out.contains(
            "printbridge_deliveries_total{topic=\"order.updated\",outcome=\"applied\"} 3"
        ));
        assert!(
            out.contains("printbridge_deliveries_total{topic=\"other\",outcome=\"rejected\"} 1")
        );
        assert!(out.contains(
            "printbridge_attempt_duration_seconds_bucket{provider=\"spiff\",outcome=\"success\",le=\"0.025\"} 1"
        ));
        assert!(out.contains(
            "printbridge_attempt_duration_seconds_bucket{provider=\"spiff\",outcome=\"success\",le=\"0.01\"} 0"
        ));
    }
}

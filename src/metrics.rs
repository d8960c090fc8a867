//! Counters and latency histograms kept in a `prometheus-client` registry and rendered in the
//! Prometheus text format (version 0.0.4) by `GET /metrics`. Gauges that live in the database
//! (jobs by state, queue age, deliveries waiting) are read at scrape time and rendered from a
//! registry built for that scrape.

use std::time::Duration;

use prometheus_client::encoding::{
    EncodeGaugeValue, EncodeLabelSet, GaugeValueEncoder, prometheus_text,
};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::{ConstGauge, Gauge};
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

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

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DeliveryLabels {
    topic: &'static str,
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ProviderLabels {
    provider: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct AttemptLabels {
    provider: String,
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RedactedLabels {
    /// `retention` or `erasure`.
    reason: &'static str,
    /// What was redacted: `delivery_body`, `snapshot`, `attempt_excerpt`, `file`, or `rows`
    /// (an erasure's follow-up, all kinds).
    kind: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct JobLabels {
    provider: String,
    state: String,
}

/// A number of seconds as the exposition writes it: a whole number without a fraction
/// (`42`, as scrapers and alerts have always read it), any other with one (`1.5`).
#[derive(Debug, Clone, Copy)]
struct Seconds(f64);

/// Whole numbers below 2^53 are exact both as `f64` and as `i64`.
const EXACT_INTEGER: f64 = 9_007_199_254_740_992.0;

impl EncodeGaugeValue for Seconds {
    fn encode(&self, encoder: &mut GaugeValueEncoder) -> Result<(), std::fmt::Error> {
        let Seconds(v) = *self;
        if v.fract() == 0.0 && v.abs() < EXACT_INTEGER {
            (v as i64).encode(encoder)
        } else {
            v.encode(encoder)
        }
    }
}

fn latency_histogram() -> Histogram {
    Histogram::new(BUCKETS.iter().copied())
}

/// The bridge's counters and histograms, updated as deliveries and provider calls happen.
pub struct Metrics {
    registry: Registry,
    deliveries: Family<DeliveryLabels, Counter>,
    attempts: Family<AttemptLabels, Counter>,
    attempt_duration: Family<AttemptLabels, Histogram, fn() -> Histogram>,
    dead_letters: Family<ProviderLabels, Counter>,
    privacy_redacted: Family<RedactedLabels, Counter>,
    privacy_sweeps: Family<OutcomeLabels, Counter>,
    unattended_jobs_cancelled: Counter,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

/// Values read from the database at scrape time.
#[derive(Debug, Clone, Default)]
pub struct ScrapeGauges {
    /// Unfinished jobs and jobs waiting for an operator: (provider, state, count).
    pub jobs: Vec<(String, String, i64)>,
    /// Jobs pending or retrying.
    pub queue_depth: i64,
    /// How long the oldest due job has waited past its run time, in seconds.
    pub oldest_due_job_age_seconds: f64,
    /// Jobs that are dead letters now.
    pub dead_letters: i64,
    /// Deliveries stored and answered, waiting to be applied to the ledger.
    pub deliveries_unapplied: i64,
    /// Age of the oldest delivery waiting to be applied, in seconds.
    pub oldest_unapplied_delivery_age_seconds: f64,
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::default();
        let deliveries = Family::<DeliveryLabels, Counter>::default();
        registry.register(
            "printbridge_deliveries",
            "Webhook deliveries received, by topic and outcome",
            deliveries.clone(),
        );
        let attempts = Family::<AttemptLabels, Counter>::default();
        registry.register(
            "printbridge_attempts",
            "Provider calls, by provider and outcome",
            attempts.clone(),
        );
        let attempt_duration =
            Family::<AttemptLabels, Histogram, fn() -> Histogram>::new_with_constructor(
                latency_histogram,
            );
        registry.register(
            "printbridge_attempt_duration_seconds",
            "Provider call latency",
            attempt_duration.clone(),
        );
        let dead_letters = Family::<ProviderLabels, Counter>::default();
        registry.register(
            "printbridge_dead_letters",
            "Jobs that became dead letters",
            dead_letters.clone(),
        );
        let privacy_redacted = Family::<RedactedLabels, Counter>::default();
        registry.register(
            "printbridge_privacy_redacted",
            "Personal data redacted or removed, by reason (retention, erasure) and kind",
            privacy_redacted.clone(),
        );
        let privacy_sweeps = Family::<OutcomeLabels, Counter>::default();
        registry.register(
            "printbridge_privacy_sweeps",
            "Privacy sweeps of a store (retention and erasure follow-up), by outcome",
            privacy_sweeps.clone(),
        );
        let unattended_jobs_cancelled = Counter::default();
        registry.register(
            "printbridge_unattended_jobs_cancelled",
            "Jobs the privacy sweep cancelled after they waited unattended_jobs_days for a person",
            unattended_jobs_cancelled.clone(),
        );
        Self {
            registry,
            deliveries,
            attempts,
            attempt_duration,
            dead_letters,
            privacy_redacted,
            privacy_sweeps,
            unattended_jobs_cancelled,
        }
    }

    /// `n` items of personal data of `kind` redacted or removed for `reason`.
    pub fn privacy_redacted(&self, reason: &'static str, kind: &'static str, n: u64) {
        if n > 0 {
            self.privacy_redacted
                .get_or_create(&RedactedLabels { reason, kind })
                .inc_by(n);
        }
    }

    /// `n` jobs cancelled by the privacy sweep after waiting `unattended_jobs_days`.
    pub fn unattended_jobs_cancelled(&self, n: u64) {
        self.unattended_jobs_cancelled.inc_by(n);
    }

    /// One privacy sweep of a store ended with `outcome` (`ok` or `failed`).
    pub fn privacy_sweep(&self, outcome: &'static str) {
        self.privacy_sweeps
            .get_or_create(&OutcomeLabels { outcome })
            .inc();
    }

    /// A webhook delivery by topic and what the ledger did with it. The topic label is one
    /// of [`KNOWN_TOPICS`] or `other` (see [`topic_label`]), so no sender can add series.
    pub fn delivery(&self, topic: &str, outcome: &str) {
        self.deliveries
            .get_or_create(&DeliveryLabels {
                topic: topic_label(topic),
                outcome: outcome.to_owned(),
            })
            .inc();
    }

    /// A job that became a dead letter.
    pub fn dead_letter(&self, provider: &str) {
        self.dead_letters
            .get_or_create(&ProviderLabels {
                provider: provider.to_owned(),
            })
            .inc();
    }

    /// One provider call: its provider, outcome class and duration.
    pub fn attempt(&self, provider: &str, outcome: &str, took: Duration) {
        let labels = AttemptLabels {
            provider: provider.to_owned(),
            outcome: outcome.to_owned(),
        };
        self.attempts.get_or_create(&labels).inc();
        self.attempt_duration
            .get_or_create(&labels)
            .observe(took.as_secs_f64());
    }

    /// The counters and histograms, then the gauges read at this scrape, with `HELP`/`TYPE`
    /// lines. Writing to a `String` does not fail and none of these metrics' values fails to
    /// encode; an encoding error is logged and the text written until then is returned.
    pub fn render(&self, gauges: &ScrapeGauges) -> String {
        let mut out = String::new();
        let encoded = prometheus_text::encode(&mut out, &self.registry)
            .and_then(|()| prometheus_text::encode(&mut out, &scrape_registry(gauges)));
        if let Err(e) = encoded {
            tracing::error!(error = %e, "metrics: encoding failed");
        }
        out
    }
}

/// A registry holding the gauges of one scrape.
fn scrape_registry(g: &ScrapeGauges) -> Registry {
    let mut registry = Registry::default();
    let jobs = Family::<JobLabels, Gauge>::default();
    for (provider, state, count) in &g.jobs {
        jobs.get_or_create(&JobLabels {
            provider: provider.clone(),
            state: state.clone(),
        })
        .set(*count);
    }
    registry.register(
        "printbridge_jobs",
        "Jobs in the outbox not finished (pending, retrying, running) or waiting for an operator (needs-review, dead) or the shop's owner (held, awaiting-approval), by provider and state",
        jobs,
    );
    let gauge = ConstGauge::new;
    let seconds = |v: f64| ConstGauge::new(Seconds(v));
    registry.register(
        "printbridge_queue_depth",
        "Jobs due now or waiting to retry",
        gauge(g.queue_depth),
    );
    registry.register(
        "printbridge_oldest_due_job_age_seconds",
        "Age of the oldest job that is due and not done",
        seconds(g.oldest_due_job_age_seconds),
    );
    registry.register(
        "printbridge_dead_letters",
        "Jobs that are dead letters now",
        gauge(g.dead_letters),
    );
    registry.register(
        "printbridge_deliveries_unapplied",
        "Deliveries stored and answered, waiting to be applied to the ledger",
        gauge(g.deliveries_unapplied),
    );
    registry.register(
        "printbridge_oldest_unapplied_delivery_age_seconds",
        "Age of the oldest delivery waiting to be applied",
        seconds(g.oldest_unapplied_delivery_age_seconds),
    );
    registry
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(m: &Metrics) -> String {
        m.render(&ScrapeGauges::default())
    }

    #[test]
    fn renders_prometheus_text() {
        let m = Metrics::new();
        m.delivery("order.updated", "applied");
        m.delivery("order.updated", "applied");
        m.attempt("spiff", "success", Duration::from_millis(20));
        let out = render(&m);
        assert!(out.contains(
            "printbridge_deliveries_total{topic=\"order.updated\",outcome=\"applied\"} 2"
        ));
        assert!(out.contains("# TYPE printbridge_attempt_duration_seconds histogram"));
        m.delivery("Order.Updated ", "applied");
        m.delivery("x".repeat(1000).as_str(), "rejected");
        let out = render(&m);
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

    /// Every metric keeps its name, type and help text: dashboards and alerts read them.
    #[test]
    fn names_types_and_help_are_stable() {
        let m = Metrics::new();
        m.delivery("order.created", "applied");
        m.attempt("apliiq", "success", Duration::from_millis(3));
        m.dead_letter("apliiq");
        m.privacy_redacted("retention", "delivery_body", 3);
        m.privacy_sweep("ok");
        m.unattended_jobs_cancelled(2);
        let out = m.render(&ScrapeGauges {
            jobs: vec![("spiff".to_owned(), "dead".to_owned(), 2)],
            queue_depth: 3,
            oldest_due_job_age_seconds: 1.5,
            dead_letters: 2,
            deliveries_unapplied: 4,
            oldest_unapplied_delivery_age_seconds: 42.0,
        });
        for line in [
            "# HELP printbridge_deliveries_total Webhook deliveries received, by topic and outcome.",
            "# TYPE printbridge_deliveries_total counter",
            "# HELP printbridge_attempts_total Provider calls, by provider and outcome.",
            "# TYPE printbridge_attempts_total counter",
            "printbridge_attempts_total{provider=\"apliiq\",outcome=\"success\"} 1",
            "# HELP printbridge_attempt_duration_seconds Provider call latency.",
            "printbridge_attempt_duration_seconds_bucket{provider=\"apliiq\",outcome=\"success\",le=\"1\"} 1",
            "printbridge_attempt_duration_seconds_bucket{provider=\"apliiq\",outcome=\"success\",le=\"+Inf\"} 1",
            "printbridge_attempt_duration_seconds_count{provider=\"apliiq\",outcome=\"success\"} 1",
            "# HELP printbridge_dead_letters_total Jobs that became dead letters.",
            "# TYPE printbridge_dead_letters_total counter",
            "printbridge_dead_letters_total{provider=\"apliiq\"} 1",
            "# TYPE printbridge_jobs gauge",
            "printbridge_jobs{provider=\"spiff\",state=\"dead\"} 2",
            "# HELP printbridge_queue_depth Jobs due now or waiting to retry.",
            "printbridge_queue_depth 3",
            "# TYPE printbridge_oldest_due_job_age_seconds gauge",
            "printbridge_oldest_due_job_age_seconds 1.5",
            "printbridge_oldest_unapplied_delivery_age_seconds 42",
            "# HELP printbridge_dead_letters Jobs that are dead letters now.",
            "printbridge_dead_letters 2",
            "printbridge_deliveries_unapplied 4",
            "# TYPE printbridge_oldest_unapplied_delivery_age_seconds gauge",
            "# HELP printbridge_privacy_redacted_total Personal data redacted or removed, by reason (retention, erasure) and kind.",
            "# TYPE printbridge_privacy_redacted_total counter",
            "printbridge_privacy_redacted_total{reason=\"retention\",kind=\"delivery_body\"} 3",
            "# HELP printbridge_privacy_sweeps_total Privacy sweeps of a store (retention and erasure follow-up), by outcome.",
            "# TYPE printbridge_privacy_sweeps_total counter",
            "printbridge_privacy_sweeps_total{outcome=\"ok\"} 1",
            "# HELP printbridge_unattended_jobs_cancelled_total Jobs the privacy sweep cancelled after they waited unattended_jobs_days for a person.",
            "# TYPE printbridge_unattended_jobs_cancelled_total counter",
            "printbridge_unattended_jobs_cancelled_total 2",
        ] {
            assert!(out.lines().any(|l| l == line), "{line} missing in\n{out}");
        }
        let age = out
            .lines()
            .find_map(|l| l.strip_prefix("printbridge_oldest_unapplied_delivery_age_seconds "))
            .and_then(|v| v.parse::<f64>().ok());
        assert_eq!(age, Some(42.0), "{out}");
    }
}

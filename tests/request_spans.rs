//! Requests and jobs log side by side without their spans nesting: while webhook deliveries
//! are answered and jobs run at once, no event sits in two of the bridge's spans (a request
//! inside a job, a job inside a request, or one job inside another), a request's lines carry
//! no job span, and every job line carries the span of its own job.
//!
//! A test binary of its own: it installs the process-wide tracing subscriber and reads every
//! event that subscriber captures, so no other test may run (and log) in its process.

#[path = "it/support/mod.rs"]
mod support;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use support::Backend;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id};
use tracing::{Event, Subscriber};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;

const SECRET: &str = "request-spans-secret";
const ORDERS: i64 = 16;

/// The fields of a span or an event, by name (strings without quotes).
#[derive(Clone, Debug, Default)]
struct Fields(BTreeMap<String, String>);

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.to_owned());
    }
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }
}

/// A span an event was logged in.
#[derive(Clone, Debug)]
struct SpanSeen {
    name: String,
    target: String,
    fields: Fields,
}

/// One event with the spans it was logged in, outermost first.
#[derive(Clone, Debug)]
struct Logged {
    fields: Fields,
    spans: Vec<SpanSeen>,
}

impl Logged {
    fn message(&self) -> &str {
        self.fields.0.get("message").map_or("", String::as_str)
    }
    fn field(&self, key: &str) -> Option<&str> {
        self.fields.0.get(key).map(String::as_str)
    }
    /// The spans the bridge itself opened (libraries' spans are not its concern).
    fn own_spans(&self) -> Vec<&SpanSeen> {
        self.spans
            .iter()
            .filter(|s| s.target.starts_with("printbridge"))
            .collect()
    }
}

/// Records every event of the process with its span scope.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<Logged>>>);

impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for Capture {
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let mut fields = Fields::default();
        attrs.record(&mut fields);
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(fields);
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let mut fields = Fields::default();
        event.record(&mut fields);
        let spans = ctx
            .event_scope(event)
            .map(|scope| {
                scope
                    .from_root()
                    .map(|span| SpanSeen {
                        name: span.name().to_owned(),
                        target: span.metadata().target().to_owned(),
                        fields: span
                            .extensions()
                            .get::<Fields>()
                            .cloned()
                            .unwrap_or_default(),
                    })
                    .collect()
            })
            .unwrap_or_default();
        self.0
            .lock()
            .expect("captured events")
            .push(Logged { fields, spans });
    }
}

/// Installs the process-wide subscriber once (requests and jobs run on the runtime's worker
/// threads, which a thread-local subscriber would not reach).
fn captured() -> &'static Capture {
    static LOG: OnceLock<Capture> = OnceLock::new();
    LOG.get_or_init(|| {
        let capture = Capture::default();
        tracing_subscriber::registry()
            .with(
                capture
                    .clone()
                    .with_filter(tracing_subscriber::filter::LevelFilter::INFO),
            )
            .init();
        capture
    })
}

fn snapshot() -> Vec<Logged> {
    captured().0.lock().expect("captured events").clone()
}

/// Whether `e` is one of this store's events: a request's line names the store, a job's
/// line is in a span that does.
fn of_store(e: &Logged, store_id: &str) -> bool {
    e.field("store") == Some(store_id)
        || e.spans
            .iter()
            .any(|s| s.fields.0.get("store").map(String::as_str) == Some(store_id))
}

async fn requests_and_jobs_do_not_nest(backend: Backend) {
    captured();
    let store_id = match backend {
        Backend::Sqlite => "request-spans-sqlite",
        Backend::Postgres => "request-spans-postgres",
    };
    // Slow answers keep calls in flight while the later deliveries arrive; every third
    // Spiff order is refused, so jobs end in different states.
    let (sb, app) = support::slow_dispatch_app(backend, store_id, SECRET, ORDERS).await;
    // The second half of the deliveries is sent once jobs of the first half have run, so
    // requests are answered while the dispatcher works.
    app.post_spiff_apliiq_orders(store_id, SECRET, 1..=ORDERS / 2)
        .await;
    support::eventually(
        Duration::from_secs(60),
        "a job attempt recorded",
        || async {
            snapshot()
                .iter()
                .any(|e| of_store(e, store_id) && e.message() == "job attempt recorded")
                .then_some(())
        },
    )
    .await;
    app.post_spiff_apliiq_orders(store_id, SECRET, ORDERS / 2 + 1..=ORDERS)
        .await;
    let jobs = app.settled_jobs(Duration::from_secs(60)).await;
    let state_of: HashMap<String, String> = jobs
        .iter()
        .map(|j| {
            (
                j["id"].to_string(),
                j["state"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    app.stop().await;
    sb.stop();

    let events = snapshot();
    for e in &events {
        let own = e.own_spans();
        assert!(own.len() <= 1, "an event in nested spans: {e:?}");
    }
    let mine: Vec<&Logged> = events.iter().filter(|e| of_store(e, store_id)).collect();
    let stored: Vec<usize> = mine
        .iter()
        .enumerate()
        .filter(|(_, e)| e.message() == "webhook stored")
        .map(|(i, _)| i)
        .collect();
    assert_eq!(stored.len(), ORDERS as usize, "one line per delivery");
    for &i in &stored {
        assert!(
            mine[i].own_spans().iter().all(|s| s.name != "job"),
            "a request's line in a job span: {:?}",
            mine[i]
        );
    }
    let mut recorded: HashMap<String, usize> = HashMap::new();
    let mut first_recorded = None;
    for (i, e) in mine.iter().enumerate() {
        if e.message() != "job attempt recorded" {
            continue;
        }
        first_recorded.get_or_insert(i);
        let own = e.own_spans();
        assert_eq!(own.len(), 1, "a job's line in its job's span only: {e:?}");
        assert_eq!(own[0].name, "job", "{e:?}");
        let job_id = own[0].fields.0.get("job_id").expect("job_id").clone();
        assert_eq!(
            e.field("state"),
            state_of.get(&job_id).map(String::as_str),
            "the line's state is the state of the job its span names: {e:?}"
        );
        *recorded.entry(job_id).or_default() += 1;
    }
    let first_recorded = first_recorded.expect("a job attempt recorded");
    assert!(
        stored.iter().any(|&i| i > first_recorded),
        "deliveries were answered while jobs ran"
    );
    let provider_jobs: Vec<String> = jobs
        .iter()
        .filter(|j| j["provider"] != "woocommerce")
        .map(|j| j["id"].to_string())
        .collect();
    assert_eq!(provider_jobs.len(), 2 * ORDERS as usize);
    for id in &provider_jobs {
        assert_eq!(recorded.get(id), Some(&1), "job {id}: {recorded:?}");
    }
}
on_both_backends!(concurrent_requests_and_jobs, requests_and_jobs_do_not_nest);

//! Every log line a job writes carries that job's span and no other, also when many jobs of
//! several providers run at once on a multi-threaded runtime.
//!
//! A test binary of its own: it installs the process-wide tracing subscriber and reads every
//! line that subscriber captures, so no other test may run (and log) in its process.

#[path = "it/support/mod.rs"]
mod support;

use std::collections::HashMap;
use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use support::Backend;

const SECRET: &str = "spans-secret";
const ORDERS: i64 = 24;

/// The log of this test process, as the bridge's own subscriber formats it.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("log buffer").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
    type Writer = Captured;
    fn make_writer(&'a self) -> Captured {
        self.clone()
    }
}

/// Installs the process-wide subscriber once (the dispatcher's tasks run on the runtime's
/// worker threads, which a thread-local subscriber would not reach).
fn captured_log() -> &'static Captured {
    static LOG: OnceLock<Captured> = OnceLock::new();
    LOG.get_or_init(|| {
        let log = Captured::default();
        tracing_subscriber::fmt()
            .with_writer(log.clone())
            .with_ansi(false)
            .without_time()
            .with_max_level(tracing::Level::INFO)
            .init();
        log
    })
}

/// The value of `key=` in a span's or event's fields, quotes removed.
fn field<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    let start = text.find(&format!("{key}="))? + key.len() + 1;
    let rest = &text[start..];
    let end = rest.find([' ', '}']).unwrap_or(rest.len());
    Some(rest[..end].trim_matches('"'))
}

async fn each_line_names_its_own_job(backend: Backend) {
    let log = captured_log();
    let store_id = match backend {
        Backend::Sqlite => "spans-sqlite",
        Backend::Postgres => "spans-postgres",
    };
    // Slow answers keep many calls in flight at once; every third Spiff order is refused,
    // so jobs end in different states and a line naming the wrong job shows.
    let (sb, app) = support::slow_dispatch_app(backend, store_id, SECRET, ORDERS).await;
    app.post_spiff_apliiq_orders(store_id, SECRET, 1..=ORDERS)
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
    assert!(
        state_of.values().any(|s| s == "dead") && state_of.values().any(|s| s == "done"),
        "{state_of:?}"
    );

    let text = String::from_utf8_lossy(&log.0.lock().expect("log buffer")).into_owned();
    let mine = format!("store={store_id} ");
    let lines: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("job{") && l.contains(&mine))
        .collect();
    let mut recorded: HashMap<String, usize> = HashMap::new();
    for line in &lines {
        assert_eq!(line.matches("job{").count(), 1, "one job span: {line}");
        let span = &line[line.find("job{").expect("span")..];
        let job_id = field(span, "job_id").expect("job_id");
        if line.contains("job attempt recorded") {
            *recorded.entry(job_id.to_owned()).or_default() += 1;
            let event = &line[line.find("job attempt recorded").expect("event")..];
            assert_eq!(
                field(event, "state"),
                state_of.get(job_id).map(String::as_str),
                "the line's state is the state of the job its span names: {line}"
            );
        }
    }
    let provider_jobs: Vec<String> = jobs
        .iter()
        .filter(|j| j["provider"] != "woocommerce")
        .map(|j| j["id"].to_string())
        .collect();
    assert_eq!(provider_jobs.len(), 2 * ORDERS as usize);
    for id in &provider_jobs {
        assert_eq!(recorded.get(id), Some(&1), "job {id}: {recorded:?}");
    }
    app.stop().await;
    sb.stop();
}
on_both_backends!(concurrent_jobs, each_line_names_its_own_job);

//! The intake journal end to end: deliveries answered from the journal and not yet stored
//! when the bridge stopped are stored at its next start, once; a journal that fed another
//! database is refused. (The journal's own format: `src/store/journal.rs`; a SIGKILL in the
//! middle of a burst: `tests/crash.rs`.)

mod support;

use printbridge::app::Application;
use printbridge::config::Config;
use printbridge::ledger::intake::{Delivery, Source};
use printbridge::store::Store;
use printbridge::store::journal::{Journal, Payload};
use printbridge::store::reads::Table;
use serde_json::json;
use support::{Backend, Item, TestApp, order_json};

const SECRET: &str = "s3cret";

fn body(order: i64) -> Vec<u8> {
    serde_json::to_vec(&order_json(
        order,
        "processing",
        "2026-11-23T10:00:00",
        &[Item::Apliiq("APQ-1998244S7A1")],
    ))
    .expect("order json")
}

/// A database of the test's own (SQLite file `name`, or PostgreSQL schema `name`), reopened
/// by the same name.
async fn open(backend: Backend, dir: &std::path::Path, name: &str) -> (Store, String) {
    match backend {
        Backend::Sqlite => {
            let url = format!("sqlite://{}", dir.join(format!("{name}.db")).display());
            (Store::connect(&url).await.expect("sqlite"), url)
        }
        Backend::Postgres => {
            let url = support::postgres_url().expect("postgres url");
            let store = Store::connect_postgres_schema(&url, name)
                .await
                .expect("postgres");
            (store, url)
        }
    }
}

fn configure(c: &mut Config) {
    c.stores = vec![support::store_config("shop", SECRET)];
    c.intake_journal = Some(true);
}

/// Appends deliveries of `orders` to the journal in `dir`, as a bridge that answered them and
/// stopped before storing them would have left them.
async fn leave_in_journal(
    dir: &std::path::Path,
    store: &Store,
    orders: std::ops::RangeInclusive<i64>,
) {
    let (opened, files) = Journal::open(dir).expect("journal opens");
    let stored = store
        .journal_position(&opened.id)
        .await
        .expect("position")
        .expect("the bridge recorded its journal's position");
    let stored = u64::try_from(stored).expect("position");
    assert_eq!(
        opened.last_seq, stored,
        "the bridge stored all it journaled"
    );
    let journal = Journal::start(files, &opened, stored).expect("journal starts");
    for order in orders {
        let delivery = Delivery {
            store_id: "shop".to_owned(),
            source: Source::Webhook,
            topic: Some("order.updated".to_owned()),
            webhook_id: Some("4".to_owned()),
            delivery_ref: None,
            content_type: Some("application/json".to_owned()),
            body: body(order),
        };
        journal
            .append(Payload::new(delivery, 1_764_000_000_000))
            .await
            .expect("append");
    }
    journal.stop();
}

async fn left_in_the_journal_is_stored_at_the_next_start(backend: Backend) {
    let dir = tempfile::tempdir().expect("tempdir");
    let schema = format!("pb_{}", uuid::Uuid::new_v4().simple());
    let (store, url) = open(backend, dir.path(), &schema).await;
    let app = TestApp::spawn_on(dir, store, url.clone(), configure, None).await;
    // Alone, a delivery waits for its transaction and carries its outcome.
    let (status, ack) = app
        .post_webhook("shop", "order.updated", &body(1), SECRET)
        .await;
    assert_eq!(status, 200, "{ack}");
    assert_eq!(ack["outcome"], json!("applied"), "{ack}");
    assert!(ack["delivery_id"].as_i64().is_some(), "{ack}");
    let journal_dir = app.state.config.data_dir.join("intake-journal");
    let dir = app.stop().await;

    let (store, _) = open(backend, dir.path(), &schema).await;
    leave_in_journal(&journal_dir, &store, 2..=4).await;
    let app = TestApp::spawn_on(dir, store, url, configure, None).await;
    app.applied().await;
    assert_eq!(app.store.count(Table::Deliveries).await.expect("count"), 4);
    let (status, page) = app.admin_get("/v1/admin/deliveries?limit=10").await;
    assert_eq!(status, 200, "{page}");
    let mut orders: Vec<(i64, String)> = page["deliveries"]
        .as_array()
        .expect("deliveries")
        .iter()
        .map(|d| {
            (
                d["order_id"].as_i64().unwrap_or(0),
                d["outcome"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    orders.sort();
    let applied: Vec<(i64, String)> = (1..=4).map(|o| (o, "applied".to_owned())).collect();
    assert_eq!(orders, applied, "{page}");
    assert_eq!(app.store.count(Table::Jobs).await.expect("jobs"), 4);
    assert_eq!(app.state.intake.journal_backlog(), 0);
    let dir = app.stop().await;

    // Started again: nothing is replayed twice.
    let (store, url) = open(backend, dir.path(), &schema).await;
    let app = TestApp::spawn_on(dir, store, url, configure, None).await;
    app.applied().await;
    assert_eq!(app.store.count(Table::Deliveries).await.expect("count"), 4);
    app.stop().await;
}
on_both_backends!(replay, left_in_the_journal_is_stored_at_the_next_start);

async fn a_journal_that_fed_another_database_is_refused(backend: Backend) {
    let dir = tempfile::tempdir().expect("tempdir");
    let schema = format!("pb_{}", uuid::Uuid::new_v4().simple());
    let (store, url) = open(backend, dir.path(), &schema).await;
    let app = TestApp::spawn_on(dir, store, url, configure, None).await;
    let (status, ack) = app
        .post_webhook("shop", "order.updated", &body(1), SECRET)
        .await;
    assert_eq!(status, 200, "{ack}");
    let data_dir = app.state.config.data_dir.clone();
    let dir = app.stop().await;
    // Answered from the journal and not stored when the bridge stopped.
    let (store, _) = open(backend, dir.path(), &schema).await;
    leave_in_journal(&data_dir.join("intake-journal"), &store, 2..=2).await;
    store.close().await;

    let other = format!("pb_{}", uuid::Uuid::new_v4().simple());
    let (store, url) = open(backend, dir.path(), &other).await;
    let mut config = Config {
        listen: "127.0.0.1:0".to_owned(),
        database_url: url,
        data_dir,
        ..Config::default()
    };
    configure(&mut config);
    let refused = Application::build_with_store(config, store, None, None).await;
    let Err(e) = refused else {
        panic!("a bridge started on another database with this journal");
    };
    let text = e.to_string();
    assert!(text.contains("intake journal"), "{text}");
    assert!(
        std::error::Error::source(&e)
            .map(|s| s.to_string())
            .unwrap_or_default()
            .contains("never stored from it"),
        "{text}"
    );
}
on_both_backends!(foreign, a_journal_that_fed_another_database_is_refused);

/// With PostgreSQL the journal is off unless configured; with a SQLite file it is on.
#[test]
fn the_journal_is_on_by_default_only_with_sqlite() {
    let mut c = Config::default();
    assert_eq!(
        c.intake_journal_dir(),
        Some(c.data_dir.join("intake-journal"))
    );
    c.database_url = "postgres://bridge@db/bridge".to_owned();
    assert_eq!(c.intake_journal_dir(), None);
    c.intake_journal = Some(true);
    assert!(c.intake_journal_dir().is_some());
    c.database_url = "sqlite::memory:".to_owned();
    c.intake_journal = None;
    assert_eq!(c.intake_journal_dir(), None);
}

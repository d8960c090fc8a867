//! Fewer orders waiting for a person, never a double order: an attempt interrupted before
//! its request left is simply sent again, one interrupted after waits for review; a failed
//! Apliiq lookup is repeated with backoff before the job is parked; an outcome the database
//! could not record at once is recorded again, not lost.

use std::time::Duration;

use crate::support;
use crate::support::{Backend, Item, TestApp, open_store, order_json, sandbox_store};
use printbridge::intake::parse::Source;
use printbridge::sandbox::Fault;
use serde_json::{Value, json};

const SECRET: &str = "outcomes-secret";

fn of_order(jobs: &[Value], order_id: i64, provider: &str) -> Value {
    jobs.iter()
        .find(|j| j["order_id"] == json!(order_id) && j["provider"] == json!(provider))
        .cloned()
        .unwrap_or_else(|| panic!("no {provider} job of order {order_id} in {jobs:?}"))
}

fn status(code: u16) -> Fault {
    Fault {
        status: code,
        ..Fault::default()
    }
}

/// Two Spiff jobs whose worker died: one after its claim only, one after it had handed its
/// request to the network. The first is sent at the next claim; the second waits for review
/// with a reason that says so, and Spiff never gets it twice.
async fn interrupted_before_sending_is_sent_again(backend: Backend) {
    let sb = support::start_sandbox().await;
    let cfg = sandbox_store(&sb, "shop", SECRET);
    let dir = tempfile::tempdir().expect("tempdir");
    let (store, url) = open_store(backend, dir.path()).await;
    store.migrate().await.expect("migrate");
    let (unsent_tx, sent_tx) = (
        "44444444-0000-4000-8000-000000000001",
        "44444444-0000-4000-8000-000000000002",
    );
    let now = chrono::Utc::now().timestamp_millis();
    for (id, tx) in [(1, unsent_tx), (2, sent_tx)] {
        let body = serde_json::to_vec(&order_json(
            id,
            "processing",
            "2026-11-23T08:00:00",
            &[Item::Spiff(tx)],
        ))
        .expect("json");
        printbridge::outbox::reconcile::ingest_order_json(
            &store,
            &cfg,
            Source::Backfill,
            body,
            now,
        )
        .await
        .expect("ingest");
    }
    let claimed = store
        .claim_jobs(
            printbridge::outbox::job_types::JobQueue::Spiff,
            "crashed",
            now,
            now + 1,
            10,
        )
        .await
        .expect("claim");
    assert_eq!(claimed.len(), 2);
    let sent = claimed
        .iter()
        .find(|j| j.order_id == 2)
        .expect("job of order 2");
    assert!(
        store
            .mark_sent(sent.id, "crashed", now)
            .await
            .expect("mark")
    );
    // Another worker's mark is fenced out.
    assert!(!store.mark_sent(sent.id, "other", now).await.expect("mark"));
    assert_eq!(store.reap_expired_leases(now + 2).await.expect("reap"), 2);

    let app = TestApp::spawn_on(
        dir,
        store,
        url,
        |c| {
            support::fast_dispatch(c);
            c.stores = vec![cfg];
        },
        None,
    )
    .await;
    let jobs = app.settled_jobs(Duration::from_secs(60)).await;
    let retried = of_order(&jobs, 1, "spiff");
    assert_eq!(retried["state"], json!("done"), "{retried}");
    let parked = of_order(&jobs, 2, "spiff");
    assert_eq!(parked["state"], json!("needs-review"), "{parked}");
    let reason = parked["last_error"].as_str().unwrap_or_default();
    assert!(
        reason.contains("interrupted after its order request was handed to Spiff")
            && reason.contains(sent_tx),
        "{reason}"
    );
    let stats = sb.state.stats();
    assert_eq!(stats.spiff_orders.get(unsent_tx), Some(&1), "{stats:?}");
    assert_eq!(stats.spiff_orders.get(sent_tx), None, "{stats:?}");
    app.stop().await;
    sb.stop();
}
on_both_backends!(interrupted, interrupted_before_sending_is_sent_again);

/// Apliiq creates the order but answers 500, and the lookup that should tell fails too: the
/// job is looked up again after a backoff, found, and done; Apliiq has it once.
async fn failed_lookup_is_repeated_before_parking(backend: Backend) {
    let sb = support::start_sandbox().await;
    sb.state.push_faults(
        "apliiq",
        [
            Fault {
                status: 500,
                after_effect: true,
                ..Fault::default()
            },
            status(500),
        ],
    );
    let store = sandbox_store(&sb, "shop", SECRET);
    let app = TestApp::spawn(backend, |c| {
        support::fast_dispatch(c);
        c.stores = vec![store];
    })
    .await;
    let order = order_json(
        11,
        "processing",
        "2026-11-23T08:00:00",
        &[Item::Apliiq("APQ-1998244S7A1")],
    );
    app.post_order("shop", SECRET, &order).await;
    let jobs = app.settled_jobs(Duration::from_secs(60)).await;
    let job = of_order(&jobs, 11, "apliiq");
    assert_eq!(job["state"], json!("done"), "{job}");
    assert_eq!(sb.state.stats().apliiq_orders.get("11"), Some(&1));
    let (_, detail) = app
        .admin_get(&format!("/v1/admin/jobs/{}", job["id"]))
        .await;
    let log = detail["attempts_log"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let outcomes: Vec<&str> = log.iter().filter_map(|a| a["outcome"].as_str()).collect();
    assert_eq!(outcomes, ["retryable", "resolved"], "{detail}");
    assert!(
        log[0]["error"]
            .as_str()
            .is_some_and(|e| e.contains("the lookup failed too")),
        "{detail}"
    );
    app.stop().await;
    sb.stop();
}
on_both_backends!(lookup_retried, failed_lookup_is_repeated_before_parking);

/// When every lookup fails until the attempts run out, the job waits for review (the order
/// may exist), not as a dead letter, and the reason names the lookups.
async fn lookups_that_keep_failing_park_the_job(backend: Backend) {
    let sb = support::start_sandbox().await;
    sb.state
        .push_faults("apliiq", [status(500), status(500), status(500)]);
    let store = sandbox_store(&sb, "shop", SECRET);
    let app = TestApp::spawn(backend, |c| {
        support::fast_dispatch(c);
        c.dispatch.max_attempts = std::num::NonZeroU32::new(2).expect("2 is not 0");
        c.stores = vec![store];
    })
    .await;
    let order = order_json(
        12,
        "processing",
        "2026-11-23T08:00:00",
        &[Item::Apliiq("APQ-1998244S7A1")],
    );
    app.post_order("shop", SECRET, &order).await;
    let jobs = app.settled_jobs(Duration::from_secs(60)).await;
    let job = of_order(&jobs, 12, "apliiq");
    assert_eq!(job["state"], json!("needs-review"), "{job}");
    let reason = job["last_error"].as_str().unwrap_or_default();
    assert!(
        reason.contains("looking up Apliiq order 12 kept failing") && reason.contains("2 times"),
        "{reason}"
    );
    assert!(sb.state.stats().apliiq_orders.is_empty());
    app.stop().await;
    sb.stop();
}
on_both_backends!(lookup_exhausted, lookups_that_keep_failing_park_the_job);

/// The database refuses to record attempts while Spiff places an order: the known outcome
/// is recorded once the database takes it again, and the order is done, not parked.
async fn a_known_outcome_is_recorded_again(backend: Backend) {
    let sb = support::start_sandbox().await;
    let store = sandbox_store(&sb, "shop", SECRET);
    let app = TestApp::spawn(backend, |c| {
        support::fast_dispatch(c);
        c.dispatch.lease_secs = Some(5);
        c.stores = vec![store];
    })
    .await;
    let (fail, repair): (&[&str], &str) = match backend {
        Backend::Sqlite => (
            &["CREATE TRIGGER fail_attempt BEFORE INSERT ON job_attempts \
               BEGIN SELECT RAISE(ABORT, 'database hiccup'); END"],
            "DROP TRIGGER fail_attempt",
        ),
        Backend::Postgres => (
            &[
                "CREATE FUNCTION fail_attempt() RETURNS trigger AS $$ BEGIN \
                 RAISE EXCEPTION 'database hiccup'; END $$ LANGUAGE plpgsql",
                "CREATE TRIGGER fail_attempt BEFORE INSERT ON job_attempts \
                 FOR EACH ROW EXECUTE FUNCTION fail_attempt()",
            ],
            "DROP TRIGGER fail_attempt ON job_attempts",
        ),
    };
    for sql in fail {
        on_pool!(&app.store, |pool| {
            sqlx::query(sqlx::AssertSqlSafe(*sql))
                .execute(pool)
                .await
                .expect(sql);
        });
    }
    let tx = "55555555-0000-4000-8000-000000000001";
    let order = order_json(21, "processing", "2026-11-23T08:00:00", &[Item::Spiff(tx)]);
    app.post_order("shop", SECRET, &order).await;
    // Spiff has answered: the bridge knows the outcome and cannot record it.
    support::eventually(Duration::from_secs(30), "Spiff answered", || async {
        sb.state
            .calls()
            .iter()
            .any(|c| c.provider == "spiff" && c.status == 200)
            .then_some(())
    })
    .await;
    on_pool!(&app.store, |pool| {
        sqlx::query(repair).execute(pool).await.expect(repair);
    });
    let jobs = app.settled_jobs(Duration::from_secs(60)).await;
    let job = of_order(&jobs, 21, "spiff");
    assert_eq!(job["state"], json!("done"), "{job}");
    assert_eq!(job["attempts"], json!(1), "{job}");
    assert_eq!(sb.state.stats().spiff_orders.get(tx), Some(&1));
    app.stop().await;
    sb.stop();
}
on_both_backends!(recorded_again, a_known_outcome_is_recorded_again);

/// A Spiff 500 after the request went out stays for review (Spiff documents no way to ask),
/// and the reason says that Spiff may have received it; a 503 is retried.
async fn a_spiff_500_waits_for_review_with_its_reason(backend: Backend) {
    let sb = support::start_sandbox().await;
    sb.state.push_faults("spiff", [status(503), status(500)]);
    let store = sandbox_store(&sb, "shop", SECRET);
    let app = TestApp::spawn(backend, |c| {
        support::fast_dispatch(c);
        c.stores = vec![store];
    })
    .await;
    let tx = "77777777-0000-4000-8000-000000000001";
    let order = order_json(31, "processing", "2026-11-23T08:00:00", &[Item::Spiff(tx)]);
    app.post_order("shop", SECRET, &order).await;
    let jobs = app.settled_jobs(Duration::from_secs(60)).await;
    let job = of_order(&jobs, 31, "spiff");
    assert_eq!(job["state"], json!("needs-review"), "{job}");
    assert_eq!(job["attempts"], json!(2), "{job}");
    let reason = job["last_error"].as_str().unwrap_or_default();
    assert!(
        reason.contains("HTTP 500")
            && reason.contains("Spiff may have received the request")
            && reason.contains(tx),
        "{reason}"
    );
    app.stop().await;
    sb.stop();
}
on_both_backends!(spiff_500, a_spiff_500_waits_for_review_with_its_reason);

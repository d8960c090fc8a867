//! After an outage: the jobs waiting for review and the dead letters of one provider, store
//! and time window listed (dry run) and replayed in one call, through the admin API and the
//! CLI.

use crate::support;
use crate::support::{Backend, Item, TestApp, order_json};
use printbridge::intake::parse::Source;
use printbridge::outbox::jobs::{Finish, FollowUp};
use serde_json::{Value, json};

const SPIFF_TX: &str = "66666666-0000-4000-8000-000000000001";

/// Apliiq jobs of store `shop` (orders 1 to 4) and a Spiff job of store `other` (order 9),
/// stopped at known moments: order 1 for review at 1 s, order 2 dead at 2 s, order 3 for
/// review at 3 s, order 4 done at 3 s, the Spiff job for review at 2 s.
async fn stopped_jobs(backend: Backend, dir: &std::path::Path) -> printbridge::store::Store {
    let store = support::store_with_apliiq_orders(backend, dir, 1..=4).await;
    let body = serde_json::to_vec(&order_json(
        9,
        "processing",
        "2026-11-23T08:00:00",
        &[Item::Spiff(SPIFF_TX)],
    ))
    .expect("json");
    printbridge::outbox::reconcile::ingest_order_json(
        &store,
        &support::store_config("other", "other-secret"),
        Source::Backfill,
        body,
        1,
    )
    .await
    .expect("ingest");
    let (attempt, dead) = support::refused_attempt();
    let review = |why: &str| Finish::NeedsReview {
        reason: why.to_owned(),
    };
    let done = Finish::Done {
        provider_ref: Some("A-4".into()),
        result: json!({}),
    };
    let mut claimed = store
        .claim_jobs(
            printbridge::outbox::job_types::JobQueue::Apliiq,
            "w",
            10,
            1_000_000,
            10,
        )
        .await
        .expect("claim");
    claimed.sort_by_key(|j| j.order_id);
    claimed.extend(
        store
            .claim_jobs(
                printbridge::outbox::job_types::JobQueue::Spiff,
                "w",
                10,
                1_000_000,
                10,
            )
            .await
            .expect("claim"),
    );
    let ends = [
        (1_000, review("Apliiq lookups kept failing")),
        (2_000, dead),
        (3_000, review("Apliiq lookups kept failing")),
        (3_000, done),
        (2_000, review("Spiff answered 500")),
    ];
    assert_eq!(claimed.len(), ends.len());
    for (job, (at, finish)) in claimed.iter().zip(ends) {
        assert!(
            store
                .finish_job(job, "w", at, &attempt, &finish, &FollowUp::default())
                .await
                .expect("finish")
        );
    }
    store
}

async fn replay(app: &TestApp, query: &str) -> (u16, Value) {
    app.admin_post(&format!("/v1/admin/jobs/replay?{query}"))
        .await
}

fn orders(answer: &Value) -> Vec<(i64, String)> {
    answer["jobs"]
        .as_array()
        .map(|jobs| {
            jobs.iter()
                .map(|j| {
                    (
                        j["order_id"].as_i64().unwrap_or(0),
                        j["state"].as_str().unwrap_or("").to_owned(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

fn review(order: i64) -> (i64, String) {
    (order, "needs-review".to_owned())
}

async fn stopped_jobs_are_replayed_in_bulk(backend: Backend) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = stopped_jobs(backend, dir.path()).await;
    let url = match backend {
        Backend::Sqlite => format!("sqlite://{}", dir.path().join("bridge.db").display()),
        Backend::Postgres => support::postgres_url().expect("postgres url"),
    };
    let app = TestApp::spawn_on(dir, store, url.clone(), |_| {}, None).await;

    // One provider, store, state and window: only what it names, and nothing changes.
    let (status, answer) = replay(
        &app,
        "state=needs-review&provider=apliiq&store=shop\
         &since=1970-01-01T00:00:00.500Z&until=1970-01-01T00:00:02.500Z&dry_run=true",
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["dry_run"], json!(true));
    assert_eq!(orders(&answer), [review(1)], "{answer}");
    let (_, everything) = replay(&app, "dry_run=true").await;
    let dead = (2, "dead".to_owned());
    assert_eq!(
        orders(&everything),
        [review(1), dead, review(3), review(9)],
        "{everything}"
    );
    assert_eq!(everything["count"], json!(4));

    if backend == Backend::Sqlite {
        the_cli_lists_and_replays(&url, app.dir.path()).await;
    }

    // The replay itself: Apliiq's stopped jobs queued again, the Spiff one untouched.
    let (status, answer) = replay(&app, "provider=apliiq").await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["count"], json!(3), "{answer}");
    assert!(
        orders(&answer).iter().all(|(_, s)| s == "pending"),
        "{answer}"
    );
    let (_, left) = replay(&app, "dry_run=true").await;
    assert_eq!(orders(&left), [review(9)], "{left}");

    // Bad filters are refused, naming the parameter.
    for (query, field) in [
        ("state=done", "state"),
        ("provider=acme", "provider"),
        ("since=yesterday", "since"),
        ("until=2026-13-01T00:00:00", "until"),
        ("limit=0", "limit"),
    ] {
        let (status, problem) = replay(&app, query).await;
        assert_eq!(status, 400, "{query}: {problem}");
        assert_eq!(problem["field"], json!(field), "{query}: {problem}");
    }
    let anonymous = app
        .client
        .post(app.url("/v1/admin/jobs/replay?dry_run=true"))
        .send()
        .await
        .expect("request");
    assert_eq!(anonymous.status().as_u16(), 401);
    app.stop().await;
}
on_both_backends!(bulk_replay, stopped_jobs_are_replayed_in_bulk);

/// `printbridge replay-jobs`: a dry run lists the Spiff job of store `other`; a bad state is
/// refused with the flag named.
async fn the_cli_lists_and_replays(url: &str, dir: &std::path::Path) {
    let config = dir.join("cli.toml");
    std::fs::write(
        &config,
        format!(
            "database_url = {url:?}\ndata_dir = {:?}\n",
            dir.join("cli-data").display().to_string()
        ),
    )
    .expect("config");
    let run = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_printbridge"))
            .arg("replay-jobs")
            .args(args)
            .arg("--config")
            .arg(&config)
            .output()
            .expect("printbridge")
    };
    let out = run(&["--provider", "spiff", "--dry-run"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("\tother\torder 9\tspiff\tneeds-review\tSpiff answered 500"),
        "{text}"
    );
    assert!(text.contains("1 job(s) would be replayed"), "{text}");
    let bad = run(&["--state", "done"]);
    assert!(!bad.status.success());
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("--state"),
        "{}",
        String::from_utf8_lossy(&bad.stderr)
    );
}

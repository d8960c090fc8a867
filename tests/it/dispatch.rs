//! Exactly-once dispatch against the provider sandboxes, which verify every signature and
//! count every order they receive.

use std::time::Duration;

use crate::support;
use crate::support::woo_standin::WooStandin;
use crate::support::{Backend, Item, TestApp, order_json, sandbox_store};
use printbridge::sandbox::Fault;
use serde_json::{Value, json};

const SECRET: &str = "dispatch-secret";

fn job<'a>(jobs: &'a [Value], provider: &str) -> &'a Value {
    jobs.iter()
        .find(|j| j["provider"] == json!(provider))
        .unwrap_or_else(|| panic!("no {provider} job in {jobs:?}"))
}

/// A paid order with a Spiff, an Apliiq and a Key2print item: one signed call per provider
/// order, the PDF kept and served, notes written back, duplicates and an older state harmless.
async fn paid_order_reaches_each_provider_once(backend: Backend) {
    let sb = support::start_sandbox().await;
    let woo = WooStandin::start().await;
    let mut store = sandbox_store(&sb, "shop", SECRET);
    let rest = woo.store_config("shop");
    store.woocommerce_url = rest.woocommerce_url;
    store.woocommerce_consumer_key = rest.woocommerce_consumer_key;
    store.woocommerce_consumer_secret = rest.woocommerce_consumer_secret;
    let app = TestApp::spawn(backend, |c| {
        support::fast_dispatch(c);
        c.stores = vec![store];
    })
    .await;

    let tx = "0994e0a2-0884-4d85-a7bd-286076a73b67";
    let items = [
        Item::Spiff(tx),
        Item::Apliiq("APQ-1998244S7A1"),
        Item::Key2print("K2P-7642EEED77"),
    ];
    let paid = order_json(501, "processing", "2026-11-23T08:00:00", &items);
    let older = order_json(501, "pending", "2026-11-23T07:59:00", &items);
    woo.put_order(paid.clone());
    let ack = app.post_order("shop", SECRET, &paid).await;
    assert_eq!(ack["jobs_planned"], json!(3), "{ack}");
    app.post_order("shop", SECRET, &paid).await;
    app.post_order("shop", SECRET, &older).await;

    let jobs = app.settled_jobs(Duration::from_secs(30)).await;
    for j in &jobs {
        assert_eq!(j["state"], json!("done"), "{j}");
    }
    assert_eq!(jobs.len(), 6, "3 provider orders and 3 notes: {jobs:?}");

    let stats = sb.state.stats();
    assert_eq!(stats.spiff_orders.get(tx), Some(&1), "{stats:?}");
    assert_eq!(stats.apliiq_orders.get("501"), Some(&1), "{stats:?}");
    // A first send needs no lookup: nothing was sent for the job before.
    let apliiq_calls: Vec<String> = sb
        .state
        .calls()
        .into_iter()
        .filter(|c| c.provider == "apliiq")
        .map(|c| c.call)
        .collect();
    assert_eq!(apliiq_calls, ["POST /v1/Order"]);
    assert_eq!(stats.key2print_downloads.get("K2P-7642EEED77"), Some(&1));
    assert_eq!(stats.rejected_signatures, 0);
    assert!(sb.state.calls().iter().all(|c| c.signature_ok));

    // The plugin's view: provider order ids, the kept PDF.
    let (_, view) = app
        .store_get("/v1/stores/shop/orders/501", support::STORE_TOKEN)
        .await;
    let orders = view["provider_orders"].as_array().unwrap();
    assert_eq!(orders.len(), 3, "{view}");
    for o in orders {
        assert_eq!(o["state"], json!("done"), "{o}");
        assert_eq!(o["attempts"], json!(1), "{o}");
    }
    let spiff = orders
        .iter()
        .find(|o| o["provider"] == json!("spiff"))
        .unwrap();
    assert!(
        spiff["provider_order_id"]
            .as_str()
            .is_some_and(|s| s.len() == 36)
    );
    let k2p = orders
        .iter()
        .find(|o| o["provider"] == json!("key2print"))
        .unwrap();
    let file_id = k2p["file_id"].as_i64().expect("file id");
    let pdf = app
        .client
        .get(app.url(&format!("/v1/stores/shop/files/{file_id}")))
        .bearer_auth(support::STORE_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(pdf.status().as_u16(), 200);
    assert_eq!(pdf.headers()["content-type"], "application/pdf");
    let bytes = pdf.bytes().await.unwrap();
    assert!(bytes.starts_with(b"%PDF-"));
    assert!(String::from_utf8_lossy(&bytes).contains("K2P-7642EEED77"));
    let (wrong, _) = app
        .store_get(&format!("/v1/stores/shop/files/{file_id}"), "not-the-token")
        .await;
    assert_eq!(wrong, 401);

    // Write-back: one note per provider order, on the shop's order.
    let notes: Vec<String> = woo
        .notes_of(501)
        .iter()
        .map(|n| n["note"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(notes.len(), 3, "{notes:?}");
    assert!(notes.iter().any(|n| n.contains("Spiff order")), "{notes:?}");
    assert!(
        notes.iter().any(|n| n.contains("Apliiq order")),
        "{notes:?}"
    );
    assert!(
        notes.iter().any(|n| n.contains("Key2print PDF")),
        "{notes:?}"
    );

    // The operator's timeline shows every attempt.
    let (_, ledger) = app.admin_get("/v1/admin/orders/shop/501").await;
    let spiff_job = job(ledger["jobs"].as_array().unwrap(), "spiff");
    assert_eq!(spiff_job["attempts_log"][0]["outcome"], json!("success"));
    app.stop().await;
    sb.stop();
}
on_both_backends!(full_order, paid_order_reaches_each_provider_once);

/// Outages, throttling, an ambiguous Apliiq answer, a permanent refusal and a timeout, each
/// handled as docs/ARCHITECTURE.md ("Delivery semantics") says.
async fn provider_failures_are_classified(backend: Backend) {
    let sb = support::start_sandbox().await;
    let store = sandbox_store(&sb, "shop", SECRET);
    let app = TestApp::spawn(backend, |c| {
        support::fast_dispatch(c);
        c.stores = vec![store];
    })
    .await;
    let status = |s: u16| Fault {
        status: s,
        ..Fault::default()
    };
    sb.state.push_faults(
        "spiff",
        [
            Fault {
                status: 503,
                retry_after: Some(1),
                ..Fault::default()
            },
            status(503),
            status(429),
        ],
    );
    // Apliiq creates the order, then answers 500: only a lookup can tell. (A first send
    // is not preceded by a lookup.)
    sb.state.push_faults(
        "apliiq",
        [Fault {
            status: 500,
            after_effect: true,
            ..Fault::default()
        }],
    );
    sb.state.push_faults("key2print", [status(400)]);

    let tx = "5b3b1f9e-7a51-4bd6-9a37-2f4b0c0f1a11";
    let items = [
        Item::Spiff(tx),
        Item::Apliiq("APQ-1998244S6A1"),
        Item::Key2print("K2P-DEAD00000001"),
    ];
    app.post_order(
        "shop",
        SECRET,
        &order_json(601, "processing", "2026-11-23T09:00:00", &items),
    )
    .await;
    let jobs = app.settled_jobs(Duration::from_secs(30)).await;

    // Spiff: three refusals that surely did not take effect, retried, then placed once.
    let spiff = job(&jobs, "spiff");
    assert_eq!(spiff["state"], json!("done"), "{spiff}");
    assert_eq!(spiff["attempts"], json!(4));
    let (_, detail) = app
        .admin_get(&format!("/v1/admin/jobs/{}", spiff["id"]))
        .await;
    let codes: Vec<Value> = detail["attempts_log"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["status_code"].clone())
        .collect();
    assert_eq!(codes, vec![json!(503), json!(503), json!(429), json!(200)]);
    assert_eq!(sb.state.stats().spiff_orders.get(tx), Some(&1));

    // Apliiq: the ambiguous 500 resolved by asking; no second order.
    let apliiq = job(&jobs, "apliiq");
    assert_eq!(apliiq["state"], json!("done"), "{apliiq}");
    let (_, detail) = app
        .admin_get(&format!("/v1/admin/jobs/{}", apliiq["id"]))
        .await;
    assert_eq!(
        detail["attempts_log"][0]["outcome"],
        json!("resolved"),
        "{detail}"
    );
    assert_eq!(sb.state.stats().apliiq_orders.get("601"), Some(&1));
    let apliiq_calls: Vec<String> = sb
        .state
        .calls()
        .into_iter()
        .filter(|c| c.provider == "apliiq")
        .map(|c| format!("{} {}", c.call, c.status))
        .collect();
    assert_eq!(
        apliiq_calls,
        ["POST /v1/Order 500", "GET /v1/Order 200"],
        "sent once, then asked"
    );

    // Key2print: a refusal is permanent; a dead letter with the provider's message.
    let k2p = job(&jobs, "key2print");
    assert_eq!(k2p["state"], json!("dead"), "{k2p}");
    assert!(
        k2p["last_error"]
            .as_str()
            .unwrap()
            .contains("sandbox fault"),
        "{k2p}"
    );
    let (_, dead) = app.admin_get("/v1/admin/jobs?state=dead").await;
    assert_eq!(dead["total"], json!(1));
    let (_, orders) = app.admin_get("/v1/admin/orders?attention=true").await;
    assert_eq!(orders["total"], json!(1), "{orders}");

    // Replay places it.
    let (replay, _) = app
        .admin_post(&format!("/v1/admin/jobs/{}/replay", k2p["id"]))
        .await;
    assert_eq!(replay, 200);
    let (again, _) = app
        .admin_post(&format!("/v1/admin/jobs/{}/replay", spiff["id"]))
        .await;
    assert_eq!(again, 409, "a placed order is not replayed");
    let jobs = app.settled_jobs(Duration::from_secs(30)).await;
    assert_eq!(job(&jobs, "key2print")["state"], json!("done"));
    assert_eq!(
        sb.state.stats().key2print_downloads.get("K2P-DEAD00000001"),
        Some(&1),
        "the refused attempt downloaded nothing"
    );
    app.stop().await;
    sb.stop();
}
on_both_backends!(failures, provider_failures_are_classified);

/// A Spiff call that times out after sending may have created the order, and Spiff cannot
/// be asked: the job waits for review instead of being sent again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spiff_timeout_is_parked_for_review_not_resent() {
    let sb = support::start_sandbox().await;
    let store = sandbox_store(&sb, "shop", SECRET);
    let app = TestApp::spawn(Backend::Sqlite, |c| {
        support::fast_dispatch(c);
        c.stores = vec![store];
    })
    .await;
    sb.state.push_faults(
        "spiff",
        [Fault {
            delay_ms: 1500,
            ..Fault::default()
        }],
    );
    let tx = "7c1f2d3e-0000-4000-8000-000000000001";
    app.post_order(
        "shop",
        SECRET,
        &order_json(701, "processing", "2026-11-23T09:00:00", &[Item::Spiff(tx)]),
    )
    .await;
    let jobs = app.settled_jobs(Duration::from_secs(30)).await;
    let spiff = job(&jobs, "spiff");
    assert_eq!(spiff["state"], json!("needs-review"), "{spiff}");
    assert_eq!(spiff["attempts"], json!(1));
    assert!(
        spiff["last_error"]
            .as_str()
            .unwrap()
            .contains("may have been received"),
        "{spiff}"
    );
    // The slow request did create the order; nothing sent it twice.
    let stats = support::eventually(Duration::from_secs(10), "the slow order", || async {
        let s = sb.state.stats();
        s.spiff_orders.contains_key(tx).then_some(s)
    })
    .await;
    assert_eq!(stats.spiff_orders.get(tx), Some(&1));
    let spiff_calls = sb
        .state
        .calls()
        .iter()
        .filter(|c| c.provider == "spiff")
        .count();
    assert_eq!(spiff_calls, 1);
    app.stop().await;
    sb.stop();
}

/// 1,000 orders, 30 % of them delivered twice and out of order: one Spiff order each.
async fn thousand_orders_with_duplicates(backend: Backend) {
    let sb = support::start_sandbox().await;
    let store = sandbox_store(&sb, "shop", SECRET);
    let app = TestApp::spawn(backend, |c| {
        support::fast_dispatch(c);
        c.dispatch.concurrency = std::num::NonZeroUsize::new(8).expect("8 is not 0");
        c.stores = vec![store];
    })
    .await;
    let n = 1000;
    let txs: Vec<String> = (0..n)
        .map(|i| format!("00000000-0000-4000-8000-{i:012}"))
        .collect();
    let mut bodies = Vec::new();
    for (i, tx) in txs.iter().enumerate() {
        let id = 10_000 + i as i64;
        let paid = order_json(id, "processing", "2026-11-23T10:00:01", &[Item::Spiff(tx)]);
        let pending = order_json(id, "pending", "2026-11-23T10:00:00", &[Item::Spiff(tx)]);
        if i % 10 < 3 {
            // Out of order and duplicated: the paid state first, twice, then the older one.
            bodies.push(paid.clone());
            bodies.push(paid);
            bodies.push(pending);
        } else {
            bodies.push(pending);
            bodies.push(paid);
        }
    }
    let bodies: Vec<Vec<u8>> = bodies
        .iter()
        .map(|b| serde_json::to_vec(b).unwrap())
        .collect();
    let chunks: Vec<Vec<Vec<u8>>> = bodies
        .chunks(bodies.len().div_ceil(16))
        .map(<[_]>::to_vec)
        .collect();
    let mut tasks = Vec::new();
    for chunk in chunks {
        let (client, base) = (app.client.clone(), app.base.clone());
        tasks.push(tokio::spawn(async move {
            for body in chunk {
                let resp =
                    support::webhook_request(&client, &base, "shop", "order.updated", SECRET, body)
                        .send()
                        .await
                        .unwrap();
                assert_eq!(resp.status().as_u16(), 200);
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    support::eventually(Duration::from_secs(300), "1,000 orders placed", || async {
        let (_, page) = app.admin_get("/v1/admin/jobs?state=done&limit=1").await;
        (page["total"] == json!(n)).then_some(())
    })
    .await;
    let (_, busy) = app.admin_get("/v1/admin/jobs?state=pending&limit=1").await;
    assert_eq!(busy["total"], json!(0));
    let stats = sb.state.stats();
    assert_eq!(stats.spiff_orders.len(), n);
    assert!(
        stats.spiff_orders.values().all(|c| *c == 1),
        "a Spiff order was doubled"
    );
    app.stop().await;
    sb.stop();
}
on_both_backends!(thousand_orders, thousand_orders_with_duplicates);

/// Attempts that finish together are recorded together, each fenced by its own lease and
/// with its own attempt, file, note and attention, whoever shares its transaction.
async fn finished_attempts_are_recorded_together(backend: Backend) {
    use printbridge::outbox::jobs::{AttemptRecord, Finish, FinishQueue, FollowUp, NewFile};
    let dir = tempfile::tempdir().expect("tempdir");
    let store = support::store_with_apliiq_orders(backend, dir.path(), 1..=6).await;
    let mut jobs = store
        .claim_jobs(
            printbridge::outbox::job_types::JobQueue::Apliiq,
            "w",
            2,
            1_000_000,
            10,
        )
        .await
        .expect("claim");
    jobs.sort_by_key(|j| j.order_id);
    assert_eq!(jobs.len(), 6);

    let attempt = |outcome: &'static str| AttemptRecord {
        started_at: 3,
        duration_ms: 4,
        outcome,
        status_code: Some(200),
        excerpt: Some(format!("{outcome} answer")),
        error: None,
    };
    let done = |r: &str| Finish::Done {
        provider_ref: Some(r.to_owned()),
        result: json!({ "ref": r }),
    };
    let file = FollowUp {
        file: Some(NewFile {
            name: "2.pdf".into(),
            path: "files/2.pdf".into(),
            size: 42,
            sha256: "ab".repeat(32),
        }),
        notes: vec![("placed:pdf".into(), "PDF kept.".into())],
        ..FollowUp::default()
    };
    let note = FollowUp {
        notes: vec![("placed:apliiq".into(), "Sent to Apliiq.".into())],
        ..FollowUp::default()
    };
    let attention = FollowUp {
        attention: Some("Apliiq refused the order".into()),
        ..FollowUp::default()
    };
    let finishes = vec![
        (0, "w", done("A-1"), FollowUp::default(), "success"),
        (0, "w", done("A-1 again"), FollowUp::default(), "success"),
        (1, "w", done("A-2"), file, "success"),
        (
            2,
            "w",
            Finish::Retry {
                run_at: 99,
                error: "busy".into(),
            },
            FollowUp::default(),
            "retryable",
        ),
        (
            3,
            "x",
            done("A-4"),
            FollowUp {
                notes: vec![("placed:lost".into(), "Never written.".into())],
                ..FollowUp::default()
            },
            "success",
        ),
        (4, "w", done("A-5"), note, "success"),
        (
            5,
            "w",
            Finish::Dead {
                reason: "refused".into(),
            },
            attention,
            "permanent",
        ),
    ];
    let queue = std::sync::Arc::new(FinishQueue::new());
    let mut tasks = tokio::task::JoinSet::new();
    for (n, (i, worker, finish, follow_up, outcome)) in finishes.into_iter().enumerate() {
        let (queue, store, job) = (queue.clone(), store.clone(), jobs[i].clone());
        let attempt = attempt(outcome);
        tasks.spawn(async move {
            let ok = queue
                .record(&store, job, worker, 5, attempt, finish, follow_up)
                .await
                .expect("recorded");
            (n, ok)
        });
    }
    let mut oks = [false; 7];
    while let Some(joined) = tasks.join_next().await {
        let (n, ok) = joined.expect("task");
        oks[n] = ok;
    }
    // The same attempt reported twice counts once; a worker without the lease changes nothing.
    assert!(
        oks[0] ^ oks[1],
        "exactly one of two reports counts: {oks:?}"
    );
    assert_eq!(&oks[2..], &[true, true, false, true, true], "{oks:?}");

    let detail = |i: usize| {
        let store = store.clone();
        let id = jobs[i].id;
        async move { store.job_detail(id).await.expect("read").expect("job") }
    };
    let first = detail(0).await;
    assert_eq!(first.job.state, "done");
    assert_eq!(first.job.attempts, 1);
    assert_eq!(first.attempts_log.len(), 1);
    assert_eq!(
        first.attempts_log[0].excerpt.as_deref(),
        Some("success answer")
    );
    assert!(
        first
            .job
            .provider_ref
            .as_deref()
            .is_some_and(|r| r.starts_with("A-1"))
    );

    let with_file = detail(1).await;
    assert_eq!(with_file.job.state, "done");
    assert_eq!(with_file.job.provider_ref.as_deref(), Some("A-2"));
    let file_id = with_file.file_id.expect("the file is kept");
    let kept = store.file(file_id).await.expect("read").expect("file");
    assert_eq!(kept.size, 42);
    let notes_of = |order_id: i64| {
        let store = store.clone();
        async move {
            store
                .order_jobs("shop", order_id)
                .await
                .expect("jobs")
                .into_iter()
                .filter(|j| j.job.kind == "order_note")
                .map(|j| j.job.target)
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(notes_of(2).await, ["note:placed:pdf"]);

    let retrying = detail(2).await;
    assert_eq!(retrying.job.state, "retrying");
    assert_eq!(retrying.job.attempts, 1);
    assert_eq!(retrying.attempts_log[0].outcome, "retryable");

    let fenced = detail(3).await;
    assert_eq!(fenced.job.state, "running");
    assert_eq!(fenced.job.attempts, 0);
    assert!(fenced.attempts_log.is_empty());
    assert!(fenced.job.provider_ref.is_none());

    let noted = detail(4).await;
    assert_eq!(noted.job.state, "done");
    assert_eq!(notes_of(5).await, ["note:placed:apliiq"]);
    // The lost lease planned nothing.
    assert!(notes_of(4).await.is_empty());

    let dead = detail(5).await;
    assert_eq!(dead.job.state, "dead");
    assert_eq!(dead.attempts_log[0].outcome, "permanent");
    let order = store
        .order_summary("shop", 6)
        .await
        .expect("read")
        .expect("order");
    assert_eq!(order.attention.as_deref(), Some("Apliiq refused the order"));
}

on_both_backends!(finishing_together, finished_attempts_are_recorded_together);

/// Jobs claimed but never started go back to the queue as they were: not counted as an
/// interrupted attempt (which would park a Spiff order for review), and only the claimant's.
async fn unstarted_claims_go_back_untouched(backend: Backend) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = support::store_with_apliiq_orders(backend, dir.path(), 1..=2).await;
    let claimed = store
        .claim_jobs(
            printbridge::outbox::job_types::JobQueue::Apliiq,
            "w",
            2,
            1_000_000,
            10,
        )
        .await
        .expect("claim");
    assert_eq!(claimed.len(), 2);
    // Another worker cannot put back what it does not hold.
    assert_eq!(store.unclaim(&claimed, "x", 3).await.expect("unclaim"), 0);
    assert_eq!(store.unclaim(&claimed, "w", 3).await.expect("unclaim"), 2);
    for job in &claimed {
        let detail = store.job_detail(job.id).await.expect("read").expect("job");
        assert_eq!(detail.job.state, "pending");
        assert_eq!(detail.job.attempts, 0);
    }
    // Not due before the time given.
    assert!(
        store
            .claim_jobs(
                printbridge::outbox::job_types::JobQueue::Apliiq,
                "w",
                2,
                1_000_000,
                10
            )
            .await
            .expect("claim")
            .is_empty()
    );
    let again = store
        .claim_jobs(
            printbridge::outbox::job_types::JobQueue::Apliiq,
            "w",
            3,
            1_000_000,
            10,
        )
        .await
        .expect("claim");
    assert_eq!(again.len(), 2);
    assert!(again.iter().all(|j| !j.interrupted), "{again:?}");
    // The claim given back does not count: this is still each job's first.
    assert!(again.iter().all(|j| j.first_claim), "{again:?}");
}

on_both_backends!(unclaim, unstarted_claims_go_back_untouched);

/// A job's first claim is marked as such, so the Apliiq executor skips its lookup; a later
/// claim of the same job (after a retry, an expired lease, or a replay, which resets the
/// attempts) is not.
async fn only_a_jobs_first_claim_is_first(backend: Backend) {
    use printbridge::outbox::jobs::FollowUp;
    let dir = tempfile::tempdir().expect("tempdir");
    let store = support::store_with_apliiq_orders(backend, dir.path(), 1..=2).await;
    let claim = |now: i64| {
        let store = store.clone();
        async move {
            let mut jobs = store
                .claim_jobs(
                    printbridge::outbox::job_types::JobQueue::Apliiq,
                    "w",
                    now,
                    now + 1_000,
                    10,
                )
                .await
                .expect("claim");
            jobs.sort_by_key(|j| j.order_id);
            jobs
        }
    };
    let first = claim(2).await;
    assert_eq!(first.len(), 2);
    assert!(first.iter().all(|j| j.first_claim), "{first:?}");

    // Order 1's attempt ends dead (a refusal); order 2's lease expires (a crash).
    let (attempt, dead) = support::refused_attempt();
    assert!(
        store
            .finish_job(&first[0], "w", 3, &attempt, &dead, &FollowUp::default())
            .await
            .expect("finish")
    );
    assert_eq!(store.reap_expired_leases(5_000).await.expect("reap"), 1);
    let reclaimed = claim(5_000).await;
    assert_eq!(reclaimed.len(), 1);
    assert_eq!(reclaimed[0].order_id, first[1].order_id);
    assert!(reclaimed[0].interrupted && !reclaimed[0].first_claim);

    // A replay starts the attempts afresh, not the claims.
    assert_eq!(
        store.replay_job(first[0].id, 6_000).await.expect("replay"),
        Some(true)
    );
    let replayed = claim(6_000).await;
    assert_eq!(replayed.len(), 1);
    assert_eq!(replayed[0].id, first[0].id);
    assert_eq!(replayed[0].attempts, 0);
    assert!(!replayed[0].first_claim, "{replayed:?}");
}

on_both_backends!(first_claim, only_a_jobs_first_claim_is_first);

/// `/metrics`' job gauges: unfinished jobs and dead letters per provider and state (sorted by
/// provider, then state; done and cancelled jobs are not counted), the queue's depth, dead
/// letters, and how long the oldest due job has waited; a job queued for later is counted but
/// not due.
async fn job_gauges_count_by_provider_and_state(backend: Backend) {
    let dir = tempfile::tempdir().expect("temp dir");
    let (store, _) = support::open_store(backend, dir.path()).await;
    store.migrate().await.expect("migrate");
    let now = 100_000;
    // (order, provider, state, run_at)
    let jobs = [
        (1, "spiff", "pending", now - 5_000),
        (2, "spiff", "done", now - 9_000),
        (3, "spiff", "cancelled", now - 9_000),
        (8, "key2print", "needs-review", now - 9_000),
        (4, "apliiq", "pending", now + 60_000),
        (5, "key2print", "retrying", now - 2_000),
        (6, "key2print", "dead", now - 9_000),
        (7, "woocommerce", "running", now - 1_000),
    ];
    for (order, provider, state, run_at) in jobs {
        on_pool!(&store, |pool| sqlx::query(
            "INSERT INTO jobs (store_id, order_id, provider, target, kind, state, payload, \
             run_at, created_at, updated_at) VALUES ('shop', $1, $2, 'order', 'place_order', \
             $3, '{}', $4, $4, $4)"
        )
        .bind(order)
        .bind(provider)
        .bind(state)
        .bind(run_at)
        .execute(pool)
        .await
        .map(|_| ()))
        .expect("job");
    }
    let g = store.job_gauges(now).await.expect("gauges");
    let by_state: Vec<(&str, &str, i64)> = g
        .by_state
        .iter()
        .map(|g| (g.provider.as_str(), g.state.as_str(), g.count))
        .collect();
    assert_eq!(
        by_state,
        [
            ("apliiq", "pending", 1),
            ("key2print", "dead", 1),
            ("key2print", "needs-review", 1),
            ("key2print", "retrying", 1),
            ("spiff", "pending", 1),
            ("woocommerce", "running", 1),
        ]
    );
    assert_eq!(g.queue_depth, 3);
    assert_eq!(g.dead, 1);
    assert_eq!(g.oldest_due_age_ms, 5_000);
    // Before anything is due, nothing has waited.
    let early = store.job_gauges(now - 6_000).await.expect("gauges");
    assert_eq!(early.oldest_due_age_ms, 0);
    assert_eq!(early.queue_depth, 3);
}

on_both_backends!(job_gauges, job_gauges_count_by_provider_and_state);

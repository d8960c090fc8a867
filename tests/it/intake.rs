//! Intake end to end: real captured WooCommerce deliveries through the real endpoint into a
//! real database (SQLite file, and PostgreSQL when configured).

use std::time::Duration;

use crate::support;
use crate::support::{Backend, TestApp, captured_deliveries, captured_store};
use printbridge::reads::orders::Table;
use serde_json::{Value, json};

/// What the ledger must do with each captured delivery (same on both stacks): `ping`, or the
/// ledger outcome.
const EXPECTED: [&str; 40] = [
    "ping",
    "ping",
    "ping",
    "ping", // 01-04
    "applied",
    "duplicate",
    "applied",
    "signal",
    "applied", // 05-09 flow A
    "applied",
    "duplicate",
    "signal",
    "applied", // 10-13 flow B
    "applied",
    "duplicate",
    "deleted", // 14-16 flow C and trash
    "applied",
    "duplicate", // 17-18 flow D
    "applied",
    "duplicate",
    "signal",
    "applied", // 19-22 Store API checkout
    "applied",
    "duplicate",
    "signal", // 23-25 lagging queue
    "applied",
    "duplicate",
    "signal",
    "applied", // 26-29 synchronous delivery
    "applied",
    "duplicate", // 30-31 unicode
    "applied",
    "duplicate",
    "applied",
    "duplicate", // 32-35 same delivery id
    "applied",   // 36 refund
    "ping",      // 37 v1 webhook ping
    "applied",   // 38
    "ignored",   // 39 v1 REST error body
    "duplicate", // 40
];

/// Final WooCommerce status per order after the whole capture, and whether it is paid.
const FINAL: [(i64, &str, bool); 11] = [
    (17, "completed", true),
    (18, "completed", true),
    (19, "pending", false),
    (20, "pending", false),
    (21, "completed", true),
    (22, "completed", true),
    (23, "completed", true),
    (24, "pending", false),
    (25, "pending", false),
    (26, "pending", false),
    (28, "pending", false),
];

async fn captured_traffic_is_ledgered(backend: Backend) {
    for stack in support::STACKS {
        let deliveries = captured_deliveries(stack);
        assert_eq!(deliveries.len(), EXPECTED.len(), "{stack}");
        let app = TestApp::spawn(backend, |c| c.stores = vec![captured_store(stack)]).await;

        for (d, want) in deliveries.iter().zip(EXPECTED) {
            let (status, ack) = app.replay("shop", d).await;
            assert_eq!(status, 200, "{stack}/{}: {ack}", d.file);
            if want == "ping" {
                assert_eq!(ack["ping"], json!(true), "{stack}/{}", d.file);
            } else {
                assert_eq!(ack["outcome"], json!(want), "{stack}/{}: {ack}", d.file);
                assert!(ack["delivery_id"].as_i64().is_some(), "{}", d.file);
            }
        }

        // Every authentic delivery is stored (pings are not deliveries).
        let stored = app.store.count(Table::Deliveries).await.unwrap();
        assert_eq!(stored, 35, "{stack}");

        let (status, page) = app.admin_get("/v1/admin/orders?store=shop&limit=500").await;
        assert_eq!(status, 200);
        assert_eq!(page["total"], json!(FINAL.len()), "{page}");
        for (id, want_status, paid) in FINAL {
            let order = page["orders"]
                .as_array()
                .unwrap()
                .iter()
                .find(|o| o["order_id"] == json!(id))
                .unwrap_or_else(|| panic!("{stack}: order {id} missing"));
            assert_eq!(order["status"], json!(want_status), "{stack}: order {id}");
            assert_eq!(order["paid"], json!(paid), "{stack}: order {id}");
        }
        let trashed: Vec<i64> = page["orders"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|o| o["trashed"] == json!(true))
            .map(|o| o["order_id"].as_i64().unwrap())
            .collect();
        assert_eq!(trashed, vec![19], "{stack}");

        // The items carry Spiff's own `spiff_transaction_id`: both lines of order 17 are Spiff
        // items with that id as design; `key2print_project_id` is not the contract key.
        let (status, ledger) = app.admin_get("/v1/admin/orders/shop/17").await;
        assert_eq!(status, 200);
        let items = ledger["items"].as_array().unwrap();
        assert_eq!(items.len(), 2, "{ledger}");
        let body: Value = serde_json::from_slice(&deliveries[8].body).unwrap();
        for item in items {
            assert_eq!(item["classification"], json!("spiff"), "{item}");
            let source = body["line_items"]
                .as_array()
                .unwrap()
                .iter()
                .find(|li| li["id"] == item["item_id"])
                .unwrap();
            let want = source["meta_data"]
                .as_array()
                .unwrap()
                .iter()
                .find(|m| m["key"] == json!("spiff_transaction_id"))
                .unwrap()["value"]
                .clone();
            assert_eq!(item["design_id"], want, "{item}");
        }
        let statuses: Vec<&str> = ledger["snapshots"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["status"].as_str().unwrap())
            .collect();
        assert!(statuses.contains(&"pending") && statuses.contains(&"completed"));
        assert_eq!(
            ledger["snapshots"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|s| s["current"] == json!(true))
                .count(),
            1
        );

        // One Spiff job per paid order with Spiff items: orders 17, 18, 21, 22, 23.
        let jobs = app.store.count(Table::Jobs).await.unwrap();
        assert_eq!(jobs, 5, "{stack}");

        // WooCommerce's own retry or a replay of everything changes nothing.
        let snapshots = app.store.count(Table::OrderSnapshots).await.unwrap();
        for (d, want) in deliveries.iter().zip(EXPECTED) {
            let (status, ack) = app.replay("shop", d).await;
            assert_eq!(status, 200);
            if want == "applied" || want == "duplicate" {
                assert_eq!(ack["outcome"], json!("duplicate"), "{}: {ack}", d.file);
                assert_eq!(ack["jobs_planned"], json!(0));
            }
        }
        assert_eq!(app.store.count(Table::Jobs).await.unwrap(), 5);
        assert_eq!(
            app.store.count(Table::OrderSnapshots).await.unwrap(),
            snapshots
        );
        app.stop().await;
    }
}
on_both_backends!(captured_traffic, captured_traffic_is_ledgered);

/// Every reader gets a delivery's body back as WooCommerce sent it, and its size as sent:
/// on SQLite, where bodies are stored compressed with LZ4 (WooCommerce's order bodies to
/// well under three quarters of their size), and on PostgreSQL, which compresses them
/// itself and gets them as they came.
async fn stored_bodies_come_back_as_they_came(backend: Backend) {
    let stack = support::STACKS[0];
    let app = TestApp::spawn(backend, |c| c.stores = vec![captured_store(stack)]).await;
    let sent = app.replay_stack(stack).await;
    assert_eq!(sent.len(), 35);
    app.assert_bodies_as_sent(&sent).await;
    // The dispatcher reads an order as its current snapshot, here a delivery's body.
    let order = app
        .store
        .current_order_body("shop", 17)
        .await
        .expect("read")
        .expect("order 17");
    assert!(
        sent.iter().any(|(_, body)| body == order.as_bytes()),
        "order 17 is not a body that was sent"
    );

    let rows: Vec<(String, i64, i64, i64)> = on_pool!(&app.store, |pool| {
        sqlx::query_as(
            "SELECT body_encoding, COUNT(*), CAST(SUM(LENGTH(body)) AS BIGINT), \
             CAST(SUM(body_size) AS BIGINT) FROM deliveries \
             GROUP BY body_encoding ORDER BY body_encoding",
        )
        .fetch_all(pool)
        .await
    })
    .expect("encodings");
    let encodings: Vec<&str> = rows.iter().map(|r| r.0.as_str()).collect();
    match backend {
        Backend::Sqlite => {
            assert_eq!(encodings, ["identity", "lz4"], "{rows:?}");
            let (_, packed, stored, size) = &rows[1];
            assert!(*packed >= 20, "{rows:?}");
            assert!(stored * 4 < size * 3, "{rows:?}");
        }
        Backend::Postgres => assert_eq!(encodings, ["identity"], "{rows:?}"),
    }
    let (_, _, stored, size) = &rows[0];
    assert_eq!(stored, size, "{rows:?}");
    app.stop().await;
}
on_both_backends!(stored_bodies, stored_bodies_come_back_as_they_came);

/// The published WooCommerce signature vectors are accepted through the endpoint, and a
/// changed body or secret is refused.
async fn signature_vectors_verify(backend: Backend) {
    let vectors: Value = serde_json::from_slice(
        &std::fs::read(support::fixtures_dir().join("signatures.json")).unwrap(),
    )
    .unwrap();
    let cases = vectors["woocommerce_webhook"].as_array().unwrap();
    assert!(!cases.is_empty());
    for case in cases {
        let secret = case["secret"].as_str().unwrap();
        let body = case["body"].as_str().unwrap().as_bytes().to_vec();
        let expected = case["signature"].as_str().unwrap();
        assert_eq!(printbridge::woo::signature::sign(secret, &body), expected);
        let app = TestApp::spawn(backend, |c| {
            c.stores = vec![support::store_config("shop", secret)]
        })
        .await;
        let send = |body: Vec<u8>, sig: String| {
            app.client
                .post(app.url("/v1/webhooks/woocommerce/shop"))
                .header("Content-Type", "application/json")
                .header("X-WC-Webhook-Topic", "order.updated")
                .header("X-WC-Webhook-Signature", sig)
                .body(body)
                .send()
        };
        let ok = send(body.clone(), expected.to_owned()).await.unwrap();
        assert_eq!(ok.status().as_u16(), 200);
        let mut tampered = body.clone();
        tampered.push(b' ');
        let bad = send(tampered, expected.to_owned()).await.unwrap();
        assert_eq!(bad.status().as_u16(), 401);
        assert_eq!(app.store.count(Table::Deliveries).await.unwrap(), 1);
        app.stop().await;
    }
}
on_both_backends!(signature_vectors, signature_vectors_verify);

fn order_body(id: i64, status: &str, modified: &str, note: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "id": id,
        "status": status,
        "currency": "EUR",
        "total": "12.90",
        "number": id.to_string(),
        "date_modified_gmt": modified,
        "customer_note": note,
        "some_field_from_a_newer_woocommerce": {"nested": [1, 2, 3]},
        "line_items": [{
            "id": 1,
            "name": "Poster",
            "product_id": 38,
            "variation_id": 0,
            "quantity": 1,
            "sku": "APQ-1998244S7A1",
            "price": 12.9,
            "total": "12.90",
            "meta_data": []
        }]
    }))
    .unwrap()
}

async fn problem(resp: reqwest::Response) -> (u16, Value) {
    let status = resp.status().as_u16();
    let ct = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    assert!(ct.starts_with("application/json"), "content type {ct}");
    let body: Value = resp.json().await.unwrap();
    assert!(body["error"].is_string(), "{body}");
    assert!(body["message"].is_string(), "{body}");
    (status, body)
}

/// Bad input is refused with a JSON problem that names the field, and nothing is stored.
async fn bad_input_is_refused_and_not_stored(backend: Backend) {
    let app = TestApp::spawn(backend, |c| {
        c.max_body_bytes = printbridge::config::BodyLimit::new(4096).expect("within the cap");
        c.stores = vec![support::store_config("shop", "s3cret")];
    })
    .await;
    let body = order_body(1, "processing", "2026-11-23T08:00:00", "");
    let sig = printbridge::woo::signature::sign("s3cret", &body);
    let post = |path: &str| app.client.post(app.url(path));

    let r = post("/v1/webhooks/woocommerce/nope")
        .header("Content-Type", "application/json")
        .header("X-WC-Webhook-Signature", &sig)
        .body(body.clone())
        .send()
        .await
        .unwrap();
    // An unknown store is answered like a wrong signature: store ids cannot be enumerated.
    let (status, p) = problem(r).await;
    assert_eq!(
        (status, p["error"].as_str(), p["field"].as_str()),
        (
            401,
            Some("invalid_signature"),
            Some("X-WC-Webhook-Signature")
        ),
        "{p}"
    );

    let r = post("/v1/webhooks/woocommerce/shop")
        .header("Content-Type", "application/json")
        .body(body.clone())
        .send()
        .await
        .unwrap();
    let (status, p) = problem(r).await;
    assert_eq!(status, 401);
    assert_eq!(p["error"], json!("missing_signature"));
    assert_eq!(p["field"], json!("X-WC-Webhook-Signature"));

    let wrong = printbridge::woo::signature::sign("other", &body);
    let r = post("/v1/webhooks/woocommerce/shop")
        .header("Content-Type", "application/json")
        .header("X-WC-Webhook-Signature", &wrong)
        .body(body.clone())
        .send()
        .await
        .unwrap();
    let (status, p) = problem(r).await;
    assert_eq!(status, 401);
    assert_eq!(p["error"], json!("invalid_signature"));
    assert!(!p.to_string().contains("s3cret"), "secret leaked: {p}");

    let big = vec![b' '; 5000];
    let r = post("/v1/webhooks/woocommerce/shop")
        .header("Content-Type", "application/json")
        .header(
            "X-WC-Webhook-Signature",
            printbridge::woo::signature::sign("s3cret", &big),
        )
        .body(big)
        .send()
        .await
        .unwrap();
    let (status, p) = problem(r).await;
    assert_eq!((status, p["field"].as_str()), (413, Some("body")), "{p}");

    let r = post("/v1/webhooks/woocommerce/shop")
        .header("Content-Type", "text/plain")
        .header("X-WC-Webhook-Signature", &sig)
        .body(body.clone())
        .send()
        .await
        .unwrap();
    let (status, p) = problem(r).await;
    assert_eq!((status, p["field"].as_str()), (415, Some("Content-Type")));

    let r = app
        .client
        .get(app.url("/v1/webhooks/woocommerce/shop"))
        .send()
        .await
        .unwrap();
    let (status, _) = problem(r).await;
    assert_eq!(status, 405);

    let r = app
        .client
        .get(app.url("/v1/no/such/thing"))
        .send()
        .await
        .unwrap();
    let (status, _) = problem(r).await;
    assert_eq!(status, 404);

    assert_eq!(app.store.count(Table::Deliveries).await.unwrap(), 0);
    assert_eq!(app.store.count(Table::Orders).await.unwrap(), 0);

    // The same body, correctly signed, goes through.
    let (status, ack) = app
        .post_webhook("shop", "order.updated", &body, "s3cret")
        .await;
    assert_eq!((status, ack["outcome"].as_str()), (200, Some("applied")));
    app.stop().await;
}
on_both_backends!(bad_input, bad_input_is_refused_and_not_stored);

/// An authentic body we cannot read is kept, answered 200 and shown to the operator.
async fn unparsed_deliveries_are_kept(backend: Backend) {
    let app = TestApp::spawn(backend, |c| {
        c.stores = vec![support::store_config("shop", "s3cret")]
    })
    .await;
    for body in [
        b"{\"id\": \"not-a-number\", \"status\": 7}".as_slice(),
        b"not json at all \xff".as_slice(),
    ] {
        let (status, ack) = app
            .post_webhook("shop", "order.updated", body, "s3cret")
            .await;
        assert_eq!(status, 200, "{ack}");
        assert_eq!(ack["outcome"], json!("unparsed"), "{ack}");
        let id = ack["delivery_id"].as_i64().unwrap();
        let (status, detail) = app.admin_get(&format!("/v1/admin/deliveries/{id}")).await;
        assert_eq!(status, 200);
        assert_eq!(detail["outcome"], json!("unparsed"));
        assert!(detail["detail"].as_str().is_some_and(|d| !d.is_empty()));
        assert_eq!(
            detail["body"].as_str().unwrap(),
            String::from_utf8_lossy(body)
        );
    }
    let (_, page) = app.admin_get("/v1/admin/deliveries?outcome=unparsed").await;
    assert_eq!(page["total"], json!(2), "{page}");
    let (status, problem) = app.admin_get("/v1/admin/deliveries?outcome=unread").await;
    assert_eq!(status, 400, "{problem}");
    assert_eq!(problem["field"], json!("outcome"), "{problem}");
    app.stop().await;
}
on_both_backends!(unparsed, unparsed_deliveries_are_kept);

/// Posts each body to store `shop` as a signed `order.updated` delivery, all at once; returns
/// each answer (all 200) with its body.
async fn post_concurrently(
    app: &TestApp,
    bodies: impl Iterator<Item = Vec<u8>>,
) -> Vec<(Value, Vec<u8>)> {
    let mut tasks = Vec::new();
    for body in bodies {
        let request = support::webhook_request(
            &app.client,
            &app.base,
            "shop",
            "order.updated",
            "s3cret",
            body.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let resp = request.send().await.unwrap();
            let status = resp.status().as_u16();
            let ack: Value = resp.json().await.unwrap();
            (status, ack, body)
        }));
    }
    let mut answered = Vec::new();
    for t in tasks {
        let (status, ack, body) = t.await.unwrap();
        assert_eq!(status, 200, "{ack}");
        answered.push((ack, body));
    }
    answered
}

/// 50 snapshots of one order posted at once, in shuffled order and each twice: the order ends
/// in its newest state, every state stored once.
async fn concurrent_out_of_order_deliveries(backend: Backend) {
    let app = TestApp::spawn(backend, |c| {
        c.stores = vec![support::store_config("shop", "s3cret")]
    })
    .await;
    let mut bodies: Vec<Vec<u8>> = (0..50)
        .map(|i| {
            let status = if i < 10 { "pending" } else { "processing" };
            order_body(
                77,
                status,
                &format!("2026-11-23T08:{:02}:00", i),
                &format!("v{i}"),
            )
        })
        .collect();
    bodies.extend(bodies.clone());
    // A fixed permutation that interleaves old and new states.
    let mut order: Vec<usize> = (0..bodies.len()).collect();
    order.sort_by_key(|i| (i * 37) % 101);
    let answered = post_concurrently(&app, order.into_iter().map(|i| bodies[i].clone())).await;
    // Every answer names its stored delivery, whether it was applied before the answer
    // (its outcome) or after it (`stored`).
    app.applied().await;
    let mut planned = 0;
    // Each stored delivery's body, by the id its answers named.
    let mut sent = std::collections::BTreeMap::new();
    for (ack, body) in &answered {
        planned += ack["jobs_planned"].as_u64().unwrap();
        let id = ack["delivery_id"]
            .as_i64()
            .expect("every answer has a delivery_id");
        sent.insert(id, body.clone());
        // Deliveries stored together keep their own ids: the id answered holds the body
        // sent, and the outcome answered unless it was answered before being applied.
        let stored = app.store.delivery(id).await.unwrap().expect("delivery");
        assert_eq!(stored.body.as_bytes(), &body[..], "delivery {id}");
        assert_ne!(stored.delivery.outcome, "stored", "delivery {id}");
        if ack["outcome"] == json!("stored") {
            assert_eq!(ack["jobs_planned"], json!(0), "{ack}");
        } else if json!(stored.delivery.outcome) != ack["outcome"] {
            // A copy arriving once the first is stored is answered as a replay, under the
            // first copy's id, and not stored again.
            assert_eq!(ack["outcome"], json!("duplicate"), "{ack}");
            assert_eq!(ack["jobs_planned"], json!(0), "{ack}");
        }
    }
    assert!(planned <= 1, "the order's job was planned {planned} times");
    // Every body sent is stored, once per copy not answered as a replay.
    assert_eq!(
        app.store.count(Table::Deliveries).await.unwrap(),
        sent.len() as i64
    );
    assert!(sent.len() >= 50, "{} deliveries stored", sent.len());
    let mut sent: Vec<Vec<u8>> = sent.into_values().collect();
    let (_, page) = app.admin_get("/v1/admin/deliveries?limit=100").await;
    let mut stored = Vec::new();
    for d in page["deliveries"].as_array().expect("deliveries") {
        let id = d["id"].as_i64().expect("id");
        let d = app.store.delivery(id).await.unwrap().expect("delivery");
        stored.push(d.body.as_bytes().to_vec());
    }
    sent.sort();
    stored.sort();
    assert!(sent == stored, "the bodies stored are not the bodies sent");
    assert_eq!(app.store.count(Table::OrderSnapshots).await.unwrap(), 50);
    assert_eq!(app.store.count(Table::Jobs).await.unwrap(), 1);
    let (_, ledger) = app.admin_get("/v1/admin/orders/shop/77").await;
    assert_eq!(ledger["modified_gmt"], json!("2026-11-23T08:49:00"));
    assert_eq!(ledger["current"]["customer_note"], json!("v49"));
    assert_eq!(ledger["items"][0]["classification"], json!("apliiq"));
    // Each body is stored once, with its delivery; the snapshot refers to it.
    let sql = "SELECT COUNT(*) FROM order_snapshots WHERE body = ''";
    let shared: i64 = on_pool!(&app.store, |pool| sqlx::query_scalar(sql)
        .fetch_one(pool)
        .await)
    .unwrap();
    assert_eq!(shared, 50);
    let current = app.store.current_order_body("shop", 77).await.unwrap();
    assert_eq!(current.as_deref().map(str::as_bytes), Some(&bodies[49][..]));
    app.stop().await;
}
on_both_backends!(concurrency, concurrent_out_of_order_deliveries);

/// What was answered 2xx survives a restart on the same database file.
#[tokio::test]
async fn accepted_deliveries_survive_a_restart() {
    let app = TestApp::spawn(Backend::Sqlite, |c| {
        c.stores = vec![support::store_config("shop", "s3cret")];
    })
    .await;
    let body = order_body(5, "processing", "2026-11-23T09:00:00", "");
    let (status, _) = app
        .post_webhook("shop", "order.created", &body, "s3cret")
        .await;
    assert_eq!(status, 200);
    let dir = app.stop().await;
    let url = format!("sqlite://{}", dir.path().join("bridge.db").display());
    let store = printbridge::store::Store::connect(&url).await.unwrap();
    assert_eq!(store.count(Table::Deliveries).await.unwrap(), 1);
    assert_eq!(store.count(Table::Orders).await.unwrap(), 1);
}

/// A new SQLite database gets 8 KB pages (a webhook body fits one); one created with
/// SQLite's default 4 KB pages keeps them and still opens, migrates and takes deliveries.
#[tokio::test]
async fn sqlite_page_size_is_set_for_new_databases_only() {
    async fn page_size(store: &printbridge::store::Store) -> i64 {
        let printbridge::store::Store::Sqlite(pool, _) = store else {
            panic!("a SQLite store");
        };
        sqlx::query_scalar("PRAGMA page_size")
            .fetch_one(pool)
            .await
            .unwrap()
    }
    let dir = tempfile::tempdir().unwrap();
    let new = format!("sqlite://{}", dir.path().join("new.db").display());
    let store = printbridge::store::Store::connect(&new).await.unwrap();
    store.migrate().await.unwrap();
    assert_eq!(page_size(&store).await, 8192);
    store.close().await;

    let path = dir.path().join("old.db");
    let old = sqlx::sqlite::SqlitePoolOptions::new()
        .connect_with(
            sqlx::sqlite::SqliteConnectOptions::new()
                .filename(&path)
                .create_if_missing(true)
                .page_size(4096)
                .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal),
        )
        .await
        .unwrap();
    sqlx::query("CREATE TABLE before_the_bridge (x INTEGER)")
        .execute(&old)
        .await
        .unwrap();
    old.close().await;
    let url = format!("sqlite://{}", path.display());
    let store = printbridge::store::Store::connect(&url).await.unwrap();
    store.migrate().await.unwrap();
    assert_eq!(page_size(&store).await, 4096);
    store.close().await;
    let app = TestApp::spawn_on(
        dir,
        printbridge::store::Store::connect(&url).await.unwrap(),
        url,
        |c| c.stores = vec![support::store_config("shop", "s3cret")],
        None,
    )
    .await;
    let (status, ack) = app
        .post_webhook(
            "shop",
            "order.created",
            &order_body(77, "processing", "2026-12-03T10:00:00", ""),
            "s3cret",
        )
        .await;
    assert_eq!(status, 200, "{ack}");
    assert_eq!(ack["outcome"], json!("applied"), "{ack}");
    app.stop().await;
}

/// A PostgreSQL server on this host is reached without TLS unless the URL asks for it.
#[tokio::test]
async fn a_local_postgres_is_reached_without_tls() {
    let Some(url) = support::postgres_url() else {
        return;
    };
    let local = ["127.0.0.1", "localhost", "[::1]", "/"]
        .iter()
        .any(|host| url.contains(&format!("@{host}")));
    if !local || url.contains("sslmode") || std::env::var_os("PGSSLMODE").is_some() {
        eprintln!("skipped: the test server is not on this host or sets an sslmode");
        return;
    }
    let store = printbridge::store::Store::connect(&url).await.unwrap();
    let printbridge::store::Store::Postgres(pool) = &store else {
        panic!("a PostgreSQL store");
    };
    let ssl: bool = sqlx::query_scalar("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
        .fetch_one(pool)
        .await
        .unwrap();
    assert!(!ssl, "loopback connection negotiated TLS");
    store.close().await;
}

/// PostgreSQL connections are not pinged before each use (a round trip per transaction),
/// but one idle for a while is: a connection the server dropped meanwhile is replaced
/// without failing the query that wanted it.
#[tokio::test]
async fn a_postgres_connection_dropped_while_idle_is_replaced() {
    let Some(url) = support::postgres_url() else {
        return;
    };
    let store = printbridge::store::Store::connect(&url).await.unwrap();
    let printbridge::store::Store::Postgres(pool) = &store else {
        panic!("a PostgreSQL store");
    };
    let pid: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
        .fetch_one(pool)
        .await
        .unwrap();
    assert_eq!(pool.size(), 1, "one connection, now idle");
    let admin = sqlx::PgPool::connect(&url).await.unwrap();
    let ended: bool = sqlx::query_scalar("SELECT pg_terminate_backend($1)")
        .bind(pid)
        .fetch_one(&admin)
        .await
        .unwrap();
    assert!(ended);
    // The connection has to have been idle for the check to apply; that takes time itself.
    tokio::time::sleep(printbridge::store::PING_IDLE_AFTER + Duration::from_millis(200)).await;
    let again: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
        .fetch_one(pool)
        .await
        .expect("the dropped connection is replaced");
    assert_ne!(again, pid);
    admin.close().await;
    store.close().await;
}

async fn admin_api_is_protected_and_pages(backend: Backend) {
    let app = TestApp::spawn(backend, |c| {
        c.stores = vec![
            support::store_config("shop", "s3cret"),
            support::store_config("outlet", "0ther"),
        ]
    })
    .await;
    for i in 1..=5 {
        let status = if i % 2 == 0 { "completed" } else { "on-hold" };
        let body = order_body(i, status, "2026-11-23T10:00:00", "");
        app.post_webhook("shop", "order.created", &body, "s3cret")
            .await;
    }
    let body = order_body(9, "processing", "2026-11-23T10:00:00", "");
    app.post_webhook("outlet", "order.created", &body, "0ther")
        .await;

    for auth in [None, Some("wrong")] {
        let mut req = app.client.get(app.url("/v1/admin/orders"));
        if let Some(t) = auth {
            req = req.bearer_auth(t);
        }
        let (status, p) = problem(req.send().await.unwrap()).await;
        assert_eq!(status, 401, "{p}");
    }

    let (status, page) = app.admin_get("/v1/admin/orders?limit=2").await;
    assert_eq!(status, 200);
    assert_eq!(page["total"], json!(6));
    assert_eq!(page["orders"].as_array().unwrap().len(), 2);
    assert_eq!(page["next_offset"], json!(2));
    let (_, last) = app.admin_get("/v1/admin/orders?limit=2&offset=4").await;
    assert_eq!(last["orders"].as_array().unwrap().len(), 2);
    assert!(last["next_offset"].is_null(), "{last}");

    let (_, shop) = app
        .admin_get("/v1/admin/orders?store=shop&status=completed")
        .await;
    let ids: Vec<i64> = shop["orders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["order_id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids.len(), 2);
    assert!(ids.contains(&2) && ids.contains(&4));

    let (status, p) = app.admin_get("/v1/admin/orders?limit=0").await;
    assert_eq!((status, p["field"].as_str()), (400, Some("limit")), "{p}");
    let (status, p) = app.admin_get("/v1/admin/orders/shop/999").await;
    assert_eq!(
        (status, p["field"].as_str()),
        (404, Some("order_id")),
        "{p}"
    );
    let (status, _) = app.admin_get("/v1/admin/orders/nope/1").await;
    assert_eq!(status, 404);

    let (status, stores) = app.admin_get("/v1/admin/stores").await;
    assert_eq!(status, 200);
    assert_eq!(stores["stores"].as_array().unwrap().len(), 2);
    let text = stores.to_string();
    for secret in ["s3cret", "0ther", support::STORE_TOKEN] {
        assert!(!text.contains(secret), "secret in {text}");
    }
    app.stop().await;
}
on_both_backends!(admin_api, admin_api_is_protected_and_pages);

async fn health_docs_and_metrics(backend: Backend) {
    let app = TestApp::spawn(backend, |c| {
        c.stores = vec![support::store_config("shop", "s3cret")]
    })
    .await;
    for (path, ct) in [
        ("/healthz", "application/json"),
        ("/readyz", "application/json"),
        ("/openapi.json", "application/json"),
        ("/docs", "text/html"),
        ("/metrics", "text/plain"),
    ] {
        let r = app.client.get(app.url(path)).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 200, "{path}");
        let got = r.headers()["content-type"].to_str().unwrap().to_owned();
        assert!(got.starts_with(ct), "{path}: {got}");
    }
    let spec: Value = app
        .client
        .get(app.url("/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(spec["paths"]["/v1/webhooks/woocommerce/{store}"]["post"].is_object());
    // The interactive documentation: Swagger UI with this spec inlined, with or without the
    // trailing slash.
    for path in ["/docs", "/docs/"] {
        let page = app
            .client
            .get(app.url(path))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(page.contains("SwaggerUIBundle"), "{path}");
        assert!(page.contains("receiveWooCommerceWebhook"), "{path}");
    }

    let body = order_body(3, "processing", "2026-11-23T10:00:00", "");
    app.post_webhook("shop", "order.created", &body, "s3cret")
        .await;
    let metrics = support::eventually(Duration::from_secs(5), "metrics", || async {
        let text = support::try_text(&app.client, &app.url("/metrics")).await?;
        text.contains("outcome=\"applied\"").then_some(text)
    })
    .await;
    assert!(
        metrics.contains("printbridge_deliveries_total"),
        "{metrics}"
    );
    app.stop().await;
}
on_both_backends!(health, health_docs_and_metrics);

/// `/readyz` fails with a problem naming the intake writer once it has stopped: deliveries
/// are then neither stored nor applied, and a webhook is answered 503, not 200.
async fn a_stopped_intake_writer_fails_readiness(backend: Backend) {
    let app = TestApp::spawn(backend, |c| {
        c.stores = vec![support::store_config("shop", "s3cret")]
    })
    .await;
    let r = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    app.state.intake.stop().await;
    let (status, problem) = problem(app.client.get(app.url("/readyz")).send().await.unwrap()).await;
    assert_eq!(status, 503, "{problem}");
    assert_eq!(problem["error"], json!("intake_stopped"), "{problem}");
    assert!(
        problem["message"]
            .as_str()
            .is_some_and(|m| m.contains("intake writer")),
        "{problem}"
    );
    let body = order_body(4, "processing", "2026-11-23T10:00:00", "");
    let (status, ack) = app
        .post_webhook("shop", "order.created", &body, "s3cret")
        .await;
    assert_eq!(status, 503, "{ack}");
    assert_eq!(app.store.count(Table::Deliveries).await.unwrap(), 0);
    app.stop().await;
}
on_both_backends!(readiness, a_stopped_intake_writer_fails_readiness);

/// `/metrics` gives the age in seconds of the oldest delivery stored and not applied, by the
/// bridge's clock: 0 with none, then that of the oldest (the writer is stopped, so nothing
/// applies them meanwhile).
async fn metrics_give_the_oldest_unapplied_delivery_age(backend: Backend) {
    let now = 1_800_000_000_000;
    let clock = printbridge::clock::ManualClock::new(now);
    let app = TestApp::spawn_with_clock(
        backend,
        |c| c.stores = vec![support::store_config("shop", "s3cret")],
        Some(clock.clone()),
    )
    .await;
    app.state.intake.stop().await;
    let gauge = |metrics: &str, name: &str| {
        metrics
            .lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse::<f64>().ok())
    };
    let metrics = app.metrics().await;
    let age = "printbridge_oldest_unapplied_delivery_age_seconds";
    assert_eq!(gauge(&metrics, age), Some(0.0), "{metrics}");
    for received_at in [now - 42_000, now - 5_000] {
        on_pool!(&app.store, |pool| sqlx::query(
            "INSERT INTO deliveries (store_id, received_at, source, topic, body, body_encoding, \
             outcome) VALUES ('shop', $1, 'webhook', 'order.updated', $2, 'identity', 'stored')"
        )
        .bind(received_at)
        .bind(b"{}".to_vec())
        .execute(pool)
        .await
        .map(|_| ()))
        .expect("stored delivery");
    }
    let metrics = app.metrics().await;
    assert_eq!(gauge(&metrics, age), Some(42.0), "{metrics}");
    assert_eq!(
        gauge(&metrics, "printbridge_deliveries_unapplied"),
        Some(2.0),
        "{metrics}"
    );
    assert!(
        metrics.contains(&format!("# TYPE {age} gauge")),
        "{metrics}"
    );
    clock.advance(8_000);
    let metrics = app.metrics().await;
    assert_eq!(gauge(&metrics, age), Some(50.0), "{metrics}");
    app.stop().await;
}
on_both_backends!(
    unapplied_age,
    metrics_give_the_oldest_unapplied_delivery_age
);

/// A data directory that holds an intake journal (written by a version that answered
/// deliveries from it) is refused at start with a message naming it, before the database is
/// touched: what it holds may not be stored.
#[tokio::test]
async fn a_data_dir_with_an_intake_journal_is_refused_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("data").join("intake-journal");
    std::fs::create_dir_all(&journal).unwrap();
    std::fs::write(journal.join("00000000000000000001.seg"), b"x").unwrap();
    let (store, url) = support::open_store(Backend::Sqlite, dir.path()).await;
    let config = printbridge::config::Config {
        database_url: url,
        data_dir: dir.path().join("data"),
        listen: "127.0.0.1:0".to_owned(),
        ..Default::default()
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let refused = printbridge::app::Application::build_with_store(
        config,
        store.clone(),
        Some(listener),
        None,
    )
    .await
    .err()
    .expect("refused");
    let message = refused.to_string();
    assert!(
        message.contains(&journal.display().to_string())
            && message.contains("printbridge_intake_journal_backlog"),
        "{message}"
    );
    // Nothing was migrated.
    let tables: i64 = on_pool!(&store, |pool| sqlx::query_scalar(
        "SELECT COUNT(*) FROM sqlite_master WHERE name = 'deliveries'"
    )
    .fetch_one(pool)
    .await
    .unwrap());
    assert_eq!(tables, 0);
}

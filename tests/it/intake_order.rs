//! Intake answers once a delivery is committed, with its id, and applies stored deliveries to
//! the ledger in order of arrival: every delivery of a burst is answered with its own id,
//! deliveries left stored by a restart are applied when the bridge starts, and one that
//! cannot be applied is set aside without holding up the others.

use crate::support;
use crate::support::{Backend, TestApp};
use printbridge::intake::body::Packed;
use printbridge::intake::queue::MAX_APPLY_ATTEMPTS;
use printbridge::reads::orders::Table;
use printbridge::store::Store;
use serde_json::{Value, json};

const SECRET: &str = "s3cret";

fn paid_order(id: i64, status: &str, modified: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "id": id,
        "status": status,
        "currency": "EUR",
        "total": "32.00",
        "date_modified_gmt": modified,
        "line_items": [{
            "id": 1, "name": "Tee", "product_id": 38, "variation_id": 0, "quantity": 1,
            "sku": "APQ-1998244S7A1", "price": 32, "total": "32.00", "meta_data": []
        }]
    }))
    .expect("json")
}

/// One store, `shop`, with the tests' webhook secret.
fn one_shop(c: &mut printbridge::config::Config) {
    c.stores = vec![support::store_config("shop", SECRET)];
}

/// Posts paid order `id` as a signed delivery of `topic`.
async fn post_paid(app: &TestApp, topic: &str, id: i64) -> (u16, Value) {
    app.post_webhook(
        "shop",
        topic,
        &paid_order(id, "processing", "2026-12-02T10:00:00"),
        SECRET,
    )
    .await
}

async fn ledger_status(app: &TestApp, order_id: i64) -> Value {
    let (status, ledger) = app
        .admin_get(&format!("/v1/admin/orders/shop/{order_id}"))
        .await;
    assert_eq!(status, 200, "order {order_id}: {ledger}");
    ledger["status"].clone()
}

async fn outcome(store: &Store, delivery_id: i64) -> (String, Option<String>) {
    let d = store
        .delivery(delivery_id)
        .await
        .expect("read")
        .expect("delivery");
    (d.delivery.outcome, d.delivery.detail)
}

/// Stores a delivery as a bridge stopped before applying it would have left it (test
/// set-up); returns its id.
async fn store_unapplied(store: &Store, store_id: &str, topic: &str, body: &[u8]) -> i64 {
    let sql = "INSERT INTO deliveries (store_id, received_at, source, topic, body, outcome) \
               VALUES ($1, 1, 'webhook', $2, $3, 'stored') RETURNING id";
    on_pool!(store, |pool| {
        sqlx::query_scalar(sql)
            .bind(store_id)
            .bind(topic)
            .bind(body)
            .fetch_one(pool)
            .await
    })
    .expect("insert")
}

/// Stores a delivery as [`store_unapplied`] does, its body compressed with LZ4 the way the
/// bridge stores it on SQLite, padded so that it compresses; returns its id.
async fn store_unapplied_packed(store: &Store, store_id: &str, topic: &str, body: &[u8]) -> i64 {
    let mut order: Value = serde_json::from_slice(body).expect("order json");
    order["customer_note"] = json!("gift wrap, please. ".repeat(40));
    let body = serde_json::to_vec(&order).expect("body");
    let packed = Packed::compressed(&body);
    assert_eq!(packed.encoding(), "lz4");
    let sql = "INSERT INTO deliveries (store_id, received_at, source, topic, body, \
               body_encoding, body_size, outcome) \
               VALUES ($1, 1, 'webhook', $2, $3, $4, $5, 'stored') RETURNING id";
    on_pool!(store, |pool| {
        sqlx::query_scalar(sql)
            .bind(store_id)
            .bind(topic)
            .bind(packed.bytes(&body))
            .bind(packed.encoding())
            .bind(i64::try_from(body.len()).expect("size"))
            .fetch_one(pool)
            .await
    })
    .expect("insert")
}

/// Runs `sql` on the store's database (test set-up).
async fn execute(store: &Store, sql: &'static str) {
    on_pool!(store, |pool| sqlx::query(sql)
        .execute(pool)
        .await
        .map(|_| ()))
    .expect(sql);
}

/// 300 paid orders posted 48 at a time: every one answered 200 with its own delivery id,
/// and every one applied (one job each), whether its answer carried the outcome or said
/// `stored`; the metrics count each application once.
async fn a_burst_is_answered_then_applied(backend: Backend) {
    let app = TestApp::spawn(backend, one_shop).await;
    let n = 300i64;
    let mut answers = Vec::new();
    let ids: Vec<i64> = (0..n).map(|i| 5_000 + i).collect();
    for chunk in ids.chunks(48) {
        let mut tasks = Vec::new();
        for &id in chunk {
            let request = support::webhook_request(
                &app.client,
                &app.base,
                "shop",
                "order.updated",
                SECRET,
                paid_order(id, "processing", "2026-12-02T10:00:00"),
            );
            tasks.push(tokio::spawn(async move {
                let resp = request.send().await.expect("request");
                let status = resp.status().as_u16();
                let ack: Value = resp.json().await.expect("json ack");
                (id, status, ack)
            }));
        }
        for t in tasks {
            answers.push(t.await.expect("task"));
        }
    }
    app.applied().await;
    let mut delivery_ids = std::collections::BTreeSet::new();
    for (id, status, ack) in &answers {
        assert_eq!(*status, 200, "order {id}: {ack}");
        let outcome_answered = ack["outcome"].as_str().expect("outcome");
        assert!(
            ["applied", "stored"].contains(&outcome_answered),
            "order {id}: {ack}"
        );
        let delivery_id = ack["delivery_id"]
            .as_i64()
            .expect("every answer has a delivery_id");
        assert!(
            delivery_ids.insert(delivery_id),
            "delivery id {delivery_id} twice"
        );
        let (stored, _) = outcome(&app.store, delivery_id).await;
        assert_eq!(stored, "applied", "order {id}");
        if outcome_answered == "stored" {
            assert_eq!(ack["jobs_planned"], json!(0), "{ack}");
        } else {
            assert_eq!(ack["order_id"], json!(id), "{ack}");
            assert_eq!(ack["jobs_planned"], json!(1), "{ack}");
        }
    }
    assert_eq!(app.store.count(Table::Deliveries).await.unwrap(), n);
    assert_eq!(app.store.count(Table::Orders).await.unwrap(), n);
    assert_eq!(app.store.count(Table::Jobs).await.unwrap(), n);
    let metrics = app.metrics().await;
    let line =
        format!("printbridge_deliveries_total{{topic=\"order.updated\",outcome=\"applied\"}} {n}");
    assert!(metrics.contains(&line), "{line} not in\n{metrics}");
    app.stop().await;
}
on_both_backends!(burst, a_burst_is_answered_then_applied);

/// Deliveries a restart left stored but not applied are applied when the bridge starts,
/// oldest first: of two states of an order with the same modification time the later one
/// wins, and an older state that arrived later is stale. Two are stored as a bridge before
/// `body_encoding` did, two compressed.
async fn stored_deliveries_are_applied_in_order_at_start(backend: Backend) {
    let dir = tempfile::tempdir().expect("tempdir");
    let (store, url) = support::open_store(backend, dir.path()).await;
    store.migrate().await.expect("migrate");
    let rows: [(i64, &str, &str); 4] = [
        (501, "pending", "2026-12-02T10:00:00"),
        (501, "processing", "2026-12-02T10:00:00"),
        (502, "processing", "2026-12-02T10:00:05"),
        (502, "pending", "2026-12-02T10:00:01"),
    ];
    let mut ids = Vec::new();
    for (n, (id, status, modified)) in rows.into_iter().enumerate() {
        let body = paid_order(id, status, modified);
        ids.push(if n % 2 == 0 {
            store_unapplied(&store, "shop", "order.updated", &body).await
        } else {
            store_unapplied_packed(&store, "shop", "order.updated", &body).await
        });
    }
    assert!(store.has_unapplied_deliveries().await.unwrap());
    assert_eq!(store.unapplied_deliveries().await.unwrap(), (4, Some(1)));
    let app = TestApp::spawn_on(dir, store, url, one_shop, None).await;
    app.applied().await;
    let mut outcomes = Vec::new();
    for id in &ids {
        outcomes.push(outcome(&app.store, *id).await.0);
    }
    assert_eq!(outcomes, ["applied", "applied", "applied", "stale"]);
    assert_eq!(ledger_status(&app, 501).await, json!("processing"));
    assert_eq!(ledger_status(&app, 502).await, json!("processing"));
    assert_eq!(app.store.count(Table::Jobs).await.unwrap(), 2);
    let metrics = app.metrics().await;
    for line in [
        "printbridge_deliveries_unapplied 0\n",
        "printbridge_oldest_unapplied_delivery_age_seconds 0\n",
        "printbridge_deliveries_total{topic=\"order.updated\",outcome=\"stale\"} 1\n",
    ] {
        assert!(metrics.contains(line), "{line} not in\n{metrics}");
    }
    app.stop().await;
}
on_both_backends!(restart, stored_deliveries_are_applied_in_order_at_start);

/// A database whose stored, unapplied deliveries say `received` (the schema before migration
/// 0009): the migration renames them `stored`, and the bridge applies them at its start.
async fn received_deliveries_are_stored_ones_after_migration(backend: Backend) {
    let dir = tempfile::tempdir().expect("tempdir");
    let (store, url) = support::open_store(backend, dir.path()).await;
    let backend_dir = match backend {
        Backend::Sqlite => "sqlite",
        Backend::Postgres => "postgres",
    };
    let earlier = dir.path().join("migrations");
    std::fs::create_dir(&earlier).expect("dir");
    let all = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("migrations")
        .join(backend_dir);
    for entry in std::fs::read_dir(&all).expect("migrations") {
        let path = entry.expect("entry").path();
        let name = path
            .file_name()
            .expect("name")
            .to_string_lossy()
            .into_owned();
        if name.as_str() < "0009" {
            std::fs::copy(&path, earlier.join(&name)).expect("copy");
        }
    }
    let migrator = sqlx::migrate::Migrator::new(earlier.as_path())
        .await
        .expect("migrator");
    on_pool!(&store, |pool| migrator.run(pool).await).expect("migrate to 0008");
    let sql = "INSERT INTO deliveries (store_id, received_at, source, topic, body, outcome) \
               VALUES ('shop', 1, 'webhook', 'order.updated', $1, 'received') RETURNING id";
    let body = paid_order(601, "processing", "2026-12-02T10:00:00");
    let id: i64 = on_pool!(&store, |pool| sqlx::query_scalar(sql)
        .bind(&body)
        .fetch_one(pool)
        .await)
    .expect("insert");
    let app = TestApp::spawn_on(dir, store, url, one_shop, None).await;
    app.applied().await;
    assert_eq!(outcome(&app.store, id).await.0, "applied");
    assert_eq!(ledger_status(&app, 601).await, json!("processing"));
    app.stop().await;
}
on_both_backends!(
    received_rows,
    received_deliveries_are_stored_ones_after_migration
);

/// A delivery whose application fails (here a trigger refuses its snapshot) is still
/// answered 200 and kept; after a few attempts it is set aside as `failed` with the error,
/// and the deliveries after it are applied.
async fn a_delivery_that_cannot_be_applied_is_set_aside(backend: Backend) {
    let app = TestApp::spawn(backend, one_shop).await;
    match backend {
        Backend::Sqlite => {
            execute(
                &app.store,
                "CREATE TRIGGER refuse_666 BEFORE INSERT ON order_snapshots \
                 WHEN NEW.order_id = 666 BEGIN SELECT RAISE(ABORT, 'refused by the test'); END",
            )
            .await
        }
        Backend::Postgres => {
            execute(
                &app.store,
                "CREATE FUNCTION refuse_666() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN \
                 IF NEW.order_id = 666 THEN RAISE EXCEPTION 'refused by the test'; END IF; \
                 RETURN NEW; END $$",
            )
            .await;
            execute(
                &app.store,
                "CREATE TRIGGER refuse_666 BEFORE INSERT ON order_snapshots \
                 FOR EACH ROW EXECUTE FUNCTION refuse_666()",
            )
            .await
        }
    }
    let (status, refused) = post_paid(&app, "order.updated", 666).await;
    assert_eq!(status, 200, "{refused}");
    assert_eq!(refused["outcome"], json!("stored"), "{refused}");
    let (status, next) = post_paid(&app, "order.updated", 667).await;
    assert_eq!(status, 200, "{next}");
    app.applied().await;

    let (failed, detail) = outcome(&app.store, refused["delivery_id"].as_i64().unwrap()).await;
    assert_eq!(failed, "failed");
    let detail = detail.expect("detail");
    assert!(detail.contains("refused by the test"), "{detail}");
    assert!(
        detail.contains(&format!("{MAX_APPLY_ATTEMPTS} attempts")),
        "{detail}"
    );
    let (applied, _) = outcome(&app.store, next["delivery_id"].as_i64().unwrap()).await;
    assert_eq!(applied, "applied");
    assert_eq!(ledger_status(&app, 667).await, json!("processing"));
    let (status, _) = app.admin_get("/v1/admin/orders/shop/666").await;
    assert_eq!(status, 404);
    let (_, listed) = app.admin_get("/v1/admin/deliveries?outcome=failed").await;
    assert_eq!(listed["total"], json!(1), "{listed}");
    app.stop().await;
}
on_both_backends!(set_aside, a_delivery_that_cannot_be_applied_is_set_aside);

/// A stored delivery whose body cannot be read back (damaged on disk) is set aside as
/// `failed` like one that cannot be applied, and the deliveries after it are applied.
async fn a_delivery_that_cannot_be_read_back_is_set_aside(backend: Backend) {
    let dir = tempfile::tempdir().expect("tempdir");
    let (store, url) = support::open_store(backend, dir.path()).await;
    store.migrate().await.expect("migrate");
    let damaged: i64 = on_pool!(&store, |pool| {
        sqlx::query_scalar(
            "INSERT INTO deliveries (store_id, received_at, source, topic, body, \
             body_encoding, body_size, outcome) \
             VALUES ('shop', 1, 'webhook', 'order.updated', $1, 'lz4', 900, 'stored') \
             RETURNING id",
        )
        .bind(&[0x84u8, 0x03, 0, 0, 0xf0, 0x01][..])
        .fetch_one(pool)
        .await
    })
    .expect("insert");
    let body = paid_order(671, "processing", "2026-12-02T10:00:00");
    let next = store_unapplied_packed(&store, "shop", "order.updated", &body).await;
    let app = TestApp::spawn_on(dir, store, url, one_shop, None).await;
    app.applied().await;
    // Read in SQL: the bridge's own reads of this delivery fail on its body.
    let (failed, detail): (String, Option<String>) = on_pool!(&app.store, |pool| {
        sqlx::query_as("SELECT outcome, detail FROM deliveries WHERE id = $1")
            .bind(damaged)
            .fetch_one(pool)
            .await
    })
    .expect("outcome");
    assert_eq!(failed, "failed");
    let detail = detail.expect("detail");
    assert!(detail.contains("lz4"), "{detail}");
    assert_eq!(outcome(&app.store, next).await.0, "applied");
    assert_eq!(ledger_status(&app, 671).await, json!("processing"));
    app.stop().await;
}
on_both_backends!(unreadable, a_delivery_that_cannot_be_read_back_is_set_aside);

/// A database from before `deliveries.body_sha256` was dropped (migration 0006) keeps its
/// deliveries through the upgrade, and one stored but not applied then is applied after it.
async fn deliveries_stored_before_the_digest_was_dropped_are_kept(backend: Backend) {
    let dir = tempfile::tempdir().expect("tempdir");
    let (store, url) = support::open_store(backend, dir.path()).await;
    let migrations = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("migrations")
        .join(match backend {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        });
    let older = sqlx::migrate::Migrator::new(migrations)
        .await
        .expect("migrations");
    on_pool!(&store, |pool| older.run_to(5, pool).await).expect("migrate to 0005");
    let body = paid_order(672, "processing", "2026-12-02T10:00:00");
    let id: i64 = on_pool!(&store, |pool| {
        sqlx::query_scalar(
            "INSERT INTO deliveries (store_id, received_at, source, topic, body, body_sha256, \
             outcome) VALUES ('shop', 1, 'webhook', 'order.updated', $1, 'a digest', \
             'stored') RETURNING id",
        )
        .bind(&body)
        .fetch_one(pool)
        .await
    })
    .expect("insert");
    store.migrate().await.expect("migrate");
    let column = on_pool!(&store, |pool| {
        sqlx::query("SELECT body_sha256 FROM deliveries")
            .execute(pool)
            .await
            .map(|_| ())
    });
    assert!(column.is_err(), "deliveries.body_sha256 is still there");
    let app = TestApp::spawn_on(dir, store, url, one_shop, None).await;
    app.applied().await;
    assert_eq!(outcome(&app.store, id).await.0, "applied");
    let kept = app
        .store
        .delivery(id)
        .await
        .expect("read")
        .expect("delivery");
    assert_eq!(kept.body.as_bytes(), &body[..]);
    assert_eq!(ledger_status(&app, 672).await, json!("processing"));
    app.stop().await;
}
on_both_backends!(
    upgrade,
    deliveries_stored_before_the_digest_was_dropped_are_kept
);

/// Deliveries that arrive one at a time are applied before their answer, which carries
/// the outcome and the jobs planned.
#[tokio::test]
async fn a_quiet_delivery_is_answered_with_its_outcome() {
    let app = TestApp::spawn(Backend::Sqlite, one_shop).await;
    for i in 0..5 {
        let (status, ack) = post_paid(&app, "order.created", 900 + i).await;
        assert_eq!(status, 200);
        assert_eq!(ack["outcome"], json!("applied"), "{ack}");
        assert_eq!(ack["jobs_planned"], json!(1), "{ack}");
    }
    assert!(!app.store.has_unapplied_deliveries().await.unwrap());
    app.stop().await;
}

/// On a PostgreSQL server built with lz4, a webhook body is stored compressed with lz4 (the
/// bridge's connections set `default_toast_compression`; pglz took a third more of the
/// server's time per delivery).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_bodies_are_compressed_with_lz4_where_offered() {
    if support::postgres_url().is_none() {
        return;
    }
    let app = TestApp::spawn(Backend::Postgres, one_shop).await;
    let Store::Postgres(pool) = &app.store else {
        panic!("a PostgreSQL store");
    };
    let offered: bool = sqlx::query_scalar(
        "SELECT 'lz4' = ANY (enumvals) AND boot_val = 'pglz' FROM pg_settings \
         WHERE name = 'default_toast_compression'",
    )
    .fetch_optional(pool)
    .await
    .expect("pg_settings")
    .unwrap_or(false);
    if !offered {
        eprintln!("skipped: this PostgreSQL server has no lz4");
        app.stop().await;
        return;
    }
    // A paid order padded to about 6 KB, as a sale's webhook is.
    let mut order: Value =
        serde_json::from_slice(&paid_order(803, "processing", "2026-12-02T10:00:00"))
            .expect("order json");
    order["customer_note"] = json!("gift wrap, please. ".repeat(300));
    let body = serde_json::to_vec(&order).expect("body");
    assert!(body.len() > 5_000, "{} bytes", body.len());
    let (status, ack) = app
        .post_webhook("shop", "order.created", &body, SECRET)
        .await;
    assert_eq!(status, 200, "{ack}");
    assert_eq!(ack["outcome"], json!("applied"), "{ack}");
    let id = ack["delivery_id"].as_i64().expect("delivery id");
    let compression: Option<String> =
        sqlx::query_scalar("SELECT pg_column_compression(body) FROM deliveries WHERE id = $1")
            .bind(id)
            .fetch_one(pool)
            .await
            .expect("compression");
    assert_eq!(compression.as_deref(), Some("lz4"));
    app.stop().await;
}

/// On PostgreSQL one bridge of a schema applies at a time (an advisory lock): while another
/// holds the lock, a delivery is stored and answered `stored`, and applied once the lock
/// is free. A bridge on another schema of the same database does not wait for it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_of_one_schema_apply_one_at_a_time() {
    if support::postgres_url().is_none() {
        return;
    }
    let held = TestApp::spawn(Backend::Postgres, one_shop).await;
    let other = TestApp::spawn(Backend::Postgres, one_shop).await;
    let Store::Postgres(pool) = &held.store else {
        panic!("a PostgreSQL store");
    };
    // Another replica of `held`'s schema, in the middle of applying.
    let mut replica = pool.begin().await.expect("begin");
    sqlx::query("SELECT pg_advisory_xact_lock($1, hashtext(current_schema()))")
        .bind(printbridge::intake::apply::APPLY_LOCK)
        .execute(&mut *replica)
        .await
        .expect("lock");

    let (status, ack) = post_paid(&other, "order.created", 801).await;
    assert_eq!(status, 200, "{ack}");
    assert_eq!(ack["outcome"], json!("applied"), "another schema: {ack}");

    let (status, ack) = post_paid(&held, "order.created", 802).await;
    assert_eq!(status, 200, "{ack}");
    assert_eq!(ack["outcome"], json!("stored"), "lock held: {ack}");
    let id = ack["delivery_id"].as_i64().expect("delivery id");
    assert_eq!(outcome(&held.store, id).await.0, "stored");

    replica.rollback().await.expect("release");
    held.applied().await;
    assert_eq!(outcome(&held.store, id).await.0, "applied");
    assert_eq!(ledger_status(&held, 802).await, json!("processing"));
    held.stop().await;
    other.stop().await;
}

/// On PostgreSQL a delivery another replica stored and did not apply is applied by the next
/// transaction of any replica, before that transaction's own deliveries: a newer state of an
/// order stored by a replica is applied first, and an older state arriving after it is stale.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replicas_stored_delivery_is_applied_before_newer_arrivals() {
    if support::postgres_url().is_none() {
        return;
    }
    let app = TestApp::spawn(Backend::Postgres, one_shop).await;
    let (status, ack) = post_paid(&app, "order.created", 901).await;
    assert_eq!(status, 200, "{ack}");
    assert_eq!(ack["outcome"], json!("applied"), "{ack}");

    let stored = store_unapplied(
        &app.store,
        "shop",
        "order.updated",
        &paid_order(902, "completed", "2026-12-02T11:00:00"),
    )
    .await;
    let (status, ack) = app
        .post_webhook(
            "shop",
            "order.created",
            &paid_order(902, "processing", "2026-12-02T10:00:00"),
            SECRET,
        )
        .await;
    assert_eq!(status, 200, "{ack}");
    assert_eq!(ack["outcome"], json!("stale"), "{ack}");
    assert_eq!(outcome(&app.store, stored).await.0, "applied");
    assert_eq!(ledger_status(&app, 902).await, json!("completed"));
    app.stop().await;
}

/// A delivery of the order-state sequence below: (topic, body).
fn state(topic: &str, id: i64, status: &str, modified: &str, extra: Value) -> (String, Vec<u8>) {
    let mut order = json!({
        "id": id,
        "status": status,
        "currency": "EUR",
        "total": "57.00",
        "date_modified_gmt": modified,
        "line_items": [
            {"id": 1, "name": "Tee", "product_id": 38, "quantity": 1,
             "sku": "APQ-1998244S7A1", "price": 32, "meta_data": []},
            {"id": 2, "name": "Card", "product_id": 40, "quantity": 2, "price": 10,
             "meta_data": [{"key": "_printbridge_key2print_project_id", "value": "prj-1"}]},
            {"id": 3, "name": "Mug", "product_id": 41, "quantity": 1, "price": 5,
             "meta_data": [{"key": "_printbridge_spiff_transaction_id", "value": "tx-1"}]}
        ]
    });
    if let (Some(order), Some(extra)) = (order.as_object_mut(), extra.as_object()) {
        order.extend(extra.clone());
    }
    (topic.to_owned(), serde_json::to_vec(&order).expect("json"))
}

/// Orders of store `shop2` going through the states whose application differs: paid,
/// cancelled, sent to the trash, restored, refunded in part, a state seen twice, an older
/// state arriving late, deleted, a payment signal and a body that is not JSON.
fn state_changes() -> Vec<(String, Vec<u8>)> {
    let none = json!({});
    vec![
        state(
            "order.created",
            17,
            "processing",
            "2026-12-02T10:00:00",
            none.clone(),
        ),
        state(
            "order.created",
            18,
            "processing",
            "2026-12-02T10:00:00",
            none.clone(),
        ),
        state(
            "order.updated",
            17,
            "cancelled",
            "2026-12-02T10:05:00",
            none.clone(),
        ),
        state(
            "order.updated",
            18,
            "trash",
            "2026-12-02T10:05:00",
            none.clone(),
        ),
        state(
            "order.restored",
            17,
            "processing",
            "2026-12-02T10:10:00",
            none.clone(),
        ),
        state(
            "order.restored",
            18,
            "processing",
            "2026-12-02T10:10:00",
            none.clone(),
        ),
        state(
            "order.updated",
            19,
            "processing",
            "2026-12-02T10:00:00",
            json!({"refunds": [{"id": 90, "reason": "damaged", "total": "-5.00"}]}),
        ),
        state(
            "order.updated",
            17,
            "processing",
            "2026-12-02T10:10:00",
            none.clone(),
        ),
        state(
            "order.updated",
            18,
            "pending",
            "2026-12-02T09:00:00",
            none.clone(),
        ),
        ("order.deleted".to_owned(), br#"{"id":19}"#.to_vec()),
        (
            "action.woocommerce_payment_complete".to_owned(),
            br#"{"action":"woocommerce_payment_complete","arg":17}"#.to_vec(),
        ),
        ("order.updated".to_owned(), b"not json".to_vec()),
        // A newer state of an order in the trash: applied, and it stays in the trash with
        // its jobs cancelled.
        state(
            "order.updated",
            19,
            "processing",
            "2026-12-02T10:20:00",
            none,
        ),
    ]
}

/// Rows of every ledger table, as text, without the times of their writing (which differ
/// between two runs); ids are kept, so the order of writing must be the same too.
async fn ledger_dump(store: &Store) -> Vec<String> {
    let queries: [&'static str; 5] = [
        "SELECT 'delivery|' || CAST(id AS TEXT) || '|' || store_id || '|' || outcome || '|' \
         || COALESCE(CAST(order_id AS TEXT), '-') || '|' || COALESCE(detail, '-') \
         FROM deliveries ORDER BY id",
        "SELECT 'snapshot|' || CAST(id AS TEXT) || '|' || store_id || '|' \
         || CAST(order_id AS TEXT) || '|' || modified_gmt || '|' || status || '|' \
         || CAST(delivery_id AS TEXT) FROM order_snapshots ORDER BY id",
        "SELECT 'order|' || store_id || '|' || CAST(order_id AS TEXT) || '|' || number || '|' \
         || status || '|' || currency || '|' || total || '|' || modified_gmt || '|' \
         || CAST(snapshot_id AS TEXT) || '|' || CAST(trashed AS TEXT) || '|' \
         || CASE WHEN paid_at IS NULL THEN 'unpaid' ELSE 'paid' END || '|' \
         || COALESCE(attention, '-') FROM orders ORDER BY store_id, order_id",
        "SELECT 'item|' || store_id || '|' || CAST(order_id AS TEXT) || '|' \
         || CAST(item_id AS TEXT) || '|' || name || '|' || sku || '|' \
         || CAST(quantity AS TEXT) || '|' || price || '|' || classification || '|' \
         || COALESCE(design_id, '-') || '|' || COALESCE(detail, '-') \
         FROM order_items ORDER BY store_id, order_id, item_id",
        "SELECT 'job|' || CAST(id AS TEXT) || '|' || store_id || '|' || CAST(order_id AS TEXT) \
         || '|' || provider || '|' || target || '|' || kind || '|' || state || '|' || payload \
         || '|' || COALESCE(last_error, '-') FROM jobs ORDER BY id",
    ];
    let mut rows = Vec::new();
    for sql in queries {
        let part: Vec<String> =
            on_pool!(store, |pool| sqlx::query_scalar(sql).fetch_all(pool).await).expect(sql);
        rows.extend(part);
    }
    rows
}

fn two_stores(c: &mut printbridge::config::Config) {
    c.stores = vec![
        support::captured_store("wc-11.0.1_wp-7.1"),
        support::store_config("shop2", SECRET),
    ]
}

/// The captured WooCommerce traffic, then state changes of orders of a second store whose
/// order ids are the same as the first store's, posted one at a time: the deliveries stored,
/// as (store, topic, body), and the ledger they left.
async fn applied_one_at_a_time(
    backend: Backend,
) -> (Vec<(&'static str, String, Vec<u8>)>, Vec<String>) {
    let mut deliveries = Vec::new();
    let app = TestApp::spawn(backend, two_stores).await;
    for d in support::captured_deliveries("wc-11.0.1_wp-7.1") {
        let (status, ack) = app.replay("shop", &d).await;
        assert_eq!(status, 200, "{}: {ack}", d.file);
        if ack["ping"] != json!(true) {
            let topic = d.header("X-WC-Webhook-Topic").unwrap_or("").to_owned();
            deliveries.push(("shop", topic, d.body.clone()));
        }
    }
    for (topic, body) in state_changes() {
        let (status, ack) = app.post_webhook("shop2", &topic, &body, SECRET).await;
        assert_eq!(status, 200, "{ack}");
        assert_ne!(ack["outcome"], json!("stored"), "{ack}");
        deliveries.push(("shop2", topic, body));
    }
    app.applied().await;
    let ledger = ledger_dump(&app.store).await;
    app.stop().await;
    (deliveries, ledger)
}

/// The same deliveries stored as a stopped bridge left them, then applied at its start (runs
/// of order states with one statement per table): the ledger they left.
async fn applied_together(
    backend: Backend,
    deliveries: &[(&'static str, String, Vec<u8>)],
) -> Vec<String> {
    let dir = tempfile::tempdir().expect("tempdir");
    let (store, url) = support::open_store(backend, dir.path()).await;
    store.migrate().await.expect("migrate");
    for (store_id, topic, body) in deliveries {
        store_unapplied(&store, store_id, topic, body).await;
    }
    let app = TestApp::spawn_on(dir, store, url, two_stores, None).await;
    app.applied().await;
    let ledger = ledger_dump(&app.store).await;
    app.stop().await;
    ledger
}

/// Deliveries applied together in one transaction (as after a restart or in a burst: runs
/// of order states applied with one statement per table) leave the ledger exactly as the
/// same deliveries applied one at a time.
async fn applying_together_equals_applying_one_at_a_time(backend: Backend) {
    let (deliveries, want) = applied_one_at_a_time(backend).await;
    let got = applied_together(backend, &deliveries).await;
    // What the state changes must have done, whichever way they were applied.
    for row in [
        "order|shop2|17|17|processing|EUR|57.00|2026-12-02T10:10:00|",
        "|0|paid|-",
        "delivery|44|shop2|stale|18|-",
        "|shop2|19|apliiq|order|place_order|cancelled|",
        "|order moved to the trash before this was sent",
    ] {
        assert!(
            want.iter().any(|r| r.contains(row)),
            "no {row} in {want:#?}"
        );
    }
    // Order 18's jobs, cancelled with it in the trash, queued again on its restore.
    let revived = |rows: &[String]| {
        rows.iter()
            .filter(|r| r.starts_with("job|") && r.contains("|shop2|18|"))
            .filter(|r| r.contains("|pending|") && r.ends_with("|-"))
            .count()
    };
    assert_eq!(revived(&want), 3, "{want:#?}");
    for outcome in [
        "applied",
        "duplicate",
        "stale",
        "deleted",
        "signal",
        "unparsed",
    ] {
        assert!(
            want.iter().any(|r| r.contains(&format!("|{outcome}|"))),
            "no {outcome} in {want:#?}"
        );
    }
    assert_eq!(got.len(), want.len(), "{got:#?}\n{want:#?}");
    for (got, want) in got.iter().zip(&want) {
        assert_eq!(got, want);
    }
}
on_both_backends!(together, applying_together_equals_applying_one_at_a_time);

/// A ledger dump with the ids of snapshots and jobs replaced by their rank: PostgreSQL's
/// identity columns use up a number on every insert that meets a conflict, SQLite's do not.
fn by_rank(rows: &[String]) -> Vec<String> {
    let rank = |kind: &str| -> std::collections::HashMap<String, usize> {
        rows.iter()
            .filter_map(|r| r.strip_prefix(kind)?.split('|').next())
            .enumerate()
            .map(|(rank, id)| (id.to_owned(), rank))
            .collect()
    };
    let (snapshots, jobs) = (rank("snapshot|"), rank("job|"));
    rows.iter()
        .map(|row| {
            let mut fields: Vec<String> = row.split('|').map(str::to_owned).collect();
            let (map, at) = match fields[0].as_str() {
                "snapshot" => (&snapshots, 1),
                "job" => (&jobs, 1),
                // order|store|order|number|status|currency|total|modified|snapshot id|…
                "order" => (&snapshots, 8),
                _ => return row.clone(),
            };
            let id = &fields[at];
            fields[at] = format!("#{}", map.get(id).expect("a known id"));
            fields.join("|")
        })
        .collect()
}

/// PostgreSQL applies a run of order states with fewer, larger statements than SQLite (data-
/// modifying `WITH` queries); both leave the same ledger, applied one at a time and together.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_and_sqlite_leave_the_same_ledger() {
    if support::postgres_url().is_none() {
        return;
    }
    let (deliveries, sqlite) = applied_one_at_a_time(Backend::Sqlite).await;
    let want = by_rank(&sqlite);
    assert!(
        want.iter()
            .any(|r| r.starts_with("order|") && r.contains("|#")),
        "{want:#?}"
    );
    let (_, postgres_one) = applied_one_at_a_time(Backend::Postgres).await;
    let postgres_together = applied_together(Backend::Postgres, &deliveries).await;
    for got in [by_rank(&postgres_one), by_rank(&postgres_together)] {
        assert_eq!(got.len(), want.len(), "{got:#?}\n{want:#?}");
        for (got, want) in got.iter().zip(&want) {
            assert_eq!(got, want);
        }
    }
}

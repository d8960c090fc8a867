//! Intake answers once a delivery is stored and applies stored deliveries to the ledger in
//! order of arrival: a burst is answered without waiting for the ledger, deliveries left
//! stored by a restart are applied when the bridge starts, and one that cannot be applied
//! is set aside without holding up the others.

mod support;

use printbridge::store::Store;
use printbridge::store::intake::MAX_APPLY_ATTEMPTS;
use printbridge::store::reads::Table;
use serde_json::{Value, json};
use support::{Backend, TestApp};

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

/// Runs `sql` on the store's database (test set-up).
async fn execute(store: &Store, sql: &'static str) {
    match store {
        Store::Sqlite(pool, _) => sqlx::query(sql).execute(pool).await.map(|_| ()),
        Store::Postgres(pool) => sqlx::query(sql).execute(pool).await.map(|_| ()),
    }
    .expect(sql);
}

/// 300 paid orders posted 48 at a time: every one answered 200 with its own delivery id,
/// and every one applied (one job each), whether its answer carried the outcome or said
/// `received`; the metrics count each application once.
async fn a_burst_is_answered_then_applied(backend: Backend) {
    let app = TestApp::spawn(backend, |c| {
        c.stores = vec![support::store_config("shop", SECRET)]
    })
    .await;
    let n = 300i64;
    let mut answers = Vec::new();
    let ids: Vec<i64> = (0..n).map(|i| 5_000 + i).collect();
    for chunk in ids.chunks(48) {
        let mut tasks = Vec::new();
        for &id in chunk {
            let client = app.client.clone();
            let url = app.url("/v1/webhooks/woocommerce/shop");
            tasks.push(tokio::spawn(async move {
                let body = paid_order(id, "processing", "2026-12-02T10:00:00");
                let resp = client
                    .post(url)
                    .header("Content-Type", "application/json")
                    .header(
                        "X-WC-Webhook-Signature",
                        printbridge::woo::signature::sign(SECRET, &body),
                    )
                    .header("X-WC-Webhook-Topic", "order.updated")
                    .body(body)
                    .send()
                    .await
                    .expect("request");
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
            ["applied", "received"].contains(&outcome_answered),
            "order {id}: {ack}"
        );
        let delivery_id = ack["delivery_id"].as_i64().expect("delivery id");
        assert!(
            delivery_ids.insert(delivery_id),
            "delivery id {delivery_id} twice"
        );
        let (stored, _) = outcome(&app.store, delivery_id).await;
        assert_eq!(stored, "applied", "order {id}");
        if outcome_answered == "received" {
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
/// wins, and an older state that arrived later is stale.
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
    let sql = "INSERT INTO deliveries (store_id, received_at, source, topic, body, body_sha256, \
               outcome) VALUES ('shop', 1, 'webhook', 'order.updated', $1, 'x', 'received') \
               RETURNING id";
    let mut ids = Vec::new();
    for (id, status, modified) in rows {
        let body = paid_order(id, status, modified);
        let delivery_id: i64 = match &store {
            Store::Sqlite(pool, _) => sqlx::query_scalar(sql).bind(body).fetch_one(pool).await,
            Store::Postgres(pool) => sqlx::query_scalar(sql).bind(body).fetch_one(pool).await,
        }
        .expect("insert");
        ids.push(delivery_id);
    }
    assert!(store.has_unapplied_deliveries().await.unwrap());
    assert_eq!(store.unapplied_deliveries().await.unwrap(), (4, Some(1)));
    let app = TestApp::spawn_on(
        dir,
        store,
        url,
        |c| c.stores = vec![support::store_config("shop", SECRET)],
        None,
    )
    .await;
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

/// A delivery whose application fails (here a trigger refuses its snapshot) is still
/// answered 200 and kept; after a few attempts it is set aside as `failed` with the error,
/// and the deliveries after it are applied.
async fn a_delivery_that_cannot_be_applied_is_set_aside(backend: Backend) {
    let app = TestApp::spawn(backend, |c| {
        c.stores = vec![support::store_config("shop", SECRET)]
    })
    .await;
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
    assert_eq!(refused["outcome"], json!("received"), "{refused}");
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

/// Deliveries that arrive one at a time are applied before their answer, which carries
/// the outcome and the jobs planned.
#[tokio::test]
async fn a_quiet_delivery_is_answered_with_its_outcome() {
    let app = TestApp::spawn(Backend::Sqlite, |c| {
        c.stores = vec![support::store_config("shop", SECRET)]
    })
    .await;
    for i in 0..5 {
        let (status, ack) = post_paid(&app, "order.created", 900 + i).await;
        assert_eq!(status, 200);
        assert_eq!(ack["outcome"], json!("applied"), "{ack}");
        assert_eq!(ack["jobs_planned"], json!(1), "{ack}");
    }
    assert!(!app.store.has_unapplied_deliveries().await.unwrap());
    app.stop().await;
}

/// On PostgreSQL one bridge of a schema applies at a time (an advisory lock): while another
/// holds the lock, a delivery is stored and answered `received`, and applied once the lock
/// is free. A bridge on another schema of the same database does not wait for it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_of_one_schema_apply_one_at_a_time() {
    if support::postgres_url().is_none() {
        eprintln!("skipped: PRINTBRIDGE_TEST_POSTGRES_URL is not set");
        return;
    }
    let configure = |c: &mut printbridge::config::Config| {
        c.stores = vec![support::store_config("shop", SECRET)]
    };
    let held = TestApp::spawn(Backend::Postgres, configure).await;
    let other = TestApp::spawn(Backend::Postgres, configure).await;
    let Store::Postgres(pool) = &held.store else {
        panic!("a PostgreSQL store");
    };
    // Another replica of `held`'s schema, in the middle of applying.
    let mut replica = pool.begin().await.expect("begin");
    sqlx::query("SELECT pg_advisory_xact_lock($1, hashtext(current_schema()))")
        .bind(printbridge::store::ledger::APPLY_LOCK)
        .execute(&mut *replica)
        .await
        .expect("lock");

    let (status, ack) = post_paid(&other, "order.created", 801).await;
    assert_eq!(status, 200, "{ack}");
    assert_eq!(ack["outcome"], json!("applied"), "another schema: {ack}");

    let (status, ack) = post_paid(&held, "order.created", 802).await;
    assert_eq!(status, 200, "{ack}");
    assert_eq!(ack["outcome"], json!("received"), "lock held: {ack}");
    let id = ack["delivery_id"].as_i64().expect("delivery id");
    assert_eq!(outcome(&held.store, id).await.0, "received");

    replica.rollback().await.expect("release");
    held.applied().await;
    assert_eq!(outcome(&held.store, id).await.0, "applied");
    assert_eq!(ledger_status(&held, 802).await, json!("processing"));
    held.stop().await;
    other.stop().await;
}

//! Apliiq's fulfilment callback records its tracking numbers and plans their order note in
//! one transaction: a callback that fails between the two leaves neither, and its retry
//! writes the note exactly once.

use crate::support;
use crate::support::woo_standin::WooStandin;
use crate::support::{Backend, TestApp, sandbox_store};
use serde_json::{Value, json};

const SECRET: &str = "shipment-secret";
const ORDER: i64 = 906;

fn callback(numbers: &[&str]) -> Vec<u8> {
    serde_json::to_vec(&json!({"fulfillment": {
        "order_id": ORDER.to_string(), "status": "success", "tracking_company": "UPS",
        "tracking_numbers": numbers, "tracking_urls": [],
    }}))
    .expect("json")
}

/// Makes every insert of an order note fail: the moment between the tracking rows and the
/// note, where a crash once lost the note.
async fn break_note_planning(store: &printbridge::store::Store, backend: Backend) {
    let statements: &[&str] = match backend {
        Backend::Sqlite => &[
            "CREATE TRIGGER fail_note BEFORE INSERT ON jobs WHEN NEW.kind = 'order_note' \
             BEGIN SELECT RAISE(ABORT, 'failure between tracking and note'); END",
        ],
        Backend::Postgres => &[
            "CREATE FUNCTION fail_note() RETURNS trigger AS $$ BEGIN \
             RAISE EXCEPTION 'failure between tracking and note'; END $$ LANGUAGE plpgsql",
            "CREATE TRIGGER fail_note BEFORE INSERT ON jobs FOR EACH ROW \
             WHEN (NEW.kind = 'order_note') EXECUTE FUNCTION fail_note()",
        ],
    };
    for sql in statements {
        on_pool!(store, |pool| {
            sqlx::query(sqlx::AssertSqlSafe(*sql))
                .execute(pool)
                .await
                .expect(sql);
        });
    }
}

async fn repair_note_planning(store: &printbridge::store::Store, backend: Backend) {
    let sql = match backend {
        Backend::Sqlite => "DROP TRIGGER fail_note",
        Backend::Postgres => "DROP TRIGGER fail_note ON jobs",
    };
    on_pool!(store, |pool| {
        sqlx::query(sql).execute(pool).await.expect(sql);
    });
}

/// (tracking rows, shipment notes planned) of the order.
async fn recorded(store: &printbridge::store::Store) -> (i64, i64) {
    on_pool!(store, |pool| {
        let tracking: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM tracking WHERE order_id = $1")
            .bind(ORDER)
            .fetch_one(pool)
            .await
            .expect("tracking");
        let notes: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM jobs WHERE order_id = $1 AND kind = 'order_note' \
             AND target LIKE 'note:shipped:%'",
        )
        .bind(ORDER)
        .fetch_one(pool)
        .await
        .expect("notes");
        (tracking, notes)
    })
}

async fn retried_callback_writes_the_note_once(backend: Backend) {
    let sb = support::start_sandbox().await;
    let woo = WooStandin::start().await;
    let mut store = sandbox_store(&sb, "shop", SECRET);
    let rest = woo.store_config("shop");
    store.woocommerce_url = rest.woocommerce_url;
    store.woocommerce_consumer_key = rest.woocommerce_consumer_key;
    store.woocommerce_consumer_secret = rest.woocommerce_consumer_secret;
    // No dispatcher: the planned note stays in the queue, to be counted.
    let app = TestApp::spawn(backend, |c| c.stores = vec![store]).await;
    let secret = sb.state.credentials.apliiq_shared_secret.clone();
    let body = callback(&["1Z999AA10123456784", "1Z999AA10123456785"]);
    let send = || {
        app.client
            .post(app.url("/v1/callbacks/apliiq/shop"))
            .header("Content-Type", "application/json")
            .header(
                "x-apliiq-hmac",
                printbridge::providers::apliiq::callback_hmac(&secret, &body),
            )
            .body(body.clone())
            .send()
    };

    break_note_planning(&app.store, backend).await;
    let failed = send().await.expect("callback");
    assert!(
        failed.status().is_server_error(),
        "{}",
        failed.status().as_u16()
    );
    assert_eq!(
        recorded(&app.store).await,
        (0, 0),
        "nothing of a failed callback is kept"
    );

    repair_note_planning(&app.store, backend).await;
    for want in [2, 0] {
        let r = send().await.expect("callback");
        assert_eq!(r.status().as_u16(), 200);
        let ack: Value = r.json().await.expect("ack");
        assert_eq!(ack["tracking_added"], json!(want), "{ack}");
        assert_eq!(recorded(&app.store).await, (2, 1));
    }
    let (_, page) = app.admin_get("/v1/admin/jobs?state=pending").await;
    let note = page["jobs"]
        .as_array()
        .and_then(|jobs| jobs.iter().find(|j| j["order_id"] == json!(ORDER)))
        .cloned()
        .unwrap_or(Value::Null);
    assert_eq!(
        note["target"],
        json!("note:shipped:apliiq:1Z999AA10123456784,1Z999AA10123456785"),
        "{page}"
    );
    app.stop().await;
    sb.stop();
}
on_both_backends!(fulfilment_callback, retried_callback_writes_the_note_once);

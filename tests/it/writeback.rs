//! Everything that talks back to the shop or listens to it besides webhooks: order notes,
//! the reconciler and backfill, `action.*` signals, Apliiq's fulfilment callback, orders
//! cancelled after placement, and the metrics that show it.

use std::time::Duration;

use crate::support;
use crate::support::woo_standin::WooStandin;
use crate::support::{Backend, Item, TestApp, order_json, sandbox_store};
use printbridge::config::{Config, StoreConfig};
use printbridge::sandbox::Sandbox;
use serde_json::{Value, json};

const SECRET: &str = "writeback-secret";

fn now_gmt(offset_secs: i64) -> String {
    (chrono::Utc::now() + chrono::Duration::seconds(offset_secs))
        .format("%Y-%m-%dT%H:%M:%S")
        .to_string()
}

fn dispatching(c: &mut Config) {
    c.dispatch.enabled = true;
    c.dispatch.request_timeout_secs = std::num::NonZeroU64::new(2).expect("2 is not 0");
    c.dispatch.backoff_base_secs = 1;
    c.dispatch.backoff_cap_secs = 1;
    c.dispatch.reconcile_interval_secs = 0;
}

async fn setup(backend: Backend, reconcile: bool) -> (TestApp, Sandbox, WooStandin) {
    let sb = support::start_sandbox().await;
    let woo = WooStandin::start().await;
    let store = woo.with_rest(sandbox_store(&sb, "shop", SECRET));
    let app = TestApp::spawn(backend, |c| {
        dispatching(c);
        if reconcile {
            c.dispatch.reconcile_interval_secs = 1;
        }
        c.stores = vec![store];
    })
    .await;
    (app, sb, woo)
}

fn notes(woo: &WooStandin, order: i64) -> Vec<String> {
    woo.notes_of(order)
        .iter()
        .map(|n| n["note"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// A paid order the shop never delivered (a disabled webhook) is found by the reconciler and
/// placed; the same order arriving later by webhook changes nothing.
async fn reconciler_finds_missed_paid_orders(backend: Backend) {
    let (app, sb, woo) = setup(backend, true).await;
    let tx = "8d2c6a4e-1b3f-4c5d-9e6f-7a8b9c0d1e2f";
    let order = order_json(801, "processing", &now_gmt(-60), &[Item::Spiff(tx)]);
    woo.put_order(order.clone());
    woo.put_order(order_json(
        802,
        "pending",
        &now_gmt(-30),
        &[Item::Spiff("not-paid")],
    ));

    support::eventually(
        Duration::from_secs(30),
        "the reconciled order placed",
        || async { sb.state.stats().spiff_orders.contains_key(tx).then_some(()) },
    )
    .await;
    let (_, ledger) = app.admin_get("/v1/admin/orders/shop/801").await;
    assert_eq!(
        ledger["deliveries"][0]["source"],
        json!("reconcile"),
        "{ledger}"
    );
    let (status, _) = app.admin_get("/v1/admin/orders/shop/802").await;
    assert_eq!(status, 404, "only paid statuses are fetched");

    let ack = app.post_order("shop", SECRET, &order).await;
    assert_eq!(ack["outcome"], json!("duplicate"));
    app.settled_jobs(Duration::from_secs(30)).await;
    assert_eq!(sb.state.stats().spiff_orders.get(tx), Some(&1));
    assert!(notes(&woo, 801).iter().any(|n| n.contains("Spiff order")));
    app.stop().await;
    sb.stop();
}
on_both_backends!(reconciler, reconciler_finds_missed_paid_orders);

/// `action.woocommerce_payment_complete` carries only the order id: the bridge reads the order
/// through REST and takes it in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn payment_signal_fetches_the_order() {
    let (app, sb, woo) = setup(Backend::Sqlite, false).await;
    let tx = "3e4f5a6b-7c8d-4e9f-8a0b-1c2d3e4f5a6b";
    woo.put_order(order_json(
        803,
        "processing",
        &now_gmt(-5),
        &[Item::Spiff(tx)],
    ));
    let body = br#"{"action":"woocommerce_payment_complete","arg":803}"#;
    let (status, ack) = app
        .post_webhook("shop", "action.woocommerce_payment_complete", body, SECRET)
        .await;
    assert_eq!(
        (status, ack["outcome"].as_str()),
        (200, Some("signal")),
        "{ack}"
    );
    assert_eq!(ack["jobs_planned"], json!(1));
    let jobs = app.settled_jobs(Duration::from_secs(30)).await;
    assert!(jobs.iter().all(|j| j["state"] == json!("done")), "{jobs:?}");
    assert_eq!(sb.state.stats().spiff_orders.get(tx), Some(&1));
    assert_eq!(woo.request_count("/orders/803"), 1);
    app.stop().await;
    sb.stop();
}

fn callback(order_id: &str, numbers: &[&str]) -> Vec<u8> {
    serde_json::to_vec(&json!({"fulfillment": {
        "order_id": order_id, "status": "success", "tracking_company": "USPS",
        "tracking_numbers": numbers, "tracking_urls": [],
        "line_items": [{"id": "1", "quantity": 1, "sku": "APQ-1998244S7A1", "name": "Tee"}]
    }}))
    .unwrap()
}

/// Apliiq's fulfilment callback: verified, tracking recorded once and noted on the order.
async fn apliiq_fulfilment_is_recorded_and_noted(backend: Backend) {
    let (app, sb, woo) = setup(backend, false).await;
    let order = order_json(
        804,
        "processing",
        &now_gmt(-5),
        &[Item::Apliiq("APQ-1998244S7A1")],
    );
    woo.put_order(order.clone());
    app.post_order("shop", SECRET, &order).await;
    app.settled_jobs(Duration::from_secs(30)).await;

    let secret = sb.state.credentials.apliiq_shared_secret.clone();
    let send = |body: Vec<u8>, hmac: Option<String>| {
        let mut req = app
            .client
            .post(app.url("/v1/callbacks/apliiq/shop"))
            .header("Content-Type", "application/json")
            .body(body);
        if let Some(h) = hmac {
            req = req.header("x-apliiq-hmac", h);
        }
        req.send()
    };
    let body = callback("804", &["940011169900051688170"]);
    let good = printbridge::providers::apliiq::callback_hmac(&secret, &body);
    let r = send(body.clone(), None).await.unwrap();
    assert_eq!(r.status().as_u16(), 401);
    let bad = printbridge::providers::apliiq::callback_hmac("other", &body);
    let r = send(body.clone(), Some(bad)).await.unwrap();
    assert_eq!(r.status().as_u16(), 401);
    for want in [1, 0] {
        let r = send(body.clone(), Some(good.clone())).await.unwrap();
        assert_eq!(r.status().as_u16(), 200);
        let ack: Value = r.json().await.unwrap();
        assert_eq!(ack["tracking_added"], json!(want), "{ack}");
    }
    app.settled_jobs(Duration::from_secs(30)).await;
    let shipped: Vec<String> = notes(&woo, 804)
        .into_iter()
        .filter(|n| n.contains("shipped"))
        .collect();
    assert_eq!(shipped.len(), 1, "{shipped:?}");
    assert!(shipped[0].contains("USPS") && shipped[0].contains("940011169900051688170"));
    let (_, view) = app
        .store_get("/v1/stores/shop/orders/804", support::STORE_TOKEN)
        .await;
    let apliiq = &view["provider_orders"][0];
    assert_eq!(
        apliiq["tracking"][0]["number"],
        json!("940011169900051688170"),
        "{view}"
    );
    assert_eq!(apliiq["tracking"][0]["carrier"], json!("USPS"));
    app.stop().await;
    sb.stop();
}
on_both_backends!(apliiq_callback, apliiq_fulfilment_is_recorded_and_noted);

/// The published fulfilment-callback vectors verify through the endpoint.
#[tokio::test]
async fn apliiq_callback_vectors_verify() {
    let vectors: Value = serde_json::from_slice(
        &std::fs::read(support::fixtures_dir().join("signatures.json")).unwrap(),
    )
    .unwrap();
    for case in vectors["apliiq_fulfillment_callback"].as_array().unwrap() {
        let secret = case["shared_secret"].as_str().unwrap();
        let text = format!(
            "id = \"shop\"\nwebhook_secret = \"x\"\n[apliiq]\napp_id = \"a\"\nshared_secret = {secret:?}\n"
        );
        let store: StoreConfig = toml::from_str(&text).unwrap();
        let app = TestApp::spawn(Backend::Sqlite, |c| c.stores = vec![store]).await;
        let r = app
            .client
            .post(app.url("/v1/callbacks/apliiq/shop"))
            .header("Content-Type", "application/json")
            .header("x-apliiq-hmac", case["x_apliiq_hmac"].as_str().unwrap())
            .body(case["body"].as_str().unwrap().to_owned())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 200);
        app.stop().await;
    }
}

/// An order cancelled after its provider order was placed is flagged and noted: no provider
/// offers a cancel call.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancellation_after_placement_is_flagged() {
    let (app, sb, woo) = setup(Backend::Sqlite, false).await;
    let tx = "9f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a";
    let paid = order_json(805, "processing", "2026-11-23T08:00:00", &[Item::Spiff(tx)]);
    woo.put_order(paid.clone());
    app.post_order("shop", SECRET, &paid).await;
    app.settled_jobs(Duration::from_secs(30)).await;
    let cancelled = order_json(805, "cancelled", "2026-11-23T09:00:00", &[Item::Spiff(tx)]);
    let ack = app.post_order("shop", SECRET, &cancelled).await;
    assert!(
        ack["detail"]
            .as_str()
            .unwrap()
            .contains("after it was sent to spiff"),
        "{ack}"
    );
    app.settled_jobs(Duration::from_secs(30)).await;
    let (_, page) = app.admin_get("/v1/admin/orders?attention=true").await;
    assert_eq!(page["orders"][0]["order_id"], json!(805), "{page}");
    assert!(
        notes(&woo, 805)
            .iter()
            .any(|n| n.contains("contact the provider"))
    );
    assert_eq!(sb.state.stats().spiff_orders.get(tx), Some(&1));
    app.stop().await;
    sb.stop();
}

/// `/metrics` shows deliveries, attempts by provider and outcome, jobs by state and the
/// queue.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_show_dispatch() {
    let (app, sb, woo) = setup(Backend::Sqlite, false).await;
    let order = order_json(
        806,
        "processing",
        "2026-11-23T08:00:00",
        &[Item::Spiff("a1b2c3d4-0000-4000-8000-000000000806")],
    );
    woo.put_order(order.clone());
    app.post_order("shop", SECRET, &order).await;
    app.settled_jobs(Duration::from_secs(30)).await;
    let text = app.metrics().await;
    for line in [
        "printbridge_deliveries_total{topic=\"order.updated\",outcome=\"applied\"} 1",
        "printbridge_attempts_total{provider=\"spiff\",outcome=\"success\"} 1",
        "printbridge_queue_depth 0",
        "printbridge_dead_letters 0",
    ] {
        assert!(text.contains(line), "{line} missing in\n{text}");
    }
    // Finished jobs are counted as attempts, not as a gauge that grows with the history.
    assert!(
        !text.contains("printbridge_jobs{"),
        "a finished job in the gauge:\n{text}"
    );
    assert!(text.contains("printbridge_attempt_duration_seconds_bucket{provider=\"spiff\""));
    app.stop().await;
    sb.stop();
}

/// A partial refund keeps the order's status but changes what was sold: flagged and noted
/// when a provider order was already placed; the delivery keeps the same detail as its answer.
async fn partial_refund_after_placement_is_flagged(backend: Backend) {
    let (app, sb, woo) = setup(backend, false).await;
    let items = [Item::Apliiq("APQ-1998244S7A1")];
    let paid = order_json(807, "completed", "2026-11-23T08:00:00", &items);
    woo.put_order(paid.clone());
    app.post_order("shop", SECRET, &paid).await;
    app.settled_jobs(Duration::from_secs(30)).await;
    let mut refunded = order_json(807, "completed", "2026-11-23T09:00:00", &items);
    refunded["refunds"] = json!([{"id": 27, "reason": "", "total": "-12.50"}]);
    let ack = app.post_order("shop", SECRET, &refunded).await;
    assert!(
        ack["detail"]
            .as_str()
            .unwrap()
            .contains("refunded in part after it was sent to apliiq"),
        "{ack}"
    );
    let stored = app
        .store
        .delivery(ack["delivery_id"].as_i64().expect("delivery id"))
        .await
        .expect("read")
        .expect("delivery");
    assert_eq!(stored.delivery.detail.as_deref(), ack["detail"].as_str());
    app.settled_jobs(Duration::from_secs(30)).await;
    assert!(
        notes(&woo, 807)
            .iter()
            .any(|n| n.contains("refunded in part"))
    );
    // The same refund delivered again adds no second note.
    let mut again = refunded.clone();
    again["date_modified_gmt"] = json!("2026-11-23T09:30:00");
    app.post_order("shop", SECRET, &again).await;
    app.settled_jobs(Duration::from_secs(30)).await;
    assert_eq!(
        notes(&woo, 807)
            .iter()
            .filter(|n| n.contains("refunded in part"))
            .count(),
        1
    );
    assert_eq!(sb.state.stats().apliiq_orders.get("807"), Some(&1));
    app.stop().await;
    sb.stop();
}
on_both_backends!(partial_refund, partial_refund_after_placement_is_flagged);

//! When a paid order goes to print: the payment method policy (cash on delivery waits for
//! `completed`), the hold window with Send now and Hold, and approval, through the real app
//! on both databases, against the provider sandboxes that count every order they get.

use std::sync::Arc;
use std::time::Duration;

use printbridge::clock::{Clock, ManualClock};
use printbridge::config::{Approval, HoldMinutes, StoreConfig};
use printbridge::providers::Provider;
use printbridge::reads::orders::rfc3339;
use printbridge::sandbox::Sandbox;
use serde_json::{Value, json};

use crate::support::{
    self, Backend, CapturedDelivery, Item, STORE_TOKEN, TestApp, captured_deliveries,
    captured_store, eventually, fast_dispatch, order_json, sandbox_store, start_sandbox,
};

const SECRET: &str = "print-policy-secret";
const HOLD_MINUTES: u32 = 30;
const MINUTE_MS: i64 = 60_000;
const DEADLINE: Duration = Duration::from_secs(30);

/// The jobs of one order of one store (admin API), as (provider, target, state).
async fn jobs_of(app: &TestApp, store: &str, order_id: i64) -> Vec<(String, String, String)> {
    let (status, page) = app
        .admin_get(&format!("/v1/admin/jobs?store={store}&limit=500"))
        .await;
    assert_eq!(status, 200, "{page}");
    let mut jobs: Vec<(String, String, String)> = page["jobs"]
        .as_array()
        .expect("jobs")
        .iter()
        .filter(|j| j["order_id"] == order_id && j["provider"] != "woocommerce")
        .map(|j| {
            let text = |k: &str| j[k].as_str().unwrap_or_default().to_owned();
            (text("provider"), text("target"), text("state"))
        })
        .collect();
    jobs.sort();
    jobs
}

/// The plugin's view of an order (`GET /v1/stores/{store}/orders/{id}`).
async fn order_view(app: &TestApp, store: &str, order_id: i64) -> Value {
    let r = app
        .client
        .get(app.url(&format!("/v1/stores/{store}/orders/{order_id}")))
        .bearer_auth(STORE_TOKEN)
        .send()
        .await
        .expect("order view");
    assert_eq!(r.status(), 200);
    r.json().await.expect("json")
}

/// Posts an owner's action (`send-now`, `hold`, `approve?…`) on an order: (status, answer).
async fn act(app: &TestApp, store: &str, order_id: i64, action: &str) -> (u16, Value) {
    let r = app
        .client
        .post(app.url(&format!("/v1/stores/{store}/orders/{order_id}/{action}")))
        .bearer_auth(STORE_TOKEN)
        .send()
        .await
        .expect("owner action");
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// Orders the Spiff sandbox got for `transaction`.
fn spiff_orders(sb: &Sandbox, transaction: &str) -> u32 {
    sb.state
        .stats()
        .spiff_orders
        .get(transaction)
        .copied()
        .unwrap_or(0)
}

/// A Spiff transaction id made from `n`.
fn tx(n: i64) -> String {
    format!("00000000-0000-4000-8000-{n:012}")
}

/// A dispatching app on `clock` with the stores `held` (configured by `held`) and `direct`
/// (no hold, no approval), both at the sandboxes.
async fn app_with(
    backend: Backend,
    sb: &Sandbox,
    clock: &Arc<ManualClock>,
    held: impl FnOnce(&mut StoreConfig),
) -> TestApp {
    let mut held_store = sandbox_store(sb, "held", SECRET);
    held(&mut held_store);
    let direct = sandbox_store(sb, "direct", SECRET);
    let clock: Arc<dyn Clock> = clock.clone();
    TestApp::spawn_with_clock(
        backend,
        |c| {
            fast_dispatch(c);
            c.stores = vec![held_store, direct];
        },
        Some(clock),
    )
    .await
}

/// Sandboxes, a manual clock at the present and an app whose store `held` has the hold
/// window of [`HOLD_MINUTES`].
async fn hold_window_app(backend: Backend) -> (Sandbox, Arc<ManualClock>, TestApp) {
    let sb = start_sandbox().await;
    let clock = ManualClock::new(now_ms());
    let app = app_with(backend, &sb, &clock, |s| {
        s.hold_minutes = HoldMinutes::new(HOLD_MINUTES).expect("minutes");
    })
    .await;
    (sb, clock, app)
}

/// Places a paid order of the store `direct` (id `n`, its own Spiff transaction) and waits
/// until Spiff has it: every job that was due before it has been claimed by then, since the
/// dispatcher claims due jobs oldest first.
async fn barrier(app: &TestApp, sb: &Sandbox, n: i64) {
    let order = order_json(
        n,
        "processing",
        "2026-11-23T08:00:00",
        &[Item::Spiff(&tx(n))],
    );
    app.post_order("direct", SECRET, &order).await;
    app.state.wake_dispatcher();
    eventually(DEADLINE, "the direct order placed", || async {
        (spiff_orders(sb, &tx(n)) == 1).then_some(())
    })
    .await;
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// Replays the captured delivery whose file name starts with `file` and waits until it is
/// applied.
async fn replay_file(app: &TestApp, deliveries: &[CapturedDelivery], file: &str) {
    let d = deliveries
        .iter()
        .find(|d| d.file.starts_with(file))
        .expect("captured delivery");
    let (status, ack) = app.replay("shop", d).await;
    assert_eq!(status, 200, "{}: {ack}", d.file);
    app.applied().await;
}

/// A cash on delivery order in `processing` is not paid: it waits, the order screen says
/// why, and it is planned when the order is completed. A card order is planned at
/// `processing`. The real deliveries of both captured shops.
async fn cod_waits_until_completed(backend: Backend) {
    for stack in support::STACKS {
        let app = TestApp::spawn(backend, |c| c.stores = vec![captured_store(stack)]).await;
        let deliveries = captured_deliveries(stack);
        let planned = |file: &'static str| replay_file(&app, &deliveries, file);
        // Order 17: cod, pending, then processing (unpaid), then completed.
        planned("06-A1").await;
        planned("07-A2").await;
        assert!(jobs_of(&app, "shop", 17).await.is_empty(), "{stack}");
        let view = order_view(&app, "shop", 17).await;
        assert_eq!(view["status"], "processing", "{view}");
        assert_eq!(view["payment_method"], "cod", "{view}");
        assert_eq!(view["paid"], false, "{view}");
        assert_eq!(view["waiting"]["reason"], "payment", "{view}");
        assert_eq!(
            view["waiting"]["paid_statuses"],
            json!(["completed"]),
            "{view}"
        );
        planned("09-A3").await;
        let jobs = jobs_of(&app, "shop", 17).await;
        assert!(!jobs.is_empty(), "{stack}: completed cod order planned");
        assert!(jobs.iter().all(|j| j.2 == "pending"), "{jobs:?}");
        let view = order_view(&app, "shop", 17).await;
        assert_eq!(view["paid"], true, "{view}");
        assert!(view.get("waiting").is_none(), "{view}");
        // Order 21: a card payment, planned at processing.
        planned("19-E1").await;
        assert!(!jobs_of(&app, "shop", 21).await.is_empty(), "{stack}");
        app.stop().await;
    }
}

on_both_backends!(a_cod_order_waits_until_completed, cod_waits_until_completed);

/// `payment_methods` overrides the default: cash on delivery counted as paid at
/// `processing`, a bank transfer only at `completed`.
async fn payment_methods_decide_paid(backend: Backend) {
    let mut store = support::store_config("shop", SECRET);
    store.payment_methods = [
        ("cod".to_owned(), vec!["processing".to_owned()]),
        ("bacs".to_owned(), vec!["completed".to_owned()]),
    ]
    .into_iter()
    .collect();
    store.hold_minutes = HoldMinutes::new(5).expect("minutes");
    store.approval = Approval::of(&[Provider::Apliiq]);
    let app = TestApp::spawn(backend, |c| c.stores = vec![store]).await;
    let (status, stores) = app.admin_get("/v1/admin/stores").await;
    assert_eq!(status, 200, "{stores}");
    let shop = &stores["stores"][0];
    assert_eq!(
        shop["payment_methods"],
        json!({"bacs": ["completed"], "cod": ["processing"]}),
        "{stores}"
    );
    assert_eq!(shop["hold_minutes"], 5, "{stores}");
    assert_eq!(shop["approval"], json!(["apliiq"]), "{stores}");
    for (id, method, planned) in [(1, "cod", true), (2, "bacs", false), (3, "card", true)] {
        let mut order = order_json(
            id,
            "processing",
            "2026-11-23T08:00:00",
            &[Item::Spiff(&tx(id))],
        );
        order["payment_method"] = json!(method);
        let ack = app.post_order("shop", SECRET, &order).await;
        app.applied().await;
        assert_eq!(
            !jobs_of(&app, "shop", id).await.is_empty(),
            planned,
            "{method}: {ack}"
        );
    }
    app.stop().await;
}

on_both_backends!(payment_methods_decide_paid, payment_methods_decide_paid);

/// The hold window: a paid order's jobs are not claimed before it ends, and a cancellation
/// inside it places nothing, also once the window has passed.
async fn cancellation_inside_the_hold(backend: Backend) {
    let (sb, clock, app) = hold_window_app(backend).await;
    let planned_at = clock.now_ms();
    let order = order_json(
        7,
        "processing",
        "2026-11-23T08:00:00",
        &[Item::Spiff(&tx(7))],
    );
    app.post_order("held", SECRET, &order).await;
    barrier(&app, &sb, 101).await;
    assert_eq!(jobs_of(&app, "held", 7).await[0].2, "pending");
    assert_eq!(spiff_orders(&sb, &tx(7)), 0, "not placed inside the hold");
    let view = order_view(&app, "held", 7).await;
    assert_eq!(view["waiting"]["reason"], "hold", "{view}");
    let due = rfc3339(planned_at + i64::from(HOLD_MINUTES) * MINUTE_MS);
    assert_eq!(view["waiting"]["print_at"], json!(due), "{view}");
    // Cancelled inside the hold: withdrawn.
    let cancelled = order_json(
        7,
        "cancelled",
        "2026-11-23T08:05:00",
        &[Item::Spiff(&tx(7))],
    );
    app.post_order("held", SECRET, &cancelled).await;
    app.applied().await;
    assert_eq!(jobs_of(&app, "held", 7).await[0].2, "cancelled");
    clock.advance((i64::from(HOLD_MINUTES) + 1) * MINUTE_MS);
    barrier(&app, &sb, 102).await;
    assert_eq!(
        spiff_orders(&sb, &tx(7)),
        0,
        "a cancelled order is never placed"
    );
    assert_eq!(jobs_of(&app, "held", 7).await[0].2, "cancelled");
    let (status, problem) = act(&app, "held", 7, "send-now").await;
    assert_eq!(status, 409, "{problem}");
    assert_eq!(problem["field"], "order_id", "{problem}");
    app.stop().await;
    sb.stop();
}

on_both_backends!(
    a_cancellation_inside_the_hold_places_nothing,
    cancellation_inside_the_hold
);

/// A design id changed inside the hold re-plans the jobs once: Spiff gets the new
/// transaction, Key2print's replaced project is withdrawn and the new one fetched; Send now
/// sends them at once, exactly once.
async fn design_change_replans(backend: Backend) {
    let (sb, _clock, app) = hold_window_app(backend).await;
    let (first, second) = (
        "11111111-aaaa-4aaa-8aaa-000000000001",
        "22222222-bbbb-4bbb-8bbb-000000000002",
    );
    let order = order_json(
        8,
        "processing",
        "2026-11-23T08:00:00",
        &[Item::Spiff(&tx(8)), Item::Key2print(first)],
    );
    app.post_order("held", SECRET, &order).await;
    let changed = order_json(
        8,
        "processing",
        "2026-11-23T08:02:00",
        &[Item::Spiff(&tx(9)), Item::Key2print(second)],
    );
    app.post_order("held", SECRET, &changed).await;
    // The same state again changes nothing.
    app.post_order("held", SECRET, &changed).await;
    app.applied().await;
    let jobs = jobs_of(&app, "held", 8).await;
    let states: Vec<(&str, &str)> = jobs.iter().map(|j| (j.1.as_str(), j.2.as_str())).collect();
    assert_eq!(
        states,
        [
            (first, "cancelled"),
            (second, "pending"),
            ("order", "pending")
        ],
        "{jobs:?}"
    );
    let (status, sent) = act(&app, "held", 8, "send-now").await;
    assert_eq!((status, sent["jobs"].as_i64()), (200, Some(2)), "{sent}");
    eventually(DEADLINE, "the changed order placed", || async {
        let stats = sb.state.stats();
        (stats.spiff_orders.get(&tx(9)) == Some(&1)
            && stats.key2print_downloads.get(second) == Some(&1))
        .then_some(())
    })
    .await;
    barrier(&app, &sb, 103).await;
    let stats = sb.state.stats();
    assert_eq!(stats.spiff_orders.get(&tx(8)), None, "{stats:?}");
    assert_eq!(stats.key2print_downloads.get(first), None, "{stats:?}");
    assert_eq!(stats.spiff_orders.get(&tx(9)), Some(&1), "{stats:?}");
    assert_eq!(act(&app, "held", 8, "send-now").await.0, 409);
    app.stop().await;
    sb.stop();
}

on_both_backends!(
    a_design_change_in_the_hold_replans_once,
    design_change_replans
);

/// Hold keeps an order's jobs back past the hold window until Send now, which places them
/// once.
async fn hold_until_sent(backend: Backend) {
    let (sb, clock, app) = hold_window_app(backend).await;
    let order = order_json(
        9,
        "processing",
        "2026-11-23T08:00:00",
        &[Item::Spiff(&tx(10))],
    );
    app.post_order("held", SECRET, &order).await;
    let (status, held) = act(&app, "held", 9, "hold").await;
    assert_eq!((status, held["jobs"].as_i64()), (200, Some(1)), "{held}");
    assert_eq!(
        order_view(&app, "held", 9).await["waiting"]["reason"],
        "held"
    );
    clock.advance((i64::from(HOLD_MINUTES) + 1) * MINUTE_MS);
    barrier(&app, &sb, 104).await;
    assert_eq!(spiff_orders(&sb, &tx(10)), 0, "held past the window");
    assert_eq!(jobs_of(&app, "held", 9).await[0].2, "held");
    assert_eq!(
        act(&app, "held", 9, "hold").await.0,
        409,
        "nothing left to hold"
    );
    assert_eq!(act(&app, "held", 9, "send-now").await.0, 200);
    eventually(DEADLINE, "the held order placed", || async {
        (spiff_orders(&sb, &tx(10)) == 1).then_some(())
    })
    .await;
    assert_eq!(act(&app, "held", 9, "send-now").await.0, 409);
    barrier(&app, &sb, 105).await;
    assert_eq!(spiff_orders(&sb, &tx(10)), 1, "placed once");
    app.stop().await;
    sb.stop();
}

on_both_backends!(hold_keeps_jobs_until_send_now, hold_until_sent);

/// Approval: a Spiff job waits for the owner's approval and is never placed before it;
/// approving places it once, and a later state of the order changes nothing. Apliiq, not
/// under approval, goes at once.
async fn approval_places_once(backend: Backend) {
    let sb = start_sandbox().await;
    let clock = ManualClock::new(now_ms());
    let app = app_with(backend, &sb, &clock, |s| {
        s.approval = Approval::of(&[Provider::Spiff, Provider::Key2print]);
    })
    .await;
    let order = order_json(
        10,
        "processing",
        "2026-11-23T08:00:00",
        &[Item::Spiff(&tx(11))],
    );
    app.post_order("held", SECRET, &order).await;
    barrier(&app, &sb, 106).await;
    assert_eq!(spiff_orders(&sb, &tx(11)), 0, "not placed before approval");
    assert_eq!(jobs_of(&app, "held", 10).await[0].2, "awaiting-approval");
    let view = order_view(&app, "held", 10).await;
    assert_eq!(view["waiting"]["reason"], "approval", "{view}");
    assert_eq!(view["waiting"]["awaiting_approval"], 1, "{view}");
    // Send now does not bypass approval; another provider has nothing to approve.
    assert_eq!(act(&app, "held", 10, "send-now").await.0, 409);
    assert_eq!(
        act(&app, "held", 10, "approve?provider=apliiq").await.0,
        409
    );
    let (status, problem) = act(&app, "held", 10, "approve?provider=printful").await;
    assert_eq!(
        (status, problem["field"].as_str()),
        (400, Some("provider")),
        "{problem}"
    );
    let (status, approved) = act(&app, "held", 10, "approve?provider=spiff").await;
    assert_eq!(
        (status, approved["jobs"].as_i64()),
        (200, Some(1)),
        "{approved}"
    );
    eventually(DEADLINE, "the approved order placed", || async {
        (spiff_orders(&sb, &tx(11)) == 1).then_some(())
    })
    .await;
    assert_eq!(
        act(&app, "held", 10, "approve").await.0,
        409,
        "approved once"
    );
    let later = order_json(
        10,
        "completed",
        "2026-11-23T09:00:00",
        &[Item::Spiff(&tx(11))],
    );
    app.post_order("held", SECRET, &later).await;
    barrier(&app, &sb, 107).await;
    assert_eq!(spiff_orders(&sb, &tx(11)), 1, "placed once");
    assert_eq!(jobs_of(&app, "held", 10).await[0].2, "done");
    app.stop().await;
    sb.stop();
}

on_both_backends!(approval_places_once_after_approve, approval_places_once);

/// The owner's actions need the store's token and an order the bridge knows.
async fn owner_actions_are_guarded(backend: Backend) {
    let app = TestApp::spawn(backend, |c| {
        c.stores = vec![support::store_config("shop", SECRET)]
    })
    .await;
    for action in ["send-now", "hold", "approve"] {
        let r = app
            .client
            .post(app.url(&format!("/v1/stores/shop/orders/1/{action}")))
            .bearer_auth("wrong-token")
            .send()
            .await
            .expect("request");
        assert_eq!(r.status(), 401, "{action}");
        let (status, problem) = act(&app, "shop", 404, action).await;
        assert_eq!(
            (status, problem["field"].as_str()),
            (404, Some("order_id")),
            "{problem}"
        );
    }
    app.stop().await;
}

on_both_backends!(
    owner_actions_need_the_token_and_a_known_order,
    owner_actions_are_guarded
);

/// A refund in part inside the hold window holds the order's jobs for the owner, flags the
/// order, and Send now places them once.
async fn partial_refund_holds(backend: Backend) {
    let (sb, clock, app) = hold_window_app(backend).await;
    let order = order_json(
        12,
        "processing",
        "2026-11-23T08:00:00",
        &[Item::Spiff(&tx(12))],
    );
    app.post_order("held", SECRET, &order).await;
    let mut refunded = order_json(
        12,
        "processing",
        "2026-11-23T08:03:00",
        &[Item::Spiff(&tx(12))],
    );
    refunded["refunds"] = json!([{"id": 40, "reason": "wrong name", "total": "-2.00"}]);
    app.post_order("held", SECRET, &refunded).await;
    app.applied().await;
    assert_eq!(jobs_of(&app, "held", 12).await[0].2, "held");
    let view = order_view(&app, "held", 12).await;
    assert_eq!(view["waiting"]["reason"], "held", "{view}");
    let attention = view["attention"].to_string();
    assert!(attention.contains("refunded in part"), "{view}");
    clock.advance((i64::from(HOLD_MINUTES) + 1) * MINUTE_MS);
    barrier(&app, &sb, 108).await;
    assert_eq!(spiff_orders(&sb, &tx(12)), 0, "held after the refund");
    assert_eq!(act(&app, "held", 12, "send-now").await.0, 200);
    eventually(DEADLINE, "the refunded order sent", || async {
        (spiff_orders(&sb, &tx(12)) == 1).then_some(())
    })
    .await;
    app.stop().await;
    sb.stop();
}

on_both_backends!(
    a_partial_refund_in_the_hold_holds_the_jobs,
    partial_refund_holds
);

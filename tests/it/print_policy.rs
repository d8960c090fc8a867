//! When a paid order goes to print: the payment method policy (cash on delivery waits for
//! `completed`), the hold window with Send now and Hold, and approval, through the real app
//! on both databases, against the provider sandboxes that count every order they get.

use std::sync::Arc;
use std::time::Duration;

use printbridge::clock::{Clock, ManualClock};
use printbridge::config::{Approval, HoldMinutes, StoreConfig};
use printbridge::outbox::Dispatcher;
use printbridge::outbox::exec::ProviderExecutor;
use printbridge::providers::Provider;
use printbridge::reads::orders::rfc3339;
use printbridge::sandbox::Sandbox;
use serde_json::{Value, json};

use crate::events::{Receiver, accepted_of, endpoint, with_endpoint};
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
    let (status, view) = app
        .store_get(
            &format!("/v1/stores/{store}/orders/{order_id}"),
            STORE_TOKEN,
        )
        .await;
    assert_eq!(status, 200, "{view}");
    view
}

/// Posts an owner's action (`send-now`, `hold`, `approve?…`) on an order: (status, answer).
async fn act(app: &TestApp, store: &str, order_id: i64, action: &str) -> (u16, Value) {
    app.store_post_empty(
        &format!("/v1/stores/{store}/orders/{order_id}/{action}"),
        STORE_TOKEN,
    )
    .await
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
        let (status, _) = app
            .store_post_empty(&format!("/v1/stores/shop/orders/1/{action}"), "wrong-token")
            .await;
        assert_eq!(status, 401, "{action}");
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

/// The order's event jobs (queue `events`) as the admin API lists them.
async fn event_jobs_of(app: &TestApp, store: &str, order_id: i64) -> Vec<Value> {
    let (status, page) = app
        .admin_get(&format!(
            "/v1/admin/jobs?store={store}&provider=events&limit=500"
        ))
        .await;
    assert_eq!(status, 200, "{page}");
    page["jobs"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|j| j["order_id"] == order_id)
        .cloned()
        .collect()
}

/// The outbox worker the app runs when it dispatches, started by the test on the app's
/// state: the app is started without one, so the jobs a test wants to see queued stay
/// queued, never started, until it starts this one.
struct Dispatching {
    stop: tokio::sync::watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl Dispatching {
    fn start(app: &TestApp) -> Dispatching {
        let state = app.state.clone();
        let executor = Arc::new(ProviderExecutor::new(&state.config, state.clock.clone()));
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let task = tokio::spawn(Dispatcher::new(state, executor).run(stopped));
        Dispatching { stop, task }
    }

    /// Stops claiming and waits for the calls in flight.
    async fn stop(self) {
        self.stop.send(true).expect("the dispatcher listens");
        self.task.await.expect("the dispatcher ends");
    }
}

/// A Spiff design id that cannot be sent as it is (the item is flagged, not planned).
const BAD_DESIGN: &str = "not a design id!";

/// The re-plan of a changed design and the owner's Hold and Send now touch the order's
/// provider jobs only. An order with a Spiff item and one that cannot be sent is planned
/// with its Spiff job waiting for the hold window and, at once, the `order.needs_attention`
/// event job of the flagged item. The event job keeps its state and due time through the
/// re-plan and Hold (both run while no dispatcher is running, so it is still queued and
/// never started) and its event is delivered once; the Spiff job is held past the window
/// and placed once, with the changed design, on Send now.
async fn order_events_are_not_held(backend: Backend) {
    let sb = start_sandbox().await;
    let clock = ManualClock::new(now_ms());
    let receiver = Receiver::new(0, false);
    let server = endpoint(&receiver).await;
    let mut held = sandbox_store(&sb, "held", SECRET);
    held.hold_minutes = HoldMinutes::new(HOLD_MINUTES).expect("minutes");
    with_endpoint(&mut held, &server, &["order.needs_attention"]);
    let direct = sandbox_store(&sb, "direct", SECRET);
    let app_clock: Arc<dyn Clock> = clock.clone();
    let app = TestApp::spawn_with_clock(
        backend,
        |c| {
            fast_dispatch(c);
            c.dispatch.enabled = false;
            c.stores = vec![held, direct];
        },
        Some(app_clock),
    )
    .await;
    let order = order_json(
        13,
        "processing",
        "2026-11-23T08:00:00",
        &[Item::Spiff(&tx(13)), Item::Spiff(BAD_DESIGN)],
    );
    app.post_order("held", SECRET, &order).await;
    app.applied().await;
    let queued = event_jobs_of(&app, "held", 13).await;
    assert_eq!(queued.len(), 1, "{queued:?}");
    let event_job = queued[0].clone();
    assert_eq!(event_job["kind"], "send_event", "{event_job}");
    assert_eq!(event_job["state"], "pending", "{event_job}");
    assert!(event_job["next_attempt_at"].is_string(), "{event_job}");
    let event_target = event_job["target"].as_str().unwrap_or_default().to_owned();
    assert!(
        event_target.starts_with("order.needs_attention:"),
        "{event_job}"
    );
    let both = |spiff: &str| {
        vec![
            (
                "events".to_owned(),
                event_target.clone(),
                "pending".to_owned(),
            ),
            ("spiff".to_owned(), "order".to_owned(), spiff.to_owned()),
        ]
    };
    assert_eq!(jobs_of(&app, "held", 13).await, both("pending"));

    // A design id changed inside the hold re-plans the Spiff job; the event job stays.
    let changed = order_json(
        13,
        "processing",
        "2026-11-23T08:02:00",
        &[Item::Spiff(&tx(14)), Item::Spiff(BAD_DESIGN)],
    );
    app.post_order("held", SECRET, &changed).await;
    app.applied().await;
    assert_eq!(
        event_jobs_of(&app, "held", 13).await,
        std::slice::from_ref(&event_job),
        "the re-plan left the event job as it was"
    );
    assert_eq!(jobs_of(&app, "held", 13).await, both("pending"));

    // Hold: the Spiff job only.
    let (status, answer) = act(&app, "held", 13, "hold").await;
    assert_eq!(
        (status, answer["jobs"].as_i64()),
        (200, Some(1)),
        "{answer}"
    );
    assert_eq!(
        event_jobs_of(&app, "held", 13).await,
        std::slice::from_ref(&event_job),
        "Hold left the event job as it was"
    );
    assert_eq!(jobs_of(&app, "held", 13).await, both("held"));

    // The event goes out; the held Spiff job does not, inside the window or past it.
    let dispatching = Dispatching::start(&app);
    eventually(DEADLINE, "the event delivered", || async {
        (!accepted_of(&receiver, "order.needs_attention").is_empty()).then_some(())
    })
    .await;
    barrier(&app, &sb, 109).await;
    assert_eq!(spiff_orders(&sb, &tx(14)), 0, "held inside the window");
    clock.advance((i64::from(HOLD_MINUTES) + 1) * MINUTE_MS);
    barrier(&app, &sb, 110).await;
    assert_eq!(spiff_orders(&sb, &tx(14)), 0, "held past the window");

    // Send now: the Spiff job only, placed once with the changed design.
    let (status, answer) = act(&app, "held", 13, "send-now").await;
    assert_eq!(
        (status, answer["jobs"].as_i64()),
        (200, Some(1)),
        "{answer}"
    );
    eventually(DEADLINE, "the held order placed", || async {
        (spiff_orders(&sb, &tx(14)) == 1).then_some(())
    })
    .await;
    barrier(&app, &sb, 111).await;
    assert_eq!(spiff_orders(&sb, &tx(14)), 1, "placed once");
    assert_eq!(spiff_orders(&sb, &tx(13)), 0, "the replaced design");
    let told = accepted_of(&receiver, "order.needs_attention");
    assert_eq!(told.len(), 1, "{told:?}");
    assert_eq!(receiver.seen().len(), 1, "delivered once");
    assert_eq!(told[0]["data"]["order_id"], 13, "{told:?}");
    let sent = event_jobs_of(&app, "held", 13).await;
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(
        (
            sent[0]["id"].clone(),
            sent[0]["state"].as_str(),
            sent[0]["attempts"].as_i64()
        ),
        (event_job["id"].clone(), Some("done"), Some(1)),
        "{sent:?}"
    );
    dispatching.stop().await;
    app.stop().await;
    sb.stop();
}

on_both_backends!(
    order_events_are_not_held_nor_replanned,
    order_events_are_not_held
);

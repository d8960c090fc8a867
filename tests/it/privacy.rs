//! Personal data: one customer's export and erasure across deliveries, snapshots, attempts
//! and kept files; retention purging old orders while new deliveries are answered.

use std::sync::Arc;
use std::time::Duration;

use crate::support;
use crate::support::woo_standin::WooStandin;
use crate::support::{Backend, Item, TestApp, order_json, sandbox_store};
use printbridge::clock::{Clock, ManualClock};
use printbridge::config::StoreConfig;
use printbridge::privacy::retention::{Cursors, SweepReport, sweep, sweep_and_report};
use printbridge::sandbox::Fault;
use serde_json::{Value, json};

const SECRET: &str = "privacy-secret";

impl TestApp {
    /// One privacy sweep of store "shop" now (by the app's clock), from the start, logged
    /// and counted in `/metrics` as the bridge's own sweeps are.
    async fn sweep_now(&self) -> SweepReport {
        let cfg = &self.state.config.stores[0];
        sweep_and_report(
            &self.state,
            cfg,
            self.state.clock.now_ms(),
            &mut Cursors::default(),
        )
        .await
        .expect("sweep")
    }

    /// Posts `body` to a privacy endpoint of store "shop" with the store token.
    async fn privacy(&self, action: &str, body: Value) -> (u16, Value) {
        self.store_post(
            &format!("/v1/stores/shop/privacy/{action}"),
            support::STORE_TOKEN,
            &body,
        )
        .await
    }

    /// The bodies of every delivery of an order, as the admin API shows them.
    async fn delivery_bodies(&self, order_id: i64) -> Vec<String> {
        let (_, page) = self
            .admin_get(&format!(
                "/v1/admin/deliveries?store=shop&order_id={order_id}&limit=100"
            ))
            .await;
        let mut bodies = Vec::new();
        for d in page["deliveries"].as_array().expect("deliveries") {
            let (_, detail) = self
                .admin_get(&format!("/v1/admin/deliveries/{}", d["id"]))
                .await;
            bodies.push(detail["body"].as_str().expect("body").to_owned());
        }
        bodies
    }

    /// Every job of an order with its attempts (admin API).
    async fn order_jobs(&self, order_id: i64) -> Vec<Value> {
        let (_, ledger) = self
            .admin_get(&format!("/v1/admin/orders/shop/{order_id}"))
            .await;
        ledger["jobs"].as_array().expect("jobs").clone()
    }
}

/// `order` with the billing e-mail and customer id given.
fn with_customer(mut order: Value, email: &str, customer_id: i64) -> Value {
    order["billing"]["email"] = json!(email);
    order["customer_id"] = json!(customer_id);
    order
}

/// Ada's orders: 501 placed with every provider (two states), 503 a Spiff order the
/// provider refused (a dead letter, never placed); Bob's 502 placed.
async fn export_and_erase_one_customer(backend: Backend) {
    let sb = support::start_sandbox().await;
    let store = sandbox_store(&sb, "shop", SECRET);
    let app = TestApp::spawn(backend, |c| {
        support::fast_dispatch(c);
        c.stores = vec![store];
    })
    .await;
    let ada = "ada@example.test";
    let items = [
        Item::Spiff("11111111-0000-4000-8000-000000000501"),
        Item::Apliiq("APQ-1998244S7A1"),
        Item::Key2print("K2P-7642EEED77"),
    ];
    let placed = with_customer(
        order_json(501, "processing", "2026-11-23T08:00:00", &items),
        ada,
        7,
    );
    app.post_order("shop", SECRET, &placed).await;
    let mut completed = placed.clone();
    completed["status"] = json!("completed");
    completed["date_modified_gmt"] = json!("2026-11-24T08:00:00");
    app.post_order("shop", SECRET, &completed).await;
    let bob = with_customer(
        order_json(
            502,
            "processing",
            "2026-11-23T08:00:00",
            &[Item::Spiff("11111111-0000-4000-8000-000000000502")],
        ),
        "bob@example.test",
        8,
    );
    app.post_order("shop", SECRET, &bob).await;
    app.settled_jobs(Duration::from_secs(30)).await;
    sb.state.push_faults(
        "spiff",
        [Fault {
            status: 400,
            ..Fault::default()
        }],
    );
    let refused = with_customer(
        order_json(
            503,
            "processing",
            "2026-11-23T09:00:00",
            &[Item::Spiff("11111111-0000-4000-8000-000000000503")],
        ),
        "Ada@Example.test",
        0,
    );
    app.post_order("shop", SECRET, &refused).await;
    let jobs = app.settled_jobs(Duration::from_secs(30)).await;
    let dead: Vec<&Value> = jobs
        .iter()
        .filter(|j| j["state"] == json!("dead"))
        .collect();
    assert_eq!(dead.len(), 1, "{jobs:?}");
    let dead_id = dead[0]["id"].as_i64().unwrap();
    let k2p = app
        .order_jobs(501)
        .await
        .into_iter()
        .find(|j| j["provider"] == json!("key2print"))
        .expect("key2print job");
    let file_id = k2p["file_id"].as_i64().expect("kept file");
    let pdf_path = app
        .store
        .file(file_id)
        .await
        .unwrap()
        .expect("file row")
        .path;
    assert!(std::path::Path::new(&pdf_path).exists());

    // An order applied before the contacts were recorded is found by its body.
    crate::on_pool!(&app.store, |pool| {
        sqlx::query(
            "UPDATE orders SET billing_email = NULL, customer_id = NULL WHERE order_id = 503",
        )
        .execute(pool)
        .await
        .unwrap();
    });

    // Bad input: a clear problem naming the field.
    let (status, problem) = app
        .privacy("export", json!({"email": "not-an-address"}))
        .await;
    assert_eq!(status, 400, "{problem}");
    assert_eq!(problem["field"], json!("email"), "{problem}");
    let (unauthorized, _) = app
        .store_post(
            "/v1/stores/shop/privacy/erase",
            "wrong-token",
            &json!({"email": ada}),
        )
        .await;
    assert_eq!(unauthorized, 401);

    // Export: both of Ada's orders (by e-mail, whatever its case), with their deliveries,
    // jobs and attempts; not Bob's.
    let (status, export) = app
        .privacy(
            "export",
            json!({"email": "  ADA@example.test ", "customer_id": 7}),
        )
        .await;
    assert_eq!(status, 200, "{export}");
    let ids: Vec<i64> = export["orders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["order_id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, [501, 503], "{export}");
    let first = &export["orders"][0];
    assert_eq!(first["delivery_bodies"].as_array().unwrap().len(), 2);
    assert!(
        first["delivery_bodies"][0]["body"]
            .as_str()
            .unwrap()
            .contains(ada)
    );
    assert_eq!(first["current"]["billing"]["last_name"], json!("Lovelace"));
    assert_eq!(first["jobs"].as_array().unwrap().len(), 3, "{first}");
    // The attempts that kept something of the providers' answers.
    let kept_excerpts = export["orders"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|o| o["jobs"].as_array().unwrap().iter())
        .flat_map(|j| j["attempts_log"].as_array().unwrap().iter())
        .filter(|a| !a["excerpt"].is_null() || !a["error"].is_null())
        .count() as u64;
    assert!(kept_excerpts > 0, "{export}");
    assert!(export["next_after"].is_null());

    // Erase: the dead letter is cancelled and reported, the placed orders reported, the
    // PDF removed, every body redacted.
    let (status, erased) = app
        .privacy("erase", json!({"email": ada, "customer_id": 7}))
        .await;
    assert_eq!(status, 200, "{erased}");
    assert_eq!(erased["done"], json!(true), "{erased}");
    let orders = erased["orders"].as_array().unwrap();
    assert_eq!(orders.len(), 2, "{erased}");
    let (o501, o503) = (&orders[0], &orders[1]);
    assert_eq!(o501["order_id"], json!(501));
    assert_eq!(o501["placed"].as_array().unwrap().len(), 3, "{o501}");
    assert_eq!(o501["files_removed"], json!(1));
    assert_eq!(o501["deliveries_redacted"], json!(2));
    assert_eq!(
        o501["attempts_redacted"].as_u64().unwrap() + o503["attempts_redacted"].as_u64().unwrap(),
        kept_excerpts,
        "{erased}"
    );
    assert_eq!(o503["cancelled"][0]["job_id"], json!(dead_id), "{o503}");
    assert_eq!(o503["cancelled"][0]["state"], json!("dead"));
    assert!(!std::path::Path::new(&pdf_path).exists());

    for order_id in [501, 503] {
        for body in app.delivery_bodies(order_id).await {
            assert!(
                !body.contains("Lovelace") && !body.to_lowercase().contains(ada),
                "{body}"
            );
            assert!(body.contains("[redacted]"), "{body}");
        }
        for job in app.order_jobs(order_id).await {
            for attempt in job["attempts_log"].as_array().unwrap() {
                for field in ["excerpt", "error"] {
                    assert!(
                        attempt[field].is_null() || attempt[field] == json!("[redacted]"),
                        "{attempt}"
                    );
                }
            }
        }
    }
    // Bob's order is untouched.
    assert!(app.delivery_bodies(502).await[0].contains("bob@example.test"));

    // The file is gone; the dead letter cannot be replayed; the order screen's Retry
    // replays nothing.
    let (pdf, _) = app
        .store_get(
            &format!("/v1/stores/shop/files/{file_id}"),
            support::STORE_TOKEN,
        )
        .await;
    assert_eq!(pdf, 404);
    let (replay, _) = app
        .admin_post(&format!("/v1/admin/jobs/{dead_id}/replay"))
        .await;
    assert_eq!(replay, 409);
    let (_, retry) = app
        .store_post_empty("/v1/stores/shop/orders/503/retry", support::STORE_TOKEN)
        .await;
    assert_eq!(retry["replayed"], json!(0));

    // A later delivery of an erased order is stored, never applied, and redacted by the
    // next sweep; nothing is planned again.
    let mut again = refused.clone();
    again["date_modified_gmt"] = json!("2026-11-25T08:00:00");
    let ack = app.post_order("shop", SECRET, &again).await;
    app.applied().await;
    assert_eq!(ack["jobs_planned"], json!(0), "{ack}");
    let report = app.sweep_now().await;
    assert_eq!(report.erasure_rows, 1, "{report:?}");
    for body in app.delivery_bodies(503).await {
        assert!(!body.contains("Lovelace"), "{body}");
    }
    assert!(
        app.order_jobs(503)
            .await
            .iter()
            .all(|j| j["state"] == json!("cancelled"))
    );

    // Nothing of Ada's is left to find.
    let (_, export) = app
        .privacy("export", json!({"email": ada, "customer_id": 7}))
        .await;
    assert_eq!(export["orders"], json!([]), "{export}");
    let metrics = app.metrics().await;
    assert!(
        metrics.contains("printbridge_privacy_redacted_total{reason=\"erasure\",kind=\"file\"} 1"),
        "{metrics}"
    );
    app.stop().await;
}
crate::on_both_backends!(export_and_erase_one_customer, export_and_erase_one_customer);

const DAY_MS: i64 = 86_400_000;

/// Old finished orders are purged while a burst of new deliveries is answered; an old order
/// with a job still queued, and every new order, keep their data.
async fn retention_purges_old_orders_during_a_burst(backend: Backend) {
    let start = chrono::Utc::now().timestamp_millis();
    let clock = ManualClock::new(start);
    let mut store = support::store_config("shop", SECRET);
    store.retention.delivery_bodies_days = 1;
    store.retention.snapshots_days = 2;
    store.retention.attempt_excerpts_days = 1;
    store.retention.files_days = 1;
    let app = TestApp::spawn_with_clock(
        backend,
        |c| c.stores = vec![store],
        Some(clock.clone() as Arc<dyn Clock>),
    )
    .await;
    // Old orders: two states each, no provider item (finished at once).
    for id in 1..=40 {
        let first = order_json(id, "processing", "2026-11-23T08:00:00", &[]);
        app.post_order("shop", SECRET, &first).await;
        let mut done = first.clone();
        done["status"] = json!("completed");
        done["date_modified_gmt"] = json!("2026-11-24T08:00:00");
        app.post_order("shop", SECRET, &done).await;
    }
    // An old order whose Spiff job is still queued (this bridge does not dispatch).
    let open = order_json(
        99,
        "processing",
        "2026-11-23T08:00:00",
        &[Item::Spiff("22222222-0000-4000-8000-000000000099")],
    );
    app.post_order("shop", SECRET, &open).await;
    app.applied().await;

    clock.advance(3 * DAY_MS);
    let burst: Vec<_> = (1_000..1_200)
        .map(|id| {
            let body =
                serde_json::to_vec(&order_json(id, "processing", "2026-11-26T08:00:00", &[]))
                    .unwrap();
            let request = support::webhook_request(
                &app.client,
                &app.base,
                "shop",
                "order.updated",
                SECRET,
                body,
            );
            tokio::spawn(async move {
                let resp = request.send().await.expect("delivery");
                resp.status().as_u16()
            })
        })
        .collect();
    let report = app.sweep_now().await;
    for answer in burst {
        assert_eq!(answer.await.unwrap(), 200);
    }
    app.applied().await;
    let kinds: std::collections::HashMap<&str, u64> = report.retention.iter().copied().collect();
    assert_eq!(kinds.get("delivery_body"), Some(&40), "{report:?}");
    assert_eq!(kinds.get("snapshot"), Some(&40), "{report:?}");
    assert_eq!(report.orders_completed, 40, "{report:?}");
    for id in [1, 20, 40] {
        for body in app.delivery_bodies(id).await {
            assert!(!body.contains("Lovelace"), "{body}");
            assert!(body.contains(&format!("\"id\":{id}")), "ids stay: {body}");
        }
    }
    assert!(app.delivery_bodies(99).await[0].contains("Lovelace"));
    assert!(app.delivery_bodies(1_100).await[0].contains("Lovelace"));
    // A second sweep finds nothing left to do.
    let again = app.sweep_now().await;
    assert!(again.retention.is_empty(), "{again:?}");
    app.stop().await;
}
crate::on_both_backends!(
    retention_purges_old_orders_during_a_burst,
    retention_purges_old_orders_during_a_burst
);

/// What a refusing provider quotes back: the name and address it was sent.
const REFUSAL: &str =
    r#"{"Message":"Cannot ship to Ada Lovelace, 12 Example Street, London SW1A 1AA"}"#;

/// An Apliiq stand-in whose calls each wait until the test releases them, then answer 400
/// with [`REFUSAL`]: a provider call under way for as long as the test needs, without sleeps.
struct HeldApliiq {
    url: String,
    arrived: tokio::sync::mpsc::UnboundedReceiver<String>,
    release: Arc<tokio::sync::Semaphore>,
    calls: Arc<std::sync::atomic::AtomicUsize>,
}

impl HeldApliiq {
    async fn start() -> HeldApliiq {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let (tx, arrived) = tokio::sync::mpsc::unbounded_channel();
        let release = Arc::new(tokio::sync::Semaphore::new(0));
        let calls = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let (gate, count) = (release.clone(), calls.clone());
        let app = poem::endpoint::make(move |req: poem::Request| {
            let (tx, gate, count) = (tx.clone(), gate.clone(), count.clone());
            async move {
                count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let _ = tx.send(format!("{} {}", req.method(), req.uri().path()));
                gate.acquire().await.expect("gate").forget();
                poem::Response::builder()
                    .status(poem::http::StatusCode::BAD_REQUEST)
                    .content_type("application/json")
                    .body(REFUSAL)
            }
        });
        tokio::spawn(async move {
            let acceptor = poem::listener::TcpAcceptor::from_tokio(listener).expect("acceptor");
            let _ = poem::Server::new_with_acceptor(acceptor).run(app).await;
        });
        HeldApliiq {
            url,
            arrived,
            release,
            calls,
        }
    }

    /// Waits (at most 30 s) for a call to arrive; returns its method and path.
    async fn next_call(&mut self) -> String {
        tokio::time::timeout(Duration::from_secs(30), self.arrived.recv())
            .await
            .expect("a call arrives in time")
            .expect("stand-in running")
    }

    fn calls(&self) -> usize {
        self.calls.load(std::sync::atomic::Ordering::SeqCst)
    }
}

/// The texts of a job as stored: last error, payload.
async fn job_texts(app: &TestApp, job_id: i64) -> (Option<String>, String) {
    crate::on_pool!(&app.store, |pool| {
        sqlx::query_as("SELECT last_error, payload FROM jobs WHERE id = $1")
            .bind(job_id)
            .fetch_one(pool)
            .await
            .unwrap()
    })
}

/// A dispatching app whose store sends Apliiq orders to a [`HeldApliiq`] and events to an
/// endpoint (nobody listens there); the sandbox is returned to keep it running.
async fn held_apliiq_app(backend: Backend) -> (HeldApliiq, printbridge::sandbox::Sandbox, TestApp) {
    let held = HeldApliiq::start().await;
    let sb = support::start_sandbox().await;
    let mut store = sandbox_store(&sb, "shop", SECRET);
    store.apliiq.as_mut().expect("apliiq").base_url = held.url.clone();
    let events = format!(
        "url = \"http://127.0.0.1:{}/hooks\"\nsecret = \"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\"\n",
        support::free_port()
    );
    store
        .events
        .push(toml::from_str(&events).expect("endpoint"));
    let app = TestApp::spawn(backend, |c| {
        support::fast_dispatch(c);
        c.dispatch.request_timeout_secs = std::num::NonZeroU64::new(120).unwrap();
        c.stores = vec![store];
    })
    .await;
    (held, sb, app)
}

/// An Apliiq call under way when its order is erased: the erasure reports it as in flight,
/// its outcome (the provider refuses, quoting the address) is recorded, nothing is sent
/// again, the dead-letter event it plans is cancelled unsent, and the next sweep redacts
/// what the answer added (attempt excerpt, the job's reason, the event's body) while the
/// job's reason still reads as the bridge's.
async fn erasing_an_order_whose_call_is_under_way(backend: Backend) {
    let (mut held, _sb, app) = held_apliiq_app(backend).await;
    let order = with_customer(
        order_json(
            601,
            "processing",
            "2026-11-23T08:00:00",
            &[Item::Apliiq("APQ-1998244S7A1")],
        ),
        "ada@example.test",
        0,
    );
    app.post_order("shop", SECRET, &order).await;
    assert_eq!(held.next_call().await, "POST /v1/Order");

    let (status, erased) = app
        .privacy("erase", json!({"email": "ada@example.test"}))
        .await;
    assert_eq!(status, 200, "{erased}");
    assert_eq!(erased["done"], json!(true), "{erased}");
    let report = &erased["orders"][0];
    assert_eq!(
        report["in_flight"][0]["provider"],
        json!("apliiq"),
        "{report}"
    );
    assert_eq!(
        report["in_flight"][0]["state"],
        json!("running"),
        "{report}"
    );
    assert_eq!(report["cancelled"], json!([]), "{report}");
    assert_eq!(report["placed"], json!([]), "{report}");
    let job_id = report["in_flight"][0]["job_id"].as_i64().unwrap();

    held.release.add_permits(1);
    let jobs = support::eventually(Duration::from_secs(30), "the order's jobs stop", || async {
        let jobs = app.order_jobs(601).await;
        // The Apliiq job and its two events (dead letter, needs attention).
        let settled = jobs.len() == 3
            && jobs
                .iter()
                .all(|j| matches!(j["state"].as_str(), Some("dead" | "cancelled" | "done")));
        settled.then_some(jobs)
    })
    .await;
    let apliiq = jobs.iter().find(|j| j["id"] == json!(job_id)).unwrap();
    assert_eq!(apliiq["state"], json!("dead"), "{apliiq}");
    let event_ids: Vec<i64> = jobs
        .iter()
        .filter(|j| j["provider"] == json!("events"))
        .map(|event| {
            assert_eq!(event["state"], json!("cancelled"), "never sent: {event}");
            assert_eq!(event["attempts"], json!(0), "{event}");
            event["id"].as_i64().unwrap()
        })
        .collect();
    assert_eq!(event_ids.len(), 2, "{jobs:?}");
    assert_eq!(held.calls(), 1, "nothing sent again");

    // Until the sweep, the answer's quote stands in the attempt, the reason and the events.
    let (reason, _) = job_texts(&app, job_id).await;
    assert!(reason.unwrap().contains("Lovelace"));
    for id in &event_ids {
        assert!(job_texts(&app, *id).await.1.contains("Lovelace"));
    }
    let swept = app.sweep_now().await;
    assert!(swept.erasure_rows >= 1, "{swept:?}");
    assert_quotes_redacted(&app, job_id, &event_ids).await;

    // The order screen's Retry replays nothing; no call leaves.
    let (_, retry) = app
        .store_post_empty("/v1/stores/shop/orders/601/retry", support::STORE_TOKEN)
        .await;
    assert_eq!(retry["replayed"], json!(0), "{retry}");
    assert_eq!(held.calls(), 1);
    app.stop().await;
}
crate::on_both_backends!(
    erasing_an_order_whose_call_is_under_way,
    erasing_an_order_whose_call_is_under_way
);

/// The Apliiq refusal's quote is gone from job `job_id`'s reason and attempts, from the
/// events' bodies and from order 601's attention text; the bridge's words stay.
async fn assert_quotes_redacted(app: &TestApp, job_id: i64, event_ids: &[i64]) {
    let (reason, _) = job_texts(app, job_id).await;
    let reason = reason.expect("reason");
    assert_eq!(reason, "Apliiq POST /v1/Order: HTTP 400: [redacted]");
    assert_quotes_gone(app, 601, event_ids).await;
}

/// The order's attention text (`None` when it is not flagged).
async fn attention(app: &TestApp, order_id: i64) -> Option<String> {
    crate::on_pool!(&app.store, |pool| {
        sqlx::query_scalar("SELECT attention FROM orders WHERE store_id = 'shop' AND order_id = $1")
            .bind(order_id)
            .fetch_one(pool)
            .await
            .unwrap()
    })
}

/// The Apliiq refusal's quote is gone from the events' bodies, from the order's attention
/// text and from the attempts of its jobs; the bridge's words around it stay.
async fn assert_quotes_gone(app: &TestApp, order_id: i64, event_ids: &[i64]) {
    for id in event_ids {
        let (_, payload) = job_texts(app, *id).await;
        assert!(
            !payload.contains("Lovelace") && !payload.contains("Example Street"),
            "{payload}"
        );
        let payload: Value = serde_json::from_str(&payload).expect("payload stays JSON");
        let body: Value = serde_json::from_str(payload["body"].as_str().unwrap()).expect("body");
        assert!(
            body["data"]["reason"]
                .as_str()
                .unwrap()
                .contains("HTTP 400: [redacted]"),
            "{body}"
        );
    }
    let attention = attention(app, order_id)
        .await
        .expect("the dead letter flags the order");
    assert!(attention.ends_with("HTTP 400: [redacted]"), "{attention}");
    assert!(!attention.contains("Lovelace"), "{attention}");
    for job in app.order_jobs(order_id).await {
        for attempt in job["attempts_log"].as_array().unwrap() {
            assert!(!attempt.to_string().contains("Lovelace"), "{attempt}");
        }
    }
}

/// The order's jobs once none of them is queued or running.
async fn settled_order_jobs(app: &TestApp, order_id: i64) -> Vec<Value> {
    support::eventually(Duration::from_secs(30), "the order's jobs stop", || async {
        let jobs = app.order_jobs(order_id).await;
        let busy = jobs.iter().any(|j| {
            matches!(
                j["state"].as_str(),
                Some("pending" | "retrying" | "running")
            )
        });
        (!jobs.is_empty() && !busy).then_some(jobs)
    })
    .await
}

/// A dispatching app serving `store` on a manual clock, whose privacy sweep the test runs
/// itself ([`TestApp::sweep_now`]). Calls get 30 s: on a busy machine a call cut off after
/// the default second is retried only when the manual clock moves, and keeps its order open.
async fn swept_app(backend: Backend, store: StoreConfig) -> (Arc<ManualClock>, TestApp) {
    let clock = ManualClock::new(chrono::Utc::now().timestamp_millis());
    let app = TestApp::spawn_with_clock(
        backend,
        |c| {
            support::fast_dispatch(c);
            c.dispatch.request_timeout_secs = std::num::NonZeroU64::new(30).expect("30 is not 0");
            c.privacy_sweep_interval_secs = 0;
            c.stores = vec![store];
        },
        Some(clock.clone() as Arc<dyn Clock>),
    )
    .await;
    (clock, app)
}

/// Retention alone, with no erasure requested, removes an Apliiq refusal's quote of the
/// customer's name and address: the order's first call is refused (a dead letter quoting it
/// in its reason, its attempt, the order's attention and two events), the order screen's
/// Retry places it (the success clears the job's reason; a dead job would keep the order
/// from counting as finished), and once the order has been finished for
/// `attempt_excerpts_days` the sweep redacts the quote from the attempt, the events' bodies
/// and the attention text. A sweep a day before that leaves everything; the sweep's
/// counters name the redacted attempt and the completed order, and no erasure.
async fn retention_redacts_a_refusals_quotes(backend: Backend) {
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    // Apliiq refuses the first call with [`REFUSAL`] and accepts the next.
    let apliiq = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/Order"))
        .respond_with(ResponseTemplate::new(400).set_body_raw(REFUSAL, "application/json"))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&apliiq)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/Order"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"OrderId": "APQ-801"})))
        .with_priority(2)
        .mount(&apliiq)
        .await;
    // An event endpoint that takes every event, so the event jobs finish.
    let hooks = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/hooks"))
        .respond_with(ResponseTemplate::new(204))
        .mount(&hooks)
        .await;
    let sb = support::start_sandbox().await;
    let mut store = sandbox_store(&sb, "shop", SECRET);
    store.apliiq.as_mut().expect("apliiq").base_url = apliiq.uri();
    let events = format!(
        "url = \"{}/hooks\"\nsecret = \"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\"\n",
        hooks.uri()
    );
    store
        .events
        .push(toml::from_str(&events).expect("endpoint"));
    // Only attempt excerpts expire, so the sweep's counters are theirs alone.
    store.retention.delivery_bodies_days = 0;
    store.retention.snapshots_days = 0;
    store.retention.files_days = 0;
    store.retention.attempt_excerpts_days = 90;
    let (clock, app) = swept_app(backend, store).await;
    let order = order_json(
        801,
        "processing",
        "2026-11-23T08:00:00",
        &[Item::Apliiq("APQ-1998244S7A1")],
    );
    app.post_order("shop", SECRET, &order).await;
    app.applied().await;

    // The refusal: a dead letter quoting the customer, and its two events sent.
    let jobs = settled_order_jobs(&app, 801).await;
    let job = jobs
        .iter()
        .find(|j| j["provider"] == json!("apliiq"))
        .expect("apliiq job");
    assert_eq!(job["state"], json!("dead"), "{job}");
    let job_id = job["id"].as_i64().unwrap();
    let (reason, _) = job_texts(&app, job_id).await;
    let reason = reason.expect("a dead letter's reason");
    assert!(reason.contains("Lovelace, 12 Example Street"), "{reason}");

    // Retry places the order; the job is done, and the order counts as finished.
    let (status, retry) = app
        .store_post_empty("/v1/stores/shop/orders/801/retry", support::STORE_TOKEN)
        .await;
    assert_eq!((status, &retry["replayed"]), (200, &json!(1)), "{retry}");
    let jobs = support::eventually(Duration::from_secs(30), "the order is placed", || async {
        let jobs = settled_order_jobs(&app, 801).await;
        let placed = jobs
            .iter()
            .any(|j| j["id"] == json!(job_id) && j["state"] == json!("done"));
        placed.then_some(jobs)
    })
    .await;
    for job in &jobs {
        assert_eq!(job["state"], json!("done"), "{job}");
    }
    assert_eq!(
        job_texts(&app, job_id).await.0,
        None,
        "success clears the reason"
    );

    // Until retention, the quote stands in the attempt, the attention and the events.
    let apliiq_job = jobs.iter().find(|j| j["id"] == json!(job_id)).unwrap();
    assert!(
        apliiq_job["attempts_log"][0]
            .to_string()
            .contains("Lovelace"),
        "{apliiq_job}"
    );
    let flagged = attention(&app, 801).await.expect("flagged");
    assert!(flagged.contains("Lovelace"), "{flagged}");
    let mut quoting = Vec::new();
    for job in jobs.iter().filter(|j| j["provider"] == json!("events")) {
        let id = job["id"].as_i64().unwrap();
        if job_texts(&app, id).await.1.contains("Lovelace") {
            quoting.push(id);
        }
    }
    // The dead letter's event and the needs-attention one; order.placed quotes nothing.
    assert_eq!(quoting.len(), 2, "{jobs:?}");
    let kept = jobs
        .iter()
        .flat_map(|j| j["attempts_log"].as_array().unwrap().iter())
        .filter(|a| !a["excerpt"].is_null() || !a["error"].is_null())
        .count() as u64;
    assert_eq!(
        kept, 1,
        "only the refused attempt kept the answer: {jobs:?}"
    );
    clock.advance(89 * DAY_MS);
    let early = app.sweep_now().await;
    assert!(early.is_empty(), "{early:?}");
    let flagged = attention(&app, 801).await.expect("flagged");
    assert!(flagged.contains("Lovelace"), "kept until due: {flagged}");

    clock.advance(2 * DAY_MS);
    let report = app.sweep_now().await;
    assert_quotes_gone(&app, 801, &quoting).await;
    assert_eq!(
        report,
        SweepReport {
            retention: vec![("attempt_excerpt", kept)],
            orders_completed: 1,
            ..SweepReport::default()
        }
    );
    // The order's bodies are kept for good (`snapshots_days` 0): only the quotes went.
    assert!(app.delivery_bodies(801).await[0].contains("Lovelace"));
    app.stop().await;
}
crate::on_both_backends!(
    retention_redacts_a_refusals_quotes,
    retention_redacts_a_refusals_quotes
);

/// `unattended_jobs_days`: a dead Apliiq job (the provider refuses, quoting the customer)
/// and a Spiff job awaiting the owner's approval are left alone for 29 days, and for good
/// when the setting is 0; after 31 days the sweep cancels both with a reason saying why and
/// an order note to the shop for each, so neither is sent (the order screen's Retry and
/// Approve find nothing to do), and the orders' retention then runs from the cancellation:
/// 91 days later the refusal's quote is redacted, both orders are done with, and a replay
/// of the job is refused.
async fn retention_cancels_jobs_left_waiting_for_the_owner(backend: Backend) {
    use printbridge::config::Approval;
    use printbridge::providers::Provider;
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    let apliiq = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/Order"))
        .respond_with(ResponseTemplate::new(400).set_body_raw(REFUSAL, "application/json"))
        .mount(&apliiq)
        .await;
    let sb = support::start_sandbox().await;
    let woo = WooStandin::start().await;
    let mut store = woo.with_rest(sandbox_store(&sb, "shop", SECRET));
    store.apliiq.as_mut().expect("apliiq").base_url = apliiq.uri();
    store.approval = Approval::of(&[Provider::Spiff]);
    store.retention.delivery_bodies_days = 0;
    store.retention.snapshots_days = 90;
    store.retention.files_days = 0;
    store.retention.attempt_excerpts_days = 90;
    store.retention.unattended_jobs_days = 30;
    let (clock, app) = swept_app(backend, store).await;
    let spiff_tx = "00000000-0000-4000-8000-000000000822";
    for (id, item) in [
        (821, Item::Apliiq("APQ-1998244S7A1")),
        (822, Item::Spiff(spiff_tx)),
    ] {
        let order = order_json(id, "processing", "2026-11-23T08:00:00", &[item]);
        woo.put_order(order.clone());
        app.post_order("shop", SECRET, &order).await;
    }
    app.applied().await;
    let provider_job = |jobs: Vec<Value>, provider: &str| {
        jobs.into_iter()
            .find(|j| j["provider"] == json!(provider))
            .unwrap_or_else(|| panic!("a {provider} job"))
    };
    let dead = provider_job(settled_order_jobs(&app, 821).await, "apliiq");
    assert_eq!(dead["state"], json!("dead"), "{dead}");
    let waiting = provider_job(settled_order_jobs(&app, 822).await, "spiff");
    assert_eq!(waiting["state"], json!("awaiting-approval"), "{waiting}");
    let state = |order_id: i64, provider: &'static str| {
        let app = &app;
        async move { provider_job(app.order_jobs(order_id).await, provider)["state"].clone() }
    };

    clock.advance(29 * DAY_MS);
    let early = app.sweep_now().await;
    assert!(early.is_empty(), "{early:?}");
    clock.advance(2 * DAY_MS);
    woo.run_clock_ahead(31 * DAY_MS / 1000);
    let mut keep = app.state.config.stores[0].clone();
    keep.retention.unattended_jobs_days = 0;
    let now = app.state.clock.now_ms();
    let kept = sweep(&app.store, &keep, now, &mut Cursors::default())
        .await
        .expect("sweep");
    assert!(kept.is_empty(), "0 keeps them waiting: {kept:?}");
    assert_eq!(state(821, "apliiq").await, json!("dead"));
    assert_eq!(state(822, "spiff").await, json!("awaiting-approval"));

    let report = app.sweep_now().await;
    assert_eq!(
        report,
        SweepReport {
            unattended_jobs_cancelled: 2,
            ..SweepReport::default()
        },
        "cancelled; the orders' retention starts now"
    );
    let metrics = app.metrics().await;
    assert!(
        metrics
            .lines()
            .any(|l| l == "printbridge_unattended_jobs_cancelled_total 2"),
        "{metrics}"
    );
    for (order_id, provider) in [(821, "apliiq"), (822, "spiff")] {
        let job = provider_job(app.order_jobs(order_id).await, provider);
        assert_eq!(job["state"], json!("cancelled"), "{job}");
        let (reason, _) = job_texts(&app, job["id"].as_i64().unwrap()).await;
        let reason = reason.expect("a reason");
        assert!(
            reason.contains("after waiting 30 days for the owner") && !reason.contains("Lovelace"),
            "{reason}"
        );
    }
    let (status, retry) = app
        .store_post_empty("/v1/stores/shop/orders/821/retry", support::STORE_TOKEN)
        .await;
    assert_eq!((status, &retry["replayed"]), (200, &json!(0)), "{retry}");
    let (status, approve) = app
        .store_post_empty(
            "/v1/stores/shop/orders/822/approve?provider=spiff",
            support::STORE_TOKEN,
        )
        .await;
    assert_eq!(status, 409, "{approve}");
    assert_eq!(state(821, "apliiq").await, json!("cancelled"));
    assert_eq!(state(822, "spiff").await, json!("cancelled"));
    assert_eq!(sb.state.stats().spiff_orders.get(spiff_tx), None);
    for (order_id, provider) in [(821, "Apliiq"), (822, "Spiff")] {
        let said = format!("PrintBridge: the {provider} print job waited 30 days");
        support::eventually(Duration::from_secs(30), "the order note", || async {
            let notes = woo.notes_of(order_id);
            notes
                .iter()
                .any(|n| n["note"].as_str().is_some_and(|t| t.starts_with(&said)))
                .then_some(())
        })
        .await;
    }
    // The notes' jobs are done before the clock moves on (their orders finish now).
    for order_id in [821, 822] {
        let jobs = settled_order_jobs(&app, order_id).await;
        assert!(
            jobs.iter()
                .all(|j| j["state"] == json!("done") || j["state"] == json!("cancelled")),
            "{jobs:?}"
        );
    }
    assert_eq!(apliiq.received_requests().await.map(|r| r.len()), Some(1));

    clock.advance(89 * DAY_MS);
    let early = app.sweep_now().await;
    assert!(early.is_empty(), "{early:?}");
    clock.advance(2 * DAY_MS);
    let report = app.sweep_now().await;
    assert_eq!(
        report,
        SweepReport {
            retention: vec![("snapshot", 2), ("attempt_excerpt", 1)],
            orders_completed: 2,
            ..SweepReport::default()
        }
    );
    let attempts = provider_job(app.order_jobs(821).await, "apliiq")["attempts_log"].clone();
    assert!(!attempts.to_string().contains("Lovelace"), "{attempts}");
    // Until then an operator could still replay it; not with the order's state redacted.
    let (status, replay) = app
        .admin_post(&format!("/v1/admin/jobs/{}/replay", dead["id"]))
        .await;
    assert_eq!(status, 409, "{replay}");
    assert!(
        replay["message"]
            .as_str()
            .is_some_and(|m| m.contains("removed by retention")),
        "{replay}"
    );
    assert_eq!(state(821, "apliiq").await, json!("cancelled"));
    app.stop().await;
}
crate::on_both_backends!(
    retention_cancels_jobs_left_waiting_for_the_owner,
    retention_cancels_jobs_left_waiting_for_the_owner
);

/// A customer with twelve orders: two export pages by `next_after`, every order once; the
/// first page stops at 8 MiB of bodies, counting the body it leaves out.
async fn export_pages_by_orders_and_body_bytes(backend: Backend) {
    let app = TestApp::spawn(backend, |c| {
        c.stores = vec![support::store_config("shop", SECRET)]
    })
    .await;
    let ada = "ada@example.test";
    // 1.5 MB of customer's note (within the 2 MiB body limit) in each of two states of
    // orders 701 to 703.
    let note: String = (0..1_500_000u32)
        .map(|i| char::from(b'a' + (i % 26) as u8))
        .collect();
    for id in 701..=712 {
        let mut first = with_customer(
            order_json(id, "processing", "2026-11-23T08:00:00", &[]),
            ada,
            0,
        );
        if id <= 703 {
            first["customer_note"] = json!(note);
        }
        app.post_order("shop", SECRET, &first).await;
        if id <= 703 {
            let mut second = first.clone();
            second["date_modified_gmt"] = json!("2026-11-24T08:00:00");
            app.post_order("shop", SECRET, &second).await;
        }
    }
    let bob = with_customer(
        order_json(720, "processing", "2026-11-23T08:00:00", &[]),
        "bob@example.test",
        0,
    );
    app.post_order("shop", SECRET, &bob).await;
    app.applied().await;

    let mut seen = Vec::new();
    let mut pages = Vec::new();
    let mut after = 0;
    loop {
        let (status, page) = app
            .privacy("export", json!({"email": ada, "after": after}))
            .await;
        assert_eq!(status, 200, "{page}");
        assert_eq!(page["search_complete"], json!(true));
        let orders = page["orders"].as_array().unwrap();
        let bytes: usize = orders
            .iter()
            .flat_map(|o| o["delivery_bodies"].as_array().unwrap())
            .map(|d| d["body"].as_str().unwrap().len())
            .sum();
        assert!(bytes <= 8 << 20, "{bytes}");
        let omitted: Vec<u64> = orders
            .iter()
            .map(|o| o["delivery_bodies_omitted"].as_u64().unwrap())
            .collect();
        seen.extend(orders.iter().map(|o| o["order_id"].as_i64().unwrap()));
        pages.push((orders.len(), omitted));
        match page["next_after"].as_i64() {
            Some(next) => after = next,
            None => break,
        }
        assert!(pages.len() < 5, "{pages:?}");
    }
    assert_eq!(seen, (701..=712).collect::<Vec<i64>>(), "every order once");
    // Page 1: 701 and 702 with both bodies, 703 with one (the other omitted); then the
    // rest, small, on page 2.
    assert_eq!(pages.len(), 2, "{pages:?}");
    assert_eq!(pages[0], (3, vec![0, 0, 1]), "{pages:?}");
    assert_eq!(pages[1], (9, vec![0; 9]), "{pages:?}");
    app.stop().await;
}
crate::on_both_backends!(
    export_pages_by_orders_and_body_bytes,
    export_pages_by_orders_and_body_bytes
);

/// Orders recorded before the contacts were (2,101 of Ada's): a request fills in at most
/// 2,000 of them and answers that the search is incomplete (an erasure not `done`, an export
/// page empty with `next_after` repeating `after`); the next request finds every order.
async fn contacts_of_older_orders_are_filled_in_a_bounded_amount_per_request(backend: Backend) {
    let app = TestApp::spawn(backend, |c| {
        c.stores = vec![support::store_config("shop", SECRET)]
    })
    .await;
    let ada = "ada@example.test";
    let first = with_customer(
        order_json(1, "processing", "2026-11-23T08:00:00", &[]),
        ada,
        0,
    );
    app.post_order("shop", SECRET, &first).await;
    app.applied().await;
    // Copies of order 1 as orders 2 to 2101, none with its contact recorded.
    crate::on_pool!(&app.store, |pool| {
        sqlx::query(
            "WITH RECURSIVE n(i) AS (SELECT 2 UNION ALL SELECT i + 1 FROM n WHERE i < 2101) \
             INSERT INTO orders (store_id, order_id, number, status, currency, total, \
             modified_gmt, snapshot_id, trashed, paid_at, attention, first_seen_at, updated_at, \
             retention_done) SELECT o.store_id, n.i, o.number, o.status, o.currency, o.total, \
             o.modified_gmt, o.snapshot_id, o.trashed, o.paid_at, o.attention, o.first_seen_at, \
             o.updated_at, o.retention_done FROM orders o CROSS JOIN n WHERE o.order_id = 1",
        )
        .execute(pool)
        .await
        .unwrap();
        sqlx::query("UPDATE orders SET billing_email = NULL, customer_id = NULL")
            .execute(pool)
            .await
            .unwrap();
    });

    let (status, erased) = app.privacy("erase", json!({"email": ada})).await;
    assert_eq!(status, 200, "{erased}");
    assert_eq!(erased["done"], json!(false), "{erased}");
    assert_eq!(erased["orders"], json!([]), "{erased}");
    let unindexed: i64 = crate::on_pool!(&app.store, |pool| {
        sqlx::query_scalar("SELECT COUNT(*) FROM orders WHERE billing_email IS NULL")
            .fetch_one(pool)
            .await
            .unwrap()
    });
    assert_eq!(unindexed, 101);

    let (_, page) = app
        .privacy("export", json!({"email": ada, "after": 0}))
        .await;
    assert_eq!(page["search_complete"], json!(true), "{page}");
    let ids: Vec<i64> = page["orders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["order_id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, (1..=10).collect::<Vec<i64>>());
    assert_eq!(page["next_after"], json!(10));
    let (_, last) = app
        .privacy("export", json!({"email": ada, "after": 2095}))
        .await;
    assert_eq!(last["orders"].as_array().unwrap().len(), 6, "{last}");
    assert!(last["next_after"].is_null());
    app.stop().await;
}
crate::on_both_backends!(
    contacts_of_older_orders_are_filled_in_a_bounded_amount_per_request,
    contacts_of_older_orders_are_filled_in_a_bounded_amount_per_request
);

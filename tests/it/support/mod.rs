//! Shared test support: the real app on a random port with a real database (a SQLite file,
//! or a PostgreSQL schema of its own when `PRINTBRIDGE_TEST_POSTGRES_URL` is set).
#![allow(dead_code)]

pub mod woo_standin;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use printbridge::app::Application;
use printbridge::clock::Clock;
use printbridge::config::{Config, StoreConfig};
use printbridge::http::AppState;
use printbridge::secret::Secret;
use printbridge::store::Store;
use tokio::sync::oneshot;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The PostgreSQL URL for tests, if configured; if not, says the test is skipped (every
/// caller returns then). With `PRINTBRIDGE_REQUIRE_POSTGRES=1` (CI) a missing URL fails the
/// test instead of skipping it.
pub fn postgres_url() -> Option<String> {
    match std::env::var("PRINTBRIDGE_TEST_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            assert!(
                std::env::var("PRINTBRIDGE_REQUIRE_POSTGRES").as_deref() != Ok("1"),
                "PRINTBRIDGE_REQUIRE_POSTGRES=1 but PRINTBRIDGE_TEST_POSTGRES_URL is not set"
            );
            eprintln!("skipped: PRINTBRIDGE_TEST_POSTGRES_URL is not set");
            None
        }
    }
}

/// Evaluates `$body` with `$pool` the store's connection pool, whichever the backend (the
/// same sqlx query code compiles for each), for test set-up and checks in SQL.
#[macro_export]
macro_rules! on_pool {
    ($store:expr, |$pool:ident| $body:expr) => {
        match $store {
            printbridge::store::Store::Sqlite($pool, _) => $body,
            printbridge::store::Store::Postgres($pool) => $body,
        }
    };
}

/// Runs an async test body once per backend: `#[tokio::test]`s named `sqlite` and `postgres`
/// in a module named after the test.
#[macro_export]
macro_rules! on_both_backends {
    ($name:ident, $body:path) => {
        mod $name {
            use super::*;
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                $body($crate::support::Backend::Sqlite).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if $crate::support::postgres_url().is_none() {
                    return;
                }
                $body($crate::support::Backend::Postgres).await;
            }
        }
    };
}

pub fn fixtures_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

pub const ADMIN_TOKEN: &str = "admin-token-for-tests";
pub const STORE_TOKEN: &str = "store-token-for-tests";

/// A store with a webhook secret and a token, no providers.
pub fn store_config(id: &str, secret: &str) -> StoreConfig {
    let text = format!("id = {id:?}\nwebhook_secret = {secret:?}\napi_token = {STORE_TOKEN:?}\n");
    toml::from_str(&text).expect("store config")
}

pub struct TestApp {
    pub base: String,
    pub client: reqwest::Client,
    pub store: Store,
    pub state: Arc<AppState>,
    pub dir: tempfile::TempDir,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

pub async fn open_store(backend: Backend, dir: &std::path::Path) -> (Store, String) {
    match backend {
        Backend::Sqlite => {
            let url = format!("sqlite://{}", dir.join("bridge.db").display());
            (Store::connect(&url).await.expect("sqlite"), url)
        }
        Backend::Postgres => {
            let url = postgres_url().expect("postgres url");
            let schema = format!("pb_{}", uuid::Uuid::new_v4().simple());
            (
                Store::connect_postgres_schema(&url, &schema)
                    .await
                    .expect("postgres"),
                url,
            )
        }
    }
}

impl TestApp {
    /// Starts the real app; `configure` adjusts the configuration (stores, tokens) first.
    pub async fn spawn(backend: Backend, configure: impl FnOnce(&mut Config)) -> TestApp {
        Self::spawn_with_clock(backend, configure, None).await
    }

    pub async fn spawn_with_clock(
        backend: Backend,
        configure: impl FnOnce(&mut Config),
        clock: Option<Arc<dyn Clock>>,
    ) -> TestApp {
        let dir = tempfile::tempdir().expect("tempdir");
        let (store, url) = open_store(backend, dir.path()).await;
        Self::spawn_on(dir, store, url, configure, clock).await
    }

    /// Starts the real app on a store the test opened (and may have written) first.
    pub async fn spawn_on(
        dir: tempfile::TempDir,
        store: Store,
        url: String,
        configure: impl FnOnce(&mut Config),
        clock: Option<Arc<dyn Clock>>,
    ) -> TestApp {
        let mut config = Config {
            database_url: url,
            admin_token: Some(Secret::new(ADMIN_TOKEN)),
            data_dir: dir.path().join("data"),
            listen: "127.0.0.1:0".to_owned(),
            ..Config::default()
        };
        config.dispatch.enabled = false;
        configure(&mut config);
        config.validate().expect("test config is valid");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let app = Application::build_with_store(config, store.clone(), Some(listener), clock)
            .await
            .expect("app builds");
        let base = format!("http://{}", app.addr());
        let state = app.state();
        let (tx, rx) = oneshot::channel::<()>();
        let server = tokio::spawn(app.run_until(async {
            let _ = rx.await;
        }));
        printbridge::net::ensure_crypto_provider();
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .expect("client");
        TestApp {
            base,
            client,
            store,
            state,
            dir,
            shutdown: Some(tx),
            server: Some(server),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// GET with the admin token: (status, JSON answer).
    pub async fn admin_get(&self, path: &str) -> (u16, serde_json::Value) {
        answer(self.client.get(self.url(path)).bearer_auth(ADMIN_TOKEN)).await
    }

    /// POST without a body with the admin token (a replay): (status, JSON answer).
    pub async fn admin_post(&self, path: &str) -> (u16, serde_json::Value) {
        answer(self.client.post(self.url(path)).bearer_auth(ADMIN_TOKEN)).await
    }

    /// GET with a store token (`token` as the bearer, as the plugin sends
    /// [`STORE_TOKEN`]): (status, JSON answer).
    pub async fn store_get(&self, path: &str, token: &str) -> (u16, serde_json::Value) {
        answer(self.client.get(self.url(path)).bearer_auth(token)).await
    }

    /// POST of the JSON `body` with a store token: (status, JSON answer).
    pub async fn store_post(
        &self,
        path: &str,
        token: &str,
        body: &serde_json::Value,
    ) -> (u16, serde_json::Value) {
        answer(
            self.client
                .post(self.url(path))
                .bearer_auth(token)
                .json(body),
        )
        .await
    }

    /// POST without a body with a store token (an owner's action on an order): (status,
    /// JSON answer).
    pub async fn store_post_empty(&self, path: &str, token: &str) -> (u16, serde_json::Value) {
        answer(self.client.post(self.url(path)).bearer_auth(token)).await
    }

    /// Posts a webhook body signed with `secret`.
    pub async fn post_webhook(
        &self,
        store: &str,
        topic: &str,
        body: &[u8],
        secret: &str,
    ) -> (u16, serde_json::Value) {
        let request = webhook_request(
            &self.client,
            &self.base,
            store,
            topic,
            secret,
            body.to_vec(),
        );
        answer(request).await
    }

    /// The text of `/metrics`.
    pub async fn metrics(&self) -> String {
        let resp = self
            .client
            .get(self.url("/metrics"))
            .send()
            .await
            .expect("metrics");
        assert_eq!(resp.status().as_u16(), 200, "/metrics");
        resp.text().await.expect("metrics text")
    }

    /// Waits until every stored delivery is applied to the ledger (deliveries answered
    /// `stored` are applied after their answer).
    pub async fn applied(&self) {
        let store = self.store.clone();
        eventually(Duration::from_secs(60), "every delivery applied", || {
            let store = store.clone();
            async move {
                (!store
                    .has_unapplied_deliveries()
                    .await
                    .expect("unapplied deliveries"))
                .then_some(())
            }
        })
        .await;
    }

    /// Stops the server; returns the directory that holds its database and data.
    pub async fn stop(mut self) -> tempfile::TempDir {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(h) = self.server.take() {
            let _ = h.await;
        }
        self.store.close().await;
        self.dir
    }
}

/// A WooCommerce delivery of `body` to `store` of the bridge at `base`, with `topic`, signed
/// with `secret` as WooCommerce signs it.
pub fn webhook_request(
    client: &reqwest::Client,
    base: &str,
    store: &str,
    topic: &str,
    secret: &str,
    body: Vec<u8>,
) -> reqwest::RequestBuilder {
    let sig = printbridge::woo::signature::sign(secret, &body);
    client
        .post(format!("{base}/v1/webhooks/woocommerce/{store}"))
        .header("Content-Type", "application/json")
        .header("X-WC-Webhook-Topic", topic)
        .header("X-WC-Webhook-Signature", sig)
        .body(body)
}

/// Sends `request`: its status and JSON answer (`null` when the answer is not JSON).
async fn answer(request: reqwest::RequestBuilder) -> (u16, serde_json::Value) {
    let resp = request.send().await.expect("request");
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(serde_json::Value::Null))
}

/// The text at `url`, or `None` if it cannot be fetched (yet): for checks polled with
/// [`eventually`].
pub async fn try_text(client: &reqwest::Client, url: &str) -> Option<String> {
    client.get(url).send().await.ok()?.text().await.ok()
}

/// Polls `check` until it returns `Some`, failing after `deadline`.
pub async fn eventually<T, F, Fut>(deadline: Duration, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let start = std::time::Instant::now();
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(
            start.elapsed() < deadline,
            "timed out after {deadline:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// One captured WooCommerce delivery from `tests/fixtures/woocommerce/<stack>/`.
pub struct CapturedDelivery {
    pub file: String,
    /// Headers as WooCommerce sent them, without the hop-by-hop ones.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub capture: serde_json::Value,
}

impl CapturedDelivery {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

pub const STACKS: [&str; 2] = ["wc-11.0.1_wp-7.1", "wc-9.9.5_wp-6.8.8"];

/// Every captured delivery of a stack, in the order WooCommerce sent them.
pub fn captured_deliveries(stack: &str) -> Vec<CapturedDelivery> {
    use base64::Engine as _;
    let dir = fixtures_dir().join("woocommerce").join(stack);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("fixture dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.as_bytes()[0].is_ascii_digit() && n.ends_with(".json"))
        })
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|path| {
            let v: serde_json::Value =
                serde_json::from_slice(&std::fs::read(&path).expect("read")).expect("json");
            let headers = v["header_list"]
                .as_array()
                .expect("header_list")
                .iter()
                .filter_map(|pair| {
                    let k = pair[0].as_str()?.to_owned();
                    let v = pair[1].as_str()?.to_owned();
                    let hop = ["host", "content-length", "connection", "accept-encoding"];
                    (!hop.contains(&k.to_ascii_lowercase().as_str())).then_some((k, v))
                })
                .collect();
            let body = base64::engine::general_purpose::STANDARD
                .decode(v["body_base64"].as_str().expect("body_base64"))
                .expect("base64");
            CapturedDelivery {
                file: path.file_name().unwrap().to_string_lossy().into_owned(),
                headers,
                body,
                capture: v["capture"].clone(),
            }
        })
        .collect()
}

/// The store `shop` configured with every webhook secret of a captured stack (the HMAC key
/// as WooCommerce stores it, entities and all).
pub fn captured_store(stack: &str) -> StoreConfig {
    let v: serde_json::Value = serde_json::from_slice(
        &std::fs::read(fixtures_dir().join("woocommerce/secrets.json")).expect("secrets"),
    )
    .expect("json");
    let hooks = v[stack]["webhooks"].as_object().expect("webhooks");
    let mut secrets: Vec<String> = hooks
        .values()
        .map(|h| h["secret_as_stored"].as_str().expect("secret").to_owned())
        .collect();
    let first = secrets.remove(0);
    let mut store = store_config("shop", &first);
    store.webhook_secrets = secrets.into_iter().map(Secret::new).collect();
    store
}

impl TestApp {
    /// Replays a captured delivery with the headers WooCommerce sent.
    pub async fn replay(&self, store: &str, d: &CapturedDelivery) -> (u16, serde_json::Value) {
        let mut req = self
            .client
            .post(self.url(&format!("/v1/webhooks/woocommerce/{store}")));
        for (k, v) in &d.headers {
            req = req.header(k, v);
        }
        answer(req.body(d.body.clone())).await
    }

    /// Replays every captured delivery of `stack` to store `shop`, each answered 200, and
    /// returns the stored ones: (delivery id, body as sent).
    pub async fn replay_stack(&self, stack: &str) -> Vec<(i64, Vec<u8>)> {
        let mut stored = Vec::new();
        for d in captured_deliveries(stack) {
            let (status, ack) = self.replay("shop", &d).await;
            assert_eq!(status, 200, "{}: {ack}", d.file);
            if let Some(id) = ack["delivery_id"].as_i64() {
                stored.push((id, d.body));
            }
        }
        stored
    }

    /// Asserts that the admin API gives each stored delivery's body back as it was sent,
    /// and its size as sent.
    pub async fn assert_bodies_as_sent(&self, stored: &[(i64, Vec<u8>)]) {
        for (id, body) in stored {
            let (status, detail) = self.admin_get(&format!("/v1/admin/deliveries/{id}")).await;
            assert_eq!(status, 200, "{detail}");
            assert_eq!(
                detail["body"].as_str(),
                Some(&*String::from_utf8_lossy(body))
            );
            assert_eq!(
                detail["size"],
                serde_json::json!(body.len()),
                "delivery {id}"
            );
        }
    }
}

/// A loopback port free at the time of the call.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

/// `printbridge serve --config CONFIG` on 127.0.0.1:`port`, logging warnings only, its
/// output discarded.
pub fn spawn_serve(config: &std::path::Path, port: u16) -> std::process::Child {
    std::process::Command::new(env!("CARGO_BIN_EXE_printbridge"))
        .args(["serve", "--config"])
        .arg(config)
        .env("PRINTBRIDGE_LISTEN", format!("127.0.0.1:{port}"))
        .env("PRINTBRIDGE_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn printbridge")
}

/// The provider sandboxes on a free loopback port, with their default credentials.
pub async fn start_sandbox() -> printbridge::sandbox::Sandbox {
    printbridge::sandbox::Sandbox::start(
        printbridge::sandbox::SandboxCredentials::default(),
        "127.0.0.1",
        0,
    )
    .await
    .expect("sandbox")
}

/// A dispatcher that retries within a second and does not reconcile, for tests that wait
/// for jobs to end.
pub fn fast_dispatch(c: &mut Config) {
    c.dispatch.enabled = true;
    c.dispatch.request_timeout_secs = std::num::NonZeroU64::MIN;
    c.dispatch.backoff_base_secs = 1;
    c.dispatch.backoff_cap_secs = 1;
    c.dispatch.reconcile_interval_secs = 0;
}

/// A store `id` whose providers are the sandboxes (Spiff over GraphQL, Apliiq, Key2print).
pub fn sandbox_store(sb: &printbridge::sandbox::Sandbox, id: &str, secret: &str) -> StoreConfig {
    sb.store_config(id, secret, STORE_TOKEN)
        .expect("sandbox store config")
}

/// One line item of a test order.
pub enum Item<'a> {
    Spiff(&'a str),
    Apliiq(&'a str),
    Key2print(&'a str),
}

/// A WooCommerce order (REST v3 shape, as webhooks carry it) with the given items.
pub fn order_json(
    id: i64,
    status: &str,
    modified_gmt: &str,
    items: &[Item<'_>],
) -> serde_json::Value {
    let address = serde_json::json!({
        "first_name": "Ada", "last_name": "Lovelace", "company": "", "address_1": "12 Example Street",
        "address_2": "", "city": "London", "state": "", "postcode": "SW1A 1AA", "country": "GB",
        "email": "ada@example.test", "phone": "+44 20 7946 0000"
    });
    let line_items: Vec<serde_json::Value> = items
        .iter()
        .enumerate()
        .map(|(n, item)| {
            let (sku, meta) = match item {
                Item::Spiff(t) => (
                    "MUG".to_owned(),
                    serde_json::json!([{"id": 1, "key": "_printbridge_spiff_transaction_id", "value": t}]),
                ),
                Item::Apliiq(sku) => ((*sku).to_owned(), serde_json::json!([])),
                Item::Key2print(p) => (
                    "BC-A5".to_owned(),
                    serde_json::json!([{"id": 2, "key": "_printbridge_key2print_project_id", "value": p}]),
                ),
            };
            serde_json::json!({
                "id": n + 1, "name": format!("Item {}", n + 1), "product_id": 11, "variation_id": 0,
                "quantity": 1, "tax_class": "", "subtotal": "12.50", "total": "12.50",
                "sku": sku, "price": 12.5, "meta_data": meta
            })
        })
        .collect();
    serde_json::json!({
        "id": id, "parent_id": 0, "number": id.to_string(), "status": status, "currency": "EUR",
        "date_created_gmt": "2026-11-23T06:00:00", "date_modified_gmt": modified_gmt,
        "total": "12.50", "shipping_total": "4.90", "customer_id": 0, "customer_note": "",
        "billing": address, "shipping": address, "payment_method": "card", "transaction_id": "tx",
        "line_items": line_items,
        "shipping_lines": [{"id": 9, "method_title": "Flat rate", "method_id": "flat_rate", "instance_id": "1", "total": "4.90"}],
        "refunds": [], "meta_data": []
    })
}

impl TestApp {
    pub async fn post_order(
        &self,
        store: &str,
        secret: &str,
        order: &serde_json::Value,
    ) -> serde_json::Value {
        let body = serde_json::to_vec(order).expect("json");
        let (status, ack) = self
            .post_webhook(store, "order.updated", &body, secret)
            .await;
        assert_eq!(status, 200, "{ack}");
        ack
    }

    /// Posts, for each id, a paid order with a Spiff item (a transaction id made from the
    /// order id) and an Apliiq item.
    pub async fn post_spiff_apliiq_orders(
        &self,
        store: &str,
        secret: &str,
        ids: std::ops::RangeInclusive<i64>,
    ) {
        for id in ids {
            let tx = format!("00000000-0000-4000-8000-{id:012}");
            let order = order_json(
                id,
                "processing",
                "2026-11-23T08:00:00",
                &[Item::Spiff(&tx), Item::Apliiq("APQ-1998244S7A1")],
            );
            self.post_order(store, secret, &order).await;
        }
    }

    /// Waits until no job of the store is pending, retrying or running, then returns all jobs.
    pub async fn settled_jobs(&self, deadline: Duration) -> Vec<serde_json::Value> {
        eventually(deadline, "all jobs settled", || async {
            let (_, page) = self.admin_get("/v1/admin/jobs?limit=500").await;
            let jobs = page["jobs"].as_array()?.clone();
            let busy = jobs.iter().any(|j| {
                matches!(
                    j["state"].as_str(),
                    Some("pending" | "retrying" | "running")
                )
            });
            (!busy && page["total"].as_i64()? as usize == jobs.len()).then_some(jobs)
        })
        .await
    }
}

/// A migrated store (`backend`, under `dir`) holding paid orders `ids` of store "shop", each
/// with one Apliiq item, ingested as backfilled orders: one Apliiq job per order, queued.
pub async fn store_with_apliiq_orders(
    backend: Backend,
    dir: &std::path::Path,
    ids: std::ops::RangeInclusive<i64>,
) -> Store {
    let (store, _) = open_store(backend, dir).await;
    store.migrate().await.expect("migrate");
    let cfg = store_config("shop", "apliiq-orders-secret");
    for id in ids {
        let body = serde_json::to_vec(&serde_json::json!({
            "id": id, "status": "processing", "date_modified_gmt": "2026-11-23T08:00:00",
            "line_items": [{"id": 1, "name": "Tee", "quantity": 1, "sku": "APQ-1998244S7A1", "meta_data": []}]
        }))
        .expect("json");
        let ingested = printbridge::outbox::reconcile::ingest_order_json(
            &store,
            &cfg,
            printbridge::intake::parse::Source::Backfill,
            body,
            1,
        )
        .await
        .expect("ingest");
        assert_eq!(ingested.jobs_planned, 1, "order {id}");
    }
    store
}

/// An attempt the provider refused for good (400), and the dead letter it leads to.
pub fn refused_attempt() -> (
    printbridge::outbox::jobs::AttemptRecord,
    printbridge::outbox::jobs::Finish,
) {
    (
        printbridge::outbox::jobs::AttemptRecord {
            started_at: 2,
            duration_ms: 1,
            outcome: "permanent",
            status_code: Some(400),
            excerpt: None,
            error: Some("refused".into()),
        },
        printbridge::outbox::jobs::Finish::Dead {
            reason: "refused".into(),
        },
    )
}

/// A dispatching app (8 calls at once per provider) with one store at fresh sandboxes whose
/// first `orders` Spiff and Apliiq calls each answer after 40 ms, so many calls are in flight
/// at once; every third Spiff order is refused, so jobs end in different states. The
/// sandbox is returned to keep it running.
pub async fn slow_dispatch_app(
    backend: Backend,
    store_id: &str,
    secret: &str,
    orders: i64,
) -> (printbridge::sandbox::Sandbox, TestApp) {
    use printbridge::sandbox::Fault;
    let sb = start_sandbox().await;
    let slow = |status| Fault {
        status,
        delay_ms: 40,
        ..Fault::default()
    };
    sb.state.push_faults(
        "spiff",
        (0..orders).map(|n| slow(if n % 3 == 0 { 400 } else { 0 })),
    );
    sb.state.push_faults("apliiq", (0..orders).map(|_| slow(0)));
    let store = sandbox_store(&sb, store_id, secret);
    let app = TestApp::spawn(backend, |c: &mut Config| {
        c.dispatch.enabled = true;
        c.dispatch.concurrency = std::num::NonZeroUsize::new(8).expect("8 is not 0");
        c.dispatch.reconcile_interval_secs = 0;
        c.stores = vec![store];
    })
    .await;
    (sb, app)
}

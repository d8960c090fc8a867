//! A local WooCommerce REST v3 stand-in for tests.
//!
//! It serves the recorded catalog, orders, notes, webhooks and settings of
//! `tests/fixtures/woocommerce-rest` (or `$PRINTBRIDGE_WOO_REST_FIXTURES`) over plain http on
//! `127.0.0.1`, and behaves like WooCommerce 11 where the bridge depends on it:
//!
//! * authentication: OAuth 1.0a one-legged verified like WooCommerce (signed against the home
//!   URL, ±15 min timestamps, nonces remembered, read-only keys may not write); Basic with
//!   consumer key/secret is ignored over http (anonymous → 401) unless [`WooStandin::accept_basic`];
//! * `modified_after` with and without `dates_are_gmt` (including WooCommerce's mistake with an
//!   offset plus `dates_are_gmt`), `status`, `orderby`/`order`, `per_page` ≤ 100, paging with
//!   `X-WP-Total`/`X-WP-TotalPages`, `[]` with zero totals past the end;
//! * error bodies as recorded (`woocommerce_rest_*_invalid_id`, `rest_invalid_param`, ...).
//!
//! Tests can put orders/products/variations, fail requests, make it unreachable and heal it.
#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use base64::Engine as _;
use chrono::{DateTime, NaiveDateTime};
use poem::http::{HeaderValue, Method, StatusCode};
use poem::listener::TcpAcceptor;
use poem::{Request, Response, Server};
use printbridge::config::StoreConfig;
use printbridge::secret::Secret;
use printbridge::woo::oauth1::{self, SignatureMethod};
use serde_json::{Value, json};
use tokio::sync::oneshot;

/// The read/write key recorded in the fixtures' `secrets.json`.
pub const RW_KEY: &str = "ck_01410d93e428c594ae5edd9fc7fb45f9345343f8";
/// Its secret.
pub const RW_SECRET: &str = "cs_8b5f6b7b06d57f089f2cc36034a99c15b42fbfca";
/// The read-only key recorded in the fixtures.
pub const RO_KEY: &str = "ck_0a43eb8d22bc1fbfa33e029964aee0e73885e19c";
/// Its secret.
pub const RO_SECRET: &str = "cs_969e2fa6f097139da0c17035152a7d31a26f558b";

const API: &str = "/wp-json/wc/v3";
const ORDER_STATUSES: &[&str] = &[
    "any",
    "trash",
    "auto-draft",
    "pending",
    "processing",
    "on-hold",
    "completed",
    "cancelled",
    "refunded",
    "failed",
    "checkout-draft",
];

/// The fixture directory: `$PRINTBRIDGE_WOO_REST_FIXTURES`, else the in-repo copy.
pub fn fixtures_dir() -> PathBuf {
    match std::env::var("PRINTBRIDGE_WOO_REST_FIXTURES") {
        Ok(d) if !d.is_empty() => PathBuf::from(d),
        _ => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/woocommerce-rest"),
    }
}

/// One recorded exchange (`NN-*.json`), parsed.
pub fn fixture(number: u32) -> Value {
    let dir = fixtures_dir();
    let prefix = format!("{number:02}-");
    let entry = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("fixture dir {}: {e}", dir.display()))
        .filter_map(Result::ok)
        .find(|e| e.file_name().to_string_lossy().starts_with(&prefix))
        .unwrap_or_else(|| panic!("no fixture {prefix}* in {}", dir.display()));
    let text = std::fs::read_to_string(entry.path()).expect("fixture readable");
    serde_json::from_str(&text).expect("fixture is JSON")
}

/// The parsed response body of fixture `number`.
pub fn fixture_body(number: u32) -> Value {
    fixture(number)["body_json"].clone()
}

/// A note the stand-in received through `POST /orders/{id}/notes`.
#[derive(Debug, Clone, PartialEq)]
pub struct ReceivedNote {
    pub order_id: i64,
    pub note: String,
    pub customer_note: bool,
    /// The id the stand-in gave it.
    pub id: i64,
}

/// A request as received (query decoded like PHP does).
#[derive(Debug, Clone)]
pub struct ReceivedRequest {
    pub method: String,
    pub path: String,
    pub raw_query: String,
    pub query: Vec<(String, String)>,
    pub authorization: Option<String>,
    pub body: Vec<u8>,
    /// `oauth1`, `basic` or `none`: how the request authenticated (after checks).
    pub auth: String,
}

enum FailMode {
    Off,
    Always,
    Next(usize),
}

struct Key {
    secret: Secret,
    write: bool,
}

struct State {
    home_url: String,
    shop_offset_secs: i64,
    /// How far the stand-in's clock, which OAuth timestamps are checked against, runs ahead.
    clock_ahead_secs: i64,
    orders: BTreeMap<i64, Value>,
    products: BTreeMap<i64, Value>,
    variations: BTreeMap<i64, Vec<Value>>,
    notes: BTreeMap<i64, Vec<Value>>,
    received_notes: Vec<ReceivedNote>,
    webhooks: BTreeMap<i64, Value>,
    attributes: Vec<Value>,
    terms: BTreeMap<i64, Vec<Value>>,
    settings_general: Value,
    settings_tax: Value,
    taxes: Vec<Value>,
    next_note_id: i64,
    counts: HashMap<String, usize>,
    requests: Vec<ReceivedRequest>,
    failure: (u16, String),
    fail_mode: FailMode,
    accept_basic: bool,
    keys: HashMap<String, Key>,
    nonces: HashSet<(String, String)>,
    delay: Option<Duration>,
}

/// The running stand-in. Dropping it stops the server.
pub struct WooStandin {
    addr: SocketAddr,
    state: Arc<Mutex<State>>,
    server: Mutex<Option<(oneshot::Sender<()>, tokio::task::JoinHandle<()>)>>,
}

impl WooStandin {
    /// Starts the stand-in on a random port of 127.0.0.1, loaded with the fixtures.
    pub async fn start() -> WooStandin {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind stand-in");
        let addr = listener.local_addr().expect("addr");
        let state = Arc::new(Mutex::new(load_state(&format!("http://{addr}"))));
        let standin = WooStandin {
            addr,
            state,
            server: Mutex::new(None),
        };
        standin.serve(listener);
        standin
    }

    fn serve(&self, listener: tokio::net::TcpListener) {
        let state = self.state.clone();
        let app = poem::endpoint::make(move |req: Request| {
            let state = state.clone();
            async move { handle(state, req).await }
        });
        let (tx, rx) = oneshot::channel::<()>();
        let handle = tokio::spawn(async move {
            let acceptor = TcpAcceptor::from_tokio(listener).expect("acceptor");
            let _ = Server::new_with_acceptor(acceptor)
                .run_with_graceful_shutdown(
                    app,
                    async {
                        let _ = rx.await;
                    },
                    Some(Duration::from_millis(200)),
                )
                .await;
        });
        *self.server.lock().expect("lock") = Some((tx, handle));
    }

    fn st(&self) -> MutexGuard<'_, State> {
        self.state.lock().expect("stand-in state")
    }

    /// `http://127.0.0.1:PORT`, the shop's URL (and, unless changed, its home URL).
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The shop's home URL, which OAuth signatures must be computed against.
    pub fn set_home_url(&self, url: &str) {
        self.st().home_url = url.trim_end_matches('/').to_owned();
    }

    /// A store pointing at the stand-in with the read/write key.
    pub fn store_config(&self, id: &str) -> StoreConfig {
        self.store_config_with_key(id, RW_KEY, RW_SECRET)
    }

    /// `store` with the stand-in as its shop's REST API (order notes, reconciliation).
    pub fn with_rest(&self, mut store: StoreConfig) -> StoreConfig {
        let rest = self.store_config(&store.id);
        store.woocommerce_url = rest.woocommerce_url;
        store.woocommerce_consumer_key = rest.woocommerce_consumer_key;
        store.woocommerce_consumer_secret = rest.woocommerce_consumer_secret;
        store
    }

    /// A store pointing at the stand-in with the given key.
    pub fn store_config_with_key(&self, id: &str, key: &str, secret: &str) -> StoreConfig {
        let text = format!(
            "id = {id:?}\nwoocommerce_url = {url:?}\nwebhook_secret = \"standin-webhook-secret\"\n\
             api_token = {token:?}\nwoocommerce_consumer_key = {key:?}\nwoocommerce_consumer_secret = {secret:?}\n",
            url = self.base_url(),
            token = super::STORE_TOKEN,
        );
        toml::from_str(&text).expect("stand-in store config")
    }

    /// Notes received through the API, in the order they came.
    pub fn notes_received(&self) -> Vec<ReceivedNote> {
        self.st().received_notes.clone()
    }

    /// Requests received for `path` (full, or below `/wp-json/wc/v3`), any method or query.
    pub fn request_count(&self, path: &str) -> usize {
        let full = full_path(path);
        self.st().counts.get(&full).copied().unwrap_or(0)
    }

    /// Every request received, oldest first.
    pub fn requests(&self) -> Vec<ReceivedRequest> {
        self.st().requests.clone()
    }

    /// Answers every request with `status` and `body` until [`heal`](Self::heal).
    pub fn fail_with(&self, status: u16, body: &str) {
        let mut st = self.st();
        st.failure = (status, body.to_owned());
        st.fail_mode = FailMode::Always;
    }

    /// Answers the next `n` requests with the failure set by [`fail_with`](Self::fail_with)
    /// (503 `internal_server_error` if none), then serves normally.
    pub fn fail_next(&self, n: usize) {
        self.st().fail_mode = FailMode::Next(n);
    }

    /// Waits `delay` before answering each request (to provoke client timeouts).
    pub fn respond_after(&self, delay: Option<Duration>) {
        self.st().delay = delay;
    }

    /// Runs the stand-in's clock `secs` ahead of the machine's, as far as a bridge on a
    /// [`printbridge::clock::ManualClock`] was advanced: the OAuth timestamps it signs then
    /// pass the shop's check.
    pub fn run_clock_ahead(&self, secs: i64) {
        self.st().clock_ahead_secs = secs;
    }

    /// Accepts HTTP Basic with consumer key/secret (as WooCommerce does over HTTPS only).
    pub fn accept_basic(&self, accept: bool) {
        self.st().accept_basic = accept;
    }

    /// Stops listening: connections are refused until [`heal`](Self::heal).
    pub async fn go_unreachable(&self) {
        let server = self.server.lock().expect("lock").take();
        if let Some((tx, handle)) = server {
            let _ = tx.send(());
            let _ = handle.await;
        }
    }

    /// Serves normally again: listening on the same port, no injected failures or delays.
    pub async fn heal(&self) {
        {
            let mut st = self.st();
            st.fail_mode = FailMode::Off;
            st.delay = None;
        }
        if self.server.lock().expect("lock").is_some() {
            return;
        }
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        let listener = loop {
            match tokio::net::TcpListener::bind(self.addr).await {
                Ok(l) => break l,
                Err(e) => {
                    assert!(
                        std::time::Instant::now() < deadline,
                        "rebinding {}: {e}",
                        self.addr
                    );
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
        };
        self.serve(listener);
    }

    /// Adds or replaces an order (by `id`).
    pub fn put_order(&self, order: Value) {
        let id = order["id"].as_i64().expect("order has a numeric id");
        self.st().orders.insert(id, order);
    }

    /// Removes every order.
    pub fn clear_orders(&self) {
        self.st().orders.clear();
    }

    /// Adds or replaces a product (by `id`).
    pub fn put_product(&self, product: Value) {
        let id = product["id"].as_i64().expect("product has a numeric id");
        self.st().products.insert(id, product);
    }

    /// Replaces the variations of product `product_id` (a JSON array).
    pub fn put_variations(&self, product_id: i64, variations: Value) {
        let list = variations.as_array().cloned().expect("variations array");
        self.st().variations.insert(product_id, list);
    }

    /// Sets the `value` of setting `id` in the general group (`/settings/general`).
    pub fn set_general_setting(&self, id: &str, value: &str) {
        set_setting(&mut self.st().settings_general, id, value);
    }

    /// Sets the `value` of setting `id` in the tax group (`/settings/tax`).
    pub fn set_tax_setting(&self, id: &str, value: &str) {
        set_setting(&mut self.st().settings_tax, id, value);
    }

    /// Replaces the tax rates (`/taxes`, a JSON array).
    pub fn put_taxes(&self, rates: Value) {
        self.st().taxes = rates.as_array().cloned().expect("rates array");
    }

    /// The notes stored for an order (recorded ones and received ones), newest first.
    pub fn notes_of(&self, order_id: i64) -> Vec<Value> {
        self.st().notes.get(&order_id).cloned().unwrap_or_default()
    }
}

impl Drop for WooStandin {
    fn drop(&mut self) {
        if let Ok(mut s) = self.server.lock()
            && let Some((tx, handle)) = s.take()
        {
            let _ = tx.send(());
            handle.abort();
        }
    }
}

fn full_path(path: &str) -> String {
    if path.starts_with("/wp-json") {
        path.to_owned()
    } else {
        format!("{API}{path}")
    }
}

fn load_state(base: &str) -> State {
    let mut products = BTreeMap::new();
    for n in [1, 2, 3] {
        let p = fixture_body(n);
        products.insert(p["id"].as_i64().expect("id"), p);
    }
    for n in [13, 14] {
        for p in fixture_body(n).as_array().cloned().unwrap_or_default() {
            if p["type"] != "variation" {
                let id = p["id"].as_i64().expect("id");
                products.entry(id).or_insert(p);
            }
        }
    }
    let mut variations = BTreeMap::new();
    variations.insert(29, fixture_body(4).as_array().cloned().expect("array"));
    variations.insert(39, fixture_body(10).as_array().cloned().expect("array"));
    let mut orders = BTreeMap::new();
    for n in [25, 18, 19, 27, 28] {
        let body = fixture_body(n);
        let list = match body {
            Value::Array(a) => a,
            one => vec![one],
        };
        for o in list {
            orders.insert(o["id"].as_i64().expect("id"), o);
        }
    }
    let mut notes = BTreeMap::new();
    notes.insert(44, fixture_body(30).as_array().cloned().expect("array"));
    notes.insert(47, fixture_body(42).as_array().cloned().expect("array"));
    let next_note_id = notes
        .values()
        .flatten()
        .filter_map(|n| n["id"].as_i64())
        .max()
        .unwrap_or(0)
        + 1;
    let mut webhooks = BTreeMap::new();
    for w in fixture_body(32).as_array().cloned().expect("array") {
        webhooks.insert(w["id"].as_i64().expect("id"), w);
    }
    let w6 = fixture_body(64);
    webhooks.insert(w6["id"].as_i64().expect("id"), w6);
    let mut terms = BTreeMap::new();
    terms.insert(2, fixture_body(17).as_array().cloned().expect("array"));
    let mut keys = HashMap::new();
    keys.insert(
        RW_KEY.to_owned(),
        Key {
            secret: Secret::new(RW_SECRET),
            write: true,
        },
    );
    keys.insert(
        RO_KEY.to_owned(),
        Key {
            secret: Secret::new(RO_SECRET),
            write: false,
        },
    );
    State {
        home_url: base.to_owned(),
        shop_offset_secs: 3600,
        clock_ahead_secs: 0,
        orders,
        products,
        variations,
        notes,
        received_notes: Vec::new(),
        webhooks,
        attributes: fixture_body(15).as_array().cloned().expect("array"),
        terms,
        settings_general: fixture_body(37),
        settings_tax: tax_settings("no"),
        taxes: fixture_body(36).as_array().cloned().expect("array"),
        next_note_id,
        counts: HashMap::new(),
        requests: Vec::new(),
        failure: (
            503,
            r#"{"code":"internal_server_error","message":"Service unavailable.","data":{"status":503}}"#
                .to_owned(),
        ),
        fail_mode: FailMode::Off,
        accept_basic: false,
        keys,
        nonces: HashSet::new(),
        delay: None,
    }
}

fn set_setting(group: &mut Value, id: &str, value: &str) {
    let entry = group
        .as_array_mut()
        .and_then(|list| list.iter_mut().find(|s| s["id"] == id))
        .unwrap_or_else(|| panic!("no setting {id}"));
    entry["value"] = json!(value);
}

/// `/settings/tax` of the recorded shop. No capture of it exists: this is built from
/// WooCommerce 11's tax settings (`settings-tax.php`) in the settings REST schema
/// (`{id, label, description, type, default, tip?, options?, value}`), with the values the
/// fixtures' README describes (tax based on the billing address, rounding per line) and
/// `prices_include_tax` as given.
pub fn tax_settings(prices_include_tax: &str) -> Value {
    let setting = |id: &str, label: &str, kind: &str, default: &str, value: &str| {
        json!({"id": id, "label": label, "description": "", "type": kind,
               "default": default, "tip": "", "value": value})
    };
    let mut prices = setting(
        "woocommerce_prices_include_tax",
        "Prices entered with tax",
        "radio",
        "no",
        prices_include_tax,
    );
    prices["options"] = json!({"yes": "Yes, I will enter prices inclusive of tax",
                               "no": "No, I will enter prices exclusive of tax"});
    let mut based_on = setting(
        "woocommerce_tax_based_on",
        "Calculate tax based on",
        "select",
        "shipping",
        "billing",
    );
    based_on["options"] = json!({"shipping": "Customer shipping address",
                                 "billing": "Customer billing address",
                                 "base": "Shop base address"});
    json!([
        prices,
        based_on,
        setting(
            "woocommerce_shipping_tax_class",
            "Shipping tax class",
            "select",
            "inherit",
            "inherit"
        ),
        setting(
            "woocommerce_tax_round_at_subtotal",
            "Rounding",
            "checkbox",
            "no",
            "no"
        ),
        setting(
            "woocommerce_tax_classes",
            "Additional tax classes",
            "textarea",
            "",
            "Reduced rate\nZero rate"
        ),
        setting(
            "woocommerce_tax_display_shop",
            "Display prices in the shop",
            "select",
            "excl",
            "excl"
        ),
        setting(
            "woocommerce_tax_display_cart",
            "Display prices during cart and checkout",
            "select",
            "excl",
            "excl"
        ),
        setting(
            "woocommerce_price_display_suffix",
            "Price display suffix",
            "text",
            "",
            ""
        ),
        setting(
            "woocommerce_tax_total_display",
            "Display tax totals",
            "select",
            "itemized",
            "itemized"
        ),
    ])
}

/// Splits a query string like PHP: `&`-separated, `+` and `%XX` decoded.
fn parse_query(raw: &str) -> Vec<(String, String)> {
    raw.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (
                oauth1::percent_decode(k, true),
                oauth1::percent_decode(v, true),
            )
        })
        .collect()
}

fn json_response(status: u16, body: &Value) -> Response {
    raw_json_response(status, body.to_string())
}

fn raw_json_response(status: u16, body: String) -> Response {
    Response::builder()
        .status(StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
        .header("Content-Type", "application/json; charset=UTF-8")
        .body(body)
}

fn wc_error(status: u16, code: &str, message: &str) -> Response {
    json_response(
        status,
        &json!({"code": code, "message": message, "data": {"status": status}}),
    )
}

fn invalid_param(name: &str, detail: &str) -> Response {
    json_response(
        400,
        &json!({"code": "rest_invalid_param", "message": format!("Invalid parameter(s): {name}"),
                "data": {"status": 400, "params": {name: detail}}}),
    )
}

async fn handle(state: Arc<Mutex<State>>, mut req: Request) -> Response {
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let raw_query = req.uri().query().unwrap_or("").to_owned();
    let authorization = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body = req.take_body().into_vec().await.unwrap_or_default();
    let query = parse_query(&raw_query);
    let delay = {
        let mut st = state.lock().expect("state");
        *st.counts.entry(path.clone()).or_default() += 1;
        st.delay
    };
    if let Some(d) = delay {
        tokio::time::sleep(d).await;
    }
    let mut st = state.lock().expect("state");
    let mut record = ReceivedRequest {
        method: method.to_string(),
        path: path.clone(),
        raw_query: raw_query.clone(),
        query: query.clone(),
        authorization: authorization.clone(),
        body: body.clone(),
        auth: "none".to_owned(),
    };
    let injected = match st.fail_mode {
        FailMode::Off => false,
        FailMode::Always => true,
        FailMode::Next(0) => {
            st.fail_mode = FailMode::Off;
            false
        }
        FailMode::Next(n) => {
            st.fail_mode = if n == 1 {
                FailMode::Off
            } else {
                FailMode::Next(n - 1)
            };
            true
        }
    };
    if injected {
        st.requests.push(record);
        let (status, body) = st.failure.clone();
        return raw_json_response(status, body);
    }
    let auth = authenticate(&mut st, &method, &path, &query, authorization.as_deref());
    let resp = match auth {
        Err(resp) => *resp,
        Ok((how, write)) => {
            record.auth = how.to_owned();
            if method == Method::POST && !write {
                wc_error(
                    401,
                    "woocommerce_rest_authentication_error",
                    "The API key provided does not have write permissions.",
                )
            } else {
                route(&mut st, &method, &path, &query, &body)
            }
        }
    };
    st.requests.push(record);
    resp
}

/// WooCommerce's key checks. `Ok((how, may_write))` or the error answer.
fn authenticate(
    st: &mut State,
    method: &Method,
    path: &str,
    query: &[(String, String)],
    authorization: Option<&str>,
) -> Result<(&'static str, bool), Box<Response>> {
    let anonymous = || {
        let msg = if method == Method::GET {
            "Sorry, you cannot view this resource."
        } else {
            "Sorry, you are not allowed to create resources."
        };
        Err(Box::new(wc_error(401, "woocommerce_rest_cannot_view", msg)))
    };
    let auth_err = |m: &str| {
        Err(Box::new(wc_error(
            401,
            "woocommerce_rest_authentication_error",
            m,
        )))
    };
    if !path.starts_with("/wp-json/wc/") {
        return anonymous();
    }
    // HTTP Basic with key:secret: honoured only when told to (WooCommerce: HTTPS only).
    if let Some(b) = authorization.and_then(|a| a.strip_prefix("Basic ")) {
        if !st.accept_basic {
            return anonymous();
        }
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(b.trim())
            .ok()
            .and_then(|d| String::from_utf8(d).ok())
            .unwrap_or_default();
        let (ck, cs) = decoded.split_once(':').unwrap_or(("", ""));
        return match st.keys.get(ck) {
            Some(k) if k.secret.matches(cs) => Ok(("basic", k.write)),
            Some(_) => auth_err("Consumer secret is invalid."),
            None => auth_err("Consumer key is invalid."),
        };
    }
    // OAuth 1.0a: parameters from the query string, else the Authorization header.
    let mut oauth: Vec<(String, String)> = query
        .iter()
        .filter(|(k, _)| k.starts_with("oauth_"))
        .cloned()
        .collect();
    let from_header = oauth.is_empty();
    if from_header && let Some(h) = authorization.and_then(oauth1::parse_authorization_header) {
        oauth = h;
    }
    if oauth.is_empty() {
        return anonymous();
    }
    let get = |name: &str| {
        oauth
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    let (Some(ck), Some(nonce), Some(sm), Some(ts), Some(sig)) = (
        get("oauth_consumer_key"),
        get("oauth_nonce"),
        get("oauth_signature_method"),
        get("oauth_timestamp"),
        get("oauth_signature"),
    ) else {
        return auth_err("Missing OAuth parameter.");
    };
    let Some((secret, write)) = st.keys.get(&ck).map(|k| (k.secret.clone(), k.write)) else {
        return auth_err("Consumer key is invalid.");
    };
    let Some(sig_method) = SignatureMethod::parse(&sm) else {
        return auth_err("Invalid signature - signature method is invalid.");
    };
    let mut params: Vec<(String, String)> = query.to_vec();
    if from_header {
        params.extend(oauth.iter().cloned());
    }
    let base_url = format!("{}{}", st.home_url, path);
    let base_string = oauth1::signature_base_string(method.as_str(), &base_url, &params);
    if !oauth1::verify(&secret, sig_method, &base_string, &sig) {
        return auth_err("Invalid signature - provided signature does not match.");
    }
    let now = chrono::Utc::now().timestamp() + st.clock_ahead_secs;
    match ts.trim().parse::<i64>() {
        Ok(t) if (t - now).abs() <= 900 => {}
        _ => return auth_err("Invalid timestamp."),
    }
    if !st.nonces.insert((ck, nonce)) {
        return auth_err("Invalid nonce - nonce has already been used.");
    }
    Ok(("oauth1", write))
}

fn q<'a>(query: &'a [(String, String)], name: &str) -> Option<&'a str> {
    query
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

fn route(
    st: &mut State,
    method: &Method,
    path: &str,
    query: &[(String, String)],
    body: &[u8],
) -> Response {
    let Some(rest) = path.strip_prefix(API) else {
        return wc_error(
            404,
            "rest_no_route",
            "No route was found matching the URL and request method.",
        );
    };
    let segs: Vec<&str> = rest.trim_matches('/').split('/').collect();
    let id = |s: &str| s.parse::<i64>().ok();
    match (method.as_str(), segs.as_slice()) {
        ("GET", ["orders"]) => list_orders(st, query),
        ("GET", ["orders", o]) => match id(o).and_then(|o| st.orders.get(&o)) {
            Some(order) => json_response(200, order),
            None => wc_error(404, "woocommerce_rest_shop_order_invalid_id", "Invalid ID."),
        },
        ("GET", ["orders", o, "notes"]) => match id(o).filter(|o| st.orders.contains_key(o)) {
            Some(o) => json_response(
                200,
                &Value::Array(st.notes.get(&o).cloned().unwrap_or_default()),
            ),
            None => wc_error(
                404,
                "woocommerce_rest_order_invalid_id",
                "Invalid order ID.",
            ),
        },
        ("GET", ["orders", o, "notes", n]) => {
            let found = id(o).zip(id(n)).and_then(|(o, n)| {
                st.notes
                    .get(&o)
                    .and_then(|l| l.iter().find(|x| x["id"].as_i64() == Some(n)).cloned())
            });
            match found {
                Some(n) => json_response(200, &n),
                None => wc_error(404, "woocommerce_rest_invalid_id", "Invalid resource ID."),
            }
        }
        ("POST", ["orders", o, "notes"]) => post_note(st, id(o), body),
        ("GET", ["products"]) => {
            let mut list: Vec<Value> = st.products.values().cloned().collect();
            if let Some(sku) = q(query, "sku") {
                list.retain(|p| p["sku"] == sku);
                if list.is_empty() {
                    list = st
                        .variations
                        .values()
                        .flatten()
                        .filter(|v| v["sku"] == sku)
                        .cloned()
                        .collect();
                }
            }
            if let Some(s) = q(query, "search") {
                let s = s.to_lowercase();
                list.retain(|p| {
                    p["name"]
                        .as_str()
                        .is_some_and(|n| n.to_lowercase().contains(&s))
                });
            }
            list.sort_by_key(|p| std::cmp::Reverse(p["id"].as_i64()));
            paged(list, query)
        }
        ("GET", ["products", "attributes"]) => paged(st.attributes.clone(), query),
        ("GET", ["products", "attributes", a, "terms"]) => {
            match id(a).and_then(|a| st.terms.get(&a)) {
                Some(t) => paged(t.clone(), query),
                None => wc_error(
                    404,
                    "woocommerce_rest_taxonomy_invalid",
                    "Resource does not exist.",
                ),
            }
        }
        ("GET", ["products", p]) => match id(p).and_then(|p| st.products.get(&p)) {
            Some(product) => json_response(200, product),
            None => wc_error(404, "woocommerce_rest_product_invalid_id", "Invalid ID."),
        },
        ("GET", ["products", p, "variations"]) => {
            match id(p).filter(|p| st.products.contains_key(p)) {
                Some(p) => {
                    let mut list = st.variations.get(&p).cloned().unwrap_or_default();
                    // WooCommerce's default: newest first, ties by higher id.
                    list.sort_by(|a, b| {
                        (b["date_created_gmt"].as_str(), b["id"].as_i64())
                            .cmp(&(a["date_created_gmt"].as_str(), a["id"].as_i64()))
                    });
                    paged(list, query)
                }
                None => wc_error(404, "woocommerce_rest_product_invalid_id", "Invalid ID."),
            }
        }
        ("GET", ["products", p, "variations", v]) => {
            let found = id(p).zip(id(v)).and_then(|(p, v)| {
                st.variations
                    .get(&p)
                    .and_then(|l| l.iter().find(|x| x["id"].as_i64() == Some(v)).cloned())
            });
            match found {
                Some(v) => json_response(200, &v),
                None => wc_error(
                    404,
                    "woocommerce_rest_product_variation_invalid_id",
                    "Invalid ID.",
                ),
            }
        }
        ("GET", ["webhooks"]) => {
            let mut list: Vec<Value> = st.webhooks.values().cloned().collect();
            list.reverse();
            paged(list, query)
        }
        ("GET", ["webhooks", w]) => match id(w).and_then(|w| st.webhooks.get(&w)) {
            Some(w) => json_response(200, w),
            None => wc_error(404, "woocommerce_rest_webhook_invalid_id", "Invalid ID."),
        },
        ("GET", ["settings", "general"]) => json_response(200, &st.settings_general),
        ("GET", ["settings", "tax"]) => json_response(200, &st.settings_tax),
        ("GET", ["taxes"]) => paged(st.taxes.clone(), query),
        _ => wc_error(
            404,
            "rest_no_route",
            "No route was found matching the URL and request method.",
        ),
    }
}

fn post_note(st: &mut State, order_id: Option<i64>, body: &[u8]) -> Response {
    let Some(order_id) = order_id.filter(|o| st.orders.contains_key(o)) else {
        return wc_error(
            404,
            "woocommerce_rest_order_invalid_id",
            "Invalid order ID.",
        );
    };
    let Ok(input) = serde_json::from_slice::<Value>(body) else {
        return wc_error(400, "rest_invalid_json", "Invalid JSON body passed.");
    };
    let note = input["note"].as_str().unwrap_or("").to_owned();
    if note.is_empty() {
        return invalid_param("note", "note is a required property of note.");
    }
    let customer_note = input["customer_note"].as_bool().unwrap_or(false);
    let id = st.next_note_id;
    st.next_note_id += 1;
    let now = chrono::Utc::now();
    let local = now + chrono::Duration::seconds(st.shop_offset_secs);
    let created = json!({
        "id": id, "author": "WooCommerce",
        "date_created": local.format("%Y-%m-%dT%H:%M:%S").to_string(),
        "date_created_gmt": now.format("%Y-%m-%dT%H:%M:%S").to_string(),
        "note": note, "customer_note": customer_note,
    });
    st.notes
        .entry(order_id)
        .or_default()
        .insert(0, created.clone());
    st.received_notes.push(ReceivedNote {
        order_id,
        note,
        customer_note,
        id,
    });
    let mut resp = json_response(201, &created);
    let location = format!("{}{API}/orders/{order_id}/notes/{id}", st.home_url);
    if let Ok(v) = HeaderValue::from_str(&location) {
        resp.headers_mut().insert("Location", v);
    }
    resp
}

/// `per_page` (1..=100, default 10) and `page`: the slice plus `X-WP-Total(Pages)`.
fn paged(list: Vec<Value>, query: &[(String, String)]) -> Response {
    let per_page = match q(query, "per_page").map(|v| v.parse::<i64>()) {
        None => 10,
        Some(Ok(n)) if (1..=100).contains(&n) => n as usize,
        Some(_) => {
            return invalid_param(
                "per_page",
                "per_page must be between 1 (inclusive) and 100 (inclusive)",
            );
        }
    };
    let page = match q(query, "page").map(|v| v.parse::<i64>()) {
        None => 1,
        Some(Ok(n)) if n >= 1 => n as usize,
        Some(_) => return invalid_param("page", "page must be greater than or equal to 1"),
    };
    let total = list.len();
    let pages = total.div_ceil(per_page);
    let items: Vec<Value> = list
        .into_iter()
        .skip((page - 1) * per_page)
        .take(per_page)
        .collect();
    // Past the end WooCommerce answers [] with zero totals.
    let (total, pages) = if items.is_empty() && page > 1 {
        (0, 0)
    } else {
        (total, pages)
    };
    let mut resp = json_response(200, &Value::Array(items));
    let h = resp.headers_mut();
    h.insert("X-WP-Total", HeaderValue::from(total as u64));
    h.insert("X-WP-TotalPages", HeaderValue::from(pages as u64));
    resp
}

/// A WooCommerce date value as a naive time plus whether it carried an offset.
fn parse_wc_time(s: &str) -> Option<(NaiveDateTime, Option<i64>)> {
    if let Ok(dt) = DateTime::parse_from_rfc3339(s) {
        return Some((
            dt.naive_utc(),
            Some(i64::from(dt.offset().local_minus_utc())),
        ));
    }
    NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S")
        .or_else(|_| NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S"))
        .ok()
        .map(|n| (n, None))
}

fn list_orders(st: &State, query: &[(String, String)]) -> Response {
    let statuses: Vec<String> = q(query, "status")
        .map(|s| s.split(',').map(|x| x.trim().to_lowercase()).collect())
        .unwrap_or_else(|| vec!["any".to_owned()]);
    if let Some((i, _)) = statuses
        .iter()
        .enumerate()
        .find(|(_, s)| !ORDER_STATUSES.contains(&s.as_str()))
    {
        return invalid_param(
            "status",
            &format!("status[{i}] is not one of {}.", ORDER_STATUSES.join(", ")),
        );
    }
    let gmt = q(query, "dates_are_gmt").is_some_and(|v| matches!(v, "true" | "1"));
    let offset = st.shop_offset_secs;
    // WooCommerce turns an offset time into shop-local wall time, then compares it with the
    // GMT column when dates_are_gmt is set (its mistake) or the local column otherwise.
    let after = match q(query, "modified_after") {
        None => None,
        Some(v) => match parse_wc_time(v) {
            Some((naive_utc, Some(_))) => Some(naive_utc + chrono::Duration::seconds(offset)),
            Some((naive, None)) => Some(naive),
            None => {
                return invalid_param("modified_after", "Invalid date.");
            }
        },
    };
    let modified = |o: &Value, use_gmt: bool| -> Option<NaiveDateTime> {
        let gmt_value = o["date_modified_gmt"]
            .as_str()
            .and_then(parse_wc_time)
            .map(|t| t.0);
        if use_gmt {
            gmt_value
        } else {
            o["date_modified"]
                .as_str()
                .and_then(parse_wc_time)
                .map(|t| t.0)
                .or_else(|| gmt_value.map(|g| g + chrono::Duration::seconds(offset)))
        }
    };
    let mut list: Vec<Value> = st
        .orders
        .values()
        .filter(|o| {
            let status = o["status"].as_str().unwrap_or("");
            statuses.iter().any(|s| s == "any" || s == status)
        })
        .filter(|o| match after {
            None => true,
            Some(a) => modified(o, gmt).is_some_and(|m| m > a),
        })
        .cloned()
        .collect();
    let orderby = q(query, "orderby").unwrap_or("date");
    let asc = q(query, "order").is_some_and(|o| o.eq_ignore_ascii_case("asc"));
    let key = |o: &Value| -> (String, i64) {
        let field = match orderby {
            "modified" => "date_modified_gmt",
            "id" => "id",
            _ => "date_created_gmt",
        };
        let v = match &o[field] {
            Value::String(s) => s.clone(),
            Value::Number(n) => format!("{:020}", n.as_i64().unwrap_or(0)),
            _ => String::new(),
        };
        (v, o["id"].as_i64().unwrap_or(0))
    };
    list.sort_by_key(key);
    if !asc {
        list.reverse();
    }
    paged(list, query)
}

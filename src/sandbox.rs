//! Provider sandboxes: local stand-ins for Spiff (GraphQL and REST), Apliiq and Key2print
//! that check every signature exactly as the providers document it and answer like them.
//! `printbridge demo` and `printbridge sandbox` run them; the tests use them to count what
//! reached each provider, and to make a provider fail for a while.
//!
//! Each provider listens on its own loopback port, so its base URL has no path prefix.
//! `GET /_sandbox/stats` (on every port) shows what each sandbox received; `POST
//! /_sandbox/faults` queues failures (`{"provider": "apliiq", "faults": [{"status": 500,
//! "after_effect": true}]}`) for tests that drive a bridge in another process.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use poem::http::StatusCode;
use poem::listener::TcpAcceptor;
use poem::web::{Data, Path};
use poem::{Body, EndpointExt, IntoResponse, Request, Response, Route, Server, get, handler, post};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

use crate::config::SpiffBodyHash;
use crate::providers::{apliiq, key2print, spiff};

/// The credentials the sandboxes accept (not secrets: they are printed by `printbridge sandbox`).
#[derive(Debug, Clone, Serialize)]
pub struct SandboxCredentials {
    pub spiff_application_key: String,
    pub spiff_access_key: String,
    pub spiff_secret_key: String,
    pub apliiq_app_id: String,
    pub apliiq_shared_secret: String,
    pub key2print_api_key: String,
    pub key2print_api_secret: String,
}

impl Default for SandboxCredentials {
    fn default() -> Self {
        SandboxCredentials {
            spiff_application_key: "sandbox-spiff-application-key".to_owned(),
            spiff_access_key: "sandbox-spiff-access-key".to_owned(),
            spiff_secret_key: "sandbox-spiff-secret-key".to_owned(),
            apliiq_app_id: "sandbox-apliiq-app".to_owned(),
            apliiq_shared_secret: "sandbox-apliiq-shared-secret".to_owned(),
            key2print_api_key: "sandbox-key2print-key".to_owned(),
            key2print_api_secret: "sandbox-key2print-secret".to_owned(),
        }
    }
}

/// A failure a sandbox answers with instead of its normal answer.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct Fault {
    /// HTTP status to answer (0: the normal answer).
    #[serde(default)]
    pub status: u16,
    /// `Retry-After` seconds to send with it.
    #[serde(default)]
    pub retry_after: Option<u64>,
    /// Carry out the request first (the order exists), then answer with the fault.
    #[serde(default)]
    pub after_effect: bool,
    /// Wait this long before answering (a slow provider, or a timeout for the caller).
    #[serde(default)]
    pub delay_ms: u64,
}

/// One request a sandbox received.
#[derive(Debug, Clone, Serialize)]
pub struct SandboxCall {
    pub provider: &'static str,
    pub call: String,
    pub signature_ok: bool,
    pub status: u16,
}

#[derive(Default)]
struct Inner {
    faults: HashMap<String, VecDeque<Fault>>,
    calls: Vec<SandboxCall>,
    /// Spiff transaction id -> orders created for it.
    spiff_orders: BTreeMap<String, u32>,
    /// Shop order id -> (Apliiq order id, orders created for it).
    apliiq_orders: BTreeMap<String, (String, u32)>,
    /// Key2print project id -> downloads.
    key2print_downloads: BTreeMap<String, u32>,
    key2print_users: u32,
    key2print_sessions: Vec<Value>,
    key2print_flushes: Vec<String>,
}

/// Shared state of the three sandboxes.
pub struct SandboxState {
    pub credentials: SandboxCredentials,
    inner: Mutex<Inner>,
}

/// What the sandboxes received, for tests and the demo.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct SandboxStats {
    pub spiff_orders: BTreeMap<String, u32>,
    pub apliiq_orders: BTreeMap<String, u32>,
    pub key2print_downloads: BTreeMap<String, u32>,
    pub key2print_users: u32,
    /// The `session/start` bodies received.
    pub key2print_sessions: Vec<Value>,
    pub key2print_flushes: Vec<String>,
    pub rejected_signatures: u32,
    pub calls: u32,
}

impl SandboxState {
    fn with<T>(&self, f: impl FnOnce(&mut Inner) -> T) -> T {
        let mut guard = match self.inner.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        f(&mut guard)
    }

    /// Queues failures for one provider (`spiff`, `apliiq`, `key2print`).
    pub fn push_faults(&self, provider: &str, faults: impl IntoIterator<Item = Fault>) {
        self.with(|i| {
            i.faults
                .entry(provider.to_owned())
                .or_default()
                .extend(faults)
        });
    }

    fn next_fault(&self, provider: &str) -> Option<Fault> {
        self.with(|i| i.faults.get_mut(provider).and_then(VecDeque::pop_front))
    }

    fn record(&self, provider: &'static str, call: &str, signature_ok: bool, status: u16) {
        self.with(|i| {
            i.calls.push(SandboxCall {
                provider,
                call: call.to_owned(),
                signature_ok,
                status,
            })
        });
    }

    pub fn calls(&self) -> Vec<SandboxCall> {
        self.with(|i| i.calls.clone())
    }

    pub fn stats(&self) -> SandboxStats {
        self.with(|i| SandboxStats {
            spiff_orders: i.spiff_orders.clone(),
            apliiq_orders: i
                .apliiq_orders
                .iter()
                .map(|(k, (_, n))| (k.clone(), *n))
                .collect(),
            key2print_downloads: i.key2print_downloads.clone(),
            key2print_users: i.key2print_users,
            key2print_sessions: i.key2print_sessions.clone(),
            key2print_flushes: i.key2print_flushes.clone(),
            rejected_signatures: u32::try_from(i.calls.iter().filter(|c| !c.signature_ok).count())
                .unwrap_or(u32::MAX),
            calls: u32::try_from(i.calls.len()).unwrap_or(u32::MAX),
        })
    }
}

/// The running sandboxes.
pub struct Sandbox {
    pub state: Arc<SandboxState>,
    pub spiff_addr: SocketAddr,
    pub apliiq_addr: SocketAddr,
    pub key2print_addr: SocketAddr,
    stops: Vec<oneshot::Sender<()>>,
}

impl Sandbox {
    /// Starts the three sandboxes on `host` (ports chosen by the system when `base_port` is 0,
    /// else `base_port`, `base_port+1`, `base_port+2`).
    pub async fn start(
        credentials: SandboxCredentials,
        host: &str,
        base_port: u16,
    ) -> std::io::Result<Sandbox> {
        let state = Arc::new(SandboxState {
            credentials,
            inner: Mutex::new(Inner::default()),
        });
        let port = |n: u16| if base_port == 0 { 0 } else { base_port + n };
        let mut stops = Vec::new();
        let spiff = Route::new()
            .at("/graphql", post(spiff_graphql))
            .at("/api/v2/orders", post(spiff_rest));
        let spiff_addr = serve(spiff, &state, host, port(0), &mut stops).await?;
        let apliiq = Route::new().at("/v1/Order", get(apliiq_find).post(apliiq_create));
        let apliiq_addr = serve(apliiq, &state, host, port(1), &mut stops).await?;
        let key2print = Route::new()
            .at("/api/v1/project/download/:id", get(k2p_download))
            .at("/files/:name", get(k2p_file))
            .at("/api/v1/user/add", post(k2p_user_add))
            .at("/api/v1/session/start", post(k2p_session))
            .at("/api/v1/cache/flush", post(k2p_flush));
        let key2print_addr = serve(key2print, &state, host, port(2), &mut stops).await?;
        Ok(Sandbox {
            state,
            spiff_addr,
            apliiq_addr,
            key2print_addr,
            stops,
        })
    }

    pub fn spiff_url(&self) -> String {
        format!("http://{}", self.spiff_addr)
    }
    pub fn apliiq_url(&self) -> String {
        format!("http://{}", self.apliiq_addr)
    }
    pub fn key2print_url(&self) -> String {
        format!("http://{}", self.key2print_addr)
    }

    /// A store whose providers are these sandboxes (Spiff over GraphQL, Apliiq, Key2print).
    pub fn store_config(
        &self,
        id: &str,
        webhook_secret: &str,
        api_token: &str,
    ) -> Result<crate::config::StoreConfig, String> {
        let c = &self.state.credentials;
        let text = format!(
            "id = {id:?}\nwebhook_secret = {webhook_secret:?}\napi_token = {api_token:?}\n\
             [spiff]\nbase_url = {:?}\napi = \"graphql\"\napplication_key = {:?}\n\
             [apliiq]\nbase_url = {:?}\napp_id = {:?}\nshared_secret = {:?}\n\
             [key2print]\nbase_url = {:?}\napi_key = {:?}\napi_secret = {:?}\n",
            self.spiff_url(),
            c.spiff_application_key,
            self.apliiq_url(),
            c.apliiq_app_id,
            c.apliiq_shared_secret,
            self.key2print_url(),
            c.key2print_api_key,
            c.key2print_api_secret,
        );
        toml::from_str(&text).map_err(|e| e.to_string())
    }

    /// Stops the sandboxes.
    pub fn stop(self) {
        for s in self.stops {
            let _ = s.send(());
        }
    }
}

async fn serve(
    route: Route,
    state: &Arc<SandboxState>,
    host: &str,
    port: u16,
    stops: &mut Vec<oneshot::Sender<()>>,
) -> std::io::Result<SocketAddr> {
    let listener = TcpListener::bind((host, port)).await?;
    let addr = listener.local_addr()?;
    let app = route
        .at("/_sandbox/stats", get(sandbox_stats))
        .at("/_sandbox/faults", post(queue_faults))
        .data(state.clone());
    let (tx, rx) = oneshot::channel::<()>();
    let acceptor = TcpAcceptor::from_tokio(listener)?;
    tokio::spawn(async move {
        let _ = Server::new_with_acceptor(acceptor)
            .run_with_graceful_shutdown(
                app,
                async move {
                    let _ = rx.await;
                },
                Some(Duration::from_secs(1)),
            )
            .await;
    });
    stops.push(tx);
    Ok(addr)
}

fn json_response(status: u16, body: &Value) -> Response {
    Response::builder()
        .status(StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
        .content_type("application/json")
        .body(body.to_string())
}

fn header(req: &Request, name: &str) -> String {
    req.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned()
}

/// Applies a queued fault: `Some(response)` answers instead of the normal handler.
async fn before(
    state: &SandboxState,
    provider: &'static str,
    call: &str,
) -> (Option<Response>, Option<Fault>) {
    let Some(fault) = state.next_fault(provider) else {
        return (None, None);
    };
    if fault.after_effect {
        return (None, Some(fault));
    }
    if fault.delay_ms > 0 {
        tokio::time::sleep(Duration::from_millis(fault.delay_ms)).await;
    }
    if fault.status == 0 {
        return (None, None);
    }
    state.record(provider, call, true, fault.status);
    (Some(fault_response(&fault)), None)
}

fn fault_response(fault: &Fault) -> Response {
    let mut resp = json_response(
        fault.status,
        &json!({
            "success": false,
            "details": "sandbox fault",
            "message": "sandbox fault",
            "errors": [{ "message": "sandbox fault" }]
        }),
    );
    if let Some(s) = fault.retry_after
        && let Ok(v) = poem::http::HeaderValue::from_str(&s.to_string())
    {
        resp.headers_mut().insert("Retry-After", v);
    }
    resp
}

/// After the effect: a fault queued with `after_effect` answers now.
async fn after(
    state: &SandboxState,
    provider: &'static str,
    call: &str,
    fault: Option<Fault>,
    normal: Response,
) -> Response {
    match fault {
        Some(f) => {
            if f.delay_ms > 0 {
                tokio::time::sleep(Duration::from_millis(f.delay_ms)).await;
            }
            if f.status == 0 {
                state.record(provider, call, true, normal.status().as_u16());
                return normal;
            }
            state.record(provider, call, true, f.status);
            fault_response(&f)
        }
        None => {
            state.record(provider, call, true, normal.status().as_u16());
            normal
        }
    }
}

fn spiff_items(body: &Value) -> Vec<String> {
    body.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|i| i["transactionId"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

fn spiff_create(state: &SandboxState, items: &[String]) -> String {
    state.with(|i| {
        for t in items {
            *i.spiff_orders.entry(t.clone()).or_default() += 1;
        }
    });
    uuid::Uuid::new_v4().to_string()
}

#[handler]
async fn spiff_graphql(req: &Request, body: Body, state: Data<&Arc<SandboxState>>) -> Response {
    let body = body.into_vec().await.unwrap_or_default();
    if header(req, "X-Application-Key") != state.credentials.spiff_application_key {
        state.record("spiff", "orderCreate", false, 401);
        return json_response(
            401,
            &json!({ "errors": [{ "message": "Invalid application key" }] }),
        );
    }
    let (early, fault) = before(&state, "spiff", "orderCreate").await;
    if let Some(r) = early {
        return r;
    }
    let parsed: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let items = spiff_items(&parsed["variables"]["orderItems"]);
    if !parsed["query"]
        .as_str()
        .unwrap_or("")
        .contains("orderCreate")
        || items.is_empty()
    {
        let r = json_response(
            200,
            &json!({ "errors": [{ "message": "orderItems must name at least one transactionId" }] }),
        );
        return after(&state, "spiff", "orderCreate", fault, r).await;
    }
    let id = spiff_create(&state, &items);
    let r = json_response(200, &json!({ "data": { "orderCreate": { "id": id } } }));
    after(&state, "spiff", "orderCreate", fault, r).await
}

#[handler]
async fn spiff_rest(req: &Request, body: Body, state: Data<&Arc<SandboxState>>) -> Response {
    let body = body.into_vec().await.unwrap_or_default();
    let auth = header(req, "Authorization");
    let date = header(req, "Date");
    let content_type = header(req, "Content-Type");
    let creds = &state.credentials;
    let expected = |hash| {
        spiff::soa_authorization(
            &creds.spiff_access_key,
            &creds.spiff_secret_key,
            hash,
            &spiff::SoaRequest {
                method: "POST",
                body: &body,
                content_type: &content_type,
                date: &date,
                path: req.uri().path(),
            },
        )
    };
    let ok = !date.is_empty()
        && [SpiffBodyHash::Sha512, SpiffBodyHash::Md5]
            .into_iter()
            .any(|h| crate::secret::Secret::new(expected(h)).matches(&auth));
    if !ok {
        state.record("spiff", "POST /api/v2/orders", false, 401);
        return json_response(401, &json!({ "error": "Invalid signature" }));
    }
    let (early, fault) = before(&state, "spiff", "POST /api/v2/orders").await;
    if let Some(r) = early {
        return r;
    }
    let parsed: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let items = spiff_items(&parsed["orderItems"]);
    if items.is_empty() {
        let r = json_response(
            400,
            &json!({ "error": "orderItems must name at least one transactionId" }),
        );
        return after(&state, "spiff", "POST /api/v2/orders", fault, r).await;
    }
    let id = spiff_create(&state, &items);
    let r = json_response(200, &json!({ "id": id }));
    after(&state, "spiff", "POST /api/v2/orders", fault, r).await
}

fn apliiq_verified(state: &SandboxState, req: &Request, body: &[u8]) -> bool {
    let auth = header(req, "Authorization");
    let Some(parts) = apliiq::parse_authorization(&auth) else {
        return false;
    };
    let creds = &state.credentials;
    if parts.app_id != creds.apliiq_app_id {
        return false;
    }
    let expected = apliiq::signature(
        &creds.apliiq_shared_secret,
        &parts.app_id,
        &parts.rts,
        &parts.state,
        body,
    );
    crate::secret::Secret::new(expected).matches(&parts.signature)
}

fn apliiq_denied() -> Response {
    json_response(
        401,
        &json!({ "Message": "Authorization has been denied for this request." }),
    )
}

#[handler]
async fn apliiq_create(req: &Request, body: Body, state: Data<&Arc<SandboxState>>) -> Response {
    let body = body.into_vec().await.unwrap_or_default();
    if !apliiq_verified(&state, req, &body) {
        state.record("apliiq", "POST /v1/Order", false, 401);
        return apliiq_denied();
    }
    let (early, fault) = before(&state, "apliiq", "POST /v1/Order").await;
    if let Some(r) = early {
        return r;
    }
    let order: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let Some(shop_id) = order["id"].as_str().map(str::to_owned) else {
        let r = json_response(400, &json!({ "Message": "id is required" }));
        return after(&state, "apliiq", "POST /v1/Order", fault, r).await;
    };
    if order["line_items"].as_array().is_none_or(Vec::is_empty) {
        let r = json_response(400, &json!({ "Message": "line_items is required" }));
        return after(&state, "apliiq", "POST /v1/Order", fault, r).await;
    }
    let held = order["shipping_lines"][0]["code"].as_str() == Some("hold");
    let apliiq_id = state.with(|i| {
        let next = 70000 + i.apliiq_orders.len();
        let entry = i
            .apliiq_orders
            .entry(shop_id.clone())
            .or_insert_with(|| (format!("{next}"), 0));
        entry.1 += 1;
        entry.0.clone()
    });
    let r = if held {
        json_response(
            202,
            &json!({ "reason": "held for review: address needs confirmation" }),
        )
    } else {
        json_response(
            200,
            &json!({ "OrderId": apliiq_id, "StoreOrderId": shop_id }),
        )
    };
    after(&state, "apliiq", "POST /v1/Order", fault, r).await
}

#[handler]
async fn apliiq_find(req: &Request, state: Data<&Arc<SandboxState>>) -> Response {
    if !apliiq_verified(&state, req, b"") {
        state.record("apliiq", "GET /v1/Order", false, 401);
        return apliiq_denied();
    }
    let (early, fault) = before(&state, "apliiq", "GET /v1/Order").await;
    if let Some(r) = early {
        return r;
    }
    let list: Vec<Value> = state.with(|i| {
        i.apliiq_orders
            .iter()
            .map(|(shop, (id, _))| json!({ "OrderId": id, "StoreOrderId": shop, "Status": "received" }))
            .collect()
    });
    let r = json_response(200, &Value::Array(list));
    after(&state, "apliiq", "GET /v1/Order", fault, r).await
}

fn k2p_verified(state: &SandboxState, req: &Request, method: &str, body: &[u8]) -> bool {
    let creds = &state.credentials;
    header(req, "api-key") == creds.key2print_api_key
        && crate::secret::Secret::new(key2print::webapi_sign(
            &creds.key2print_api_secret,
            method,
            body,
        ))
        .matches(&header(req, "api-sign"))
}

fn k2p_denied() -> Response {
    json_response(
        401,
        &json!({ "success": false, "error_message": "Invalid api-key or api-sign" }),
    )
}

/// A small, valid one-page PDF naming the project.
pub fn sample_pdf(project: &str) -> Vec<u8> {
    let text: String = project
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect();
    let content = format!("BT /F1 18 Tf 72 720 Td (PrintBridge sandbox project {text}) Tj ET");
    let objects = [
        "<< /Type /Catalog /Pages 2 0 R >>".to_owned(),
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_owned(),
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>".to_owned(),
        format!("<< /Length {} >>\nstream\n{content}\nendstream", content.len()),
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>".to_owned(),
    ];
    let mut out = b"%PDF-1.4\n".to_vec();
    let mut offsets = Vec::new();
    for (n, obj) in objects.iter().enumerate() {
        offsets.push(out.len());
        out.extend_from_slice(format!("{} 0 obj\n{obj}\nendobj\n", n + 1).as_bytes());
    }
    let xref = out.len();
    out.extend_from_slice(
        format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes(),
    );
    for o in offsets {
        out.extend_from_slice(format!("{o:010} 00000 n \n").as_bytes());
    }
    out.extend_from_slice(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            objects.len() + 1
        )
        .as_bytes(),
    );
    out
}

#[handler]
async fn k2p_download(
    req: &Request,
    Path(id): Path<String>,
    state: Data<&Arc<SandboxState>>,
) -> Response {
    if !k2p_verified(&state, req, "GET", b"") {
        state.record("key2print", "project/download", false, 401);
        return k2p_denied();
    }
    let (early, fault) = before(&state, "key2print", "project/download").await;
    if let Some(r) = early {
        return r;
    }
    state.with(|i| *i.key2print_downloads.entry(id.clone()).or_default() += 1);
    let host = header(req, "Host");
    let r = json_response(
        200,
        &json!({ "success": true, "data": { "download_url": format!("http://{host}/files/{id}.pdf") } }),
    );
    after(&state, "key2print", "project/download", fault, r).await
}

#[handler]
async fn k2p_file(Path(name): Path<String>) -> Response {
    let project = name.trim_end_matches(".pdf");
    Response::builder()
        .content_type("application/pdf")
        .body(sample_pdf(project))
}

async fn k2p_post(
    req: &Request,
    body: Body,
    state: &SandboxState,
    call: &str,
) -> Result<Value, Response> {
    let body = body.into_vec().await.unwrap_or_default();
    if !k2p_verified(state, req, "POST", &body) {
        state.record("key2print", call, false, 401);
        return Err(k2p_denied());
    }
    let (early, _) = before(state, "key2print", call).await;
    if let Some(r) = early {
        return Err(r);
    }
    state.record("key2print", call, true, 200);
    Ok(serde_json::from_slice(&body).unwrap_or(Value::Null))
}

#[handler]
async fn k2p_user_add(req: &Request, body: Body, state: Data<&Arc<SandboxState>>) -> Response {
    match k2p_post(req, body, &state, "user/add").await {
        Err(r) => r,
        Ok(user) => {
            state.with(|i| i.key2print_users += 1);
            json_response(
                200,
                &json!({ "success": true, "data": { "id": uuid::Uuid::new_v4().to_string(), "username": user["username"], "email": user["email"] } }),
            )
        }
    }
}

#[handler]
async fn k2p_session(req: &Request, body: Body, state: Data<&Arc<SandboxState>>) -> Response {
    match k2p_post(req, body, &state, "session/start").await {
        Err(r) => r,
        Ok(start) => {
            state.with(|i| i.key2print_sessions.push(start.clone()));
            json_response(
                200,
                &json!({ "success": true, "data": {
                    "id": uuid::Uuid::new_v4().to_string(),
                    "token": uuid::Uuid::new_v4().simple().to_string(),
                    "mode": start["mode"],
                    "project": { "id": start["projectId"].as_str().map(str::to_owned).unwrap_or_else(|| uuid::Uuid::new_v4().to_string()) }
                } }),
            )
        }
    }
}

#[handler]
async fn k2p_flush(req: &Request, body: Body, state: Data<&Arc<SandboxState>>) -> Response {
    match k2p_post(req, body, &state, "cache/flush").await {
        Err(r) => r,
        Ok(b) => {
            let id = b["productIdentifier"].as_str().unwrap_or("").to_owned();
            state.with(|i| i.key2print_flushes.push(id));
            json_response(200, &json!({ "success": true }))
        }
    }
}

#[handler]
fn sandbox_stats(state: Data<&Arc<SandboxState>>) -> Response {
    json_response(
        200,
        &serde_json::to_value(state.stats()).unwrap_or(Value::Null),
    )
}

#[derive(Deserialize)]
struct FaultRequest {
    provider: String,
    faults: Vec<Fault>,
}

#[handler]
async fn queue_faults(body: Body, state: Data<&Arc<SandboxState>>) -> impl IntoResponse {
    let body = body.into_vec().await.unwrap_or_default();
    match serde_json::from_slice::<FaultRequest>(&body) {
        Ok(f) => {
            state.push_faults(&f.provider, f.faults);
            json_response(200, &json!({ "queued": true }))
        }
        Err(e) => json_response(
            400,
            &json!({ "error": "bad_request", "message": e.to_string() }),
        ),
    }
}

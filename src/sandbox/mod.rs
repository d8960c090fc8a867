//! Provider sandboxes: local stand-ins for Spiff (GraphQL and REST), Apliiq and Key2print
//! that check every request as the providers document it and answer like them.
//! `printbridge demo` and `printbridge sandbox` run them; the tests use them to count what
//! reached each provider, and to make a provider fail for a while.
//!
//! Each sandbox verifies with its own code, written from the provider's document and sharing
//! nothing with the bridge's signing code in `providers/`, so a signing mistake in the bridge is
//! refused here as the provider would refuse it ([`spiff`], [`apliiq`], [`key2print`]).
//!
//! Each provider listens on its own loopback port, so its base URL has no path prefix.
//! `GET /_sandbox/stats` (on every port) shows what each sandbox received; `POST
//! /_sandbox/faults` queues failures (`{"provider": "apliiq", "faults": [{"status": 500,
//! "after_effect": true}]}`) for tests that drive a bridge in another process.

pub mod apliiq;
pub mod key2print;
pub mod key2print_editor;
mod key2print_store;
pub mod shop;
pub mod spiff;

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use poem::http::StatusCode;
use poem::listener::TcpAcceptor;
use poem::web::Data;
use poem::{
    Body, EndpointExt, IntoEndpoint, IntoResponse, Request, Response, Route, Server, get, handler,
    post,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

use crate::clock::{Clock, SystemClock};
use crate::config::SpiffBodyHash;

/// The credentials the sandboxes accept (not secrets: they are printed by `printbridge sandbox`).
#[derive(Debug, Clone, Serialize)]
pub struct SandboxCredentials {
    pub spiff_application_key: String,
    pub spiff_access_key: String,
    pub spiff_secret_key: String,
    /// The body digest Spiff REST signatures must use (the store's `spiff.body_hash`).
    #[serde(skip)]
    pub spiff_body_hash: SpiffBodyHash,
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
            spiff_body_hash: SpiffBodyHash::Sha512,
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
    /// Apliiq `STATE` nonces seen, with their `RTS`, kept for the time window.
    apliiq_nonces: HashMap<String, i64>,
    /// When (Unix seconds) `apliiq_nonces` was last pruned.
    apliiq_nonces_pruned_at: i64,
    /// Key2print project id -> downloads.
    key2print_downloads: BTreeMap<String, u32>,
    key2print_users: u32,
    key2print_sessions: Vec<Value>,
    /// Key2print work sessions started: (session id, `session/start` body).
    key2print_open_sessions: Vec<(String, Value)>,
    key2print_flushes: Vec<String>,
    /// Key2print's stored entities (users, template formats, placeholders) by list name.
    key2print_entities: BTreeMap<&'static str, Vec<Value>>,
}

/// Shared state of the three sandboxes.
pub struct SandboxState {
    pub credentials: SandboxCredentials,
    /// The provider's clock: Spiff's `Date` and Apliiq's `RTS` must lie within a window of it.
    pub clock: Arc<dyn Clock>,
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

    /// Adds a Key2print project template to a template format (as the merchant-mode editor
    /// would); `None` when there is no such format.
    pub fn add_key2print_template(&self, format_id: &str, name: &str) -> Option<String> {
        key2print_store::add_template(self, format_id, name)
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
    /// else `base_port`, `base_port+1`, `base_port+2`), on the system clock.
    pub async fn start(
        credentials: SandboxCredentials,
        host: &str,
        base_port: u16,
    ) -> std::io::Result<Sandbox> {
        Sandbox::start_with_clock(credentials, host, base_port, Arc::new(SystemClock)).await
    }

    /// Like [`Sandbox::start`], with the providers' clock given.
    pub async fn start_with_clock(
        credentials: SandboxCredentials,
        host: &str,
        base_port: u16,
        clock: Arc<dyn Clock>,
    ) -> std::io::Result<Sandbox> {
        let state = Arc::new(SandboxState {
            credentials,
            clock,
            inner: Mutex::new(Inner::default()),
        });
        let port = |n: u16| if base_port == 0 { 0 } else { base_port + n };
        let mut stops = Vec::new();
        let spiff_addr = serve(spiff::routes(), &state, host, port(0), &mut stops).await?;
        let apliiq_addr = serve(apliiq::routes(), &state, host, port(1), &mut stops).await?;
        let key2print_addr = serve(key2print::routes(), &state, host, port(2), &mut stops).await?;
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
    stops.push(spawn_server(listener, app)?);
    Ok(addr)
}

/// Serves `endpoint` on `listener` in a task of its own until the returned sender is used
/// or dropped.
pub(crate) fn spawn_server<E>(
    listener: TcpListener,
    endpoint: E,
) -> std::io::Result<oneshot::Sender<()>>
where
    E: IntoEndpoint + Send + 'static,
    E::Endpoint: 'static,
{
    let (tx, rx) = oneshot::channel::<()>();
    let acceptor = TcpAcceptor::from_tokio(listener)?;
    tokio::spawn(async move {
        let _ = Server::new_with_acceptor(acceptor)
            .run_with_graceful_shutdown(
                endpoint,
                async move {
                    let _ = rx.await;
                },
                Some(Duration::from_secs(1)),
            )
            .await;
    });
    Ok(tx)
}

pub(crate) fn json_response(status: u16, body: &Value) -> Response {
    Response::builder()
        .status(StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
        .content_type("application/json")
        .body(body.to_string())
}

pub(crate) fn header(req: &Request, name: &str) -> String {
    req.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned()
}

/// Applies a queued fault: `Some(response)` answers instead of the normal handler.
pub(crate) async fn before(
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
pub(crate) async fn after(
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

//! Events out: order events signed as the Standard Webhooks specification describes, sent
//! from the outbox to the endpoints a store configures. The receiver here checks every
//! delivery with a verifier of its own (HMAC-SHA256 written out from RFC 2104 over SHA-256,
//! the signed content and secret format from the specification), not the bridge's signer.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use printbridge::config::StoreConfig;
use printbridge::sandbox::Fault;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use wiremock::{Mock, MockServer, Respond, ResponseTemplate};

use crate::support::{self, Backend, Item, TestApp, eventually, order_json, sandbox_store};

const SECRET: &str = "events-webhook-secret";
/// The example secret of the Standard Webhooks specification (24 key bytes).
const EVENT_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const WAIT: Duration = Duration::from_secs(60);

/// HMAC-SHA256 (RFC 2104): H((K ^ opad) || H((K ^ ipad) || m)), 64-byte blocks.
fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    let mut block = [0u8; 64];
    if key.len() > 64 {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let pad = |byte: u8| block.map(|b| b ^ byte);
    let inner = Sha256::new()
        .chain_update(pad(0x36))
        .chain_update(message)
        .finalize();
    Sha256::new()
        .chain_update(pad(0x5c))
        .chain_update(inner)
        .finalize()
        .into()
}

/// Verifies a delivery as a Standard Webhooks receiver does: the key is the base64 after
/// `whsec_`; the signed content `{id}.{timestamp}.{body}`; one of the space-separated
/// `v1,<base64>` signatures must match; the timestamp within five minutes of now.
fn verify(secret: &str, id: &str, timestamp: &str, signatures: &str, body: &[u8]) -> bool {
    let b64 = base64::engine::general_purpose::STANDARD;
    let Some(key) = secret
        .strip_prefix("whsec_")
        .and_then(|k| b64.decode(k).ok())
    else {
        return false;
    };
    let Ok(ts) = timestamp.parse::<i64>() else {
        return false;
    };
    let now = chrono::Utc::now().timestamp();
    if (now - ts).abs() > 300 {
        return false;
    }
    let content = [id.as_bytes(), b".", timestamp.as_bytes(), b".", body].concat();
    let expected = b64.encode(hmac_sha256(&key, &content));
    signatures
        .split(' ')
        .filter_map(|s| s.strip_prefix("v1,"))
        .any(|sig| sig == expected)
}

/// A delivery the receiver saw: its webhook-id, whether its signature verified, its body.
#[derive(Debug, Clone)]
pub(crate) struct Seen {
    id: String,
    verified: bool,
    body: Value,
}

/// An event endpoint: refuses the first `fail_first` verified deliveries (503), and every
/// delivery whose signature does not verify (401); accepts the rest. `always_fail` answers
/// 500 to everything.
pub(crate) struct Receiver {
    secret: String,
    fail_first: usize,
    always_fail: bool,
    refused: AtomicUsize,
    seen: Mutex<Vec<Seen>>,
    accepted: Mutex<Vec<Seen>>,
}

impl Receiver {
    pub(crate) fn new(fail_first: usize, always_fail: bool) -> Arc<Receiver> {
        Arc::new(Receiver {
            secret: EVENT_SECRET.to_owned(),
            fail_first,
            always_fail,
            refused: AtomicUsize::new(0),
            seen: Mutex::new(Vec::new()),
            accepted: Mutex::new(Vec::new()),
        })
    }

    pub(crate) fn seen(&self) -> Vec<Seen> {
        self.seen.lock().expect("lock").clone()
    }

    pub(crate) fn accepted(&self) -> Vec<Seen> {
        self.accepted.lock().expect("lock").clone()
    }
}

struct Endpoint(Arc<Receiver>);

impl Respond for Endpoint {
    fn respond(&self, request: &wiremock::Request) -> ResponseTemplate {
        let r = &self.0;
        let header = |name: &str| {
            request
                .headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned()
        };
        let id = header("webhook-id");
        let verified = verify(
            &r.secret,
            &id,
            &header("webhook-timestamp"),
            &header("webhook-signature"),
            &request.body,
        );
        let seen = Seen {
            id,
            verified,
            body: serde_json::from_slice(&request.body).unwrap_or(Value::Null),
        };
        r.seen.lock().expect("lock").push(seen.clone());
        if r.always_fail {
            return ResponseTemplate::new(500);
        }
        if !verified {
            return ResponseTemplate::new(401);
        }
        if r.refused.fetch_add(1, Ordering::SeqCst) < r.fail_first {
            return ResponseTemplate::new(503).set_body_string("not yet");
        }
        r.accepted.lock().expect("lock").push(seen);
        ResponseTemplate::new(204)
    }
}

/// A local endpoint answering with `receiver`.
pub(crate) async fn endpoint(receiver: &Arc<Receiver>) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(wiremock::matchers::method("POST"))
        .and(wiremock::matchers::path("/hooks"))
        .respond_with(Endpoint(receiver.clone()))
        .mount(&server)
        .await;
    server
}

/// `store` with an event endpoint at `server` taking `types` (all when empty).
pub(crate) fn with_endpoint(store: &mut StoreConfig, server: &MockServer, types: &[&str]) {
    let types = if types.is_empty() {
        String::new()
    } else {
        format!("types = {types:?}\n")
    };
    let text = format!(
        "url = \"{}/hooks\"\nsecret = \"{EVENT_SECRET}\"\n{types}",
        server.uri()
    );
    store.events.push(toml::from_str(&text).expect("endpoint"));
}

/// The store's jobs of the `events` queue.
async fn event_jobs(app: &TestApp) -> Vec<Value> {
    let (status, page) = app
        .admin_get("/v1/admin/jobs?provider=events&limit=500")
        .await;
    assert_eq!(status, 200, "{page}");
    page["jobs"].as_array().cloned().unwrap_or_default()
}

/// An endpoint that fails three times receives `order.placed` exactly once after it
/// recovers, every attempt with the same webhook-id, each signature verified by the test's
/// own verifier.
async fn a_failing_endpoint_gets_the_event_once_after_recovery(backend: Backend) {
    let sb = support::start_sandbox().await;
    let receiver = Receiver::new(3, false);
    let server = endpoint(&receiver).await;
    let mut store = sandbox_store(&sb, "shop", SECRET);
    with_endpoint(&mut store, &server, &["order.placed"]);
    let app = TestApp::spawn(backend, |c| {
        support::fast_dispatch(c);
        c.stores = vec![store];
    })
    .await;
    let tx = "00000000-0000-4000-8000-000000000701";
    let order = order_json(701, "processing", "2026-11-23T08:00:00", &[Item::Spiff(tx)]);
    app.post_order("shop", SECRET, &order).await;

    let jobs = app.settled_jobs(WAIT).await;
    let event_job = jobs
        .iter()
        .find(|j| j["provider"] == "events")
        .cloned()
        .unwrap_or_else(|| panic!("no event job: {jobs:?}"));
    assert_eq!(event_job["state"], "done", "{event_job}");
    assert_eq!(event_job["kind"], "send_event");
    let seen = receiver.seen();
    assert_eq!(seen.len(), 4, "three refused, one accepted: {seen:?}");
    assert!(seen.iter().all(|s| s.verified), "{seen:?}");
    assert!(seen.iter().all(|s| s.id == seen[0].id), "{seen:?}");
    assert!(seen[0].id.starts_with("msg_"), "{seen:?}");
    let accepted = receiver.accepted();
    assert_eq!(accepted.len(), 1, "{accepted:?}");
    let body = &accepted[0].body;
    assert_eq!(body["type"], "order.placed", "{body}");
    assert_eq!(body["data"]["store"], "shop");
    assert_eq!(body["data"]["order_id"], 701);
    assert_eq!(body["data"]["number"], "701");
    assert_eq!(body["data"]["provider"], "spiff");
    assert!(
        chrono::DateTime::parse_from_rfc3339(body["timestamp"].as_str().unwrap_or("")).is_ok(),
        "{body}"
    );
    let (_, detail) = app
        .admin_get(&format!("/v1/admin/jobs/{}", event_job["id"]))
        .await;
    let attempts = detail["attempts_log"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let statuses: Vec<&Value> = attempts.iter().map(|a| &a["status_code"]).collect();
    assert_eq!(
        statuses,
        [&json!(503), &json!(503), &json!(503), &json!(204)]
    );
    app.stop().await;
    sb.stop();
}
on_both_backends!(
    failing_endpoint_receives_once,
    a_failing_endpoint_gets_the_event_once_after_recovery
);

/// The signed bodies of `receiver`'s accepted deliveries of type `kind`.
pub(crate) fn accepted_of(receiver: &Receiver, kind: &str) -> Vec<Value> {
    receiver
        .accepted()
        .into_iter()
        .filter(|s| s.body["type"] == kind)
        .map(|s| s.body)
        .collect()
}

/// Posts an Apliiq fulfilment of order `order_id` with `numbers`; returns the ack.
async fn apliiq_shipped(
    app: &TestApp,
    sb: &printbridge::sandbox::Sandbox,
    order_id: i64,
    numbers: &[&str],
) -> Value {
    let body = serde_json::to_vec(&json!({"fulfillment": {
        "order_id": order_id.to_string(), "status": "success", "tracking_company": "UPS",
        "tracking_numbers": numbers, "tracking_urls": ["https://track.example/1"],
    }}))
    .expect("json");
    let secret = &sb.state.credentials.apliiq_shared_secret;
    let r = app
        .client
        .post(app.url("/v1/callbacks/apliiq/shop"))
        .header("Content-Type", "application/json")
        .header(
            "x-apliiq-hmac",
            printbridge::providers::apliiq::callback_hmac(secret, &body),
        )
        .body(body)
        .send()
        .await
        .expect("callback");
    assert_eq!(r.status().as_u16(), 200);
    r.json().await.expect("ack")
}

/// Each event type comes from its real cause: a Spiff order refused for good is a dead
/// letter (`order.dead_lettered`, `order.needs_attention`), an Apliiq order placed
/// (`order.placed`), its fulfilment callback (`order.shipped`, once though Apliiq sends it
/// twice), the order cancelled after that (`order.needs_attention` from the ledger). A
/// second endpoint that always fails gets only the types it asked for, and its dead event
/// jobs emit nothing about themselves.
async fn each_event_type_comes_from_its_cause(backend: Backend) {
    let sb = support::start_sandbox().await;
    sb.state.push_faults(
        "spiff",
        [Fault {
            status: 400,
            ..Fault::default()
        }],
    );
    let good = Receiver::new(0, false);
    let bad = Receiver::new(0, true);
    let (good_server, bad_server) = (endpoint(&good).await, endpoint(&bad).await);
    let mut store = sandbox_store(&sb, "shop", SECRET);
    with_endpoint(&mut store, &good_server, &[]);
    with_endpoint(&mut store, &bad_server, &["order.dead_lettered"]);
    let app = TestApp::spawn(backend, |c| {
        support::fast_dispatch(c);
        c.dispatch.max_attempts = std::num::NonZeroU32::new(2).expect("2");
        c.stores = vec![store];
    })
    .await;
    let tx = "00000000-0000-4000-8000-000000000702";
    let items = [Item::Spiff(tx), Item::Apliiq("APQ-1998244S7A1")];
    let order = order_json(702, "processing", "2026-11-23T08:00:00", &items);
    app.post_order("shop", SECRET, &order).await;
    app.settled_jobs(WAIT).await;

    let dead = accepted_of(&good, "order.dead_lettered");
    assert_eq!(dead.len(), 1, "{dead:?}");
    assert_eq!(dead[0]["data"]["provider"], "spiff");
    assert_eq!(dead[0]["data"]["kind"], "place_order");
    let attention = accepted_of(&good, "order.needs_attention");
    assert_eq!(attention.len(), 1, "{attention:?}");
    assert!(
        attention[0]["data"]["reason"]
            .as_str()
            .is_some_and(|r| r.contains("Spiff dead letter")),
        "{attention:?}"
    );
    let placed = accepted_of(&good, "order.placed");
    assert_eq!(placed.len(), 1, "{placed:?}");
    assert_eq!(placed[0]["data"]["provider"], "apliiq");

    for _ in 0..2 {
        apliiq_shipped(&app, &sb, 702, &["1Z999AA10123456784"]).await;
    }
    let cancelled = order_json(702, "cancelled", "2026-11-23T09:00:00", &items);
    app.post_order("shop", SECRET, &cancelled).await;
    app.settled_jobs(WAIT).await;
    let shipped = accepted_of(&good, "order.shipped");
    assert_eq!(shipped.len(), 1, "{shipped:?}");
    assert_eq!(
        shipped[0]["data"]["tracking"],
        json!([{"number": "1Z999AA10123456784", "url": "https://track.example/1"}])
    );
    assert_eq!(shipped[0]["data"]["carrier"], "UPS");
    let attention = accepted_of(&good, "order.needs_attention");
    assert_eq!(attention.len(), 2, "{attention:?}");
    assert!(
        attention[1]["data"]["reason"]
            .as_str()
            .is_some_and(|r| r.contains("became cancelled after it was sent to apliiq")),
        "{attention:?}"
    );
    // The failing endpoint asked for dead letters only: it saw the one dead letter (twice:
    // two attempts), and its own dead event job emitted nothing.
    let bad_seen = bad.seen();
    assert_eq!(bad_seen.len(), 2, "{bad_seen:?}");
    assert!(
        bad_seen
            .iter()
            .all(|s| s.body["type"] == "order.dead_lettered" && s.verified)
    );
    let jobs = event_jobs(&app).await;
    let dead_events: Vec<&Value> = jobs.iter().filter(|j| j["state"] == "dead").collect();
    assert_eq!(dead_events.len(), 1, "{jobs:?}");
    assert_eq!(
        jobs.len(),
        6,
        "five to the good endpoint, one to the bad: {jobs:?}"
    );
    assert!(
        good.accepted()
            .iter()
            .all(|s| s.body["data"]["provider"] != "events"),
        "no event about an event job"
    );
    // The plugin's order screen lists provider orders only.
    let (_, view) = app
        .store_get("/v1/stores/shop/orders/702", support::STORE_TOKEN)
        .await;
    let providers: Vec<&str> = view["provider_orders"]
        .as_array()
        .map(|o| o.iter().filter_map(|p| p["provider"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(providers, ["spiff", "apliiq"], "{view}");
    app.stop().await;
    sb.stop();
}
on_both_backends!(each_event_type, each_event_type_comes_from_its_cause);

/// A replayed dead event is sent again with the same webhook-id and body.
async fn a_replayed_event_keeps_its_id(backend: Backend) {
    let sb = support::start_sandbox().await;
    // Two refusals use up both attempts; the replay's delivery is accepted.
    let receiver = Receiver::new(2, false);
    let server = endpoint(&receiver).await;
    let mut store = sandbox_store(&sb, "shop", SECRET);
    with_endpoint(&mut store, &server, &["order.placed"]);
    let app = TestApp::spawn(backend, |c| {
        support::fast_dispatch(c);
        c.dispatch.max_attempts = std::num::NonZeroU32::new(2).expect("2");
        c.stores = vec![store];
    })
    .await;
    let tx = "00000000-0000-4000-8000-000000000703";
    let order = order_json(703, "processing", "2026-11-23T08:00:00", &[Item::Spiff(tx)]);
    app.post_order("shop", SECRET, &order).await;
    let jobs = app.settled_jobs(WAIT).await;
    let job = jobs
        .iter()
        .find(|j| j["provider"] == "events")
        .cloned()
        .unwrap_or(Value::Null);
    assert_eq!(job["state"], "dead", "{jobs:?}");
    assert!(receiver.accepted().is_empty());
    let (status, _) = app
        .admin_post(&format!("/v1/admin/jobs/{}/replay", job["id"]))
        .await;
    assert_eq!(status, 200);
    let accepted = eventually(WAIT, "the replayed event", || async {
        let a = receiver.accepted();
        (!a.is_empty()).then_some(a)
    })
    .await;
    let seen = receiver.seen();
    assert_eq!(seen.len(), 3, "{seen:?}");
    assert!(seen.iter().all(|s| s.verified && s.id == seen[0].id));
    assert_eq!(accepted[0].body, seen[0].body);
    app.stop().await;
    sb.stop();
}
on_both_backends!(replayed_event, a_replayed_event_keeps_its_id);

#[test]
fn the_verifier_accepts_the_specifications_example() {
    // The example holds a timestamp of 2021; the verifier's clock check is what is left
    // out here, so the signature is compared directly.
    let b64 = base64::engine::general_purpose::STANDARD;
    let key = b64.decode("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").expect("key");
    let content = br#"msg_p5jXN8AQM9LWM0D4loKWxJek.1614265330.{"test": 2432232314}"#;
    assert_eq!(
        b64.encode(hmac_sha256(&key, content)),
        "g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    );
    // A key longer than a block is hashed first (RFC 2104), as the hmac crate does.
    let long = [7u8; 100];
    use hmac::{KeyInit, Mac};
    let mut mac = hmac::Hmac::<Sha256>::new_from_slice(&long).expect("key");
    mac.update(b"x");
    assert_eq!(
        hmac_sha256(&long, b"x"),
        <[u8; 32]>::from(mac.finalize().into_bytes())
    );
}

/// The OpenAPI document lists each event type as a webhook with its signature headers.
#[test]
fn the_openapi_document_lists_the_events_as_webhooks() {
    let spec: Value = serde_json::from_str(&printbridge::http::openapi_json()).expect("json");
    for (kind, schema) in [
        ("order.placed", "OrderPlacedEvent"),
        ("order.shipped", "OrderShippedEvent"),
        ("order.needs_attention", "OrderNeedsAttentionEvent"),
        ("order.dead_lettered", "OrderDeadLetteredEvent"),
    ] {
        let op = &spec["webhooks"][kind]["post"];
        let headers: Vec<&str> = op["parameters"]
            .as_array()
            .map(|p| p.iter().filter_map(|h| h["name"].as_str()).collect())
            .unwrap_or_default();
        assert_eq!(
            headers,
            ["webhook-id", "webhook-timestamp", "webhook-signature"],
            "{kind}"
        );
        assert_eq!(
            op["requestBody"]["content"]["application/json; charset=utf-8"]["schema"]["$ref"],
            format!("#/components/schemas/{schema}"),
            "{kind}"
        );
    }
}

/// An order whose items cannot be sent as they are is flagged by the ledger with one
/// `order.needs_attention`, however often the order is updated with the same problem.
async fn flagged_items_are_told_once(backend: Backend) {
    let receiver = Receiver::new(0, false);
    let server = endpoint(&receiver).await;
    let mut store = support::store_config("shop", SECRET);
    with_endpoint(&mut store, &server, &["order.needs_attention"]);
    let app = TestApp::spawn(backend, |c| {
        support::fast_dispatch(c);
        c.stores = vec![store];
    })
    .await;
    let bad = [Item::Spiff("not a design id!")];
    for modified in ["2026-11-23T08:00:00", "2026-11-23T08:05:00"] {
        let order = order_json(704, "processing", modified, &bad);
        let ack = app.post_order("shop", SECRET, &order).await;
        assert_eq!(ack["outcome"], "applied", "{ack}");
    }
    app.settled_jobs(WAIT).await;
    let told = accepted_of(&receiver, "order.needs_attention");
    assert_eq!(told.len(), 1, "{told:?}");
    assert_eq!(told[0]["data"]["order_id"], 704);
    let reason = told[0]["data"]["reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains("has characters other than letters"),
        "{reason}"
    );
    let (_, order) = app.admin_get("/v1/admin/orders/shop/704").await;
    assert_eq!(
        order["items"][0]["detail"].as_str(),
        Some(reason),
        "{order}"
    );
    app.stop().await;
}
on_both_backends!(flagged_items, flagged_items_are_told_once);

//! Events out: what happened to an order (`order.placed`, `order.shipped`,
//! `order.needs_attention`, `order.dead_lettered`), sent to the endpoints a store configures
//! (`[[stores.events]]`) and signed as the Standard Webhooks specification describes.
//!
//! An event is planned in the transaction that records its cause, as one outbox job per
//! endpoint (queue `events`, kind `send_event`), so it is never lost nor planned twice, and
//! it shares the outbox's retry, dead-letter and replay rules. The job's payload keeps the
//! message id and the exact body, so every attempt and every replay sends the same
//! `webhook-id` and bytes; only `webhook-timestamp` and the signature are made per attempt.
//! An event job never plans an event itself: a dead event job leaves no
//! `order.dead_lettered` about itself.

use std::fmt;

use base64::Engine as _;
use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use sqlx::{Database, Encode, Executor, IntoArguments, QueryBuilder, Type};

use crate::secret::Secret;
use crate::store::StoreError;

pub mod send;
pub mod triggers;

/// What happened to an order, as the `type` of an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum EventType {
    /// A provider accepted the order (its `place_order` job is done).
    #[serde(rename = "order.placed")]
    OrderPlaced,
    /// A provider reported a shipment with tracking numbers not known before.
    #[serde(rename = "order.shipped")]
    OrderShipped,
    /// The order is flagged for an operator, with the reason.
    #[serde(rename = "order.needs_attention")]
    OrderNeedsAttention,
    /// One of the order's jobs became a dead letter.
    #[serde(rename = "order.dead_lettered")]
    OrderDeadLettered,
}

impl EventType {
    pub const ALL: [EventType; 4] = [
        EventType::OrderPlaced,
        EventType::OrderShipped,
        EventType::OrderNeedsAttention,
        EventType::OrderDeadLettered,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            EventType::OrderPlaced => "order.placed",
            EventType::OrderShipped => "order.shipped",
            EventType::OrderNeedsAttention => "order.needs_attention",
            EventType::OrderDeadLettered => "order.dead_lettered",
        }
    }

    /// Every type, the default of an endpoint's `types`.
    pub fn all() -> Vec<EventType> {
        Self::ALL.to_vec()
    }
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One `[[stores.events]]` endpoint. Its Debug form names it by [`Self::id`]: the URL may
/// carry a token.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventEndpointConfig {
    /// Where events are posted: https, or http to a loopback address.
    pub url: String,
    /// The Standard Webhooks signing secret, `whsec_` and the base64 of 24 to 64 key bytes.
    pub secret: Secret,
    /// The event types sent there (all by default).
    #[serde(default = "EventType::all")]
    pub types: Vec<EventType>,
}

impl fmt::Debug for EventEndpointConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EventEndpointConfig")
            .field("id", &self.id())
            .field("secret", &self.secret)
            .field("types", &self.types)
            .finish()
    }
}

impl EventEndpointConfig {
    /// The endpoint's name in job targets: the first 12 hex digits of the SHA-256 of its URL,
    /// so a URL (which may carry a token) is never stored or shown, and the name stays the
    /// same when endpoints are reordered.
    pub fn id(&self) -> String {
        let digest = hex::encode(Sha256::digest(self.url.as_bytes()));
        digest[..12].to_owned()
    }

    pub fn wants(&self, kind: EventType) -> bool {
        self.types.contains(&kind)
    }
}

/// Why a signing secret is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    #[error("must start with whsec_")]
    Prefix,
    #[error("after whsec_ must come standard base64")]
    Base64,
    #[error("must hold 24 to 64 key bytes (the base64 of them after whsec_), not {0}")]
    Length(usize),
}

/// The HMAC key of a `whsec_…` secret: the base64-decoded part after the prefix.
pub fn signing_key(secret: &Secret) -> Result<Vec<u8>, SecretError> {
    let encoded = secret
        .expose()
        .strip_prefix("whsec_")
        .ok_or(SecretError::Prefix)?;
    let key = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .map_err(|_| SecretError::Base64)?;
    if !(24..=64).contains(&key.len()) {
        return Err(SecretError::Length(key.len()));
    }
    Ok(key)
}

/// The `webhook-signature` value of one message: `v1,` and the base64 of
/// HMAC-SHA256(key, "{id}.{timestamp}.{body}").
pub fn signature(key: &[u8], msg_id: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(msg_id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    let tag = mac.finalize().into_bytes();
    format!(
        "v1,{}",
        base64::engine::general_purpose::STANDARD.encode(tag)
    )
}

/// Something that happened to one order, before it is addressed to endpoints.
#[derive(Debug, Clone)]
pub struct Event {
    pub kind: EventType,
    pub store_id: String,
    pub order_id: i64,
    /// Names this occurrence among the order's events of its kind: the same occurrence
    /// planned twice (a retried callback) is kept once.
    pub key: String,
    /// The event's `data`; `store` and `order_id` are added.
    pub data: Value,
}

/// An event job to insert: one event for one endpoint.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedEvent {
    pub store_id: String,
    pub order_id: i64,
    /// `{type}:{key}@{endpoint id}`, unique per order in the `events` queue.
    pub target: String,
    /// `{"id", "type", "endpoint", "body"}`: the message id and the exact body sent.
    pub payload: String,
}

/// The jobs of `event` for each of `endpoints` that takes its type; none when no endpoint
/// does. One message id for all of them, the id of this occurrence.
pub fn plan(endpoints: &[EventEndpointConfig], event: &Event, now_ms: i64) -> Vec<PlannedEvent> {
    let wanted: Vec<&EventEndpointConfig> =
        endpoints.iter().filter(|e| e.wants(event.kind)).collect();
    if wanted.is_empty() {
        return Vec::new();
    }
    let msg_id = format!("msg_{}", uuid::Uuid::new_v4().simple());
    let mut data = json!({ "store": event.store_id, "order_id": event.order_id });
    if let (Some(d), Some(extra)) = (data.as_object_mut(), event.data.as_object()) {
        d.extend(extra.iter().map(|(k, v)| (k.clone(), v.clone())));
    }
    let body = json!({
        "type": event.kind,
        "timestamp": crate::reads::orders::rfc3339(now_ms),
        "data": data,
    })
    .to_string();
    wanted
        .into_iter()
        .map(|endpoint| {
            let id = endpoint.id();
            PlannedEvent {
                store_id: event.store_id.clone(),
                order_id: event.order_id,
                target: format!("{}:{}@{id}", event.kind, event.key),
                payload: json!({ "id": msg_id, "type": event.kind, "endpoint": id, "body": body })
                    .to_string(),
            }
        })
        .collect()
}

/// Event jobs per insert statement (6 bound values each).
const ROWS_PER_INSERT: usize = 500;

/// Inserts event jobs on `conn` (inside the caller's transaction), each once: an event
/// already planned keeps its message id.
pub(crate) async fn insert<DB>(
    conn: &mut DB::Connection,
    events: &[PlannedEvent],
    now: i64,
) -> Result<(), StoreError>
where
    DB: Database,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    DB::Arguments: IntoArguments<DB>,
    for<'q> i64: Encode<'q, DB> + Type<DB>,
    for<'q> &'q str: Encode<'q, DB> + Type<DB>,
{
    for chunk in events.chunks(ROWS_PER_INSERT) {
        let mut q = QueryBuilder::<DB>::new(
            "INSERT INTO jobs (store_id, order_id, provider, target, kind, state, \
             payload, run_at, created_at, updated_at) ",
        );
        q.push_values(chunk, |mut row, e| {
            row.push_bind(e.store_id.as_str())
                .push_bind(e.order_id)
                .push("'events'")
                .push_bind(e.target.as_str())
                .push("'send_event'")
                .push("'pending'")
                .push_bind(e.payload.as_str())
                .push_bind(now)
                .push_bind(now)
                .push_bind(now);
        });
        q.push(" ON CONFLICT (store_id, order_id, provider, target) DO NOTHING");
        q.build().execute(&mut *conn).await?;
    }
    Ok(())
}

/// [`insert`] inside the transaction `tx`.
pub(crate) async fn insert_in<DB>(
    tx: &mut sqlx::Transaction<'_, DB>,
    events: &[PlannedEvent],
    now: i64,
) -> Result<(), StoreError>
where
    DB: Database,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    DB::Arguments: IntoArguments<DB>,
    for<'q> i64: Encode<'q, DB> + Type<DB>,
    for<'q> &'q str: Encode<'q, DB> + Type<DB>,
{
    insert::<DB>(&mut **tx, events, now).await
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example of the Standard Webhooks specification's reference implementations.
    #[test]
    fn signs_the_specifications_example() {
        let key = signing_key(&Secret::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")).unwrap();
        assert_eq!(
            signature(
                &key,
                "msg_p5jXN8AQM9LWM0D4loKWxJek",
                1614265330,
                br#"{"test": 2432232314}"#
            ),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }

    #[test]
    fn refuses_secrets_that_are_not_whsec_keys() {
        let err = |s: &str| signing_key(&Secret::new(s)).unwrap_err();
        assert_eq!(err("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"), SecretError::Prefix);
        assert_eq!(err("whsec_not base64!"), SecretError::Base64);
        assert_eq!(err("whsec_c2hvcnQ="), SecretError::Length(5));
    }

    fn endpoint(url: &str, types: Vec<EventType>) -> EventEndpointConfig {
        EventEndpointConfig {
            url: url.to_owned(),
            secret: Secret::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"),
            types,
        }
    }

    #[test]
    fn plans_one_job_per_endpoint_taking_the_type_with_one_message_id() {
        let endpoints = [
            endpoint("https://erp.example.com/hooks", EventType::all()),
            endpoint("https://chat.example.com/x", vec![EventType::OrderShipped]),
            endpoint("https://two.example.com/", vec![EventType::OrderPlaced]),
        ];
        let event = Event {
            kind: EventType::OrderPlaced,
            store_id: "shop".into(),
            order_id: 7,
            key: "spiff:order".into(),
            data: json!({ "provider": "spiff" }),
        };
        let planned = plan(&endpoints, &event, 1_764_000_000_000);
        assert_eq!(planned.len(), 2);
        let payloads: Vec<Value> = planned
            .iter()
            .map(|p| serde_json::from_str(&p.payload).unwrap())
            .collect();
        assert_eq!(payloads[0]["id"], payloads[1]["id"]);
        assert!(payloads[0]["id"].as_str().unwrap().starts_with("msg_"));
        assert_eq!(payloads[0]["body"], payloads[1]["body"]);
        assert_eq!(
            planned[0].target,
            format!("order.placed:spiff:order@{}", endpoints[0].id())
        );
        assert_ne!(planned[0].target, planned[1].target);
        let body: Value = serde_json::from_str(payloads[0]["body"].as_str().unwrap()).unwrap();
        assert_eq!(
            body,
            json!({
                "type": "order.placed",
                "timestamp": "2025-11-24T16:00:00.000Z",
                "data": { "store": "shop", "order_id": 7, "provider": "spiff" }
            })
        );
        let none = Event {
            kind: EventType::OrderDeadLettered,
            ..event
        };
        assert!(plan(&endpoints[1..], &none, 0).is_empty());
    }

    #[test]
    fn an_endpoint_is_named_without_its_url() {
        let e = endpoint("https://hooks.example.com/services/T0/B0/token", vec![]);
        assert_eq!(e.id().len(), 12);
        assert!(e.id().bytes().all(|b| b.is_ascii_hexdigit()));
        assert_ne!(e.id(), endpoint("https://other.example.com/", vec![]).id());
        let debug = format!("{e:?}");
        assert!(
            !debug.contains("token") && !debug.contains("MfKQ"),
            "{debug}"
        );
        assert!(debug.contains(&e.id()), "{debug}");
    }
}

//! The causes of events: each builds the [`Event`] of what happened and addresses it to the
//! store's endpoints ([`plan`]). The callers record the result in the transaction that
//! records the cause.

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::{Event, EventEndpointConfig, EventType, PlannedEvent, plan};
use crate::outbox::job_types::{JobKind, JobQueue};
use crate::outbox::jobs::{ClaimedJob, Finish};

/// The events of a finished attempt: `order.placed` when a `place_order` job is done,
/// `order.dead_lettered` when a job becomes a dead letter, `order.needs_attention` when the
/// attempt flags the order (`attention`). An event job's own attempts plan none, so a dead
/// event job emits nothing about itself.
pub fn of_attempt(
    endpoints: &[EventEndpointConfig],
    job: &ClaimedJob,
    order: Option<&Value>,
    finish: &Finish,
    attention: Option<&str>,
    now_ms: i64,
) -> Vec<PlannedEvent> {
    if endpoints.is_empty() || job.provider == JobQueue::Events {
        return Vec::new();
    }
    let attempt = format!("job:{}:{}", job.id, job.attempts + 1);
    let event = |kind, key: String, data: Value| Event {
        kind,
        store_id: job.store_id.clone(),
        order_id: job.order_id,
        key,
        data,
    };
    let mut events = Vec::new();
    match finish {
        Finish::Done { provider_ref, .. } if job.kind == Ok(JobKind::PlaceOrder) => {
            events.push(event(
                EventType::OrderPlaced,
                format!("{}:{}", job.provider, job.target),
                json!({
                    "number": order.and_then(|o| o.get("number")).cloned(),
                    "provider": job.provider,
                    "provider_ref": provider_ref,
                    "job_id": job.id,
                }),
            ));
        }
        Finish::Dead { reason } => events.push(event(
            EventType::OrderDeadLettered,
            attempt.clone(),
            json!({
                "job_id": job.id,
                "provider": job.provider,
                "kind": job.kind.as_ref().map(|k| k.as_str()).unwrap_or("unknown"),
                "target": job.target,
                "reason": reason,
            }),
        )),
        _ => {}
    }
    if let Some(reason) = attention {
        events.push(event(
            EventType::OrderNeedsAttention,
            attempt,
            json!({ "reason": reason, "job_id": job.id }),
        ));
    }
    events
        .iter()
        .flat_map(|e| plan(endpoints, e, now_ms))
        .collect()
}

/// The `order.shipped` event of tracking numbers `added` (none when nothing was added).
pub fn shipped(
    endpoints: &[EventEndpointConfig],
    store_id: &str,
    order_id: i64,
    provider: &str,
    carrier: &str,
    added: &[(&str, Option<&str>)],
    now_ms: i64,
) -> Vec<PlannedEvent> {
    if added.is_empty() {
        return Vec::new();
    }
    let numbers: Vec<&str> = added.iter().map(|(n, _)| *n).collect();
    let tracking: Vec<Value> = added
        .iter()
        .map(|(number, url)| json!({ "number": number, "url": url }))
        .collect();
    let event = Event {
        kind: EventType::OrderShipped,
        store_id: store_id.to_owned(),
        order_id,
        key: format!("{provider}:{}", numbers.join(",")),
        data: json!({ "provider": provider, "carrier": carrier, "tracking": tracking }),
    };
    plan(endpoints, &event, now_ms)
}

/// The `order.needs_attention` event of an order the ledger flags (`key` names the change,
/// as its order note's key does).
pub fn attention(
    endpoints: &[EventEndpointConfig],
    store_id: &str,
    order_id: i64,
    key: &str,
    reason: &str,
    now_ms: i64,
) -> Vec<PlannedEvent> {
    let event = Event {
        kind: EventType::OrderNeedsAttention,
        store_id: store_id.to_owned(),
        order_id,
        key: key.to_owned(),
        data: json!({ "reason": reason }),
    };
    plan(endpoints, &event, now_ms)
}

/// The `order.needs_attention` event of an order whose items cannot be sent as they are
/// (`reason` lists them): one per order and reason, however often the order is updated.
pub fn item_attention(
    endpoints: &[EventEndpointConfig],
    store_id: &str,
    order_id: i64,
    reason: &str,
    now_ms: i64,
) -> Vec<PlannedEvent> {
    if endpoints.is_empty() {
        return Vec::new();
    }
    let digest = hex::encode(Sha256::digest(reason.as_bytes()));
    let key = format!("items:{}", &digest[..12]);
    attention(endpoints, store_id, order_id, &key, reason, now_ms)
}

//! What a verified delivery means for the ledger, decided without touching the database.

use serde::de::IgnoredAny;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::classify::{Classification, classify};
use crate::outbox::job_types::{JobKind, JobQueue};
use crate::woo::model::{LineItem, Order};

/// WooCommerce statuses that are never real orders yet: stored, never dispatched.
pub const DRAFT_STATUSES: &[&str] = &["checkout-draft", "draft", "auto-draft"];
/// Statuses after which nothing must be made; an order reaching one after placement is flagged.
pub const STOP_STATUSES: &[&str] = &["cancelled", "refunded", "failed", "trash"];

/// Where a delivery came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Webhook,
    Reconcile,
    Backfill,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Webhook => "webhook",
            Source::Reconcile => "reconcile",
            Source::Backfill => "backfill",
        }
    }
}

/// An authentic delivery, as received.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub store_id: String,
    pub source: Source,
    pub topic: Option<String>,
    pub webhook_id: Option<String>,
    pub delivery_ref: Option<String>,
    pub content_type: Option<String>,
    pub body: Vec<u8>,
}

/// A line item with its provider.
#[derive(Debug, Clone)]
pub struct ClassifiedItem {
    pub item: LineItem,
    pub classification: Classification,
}

/// What the delivery is about.
#[derive(Debug, Clone)]
pub enum Parsed {
    /// A full order body (order.created / updated / restored, or fetched over REST).
    Order(Box<OrderSnapshot>),
    /// order.deleted: the order went to the trash; the body holds only its id.
    Deleted { order_id: i64 },
    /// An `action.*` topic, e.g. `woocommerce_payment_complete` with the order id as `arg`.
    Signal {
        action: String,
        order_id: Option<i64>,
    },
    /// Authentic but nothing for the ledger (WooCommerce error body, other resources).
    Ignored {
        order_id: Option<i64>,
        reason: String,
    },
    /// Authentic but not understood: kept raw for the operator.
    Unparsed { error: String },
}

#[derive(Debug, Clone)]
pub struct OrderSnapshot {
    pub order: Order,
    /// The order JSON as text where it differs from the bytes it was read from (which were
    /// not valid UTF-8): then it is stored as the snapshot's body. `None`: the snapshot's
    /// body is those bytes, kept once, with their delivery.
    pub lossy_json: Option<String>,
    pub modified_gmt: String,
    pub items: Vec<ClassifiedItem>,
}

impl OrderSnapshot {
    pub fn is_draft(&self) -> bool {
        DRAFT_STATUSES
            .iter()
            .any(|s| s.eq_ignore_ascii_case(&self.order.status))
    }

    pub fn is_stopped(&self) -> bool {
        STOP_STATUSES
            .iter()
            .any(|s| s.eq_ignore_ascii_case(&self.order.status))
    }

    /// Why an operator should look at this order, if any item cannot be sent as it is.
    pub fn attention(&self) -> Option<String> {
        let reasons: Vec<&str> = self
            .items
            .iter()
            .filter_map(|i| i.classification.detail())
            .collect();
        (!reasons.is_empty()).then(|| reasons.join("; "))
    }
}

pub fn parse_order_json(json: &[u8]) -> Result<OrderSnapshot, String> {
    serde_json::from_slice::<IgnoredAny>(json).map_err(|e| format!("not JSON: {e}"))?;
    order_from_slice(json)
}

/// Parses an order straight from its JSON text (no intermediate `Value`: a webhook body
/// is mostly meta the bridge does not read, which is skipped without being built).
fn order_from_slice(raw: &[u8]) -> Result<OrderSnapshot, String> {
    let order: Order = serde_json::from_slice(raw).map_err(|e| format!("not an order: {e}"))?;
    if order.id <= 0 {
        return Err("the order has no id".to_owned());
    }
    if order.status.is_empty() {
        return Err(format!("order {} has no status", order.id));
    }
    let modified_gmt = order.modified_key();
    if modified_gmt.is_empty() {
        return Err(format!("order {} has no date_modified_gmt", order.id));
    }
    let items = if order.line_items.len() > MAX_LINE_ITEMS {
        vec![over_cap(order.line_items.len())]
    } else {
        order
            .line_items
            .iter()
            .map(|item| ClassifiedItem {
                item: item.clone(),
                classification: classify(item),
            })
            .collect()
    };
    Ok(OrderSnapshot {
        order,
        lossy_json: std::str::from_utf8(raw)
            .is_err()
            .then(|| String::from_utf8_lossy(raw).into_owned()),
        modified_gmt,
        items,
    })
}

/// The most line items an order may have to be planned. An order with more is stored and
/// answered like any other, but stands in the ledger as one flagged item and nothing is
/// sent: an operator decides (no shop sells a thousand personalised lines in one order,
/// and each line is a row and possibly a provider job).
pub const MAX_LINE_ITEMS: usize = 1000;

/// The one item an order above [`MAX_LINE_ITEMS`] stands as: flagged, never sent.
fn over_cap(count: usize) -> ClassifiedItem {
    ClassifiedItem {
        item: LineItem {
            name: format!("({count} line items)"),
            quantity: i64::try_from(count).unwrap_or(i64::MAX),
            ..LineItem::default()
        },
        classification: Classification::Invalid {
            detail: format!(
                "the order has {count} line items, more than the {MAX_LINE_ITEMS} the bridge plans; \
                 nothing is sent, place it with the providers by hand"
            ),
        },
    }
}

/// The top-level fields [`parse_delivery`] looks at before it knows what the body is;
/// everything else is skipped.
#[derive(Default, Deserialize)]
struct Head {
    id: Option<Value>,
    code: Option<Value>,
    message: Option<Value>,
    arg: Option<Value>,
}

/// Reads a verified delivery body in the light of its `X-WC-Webhook-Topic`.
pub fn parse_delivery(topic: Option<&str>, body: &[u8]) -> Parsed {
    let topic = topic.unwrap_or("").trim().to_ascii_lowercase();
    // Most deliveries are orders under an order topic: read as one in a single pass. A
    // body that is not an order (an error body, a bad one) is read again below, which
    // decides what it is exactly as if this had not been tried.
    let order_topic = topic
        .strip_prefix("order.")
        .is_some_and(|event| event != "deleted");
    if order_topic && let Ok(snapshot) = order_from_slice(body) {
        return Parsed::Order(Box::new(snapshot));
    }
    let head = match read_head(body) {
        Ok(head) => head,
        Err(e) => {
            return Parsed::Unparsed {
                error: format!("the body is not JSON: {e}"),
            };
        }
    };
    let order_id = head.id.as_ref().and_then(as_id);

    // A WooCommerce REST error instead of a resource, e.g. a v1 webhook on an HPOS store.
    if let (Some(code), None) = (head.code.as_ref().and_then(Value::as_str), order_id) {
        let message = head.message.as_ref().and_then(Value::as_str).unwrap_or("");
        return rest_error(code, message);
    }

    let (resource, event) = topic.split_once('.').unwrap_or((topic.as_str(), ""));
    match (resource, event) {
        ("order", "deleted") => match order_id {
            Some(order_id) => Parsed::Deleted { order_id },
            None => Parsed::Unparsed {
                error: "order.deleted without an order id".to_owned(),
            },
        },
        ("order", _) | ("", _) => match order_from_slice(body) {
            Ok(snapshot) => Parsed::Order(Box::new(snapshot)),
            Err(error) if topic.is_empty() => Parsed::Ignored {
                order_id,
                reason: format!("no topic header and not an order: {error}"),
            },
            Err(error) => Parsed::Unparsed { error },
        },
        ("action", action) => Parsed::Signal {
            action: action.to_owned(),
            order_id: head.arg.as_ref().and_then(as_id),
        },
        _ => Parsed::Ignored {
            order_id,
            reason: format!("topic {topic} is not about orders"),
        },
    }
}

/// The top-level fields of a JSON body; none when it is JSON but not an object.
fn read_head(body: &[u8]) -> Result<Head, serde_json::Error> {
    if body.trim_ascii_start().first() == Some(&b'{') {
        serde_json::from_slice::<Head>(body)
    } else {
        // JSON, but not an object: nothing to read at the top level.
        serde_json::from_slice::<IgnoredAny>(body).map(|_| Head::default())
    }
}

/// A WooCommerce REST error delivered instead of an order: ignored, with a hint when it is
/// the one a legacy (v1) webhook gets.
fn rest_error(code: &str, message: &str) -> Parsed {
    let hint = if code.contains("invalid_shop_order_id") {
        " This happens when the webhook uses the legacy API version v1; recreate it with API version v3."
    } else {
        ""
    };
    Parsed::Ignored {
        order_id: None,
        reason: format!(
            "WooCommerce sent an error instead of the order: {code} ({message}).{hint}"
        ),
    }
}

fn as_id(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64().filter(|i| *i > 0),
        Value::String(s) => s.trim().parse().ok().filter(|i: &i64| *i > 0),
        _ => None,
    }
}

/// One side effect to plan in the outbox.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedJob {
    pub provider: JobQueue,
    pub target: String,
    pub kind: JobKind,
    /// The job's payload, as the JSON text stored in `jobs.payload`.
    pub payload: String,
}

/// A Spiff line of a job's payload. The payloads' fields are in alphabetical order, as
/// `serde_json::Value` objects serialise theirs; jobs planned before these types have the
/// same text.
#[derive(Serialize)]
struct SpiffLine<'a> {
    item_id: i64,
    name: &'a str,
    quantity: i64,
    transaction_id: &'a str,
}

/// An Apliiq line of a job's payload.
#[derive(Serialize)]
struct ApliiqLine<'a> {
    item_id: i64,
    name: &'a str,
    price: &'a str,
    quantity: i64,
    sku: &'a str,
}

/// A Key2print job's payload: the item the project's PDF is for.
#[derive(Serialize)]
struct Key2printProject<'a> {
    item_id: i64,
    name: &'a str,
    project_id: &'a str,
}

/// A payload of several lines (Spiff, Apliiq).
#[derive(Serialize)]
struct Lines<T> {
    items: Vec<T>,
}

/// The JSON text of a payload (serialising these types cannot fail: string keys, no maps).
fn payload_text(payload: &impl Serialize) -> String {
    serde_json::to_string(payload).unwrap_or_default()
}

/// The provider calls a paid order needs: one Spiff order with all Spiff items, one Apliiq
/// order with all APQ lines, one PDF download per Key2print project. The payloads are built
/// as text straight away: the writer only binds them.
pub fn plan_provider_jobs(snapshot: &OrderSnapshot) -> Vec<PlannedJob> {
    let mut jobs = Vec::new();
    jobs.extend(spiff_job(snapshot));
    jobs.extend(apliiq_job(snapshot));
    jobs.extend(key2print_jobs(snapshot));
    jobs
}

/// One Spiff order with all Spiff items, if any.
fn spiff_job(snapshot: &OrderSnapshot) -> Option<PlannedJob> {
    let spiff: Vec<SpiffLine<'_>> = snapshot
        .items
        .iter()
        .filter_map(|i| match &i.classification {
            Classification::Spiff { transaction_id } => Some(SpiffLine {
                item_id: i.item.id,
                name: &i.item.name,
                quantity: i.item.quantity,
                transaction_id,
            }),
            _ => None,
        })
        .collect();
    (!spiff.is_empty()).then(|| PlannedJob {
        provider: JobQueue::Spiff,
        target: "order".to_owned(),
        kind: JobKind::PlaceOrder,
        payload: payload_text(&Lines { items: spiff }),
    })
}

/// One Apliiq order with all APQ lines, if any.
fn apliiq_job(snapshot: &OrderSnapshot) -> Option<PlannedJob> {
    let apliiq: Vec<ApliiqLine<'_>> = snapshot
        .items
        .iter()
        .filter_map(|i| match &i.classification {
            Classification::Apliiq { sku } => Some(ApliiqLine {
                item_id: i.item.id,
                name: &i.item.name,
                price: &i.item.price,
                quantity: i.item.quantity,
                sku,
            }),
            _ => None,
        })
        .collect();
    (!apliiq.is_empty()).then(|| PlannedJob {
        provider: JobQueue::Apliiq,
        target: "order".to_owned(),
        kind: JobKind::PlaceOrder,
        payload: payload_text(&Lines { items: apliiq }),
    })
}

/// One PDF download per Key2print project, for the first item that names it.
fn key2print_jobs(snapshot: &OrderSnapshot) -> Vec<PlannedJob> {
    let mut jobs = Vec::new();
    let mut projects: Vec<&str> = Vec::new();
    for i in &snapshot.items {
        if let Classification::Key2print { project_id } = &i.classification {
            if projects.contains(&project_id.as_str()) {
                continue;
            }
            projects.push(project_id);
            jobs.push(PlannedJob {
                provider: JobQueue::Key2print,
                target: project_id.clone(),
                kind: JobKind::FetchPdf,
                payload: payload_text(&Key2printProject {
                    item_id: i.item.id,
                    name: &i.item.name,
                    project_id,
                }),
            });
        }
    }
    jobs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rest_error_body_is_ignored_with_a_hint() {
        let p = parse_delivery(
            Some("order.updated"),
            br#"{"code":"woocommerce_rest_invalid_shop_order_id","message":"Invalid ID.","data":{"status":404}}"#,
        );
        match p {
            Parsed::Ignored { reason, .. } => {
                assert!(reason.contains("API version v3"), "{reason}")
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn deleted_and_actions() {
        assert!(matches!(
            parse_delivery(Some("order.deleted"), br#"{"id":19}"#),
            Parsed::Deleted { order_id: 19 }
        ));
        match parse_delivery(
            Some("action.woocommerce_payment_complete"),
            br#"{"action":"woocommerce_payment_complete","arg":21}"#,
        ) {
            Parsed::Signal { action, order_id } => {
                assert_eq!(action, "woocommerce_payment_complete");
                assert_eq!(order_id, Some(21));
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            parse_delivery(Some("product.updated"), br#"{"id":5}"#),
            Parsed::Ignored { .. }
        ));
        assert!(matches!(
            parse_delivery(Some("order.updated"), b"not json"),
            Parsed::Unparsed { .. }
        ));
        assert!(matches!(
            parse_delivery(Some("order.updated"), br#"{"id":5}"#),
            Parsed::Unparsed { .. }
        ));
    }

    #[test]
    fn an_order_body_is_kept_as_text_only_where_it_is_not_utf8() {
        let valid = br#"{"id":9,"status":"processing","date_modified_gmt":"2026-11-23T06:49:19","meta_data":[{"key":"k","value":"caf\u00e9"}]}"#;
        match parse_delivery(Some("order.updated"), valid) {
            Parsed::Order(snap) => assert_eq!(snap.lossy_json, None),
            other => panic!("{other:?}"),
        }
        // Bytes that are not UTF-8 in order meta the bridge does not read.
        let mut invalid = br#"{"id":9,"status":"processing","date_modified_gmt":"2026-11-23T06:49:19","meta_data":[{"key":"k","value":"caf"#.to_vec();
        invalid.extend_from_slice(b"\xe9\"}]}");
        match parse_delivery(Some("order.updated"), &invalid) {
            Parsed::Order(snap) => {
                let text = snap.lossy_json.expect("kept as text");
                assert!(text.contains("caf\u{fffd}"), "{text}");
                assert_eq!(snap.order.id, 9);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn plans_one_job_per_provider_order() {
        let body = br#"{"id":9,"status":"processing","date_modified_gmt":"2026-11-23T06:49:19",
          "line_items":[
            {"id":1,"name":"A","quantity":2,"meta_data":[{"key":"_printbridge_spiff_transaction_id","value":"t1"}]},
            {"id":2,"name":"B","quantity":1,"meta_data":[{"key":"spiff_transaction_id","value":"t2"}]},
            {"id":3,"name":"C","quantity":1,"sku":"APQ-1S2A1","price":32},
            {"id":4,"name":"D","quantity":1,"meta_data":[{"key":"_printbridge_key2print_project_id","value":"p1"}]},
            {"id":5,"name":"E","quantity":3,"meta_data":[{"key":"_printbridge_key2print_project_id","value":"p1"}]},
            {"id":6,"name":"F","quantity":1,"meta_data":[{"key":"_printbridge_key2print_project_id","value":"p2"}]},
            {"id":7,"name":"G","quantity":1,"sku":"PST-A2"}]}"#;
        let snap = parse_order_json(body).expect("order");
        let jobs = plan_provider_jobs(&snap);
        let keys: Vec<(&str, &str)> = jobs
            .iter()
            .map(|j| (j.provider.as_str(), j.target.as_str()))
            .collect();
        assert_eq!(
            keys,
            vec![
                ("spiff", "order"),
                ("apliiq", "order"),
                ("key2print", "p1"),
                ("key2print", "p2")
            ]
        );
        // The text a `Value` of the same payload serialises to (jobs planned before the
        // payloads had types of their own have it).
        let payloads: Vec<&str> = jobs.iter().map(|j| j.payload.as_str()).collect();
        let expected = [
            serde_json::json!({"items": [
                {"item_id": 1, "name": "A", "transaction_id": "t1", "quantity": 2},
                {"item_id": 2, "name": "B", "transaction_id": "t2", "quantity": 1},
            ]}),
            serde_json::json!({"items": [
                {"item_id": 3, "name": "C", "sku": "APQ-1S2A1", "quantity": 1, "price": "32"},
            ]}),
            serde_json::json!({"item_id": 4, "name": "D", "project_id": "p1"}),
            serde_json::json!({"item_id": 6, "name": "F", "project_id": "p2"}),
        ]
        .map(|v| v.to_string());
        assert_eq!(payloads, expected);
        assert!(snap.attention().is_none());
    }
}

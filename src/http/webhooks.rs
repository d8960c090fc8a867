//! `POST /v1/webhooks/woocommerce/{store}`: WooCommerce order webhooks.
//!
//! WooCommerce never re-sends a failed delivery and disables a webhook after repeated
//! failures, so every authentic delivery is stored and answered 200, also when it is ignored
//! or cannot be parsed. Unauthenticated input is never stored.

use std::sync::Arc;

use poem::web::Data;
use poem_openapi::param::{Header, Path};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};

use super::problem::{ApiError, Problem, bad_request_problem};
use super::raw::RawJson;
use super::{ApiTags, AppState};
use crate::intake::parse::{Delivery, Source};
use crate::secret::Secret;
use crate::woo::signature;

/// The key a delivery to an unknown store is checked under, for the timing only: the
/// answer is 401 whatever the result.
const UNKNOWN_STORE_KEY: &str = "printbridge-unknown-store";

/// How a WooCommerce order looks in a webhook (REST API v3). Only the fields PrintBridge
/// reads are listed; every other field is accepted and kept.
#[derive(Debug, Object)]
pub struct WebhookOrder {
    pub id: i64,
    /// e.g. `pending`, `processing`, `completed`, `cancelled`, `checkout-draft`.
    pub status: String,
    /// Naive UTC time of the last change, e.g. `2026-11-23T06:49:19`.
    pub date_modified_gmt: String,
    pub line_items: Vec<WebhookLineItem>,
}

#[derive(Debug, Object)]
pub struct WebhookLineItem {
    pub id: i64,
    pub name: String,
    pub quantity: i64,
    /// An Apliiq design-variant SKU `APQ-<design>S<size>A<n>` makes this an Apliiq item.
    pub sku: Option<String>,
    /// `_printbridge_spiff_transaction_id`, `spiff_transaction_id` or
    /// `_printbridge_key2print_project_id` make this a Spiff or Key2print item.
    pub meta_data: Vec<WebhookMeta>,
}

#[derive(Debug, Object)]
pub struct WebhookMeta {
    pub key: String,
    pub value: serde_json::Value,
}

/// What the bridge did with a delivery.
#[derive(Debug, Object)]
pub struct WebhookAck {
    pub received: bool,
    /// True for WooCommerce's unsigned ping when a webhook is saved.
    #[oai(skip_serializing_if_is_none)]
    pub ping: Option<bool>,
    /// The stored delivery (see `/v1/admin/deliveries/{id}`). Every stored delivery's answer
    /// has one, and a replay answered `duplicate` names the delivery it repeats; only the
    /// ping's has none.
    #[oai(skip_serializing_if_is_none)]
    pub delivery_id: Option<i64>,
    /// What the ledger did with it: applied, duplicate, stale, deleted, signal, ignored or
    /// unparsed when it was applied before the answer (the usual case); `stored` when it was
    /// stored and not yet applied (a backlog, a failure to apply, another replica applying):
    /// it is applied in order of arrival, and `/v1/admin/deliveries/{id}` shows its outcome
    /// then.
    #[oai(skip_serializing_if_is_none)]
    pub outcome: Option<String>,
    #[oai(skip_serializing_if_is_none)]
    pub order_id: Option<i64>,
    #[oai(skip_serializing_if_is_none)]
    pub detail: Option<String>,
    /// Provider jobs newly planned by this delivery (0 while it is `stored`).
    #[oai(skip_serializing_if_is_none)]
    pub jobs_planned: Option<u32>,
}

#[derive(ApiResponse)]
#[oai(bad_request_handler = "bad_request")]
pub enum WebhookResponse {
    /// Stored (or a ping). WooCommerce needs a 200 for every authentic delivery.
    #[oai(status = 200)]
    Ok(Json<WebhookAck>),
    #[oai(status = 400)]
    BadRequest(Json<Problem>),
}

fn bad_request(err: poem::Error) -> WebhookResponse {
    WebhookResponse::BadRequest(bad_request_problem(err))
}

pub struct WebhookApi;

/// `webhook_id=<digits>`: the body of the unsigned ping WooCommerce sends when a webhook is saved.
fn is_ping(body: &[u8]) -> bool {
    let Ok(text) = std::str::from_utf8(body) else {
        return false;
    };
    text.trim()
        .strip_prefix("webhook_id=")
        .is_some_and(|id| !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()))
}

/// Refuses a Content-Type WooCommerce does not send (415).
fn check_content_type(content_type: Option<&str>) -> Result<(), ApiError> {
    let mime = content_type
        .map(|ct| {
            ct.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
        .unwrap_or_default();
    if matches!(
        mime.as_str(),
        "" | "application/json" | "application/x-www-form-urlencoded"
    ) {
        return Ok(());
    }
    Err(ApiError::UnsupportedMediaType(Json(
        Problem::new(
            "unsupported_media_type",
            format!("WooCommerce sends application/json; got {mime}"),
        )
        .field("Content-Type"),
    )))
}

/// A webhook request that passed the checks every delivery must pass before anything is
/// stored: a Content-Type WooCommerce sends (else 415), a body within `max_body_bytes` (else
/// 413) and, unless it is WooCommerce's unsigned ping, a signature that matches the body under
/// one of the store's webhook secrets, compared in constant time (else 401).
pub enum VerifiedWebhook {
    /// WooCommerce's unsigned ping `webhook_id=N`, sent when a webhook is saved.
    Ping,
    /// A delivery signed under the store's secret.
    Delivery {
        /// The raw body, as signed.
        body: Vec<u8>,
        /// The Content-Type as sent, if any.
        content_type: Option<String>,
        /// The signature as sent.
        signature: String,
    },
}

impl VerifiedWebhook {
    /// Checks a request to `store`, in the order of the answers: Content-Type, size, then
    /// signature. An unknown store is answered as one whose secret never matches (its ping
    /// gets 200, a signed delivery 401), so store ids cannot be enumerated. A refused
    /// signature is counted under its topic (`unsigned` when there is none).
    pub async fn verify(
        state: &AppState,
        store: &str,
        topic: Option<&str>,
        signature: Option<String>,
        body: RawJson<WebhookOrder>,
    ) -> Result<Self, ApiError> {
        check_content_type(body.content_type.as_deref())?;
        let content_type = body.content_type.clone();
        let raw = body.read_limited(state.config.max_body_bytes.get()).await?;
        let Some(signature) = signature.filter(|s| !s.trim().is_empty()) else {
            if is_ping(&raw) {
                return Ok(VerifiedWebhook::Ping);
            }
            state.metrics.delivery("unsigned", "rejected");
            return Err(ApiError::Unauthorized(Json(
                Problem::new(
                    "missing_signature",
                    "X-WC-Webhook-Signature is missing; only WooCommerce's ping may be unsigned",
                )
                .field("X-WC-Webhook-Signature"),
            )));
        };
        if signed_by_store(state, store, &raw, &signature) {
            return Ok(VerifiedWebhook::Delivery {
                body: raw,
                content_type,
                signature,
            });
        }
        tracing::warn!(store = %store, "webhook signature mismatch");
        state.metrics.delivery(topic.unwrap_or("none"), "rejected");
        Err(ApiError::Unauthorized(Json(
            Problem::new(
                "invalid_signature",
                "X-WC-Webhook-Signature does not match the body under this store's webhook secret; \
                 check that the webhook's secret equals webhook_secret (printbridge sign --verify woocommerce helps)",
            )
            .field("X-WC-Webhook-Signature"),
        )))
    }
}

/// Whether `signature` matches `raw` under one of the store's webhook secrets (the current
/// one and any still accepted during a rotation). For an unknown store the same work is done
/// under a key no store has, so the answer's timing does not tell whether the store exists.
fn signed_by_store(state: &AppState, store: &str, raw: &[u8], signature: &str) -> bool {
    match state.config.store(store) {
        Some(cfg) => signature::verify(cfg.webhook_secrets(), raw, signature),
        None => {
            std::hint::black_box(signature::verify(
                [&Secret::new(UNKNOWN_STORE_KEY)],
                raw,
                signature,
            ));
            false
        }
    }
}

/// The headers WooCommerce sends with a delivery, stored with it.
struct DeliveryHeaders {
    topic: Option<String>,
    webhook_id: Option<String>,
    delivery_ref: Option<String>,
}

/// Stores a verified delivery and answers it: an identical delivery stored moments ago (a
/// replay, a re-send) is answered as the ledger would answer it, without adding a row (see
/// `replays`); any other is answered once committed, and applied to the ledger in the same
/// transaction unless a backlog waits (see `intake::queue`). Metrics and the dispatcher
/// follow the application.
async fn store_delivery(
    state: &AppState,
    store: String,
    headers: DeliveryHeaders,
    body: Vec<u8>,
    content_type: Option<String>,
    sig: &str,
) -> Result<WebhookResponse, ApiError> {
    let topic = headers.topic.as_deref();
    if let Some(stored_id) = state.recent.find(&store, topic, sig) {
        state.metrics.delivery(topic.unwrap_or("none"), "duplicate");
        tracing::info!(store = %store, delivery_id = stored_id, "webhook identical to a stored one");
        return Ok(unstored_ack(
            false,
            Some(stored_id),
            Some("duplicate"),
            Some(
                "identical to a delivery stored moments ago (same topic and body); not stored again"
                    .to_owned(),
            ),
        ));
    }
    let delivery = Delivery {
        store_id: store.clone(),
        source: Source::Webhook,
        topic: headers.topic.clone(),
        webhook_id: headers.webhook_id,
        delivery_ref: headers.delivery_ref,
        content_type,
        body,
    };
    let now = state.clock.now_ms();
    let result = state.intake.record(&state.store, delivery, now).await?;
    state
        .recent
        .remember(&store, headers.topic.as_deref(), sig, result.delivery_id);
    tracing::info!(
        store = %store,
        delivery_id = result.delivery_id,
        order_id = ?result.order_id,
        outcome = result.outcome.as_str(),
        jobs_planned = result.jobs_planned,
        "webhook stored"
    );
    Ok(WebhookResponse::Ok(Json(WebhookAck {
        received: true,
        ping: None,
        delivery_id: Some(result.delivery_id),
        outcome: Some(result.outcome.as_str().to_owned()),
        order_id: result.order_id,
        detail: result.detail,
        jobs_planned: Some(result.jobs_planned),
    })))
}

/// A 200 for a delivery not stored again: the ping (no id), or a replay (the id of the
/// delivery it repeats).
fn unstored_ack(
    ping: bool,
    delivery_id: Option<i64>,
    outcome: Option<&str>,
    detail: Option<String>,
) -> WebhookResponse {
    WebhookResponse::Ok(Json(WebhookAck {
        received: true,
        ping: ping.then_some(true),
        delivery_id,
        outcome: outcome.map(str::to_owned),
        order_id: None,
        detail,
        jobs_planned: (!ping).then_some(0),
    }))
}

#[OpenApi]
impl WebhookApi {
    /// Receive a WooCommerce webhook
    ///
    /// Point the shop's order webhooks here (topics order.created, order.updated,
    /// order.deleted, order.restored and `action.*`; API version v3, never v1). Each delivery
    /// is verified with `X-WC-Webhook-Signature` (base64 HMAC-SHA256 of the raw body under
    /// the webhook secret) and committed in the database before the 200, whose
    /// `delivery_id` names it. Deliveries arriving together are stored in one transaction,
    /// which normally applies them to the ledger too, in order of arrival.
    /// The unsigned ping `webhook_id=N` is answered 200 and not stored.
    #[oai(
        path = "/v1/webhooks/woocommerce/:store",
        method = "post",
        tag = "ApiTags::Webhooks",
        operation_id = "receiveWooCommerceWebhook"
    )]
    async fn receive(
        &self,
        state: Data<&Arc<AppState>>,
        /// The store id from the bridge's configuration.
        store: Path<String>,
        /// base64(HMAC-SHA256(secret, raw body)).
        #[oai(name = "X-WC-Webhook-Signature")]
        signature: Header<Option<String>>,
        /// e.g. `order.updated` or `action.woocommerce_payment_complete`.
        #[oai(name = "X-WC-Webhook-Topic")]
        topic: Header<Option<String>>,
        #[oai(name = "X-WC-Webhook-ID")] webhook_id: Header<Option<String>>,
        /// Not unique: WooCommerce derives it from the webhook id and the second.
        #[oai(name = "X-WC-Webhook-Delivery-ID")]
        delivery_ref: Header<Option<String>>,
        body: RawJson<WebhookOrder>,
    ) -> Result<WebhookResponse, ApiError> {
        let verified =
            VerifiedWebhook::verify(&state, &store.0, topic.0.as_deref(), signature.0, body)
                .await?;
        let VerifiedWebhook::Delivery {
            body,
            content_type,
            signature,
        } = verified
        else {
            tracing::info!(store = %store.0, "webhook ping");
            return Ok(unstored_ack(true, None, None, None));
        };
        let headers = DeliveryHeaders {
            topic: topic.0,
            webhook_id: webhook_id.0,
            delivery_ref: delivery_ref.0,
        };
        store_delivery(&state, store.0, headers, body, content_type, &signature).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_the_ping() {
        assert!(is_ping(b"webhook_id=12"));
        assert!(!is_ping(b"webhook_id="));
        assert!(!is_ping(b"webhook_id=1&x=2"));
        assert!(!is_ping(b"{\"id\":1}"));
    }
}

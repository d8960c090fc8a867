//! The order events the bridge sends (`crate::events`), described as the OpenAPI document's
//! webhooks: what an endpoint configured under `[[stores.events]]` receives.

use poem_openapi::param::Header;
use poem_openapi::payload::Json;
use poem_openapi::registry::{MetaWebhook, Registry};
use poem_openapi::{ApiResponse, Object, Webhook};

use super::ApiTags;

/// The fields every event's `data` carries.
#[derive(Debug, Object)]
pub struct EventOrder {
    /// The store's id in the bridge's configuration.
    pub store: String,
    /// The shop's order id.
    pub order_id: i64,
}

#[derive(Debug, Object)]
pub struct OrderPlacedData {
    #[oai(flatten)]
    pub order: EventOrder,
    /// The order number the shop shows.
    pub number: Option<String>,
    /// The provider that accepted the order: `spiff` or `apliiq`.
    pub provider: String,
    /// The provider's order id, when it answered one.
    pub provider_ref: Option<String>,
    /// The bridge's job that placed it (`/v1/admin/jobs/{id}`).
    pub job_id: i64,
}

/// One tracking number of a shipment.
#[derive(Debug, Object)]
pub struct ShippedTracking {
    pub number: String,
    pub url: Option<String>,
}

#[derive(Debug, Object)]
pub struct OrderShippedData {
    #[oai(flatten)]
    pub order: EventOrder,
    /// The provider that shipped: `apliiq`.
    pub provider: String,
    /// The carrier, as the provider names it (may be empty).
    pub carrier: String,
    /// The tracking numbers not reported before.
    pub tracking: Vec<ShippedTracking>,
}

#[derive(Debug, Object)]
pub struct OrderNeedsAttentionData {
    #[oai(flatten)]
    pub order: EventOrder,
    /// Why an operator should look at the order (also its `attention` in the admin API).
    pub reason: String,
    /// The job whose attempt flagged the order, when a job did.
    pub job_id: Option<i64>,
}

#[derive(Debug, Object)]
pub struct OrderDeadLetteredData {
    #[oai(flatten)]
    pub order: EventOrder,
    /// The dead job (`/v1/admin/jobs/{id}`; replay it with `POST /v1/admin/jobs/{id}/replay`).
    pub job_id: i64,
    /// Its queue: `spiff`, `apliiq`, `key2print` or `woocommerce`.
    pub provider: String,
    /// Its kind, e.g. `place_order`.
    pub kind: String,
    /// Its target within the order, e.g. `order` or a Key2print project id.
    pub target: String,
    /// Why it was given up.
    pub reason: String,
}

/// Defines an event's body: `type`, `timestamp` and its `data`.
macro_rules! event_body {
    ($name:ident, $data:ty, $doc:literal) => {
        #[doc = $doc]
        #[derive(Debug, Object)]
        pub struct $name {
            /// The event type.
            #[oai(rename = "type")]
            pub kind: String,
            /// When it happened (RFC 3339, UTC).
            pub timestamp: String,
            pub data: $data,
        }
    };
}

event_body!(
    OrderPlacedEvent,
    OrderPlacedData,
    "`order.placed`: a provider accepted the order."
);
event_body!(
    OrderShippedEvent,
    OrderShippedData,
    "`order.shipped`: a provider reported a shipment."
);
event_body!(
    OrderNeedsAttentionEvent,
    OrderNeedsAttentionData,
    "`order.needs_attention`: the order is flagged for an operator."
);
event_body!(
    OrderDeadLetteredEvent,
    OrderDeadLetteredData,
    "`order.dead_lettered`: one of the order's jobs was given up."
);

/// What the bridge makes of an endpoint's answer.
#[derive(ApiResponse)]
pub enum EventAnswer {
    /// Delivered. Any 2xx status delivers the event; any other status, no connection or a
    /// timeout (`dispatch.request_timeout_secs`) is retried with the outbox's backoff
    /// (`Retry-After` honoured) until `dispatch.max_attempts`, then the event job is a dead
    /// letter that `POST /v1/admin/jobs/{id}/replay` sends again with the same `webhook-id`.
    #[oai(status = 200)]
    Delivered,
}

/// Defines one event type's webhook as a trait of its own (poem-openapi's derive takes one
/// operation per HTTP method and trait; [`EventWebhooks`] lists them all): a `POST` named
/// `$name` with the Standard Webhooks headers and the body `$body`.
macro_rules! event_hook {
    ($hook:ident, $name:literal, $operation:literal, $body:ty) => {
        #[Webhook(tag = "ApiTags::Events")]
        pub trait $hook {
            #[doc = $name]
            #[oai(name = $name, method = "post", operation_id = $operation)]
            fn deliver(
                &self,
                /// The message id: the same on every attempt and replay of this event.
                #[oai(name = "webhook-id")]
                id: Header<String>,
                /// When this attempt was signed (Unix seconds).
                #[oai(name = "webhook-timestamp")]
                timestamp: Header<i64>,
                /// `v1,` and base64(HMAC-SHA256(key, "{webhook-id}.{webhook-timestamp}.{body}")),
                /// the key being the base64-decoded part of the endpoint's `whsec_` secret.
                #[oai(name = "webhook-signature")]
                signature: Header<String>,
                body: Json<$body>,
            ) -> EventAnswer;
        }
    };
}

event_hook!(
    OrderPlacedHook,
    "order.placed",
    "eventOrderPlaced",
    OrderPlacedEvent
);
event_hook!(
    OrderShippedHook,
    "order.shipped",
    "eventOrderShipped",
    OrderShippedEvent
);
event_hook!(
    OrderNeedsAttentionHook,
    "order.needs_attention",
    "eventOrderNeedsAttention",
    OrderNeedsAttentionEvent
);
event_hook!(
    OrderDeadLetteredHook,
    "order.dead_lettered",
    "eventOrderDeadLettered",
    OrderDeadLetteredEvent
);

/// Every event type's webhook, for `OpenApiService::webhooks` (see [`super::ApiTags::Events`]).
pub struct EventWebhooks;

impl Webhook for EventWebhooks {
    fn meta() -> Vec<MetaWebhook> {
        [
            <&dyn OrderPlacedHook>::meta(),
            <&dyn OrderShippedHook>::meta(),
            <&dyn OrderNeedsAttentionHook>::meta(),
            <&dyn OrderDeadLetteredHook>::meta(),
        ]
        .into_iter()
        .flatten()
        .collect()
    }

    fn register(registry: &mut Registry) {
        <&dyn OrderPlacedHook>::register(registry);
        <&dyn OrderShippedHook>::register(registry);
        <&dyn OrderNeedsAttentionHook>::register(registry);
        <&dyn OrderDeadLetteredHook>::register(registry);
    }
}

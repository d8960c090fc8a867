//! `POST /v1/callbacks/apliiq/{store}`: Apliiq's fulfilment callback (the "Fulfillment URL"
//! of the custom store). Verified with `x-apliiq-hmac` (base64 HMAC-SHA256 of the base64 of
//! the body under the shared secret); tracking numbers are recorded and, in the same
//! transaction, noted on the order.

use std::sync::Arc;

use poem::web::Data;
use poem_openapi::param::{Header, Path};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};
use serde_json::Value;

use super::problem::{ApiError, Problem, bad_request_problem};
use super::raw::RawJson;
use super::{ApiTags, AppState};
use crate::providers::apliiq::verify_callback;
use crate::reads::jobs::{Shipment, ShipmentNote};

/// The fulfilment Apliiq reports.
#[derive(Debug, Object)]
pub struct ApliiqFulfillmentBody {
    pub fulfillment: ApliiqFulfillment,
}

#[derive(Debug, Object)]
pub struct ApliiqFulfillment {
    /// The shop's order id.
    pub order_id: String,
    pub status: Option<String>,
    pub tracking_company: Option<String>,
    pub tracking_numbers: Vec<String>,
    pub tracking_urls: Option<Vec<String>>,
}

#[derive(Debug, Object)]
pub struct CallbackAck {
    pub received: bool,
    pub order_id: i64,
    /// Tracking numbers not known before.
    pub tracking_added: u32,
}

#[derive(ApiResponse)]
#[oai(bad_request_handler = "bad_request")]
pub enum CallbackResponse {
    #[oai(status = 200)]
    Ok(Json<CallbackAck>),
    #[oai(status = 400)]
    BadRequest(Json<Problem>),
}

fn bad_request(err: poem::Error) -> CallbackResponse {
    CallbackResponse::BadRequest(bad_request_problem(err))
}

pub struct CallbackApi;

/// Checks `x-apliiq-hmac` (401 when missing or wrong). An unknown store, or one without
/// Apliiq, is answered like a wrong signature, so store ids and their providers cannot be
/// enumerated.
fn authenticate<'a>(
    state: &'a AppState,
    store: &str,
    hmac: Option<&str>,
    raw: &[u8],
) -> Result<&'a crate::config::StoreConfig, ApiError> {
    let Some(sig) = hmac.filter(|s| !s.trim().is_empty()) else {
        return Err(ApiError::Unauthorized(Json(
            Problem::new("missing_signature", "x-apliiq-hmac is missing").field("x-apliiq-hmac"),
        )));
    };
    let found = state
        .config
        .store(store)
        .and_then(|cfg| cfg.apliiq.as_ref().map(|a| (cfg, a)));
    let authentic = found.is_some_and(|(_, a)| verify_callback(&a.shared_secret, raw, sig.trim()));
    let (Some((cfg, _)), true) = (found, authentic) else {
        return Err(ApiError::Unauthorized(Json(
            Problem::new(
                "invalid_signature",
                "x-apliiq-hmac does not match the body under this store's Apliiq shared_secret",
            )
            .field("x-apliiq-hmac"),
        )));
    };
    Ok(cfg)
}

/// The shop's order id of an Apliiq fulfilment (a number, or a string holding one).
fn fulfillment_order_id(f: &Value) -> Result<i64, ApiError> {
    match &f["order_id"] {
        Value::String(s) => s.trim().parse::<i64>().ok(),
        Value::Number(n) => n.as_i64(),
        _ => None,
    }
    .filter(|id| *id > 0)
    .ok_or_else(|| {
        ApiError::bad_request(
            "invalid_order_id",
            "fulfillment.order_id must be the shop's order id",
            "fulfillment.order_id",
        )
    })
}

/// The tracking numbers of an Apliiq fulfilment, each with the URL at the same place.
fn fulfillment_tracking(f: &Value) -> Vec<(&str, Option<&str>)> {
    let numbers: Vec<&str> = f["tracking_numbers"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let urls: Vec<&str> = f["tracking_urls"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    numbers
        .iter()
        .enumerate()
        .map(|(i, number)| (*number, urls.get(i).copied()))
        .collect()
}

/// The order note of an Apliiq shipment with the tracking numbers `added`.
fn shipped_note(carrier: &str, added: &[&str]) -> String {
    format!(
        "PrintBridge: Apliiq shipped the order{}: {}.",
        if carrier.is_empty() {
            String::new()
        } else {
            format!(" with {carrier}")
        },
        added.join(", ")
    )
}

#[OpenApi]
impl CallbackApi {
    /// Apliiq fulfilment callback
    ///
    /// Set this URL as the Fulfillment URL of the Apliiq custom store. Shipments are recorded
    /// and written to the WooCommerce order as a note.
    #[oai(
        path = "/v1/callbacks/apliiq/:store",
        method = "post",
        tag = "ApiTags::Callbacks",
        operation_id = "apliiqFulfillment"
    )]
    async fn apliiq(
        &self,
        state: Data<&Arc<AppState>>,
        store: Path<String>,
        /// base64(HMAC-SHA256(shared_secret, base64(body))).
        #[oai(name = "x-apliiq-hmac")]
        hmac: Header<Option<String>>,
        body: RawJson<ApliiqFulfillmentBody>,
    ) -> Result<CallbackResponse, ApiError> {
        let raw = body.read_limited(state.config.max_body_bytes.get()).await?;
        let cfg = authenticate(&state, &store.0, hmac.0.as_deref(), &raw)?;
        let json: Value = serde_json::from_slice(&raw).map_err(|e| {
            ApiError::bad_request("invalid_json", format!("the body is not JSON: {e}"), "body")
        })?;
        let f = &json["fulfillment"];
        let order_id = fulfillment_order_id(f)?;
        let carrier = f["tracking_company"].as_str().unwrap_or("").to_owned();
        let now = state.clock.now_ms();
        let tracking = fulfillment_tracking(f);
        let shipment = Shipment {
            store_id: &cfg.id,
            order_id,
            provider: "apliiq",
            carrier: &carrier,
            tracking: &tracking,
        };
        let note = |added: &[&str]| shipped_note(&carrier, added);
        let added = state
            .store
            .record_shipment(
                &shipment,
                cfg.has_rest_keys().then_some(&note as ShipmentNote<'_>),
                &cfg.events,
                now,
            )
            .await?;
        if !added.is_empty() && (cfg.has_rest_keys() || !cfg.events.is_empty()) {
            state.wake_dispatcher();
        }
        tracing::info!(store = %cfg.id, order_id, tracking_added = added.len(), "Apliiq fulfilment");
        Ok(CallbackResponse::Ok(Json(CallbackAck {
            received: true,
            order_id,
            tracking_added: u32::try_from(added.len()).unwrap_or(u32::MAX),
        })))
    }
}

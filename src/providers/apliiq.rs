//! Apliiq: `x-apliiq-auth` signing, fulfilment callback verification, order placement and lookup.
//!
//! Outbound calls carry `Authorization: x-apliiq-auth RTS:SIG:APPID:STATE` where RTS is the Unix
//! time in seconds, STATE a fresh nonce and SIG the base64 of the raw HMAC-SHA256, keyed with the
//! shared secret, over `APPID + RTS + STATE + base64(body)` (an empty body contributes an empty
//! term, not the base64 of nothing-as-something).
//!
//! The fulfilment callback carries `x-apliiq-hmac`: base64 of the raw HMAC-SHA256, keyed with the
//! shared secret, over the base64 of the raw callback body.
//!
//! `POST /v1/Order` answers 200 when the order is placed and 202 when Apliiq holds it (the body
//! says why). Apliiq answers a bad signature with 401 or 500, so both are reported as a possible
//! signature problem; a 5xx is ambiguous (the order may exist): look it up with
//! [`ApliiqClient::find_order`] before anything is re-sent.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::Sha256;

use super::{
    Answer, CallInfo, ErrorKind, NonceSource, Plumbing, Provider, ProviderError, join_url, send,
};
use crate::clock::Clock;
use crate::config::ApliiqConfig;
use crate::secret::Secret;

type HmacSha256 = Hmac<Sha256>;

/// The order path.
pub const ORDER_PATH: &str = "/v1/Order";
/// The authorization scheme name.
pub const AUTH_SCHEME: &str = "x-apliiq-auth";

fn b64() -> base64::engine::GeneralPurpose {
    base64::engine::general_purpose::STANDARD
}

/// The exact string that is signed: `APPID + RTS + STATE + base64(body)`.
pub fn string_to_sign(app_id: &str, rts: &str, state: &str, body: &[u8]) -> String {
    let content = if body.is_empty() {
        String::new()
    } else {
        b64().encode(body)
    };
    format!("{app_id}{rts}{state}{content}")
}

/// SIG: base64 of the raw HMAC-SHA256 of [`string_to_sign`] keyed with the shared secret.
pub fn signature(shared_secret: &str, app_id: &str, rts: &str, state: &str, body: &[u8]) -> String {
    let mut mac =
        HmacSha256::new_from_slice(shared_secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(string_to_sign(app_id, rts, state, body).as_bytes());
    b64().encode(mac.finalize().into_bytes())
}

/// The `Authorization` header value: `x-apliiq-auth RTS:SIG:APPID:STATE`.
pub fn authorization(
    shared_secret: &str,
    app_id: &str,
    rts: &str,
    state: &str,
    body: &[u8],
) -> String {
    format!(
        "{AUTH_SCHEME} {rts}:{}:{app_id}:{state}",
        signature(shared_secret, app_id, rts, state, body)
    )
}

/// The parts of an `x-apliiq-auth` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthParts {
    pub rts: String,
    pub signature: String,
    pub app_id: String,
    pub state: String,
}

/// Splits `x-apliiq-auth RTS:SIG:APPID:STATE` (SIG is base64 and has no `:`).
pub fn parse_authorization(header: &str) -> Option<AuthParts> {
    let rest = header.trim().strip_prefix(AUTH_SCHEME)?.trim_start();
    let mut parts = rest.splitn(4, ':');
    let rts = parts.next()?.to_owned();
    let signature = parts.next()?.to_owned();
    let app_id = parts.next()?.to_owned();
    let state = parts.next()?.to_owned();
    Some(AuthParts {
        rts,
        signature,
        app_id,
        state,
    })
}

/// The `x-apliiq-hmac` value Apliiq sends with a fulfilment callback for `body`.
pub fn callback_hmac(shared_secret: &str, body: &[u8]) -> String {
    let mut mac =
        HmacSha256::new_from_slice(shared_secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(b64().encode(body).as_bytes());
    b64().encode(mac.finalize().into_bytes())
}

/// Whether `header` is the valid `x-apliiq-hmac` of `body`; constant-time comparison.
pub fn verify_callback(shared_secret: &Secret, body: &[u8], header: &str) -> bool {
    let Ok(presented) = b64().decode(header.trim()) else {
        return false;
    };
    let mut mac = HmacSha256::new_from_slice(shared_secret.expose().as_bytes())
        .expect("HMAC takes any key length");
    mac.update(b64().encode(body).as_bytes());
    mac.verify_slice(&presented).is_ok()
}

/// One line of an Apliiq order. `price` is a decimal string, as in WooCommerce.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApliiqLineItem {
    /// The WooCommerce line item id.
    pub id: String,
    pub title: String,
    pub quantity: u32,
    pub price: String,
    pub grams: u32,
    /// The Apliiq design-variant SKU `APQ-<design>S<size>A<n>`.
    pub sku: String,
}

/// Where the order goes.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ApliiqAddress {
    pub first_name: String,
    pub last_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub company: Option<String>,
    pub address1: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address2: Option<String>,
    pub city: String,
    pub zip: String,
    pub province: String,
    pub province_code: String,
    pub country: String,
    pub country_code: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
}

/// One shipping line: the Apliiq shipping code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApliiqShippingLine {
    pub code: String,
}

/// The `POST /v1/Order` body as the create-order doc describes it. Field order is the wire order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApliiqOrder {
    /// The WooCommerce order id (what [`ApliiqClient::find_order`] looks for).
    pub id: String,
    pub number: u64,
    /// The order name, e.g. `#5000`.
    pub name: String,
    pub order_number: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    pub line_items: Vec<ApliiqLineItem>,
    pub shipping_address: ApliiqAddress,
    pub shipping_lines: Vec<ApliiqShippingLine>,
}

/// What Apliiq did with a new order.
#[derive(Debug, Clone, PartialEq)]
pub enum ApliiqPlacement {
    /// 200: accepted for production. `order_id` is Apliiq's id when the answer names one.
    Placed { order_id: Option<String> },
    /// 202: accepted but held; `reason` is what Apliiq said.
    Held { reason: String },
}

/// An order as `GET /v1/Order` lists it (the fields the bridge uses; `raw` keeps the rest).
#[derive(Debug, Clone, PartialEq)]
pub struct ApliiqOrderInfo {
    /// Apliiq's `OrderId`.
    pub order_id: Option<String>,
    /// `StoreOrderId`: the shop's order id.
    pub store_order_id: String,
    pub status: Option<String>,
    pub raw: Value,
}

/// Places and looks up Apliiq orders for one store.
#[derive(Clone)]
pub struct ApliiqClient {
    base_url: String,
    app_id: String,
    shared_secret: Secret,
    lookup_window: String,
    plumbing: Plumbing,
}

impl std::fmt::Debug for ApliiqClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApliiqClient")
            .field("base_url", &self.base_url)
            .field("app_id", &self.app_id)
            .finish_non_exhaustive()
    }
}

const CALL_CREATE: &str = "POST /v1/Order";
const CALL_FIND: &str = "GET /v1/Order";

impl ApliiqClient {
    /// A client for the store's `[stores.apliiq]` section; every call times out after `timeout`.
    pub fn new(config: &ApliiqConfig, timeout: Duration) -> Result<Self, ProviderError> {
        Ok(ApliiqClient {
            base_url: config.base_url.clone(),
            app_id: config.app_id.clone(),
            shared_secret: config.shared_secret.clone(),
            lookup_window: "3".to_owned(),
            plumbing: Plumbing::new(Provider::Apliiq, timeout)?,
        })
    }

    /// Uses `clock` for RTS.
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.plumbing.clock = clock;
        self
    }

    /// Uses `nonce` for STATE.
    pub fn with_nonce(mut self, nonce: Arc<dyn NonceSource>) -> Self {
        self.plumbing.nonce = nonce;
        self
    }

    /// The `yearOrlastNoMonth` value [`find_order`](Self::find_order) sends: a number of recent
    /// months (default 3) or a year.
    pub fn with_lookup_window(mut self, months_or_year: impl Into<String>) -> Self {
        self.lookup_window = months_or_year.into();
        self
    }

    fn authorization(&self, body: &[u8]) -> String {
        let rts = (self.plumbing.clock.now_ms().div_euclid(1000)).to_string();
        let state = self.plumbing.nonce.nonce();
        authorization(
            self.shared_secret.expose(),
            &self.app_id,
            &rts,
            &state,
            body,
        )
    }

    /// Sends the order. 200 is [`ApliiqPlacement::Placed`], 202 [`ApliiqPlacement::Held`].
    pub async fn create_order(
        &self,
        order: &ApliiqOrder,
    ) -> Result<ApliiqPlacement, ProviderError> {
        let secrets = [self.shared_secret.expose()];
        let info = CallInfo {
            provider: Provider::Apliiq,
            call: CALL_CREATE,
            idempotent: false,
            secrets: &secrets,
        };
        let body = serde_json::to_vec(order)
            .map_err(|e| info.err(ErrorKind::Config(format!("cannot encode the order: {e}"))))?;
        let request = self
            .plumbing
            .http
            .post(join_url(&self.base_url, ORDER_PATH))
            .header("Authorization", self.authorization(&body))
            .header("Accept", "application/json")
            .header("Content-Type", "application/json")
            .body(body);
        let answer = send(&info, self.plumbing.clock.as_ref(), request).await?;
        match answer.status {
            200 | 201 => Ok(ApliiqPlacement::Placed {
                order_id: serde_json::from_slice::<Value>(&answer.body)
                    .ok()
                    .as_ref()
                    .and_then(order_id_of),
            }),
            202 => Ok(ApliiqPlacement::Held {
                reason: reason_of(&answer, &secrets),
            }),
            _ => Err(error_for(&info, &answer)),
        }
    }

    /// Looks up the Apliiq order placed for the shop's order `shop_order_id` (`StoreOrderId`)
    /// among the orders of the lookup window; `None` when there is none.
    pub async fn find_order(
        &self,
        shop_order_id: &str,
    ) -> Result<Option<ApliiqOrderInfo>, ProviderError> {
        let secrets = [self.shared_secret.expose()];
        let info = CallInfo {
            provider: Provider::Apliiq,
            call: CALL_FIND,
            idempotent: true,
            secrets: &secrets,
        };
        let request = self
            .plumbing
            .http
            .get(join_url(&self.base_url, ORDER_PATH))
            .query(&[("yearOrlastNoMonth", self.lookup_window.as_str())])
            .header("Authorization", self.authorization(b""))
            .header("Accept", "application/json");
        let answer = send(&info, self.plumbing.clock.as_ref(), request).await?;
        if answer.status == 404 {
            return Ok(None);
        }
        if answer.status != 200 {
            return Err(error_for(&info, &answer));
        }
        if answer.body.iter().all(u8::is_ascii_whitespace) {
            return Ok(None);
        }
        let json: Value = serde_json::from_slice(&answer.body)
            .map_err(|e| info.unexpected(&answer, format!("not JSON ({e})")))?;
        let list = match json {
            Value::Array(list) => list,
            Value::Null => Vec::new(),
            other => vec![other],
        };
        Ok(list
            .into_iter()
            .find(|o| {
                o.get("StoreOrderId")
                    .and_then(value_string)
                    .is_some_and(|id| id == shop_order_id)
            })
            .map(|raw| ApliiqOrderInfo {
                order_id: raw.get("OrderId").and_then(value_string),
                store_order_id: shop_order_id.to_owned(),
                status: raw.get("Status").and_then(value_string),
                raw,
            }))
    }
}

fn value_string(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn order_id_of(v: &Value) -> Option<String> {
    ["OrderId", "orderId", "order_id", "id"]
        .iter()
        .find_map(|k| v.get(*k).and_then(value_string))
}

fn reason_of(answer: &Answer, secrets: &[&str]) -> String {
    let text = serde_json::from_slice::<Value>(&answer.body)
        .ok()
        .and_then(|v| {
            ["reason", "message", "Message", "error", "status"]
                .iter()
                .find_map(|k| v.get(*k).and_then(Value::as_str).map(str::to_owned))
                .or_else(|| v.as_str().map(str::to_owned))
        });
    match text {
        Some(t) => super::excerpt(t.as_bytes(), secrets),
        None => super::excerpt(&answer.body, secrets),
    }
}

fn error_for(info: &CallInfo<'_>, answer: &Answer) -> ProviderError {
    match answer.status {
        401 | 500 => info.err(ErrorKind::SignatureSuspect {
            status: answer.status,
            excerpt: info.excerpt(&answer.body),
        }),
        _ => info.status_error(answer),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_its_own_authorization() {
        let h = authorization("s", "APP", "17", "n0nce", b"{}");
        let p = parse_authorization(&h).expect("parses");
        assert_eq!(p.rts, "17");
        assert_eq!(p.app_id, "APP");
        assert_eq!(p.state, "n0nce");
        assert_eq!(p.signature, signature("s", "APP", "17", "n0nce", b"{}"));
        assert!(parse_authorization("Bearer x").is_none());
        assert!(parse_authorization("x-apliiq-auth 1:2").is_none());
    }

    #[test]
    fn empty_body_is_an_empty_term() {
        assert_eq!(string_to_sign("A", "1", "s", b""), "A1s");
        assert_eq!(string_to_sign("A", "1", "s", b"{}"), "A1se30=");
    }

    #[test]
    fn callback_verification_rejects_tampering() {
        let secret = Secret::new("k");
        let sig = callback_hmac("k", b"{\"a\":1}");
        assert!(verify_callback(&secret, b"{\"a\":1}", &sig));
        assert!(!verify_callback(&secret, b"{\"a\":2}", &sig));
        assert!(!verify_callback(&Secret::new("j"), b"{\"a\":1}", &sig));
        assert!(!verify_callback(&secret, b"{\"a\":1}", "%%%"));
    }
}

//! Spiff: SOA request signing and order placement.
//!
//! Two ways to place an order, chosen per store by `spiff.api`:
//! - GraphQL `orderCreate` on `POST /graphql` with `X-Application-Key` (current docs). A 200
//!   answer carrying an `errors` array is a failure.
//! - REST `POST /api/v2/orders` signed `Authorization: SOA <access key>:<signature>` (deprecated
//!   but still served). The signature is base64 of the raw HMAC-SHA1, keyed with the secret key,
//!   over `METHOD\nhex(digest(body))\ncontent-type\ndate\npath`, where the body digest is SHA-512
//!   in the current docs and MD5 in the legacy docs and Spiff's own WooCommerce plugin
//!   (`spiff.body_hash`). `Date` is an IMF-fixdate and is part of the signature. Any 2xx is a
//!   placed order; Spiff's id is recorded when the answer names one, and the answer is kept.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use hmac::{Hmac, KeyInit, Mac};
use md5::Md5;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha1::Sha1;
use sha2::{Digest, Sha512};

use super::{CallInfo, ErrorKind, Plumbing, Provider, ProviderError, join_url, send};
use crate::clock::Clock;
use crate::config::{SpiffApi, SpiffBodyHash, SpiffConfig};
use crate::secret::Secret;

/// The REST order path.
pub const REST_ORDERS_PATH: &str = "/api/v2/orders";
/// The GraphQL endpoint path.
pub const GRAPHQL_PATH: &str = "/graphql";
/// The content type every Spiff call is sent (and signed) with.
pub const CONTENT_TYPE: &str = "application/json";
/// The mutation the GraphQL client sends.
pub const ORDER_CREATE_MUTATION: &str = "mutation CreateOrder($orderItems: [OrderItemInput]) { orderCreate(orderItems: $orderItems) { id } }";

/// The inputs of an SOA signature, byte for byte as sent.
#[derive(Debug, Clone, Copy)]
pub struct SoaRequest<'a> {
    pub method: &'a str,
    pub body: &'a [u8],
    pub content_type: &'a str,
    /// The `Date` header value as sent.
    pub date: &'a str,
    /// The request path (no scheme, host or query).
    pub path: &'a str,
}

/// Lowercase hex digest of the body with the chosen hash.
pub fn body_digest_hex(hash: SpiffBodyHash, body: &[u8]) -> String {
    match hash {
        SpiffBodyHash::Sha512 => hex::encode(Sha512::digest(body)),
        SpiffBodyHash::Md5 => hex::encode(Md5::digest(body)),
    }
}

/// The exact string that is signed.
pub fn string_to_sign(hash: SpiffBodyHash, req: &SoaRequest<'_>) -> String {
    format!(
        "{}\n{}\n{}\n{}\n{}",
        req.method,
        body_digest_hex(hash, req.body),
        req.content_type,
        req.date,
        req.path
    )
}

/// Base64 of the raw HMAC-SHA1 of [`string_to_sign`] keyed with `secret_key`.
pub fn soa_signature(secret_key: &str, hash: SpiffBodyHash, req: &SoaRequest<'_>) -> String {
    let mut mac =
        Hmac::<Sha1>::new_from_slice(secret_key.as_bytes()).expect("HMAC takes any key length");
    mac.update(string_to_sign(hash, req).as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// The `Authorization` header value: `SOA <access key>:<signature>`.
pub fn soa_authorization(
    access_key: &str,
    secret_key: &str,
    hash: SpiffBodyHash,
    req: &SoaRequest<'_>,
) -> String {
    format!("SOA {access_key}:{}", soa_signature(secret_key, hash, req))
}

/// One design to order: the Spiff transaction and how many to make.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SpiffOrderItem {
    pub amount_to_order: u32,
    pub transaction_id: String,
}

/// The REST order body: `{"orderItems":[...],"autoPrint":bool}` (`autoPrint` only when set).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RestOrderBody<'a> {
    pub order_items: &'a [SpiffOrderItem],
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auto_print: Option<bool>,
}

/// The GraphQL `orderCreate` body.
pub fn graphql_order_body(items: &[SpiffOrderItem]) -> Vec<u8> {
    let body = serde_json::json!({
        "query": ORDER_CREATE_MUTATION,
        "variables": { "orderItems": items },
    });
    serde_json::to_vec(&body).unwrap_or_default()
}

/// The REST order body bytes.
pub fn rest_order_body(items: &[SpiffOrderItem], auto_print: Option<bool>) -> Vec<u8> {
    serde_json::to_vec(&RestOrderBody {
        order_items: items,
        auto_print,
    })
    .unwrap_or_default()
}

#[derive(Clone)]
enum Auth {
    Graphql {
        application_key: Secret,
    },
    Rest {
        access_key: String,
        secret_key: Secret,
        body_hash: SpiffBodyHash,
        auto_print: Option<bool>,
    },
}

/// A Spiff order placed: Spiff's order id when its answer names one, and the answer itself.
#[derive(Debug, Clone, PartialEq)]
pub struct SpiffPlacement {
    pub order_id: Option<String>,
    /// The answer's JSON (its text as a JSON string when it is not JSON).
    pub answer: Value,
}

/// Places Spiff orders for one store.
#[derive(Clone)]
pub struct SpiffClient {
    base_url: String,
    auth: Auth,
    plumbing: Plumbing,
}

impl std::fmt::Debug for SpiffClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SpiffClient")
            .field("base_url", &self.base_url)
            .field(
                "api",
                &match self.auth {
                    Auth::Graphql { .. } => "graphql",
                    Auth::Rest { .. } => "rest",
                },
            )
            .finish_non_exhaustive()
    }
}

const CALL_GRAPHQL: &str = "orderCreate (GraphQL)";
const CALL_REST: &str = "POST /api/v2/orders";

impl SpiffClient {
    /// A client for the store's `[stores.spiff]` section; every call times out after `timeout`.
    pub fn new(config: &SpiffConfig, timeout: Duration) -> Result<Self, ProviderError> {
        let missing = |what: &str| {
            ProviderError::new(
                Provider::Spiff,
                "client",
                true,
                ErrorKind::Config(format!(
                    "spiff.{what} is required for api = {:?}",
                    config.api
                )),
            )
        };
        let auth = match config.api {
            SpiffApi::Graphql => Auth::Graphql {
                application_key: config
                    .application_key
                    .clone()
                    .ok_or_else(|| missing("application_key"))?,
            },
            SpiffApi::Rest => Auth::Rest {
                access_key: config
                    .access_key
                    .clone()
                    .ok_or_else(|| missing("access_key"))?,
                secret_key: config
                    .secret_key
                    .clone()
                    .ok_or_else(|| missing("secret_key"))?,
                body_hash: config.body_hash,
                auto_print: config.auto_print,
            },
        };
        Ok(SpiffClient {
            base_url: config.api_base_url().to_owned(),
            auth,
            plumbing: Plumbing::new(Provider::Spiff, timeout)?,
        })
    }

    /// Uses `clock` for the `Date` header.
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.plumbing.clock = clock;
        self
    }

    /// Creates one Spiff order holding `items`. A GraphQL answer must name the order id; a
    /// REST 2xx is a placed order whether or not its body names one.
    pub async fn create_order(
        &self,
        items: &[SpiffOrderItem],
    ) -> Result<SpiffPlacement, ProviderError> {
        let date = super::imf_fixdate(self.plumbing.clock.now_ms());
        match &self.auth {
            Auth::Graphql { application_key } => {
                self.create_graphql(application_key, items, &date).await
            }
            Auth::Rest {
                access_key,
                secret_key,
                body_hash,
                auto_print,
            } => {
                let signer = RestSigner {
                    access_key,
                    secret_key,
                    body_hash: *body_hash,
                };
                self.create_rest(&signer, rest_order_body(items, *auto_print), &date)
                    .await
            }
        }
    }

    /// The GraphQL order mutation; its answer must name the order id.
    async fn create_graphql(
        &self,
        application_key: &Secret,
        items: &[SpiffOrderItem],
        date: &str,
    ) -> Result<SpiffPlacement, ProviderError> {
        let secrets = [application_key.expose()];
        let info = CallInfo {
            provider: Provider::Spiff,
            call: CALL_GRAPHQL,
            idempotent: false,
            secrets: &secrets,
        };
        let request = self
            .plumbing
            .http
            .post(join_url(&self.base_url, GRAPHQL_PATH))
            .header("Content-Type", CONTENT_TYPE)
            .header("Accept", "application/json")
            .header("Date", date)
            .header("X-Application-Key", application_key.expose())
            .body(graphql_order_body(items));
        let answer = send(&info, self.plumbing.clock.as_ref(), request).await?;
        if !(200..300).contains(&answer.status) {
            return Err(info.status_error(&answer));
        }
        let order_id = parse_graphql_answer(&info, &answer)?;
        Ok(SpiffPlacement {
            order_id: Some(order_id),
            answer: answer_json(&answer),
        })
    }

    /// The REST order request (`body`), signed with the SOA scheme; any 2xx is a placed order.
    async fn create_rest(
        &self,
        signer: &RestSigner<'_>,
        body: Vec<u8>,
        date: &str,
    ) -> Result<SpiffPlacement, ProviderError> {
        let secrets = [signer.secret_key.expose()];
        let info = CallInfo {
            provider: Provider::Spiff,
            call: CALL_REST,
            idempotent: false,
            secrets: &secrets,
        };
        let url = join_url(&self.base_url, REST_ORDERS_PATH);
        let path = reqwest::Url::parse(&url)
            .map(|u| u.path().to_owned())
            .map_err(|e| info.err(ErrorKind::Config(format!("spiff.base_url: {e}"))))?;
        let authorization = soa_authorization(
            signer.access_key,
            signer.secret_key.expose(),
            signer.body_hash,
            &SoaRequest {
                method: "POST",
                body: &body,
                content_type: CONTENT_TYPE,
                date,
                path: &path,
            },
        );
        let request = self
            .plumbing
            .http
            .post(url)
            .header("Content-Type", CONTENT_TYPE)
            .header("Accept", "application/json")
            .header("Date", date)
            .header("Authorization", authorization)
            .body(body);
        let answer = send(&info, self.plumbing.clock.as_ref(), request).await?;
        if !(200..300).contains(&answer.status) {
            return Err(info.status_error(&answer));
        }
        Ok(rest_placement(&answer))
    }
}

/// The keys a REST order request is signed with.
struct RestSigner<'a> {
    access_key: &'a str,
    secret_key: &'a Secret,
    body_hash: SpiffBodyHash,
}

fn id_string(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn parse_graphql_answer(
    info: &CallInfo<'_>,
    answer: &super::Answer,
) -> Result<String, ProviderError> {
    let json: Value = serde_json::from_slice(&answer.body)
        .map_err(|e| info.unexpected(answer, format!("not JSON ({e})")))?;
    if let Some(errors) = json.get("errors").and_then(Value::as_array)
        && !errors.is_empty()
    {
        let messages = errors
            .iter()
            .map(|e| {
                e.get("message")
                    .and_then(Value::as_str)
                    .map(str::to_owned)
                    .unwrap_or_else(|| e.to_string())
            })
            .collect::<Vec<_>>()
            .join("; ");
        return Err(info.err(ErrorKind::GraphQl {
            messages: super::excerpt(messages.as_bytes(), info.secrets),
        }));
    }
    json.pointer("/data/orderCreate/id")
        .and_then(id_string)
        .ok_or_else(|| info.unexpected(answer, "no data.orderCreate.id"))
}

fn answer_json(answer: &super::Answer) -> Value {
    serde_json::from_slice(&answer.body)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&answer.body).into_owned()))
}

/// A REST 2xx: placed, with the id when the answer names one where Spiff puts it.
fn rest_placement(answer: &super::Answer) -> SpiffPlacement {
    let json = answer_json(answer);
    let order_id = ["/id", "/orderId", "/order/id", "/data/id"]
        .iter()
        .find_map(|p| json.pointer(p).and_then(id_string));
    SpiffPlacement {
        order_id,
        answer: json,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documented_example_body_shape() {
        let items = [SpiffOrderItem {
            amount_to_order: 1,
            transaction_id: "afbe864c-4c1a-4734-a550-ae8a6dbf7373".into(),
        }];
        assert_eq!(
            String::from_utf8(rest_order_body(&items, Some(true))).unwrap(),
            r#"{"orderItems":[{"amountToOrder":1,"transactionId":"afbe864c-4c1a-4734-a550-ae8a6dbf7373"}],"autoPrint":true}"#
        );
        assert_eq!(
            String::from_utf8(rest_order_body(&items, None)).unwrap(),
            r#"{"orderItems":[{"amountToOrder":1,"transactionId":"afbe864c-4c1a-4734-a550-ae8a6dbf7373"}]}"#
        );
    }

    #[test]
    fn string_to_sign_has_five_lines() {
        let s = string_to_sign(
            SpiffBodyHash::Md5,
            &SoaRequest {
                method: "POST",
                body: b"",
                content_type: "application/json",
                date: "D",
                path: "/p",
            },
        );
        assert_eq!(
            s,
            "POST\nd41d8cd98f00b204e9800998ecf8427e\napplication/json\nD\n/p"
        );
    }
}

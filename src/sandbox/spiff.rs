//! The Spiff sandbox: `POST /graphql` (application key) and `POST /api/v2/orders` (SOA signed).
//!
//! What it checks, from Spiff's authentication document:
//! - REST: `Content-Type: application/json`, the exact path `/api/v2/orders`, a `Date` header in
//!   the document's format (`D, d M Y H:i:s GMT`) within [`DATE_WINDOW_SECS`] of the sandbox's
//!   clock, and `Authorization: SOA <access key>:<base64 HMAC-SHA1>` over
//!   `METHOD\nhex(digest(body))\ncontent type\ndate\npath`, where the digest is the one the
//!   sandbox is set to ([`SandboxCredentials::spiff_body_hash`](super::SandboxCredentials)):
//!   SHA-512 (current document) or MD5 (legacy document), never either.
//! - GraphQL: `X-Application-Key`, `Content-Type: application/json`, the documented
//!   `orderCreate` mutation and `orderItems` as `[OrderItemInput]`, each exactly
//!   `transactionId` (a non-empty string) and `amountToOrder` (a positive integer).
//!
//! The verification is written here from the document; it shares no code with the bridge's
//! signer.

use std::sync::Arc;

use base64::Engine as _;
use hmac::{Hmac, KeyInit, Mac};
use poem::web::Data;
use poem::{Body, Request, Response, Route, handler, post};
use serde_json::{Value, json};
use sha2::Digest as _;

use super::{SandboxState, after, before, header, json_response};
use crate::config::SpiffBodyHash;

/// How far the `Date` header may be from the sandbox's clock, either way.
pub const DATE_WINDOW_SECS: i64 = 900;
/// The one path REST orders are accepted on.
pub const REST_PATH: &str = "/api/v2/orders";
/// The mutation of the document's GraphQL example.
pub const DOCUMENTED_MUTATION: &str = "mutation CreateOrder($orderItems: [OrderItemInput]) { orderCreate(orderItems: $orderItems) { id } }";

/// Why Spiff refuses a request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SpiffRefusal {
    #[error("Authorization is not `SOA <access key>:<signature>`")]
    AuthorizationFormat,
    #[error("unknown access key")]
    AccessKey,
    #[error("signature does not match")]
    Signature,
    #[error("Date is not in the format `D, d M Y H:i:s GMT`")]
    DateFormat,
    #[error("Date is {0} s away from the server's clock")]
    DateWindow(i64),
    #[error("Content-Type must be application/json")]
    ContentType,
    #[error("{0}")]
    Body(String),
}

/// One SOA-signed request as received.
#[derive(Debug, Clone, Copy)]
pub struct SoaInput<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub content_type: &'a str,
    pub date: &'a str,
    pub body: &'a [u8],
    pub authorization: &'a str,
}

fn hex_lower(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Checks an SOA `Authorization` header under the access and secret key and the body digest
/// the account uses; the signature is compared in constant time.
pub fn verify_soa(
    access_key: &str,
    secret_key: &str,
    digest: SpiffBodyHash,
    input: &SoaInput<'_>,
) -> Result<(), SpiffRefusal> {
    let rest = input
        .authorization
        .strip_prefix("SOA ")
        .ok_or(SpiffRefusal::AuthorizationFormat)?;
    let (key, signature) = rest
        .split_once(':')
        .ok_or(SpiffRefusal::AuthorizationFormat)?;
    if key != access_key {
        return Err(SpiffRefusal::AccessKey);
    }
    let presented = base64::engine::general_purpose::STANDARD
        .decode(signature)
        .map_err(|_| SpiffRefusal::Signature)?;
    let body_hex = match digest {
        SpiffBodyHash::Sha512 => hex_lower(&sha2::Sha512::digest(input.body)),
        SpiffBodyHash::Md5 => hex_lower(&md5::Md5::digest(input.body)),
    };
    let unsigned = [
        input.method,
        &body_hex,
        input.content_type,
        input.date,
        input.path,
    ]
    .join("\n");
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(secret_key.as_bytes())
        .map_err(|_| SpiffRefusal::Signature)?;
    mac.update(unsigned.as_bytes());
    mac.verify_slice(&presented)
        .map_err(|_| SpiffRefusal::Signature)
}

/// Checks `Date` is the document's format (`Mon, 23 Apr 2012 12:45:19 GMT`, exactly) and within
/// [`DATE_WINDOW_SECS`] of `now_ms`.
pub fn check_date(date: &str, now_ms: i64) -> Result<(), SpiffRefusal> {
    const FORMAT: &str = "%a, %d %b %Y %H:%M:%S GMT";
    let parsed = chrono::NaiveDateTime::parse_from_str(date, FORMAT)
        .map_err(|_| SpiffRefusal::DateFormat)?;
    if parsed.format(FORMAT).to_string() != date {
        return Err(SpiffRefusal::DateFormat);
    }
    let off = parsed.and_utc().timestamp() - now_ms.div_euclid(1000);
    if off.abs() > DATE_WINDOW_SECS {
        return Err(SpiffRefusal::DateWindow(off));
    }
    Ok(())
}

/// The transaction ids of `orderItems` (the document's `OrderItemInput`: exactly
/// `transactionId` and `amountToOrder`).
pub fn order_items(items: &Value, allow_other_fields: bool) -> Result<Vec<String>, String> {
    let list = items
        .as_array()
        .filter(|a| !a.is_empty())
        .ok_or("orderItems must be a non-empty list")?;
    let mut ids = Vec::new();
    for (n, item) in list.iter().enumerate() {
        let obj = item
            .as_object()
            .ok_or(format!("orderItems[{n}] is not an object"))?;
        let id = obj
            .get("transactionId")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .ok_or(format!("orderItems[{n}].transactionId must be a string"))?;
        if obj
            .get("amountToOrder")
            .and_then(Value::as_u64)
            .is_none_or(|a| a == 0)
        {
            return Err(format!(
                "orderItems[{n}].amountToOrder must be a positive integer"
            ));
        }
        if !allow_other_fields
            && let Some(other) = obj
                .keys()
                .find(|k| !matches!(k.as_str(), "transactionId" | "amountToOrder"))
        {
            return Err(format!(
                "orderItems[{n}]: OrderItemInput has no field {other:?}"
            ));
        }
        ids.push(id.to_owned());
    }
    Ok(ids)
}

fn squash(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The transaction ids of a GraphQL body holding the documented mutation.
pub fn graphql_items(body: &[u8]) -> Result<Vec<String>, String> {
    let parsed: Value =
        serde_json::from_slice(body).map_err(|e| format!("the body is not JSON: {e}"))?;
    let query = parsed["query"].as_str().ok_or("query is missing")?;
    if squash(query) != DOCUMENTED_MUTATION {
        return Err(format!(
            "query is not the orderCreate mutation ({DOCUMENTED_MUTATION})"
        ));
    }
    order_items(&parsed["variables"]["orderItems"], false)
}

/// The transaction ids of a REST order body (`orderItems`, optional boolean `autoPrint`).
pub fn rest_items(body: &[u8]) -> Result<Vec<String>, String> {
    let parsed: Value =
        serde_json::from_slice(body).map_err(|e| format!("the body is not JSON: {e}"))?;
    let obj = parsed.as_object().ok_or("the body is not a JSON object")?;
    if let Some(other) = obj
        .keys()
        .find(|k| !matches!(k.as_str(), "orderItems" | "autoPrint"))
    {
        return Err(format!("unknown field {other:?}"));
    }
    if obj.get("autoPrint").is_some_and(|a| !a.is_boolean()) {
        return Err("autoPrint must be a boolean".to_owned());
    }
    order_items(&parsed["orderItems"], false)
}

pub(super) fn routes() -> Route {
    Route::new()
        .at("/graphql", post(graphql))
        .at(REST_PATH, post(rest_orders))
}

fn create(state: &SandboxState, items: &[String]) -> String {
    state.with(|i| {
        for t in items {
            *i.spiff_orders.entry(t.clone()).or_default() += 1;
        }
    });
    uuid::Uuid::new_v4().to_string()
}

fn graphql_error(status: u16, message: &str) -> Response {
    json_response(status, &json!({ "errors": [{ "message": message }] }))
}

#[handler]
async fn graphql(req: &Request, body: Body, state: Data<&Arc<SandboxState>>) -> Response {
    const CALL: &str = "orderCreate";
    let body = body.into_vec().await.unwrap_or_default();
    let key = header(req, "X-Application-Key");
    let key_ok: bool = subtle::ConstantTimeEq::ct_eq(
        key.as_bytes(),
        state.credentials.spiff_application_key.as_bytes(),
    )
    .into();
    if !key_ok {
        state.record("spiff", CALL, false, 401);
        return graphql_error(401, "Invalid application key");
    }
    let (early, fault) = before(&state, "spiff", CALL).await;
    if let Some(r) = early {
        return r;
    }
    let r = if header(req, "Content-Type") != "application/json" {
        graphql_error(415, "Content-Type must be application/json")
    } else {
        match graphql_items(&body) {
            Err(message) => graphql_error(400, &message),
            Ok(items) => {
                let id = create(&state, &items);
                json_response(200, &json!({ "data": { "orderCreate": { "id": id } } }))
            }
        }
    };
    after(&state, "spiff", CALL, fault, r).await
}

/// Authenticates a REST order request as Spiff does (signature, then the date).
pub fn check_rest(state: &SandboxState, req: &Request, body: &[u8]) -> Result<(), SpiffRefusal> {
    let creds = &state.credentials;
    let content_type = header(req, "Content-Type");
    let date = header(req, "Date");
    let authorization = header(req, "Authorization");
    verify_soa(
        &creds.spiff_access_key,
        &creds.spiff_secret_key,
        creds.spiff_body_hash,
        &SoaInput {
            method: req.method().as_str(),
            path: req.uri().path(),
            content_type: &content_type,
            date: &date,
            body,
            authorization: &authorization,
        },
    )?;
    check_date(&date, state.clock.now_ms())
}

#[handler]
async fn rest_orders(req: &Request, body: Body, state: Data<&Arc<SandboxState>>) -> Response {
    const CALL: &str = "POST /api/v2/orders";
    let body = body.into_vec().await.unwrap_or_default();
    if let Err(refusal) = check_rest(&state, req, &body) {
        state.record("spiff", CALL, false, 401);
        return json_response(401, &json!({ "error": refusal.to_string() }));
    }
    let (early, fault) = before(&state, "spiff", CALL).await;
    if let Some(r) = early {
        return r;
    }
    let r = match rest_items(&body) {
        _ if header(req, "Content-Type") != "application/json" => json_response(
            415,
            &json!({ "error": SpiffRefusal::ContentType.to_string() }),
        ),
        Err(message) => json_response(400, &json!({ "error": message })),
        Ok(items) => {
            let id = create(&state, &items);
            json_response(200, &json!({ "id": id }))
        }
    };
    after(&state, "spiff", CALL, fault, r).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vectors() -> Value {
        serde_json::from_str(include_str!("../../tests/fixtures/signatures.json")).unwrap()
    }

    fn input(v: &Value) -> SoaInput<'_> {
        SoaInput {
            method: v["method"].as_str().unwrap(),
            path: v["path"].as_str().unwrap(),
            content_type: v["content_type"].as_str().unwrap(),
            date: v["date"].as_str().unwrap(),
            body: v["body"].as_str().unwrap().as_bytes(),
            authorization: v["authorization"].as_str().unwrap(),
        }
    }

    #[test]
    fn every_vector_verifies_with_its_digest_only() {
        let v = vectors();
        for (set, digest, other) in [
            ("spiff", SpiffBodyHash::Sha512, SpiffBodyHash::Md5),
            (
                "spiff_legacy_md5",
                SpiffBodyHash::Md5,
                SpiffBodyHash::Sha512,
            ),
        ] {
            let list = v[set].as_array().unwrap();
            assert!(!list.is_empty());
            for case in list {
                let (a, s) = (
                    case["access_key"].as_str().unwrap(),
                    case["secret_key"].as_str().unwrap(),
                );
                assert_eq!(verify_soa(a, s, digest, &input(case)), Ok(()), "{case}");
                assert_eq!(
                    verify_soa(a, s, other, &input(case)),
                    Err(SpiffRefusal::Signature),
                    "{case}"
                );
                assert_eq!(
                    verify_soa(a, "wrong", digest, &input(case)),
                    Err(SpiffRefusal::Signature)
                );
            }
        }
    }

    #[test]
    fn any_changed_byte_of_a_signature_is_refused() {
        let v = vectors();
        let case = &v["spiff"][0];
        let good = case["authorization"].as_str().unwrap();
        let (a, s) = (
            case["access_key"].as_str().unwrap(),
            case["secret_key"].as_str().unwrap(),
        );
        let sig_start = good.find(':').unwrap() + 1;
        for n in sig_start..good.len() - 1 {
            let mut bytes = good.as_bytes().to_vec();
            bytes[n] = if bytes[n] == b'A' { b'B' } else { b'A' };
            let bad = String::from_utf8(bytes).unwrap();
            let mut inp = input(case);
            inp.authorization = &bad;
            assert!(
                verify_soa(a, s, SpiffBodyHash::Sha512, &inp).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn date_must_be_the_documented_format_within_the_window() {
        let now = 1_335_185_119_000; // Mon, 23 Apr 2012 12:45:19 GMT
        assert_eq!(check_date("Mon, 23 Apr 2012 12:45:19 GMT", now), Ok(()));
        assert_eq!(
            check_date("Mon, 23 Apr 2012 12:45:19 GMT", now + 901_000),
            Err(SpiffRefusal::DateWindow(-901))
        );
        for bad in [
            "",
            "2012-04-23T12:45:19Z",
            "Mon, 23 Apr 2012 12:45:19 UTC",
            "Mon, 23 Apr 2012 12:45:19 +0000",
            "Mon,  23 Apr 2012 12:45:19 GMT",
            "Tue, 23 Apr 2012 12:45:19 GMT",
        ] {
            assert_eq!(check_date(bad, now), Err(SpiffRefusal::DateFormat), "{bad}");
        }
    }

    #[test]
    fn graphql_body_must_be_the_documented_mutation_and_input_shape() {
        let ok = json!({"query": DOCUMENTED_MUTATION, "variables": {"orderItems": [{"amountToOrder": 1, "transactionId": "t1"}]}});
        assert_eq!(
            graphql_items(ok.to_string().as_bytes()),
            Ok(vec!["t1".to_owned()])
        );
        for bad in [
            json!({"query": "mutation { orderCreate(orderItems: []) { id } }", "variables": {"orderItems": [{"amountToOrder": 1, "transactionId": "t1"}]}}),
            json!({"query": DOCUMENTED_MUTATION, "variables": {"orderItems": []}}),
            json!({"query": DOCUMENTED_MUTATION, "variables": {"orderItems": [{"amount": 1, "transactionId": "t1"}]}}),
            json!({"query": DOCUMENTED_MUTATION, "variables": {"orderItems": [{"amountToOrder": 0, "transactionId": "t1"}]}}),
            json!({"query": DOCUMENTED_MUTATION, "variables": {"orderItems": [{"amountToOrder": "1", "transactionId": "t1"}]}}),
            json!({"query": DOCUMENTED_MUTATION, "variables": {"orderItems": [{"amountToOrder": 1, "transactionId": "t1", "quantity": 1}]}}),
        ] {
            assert!(graphql_items(bad.to_string().as_bytes()).is_err(), "{bad}");
        }
        let rest =
            br#"{"orderItems":[{"amountToOrder":2,"transactionId":"t2"}],"autoPrint":false}"#;
        assert_eq!(rest_items(rest), Ok(vec!["t2".to_owned()]));
        assert!(
            rest_items(
                br#"{"orderItems":[{"amountToOrder":2,"transactionId":"t2"}],"autoPrint":"yes"}"#
            )
            .is_err()
        );
    }
}

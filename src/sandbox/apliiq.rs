//! The Apliiq sandbox: `POST /v1/Order` and `GET /v1/Order`, and the fulfilment callback it
//! sends to the shop's Fulfillment URL.
//!
//! What it checks, from Apliiq's authentication document:
//! `Authorization: x-apliiq-auth RTS:SIG:APPID:STATE`, exactly four fields; `APPID` the store's
//! app id; `RTS` Unix seconds within [`RTS_WINDOW_SECS`] of the sandbox's clock; `STATE` a
//! nonce used once (the document: requests "can't be stolen, replayed, or tampered with"); `SIG`
//! base64 of HMAC-SHA256 under the shared secret over `APPID RTS STATE base64(body)` (the empty
//! string for no body). The fulfilment callback carries `x-apliiq-hmac`: base64 of
//! HMAC-SHA256 under the shared secret over base64 of the body.
//!
//! The verification and the callback signature are written here from the document; they share
//! no code with the bridge's signer or verifier.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use hmac::{Hmac, KeyInit, Mac};
use poem::web::Data;
use poem::{Body, Request, Response, Route, get, handler, post};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::Sha256;

use super::{SandboxState, after, before, header, json_response};

/// How far `RTS` may be from the sandbox's clock, either way.
pub const RTS_WINDOW_SECS: i64 = 300;

/// Why Apliiq refuses a request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApliiqRefusal {
    #[error("Authorization is not `x-apliiq-auth RTS:SIG:APPID:STATE`")]
    Format,
    #[error("unknown app id")]
    AppId,
    #[error("signature does not match")]
    Signature,
    #[error("RTS is {0} s away from the server's clock")]
    Stale(i64),
    #[error("STATE was used before")]
    Replayed,
}

/// The four fields of an `x-apliiq-auth` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthFields {
    pub rts: i64,
    pub sig: String,
    pub app_id: String,
    pub state: String,
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn hmac_sha256(secret: &str, data: &[u8]) -> Hmac<Sha256> {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC-SHA256 takes a key of any length"));
    mac.update(data);
    mac
}

/// Splits the header into its four fields; refuses any other shape.
pub fn parse(authorization: &str) -> Result<AuthFields, ApliiqRefusal> {
    let rest = authorization
        .strip_prefix("x-apliiq-auth ")
        .ok_or(ApliiqRefusal::Format)?;
    let fields: Vec<&str> = rest.split(':').collect();
    let [rts, sig, app_id, state] = fields[..] else {
        return Err(ApliiqRefusal::Format);
    };
    if rts.is_empty() || !rts.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ApliiqRefusal::Format);
    }
    if sig.is_empty() || app_id.is_empty() || state.is_empty() {
        return Err(ApliiqRefusal::Format);
    }
    Ok(AuthFields {
        rts: rts.parse().map_err(|_| ApliiqRefusal::Format)?,
        sig: sig.to_owned(),
        app_id: app_id.to_owned(),
        state: state.to_owned(),
    })
}

/// Checks the signature of a request (not its time or nonce), in constant time. `RTS` is
/// signed as it appears in the header.
pub fn verify_signature(
    app_id: &str,
    shared_secret: &str,
    authorization: &str,
    body: &[u8],
) -> Result<AuthFields, ApliiqRefusal> {
    let fields = parse(authorization)?;
    if fields.app_id != app_id {
        return Err(ApliiqRefusal::AppId);
    }
    let rts_text = authorization
        .strip_prefix("x-apliiq-auth ")
        .and_then(|r| r.split(':').next())
        .unwrap_or_default();
    let content = if body.is_empty() {
        String::new()
    } else {
        b64(body)
    };
    let data = format!("{app_id}{rts_text}{}{content}", fields.state);
    let presented = base64::engine::general_purpose::STANDARD
        .decode(&fields.sig)
        .map_err(|_| ApliiqRefusal::Signature)?;
    hmac_sha256(shared_secret, data.as_bytes())
        .verify_slice(&presented)
        .map_err(|_| ApliiqRefusal::Signature)?;
    Ok(fields)
}

/// The `x-apliiq-hmac` header of a fulfilment callback body.
pub fn callback_signature(shared_secret: &str, body: &[u8]) -> String {
    b64(&hmac_sha256(shared_secret, b64(body).as_bytes())
        .finalize()
        .into_bytes())
}

/// Authenticates a request as Apliiq does: signature, time window, then the nonce (recorded
/// once the rest holds).
pub fn check(state: &SandboxState, req: &Request, body: &[u8]) -> Result<(), ApliiqRefusal> {
    let creds = &state.credentials;
    let fields = verify_signature(
        &creds.apliiq_app_id,
        &creds.apliiq_shared_secret,
        &header(req, "Authorization"),
        body,
    )?;
    let now = state.clock.now_ms().div_euclid(1000);
    let off = fields.rts - now;
    if off.abs() > RTS_WINDOW_SECS {
        return Err(ApliiqRefusal::Stale(off));
    }
    state.with(|i| {
        // Nonces older than the window can no longer be replayed: forget them, once a second.
        if i.apliiq_nonces_pruned_at != now {
            i.apliiq_nonces
                .retain(|_, rts| (*rts - now).abs() <= RTS_WINDOW_SECS);
            i.apliiq_nonces_pruned_at = now;
        }
        if i.apliiq_nonces.contains_key(&fields.state) {
            return Err(ApliiqRefusal::Replayed);
        }
        i.apliiq_nonces.insert(fields.state.clone(), fields.rts);
        Ok(())
    })
}

pub(super) fn routes() -> Route {
    Route::new()
        .at("/v1/Order", get(find).post(create))
        .at("/_sandbox/apliiq/fulfil", post(fulfil_endpoint))
}

fn denied() -> Response {
    json_response(
        401,
        &json!({ "Message": "Authorization has been denied for this request." }),
    )
}

/// The order fields the sandbox requires (`id`, non-empty `line_items` with `sku` and a
/// positive `quantity`).
fn order_problem(order: &Value) -> Option<&'static str> {
    if order["id"].as_str().is_none_or(str::is_empty) {
        return Some("id is required");
    }
    let Some(lines) = order["line_items"].as_array().filter(|l| !l.is_empty()) else {
        return Some("line_items is required");
    };
    if lines.iter().any(|l| {
        l["sku"].as_str().is_none_or(str::is_empty) || l["quantity"].as_u64().is_none_or(|q| q == 0)
    }) {
        return Some("line_items need a sku and a positive quantity");
    }
    None
}

#[handler]
async fn create(req: &Request, body: Body, state: Data<&Arc<SandboxState>>) -> Response {
    const CALL: &str = "POST /v1/Order";
    let body = body.into_vec().await.unwrap_or_default();
    if check(&state, req, &body).is_err() {
        state.record("apliiq", CALL, false, 401);
        return denied();
    }
    let (early, fault) = before(&state, "apliiq", CALL).await;
    if let Some(r) = early {
        return r;
    }
    let order: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    if let Some(problem) = order_problem(&order) {
        let r = json_response(400, &json!({ "Message": problem }));
        return after(&state, "apliiq", CALL, fault, r).await;
    }
    let shop_id = order["id"].as_str().unwrap_or_default().to_owned();
    let held = order["shipping_lines"][0]["code"].as_str() == Some("hold");
    let apliiq_id = state.with(|i| {
        let next = 70000 + i.apliiq_orders.len();
        let entry = i
            .apliiq_orders
            .entry(shop_id.clone())
            .or_insert_with(|| (format!("{next}"), 0));
        entry.1 += 1;
        entry.0.clone()
    });
    let r = if held {
        json_response(
            202,
            &json!({ "reason": "held for review: address needs confirmation" }),
        )
    } else {
        json_response(
            200,
            &json!({ "OrderId": apliiq_id, "StoreOrderId": shop_id }),
        )
    };
    after(&state, "apliiq", CALL, fault, r).await
}

#[handler]
async fn find(req: &Request, state: Data<&Arc<SandboxState>>) -> Response {
    const CALL: &str = "GET /v1/Order";
    if check(&state, req, b"").is_err() {
        state.record("apliiq", CALL, false, 401);
        return denied();
    }
    let (early, fault) = before(&state, "apliiq", CALL).await;
    if let Some(r) = early {
        return r;
    }
    let list: Vec<Value> = state.with(|i| {
        i.apliiq_orders
            .iter()
            .map(|(shop, (id, _))| json!({ "OrderId": id, "StoreOrderId": shop, "Status": "received" }))
            .collect()
    });
    let r = json_response(200, &Value::Array(list));
    after(&state, "apliiq", CALL, fault, r).await
}

/// A fulfilment to report: which shop order shipped, and where to send the callback.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct FulfilRequest {
    /// The bridge's callback URL (`<public_url>/v1/callbacks/apliiq/<store>`).
    pub callback_url: String,
    /// The shop's order id, as the order was placed.
    pub order_id: String,
    /// The tracking number to report (default: one made from the order id).
    #[serde(default)]
    pub tracking_number: Option<String>,
}

/// What the bridge answered to a fulfilment callback.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct FulfilReport {
    pub status: u16,
    pub tracking_number: String,
    pub answer: Value,
}

/// Sends the signed fulfilment callback for an order this sandbox placed, as Apliiq does
/// when it ships.
pub async fn send_fulfilment(
    state: &SandboxState,
    request: &FulfilRequest,
) -> Result<FulfilReport, String> {
    let lines = state.with(|i| i.apliiq_orders.contains_key(&request.order_id));
    if !lines {
        return Err(format!(
            "order {} was not placed with this sandbox",
            request.order_id
        ));
    }
    let tracking = request.tracking_number.clone().unwrap_or_else(|| {
        let digits: String = request
            .order_id
            .chars()
            .filter(char::is_ascii_digit)
            .collect();
        format!("9400111699000{digits:0>8}")
    });
    let body = serde_json::to_vec(&json!({ "fulfillment": {
        "order_id": request.order_id, "status": "success", "tracking_company": "USPS",
        "tracking_numbers": [tracking], "tracking_urls": [], "line_items": []
    }}))
    .map_err(|e| e.to_string())?;
    let signature = callback_signature(&state.credentials.apliiq_shared_secret, &body);
    crate::net::ensure_crypto_provider();
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .map_err(|e| e.to_string())?;
    let resp = client
        .post(&request.callback_url)
        .header("Content-Type", "application/json")
        .header("x-apliiq-hmac", signature)
        .body(body)
        .send()
        .await
        .map_err(|e| format!("callback to {}: {e}", request.callback_url))?;
    let status = resp.status().as_u16();
    let answer = resp.json().await.unwrap_or(Value::Null);
    state.record("apliiq", "fulfilment callback", true, status);
    Ok(FulfilReport {
        status,
        tracking_number: tracking,
        answer,
    })
}

#[handler]
async fn fulfil_endpoint(body: Body, state: Data<&Arc<SandboxState>>) -> Response {
    let body = body.into_vec().await.unwrap_or_default();
    let request: FulfilRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => {
            return json_response(
                400,
                &json!({ "error": "bad_request", "message": e.to_string() }),
            );
        }
    };
    match send_fulfilment(&state, &request).await {
        Ok(report) => json_response(200, &serde_json::to_value(report).unwrap_or(Value::Null)),
        Err(message) => json_response(409, &json!({ "error": "not_sent", "message": message })),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vectors() -> Value {
        serde_json::from_str(include_str!("../../tests/fixtures/signatures.json")).unwrap()
    }

    #[test]
    fn every_vector_verifies_and_a_changed_input_does_not() {
        let v = vectors();
        let list = v["apliiq"].as_array().unwrap();
        assert!(!list.is_empty());
        for case in list {
            let s = |k: &str| case[k].as_str().unwrap();
            let fields = verify_signature(
                s("app_id"),
                s("shared_secret"),
                s("authorization"),
                s("body").as_bytes(),
            )
            .unwrap();
            assert_eq!(fields.state, s("state"));
            assert_eq!(fields.rts.to_string(), s("rts"));
            let tampered = format!("{} ", s("body"));
            assert_eq!(
                verify_signature(
                    s("app_id"),
                    s("shared_secret"),
                    s("authorization"),
                    tampered.as_bytes()
                ),
                Err(ApliiqRefusal::Signature)
            );
            assert_eq!(
                verify_signature(
                    s("app_id"),
                    "wrong",
                    s("authorization"),
                    s("body").as_bytes()
                ),
                Err(ApliiqRefusal::Signature)
            );
        }
    }

    #[test]
    fn callback_vectors_match() {
        let v = vectors();
        let list = v["apliiq_fulfillment_callback"].as_array().unwrap();
        assert!(!list.is_empty());
        for case in list {
            let s = |k: &str| case[k].as_str().unwrap();
            assert_eq!(
                callback_signature(s("shared_secret"), s("body").as_bytes()),
                s("x_apliiq_hmac")
            );
        }
    }

    #[test]
    fn only_the_documented_header_format_parses() {
        assert!(parse("x-apliiq-auth 1764000000:c2ln:app:nonce").is_ok());
        for bad in [
            "",
            "x-apliiq-auth 1764000000:c2ln:app",
            "x-apliiq-auth 1764000000:c2ln:app:nonce:extra",
            "X-Apliiq-Auth 1764000000:c2ln:app:nonce",
            "x-apliiq-auth  1764000000:c2ln:app:nonce",
            "x-apliiq-auth 17640000.5:c2ln:app:nonce",
            "x-apliiq-auth 1764000000::app:nonce",
            "x-apliiq-auth 1764000000:c2ln:app:",
        ] {
            assert_eq!(parse(bad), Err(ApliiqRefusal::Format), "{bad}");
        }
    }
}

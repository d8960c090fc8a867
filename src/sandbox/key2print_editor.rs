//! The Key2print editor's side of the product gateway: given a work session started with a
//! `productGatewaySetup`, the sandbox calls the shop's four callback URLs in the document's
//! order (product details, available options for the default setup, the price and the setup
//! data of the valid setup), each a signed GET carrying `productIdentifier`, `key`, `tstamp`,
//! `sign` (and `setup`) besides the URL's own parameters, and checks each answer's shape.
//!
//! `POST /_sandbox/key2print/editor` (`{"session_id": …}`, default the newest gateway session)
//! runs it and answers the report.

use std::sync::Arc;
use std::time::Duration;

use poem::web::Data;
use poem::{Body, Response, handler};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::key2print::gateway_sign;
use super::{SandboxState, json_response};

/// One gateway call the editor made.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GatewayStep {
    /// `product-details`, `available-options`, `price` or `setup-data`.
    pub method: String,
    pub status: u16,
    /// The answer was `success: true` with the document's `data` shape.
    pub ok: bool,
    /// What was wrong, when not ok.
    pub problem: Option<String>,
    /// The answer in a few words, when ok (the product's name, the price, ...).
    pub summary: Option<String>,
    pub took_ms: u64,
}

/// The editor's visit of one work session's gateway.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EditorReport {
    pub session_id: String,
    pub product_identifier: String,
    pub steps: Vec<GatewayStep>,
}

impl EditorReport {
    /// Every call answered as documented.
    pub fn ok(&self) -> bool {
        self.steps.len() == 4 && self.steps.iter().all(|s| s.ok)
    }
}

fn is_str_map(v: &Value) -> bool {
    v.as_object()
        .is_some_and(|m| m.values().all(Value::is_string))
}

fn is_named_list(v: &Value) -> bool {
    v.as_array().is_some_and(|a| {
        a.iter()
            .all(|x| x["id"].is_string() && x["name"].is_string())
    })
}

/// Checks a gateway answer's `data` against the document's shape for `method`.
pub fn check_shape(method: &str, data: &Value) -> Result<(), String> {
    let fail = |what: &str| Err(format!("{method}: {what}"));
    match method {
        "product-details" => {
            if !data["name"].is_string() || !is_str_map(&data["defaultSetup"]) {
                return fail("name and defaultSetup are required");
            }
            let options_ok = data["options"].as_array().is_some_and(|o| {
                is_named_list(&data["options"]) && o.iter().all(|x| is_named_list(&x["values"]))
            });
            if !options_ok {
                return fail("options must be [{id, name, values: [{id, name}]}]");
            }
        }
        "available-options" => {
            let avail = data["availableOptions"].as_object().is_some_and(|m| {
                m.values()
                    .all(|v| v.as_array().is_some_and(|a| a.iter().all(Value::is_string)))
            });
            if !is_str_map(&data["validSetup"]) || !avail {
                return fail(
                    "validSetup and availableOptions (option id -> [value id]) are required",
                );
            }
        }
        "price" => {
            let flat = ["netPrice", "grossPrice", "tax"]
                .iter()
                .all(|k| data[*k].is_number())
                && data["taxRate"].is_string()
                && data["currency"].is_string()
                && data["isAvailable"].is_boolean()
                && data.get("additionalInfo").is_none_or(|a| {
                    a.as_array().is_some_and(|l| {
                        l.iter()
                            .all(|x| x["name"].is_string() && x["value"].is_string())
                    })
                });
            let tree = data["priceOptionTree"]["values"].is_array();
            if !flat && !tree {
                return fail(
                    "a flat price (netPrice, grossPrice, tax, taxRate, currency, isAvailable) or a priceOptionTree is required",
                );
            }
        }
        "setup-data" => {
            if !data["pageCount"].is_u64()
                || !(data["templateFormatId"].is_string() || data["templateFormatId"].is_null())
            {
                return fail("pageCount (integer) and templateFormatId are required");
            }
        }
        _ => return fail("unknown method"),
    }
    Ok(())
}

async fn call(
    state: &SandboxState,
    client: &reqwest::Client,
    url: &str,
    product: &str,
    setup: Option<&Value>,
) -> Result<(u16, Value), String> {
    let mut url = reqwest::Url::parse(url).map_err(|e| format!("{url}: {e}"))?;
    let mut params: Vec<(String, String)> = url
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    params.push(("productIdentifier".into(), product.to_owned()));
    params.push(("key".into(), state.credentials.key2print_api_key.clone()));
    params.push((
        "tstamp".into(),
        state.clock.now_ms().div_euclid(1000).to_string(),
    ));
    if let Some(s) = setup {
        params.push(("setup".into(), s.to_string()));
    }
    let sign = gateway_sign(&state.credentials.key2print_api_secret, &params);
    params.push(("sign".into(), sign));
    url.query_pairs_mut().clear().extend_pairs(&params);
    let resp = client.get(url).send().await.map_err(|e| e.to_string())?;
    let status = resp.status().as_u16();
    let body = resp.json::<Value>().await.unwrap_or(Value::Null);
    Ok((status, body))
}

fn summarise(method: &str, data: &Value) -> String {
    let text = |v: &Value| match v {
        Value::String(s) => s.clone(),
        Value::Null => "none".to_owned(),
        other => other.to_string(),
    };
    match method {
        "product-details" => format!(
            "{}, {} options",
            text(&data["name"]),
            data["options"].as_array().map_or(0, Vec::len)
        ),
        "available-options" => format!("valid setup {}", data["validSetup"]),
        "price" if data["priceOptionTree"].is_object() => "a price option tree".to_owned(),
        "price" => format!(
            "{} {} gross ({})",
            text(&data["grossPrice"]),
            text(&data["currency"]),
            text(&data["taxRate"])
        ),
        _ => format!(
            "page count {}, template format {}",
            text(&data["pageCount"]),
            text(&data["templateFormatId"])
        ),
    }
}

fn step(method: &str, outcome: &Result<(u16, Value), String>, took: Duration) -> GatewayStep {
    let (status, problem) = match outcome {
        Err(e) => (0, Some(e.clone())),
        Ok((status, body)) if *status != 200 => (*status, Some(format!("HTTP {status}, not 200"))),
        Ok((status, body)) if body["success"] != json!(true) => (
            *status,
            Some(format!(
                "success is not true: {}",
                body["details"].as_str().unwrap_or("no details")
            )),
        ),
        Ok((status, body)) => (*status, check_shape(method, &body["data"]).err()),
    };
    let summary = match (&problem, outcome) {
        (None, Ok((_, body))) => Some(summarise(method, &body["data"])),
        _ => None,
    };
    GatewayStep {
        method: method.to_owned(),
        status,
        ok: problem.is_none(),
        problem,
        summary,
        took_ms: u64::try_from(took.as_millis()).unwrap_or(u64::MAX),
    }
}

/// Opens the editor for a work session (the newest one with a gateway when `session_id` is
/// `None`) and walks its product gateway.
pub async fn open_editor(
    state: &SandboxState,
    session_id: Option<&str>,
) -> Result<EditorReport, String> {
    let (id, setup) = state
        .with(|i| {
            i.key2print_open_sessions
                .iter()
                .rev()
                .find(|(id, s)| {
                    session_id.is_none_or(|want| want == id)
                        && s.get("productGatewaySetup").is_some()
                })
                .map(|(id, s)| (id.clone(), s["productGatewaySetup"].clone()))
        })
        .ok_or("no work session with a productGatewaySetup was started")?;
    let product = setup["productIdentifier"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    crate::net::ensure_crypto_provider();
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .map_err(|e| e.to_string())?;
    let mut steps = Vec::new();
    let mut setup_value: Option<Value> = None;
    for (method, url_field, data_field) in [
        ("product-details", "productDetailsUrl", "defaultSetup"),
        ("available-options", "availableOptionsUrl", "validSetup"),
        ("price", "priceUrl", ""),
        ("setup-data", "setupDataUrl", ""),
    ] {
        let started = std::time::Instant::now();
        let url = setup[url_field].as_str().unwrap_or_default();
        let outcome = call(state, &client, url, &product, setup_value.as_ref()).await;
        let s = step(method, &outcome, started.elapsed());
        let ok = s.ok;
        state.record("key2print", &format!("gateway {method}"), true, s.status);
        steps.push(s);
        if !ok {
            break;
        }
        if let (Ok((_, body)), false) = (&outcome, data_field.is_empty()) {
            setup_value = Some(body["data"][data_field].clone());
        }
    }
    Ok(EditorReport {
        session_id: id,
        product_identifier: product,
        steps,
    })
}

#[derive(Debug, Default, Deserialize)]
struct EditorRequest {
    #[serde(default)]
    session_id: Option<String>,
}

#[handler]
pub(super) async fn open_endpoint(body: Body, state: Data<&Arc<SandboxState>>) -> Response {
    let body = body.into_vec().await.unwrap_or_default();
    let request: EditorRequest = if body.is_empty() {
        EditorRequest::default()
    } else {
        match serde_json::from_slice(&body) {
            Ok(r) => r,
            Err(e) => {
                return json_response(
                    400,
                    &json!({ "error": "bad_request", "message": e.to_string() }),
                );
            }
        }
    };
    match open_editor(&state, request.session_id.as_deref()).await {
        Ok(report) => json_response(200, &serde_json::to_value(report).unwrap_or(Value::Null)),
        Err(message) => json_response(409, &json!({ "error": "no_session", "message": message })),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_follow_the_document_examples() {
        let details = json!({"name": "Flyer", "defaultSetup": {"1": "1", "2": "4"}, "options": [{"id": "1", "name": "Format", "values": [{"id": "1", "name": "A3"}]}]});
        assert_eq!(check_shape("product-details", &details), Ok(()));
        assert!(check_shape("product-details", &json!({"name": "Flyer"})).is_err());
        let avail = json!({"validSetup": {"1": "1"}, "availableOptions": {"1": ["1", "2"]}});
        assert_eq!(check_shape("available-options", &avail), Ok(()));
        assert!(check_shape("available-options", &json!({"validSetup": {"1": 1}})).is_err());
        let price = json!({"netPrice": 100.0, "grossPrice": 120.0, "tax": 20.0, "taxRate": "Tax 20%", "currency": "EUR", "isAvailable": true, "additionalInfo": [{"name": "Product weight", "value": "10 kg"}]});
        assert_eq!(check_shape("price", &price), Ok(()));
        assert!(check_shape("price", &json!({"netPrice": "100"})).is_err());
        assert_eq!(
            check_shape(
                "price",
                &json!({"priceOptionTree": {"id": 1, "name": "Production time", "values": []}})
            ),
            Ok(())
        );
        assert_eq!(
            check_shape(
                "setup-data",
                &json!({"pageCount": 11, "templateFormatId": null})
            ),
            Ok(())
        );
        assert!(check_shape("setup-data", &json!({"pageCount": "11"})).is_err());
    }
}

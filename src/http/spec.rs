//! The published OpenAPI document: poem-openapi's, refined where its derive cannot say what
//! the handlers do. Handlers share one error type ([`super::problem::ApiError`]), so the
//! derive lists every error status on every operation; here each operation keeps only the
//! statuses it can answer ([`ERROR_STATUSES`], plus 408 and 413 where it reads a body, which
//! the connection limits answer). The HMAC checks are described as security schemes, and
//! the webhook lists the form-encoded ping beside JSON.
//!
//! The document is OpenAPI 3.1 ([`OPENAPI_VERSION`]): its `webhooks` (the order events the
//! bridge posts) are a 3.1 field, which a 3.0 document may not carry and which Swagger UI
//! shows only in a 3.1 document. poem-openapi writes `3.0.0`, but its document uses nothing
//! whose meaning 3.1 changed (no `nullable`, no boolean `exclusiveMinimum`; a test holds it
//! to the 3.1 schema), so only the version is rewritten.

use serde_yaml::{Mapping, Value};

/// The OpenAPI version the published document declares.
pub const OPENAPI_VERSION: &str = "3.1.0";

/// The error statuses each operation answers besides its success statuses.
pub const ERROR_STATUSES: &[(&str, &[u16])] = &[
    ("healthz", &[]),
    ("readyz", &[503]),
    ("metrics", &[503]),
    ("receiveWooCommerceWebhook", &[400, 401, 415, 500, 503]),
    ("apliiqFulfillment", &[400, 401, 500, 503]),
    ("key2printGatewayProductDetails", &[]),
    ("key2printGatewayAvailableOptions", &[]),
    ("key2printGatewayPrice", &[]),
    ("key2printGatewaySetupData", &[]),
    ("listKey2printGatewayErrors", &[400, 401, 404, 500, 503]),
    ("storeStatus", &[400, 401, 500, 503]),
    ("storeOrder", &[400, 401, 404, 500, 503]),
    ("storeRetryOrder", &[400, 401, 500, 503]),
    ("storeSendOrderNow", &[400, 401, 404, 409, 500, 503]),
    ("storeHoldOrder", &[400, 401, 404, 409, 500, 503]),
    ("storeApproveOrder", &[400, 401, 404, 409, 500, 503]),
    ("storeFile", &[400, 401, 404, 500, 503]),
    (
        "startKey2printSession",
        &[400, 401, 409, 429, 500, 502, 503],
    ),
    ("flushKey2printCache", &[400, 401, 409, 500, 502, 503]),
    ("exportPersonalData", &[400, 401, 500, 503]),
    ("erasePersonalData", &[400, 401, 500, 503]),
    (
        "priceKey2printSetup",
        &[400, 401, 404, 409, 422, 500, 502, 503],
    ),
    (
        "listKey2printTemplateFormats",
        &[400, 401, 409, 500, 502, 503],
    ),
    ("listKey2printTemplates", &[400, 401, 409, 500, 502, 503]),
    ("listKey2printPlaceholders", &[400, 401, 409, 500, 502, 503]),
    ("listOrders", &[400, 401, 500, 503]),
    ("getOrder", &[400, 401, 404, 500, 503]),
    ("listDeliveries", &[400, 401, 500, 503]),
    ("getDelivery", &[400, 401, 404, 500, 503]),
    ("listJobs", &[400, 401, 500, 503]),
    ("getJob", &[400, 401, 404, 500, 503]),
    ("replayJob", &[400, 401, 404, 409, 500, 503]),
    ("replayJobs", &[400, 401, 500, 503]),
    ("getFile", &[400, 401, 404, 500, 503]),
    ("listStores", &[401]),
];

/// A signature check, as a security scheme.
struct Signature {
    name: &'static str,
    /// `header` or `query`.
    place: &'static str,
    param: &'static str,
    description: &'static str,
    /// The operations it guards.
    operations: &'static [&'static str],
    /// Whether an operation may be called without it.
    optional: bool,
}

/// The signature checks the handlers make.
const SIGNATURES: &[Signature] = &[
    Signature {
        name: "WooCommerceSignature",
        place: "header",
        param: "X-WC-Webhook-Signature",
        description: "base64(HMAC-SHA256(webhook secret, raw body)), as WooCommerce sends it. \
                      Only the ping `webhook_id=N` (form-encoded) may come without it.",
        operations: &["receiveWooCommerceWebhook"],
        optional: true,
    },
    Signature {
        name: "ApliiqHmac",
        place: "header",
        param: "x-apliiq-hmac",
        description: "base64(HMAC-SHA256(Apliiq shared_secret, base64(raw body))), as Apliiq \
                      signs its fulfilment callback.",
        operations: &["apliiqFulfillment"],
        optional: false,
    },
    Signature {
        name: "Key2printSign",
        place: "query",
        param: "sign",
        description: "hex HMAC-SHA256 under the store's Key2print api_secret over every other \
                      query parameter (sorted by name, `name=value` joined by `&`); `key` must \
                      be the store's api_key and `tstamp` within gateway_tstamp_window_secs of \
                      the bridge's clock.",
        operations: &[
            "key2printGatewayProductDetails",
            "key2printGatewayAvailableOptions",
            "key2printGatewayPrice",
            "key2printGatewaySetupData",
        ],
        optional: false,
    },
];

/// What the connection limits answer for a request with a body.
const BODY_STATUSES: [(u16, &str); 2] = [
    (
        408,
        "The body did not arrive within body_read_timeout_secs; the connection is closed.",
    ),
    (413, "The body is larger than max_body_bytes."),
];

/// Refines poem-openapi's document (JSON text, read keeping the order of its keys; a
/// response listed twice, which the derive emits for 400, is kept once, as the error
/// type describes it) as described in the module docs.
pub fn refine(json: &str) -> Value {
    let Ok(Ordered(mut spec)) = serde_json::from_str::<Ordered>(json) else {
        return Value::Null;
    };
    if let Some(version) = spec.get_mut("openapi") {
        *version = OPENAPI_VERSION.into();
    }
    if let Some(paths) = spec.get_mut("paths").and_then(Value::as_mapping_mut) {
        for (_, item) in paths.iter_mut() {
            let Some(item) = item.as_mapping_mut() else {
                continue;
            };
            for (_, op) in item.iter_mut() {
                if let Some(op) = op.as_mapping_mut() {
                    refine_operation(op);
                }
            }
        }
    }
    if let Some(schemes) = spec
        .get_mut("components")
        .and_then(|c| c.get_mut("securitySchemes"))
        .and_then(Value::as_mapping_mut)
    {
        for sig in SIGNATURES {
            let mut scheme = Mapping::new();
            scheme.insert("type".into(), "apiKey".into());
            scheme.insert("description".into(), sig.description.into());
            scheme.insert("name".into(), sig.param.into());
            scheme.insert("in".into(), sig.place.into());
            schemes.insert(sig.name.into(), Value::Mapping(scheme));
        }
    }
    spec
}

/// A JSON document read into a YAML value: keys keep their order, and of a key given twice
/// the last value is kept (in its first place).
struct Ordered(Value);

impl<'de> serde::Deserialize<'de> for Ordered {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(OrderedVisitor).map(Ordered)
    }
}

struct OrderedVisitor;

impl<'de> serde::de::Visitor<'de> for OrderedVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(Ordered(v)) = seq.next_element()? {
            items.push(v);
        }
        Ok(Value::Sequence(items))
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Mapping::new();
        while let Some((k, Ordered(v))) = map.next_entry::<String, Ordered>()? {
            out.insert(Value::String(k), v);
        }
        Ok(Value::Mapping(out))
    }
}

fn refine_operation(op: &mut Mapping) {
    let id = op
        .get("operationId")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let has_body = op.contains_key("requestBody");
    if let Some((_, allowed)) = ERROR_STATUSES.iter().find(|(o, _)| *o == id)
        && let Some(responses) = op.get_mut("responses").and_then(Value::as_mapping_mut)
    {
        responses.retain(|status, _| {
            let code: u16 = status.as_str().and_then(|s| s.parse().ok()).unwrap_or(0);
            code < 400 || allowed.contains(&code)
        });
        if has_body {
            for (code, description) in BODY_STATUSES {
                responses.insert(code.to_string().into(), problem_response(description));
            }
        }
    }
    for sig in SIGNATURES {
        if !sig.operations.contains(&id.as_str()) {
            continue;
        }
        // The header is the scheme's: not listed again as a parameter.
        if let Some(params) = op.get_mut("parameters").and_then(Value::as_sequence_mut) {
            params.retain(|p| p.get("name").and_then(Value::as_str) != Some(sig.param));
        }
        let mut requirement = Mapping::new();
        requirement.insert(sig.name.into(), Value::Sequence(Vec::new()));
        let mut security = vec![Value::Mapping(requirement)];
        if sig.optional {
            security.push(Value::Mapping(Mapping::new()));
        }
        op.insert("security".into(), Value::Sequence(security));
    }
    if id == "receiveWooCommerceWebhook"
        && let Some(content) = op
            .get_mut("requestBody")
            .and_then(|b| b.get_mut("content"))
            .and_then(Value::as_mapping_mut)
    {
        content.insert("application/x-www-form-urlencoded".into(), ping_body());
    }
}

fn problem_response(description: &str) -> Value {
    serde_yaml::from_str(&format!(
        "description: {description:?}\ncontent:\n  application/json; charset=utf-8:\n    schema:\n      $ref: '#/components/schemas/Problem'\n"
    ))
    .unwrap_or(Value::Null)
}

fn ping_body() -> Value {
    serde_yaml::from_str(
        "schema:\n  type: object\n  description: The unsigned ping WooCommerce sends when a webhook is saved, e.g. `webhook_id=12`; answered 200, not stored.\n  required:\n  - webhook_id\n  properties:\n    webhook_id:\n      type: string\n      pattern: '^[0-9]+$'\n",
    )
    .unwrap_or(Value::Null)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_operation_has_its_statuses() {
        let spec = refine(&super::super::api_service().spec());
        let paths = spec["paths"].as_mapping().expect("paths");
        let mut seen = 0;
        for (path, item) in paths {
            for (method, op) in item.as_mapping().expect("item") {
                let id = op["operationId"].as_str().expect("operationId");
                let (_, allowed) = ERROR_STATUSES
                    .iter()
                    .find(|(o, _)| *o == id)
                    .unwrap_or_else(|| panic!("{id} has no entry in ERROR_STATUSES"));
                for (status, _) in op["responses"].as_mapping().expect("responses") {
                    let code: u16 = status.as_str().and_then(|s| s.parse().ok()).expect("code");
                    let body = op.get("requestBody").is_some() && matches!(code, 408 | 413);
                    assert!(
                        code < 400 || allowed.contains(&code) || body,
                        "{method:?} {path:?}: {code}"
                    );
                }
                seen += 1;
            }
        }
        assert_eq!(seen, ERROR_STATUSES.len());
    }
}

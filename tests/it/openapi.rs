//! The committed `openapi/openapi.yaml` is the generated spec: this test fails when the code
//! and the file disagree. Regenerate with `cargo run -- openapi > openapi/openapi.yaml`
//! (or run this test with `PRINTBRIDGE_UPDATE_OPENAPI=1`).

use std::path::PathBuf;

#[test]
fn committed_spec_matches_the_code() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("openapi/openapi.yaml");
    let generated = printbridge::http::openapi_yaml();
    if std::env::var("PRINTBRIDGE_UPDATE_OPENAPI").as_deref() == Ok("1") {
        std::fs::write(&path, &generated).expect("write openapi.yaml");
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "openapi/openapi.yaml is out of date: run `cargo run -- openapi > openapi/openapi.yaml` \
         and commit the result"
    );
}

#[test]
fn spec_documents_every_contract_endpoint() {
    let spec = printbridge::http::openapi_yaml();
    for path in [
        "/v1/webhooks/woocommerce/{store}",
        "/healthz",
        "/readyz",
        "/v1/admin/orders",
        "/v1/admin/orders/{store}/{order_id}",
    ] {
        assert!(spec.contains(&format!("{path}:")), "{path} missing");
    }
    assert!(spec.starts_with("openapi: 3.1.0\n"));
}

/// Each operation lists only the statuses it answers, the signature checks are security
/// schemes, and the webhook takes the form-encoded ping beside JSON.
#[test]
fn spec_states_what_each_operation_answers() {
    let spec: serde_json::Value =
        serde_json::from_str(&printbridge::http::openapi_json()).expect("json");
    let op = |path: &str, method: &str| spec["paths"][path][method].clone();
    let statuses = |path: &str, method: &str| -> Vec<String> {
        op(path, method)["responses"]
            .as_object()
            .expect("responses")
            .keys()
            .cloned()
            .collect()
    };
    let webhook = statuses("/v1/webhooks/woocommerce/{store}", "post");
    for absent in ["409", "502", "404", "429"] {
        assert!(!webhook.contains(&absent.to_owned()), "{webhook:?}");
    }
    for present in ["200", "401", "413", "415"] {
        assert!(webhook.contains(&present.to_owned()), "{webhook:?}");
    }
    assert_eq!(statuses("/metrics", "get"), ["200", "503"]);
    assert_eq!(statuses("/healthz", "get"), ["200"]);
    let session = statuses("/v1/stores/{store}/key2print/sessions", "post");
    assert!(session.contains(&"429".to_owned()), "{session:?}");
    let w = op("/v1/webhooks/woocommerce/{store}", "post");
    assert_eq!(
        w["security"],
        serde_json::json!([{"WooCommerceSignature": []}, {}])
    );
    assert!(
        w["requestBody"]["content"]["application/x-www-form-urlencoded"].is_object(),
        "{w}"
    );
    assert_eq!(
        op("/v1/callbacks/apliiq/{store}", "post")["security"],
        serde_json::json!([{"ApliiqHmac": []}])
    );
    assert_eq!(
        op("/v1/key2print/{store}/gateway/price", "get")["security"],
        serde_json::json!([{"Key2printSign": []}])
    );
    let schemes = &spec["components"]["securitySchemes"];
    assert_eq!(
        schemes["WooCommerceSignature"]["name"],
        "X-WC-Webhook-Signature"
    );
    assert_eq!(schemes["WooCommerceSignature"]["in"], "header");
    assert_eq!(schemes["Key2printSign"]["in"], "query");
}

/// The `$id` of the OpenAPI Initiative's JSON Schema for OpenAPI 3.1 documents, kept in
/// `tests/fixtures/openapi/`.
const OAS_3_1_SCHEMA: &str = "https://spec.openapis.org/oas/3.1/schema/2022-10-07";

/// The published document is a valid OpenAPI 3.1 document (its `webhooks`, the order events,
/// are a 3.1 field, and Swagger UI shows them only in a 3.1 document): it passes the OpenAPI
/// Initiative's schema for 3.1 documents, and every Schema Object in it passes JSON Schema
/// 2020-12's metaschema, the dialect a 3.1 document's schemas are read in.
#[test]
fn spec_is_a_valid_openapi_3_1_document() {
    let spec: serde_json::Value =
        serde_json::from_str(&printbridge::http::openapi_json()).expect("json");
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/openapi/oas-3.1-schema-2022-10-07.json");
    let oas: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).expect("the OpenAPI 3.1 schema"))
            .expect("the OpenAPI 3.1 schema is JSON");
    let mut schemas = boon::Schemas::new();
    let mut compiler = boon::Compiler::new();
    compiler
        .add_resource(OAS_3_1_SCHEMA, oas)
        .expect("add the OpenAPI 3.1 schema");
    let document = compiler
        .compile(OAS_3_1_SCHEMA, &mut schemas)
        .expect("compile the OpenAPI 3.1 schema");
    let dialect = compiler
        .compile("https://json-schema.org/draft/2020-12/schema", &mut schemas)
        .expect("compile JSON Schema 2020-12's metaschema");

    assert_eq!(spec["openapi"], "3.1.0");
    if let Err(e) = schemas.validate(&spec, document) {
        panic!("not a valid OpenAPI 3.1 document: {e:#}");
    }
    assert!(
        spec["webhooks"]["order.placed"]["post"].is_object(),
        "the order events are documented as webhooks"
    );

    let mut found = Vec::new();
    schema_objects(&spec, String::new(), &mut found);
    assert!(found.len() > 50, "{} Schema Objects found", found.len());
    for (at, schema) in &found {
        if let Err(e) = schemas.validate(schema, dialect) {
            panic!("the schema at {at} is not JSON Schema 2020-12: {e:#}");
        }
        assert!(
            !has_key(schema, "nullable"),
            "the schema at {at} uses `nullable`, which OpenAPI 3.1 does not have: a null \
             value is `type: [T, \"null\"]`"
        );
    }
}

/// Every Schema Object of an OpenAPI document: the value of each `schema` field (parameters,
/// headers, media types) and of each entry under `components.schemas`, with where it is.
fn schema_objects<'a>(
    value: &'a serde_json::Value,
    at: String,
    found: &mut Vec<(String, &'a serde_json::Value)>,
) {
    match value {
        serde_json::Value::Object(map) => {
            for (key, v) in map {
                let here = format!("{at}/{key}");
                if key == "schema" || at == "/components/schemas" {
                    found.push((here, v));
                } else {
                    schema_objects(v, here, found);
                }
            }
        }
        serde_json::Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                schema_objects(v, format!("{at}/{i}"), found);
            }
        }
        _ => {}
    }
}

/// Whether `key` is a field of any object within `value`.
fn has_key(value: &serde_json::Value, key: &str) -> bool {
    match value {
        serde_json::Value::Object(map) => {
            map.contains_key(key) || map.values().any(|v| has_key(v, key))
        }
        serde_json::Value::Array(items) => items.iter().any(|v| has_key(v, key)),
        _ => false,
    }
}

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
    assert!(spec.starts_with("openapi: 3."));
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

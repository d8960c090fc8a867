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

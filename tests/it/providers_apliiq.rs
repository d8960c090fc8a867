//! Apliiq client against a local server: exact signature, headers and body; outcomes and errors.

use std::sync::Arc;
use std::time::Duration;

use crate::providers_support::*;
use printbridge::clock::ManualClock;
use printbridge::config::ApliiqConfig;
use printbridge::providers::apliiq::{
    ApliiqAddress, ApliiqClient, ApliiqLineItem, ApliiqOrder, ApliiqPlacement, ApliiqShippingLine,
};
use printbridge::providers::{ErrorKind, FailureClass, FixedNonce};
use printbridge::secret::Secret;
use serde_json::json;
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const APP_ID: &str = "ZM9sbEgGg2Gm";
const SECRET: &str = "2q6JIDQGrPG2PTTGTnUVfrbK7GRBzlet";
const STATE: &str = "124e03dfBMyB2HdY";
const RTS: &str = "1335185119";

fn client(base: &str, timeout: Duration) -> ApliiqClient {
    let config = ApliiqConfig {
        base_url: base.to_owned(),
        app_id: APP_ID.to_owned(),
        shared_secret: Secret::new(SECRET),
        default_shipping_code: "standard".to_owned(),
        shipping_codes: Default::default(),
    };
    ApliiqClient::new(&config, timeout)
        .expect("client")
        .with_clock(ManualClock::new(NOW_MS))
        .with_nonce(Arc::new(FixedNonce(STATE.to_owned())))
}

fn order() -> ApliiqOrder {
    ApliiqOrder {
        id: "5000".into(),
        number: 5000,
        name: "#5000".into(),
        order_number: 5000,
        email: None,
        line_items: vec![ApliiqLineItem {
            id: "90".into(),
            title: "Heritage tee".into(),
            quantity: 1,
            price: "45.50".into(),
            grams: 0,
            sku: "APQ-1998244S7A1".into(),
        }],
        shipping_address: ApliiqAddress {
            first_name: "Zoë".into(),
            last_name: "Łukasz".into(),
            address1: "1692 Avenue du Mont-Royal Est".into(),
            city: "Montréal".into(),
            zip: "H2J 1Z5".into(),
            province: "Quebec".into(),
            province_code: "QC".into(),
            country: "Canada".into(),
            country_code: "CA".into(),
            ..Default::default()
        },
        shipping_lines: vec![ApliiqShippingLine {
            code: "standard".into(),
        }],
    }
}

/// The body the create-order doc describes, as in signatures.json.
const ORDER_BODY: &str = r##"{"id":"5000","number":5000,"name":"#5000","order_number":5000,"line_items":[{"id":"90","title":"Heritage tee","quantity":1,"price":"45.50","grams":0,"sku":"APQ-1998244S7A1"}],"shipping_address":{"first_name":"Zoë","last_name":"Łukasz","address1":"1692 Avenue du Mont-Royal Est","city":"Montréal","zip":"H2J 1Z5","province":"Quebec","province_code":"QC","country":"Canada","country_code":"CA"},"shipping_lines":[{"code":"standard"}]}"##;

fn assert_signed(req: &Request, body: &[u8]) {
    let expected = format!(
        "x-apliiq-auth {RTS}:{}:{APP_ID}:{STATE}",
        apliiq_sig(SECRET, APP_ID, RTS, STATE, body)
    );
    assert_eq!(header(req, "authorization"), expected);
    assert_eq!(header(req, "accept"), "application/json");
    assert_user_agent(req);
}

async fn answer_create(
    template: ResponseTemplate,
) -> (
    MockServer,
    Result<ApliiqPlacement, printbridge::providers::ProviderError>,
) {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/Order"))
        .respond_with(template)
        .mount(&server)
        .await;
    let result = client(&server.uri(), Duration::from_secs(5))
        .create_order(&order())
        .await;
    (server, result)
}

#[tokio::test]
async fn placed_order_is_signed_over_the_exact_body() {
    let (server, result) =
        answer_create(ResponseTemplate::new(200).set_body_json(json!({"OrderId": 436200}))).await;
    assert_eq!(
        result.expect("placed"),
        ApliiqPlacement::Placed {
            order_id: Some("436200".into())
        }
    );
    let req = only_request(&server).await;
    assert_eq!(String::from_utf8_lossy(&req.body), ORDER_BODY);
    assert_eq!(header(&req, "content-type"), "application/json");
    assert_signed(&req, ORDER_BODY.as_bytes());
}

#[tokio::test]
async fn held_order_carries_the_reason() {
    let (_server, result) = answer_create(
        ResponseTemplate::new(202)
            .set_body_json(json!({"message": "Insufficient account balance"})),
    )
    .await;
    assert_eq!(
        result.expect("held"),
        ApliiqPlacement::Held {
            reason: "Insufficient account balance".into()
        }
    );
    let (_server, result) =
        answer_create(ResponseTemplate::new(202).set_body_string("address needs review")).await;
    assert_eq!(
        result.expect("held"),
        ApliiqPlacement::Held {
            reason: "address needs review".into()
        }
    );
}

#[tokio::test]
async fn unauthorized_is_a_permanent_possible_signature_problem() {
    let (_server, result) =
        answer_create(ResponseTemplate::new(401).set_body_string("Unauthorized")).await;
    let err = result.expect_err("401");
    assert!(
        matches!(err.kind, ErrorKind::SignatureSuspect { status: 401, .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("signature"), "{err}");
    assert!(err.to_string().contains("POST /v1/Order"), "{err}");
    assert!(matches!(err.class(), FailureClass::Permanent { .. }));
}

#[tokio::test]
async fn server_error_is_an_ambiguous_possible_signature_problem() {
    let (_server, result) = answer_create(
        ResponseTemplate::new(500).set_body_string(format!("An error has occurred. key={SECRET}")),
    )
    .await;
    let err = result.expect_err("500");
    assert!(
        matches!(err.kind, ErrorKind::SignatureSuspect { status: 500, .. }),
        "{err:?}"
    );
    assert!(matches!(err.class(), FailureClass::Ambiguous { .. }));
    assert!(!err.to_string().contains(SECRET));
}

#[tokio::test]
async fn other_server_errors_are_ambiguous_too() {
    let (_server, result) = answer_create(ResponseTemplate::new(502)).await;
    assert!(matches!(
        result.expect_err("502").class(),
        FailureClass::Ambiguous { .. }
    ));
}

#[tokio::test]
async fn rate_limit_is_retryable() {
    let (_server, result) =
        answer_create(ResponseTemplate::new(429).insert_header("Retry-After", "12")).await;
    assert_eq!(
        result.expect_err("429").class(),
        FailureClass::Retryable {
            retry_after: Some(Duration::from_secs(12))
        }
    );
}

#[tokio::test]
async fn timeout_is_ambiguous() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(5)))
        .mount(&server)
        .await;
    let err = client(&server.uri(), Duration::from_millis(300))
        .create_order(&order())
        .await
        .expect_err("timeout");
    assert!(matches!(err.kind, ErrorKind::Timeout));
    assert!(matches!(err.class(), FailureClass::Ambiguous { .. }));
}

fn listed_orders() -> serde_json::Value {
    json!([
        {"OrderId": 436200, "StoreOrderId": "903", "Status": "Preparing to release"},
        {"OrderId": 436201, "StoreOrderId": "5000", "Status": "In production"}
    ])
}

#[tokio::test]
async fn find_order_looks_up_by_the_shop_order_id() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1/Order"))
        .and(query_param("yearOrlastNoMonth", "3"))
        .respond_with(ResponseTemplate::new(200).set_body_json(listed_orders()))
        .mount(&server)
        .await;
    let c = client(&server.uri(), Duration::from_secs(5));
    let found = c.find_order("5000").await.expect("lookup").expect("found");
    assert_eq!(found.order_id.as_deref(), Some("436201"));
    assert_eq!(found.status.as_deref(), Some("In production"));
    assert_eq!(found.store_order_id, "5000");
    assert!(c.find_order("5001").await.expect("lookup").is_none());
    let reqs = requests(&server).await;
    assert_eq!(reqs.len(), 2);
    assert!(reqs[0].body.is_empty());
    assert_signed(&reqs[0], b"");
}

#[tokio::test]
async fn find_order_with_nothing_listed_is_none() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([])))
        .mount(&server)
        .await;
    let c = client(&server.uri(), Duration::from_secs(5)).with_lookup_window("2026");
    assert!(c.find_order("5000").await.expect("lookup").is_none());
    let req = only_request(&server).await;
    assert_eq!(
        query(&req),
        vec![("yearOrlastNoMonth".to_owned(), "2026".to_owned())]
    );
}

#[tokio::test]
async fn find_order_timeout_is_retryable_because_it_changes_nothing() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(5)))
        .mount(&server)
        .await;
    let err = client(&server.uri(), Duration::from_millis(300))
        .find_order("5000")
        .await
        .expect_err("timeout");
    assert_eq!(err.class(), FailureClass::Retryable { retry_after: None });
}

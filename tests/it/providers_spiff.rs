//! Spiff client against a local server: exact headers, signature and body; error mapping.

use std::time::Duration;

use crate::providers_support::*;
use printbridge::clock::ManualClock;
use printbridge::config::{SpiffApi, SpiffBodyHash, SpiffConfig};
use printbridge::providers::spiff::{SpiffClient, SpiffOrderItem};
use printbridge::providers::{ErrorKind, FailureClass, Provider};
use printbridge::secret::Secret;
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const APP_KEY: &str = "VqQ-0+7KRD$ej_WEz60EBCC#L9I3Ybw4";
const ACCESS: &str = "PzioLnvdR4cXQfrIitw6iT2qZQgQlIo6PrH5Xqa8";
const SECRET: &str = "RfXntvWLdMsnaCf79CLM4JRqJbnNeoPN";

fn graphql_config(base: &str) -> SpiffConfig {
    SpiffConfig {
        region: Default::default(),
        base_url: base.to_owned(),
        api: SpiffApi::Graphql,
        application_key: Some(Secret::new(APP_KEY)),
        access_key: None,
        secret_key: None,
        body_hash: SpiffBodyHash::Sha512,
        auto_print: None,
    }
}

fn rest_config(base: &str, hash: SpiffBodyHash, auto_print: Option<bool>) -> SpiffConfig {
    SpiffConfig {
        region: Default::default(),
        base_url: base.to_owned(),
        api: SpiffApi::Rest,
        application_key: None,
        access_key: Some(ACCESS.to_owned()),
        secret_key: Some(Secret::new(SECRET)),
        body_hash: hash,
        auto_print,
    }
}

fn client(config: &SpiffConfig, timeout: Duration) -> SpiffClient {
    SpiffClient::new(config, timeout)
        .expect("client")
        .with_clock(ManualClock::new(NOW_MS))
}

fn items() -> Vec<SpiffOrderItem> {
    vec![
        SpiffOrderItem {
            amount_to_order: 2,
            transaction_id: "e3ac7f3a-a117-46d7-a5f0-232fbc7cfe38".into(),
        },
        SpiffOrderItem {
            amount_to_order: 1,
            transaction_id: "afbe864c-4c1a-4734-a550-ae8a6dbf7373".into(),
        },
    ]
}

#[tokio::test]
async fn graphql_order_create_sends_application_key_and_returns_the_id() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/graphql"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"data": {"orderCreate": {"id": "ord-77"}}})),
        )
        .mount(&server)
        .await;
    let id = client(&graphql_config(&server.uri()), Duration::from_secs(5))
        .create_order(&items())
        .await
        .expect("placed");
    assert_eq!(id.order_id.as_deref(), Some("ord-77"));
    let req = only_request(&server).await;
    assert_eq!(header(&req, "x-application-key"), APP_KEY);
    assert_eq!(header(&req, "content-type"), "application/json");
    assert_eq!(header(&req, "date"), NOW_HTTP);
    assert!(!has_header(&req, "authorization"));
    assert_user_agent(&req);
    let body: Value = serde_json::from_slice(&req.body).unwrap();
    assert_eq!(
        body,
        json!({
            "query": "mutation CreateOrder($orderItems: [OrderItemInput]) { orderCreate(orderItems: $orderItems) { id } }",
            "variables": {"orderItems": [
                {"amountToOrder": 2, "transactionId": "e3ac7f3a-a117-46d7-a5f0-232fbc7cfe38"},
                {"amountToOrder": 1, "transactionId": "afbe864c-4c1a-4734-a550-ae8a6dbf7373"}
            ]}
        })
    );
}

#[tokio::test]
async fn graphql_errors_in_a_200_are_a_permanent_failure() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/graphql"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "data": {"orderCreate": null},
            "errors": [{"message": "Transaction not found"}, {"message": "bad input"}]
        })))
        .mount(&server)
        .await;
    let err = client(&graphql_config(&server.uri()), Duration::from_secs(5))
        .create_order(&items())
        .await
        .expect_err("errors array");
    assert_eq!(err.provider, Provider::Spiff);
    match &err.kind {
        ErrorKind::GraphQl { messages } => {
            assert_eq!(messages, "Transaction not found; bad input")
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(err.class(), FailureClass::Permanent { .. }));
    assert!(err.to_string().contains("Transaction not found"));
}

async fn rest_case(hash: SpiffBodyHash, prefix: &str, auto_print: Option<bool>) {
    let server = MockServer::start().await;
    let full_path = format!("{prefix}/api/v2/orders");
    Mock::given(method("POST"))
        .and(path(full_path.as_str()))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({"id": 4242})))
        .mount(&server)
        .await;
    let base = format!("{}{prefix}", server.uri());
    let id = client(
        &rest_config(&base, hash, auto_print),
        Duration::from_secs(5),
    )
    .create_order(&items())
    .await
    .expect("placed");
    assert_eq!(id.order_id.as_deref(), Some("4242"));
    assert_eq!(id.answer, json!({"id": 4242}));
    let req = only_request(&server).await;
    let expected_body = match auto_print {
        Some(b) => format!(
            r#"{{"orderItems":[{{"amountToOrder":2,"transactionId":"e3ac7f3a-a117-46d7-a5f0-232fbc7cfe38"}},{{"amountToOrder":1,"transactionId":"afbe864c-4c1a-4734-a550-ae8a6dbf7373"}}],"autoPrint":{b}}}"#
        ),
        None => r#"{"orderItems":[{"amountToOrder":2,"transactionId":"e3ac7f3a-a117-46d7-a5f0-232fbc7cfe38"},{"amountToOrder":1,"transactionId":"afbe864c-4c1a-4734-a550-ae8a6dbf7373"}]}"#.to_owned(),
    };
    assert_eq!(String::from_utf8_lossy(&req.body), expected_body);
    assert_eq!(header(&req, "date"), NOW_HTTP);
    assert_eq!(header(&req, "content-type"), "application/json");
    assert_user_agent(&req);
    assert_eq!(
        header(&req, "authorization"),
        spiff_soa(
            ACCESS,
            SECRET,
            &req.body,
            NOW_HTTP,
            &full_path,
            hash == SpiffBodyHash::Md5
        )
    );
}

#[tokio::test]
async fn rest_order_is_soa_signed_with_sha512() {
    rest_case(SpiffBodyHash::Sha512, "", Some(true)).await;
}

#[tokio::test]
async fn rest_order_is_soa_signed_with_md5_and_a_base_url_path() {
    rest_case(SpiffBodyHash::Md5, "/eu", None).await;
}

#[tokio::test]
async fn too_many_requests_is_retryable_after_the_given_delay() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "30"))
        .mount(&server)
        .await;
    let err = client(&graphql_config(&server.uri()), Duration::from_secs(5))
        .create_order(&items())
        .await
        .expect_err("429");
    assert_eq!(err.status(), Some(429));
    assert_eq!(
        err.class(),
        FailureClass::Retryable {
            retry_after: Some(Duration::from_secs(30))
        }
    );
}

#[tokio::test]
async fn unavailable_with_a_retry_after_date_is_retryable() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(503)
                .insert_header("Retry-After", "Mon, 23 Apr 2012 12:46:19 GMT"),
        )
        .mount(&server)
        .await;
    let err = client(
        &rest_config(&server.uri(), SpiffBodyHash::Sha512, None),
        Duration::from_secs(5),
    )
    .create_order(&items())
    .await
    .expect_err("503");
    assert_eq!(
        err.class(),
        FailureClass::Retryable {
            retry_after: Some(Duration::from_secs(60))
        }
    );
}

#[tokio::test]
async fn timeout_after_sending_is_ambiguous() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"data": {"orderCreate": {"id": "late"}}}))
                .set_delay(Duration::from_secs(5)),
        )
        .mount(&server)
        .await;
    let err = client(&graphql_config(&server.uri()), Duration::from_millis(300))
        .create_order(&items())
        .await
        .expect_err("timeout");
    assert!(matches!(err.kind, ErrorKind::Timeout), "{err:?}");
    assert!(matches!(err.class(), FailureClass::Ambiguous { .. }));
    assert_eq!(requests(&server).await.len(), 1, "the request did go out");
}

#[tokio::test]
async fn connection_refused_is_retryable() {
    let err = client(&graphql_config(&dead_url()), Duration::from_secs(2))
        .create_order(&items())
        .await
        .expect_err("refused");
    assert!(matches!(err.kind, ErrorKind::Connect(_)), "{err:?}");
    assert_eq!(err.class(), FailureClass::Retryable { retry_after: None });
}

#[tokio::test]
async fn validation_errors_are_permanent_and_never_show_the_key() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(400)
                .set_body_string(format!("invalid application key {APP_KEY}")),
        )
        .mount(&server)
        .await;
    let err = client(&graphql_config(&server.uri()), Duration::from_secs(5))
        .create_order(&items())
        .await
        .expect_err("400");
    let text = err.to_string();
    assert!(text.contains("Spiff"), "{text}");
    assert!(text.contains("orderCreate"), "{text}");
    assert!(text.contains("HTTP 400"), "{text}");
    assert!(text.contains("invalid application key ***"), "{text}");
    assert!(!text.contains(APP_KEY));
    assert!(!format!("{err:?}").contains(APP_KEY));
    assert!(matches!(err.class(), FailureClass::Permanent { .. }));
}

#[tokio::test]
async fn redirects_are_not_followed() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/graphql"))
        .respond_with(ResponseTemplate::new(307).insert_header("Location", "/elsewhere"))
        .mount(&server)
        .await;
    let err = client(&graphql_config(&server.uri()), Duration::from_secs(5))
        .create_order(&items())
        .await
        .expect_err("307");
    assert_eq!(err.status(), Some(307));
    assert_eq!(requests(&server).await.len(), 1);
}

#[test]
fn missing_keys_are_reported_at_construction() {
    let mut c = rest_config("http://127.0.0.1:1", SpiffBodyHash::Sha512, None);
    c.secret_key = None;
    let err = SpiffClient::new(&c, Duration::from_secs(1)).expect_err("no secret");
    assert!(err.to_string().contains("secret_key"), "{err}");
}

/// A REST 2xx is a placed order: Spiff accepted it, with or without an id in the answer; the
/// answer is kept. Only a timeout after sending is ambiguous.
#[tokio::test]
async fn rest_2xx_without_an_order_id_is_placed_and_keeps_the_answer() {
    // (status, body sent, answer kept); a 204 has no body.
    for (status, body, answer) in [
        (
            200,
            Some(json!({"status": "accepted", "transactions": 2})),
            json!({"status": "accepted", "transactions": 2}),
        ),
        (201, Some(json!({})), json!({})),
        (204, None, json!("")),
    ] {
        let server = MockServer::start().await;
        let template = match body {
            Some(body) => ResponseTemplate::new(status).set_body_json(body),
            None => ResponseTemplate::new(status),
        };
        Mock::given(method("POST"))
            .and(path("/api/v2/orders"))
            .respond_with(template)
            .mount(&server)
            .await;
        let placed = client(
            &rest_config(&server.uri(), SpiffBodyHash::Sha512, None),
            Duration::from_secs(5),
        )
        .create_order(&items())
        .await
        .unwrap_or_else(|e| panic!("a {status} is placed: {e:?}"));
        assert_eq!(placed.order_id, None);
        assert_eq!(placed.answer, answer);
    }
}

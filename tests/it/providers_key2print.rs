//! Key2print WEBAPI client against a local server: every method, its signature, headers,
//! query and body; pagination; error mapping.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::providers_support::*;
use printbridge::config::Key2printConfig;
use printbridge::providers::key2print::*;
use printbridge::providers::{ErrorKind, FailureClass, ProviderError};
use printbridge::secret::Secret;
use serde_json::{Value, json};
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const KEY: &str = "TZkulX5hkZAHy2d6dw3o";
const SECRET: &str = "v2lAeeCGcRWSKJM9vY07Bqpy7";

fn client(base: &str, timeout: Duration) -> Key2printClient {
    let config = Key2printConfig {
        base_url: base.to_owned(),
        api_key: KEY.to_owned(),
        api_secret: Secret::new(SECRET),
        gateway_tstamp_window_secs: 300,
        catalog_cache_secs: 300,
        sessions_per_minute: 0,
    };
    Key2printClient::new(&config, timeout).expect("client")
}

fn ok(data: Value) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({"success": true, "data": data}))
}

async fn server_with(verb: &str, p: &str, answer: ResponseTemplate) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method(verb))
        .and(path(p))
        .respond_with(answer)
        .mount(&server)
        .await;
    server
}

fn assert_signed_get(req: &Request, p: &str, q: &[(&str, &str)]) {
    assert_eq!(req.method.as_str(), "GET");
    assert_eq!(req.url.path(), p);
    assert_eq!(header(req, "api-key"), KEY);
    assert_eq!(header(req, "api-sign"), key2print_sign(SECRET, b"GET"));
    assert_user_agent(req);
    let want: Vec<(String, String)> = q
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    assert_eq!(query(req), want);
}

fn assert_signed_post(req: &Request, p: &str, body: Value) {
    assert_eq!(req.method.as_str(), "POST");
    assert_eq!(req.url.path(), p);
    assert_eq!(header(req, "api-key"), KEY);
    assert_eq!(header(req, "content-type"), "application/json");
    assert_eq!(header(req, "api-sign"), key2print_sign(SECRET, &req.body));
    assert_user_agent(req);
    let sent: Value = serde_json::from_slice(&req.body).expect("JSON body");
    assert_eq!(sent, body);
}

fn user(n: u32) -> Value {
    json!({"id": format!("u-{n}"), "username": format!("User {n}"), "email": format!("u{n}@example.com")})
}

#[tokio::test]
async fn users_list_add_update_remove() {
    let s = server_with(
        "GET",
        "/api/v1/user/list",
        ok(json!({"entities": [user(1), user(2)], "limit": 2, "offset": 4, "total": 9})),
    )
    .await;
    let page = client(&s.uri(), Duration::from_secs(5))
        .list_users(PageRequest {
            limit: 2,
            offset: 4,
        })
        .await
        .expect("page");
    assert_eq!(page.entities.len(), 2);
    assert_eq!(page.entities[1].email, "u2@example.com");
    assert_eq!((page.limit, page.offset, page.total), (2, 4, 9));
    assert_signed_get(
        &only_request(&s).await,
        "/api/v1/user/list",
        &[("limit", "2"), ("offset", "4")],
    );

    let s = server_with("POST", "/api/v1/user/add", ok(user(7))).await;
    let u = client(&s.uri(), Duration::from_secs(5))
        .add_user(&NewUser {
            username: "John Q. Public".into(),
            email: "jpublic@key2print.com".into(),
        })
        .await
        .expect("added");
    assert_eq!(u.id, "u-7");
    assert_signed_post(
        &only_request(&s).await,
        "/api/v1/user/add",
        json!({"username": "John Q. Public", "email": "jpublic@key2print.com"}),
    );

    let s = server_with("POST", "/api/v1/user/update", ok(user(8))).await;
    let u = client(&s.uri(), Duration::from_secs(5))
        .update_user(&UserUpdate {
            id: "u-8".into(),
            username: Some("Jane".into()),
            email: None,
        })
        .await
        .expect("updated");
    assert_eq!(u.username, "User 8");
    assert_signed_post(
        &only_request(&s).await,
        "/api/v1/user/update",
        json!({"id": "u-8", "username": "Jane"}),
    );

    let s = server_with("POST", "/api/v1/user/remove", ok(json!({}))).await;
    client(&s.uri(), Duration::from_secs(5))
        .remove_user("u-8")
        .await
        .expect("removed");
    assert_signed_post(
        &only_request(&s).await,
        "/api/v1/user/remove",
        json!({"id": "u-8"}),
    );
}

#[tokio::test]
async fn all_users_walks_every_page() {
    let server = MockServer::start().await;
    for (offset, entities) in [
        ("0", vec![user(1), user(2)]),
        ("2", vec![user(3), user(4)]),
        ("4", vec![user(5)]),
    ] {
        Mock::given(method("GET"))
            .and(path("/api/v1/user/list"))
            .and(query_param("offset", offset))
            .respond_with(ok(json!({"entities": entities, "limit": 2, "offset": offset.parse::<u32>().unwrap(), "total": 5})))
            .mount(&server)
            .await;
    }
    let all = client(&server.uri(), Duration::from_secs(5))
        .all_users()
        .await
        .expect("all");
    let ids: Vec<&str> = all.iter().map(|u| u.id.as_str()).collect();
    assert_eq!(ids, ["u-1", "u-2", "u-3", "u-4", "u-5"]);
    let reqs = requests(&server).await;
    assert_eq!(reqs.len(), 3);
    for (req, offset) in reqs.iter().zip(["0", "2", "4"]) {
        assert_signed_get(
            req,
            "/api/v1/user/list",
            &[("limit", "100"), ("offset", offset)],
        );
    }
}

#[tokio::test]
async fn all_pages_stops_on_an_empty_page() {
    let s = server_with(
        "GET",
        "/api/v1/placeholder/list",
        ok(json!({"entities": [], "limit": 100, "offset": 0, "total": 50})),
    )
    .await;
    let all = client(&s.uri(), Duration::from_secs(5))
        .all_placeholders()
        .await
        .expect("all");
    assert!(all.is_empty());
    assert_eq!(requests(&s).await.len(), 1);
}

fn format_json() -> Value {
    json!({"id": "b6233983", "name": "Page A3", "description": "Lorem", "pageWidth": 297,
           "pageHeight": 420, "pageBleed": 5, "markAsDefault": false, "projects": [
               {"id": "005c73f7", "name": "Flyer template 1", "description": "x",
                "thumbnailUrl": "https://via.placeholder.com/400x400", "thumbnailWidth": 400, "thumbnailHeight": 400}]})
}

#[tokio::test]
async fn template_formats_list_add_update_remove() {
    let s = server_with(
        "GET",
        "/api/v1/template_format/list",
        ok(json!({"entities": [format_json()], "limit": 30, "offset": 0, "total": 1})),
    )
    .await;
    let page = client(&s.uri(), Duration::from_secs(5))
        .list_template_formats(
            PageRequest::default(),
            &TemplateFormatFilter {
                page_width: Some(297),
                page_height: Some(420),
            },
        )
        .await
        .expect("page");
    assert_eq!(page.entities[0].page_height, Some(420));
    assert_eq!(page.entities[0].projects[0].thumbnail_width, Some(400));
    assert_signed_get(
        &only_request(&s).await,
        "/api/v1/template_format/list",
        &[
            ("limit", "30"),
            ("offset", "0"),
            ("pageWidth", "297"),
            ("pageHeight", "420"),
        ],
    );

    let s = server_with(
        "GET",
        "/api/v1/template_format/list",
        ok(json!({"entities": [format_json()], "total": 1})),
    )
    .await;
    let all = client(&s.uri(), Duration::from_secs(5))
        .all_template_formats(&TemplateFormatFilter::default())
        .await
        .expect("all");
    assert_eq!(all.len(), 1);

    let s = server_with("POST", "/api/v1/template_format/add", ok(format_json())).await;
    let f = client(&s.uri(), Duration::from_secs(5))
        .add_template_format(&NewTemplateFormat {
            name: "Page A3".into(),
            description: Some("Lorem".into()),
            page_width: 297,
            page_height: 420,
            page_bleed: 5,
            mark_as_default: Some(false),
        })
        .await
        .expect("added");
    assert_eq!(f.id, "b6233983");
    assert_signed_post(
        &only_request(&s).await,
        "/api/v1/template_format/add",
        json!({"name": "Page A3", "description": "Lorem", "pageWidth": 297, "pageHeight": 420, "pageBleed": 5, "markAsDefault": false}),
    );

    let s = server_with("POST", "/api/v1/template_format/update", ok(format_json())).await;
    client(&s.uri(), Duration::from_secs(5))
        .update_template_format(&TemplateFormatUpdate {
            id: "b6233983".into(),
            mark_as_default: Some(true),
            ..Default::default()
        })
        .await
        .expect("updated");
    assert_signed_post(
        &only_request(&s).await,
        "/api/v1/template_format/update",
        json!({"id": "b6233983", "markAsDefault": true}),
    );

    let s = server_with("POST", "/api/v1/template_format/remove", ok(json!({}))).await;
    client(&s.uri(), Duration::from_secs(5))
        .remove_template_format("b6233983")
        .await
        .expect("removed");
    assert_signed_post(
        &only_request(&s).await,
        "/api/v1/template_format/remove",
        json!({"id": "b6233983"}),
    );
}

#[tokio::test]
async fn projects_list_with_filters() {
    let project = json!({"id": "199ad097", "name": "First project", "description": "x", "isPublished": false,
        "templateFormat": {"id": "b6233983", "name": "Page A3", "pageWidth": 297, "pageHeight": 420, "pageBleed": 5, "isDefault": false},
        "pages": [], "setup": []});
    let s = server_with(
        "GET",
        "/api/v1/project/list",
        ok(json!({"entities": [project], "limit": 30, "offset": 0, "total": 1})),
    )
    .await;
    let filter = ProjectFilter {
        template_format_id: Some("b6233983".into()),
        user_id: Some("u-1".into()),
    };
    let page = client(&s.uri(), Duration::from_secs(5))
        .list_projects(PageRequest::default(), &filter)
        .await
        .expect("page");
    assert_eq!(
        page.entities[0]
            .template_format
            .as_ref()
            .map(|f| f.id.as_str()),
        Some("b6233983")
    );
    assert_eq!(page.entities[0].is_published, Some(false));
    assert_signed_get(
        &only_request(&s).await,
        "/api/v1/project/list",
        &[
            ("limit", "30"),
            ("offset", "0"),
            ("templateFormatId", "b6233983"),
            ("userId", "u-1"),
        ],
    );
    let all = client(&s.uri(), Duration::from_secs(5))
        .all_projects(&ProjectFilter::default())
        .await
        .expect("all");
    assert_eq!(all.len(), 1);
}

fn placeholder() -> Value {
    json!({"id": "35d2d5df", "name": "Your company name", "systemName": "company_name", "type": "text", "acceptedParameters": ["value"]})
}

#[tokio::test]
async fn placeholders_list_add_update_remove() {
    let s = server_with(
        "GET",
        "/api/v1/placeholder/list",
        ok(json!({"entities": [placeholder()], "limit": 30, "offset": 0, "total": 1})),
    )
    .await;
    let page = client(&s.uri(), Duration::from_secs(5))
        .list_placeholders(PageRequest {
            limit: 10,
            offset: 0,
        })
        .await
        .expect("page");
    assert_eq!(page.entities[0].system_name, "company_name");
    assert_eq!(page.entities[0].kind, "text");
    assert_signed_get(
        &only_request(&s).await,
        "/api/v1/placeholder/list",
        &[("limit", "10"), ("offset", "0")],
    );

    let s = server_with("POST", "/api/v1/placeholder/add", ok(placeholder())).await;
    let p = client(&s.uri(), Duration::from_secs(5))
        .add_placeholder(&NewPlaceholder {
            name: "Your company name".into(),
            system_name: "company_name".into(),
            kind: "text".into(),
        })
        .await
        .expect("added");
    assert_eq!(p.accepted_parameters, ["value"]);
    assert_signed_post(
        &only_request(&s).await,
        "/api/v1/placeholder/add",
        json!({"name": "Your company name", "systemName": "company_name", "type": "text"}),
    );

    let s = server_with("POST", "/api/v1/placeholder/update", ok(placeholder())).await;
    client(&s.uri(), Duration::from_secs(5))
        .update_placeholder(&PlaceholderUpdate {
            id: "35d2d5df".into(),
            name: Some("This is company name".into()),
            ..Default::default()
        })
        .await
        .expect("updated");
    assert_signed_post(
        &only_request(&s).await,
        "/api/v1/placeholder/update",
        json!({"id": "35d2d5df", "name": "This is company name"}),
    );

    let s = server_with("POST", "/api/v1/placeholder/remove", ok(json!({}))).await;
    client(&s.uri(), Duration::from_secs(5))
        .remove_placeholder("35d2d5df")
        .await
        .expect("removed");
    assert_signed_post(
        &only_request(&s).await,
        "/api/v1/placeholder/remove",
        json!({"id": "35d2d5df"}),
    );
}

#[tokio::test]
async fn session_start_sends_every_option_and_returns_token_and_expiry() {
    let s = server_with(
        "POST",
        "/api/v1/session/start",
        ok(json!({"id": "4801ccf4", "token": "JDJ5JDEw", "mode": "user", "expiresAt": "2020-03-05 12:33:46",
                  "hasExpired": false, "project": {"id": "4803155d", "name": "New project"}})),
    )
    .await;
    let mut values = BTreeMap::new();
    values.insert(
        "company_name".to_owned(),
        BTreeMap::from([("value".to_owned(), "Zażółć & Co / 24YWq".to_owned())]),
    );
    let start = SessionStart {
        project_id: Some("p-1".into()),
        project_template_id: Some("t-1".into()),
        product_gateway_setup: Some(ProductGatewaySetup {
            product_identifier: "100".into(),
            product_details_url:
                "https://bridge.example.com/v1/key2print/shop/gateway/product-details".into(),
            available_options_url:
                "https://bridge.example.com/v1/key2print/shop/gateway/available-options".into(),
            price_url: "https://bridge.example.com/v1/key2print/shop/gateway/price".into(),
            setup_data_url: "https://bridge.example.com/v1/key2print/shop/gateway/setup-data"
                .into(),
        }),
        editor_setup: Some(EditorSetup {
            colors: Some(EditorColors {
                primary_color: "310048".into(),
            }),
            hidden_tabs: Some(HiddenTabs {
                theme_tab: true,
                ..Default::default()
            }),
        }),
        placeholder_values: Some(values),
        ..SessionStart::user("f80251af")
    };
    let session = client(&s.uri(), Duration::from_secs(5))
        .start_session(&start)
        .await
        .expect("session");
    assert_eq!(session.token, "JDJ5JDEw");
    assert_eq!(session.expires_at.as_deref(), Some("2020-03-05 12:33:46"));
    assert_eq!(session.id.as_deref(), Some("4801ccf4"));
    assert_eq!(session.project_id.as_deref(), Some("4803155d"));
    assert_signed_post(
        &only_request(&s).await,
        "/api/v1/session/start",
        json!({
            "mode": "user", "userId": "f80251af", "projectId": "p-1", "projectTemplateId": "t-1",
            "productGatewaySetup": {
                "productIdentifier": "100",
                "productDetailsUrl": "https://bridge.example.com/v1/key2print/shop/gateway/product-details",
                "availableOptionsUrl": "https://bridge.example.com/v1/key2print/shop/gateway/available-options",
                "priceUrl": "https://bridge.example.com/v1/key2print/shop/gateway/price",
                "setupDataUrl": "https://bridge.example.com/v1/key2print/shop/gateway/setup-data"
            },
            "editorSetup": {
                "colors": {"primaryColor": "310048"},
                "hiddenTabs": {"themeTab": true, "imageTab": false, "photoCellTab": false, "textTab": false, "shapeTab": false, "placeholderTab": false}
            },
            "placeholderValues": {"company_name": {"value": "Zażółć & Co / 24YWq"}}
        }),
    );
}

#[tokio::test]
async fn merchant_session_token_may_be_called_hash() {
    let s = server_with(
        "POST",
        "/api/v1/session/start",
        ok(json!({"id": "283d87e1", "hash": "JDJ5JDEwJGcx", "mode": "merchant"})),
    )
    .await;
    let session = client(&s.uri(), Duration::from_secs(5))
        .start_session(&SessionStart::merchant())
        .await
        .expect("session");
    assert_eq!(session.token, "JDJ5JDEwJGcx");
    assert_eq!(session.expires_at, None);
    assert_signed_post(
        &only_request(&s).await,
        "/api/v1/session/start",
        json!({"mode": "merchant"}),
    );

    let s = server_with("POST", "/api/v1/session/start", ok(json!({"id": "x"}))).await;
    let err = client(&s.uri(), Duration::from_secs(5))
        .start_session(&SessionStart::merchant())
        .await
        .expect_err("no token");
    assert!(matches!(err.kind, ErrorKind::Unexpected { .. }), "{err:?}");
}

const PDF: &[u8] = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj <<>> endobj\n%%EOF\n";

#[tokio::test]
async fn project_download_follows_the_link_without_credentials() {
    let server = MockServer::start().await;
    let link = format!("{}/files/271246b6%2F8777fasd", server.uri());
    Mock::given(method("GET"))
        .and(path(
            "/api/v1/project/download/9b38684f-fe3f-4f71-a457-3ea9a025c72a",
        ))
        .respond_with(ok(json!({"download_url": link})))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/files/271246b6%2F8777fasd"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("content-type", "application/pdf")
                .set_body_bytes(PDF),
        )
        .mount(&server)
        .await;
    let pdf = client(&server.uri(), Duration::from_secs(5))
        .download_project("9b38684f-fe3f-4f71-a457-3ea9a025c72a")
        .await
        .expect("pdf");
    assert_eq!(pdf.bytes, PDF);
    assert_eq!(pdf.download_url.as_deref(), Some(link.as_str()));
    let reqs = requests(&server).await;
    assert_eq!(reqs.len(), 2);
    assert_signed_get(
        &reqs[0],
        "/api/v1/project/download/9b38684f-fe3f-4f71-a457-3ea9a025c72a",
        &[],
    );
    assert!(
        !has_header(&reqs[1], "api-key"),
        "credentials must not go to the file host"
    );
    assert!(!has_header(&reqs[1], "api-sign"));
}

#[tokio::test]
async fn project_download_accepts_a_direct_pdf_and_refuses_anything_else() {
    let s = server_with(
        "GET",
        "/api/v1/project/download/p1",
        ResponseTemplate::new(200).set_body_bytes(PDF),
    )
    .await;
    let pdf = client(&s.uri(), Duration::from_secs(5))
        .download_project("p1")
        .await
        .expect("pdf");
    assert_eq!(pdf.bytes, PDF);
    assert_eq!(pdf.download_url, None);

    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/v1/project/download/p2"))
        .respond_with(ok(
            json!({"download_url": format!("{}/files/p2", server.uri())}),
        ))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/files/p2"))
        .respond_with(ResponseTemplate::new(200).set_body_string("<html>expired</html>"))
        .mount(&server)
        .await;
    let err = client(&server.uri(), Duration::from_secs(5))
        .download_project("p2")
        .await
        .expect_err("not a PDF");
    assert!(err.to_string().contains("not a PDF"), "{err}");
    // What the file host answered is not Key2print's API answer: none of it is shown.
    assert!(!err.to_string().contains("expired"), "{err}");

    let err = client(&server.uri(), Duration::from_secs(5))
        .download_project("../user/list")
        .await
        .expect_err("bad id");
    assert!(matches!(err.kind, ErrorKind::Config(_)));
}

/// A `download_url` over plain http to a host other than the WEBAPI's is not fetched: an
/// answer must not point the bridge at internal services.
#[tokio::test]
async fn project_download_fetches_only_https_or_the_webapi_origin() {
    let internal = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_string("%PDF-1.7 internal admin page"))
        .mount(&internal)
        .await;
    let link = format!(
        "{}/admin?token=abc",
        internal.uri().replace("127.0.0.1", "localhost")
    );
    let s = server_with(
        "GET",
        "/api/v1/project/download/p3",
        ok(json!({"download_url": link})),
    )
    .await;
    let err = client(&s.uri(), Duration::from_secs(5))
        .download_project("p3")
        .await
        .expect_err("not fetched");
    let text = err.to_string();
    assert!(
        text.contains("is neither https nor on the WEBAPI's own origin"),
        "{text}"
    );
    assert!(!text.contains("token=abc"), "{text}");
    assert!(
        requests(&internal).await.is_empty(),
        "the internal host was asked"
    );
}

/// A provider answer larger than the cap is not read whole.
#[tokio::test]
async fn provider_answers_are_read_up_to_a_cap() {
    let huge = "x".repeat(printbridge::providers::MAX_ANSWER_BYTES + 1);
    let s = server_with(
        "POST",
        "/api/v1/session/start",
        ResponseTemplate::new(200).set_body_string(huge),
    )
    .await;
    let err = client(&s.uri(), Duration::from_secs(5))
        .start_session(&SessionStart::merchant())
        .await
        .expect_err("too large");
    assert!(
        err.to_string().contains("larger than 4194304 bytes"),
        "{err}"
    );
}

#[tokio::test]
async fn error_log_list_with_filters_and_cache_flush() {
    let entry = json!({"details": "Product not found", "tstamp": 1588376400, "date": "2020-05-01 23:40:00", "productIdentifier": 5, "method": "getProductDetails"});
    let s = server_with(
        "GET",
        "/api/v1/error_log/list",
        ok(json!({"entities": [entry], "limit": 30, "offset": 0, "total": 1})),
    )
    .await;
    let filter = ErrorLogFilter {
        tstamp_from: Some(1588376000),
        tstamp_to: Some(1588377000),
        product_identifier: Some("5".into()),
    };
    let page = client(&s.uri(), Duration::from_secs(5))
        .list_error_log(PageRequest::default(), &filter)
        .await
        .expect("page");
    assert_eq!(
        page.entities[0].details.as_deref(),
        Some("Product not found")
    );
    assert_eq!(page.entities[0].product_identifier, json!(5));
    assert_signed_get(
        &only_request(&s).await,
        "/api/v1/error_log/list",
        &[
            ("limit", "30"),
            ("offset", "0"),
            ("tstampFrom", "1588376000"),
            ("tstampTo", "1588377000"),
            ("productIdentifier", "5"),
        ],
    );
    let all = client(&s.uri(), Duration::from_secs(5))
        .all_error_log(&ErrorLogFilter::default())
        .await
        .expect("all");
    assert_eq!(all.len(), 1);

    let s = server_with("POST", "/api/v1/cache/flush", ok(json!({}))).await;
    client(&s.uri(), Duration::from_secs(5))
        .flush_cache("5")
        .await
        .expect("flushed");
    assert_signed_post(
        &only_request(&s).await,
        "/api/v1/cache/flush",
        json!({"productIdentifier": "5"}),
    );
}

async fn rejected_with(answer: ResponseTemplate) -> ProviderError {
    let s = server_with("POST", "/api/v1/user/add", answer).await;
    client(&s.uri(), Duration::from_secs(5))
        .add_user(&NewUser {
            username: "a".into(),
            email: "a@example.com".into(),
        })
        .await
        .expect_err("rejected")
}

#[tokio::test]
async fn success_false_carries_the_message_under_each_documented_key() {
    for key in ["details", "error", "error_message"] {
        let err = rejected_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"success": false, key: format!("Email taken ({key})")})),
        )
        .await;
        match &err.kind {
            ErrorKind::Rejected { status, message } => {
                assert_eq!(*status, 200);
                assert_eq!(message, &format!("Email taken ({key})"));
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(err.class(), FailureClass::Permanent { .. }));
        assert!(err.to_string().contains("Key2print user/add"), "{err}");
    }
    let err = rejected_with(
        ResponseTemplate::new(400)
            .set_body_json(json!({"success": false, "details": "Invalid sign"})),
    )
    .await;
    assert!(
        matches!(&err.kind, ErrorKind::Rejected { status: 400, message } if message == "Invalid sign"),
        "{err:?}"
    );
    let err =
        rejected_with(ResponseTemplate::new(200).set_body_json(json!({"success": false}))).await;
    assert!(
        matches!(&err.kind, ErrorKind::Rejected { message, .. } if message == "success is false")
    );
}

#[tokio::test]
async fn status_errors_are_classified() {
    let err = rejected_with(
        ResponseTemplate::new(429)
            .insert_header("Retry-After", "3")
            .set_body_json(json!({"success": false, "details": "slow down"})),
    )
    .await;
    assert_eq!(
        err.class(),
        FailureClass::Retryable {
            retry_after: Some(Duration::from_secs(3))
        }
    );
    let err =
        rejected_with(ResponseTemplate::new(500).set_body_string(format!("oops {SECRET}"))).await;
    assert!(
        matches!(err.class(), FailureClass::Ambiguous { .. }),
        "{err:?}"
    );
    assert!(!err.to_string().contains(SECRET));
    let err = rejected_with(ResponseTemplate::new(200).set_body_string("<html>")).await;
    assert!(matches!(err.kind, ErrorKind::Unexpected { .. }));
}

#[tokio::test]
async fn timeouts_are_ambiguous_for_writes_and_retryable_for_reads() {
    let server = MockServer::start().await;
    Mock::given(wiremock::matchers::any())
        .respond_with(ok(json!({})).set_delay(Duration::from_secs(5)))
        .mount(&server)
        .await;
    let c = client(&server.uri(), Duration::from_millis(300));
    let err = c.flush_cache("5").await.expect_err("timeout");
    assert!(matches!(err.kind, ErrorKind::Timeout));
    assert!(matches!(err.class(), FailureClass::Ambiguous { .. }));
    let err = c
        .list_users(PageRequest::default())
        .await
        .expect_err("timeout");
    assert_eq!(err.class(), FailureClass::Retryable { retry_after: None });
}

/// A failed send names no URL: errors reach the plugin's 502 answers and the job list.
#[tokio::test]
async fn transport_errors_name_no_url() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    drop(listener);
    let base = format!("http://{addr}/internal-webapi");
    let err = client(&base, Duration::from_secs(5))
        .start_session(&SessionStart::merchant())
        .await
        .expect_err("refused");
    let text = err.to_string();
    assert!(text.contains("could not connect"), "{text}");
    assert!(!text.contains(&addr.to_string()), "{text}");
    assert!(!text.contains("internal-webapi"), "{text}");
}

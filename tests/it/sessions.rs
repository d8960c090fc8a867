//! `POST /v1/stores/{store}/key2print/sessions` and the cache flush, against the Key2print
//! sandbox, which verifies the WEBAPI `api-sign` of every call.

use crate::support;
use crate::support::{Backend, STORE_TOKEN, TestApp, sandbox_store};
use printbridge::sandbox::Sandbox;
use serde_json::{Value, json};

async fn start(backend: Backend) -> (TestApp, Sandbox) {
    let sb = support::start_sandbox().await;
    let store = sandbox_store(&sb, "shop", "s3cret");
    let app = TestApp::spawn(backend, |c| {
        c.public_url = Some("https://bridge.example.com/".to_owned());
        c.stores = vec![store, support::store_config("plain", "x")];
    })
    .await;
    (app, sb)
}

fn user_session(customer: Value) -> Value {
    json!({
        "mode": "user",
        "customer": customer,
        "product_id": 29,
        "template_id": "b6233983-8eb8-11ea-ba23-0242ac120003",
        "editor": {"colors": {"primaryColor": "#310048"}, "hidden_tabs": ["themeTab", "shape", "images", "qr"]},
        "gateway": true,
        "placeholder_values": {"customer_name": {"value": "Ada Lovelace"}}
    })
}

/// Asks for a Key2print editor session with the store token.
async fn open_session(app: &TestApp, body: &Value) -> (u16, Value) {
    app.store_post("/v1/stores/shop/key2print/sessions", STORE_TOKEN, body)
        .await
}

async fn user_sessions_map_customers_to_one_key2print_user(backend: Backend) {
    let (app, sb) = start(backend).await;
    let customer = json!({"id": 12, "email": "ada@example.test", "first_name": "Ada", "last_name": "Lovelace"});
    let (status, first) = open_session(&app, &user_session(customer.clone())).await;
    assert_eq!(status, 200, "{first}");
    assert!(first["token"].as_str().is_some_and(|t| !t.is_empty()));
    let user_id = first["user_id"].as_str().unwrap().to_owned();
    let (status, second) = open_session(&app, &user_session(customer)).await;
    assert_eq!(status, 200);
    assert_eq!(
        second["user_id"],
        json!(user_id),
        "the customer keeps one Key2print user"
    );
    assert_ne!(second["token"], first["token"]);

    // A guest gets a user of its own.
    let (status, guest) = open_session(
        &app,
        &user_session(json!({"id": null, "guest_key": "wc-session-4f2a"})),
    )
    .await;
    assert_eq!(status, 200, "{guest}");
    assert_ne!(guest["user_id"], json!(user_id));

    let stats = sb.state.stats();
    assert_eq!(stats.key2print_users, 2);
    assert_eq!(stats.rejected_signatures, 0);
    let body = &stats.key2print_sessions[0];
    assert_eq!(body["mode"], json!("user"));
    assert_eq!(body["userId"], json!(user_id));
    assert_eq!(
        body["projectTemplateId"],
        json!("b6233983-8eb8-11ea-ba23-0242ac120003")
    );
    assert_eq!(
        body["editorSetup"]["colors"]["primaryColor"],
        json!("310048")
    );
    assert_eq!(body["editorSetup"]["hiddenTabs"]["themeTab"], json!(true));
    assert_eq!(body["editorSetup"]["hiddenTabs"]["shapeTab"], json!(true));
    assert_eq!(body["editorSetup"]["hiddenTabs"]["imageTab"], json!(true));
    assert_eq!(body["editorSetup"]["hiddenTabs"]["textTab"], json!(false));
    let warnings = first["warnings"].as_array().unwrap();
    assert_eq!(warnings.len(), 1, "{first}");
    assert!(warnings[0].as_str().unwrap().contains("\"qr\""));
    assert_eq!(
        body["placeholderValues"]["customer_name"]["value"],
        json!("Ada Lovelace")
    );
    let gw = &body["productGatewaySetup"];
    assert_eq!(gw["productIdentifier"], json!("29"));
    assert_eq!(
        gw["priceUrl"],
        json!("https://bridge.example.com/v1/key2print/shop/gateway/price")
    );
    assert_eq!(
        gw["productDetailsUrl"],
        json!("https://bridge.example.com/v1/key2print/shop/gateway/product-details")
    );

    // What the plugin sends for a product without a template: empty strings mean "none".
    let mut plain = user_session(json!({"id": 12, "guest_key": ""}));
    plain["template_id"] = json!("");
    plain["editor"] = json!({"colors": {}, "hidden_tabs": []});
    let (status, p) = open_session(&app, &plain).await;
    assert_eq!(status, 200, "{p}");
    let stats = sb.state.stats();
    let last = stats.key2print_sessions.last().unwrap();
    assert!(last.get("projectTemplateId").is_none(), "{last}");
    assert!(last.get("editorSetup").is_none(), "{last}");

    // Merchant mode: no user, no gateway.
    let (status, m) = open_session(&app, &json!({"mode": "merchant"})).await;
    assert_eq!(status, 200, "{m}");
    assert!(m["user_id"].is_null());
    let stats = sb.state.stats();
    let merchant = stats.key2print_sessions.last().unwrap();
    assert_eq!(merchant, &json!({"mode": "merchant"}));
    app.stop().await;
    sb.stop();
}
on_both_backends!(
    user_sessions,
    user_sessions_map_customers_to_one_key2print_user
);

/// A registered customer's Key2print user is named in their personal-data export and
/// forgotten by their erasure: the next session creates a new user.
async fn privacy_requests_name_and_forget_the_key2print_user(backend: Backend) {
    let (app, sb) = start(backend).await;
    let customer = json!({"id": 12, "email": "ada@example.test"});
    let (status, session) = open_session(&app, &user_session(customer.clone())).await;
    assert_eq!(status, 200, "{session}");
    let user_id = session["user_id"].clone();
    assert!(user_id.as_str().is_some_and(|u| !u.is_empty()), "{session}");
    let privacy = |action: &'static str, customer_id: i64| {
        let body = json!({"email": "ada@example.test", "customer_id": customer_id});
        let app = &app;
        async move {
            app.store_post(
                &format!("/v1/stores/shop/privacy/{action}"),
                STORE_TOKEN,
                &body,
            )
            .await
        }
    };

    let (status, export) = privacy("export", 12).await;
    assert_eq!(status, 200, "{export}");
    assert_eq!(export["key2print_user"], user_id, "{export}");
    let (_, other) = privacy("export", 13).await;
    assert!(other["key2print_user"].is_null(), "{other}");

    let (status, erased) = privacy("erase", 12).await;
    assert_eq!(status, 200, "{erased}");
    assert_eq!(erased["key2print_user_forgotten"], json!(true), "{erased}");
    let (_, export) = privacy("export", 12).await;
    assert!(export["key2print_user"].is_null(), "{export}");

    let (status, next) = open_session(&app, &user_session(customer)).await;
    assert_eq!(status, 200, "{next}");
    assert_ne!(
        next["user_id"], user_id,
        "a new Key2print user after the erasure"
    );
    assert_eq!(sb.state.stats().key2print_users, 2);
    app.stop().await;
    sb.stop();
}
on_both_backends!(
    privacy_and_key2print_user,
    privacy_requests_name_and_forget_the_key2print_user
);

#[tokio::test]
async fn session_requests_are_checked() {
    let (app, sb) = start(Backend::Sqlite).await;
    let (status, p) = app
        .store_post(
            "/v1/stores/shop/key2print/sessions",
            "wrong-token",
            &json!({"mode": "merchant"}),
        )
        .await;
    assert_eq!(
        (status, p["field"].as_str()),
        (401, Some("Authorization")),
        "{p}"
    );
    let (status, p) = open_session(&app, &json!({"mode": "user"})).await;
    assert_eq!(
        (status, p["field"].as_str()),
        (400, Some("customer")),
        "{p}"
    );
    let (status, p) = open_session(&app, &user_session(json!({"guest_key": "bad key!"}))).await;
    assert_eq!(
        (status, p["field"].as_str()),
        (400, Some("customer.guest_key")),
        "{p}"
    );
    let mut bad_color = user_session(json!({"id": 3}));
    bad_color["editor"]["colors"] = json!({"primaryColor": "purple"});
    let (status, p) = open_session(&app, &bad_color).await;
    assert_eq!(
        (status, p["field"].as_str()),
        (400, Some("editor.colors")),
        "{p}"
    );
    let (status, p) = open_session(&app, &json!({"mode": "sideways"})).await;
    assert_eq!(status, 400, "{p}");
    let (status, p) = app
        .store_post(
            "/v1/stores/plain/key2print/sessions",
            STORE_TOKEN,
            &json!({"mode": "merchant"}),
        )
        .await;
    assert_eq!(
        (status, p["error"].as_str()),
        (409, Some("key2print_not_configured")),
        "{p}"
    );
    assert!(sb.state.stats().key2print_sessions.is_empty());

    // Key2print refusing the call is reported as a provider error, without secrets.
    sb.state.push_faults(
        "key2print",
        [printbridge::sandbox::Fault {
            status: 400,
            ..Default::default()
        }],
    );
    let (status, p) = open_session(&app, &json!({"mode": "merchant"})).await;
    assert_eq!(
        (status, p["error"].as_str()),
        (502, Some("provider_error")),
        "{p}"
    );
    assert!(
        !p.to_string()
            .contains(&sb.state.credentials.key2print_api_secret)
    );
    app.stop().await;
    sb.stop();
}

#[tokio::test]
async fn cache_flush_reaches_key2print() {
    let (app, sb) = start(Backend::Sqlite).await;
    let (status, v) = app
        .store_post(
            "/v1/stores/shop/key2print/cache/flush",
            STORE_TOKEN,
            &json!({"product_id": 29}),
        )
        .await;
    assert_eq!((status, &v), (200, &json!({"flushed": true})));
    assert_eq!(sb.state.stats().key2print_flushes, vec!["29".to_owned()]);
    let (status, _) = app
        .store_post(
            "/v1/stores/shop/key2print/cache/flush",
            STORE_TOKEN,
            &json!({"product_id": 0}),
        )
        .await;
    assert_eq!(status, 400);
    app.stop().await;
    sb.stop();
}

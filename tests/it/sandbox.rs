//! The provider sandboxes are as strict as the providers' documents: the bridge's own clients
//! are accepted, and a client whose signer is wrong (one byte changed, the other body digest, a
//! replayed nonce, a stale clock, a missing field) is refused. The sandboxes verify with code
//! of their own, so these refusals would catch a signing mistake in the bridge.

use std::sync::Arc;
use std::time::Duration;

use printbridge::clock::ManualClock;
use printbridge::config::{ApliiqConfig, Key2printConfig, SpiffApi, SpiffBodyHash, SpiffConfig};
use printbridge::providers::apliiq::{
    ApliiqAddress, ApliiqClient, ApliiqLineItem, ApliiqOrder, ApliiqPlacement, ApliiqShippingLine,
};
use printbridge::providers::key2print::{
    Key2printClient, NewPlaceholder, NewTemplateFormat, NewUser, PageRequest, PlaceholderUpdate,
    SessionMode, SessionStart, TemplateFormatUpdate, UserUpdate,
};
use printbridge::providers::spiff::{SoaRequest, SpiffClient, SpiffOrderItem, soa_authorization};
use printbridge::providers::{FixedNonce, RandomNonce};
use printbridge::sandbox::{Sandbox, SandboxCredentials};
use printbridge::secret::Secret;

/// 2025-11-24 16:00:00 UTC.
const NOW_MS: i64 = 1_764_000_000_000;
const TIMEOUT: Duration = Duration::from_secs(10);

async fn sandbox() -> (Sandbox, Arc<ManualClock>) {
    let clock = ManualClock::new(NOW_MS);
    let sb =
        Sandbox::start_with_clock(SandboxCredentials::default(), "127.0.0.1", 0, clock.clone())
            .await
            .expect("sandbox");
    (sb, clock)
}

fn http() -> reqwest::Client {
    printbridge::net::ensure_crypto_provider();
    reqwest::Client::new()
}

/// A signer with one mistake: the character at `at` replaced.
fn flip(s: &str, at: usize) -> String {
    let mut bytes = s.as_bytes().to_vec();
    bytes[at] = if bytes[at] == b'A' || bytes[at] == b'a' {
        b'B'
    } else {
        b'A'
    };
    String::from_utf8(bytes).expect("ascii")
}

fn spiff_client(sb: &Sandbox, api: SpiffApi, hash: SpiffBodyHash) -> SpiffClient {
    let c = &sb.state.credentials;
    let config = SpiffConfig {
        region: Default::default(),
        base_url: sb.spiff_url(),
        api,
        application_key: Some(Secret::new(c.spiff_application_key.clone())),
        access_key: Some(c.spiff_access_key.clone()),
        secret_key: Some(Secret::new(c.spiff_secret_key.clone())),
        body_hash: hash,
        auto_print: Some(true),
    };
    SpiffClient::new(&config, TIMEOUT)
        .expect("client")
        .with_clock(ManualClock::new(NOW_MS))
}

fn items() -> Vec<SpiffOrderItem> {
    vec![SpiffOrderItem {
        amount_to_order: 1,
        transaction_id: "e3ac7f3a-a117-46d7-a5f0-232fbc7cfe38".into(),
    }]
}

async fn post_rest(sb: &Sandbox, date: &str, content_type: &str, auth: &str, body: &[u8]) -> u16 {
    http()
        .post(format!("{}/api/v2/orders", sb.spiff_url()))
        .header("Content-Type", content_type)
        .header("Date", date)
        .header("Authorization", auth)
        .body(body.to_vec())
        .send()
        .await
        .expect("send")
        .status()
        .as_u16()
}

#[tokio::test]
async fn spiff_rest_takes_the_configured_digest_a_fresh_date_and_an_exact_signature() {
    let (sb, clock) = sandbox().await;
    let placed = spiff_client(&sb, SpiffApi::Rest, SpiffBodyHash::Sha512)
        .create_order(&items())
        .await;
    assert!(placed.is_ok(), "{placed:?}");
    // A client signing the body with the other digest is refused.
    let md5 = spiff_client(&sb, SpiffApi::Rest, SpiffBodyHash::Md5)
        .create_order(&items())
        .await
        .expect_err("md5 under a sha512 account");
    assert_eq!(md5.status(), Some(401), "{md5}");

    let c = &sb.state.credentials;
    let body = br#"{"orderItems":[{"amountToOrder":1,"transactionId":"t-1"}]}"#;
    let sign = |date: &str, content_type: &str| {
        soa_authorization(
            &c.spiff_access_key,
            &c.spiff_secret_key,
            SpiffBodyHash::Sha512,
            &SoaRequest {
                method: "POST",
                body,
                content_type,
                date,
                path: "/api/v2/orders",
            },
        )
    };
    let date = "Mon, 24 Nov 2025 16:00:00 GMT";
    let good = sign(date, "application/json");
    assert_eq!(
        post_rest(&sb, date, "application/json", &good, body).await,
        200
    );
    // One changed byte anywhere in the signature.
    let sig_at = good.find(':').expect("colon") + 1;
    for at in [sig_at, sig_at + 7, good.len() - 2] {
        let bad = flip(&good, at);
        assert_eq!(
            post_rest(&sb, date, "application/json", &bad, body).await,
            401,
            "{bad}"
        );
    }
    // A date in another format, signed as sent.
    let iso = "2025-11-24T16:00:00Z";
    assert_eq!(
        post_rest(
            &sb,
            iso,
            "application/json",
            &sign(iso, "application/json"),
            body
        )
        .await,
        401
    );
    // Another content type, signed as sent.
    let ct = "application/json; charset=utf-8";
    assert_eq!(post_rest(&sb, date, ct, &sign(date, ct), body).await, 415);
    // The provider's clock 16 minutes ahead: the date is out of the window.
    clock.advance(16 * 60 * 1000);
    assert_eq!(
        post_rest(&sb, date, "application/json", &good, body).await,
        401
    );
    let stats = sb.state.stats();
    assert_eq!(stats.spiff_orders.len(), 2, "{stats:?}");
    assert_eq!(stats.rejected_signatures, 6);
    sb.stop();
}

#[tokio::test]
async fn spiff_graphql_takes_the_documented_mutation_and_order_item_input_only() {
    let (sb, _) = sandbox().await;
    let placed = spiff_client(&sb, SpiffApi::Graphql, SpiffBodyHash::Sha512)
        .create_order(&items())
        .await;
    assert!(placed.is_ok(), "{placed:?}");
    let key = sb.state.credentials.spiff_application_key.clone();
    for body in [
        serde_json::json!({"query": "mutation { orderCreate(orderItems: []) { id } }", "variables": {"orderItems": [{"amountToOrder": 1, "transactionId": "t"}]}}),
        serde_json::json!({"query": "mutation CreateOrder($orderItems: [OrderItemInput]) { orderCreate(orderItems: $orderItems) { id } }", "variables": {"orderItems": [{"quantity": 1, "transactionId": "t"}]}}),
    ] {
        let r = http()
            .post(format!("{}/graphql", sb.spiff_url()))
            .header("Content-Type", "application/json")
            .header("X-Application-Key", &key)
            .body(body.to_string())
            .send()
            .await
            .expect("send");
        assert_eq!(r.status().as_u16(), 400);
        let v: serde_json::Value = r.json().await.expect("json");
        assert!(v["errors"][0]["message"].is_string(), "{v}");
    }
    assert_eq!(sb.state.stats().spiff_orders.len(), 1);
    sb.stop();
}

fn apliiq_order(id: &str) -> ApliiqOrder {
    ApliiqOrder {
        id: id.into(),
        number: 5000,
        name: format!("#{id}"),
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
            first_name: "Ada".into(),
            last_name: "Lovelace".into(),
            company: None,
            address1: "12 Example Street".into(),
            address2: None,
            phone: None,
            city: "London".into(),
            zip: "SW1A 1AA".into(),
            province: String::new(),
            province_code: String::new(),
            country: "United Kingdom".into(),
            country_code: "GB".into(),
        },
        shipping_lines: vec![ApliiqShippingLine {
            code: "standard".into(),
        }],
    }
}

fn apliiq_client(sb: &Sandbox, now_ms: i64) -> ApliiqClient {
    let c = &sb.state.credentials;
    let config = ApliiqConfig {
        base_url: sb.apliiq_url(),
        app_id: c.apliiq_app_id.clone(),
        shared_secret: Secret::new(c.apliiq_shared_secret.clone()),
        default_shipping_code: "standard".into(),
        shipping_codes: Default::default(),
    };
    ApliiqClient::new(&config, TIMEOUT)
        .expect("client")
        .with_clock(ManualClock::new(now_ms))
}

#[tokio::test]
async fn apliiq_refuses_a_replayed_nonce_a_stale_rts_and_a_changed_signature() {
    let (sb, _) = sandbox().await;
    let fixed = apliiq_client(&sb, NOW_MS).with_nonce(Arc::new(FixedNonce("n-1".into())));
    let placed = fixed.create_order(&apliiq_order("5000")).await;
    assert!(
        matches!(placed, Ok(ApliiqPlacement::Placed { .. })),
        "{placed:?}"
    );
    // The same STATE again: a replay.
    let replay = fixed
        .create_order(&apliiq_order("5001"))
        .await
        .expect_err("replay");
    assert_eq!(replay.status(), Some(401), "{replay}");
    // RTS six minutes behind the provider's clock.
    let stale = apliiq_client(&sb, NOW_MS - 360_000)
        .with_nonce(Arc::new(RandomNonce))
        .create_order(&apliiq_order("5002"))
        .await
        .expect_err("stale");
    assert_eq!(stale.status(), Some(401), "{stale}");
    // One changed byte of SIG.
    let c = &sb.state.credentials;
    let body = serde_json::to_vec(&apliiq_order("5003")).expect("json");
    let good = printbridge::providers::apliiq::authorization(
        &c.apliiq_shared_secret,
        &c.apliiq_app_id,
        "1764000000",
        "n-2",
        &body,
    );
    let sig_at = good.find(':').expect("colon") + 3;
    let r = http()
        .post(format!("{}/v1/Order", sb.apliiq_url()))
        .header("Content-Type", "application/json")
        .header("Authorization", flip(&good, sig_at))
        .body(body.clone())
        .send()
        .await
        .expect("send");
    assert_eq!(r.status().as_u16(), 401);
    // The lookup is signed over the empty body.
    let found = apliiq_client(&sb, NOW_MS)
        .with_nonce(Arc::new(RandomNonce))
        .find_order("5000")
        .await;
    assert!(matches!(found, Ok(Some(_))), "{found:?}");
    assert_eq!(sb.state.stats().apliiq_orders.len(), 1);
    assert_eq!(sb.state.stats().rejected_signatures, 3);
    sb.stop();
}

pub(crate) fn k2p_client(sb: &Sandbox, secret: &str) -> Key2printClient {
    let config = Key2printConfig {
        base_url: sb.key2print_url(),
        api_key: sb.state.credentials.key2print_api_key.clone(),
        api_secret: Secret::new(secret),
        gateway_tstamp_window_secs: 300,
        catalog_cache_secs: 300,
        sessions_per_minute: 0,
    };
    Key2printClient::new(&config, TIMEOUT).expect("client")
}

/// The user and template format methods; returns the user's id.
async fn users_and_template_formats(k: &Key2printClient, page: PageRequest) -> String {
    let user = k
        .add_user(&NewUser {
            username: "Ada".into(),
            email: "ada@example.test".into(),
        })
        .await
        .expect("user/add");
    let updated = k
        .update_user(&UserUpdate {
            id: user.id.clone(),
            username: Some("Ada L".into()),
            email: None,
        })
        .await
        .expect("user/update");
    assert_eq!(updated.username, "Ada L");
    assert_eq!(k.list_users(page).await.expect("user/list").total, 1);
    let format = k
        .add_template_format(&NewTemplateFormat {
            name: "A3".into(),
            description: None,
            page_width: 297,
            page_height: 420,
            page_bleed: 5,
            mark_as_default: Some(false),
        })
        .await
        .expect("template_format/add");
    k.update_template_format(&TemplateFormatUpdate {
        id: format.id.clone(),
        name: None,
        description: None,
        page_width: None,
        page_height: None,
        page_bleed: Some(3),
        mark_as_default: Some(true),
    })
    .await
    .expect("template_format/update");
    k.list_template_formats(page, &Default::default())
        .await
        .expect("template_format/list");
    k.remove_template_format(&format.id)
        .await
        .expect("template_format/remove");
    user.id
}

#[tokio::test]
async fn key2print_serves_all_17_methods_to_the_bridge_client() {
    let (sb, _) = sandbox().await;
    let k = k2p_client(&sb, &sb.state.credentials.key2print_api_secret.clone());
    let page = PageRequest {
        limit: 30,
        offset: 0,
    };
    let user_id = users_and_template_formats(&k, page).await;
    k.list_projects(page, &Default::default())
        .await
        .expect("project/list");
    let ph = k
        .add_placeholder(&NewPlaceholder {
            name: "Company".into(),
            system_name: "company_name".into(),
            kind: "text".into(),
        })
        .await
        .expect("placeholder/add");
    k.update_placeholder(&PlaceholderUpdate {
        id: ph.id.clone(),
        name: Some("Firm".into()),
        system_name: None,
        kind: None,
    })
    .await
    .expect("placeholder/update");
    assert_eq!(
        k.list_placeholders(page)
            .await
            .expect("placeholder/list")
            .total,
        1
    );
    k.remove_placeholder(&ph.id)
        .await
        .expect("placeholder/remove");
    k.start_session(&SessionStart::user(user_id.clone()))
        .await
        .expect("session/start user");
    k.start_session(&SessionStart::merchant())
        .await
        .expect("session/start merchant");
    k.download_project("K2P-7642EEED77")
        .await
        .expect("project/download");
    k.list_error_log(page, &Default::default())
        .await
        .expect("error_log/list");
    k.flush_cache("11").await.expect("cache/flush");
    k.remove_user(&user_id).await.expect("user/remove");

    let stats = sb.state.stats();
    assert_eq!(stats.rejected_signatures, 0, "{stats:?}");
    assert_eq!(stats.key2print_flushes, vec!["11".to_owned()]);
    sb.stop();
}

#[tokio::test]
async fn key2print_refuses_a_wrong_signer_and_session_start_without_its_mode_fields() {
    let (sb, _) = sandbox().await;
    let k = k2p_client(&sb, &sb.state.credentials.key2print_api_secret.clone());
    let page = PageRequest {
        limit: 30,
        offset: 0,
    };
    // User mode without userId, and a user id in merchant mode, are refused.
    let no_user = SessionStart {
        mode: SessionMode::User,
        ..SessionStart::merchant()
    };
    let err = k.start_session(&no_user).await.expect_err("no userId");
    assert_eq!(err.status(), Some(400), "{err}");
    assert!(
        err.to_string().contains("userId is required in user mode"),
        "{err}"
    );
    let merchant_with_user = SessionStart {
        mode: SessionMode::Merchant,
        ..SessionStart::user("u-1")
    };
    let err = k
        .start_session(&merchant_with_user)
        .await
        .expect_err("userId in merchant mode");
    assert!(
        err.to_string()
            .contains("userId is not available in merchant mode"),
        "{err}"
    );
    // A signer with the wrong secret is refused on GET and POST.
    let wrong = k2p_client(&sb, "not-the-secret");
    assert_eq!(
        wrong.list_users(page).await.expect_err("GET").status(),
        Some(401)
    );
    assert_eq!(
        wrong.flush_cache("11").await.expect_err("POST").status(),
        Some(401)
    );
    // One changed byte of a correct api-sign.
    let c = &sb.state.credentials;
    let sign = printbridge::providers::key2print::webapi_sign(&c.key2print_api_secret, "GET", b"");
    let r = http()
        .get(format!("{}/api/v1/user/list", sb.key2print_url()))
        .header("api-key", &c.key2print_api_key)
        .header("api-sign", flip(&sign, 5))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status().as_u16(), 401);
    let stats = sb.state.stats();
    assert_eq!(stats.rejected_signatures, 3, "{stats:?}");
    sb.stop();
}

/// `POST /_sandbox/apliiq/fulfil` sends the fulfilment callback of an order placed there,
/// signed so that the bridge's verifier accepts it; an order it never saw is refused.
#[tokio::test]
async fn apliiq_sends_the_signed_fulfilment_callback_when_asked() {
    use wiremock::matchers::{method, path};
    let (sb, _) = sandbox().await;
    let placed = apliiq_client(&sb, NOW_MS)
        .with_nonce(Arc::new(RandomNonce))
        .create_order(&apliiq_order("5000"))
        .await;
    assert!(placed.is_ok(), "{placed:?}");
    let shop = wiremock::MockServer::start().await;
    wiremock::Mock::given(method("POST"))
        .and(path("/v1/callbacks/apliiq/shop"))
        .respond_with(
            wiremock::ResponseTemplate::new(200)
                .set_body_json(serde_json::json!({"received": true})),
        )
        .mount(&shop)
        .await;
    let ask = |order_id: &str| {
        http()
            .post(format!("{}/_sandbox/apliiq/fulfil", sb.apliiq_url()))
            .json(&serde_json::json!({
                "callback_url": format!("{}/v1/callbacks/apliiq/shop", shop.uri()),
                "order_id": order_id,
                "tracking_number": "1Z999",
            }))
            .send()
    };
    let r = ask("5000").await.expect("send");
    assert_eq!(r.status().as_u16(), 200);
    let report: serde_json::Value = r.json().await.expect("json");
    assert_eq!(report["status"], 200, "{report}");
    assert_eq!(report["tracking_number"], "1Z999");
    let received = shop.received_requests().await.expect("recorded");
    assert_eq!(received.len(), 1);
    let hmac = received[0]
        .headers
        .get("x-apliiq-hmac")
        .and_then(|v| v.to_str().ok())
        .expect("x-apliiq-hmac");
    let secret = Secret::new(sb.state.credentials.apliiq_shared_secret.clone());
    assert!(printbridge::providers::apliiq::verify_callback(
        &secret,
        &received[0].body,
        hmac
    ));
    let body: serde_json::Value = serde_json::from_slice(&received[0].body).expect("json");
    assert_eq!(body["fulfillment"]["order_id"], "5000");
    assert_eq!(body["fulfillment"]["tracking_numbers"][0], "1Z999");
    assert_eq!(ask("4999").await.expect("send").status().as_u16(), 409);
    // The editor has no work session with a gateway to open yet.
    let r = http()
        .post(format!("{}/_sandbox/key2print/editor", sb.key2print_url()))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status().as_u16(), 409);
    sb.stop();
}

#[test]
fn sandbox_help_documents_its_endpoints_and_flags() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_printbridge"))
        .args(["sandbox", "--help"])
        .output()
        .expect("run");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    for needle in [
        "--host",
        "--port",
        "--spiff-body-hash",
        "POST /api/v2/orders",
        "POST /_sandbox/apliiq/fulfil",
        "POST /_sandbox/key2print/editor",
        "the 17 WEBAPI methods",
        "GET /_sandbox/stats",
        "POST /_sandbox/faults",
    ] {
        assert!(text.contains(needle), "{needle} in {text}");
    }
}

/// The sandboxes' verifiers are their own: no sandbox source names the bridge's provider code
/// (its signers `spiff::soa_authorization`, `apliiq::signature`, `key2print::webapi_sign` and
/// the helpers they use), so the bridge's signing mistakes cannot pass unseen.
#[test]
fn sandbox_sources_share_nothing_with_the_provider_signers() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/sandbox");
    let mut files = 0;
    for entry in std::fs::read_dir(&dir).expect("src/sandbox") {
        let path = entry.expect("entry").path();
        let text = std::fs::read_to_string(&path).expect("source");
        files += 1;
        for forbidden in [
            "crate::providers",
            "printbridge::providers",
            "super::super::providers",
            "soa_authorization",
            "webapi_sign",
            "apliiq::signature",
        ] {
            assert!(
                !text.contains(forbidden),
                "{} uses {forbidden}",
                path.display()
            );
        }
    }
    assert!(files >= 4, "the sandbox modules were not found");
}

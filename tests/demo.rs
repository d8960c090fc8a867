//! `printbridge demo` and the provider sandboxes as a newcomer and an integrator use them.

use std::process::Command;

use printbridge::sandbox::{Sandbox, SandboxCredentials};
use serde_json::{Value, json};

/// The demo runs the whole flow and says so: exit 0, one verified, done row per provider.
#[test]
fn demo_once_places_every_provider_order() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_printbridge"))
        .args(["demo", "--once", "--listen", "127.0.0.1:0", "--dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("| ") && !l.starts_with("| provider"))
        .collect();
    assert_eq!(rows.len(), 3, "{text}");
    for (row, provider) in rows.iter().zip(["spiff", "apliiq", "key2print"]) {
        let cells: Vec<&str> = row.split('|').map(str::trim).collect();
        assert_eq!(cells[1], provider, "{row}");
        assert_eq!(cells[3], "verified", "{row}");
        assert_eq!(cells[4], "done", "{row}");
        assert!(!cells[5].is_empty(), "{row}");
        assert!(cells[6].ends_with(" ms"), "{row}");
    }
    let pdf = rows[2].split('|').nth(5).unwrap().trim();
    let bytes = std::fs::read(pdf).expect("the kept PDF");
    assert!(bytes.starts_with(b"%PDF-"));
    assert!(text.contains("Every provider order went through exactly once"));
}

async fn sandbox() -> Sandbox {
    Sandbox::start(SandboxCredentials::default(), "127.0.0.1", 0)
        .await
        .unwrap()
}

fn client() -> reqwest::Client {
    printbridge::net::ensure_crypto_provider();
    reqwest::Client::new()
}

#[tokio::test]
async fn spiff_sandbox_refuses_a_wrong_application_key_and_a_wrong_soa_signature() {
    let sb = sandbox().await;
    let body = br#"{"query":"mutation CreateOrder($orderItems: [OrderItemInput]) { orderCreate(orderItems: $orderItems) { id } }","variables":{"orderItems":[{"amountToOrder":1,"transactionId":"e3ac7f3a-a117-46d7-a5f0-232fbc7cfe38"}]}}"#;
    let r = client()
        .post(format!("{}/graphql", sb.spiff_url()))
        .header("Content-Type", "application/json")
        .header("X-Application-Key", "not-the-key")
        .body(body.to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["errors"][0]["message"], json!("Invalid application key"));

    let rest = br#"{"orderItems":[{"amountToOrder":1,"transactionId":"e3ac7f3a-a117-46d7-a5f0-232fbc7cfe38"}]}"#;
    let r = client()
        .post(format!("{}/api/v2/orders", sb.spiff_url()))
        .header("Content-Type", "application/json")
        .header("Date", "Mon, 23 Apr 2012 12:45:19 GMT")
        .header(
            "Authorization",
            "SOA sandbox-spiff-access-key:jHX6oLeqTXpynyqcvVC2MSHarhU=",
        )
        .body(rest.to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
    // The same body, signed right, is accepted.
    let c = &sb.state.credentials;
    let auth = printbridge::providers::spiff::soa_authorization(
        &c.spiff_access_key,
        &c.spiff_secret_key,
        printbridge::config::SpiffBodyHash::Sha512,
        &printbridge::providers::spiff::SoaRequest {
            method: "POST",
            body: rest,
            content_type: "application/json",
            date: "Mon, 23 Apr 2012 12:45:19 GMT",
            path: "/api/v2/orders",
        },
    );
    let r = client()
        .post(format!("{}/api/v2/orders", sb.spiff_url()))
        .header("Content-Type", "application/json")
        .header("Date", "Mon, 23 Apr 2012 12:45:19 GMT")
        .header("Authorization", auth)
        .body(rest.to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let stats = sb.state.stats();
    assert_eq!(stats.rejected_signatures, 2);
    assert_eq!(stats.spiff_orders.len(), 1);
    sb.stop();
}

#[tokio::test]
async fn apliiq_sandbox_refuses_a_wrong_signature() {
    let sb = sandbox().await;
    let body = br#"{"id":"5000","line_items":[{"id":"1","sku":"APQ-1998244S7A1","quantity":1}]}"#;
    let c = &sb.state.credentials;
    let good = printbridge::providers::apliiq::authorization(
        &c.apliiq_shared_secret,
        &c.apliiq_app_id,
        "1700000000",
        "abc123",
        body,
    );
    let bad = printbridge::providers::apliiq::authorization(
        "wrong-secret",
        &c.apliiq_app_id,
        "1700000000",
        "abc123",
        body,
    );
    for (auth, want) in [(bad, 401), (good, 200)] {
        let r = client()
            .post(format!("{}/v1/Order", sb.apliiq_url()))
            .header("Content-Type", "application/json")
            .header("Authorization", auth)
            .body(body.to_vec())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), want);
        if want == 401 {
            let v: Value = r.json().await.unwrap();
            assert_eq!(
                v["Message"],
                json!("Authorization has been denied for this request.")
            );
        }
    }
    assert_eq!(sb.state.stats().apliiq_orders.len(), 1);
    sb.stop();
}

#[tokio::test]
async fn key2print_sandbox_refuses_a_wrong_api_sign() {
    let sb = sandbox().await;
    let c = &sb.state.credentials;
    let url = format!("{}/api/v1/project/download/abc-123", sb.key2print_url());
    let r = client()
        .get(&url)
        .header("api-key", &c.key2print_api_key)
        .header(
            "api-sign",
            printbridge::providers::key2print::webapi_sign("wrong", "GET", b""),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["success"], json!(false));
    assert!(v["error_message"].as_str().is_some());
    let r = client()
        .get(&url)
        .header("api-key", &c.key2print_api_key)
        .header(
            "api-sign",
            printbridge::providers::key2print::webapi_sign(&c.key2print_api_secret, "GET", b""),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let v: Value = r.json().await.unwrap();
    let pdf_url = v["data"]["download_url"].as_str().unwrap();
    let pdf = client()
        .get(pdf_url)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert!(pdf.starts_with(b"%PDF-1.4"));
    sb.stop();
}

//! `GET /v1/stores/{store}/status`: what the plugin's "Test connection" and its product pages
//! learn from the bridge, through the real app.

use crate::support::{Backend, STORE_TOKEN, TestApp};

const SECRET: &str = "status-secret";

/// A store whose Spiff section is `spiff` (TOML lines), or none.
fn shop_with(spiff: Option<&'static str>) -> impl FnOnce(&mut printbridge::config::Config) {
    move |config| {
        let mut text =
            format!("id = \"shop\"\nwebhook_secret = {SECRET:?}\napi_token = {STORE_TOKEN:?}\n");
        if let Some(lines) = spiff {
            text.push_str("[spiff]\n");
            text.push_str(lines);
        }
        config.stores = vec![toml::from_str(&text).expect("store config")];
    }
}

async fn status(app: &TestApp) -> serde_json::Value {
    let (status, body) = app.store_get("/v1/stores/shop/status", STORE_TOKEN).await;
    assert_eq!(status, 200, "{body}");
    body
}

/// The plugin loads Spiff's editor in the system the bridge orders from: the status names the
/// store's region, the region's storefront script and the application key Spiff's editor needs.
#[tokio::test]
async fn the_status_tells_the_plugin_which_spiff_system_to_load() {
    let cases = [
        (
            "application_key = \"app-key-us\"\n",
            "us",
            "https://assets.us.spiffcommerce.com/api.js",
        ),
        (
            "region = \"au\"\napplication_key = \"app-key-au\"\n",
            "au",
            "https://assets.us.spiffcommerce.com/api.js",
        ),
        (
            "region = \"au-legacy\"\napplication_key = \"app-key-legacy\"\n",
            "au-legacy",
            "https://assets.spiff.com.au/api.js",
        ),
    ];
    for (lines, region, script) in cases {
        let app = TestApp::spawn(Backend::Sqlite, shop_with(Some(lines))).await;
        let body = status(&app).await;
        assert_eq!(body["spiff"]["region"], region, "{body}");
        assert_eq!(body["spiff"]["api_js_url"], script, "{body}");
        assert_eq!(
            body["spiff"]["application_key"],
            lines
                .split('"')
                .rev()
                .nth(1)
                .expect("application key in the case"),
            "{body}"
        );
        app.stop().await;
    }
    let app = TestApp::spawn(Backend::Sqlite, shop_with(None)).await;
    let body = status(&app).await;
    assert!(body.get("spiff").is_none(), "{body}");
    app.stop().await;
}

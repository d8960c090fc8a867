//! Key2print product gateway against the real app: the WooCommerce REST stand-in serves the
//! recorded "Business cards" product (variable: Format A4/A5/A6 × Finish None/Gloss/UV
//! coating, A4 + UV coating missing, A6 + Gloss out of stock, A5 + Gloss on sale) and the
//! simple poster; callbacks are signed like Key2print signs them.

use std::sync::Arc;
use std::time::Duration;

use crate::support::woo_standin::{WooStandin, fixture_body};
use crate::support::{Backend, STORE_TOKEN, TestApp, eventually};
use printbridge::clock::{Clock, ManualClock};
use printbridge::config::{Config, StoreConfig};
use printbridge::gateway::auth::{self, AuthError};
use printbridge::providers::key2print::{gateway_sign, webapi_sign};
use printbridge::sandbox::{Sandbox, SandboxCredentials};
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

pub(crate) const STORE: &str = "shop";
const KEY: &str = "gateway-merchant-key";
const SECRET: &str = "gateway-merchant-secret";

fn key2print_section(base_url: &str, key: &str, secret: &str, cache_secs: u64) -> String {
    format!(
        "base_url = {base_url:?}\napi_key = {key:?}\napi_secret = {secret:?}\n\
         catalog_cache_secs = {cache_secs}\n"
    )
}

/// The stand-in's shop with Key2print (WEBAPI at `k2p_url`); tax comes from the shop (its
/// recorded standard rate "VAT" 20 %).
pub(crate) fn store(
    woo: &WooStandin,
    k2p_url: &str,
    key: &str,
    secret: &str,
    cache_secs: u64,
) -> StoreConfig {
    let mut s = woo.store_config(STORE);
    s.key2print =
        Some(toml::from_str(&key2print_section(k2p_url, key, secret, cache_secs)).expect("k2p"));
    s
}

pub(crate) async fn app_for(backend: Backend, woo: &WooStandin, cache_secs: u64) -> TestApp {
    let s = store(woo, "http://127.0.0.1:9", KEY, SECRET, cache_secs);
    TestApp::spawn(backend, move |c: &mut Config| c.stores.push(s)).await
}

fn now_secs() -> i64 {
    chrono::Utc::now().timestamp()
}

/// The callback URL with `params` plus a valid `sign` (over all of them).
fn signed_url(app: &TestApp, endpoint: &str, secret: &str, params: &[(&str, &str)]) -> String {
    let sign = gateway_sign(secret, params.iter().copied());
    let mut url =
        reqwest::Url::parse(&app.url(&format!("/v1/key2print/{STORE}/gateway/{endpoint}")))
            .expect("url");
    {
        let mut q = url.query_pairs_mut();
        for (k, v) in params {
            q.append_pair(k, v);
        }
        q.append_pair("sign", &sign);
    }
    url.to_string()
}

async fn get_json(app: &TestApp, url: &str) -> Value {
    let resp = app.client.get(url).send().await.expect("request");
    assert_eq!(resp.status().as_u16(), 200, "gateway answers 200: {url}");
    let ct = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    assert!(ct.starts_with("application/json"), "JSON answer, got {ct}");
    resp.json().await.expect("json")
}

/// Calls `endpoint` for product `product` with `setup`, signed with the test key and secret.
async fn call(app: &TestApp, endpoint: &str, product: &str, setup: Option<Value>) -> Value {
    let tstamp = now_secs().to_string();
    let setup = setup.map(|s| s.to_string());
    let mut params = vec![
        ("productIdentifier", product),
        ("key", KEY),
        ("tstamp", &tstamp),
    ];
    if let Some(s) = &setup {
        params.push(("setup", s));
    }
    get_json(app, &signed_url(app, endpoint, SECRET, &params)).await
}

fn data(answer: &Value) -> &Value {
    assert_eq!(answer["success"], true, "success expected: {answer}");
    assert!(answer.get("details").is_none(), "{answer}");
    &answer["data"]
}

fn failed(answer: &Value) -> String {
    assert_eq!(answer["success"], false, "failure expected: {answer}");
    assert!(answer.get("data").is_none(), "{answer}");
    answer["details"].as_str().expect("details").to_owned()
}

fn setup(format: &str, finish: &str) -> Value {
    json!({"pa_format": format, "finish": finish})
}

// ---- the four callbacks on the business cards ----

async fn product_details_from_the_catalog(backend: Backend) {
    let woo = WooStandin::start().await;
    let app = app_for(backend, &woo, 300).await;
    let answer = call(&app, "product-details", "29", None).await;
    assert_eq!(
        data(&answer),
        &json!({
            "name": "Business cards",
            "defaultSetup": {"pa_format": "a5", "finish": "None"},
            "options": [
                {"id": "pa_format", "name": "Format", "values": [
                    {"id": "a4", "name": "A4"}, {"id": "a5", "name": "A5"}, {"id": "a6", "name": "A6"}
                ]},
                {"id": "finish", "name": "Finish", "values": [
                    {"id": "None", "name": "None"}, {"id": "Gloss", "name": "Gloss"},
                    {"id": "UV coating", "name": "UV coating"}
                ]}
            ]
        })
    );
    // Ids are stable: a second call (from the shop again, not the cache) says the same.
    let app2 = app_for(backend, &woo, 0).await;
    assert_eq!(
        data(&call(&app2, "product-details", "29", None).await),
        data(&answer)
    );
    // The simple poster has no options.
    let poster = call(&app, "product-details", "38", None).await;
    assert_eq!(data(&poster)["options"], json!([]));
    assert_eq!(data(&poster)["defaultSetup"], json!({}));
    assert!(
        data(&poster)["name"]
            .as_str()
            .is_some_and(|n| !n.is_empty())
    );
}
on_both_backends!(product_details, product_details_from_the_catalog);

async fn available_options_follow_the_variations(backend: Backend) {
    let woo = WooStandin::start().await;
    let app = app_for(backend, &woo, 300).await;
    let all_formats = json!(["a4", "a5", "a6"]);

    // The default: everything that exists and is in stock around A5 + None.
    let a = call(&app, "available-options", "29", Some(setup("a5", "None"))).await;
    assert_eq!(
        data(&a),
        &json!({
            "validSetup": {"pa_format": "a5", "finish": "None"},
            "availableOptions": {"pa_format": all_formats, "finish": ["None", "Gloss", "UV coating"]}
        })
    );

    // Choosing A6 makes Gloss impossible (out of stock)...
    let a = call(&app, "available-options", "29", Some(setup("a6", "None"))).await;
    assert_eq!(data(&a)["validSetup"], setup("a6", "None"));
    assert_eq!(
        data(&a)["availableOptions"]["finish"],
        json!(["None", "UV coating"])
    );
    assert_eq!(data(&a)["availableOptions"]["pa_format"], all_formats);

    // ... and choosing A4 makes UV coating impossible (the combination does not exist).
    let a = call(&app, "available-options", "29", Some(setup("a4", "Gloss"))).await;
    assert_eq!(data(&a)["validSetup"], setup("a4", "Gloss"));
    assert_eq!(
        data(&a)["availableOptions"]["finish"],
        json!(["None", "Gloss"])
    );
    // With UV coating chosen, A4 is not offered.
    let a = call(
        &app,
        "available-options",
        "29",
        Some(setup("a5", "UV coating")),
    )
    .await;
    assert_eq!(
        data(&a)["availableOptions"]["pa_format"],
        json!(["a5", "a6"])
    );

    // Impossible selections are corrected, keeping the format (the first option).
    let a = call(&app, "available-options", "29", Some(setup("a6", "Gloss"))).await;
    assert_eq!(data(&a)["validSetup"], setup("a6", "None"));
    let a = call(
        &app,
        "available-options",
        "29",
        Some(setup("a4", "UV coating")),
    )
    .await;
    assert_eq!(data(&a)["validSetup"], setup("a4", "None"));
    // An unknown value counts as not chosen; names and any case are understood.
    let a = call(
        &app,
        "available-options",
        "29",
        Some(json!({"pa_format": "A6", "finish": "glossy"})),
    )
    .await;
    assert_eq!(data(&a)["validSetup"], setup("a6", "None"));
}
on_both_backends!(available_options, available_options_follow_the_variations);

async fn prices_with_tax(backend: Backend) {
    let woo = WooStandin::start().await;
    let app = app_for(backend, &woo, 300).await;

    // A5 + Gloss is on sale: 29.90 net (regular 34.00), 20% VAT.
    let p = call(&app, "price", "29", Some(setup("a5", "Gloss"))).await;
    let d = data(&p);
    assert_eq!(d["netPrice"], json!(29.9));
    assert_eq!(d["grossPrice"], json!(35.88));
    assert_eq!(d["tax"], json!(5.98));
    assert_eq!(d["taxRate"], "VAT");
    assert_eq!(d["currency"], "EUR");
    assert_eq!(d["isAvailable"], true);
    let info = d["additionalInfo"].as_array().expect("info");
    assert!(
        info.contains(&json!({"name": "Weight", "value": "0.40"})),
        "{d}"
    );
    assert!(
        info.contains(&json!({"name": "Regular price", "value": "34.00"})),
        "{d}"
    );

    // A6 + Gloss exists but is out of stock: priced, not available.
    let p = call(&app, "price", "29", Some(setup("a6", "Gloss"))).await;
    assert_eq!(data(&p)["netPrice"], json!(24.0));
    assert_eq!(data(&p)["grossPrice"], json!(28.8));
    assert_eq!(data(&p)["isAvailable"], false);

    // A4 + UV coating does not exist.
    let p = call(&app, "price", "29", Some(setup("a4", "UV coating"))).await;
    assert!(failed(&p).contains("no variation exists"), "{p}");

    // A setup that is not JSON.
    let tstamp = now_secs().to_string();
    let url = signed_url(
        &app,
        "price",
        SECRET,
        &[
            ("productIdentifier", "29"),
            ("key", KEY),
            ("tstamp", &tstamp),
            ("setup", "pa_format=a5"),
        ],
    );
    assert!(failed(&get_json(&app, &url).await).starts_with("bad setup"));
}
on_both_backends!(prices, prices_with_tax);

/// The recorded poster (a simple product, standard tax class) at `price`.
fn poster_at(price: &str) -> Value {
    let mut p = fixture_body(2);
    p["price"] = json!(price);
    p["regular_price"] = json!(price);
    p
}

async fn prices_entered_with_tax(backend: Backend) {
    let woo = WooStandin::start().await;
    woo.set_tax_setting("woocommerce_prices_include_tax", "yes");
    woo.put_product(poster_at("12.00"));
    // A rate for another country and a reduced class do not apply at the shop's base (AT).
    let mut rates = fixture_body(36);
    let mut de = rates[0].clone();
    de["id"] = json!(2);
    de["country"] = json!("DE");
    de["rate"] = json!("19.0000");
    de["name"] = json!("MwSt");
    let mut reduced = rates[0].clone();
    reduced["id"] = json!(3);
    reduced["rate"] = json!("10.0000");
    reduced["class"] = json!("reduced-rate");
    let list = rates.as_array_mut().expect("rates");
    list.insert(0, de);
    list.push(reduced);
    woo.put_taxes(rates);
    let app = app_for(backend, &woo, 300).await;

    let p = call(&app, "price", "38", Some(json!({}))).await;
    let d = data(&p);
    assert_eq!(d["grossPrice"], json!(12.0), "{d}");
    assert_eq!(d["netPrice"], json!(10.0), "{d}");
    assert_eq!(d["tax"], json!(2.0), "{d}");
    assert_eq!(d["taxRate"], "VAT");
    // 29.90 with tax: 4.983… tax rounds to 4.98, the net 24.916… to 24.92.
    let p = call(&app, "price", "29", Some(setup("a5", "Gloss"))).await;
    let d = data(&p);
    assert_eq!(
        (&d["netPrice"], &d["tax"], &d["grossPrice"]),
        (&json!(24.92), &json!(4.98), &json!(29.9)),
        "{d}"
    );
    assert!(woo.request_count("/settings/tax") >= 1);
    assert!(woo.request_count("/taxes") >= 1);
}
on_both_backends!(prices_with_tax_entered, prices_entered_with_tax);

async fn shop_without_taxes_charges_none(backend: Backend) {
    let woo = WooStandin::start().await;
    woo.set_general_setting("woocommerce_calc_taxes", "no");
    woo.put_product(poster_at("12.00"));
    let app = app_for(backend, &woo, 300).await;
    let p = call(&app, "price", "38", Some(json!({}))).await;
    let d = data(&p);
    assert_eq!(
        (&d["netPrice"], &d["tax"], &d["grossPrice"]),
        (&json!(12.0), &json!(0.0), &json!(12.0)),
        "{d}"
    );
    assert_eq!(d["taxRate"], "No tax");
    // With taxes off, the tax settings and rates are not read.
    assert_eq!(woo.request_count("/settings/tax"), 0);
    assert_eq!(woo.request_count("/taxes"), 0);
}
on_both_backends!(no_taxes, shop_without_taxes_charges_none);

async fn configured_rate_overrides_the_shop(backend: Backend) {
    let woo = WooStandin::start().await;
    woo.set_tax_setting("woocommerce_prices_include_tax", "yes");
    woo.put_product(poster_at("12.00"));
    let mut s = store(&woo, "http://127.0.0.1:9", KEY, SECRET, 300);
    s.tax_rates =
        toml::from_str("[standard]\nrate = \"10\"\nname = \"Reduced VAT\"\n").expect("tax");
    let app = TestApp::spawn(backend, move |c: &mut Config| c.stores.push(s)).await;
    // The configured 10 % replaces the shop's 20 %; the price is still entered with tax.
    let p = call(&app, "price", "38", Some(json!({}))).await;
    let d = data(&p);
    assert_eq!(
        (&d["netPrice"], &d["tax"], &d["grossPrice"]),
        (&json!(10.91), &json!(1.09), &json!(12.0)),
        "{d}"
    );
    assert_eq!(d["taxRate"], "Reduced VAT");
}
on_both_backends!(tax_override, configured_rate_overrides_the_shop);

pub(crate) fn business_cards_with_meta(meta: Value) -> Value {
    let mut p = fixture_body(1);
    p["meta_data"] = meta;
    p
}

async fn price_option_tree(backend: Backend) {
    let woo = WooStandin::start().await;
    let tree = json!({
        "id": "speed", "name": "Production time", "values": [
            {"id": "standard", "name": "Standard",
             "additionalInfo": [{"name": "Production days", "value": "5"}]},
            {"id": "express", "name": "Express", "surcharge": "10.10",
             "subOption": {"id": 2, "name": "Delivery", "values": [
                 {"id": 3, "name": "Self collection", "surcharge": 0},
                 {"id": 4, "name": "Courier", "surcharge": "5", "isAvailable": false}
             ]}}
        ]
    });
    // Stored as JSON text, as the plugin's settings save it.
    woo.put_product(business_cards_with_meta(json!([
        {"id": 901, "key": "_printbridge_key2print_price_tree", "value": tree.to_string()}
    ])));
    let app = app_for(backend, &woo, 300).await;
    let p = call(&app, "price", "29", Some(setup("a5", "None"))).await;
    let t = &data(&p)["priceOptionTree"];
    assert_eq!(t["id"], "speed");
    assert_eq!(t["name"], "Production time");
    let standard = &t["values"][0];
    assert_eq!(standard["id"], "standard");
    assert_eq!(standard["netPrice"], json!(29.0));
    assert_eq!(standard["grossPrice"], json!(34.8));
    assert_eq!(standard["tax"], json!(5.8));
    assert_eq!(standard["currency"], "EUR");
    assert!(
        standard["additionalInfo"]
            .as_array()
            .expect("info")
            .contains(&json!({"name": "Production days", "value": "5"}))
    );
    assert!(standard.get("subOption").is_none());
    let express = &t["values"][1];
    assert!(
        express.get("netPrice").is_none(),
        "inner values carry no price"
    );
    assert_eq!(express["subOption"]["id"], 2);
    let leaves = express["subOption"]["values"].as_array().expect("leaves");
    assert_eq!(leaves[0]["id"], 3);
    assert_eq!(leaves[0]["netPrice"], json!(39.1));
    assert_eq!(leaves[0]["grossPrice"], json!(46.92));
    assert_eq!(leaves[0]["isAvailable"], true);
    assert_eq!(leaves[1]["netPrice"], json!(44.1));
    assert_eq!(leaves[1]["isAvailable"], false);

    // A broken tree is a clear failure, not a price.
    woo.put_product(business_cards_with_meta(json!([
        {"id": 901, "key": "_printbridge_key2print_price_tree", "value": {"id": "x", "values": []}}
    ])));
    let app = app_for(backend, &woo, 0).await;
    let p = call(&app, "price", "29", Some(setup("a5", "None"))).await;
    assert!(
        failed(&p).contains("_printbridge_key2print_price_tree"),
        "{p}"
    );
}
on_both_backends!(price_tree, price_option_tree);

async fn setup_data_from_meta(backend: Backend) {
    let woo = WooStandin::start().await;
    let app = app_for(backend, &woo, 0).await;
    // Nothing configured: one page, no template format.
    let s = call(&app, "setup-data", "29", Some(setup("a5", "None"))).await;
    assert_eq!(data(&s), &json!({"pageCount": 1, "templateFormatId": null}));

    woo.put_product(business_cards_with_meta(json!([
        {"id": 902, "key": "_printbridge_key2print_page_count", "value": "2"},
        {"id": 903, "key": "_printbridge_key2print_template_format_id",
         "value": "b6233983-8eb8-11ea-ba23-0242ac120003"}
    ])));
    // The A4 variations carry their own template format.
    let mut variations = fixture_body(4);
    for v in variations.as_array_mut().expect("array") {
        if v["id"] == 30 || v["id"] == 31 {
            v["meta_data"] = json!([
                {"id": 904, "key": "_printbridge_key2print_template_format_id", "value": "a4-format"}
            ]);
        }
    }
    woo.put_variations(29, variations);
    let s = call(&app, "setup-data", "29", Some(setup("a5", "Gloss"))).await;
    assert_eq!(
        data(&s),
        &json!({"pageCount": 2, "templateFormatId": "b6233983-8eb8-11ea-ba23-0242ac120003"})
    );
    let s = call(&app, "setup-data", "29", Some(setup("a4", "None"))).await;
    assert_eq!(
        data(&s),
        &json!({"pageCount": 2, "templateFormatId": "a4-format"})
    );
    // The setup may carry the price tree's options too; they are ignored here.
    let s = call(
        &app,
        "setup-data",
        "29",
        Some(json!({"pa_format": "a4", "finish": "Gloss", "speed": "express"})),
    )
    .await;
    assert_eq!(data(&s)["templateFormatId"], "a4-format");
    // Without setup the method cannot answer.
    let s = call(&app, "setup-data", "29", None).await;
    assert_eq!(failed(&s), "the query has no setup parameter");
}
on_both_backends!(setup_data, setup_data_from_meta);

// ---- authentication ----

fn vectors() -> Vec<Value> {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/signatures.json");
    let v: Value = serde_json::from_slice(&std::fs::read(path).expect("vectors")).expect("json");
    v["key2print_gateway"].as_array().cloned().expect("cases")
}

fn vector_query(case: &Value) -> Vec<(String, String)> {
    case["query"]
        .as_object()
        .expect("query")
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().expect("text").to_owned()))
        .collect()
}

#[test]
fn vectors_pass_the_verifier() {
    for case in vectors() {
        let q = vector_query(&case);
        let get = |k: &str| {
            q.iter()
                .find(|(n, _)| n == k)
                .map(|(_, v)| v.clone())
                .expect(k)
        };
        let cfg: printbridge::config::Key2printConfig = toml::from_str(&key2print_section(
            "http://k2p",
            &get("key"),
            case["api_secret"].as_str().expect("secret"),
            300,
        ))
        .expect("cfg");
        let tstamp: i64 = get("tstamp").parse().expect("tstamp");
        let call = auth::verify(&q, &cfg, tstamp * 1000).expect("vector verifies");
        assert_eq!(call.product_identifier, get("productIdentifier"));
        assert_eq!(
            call.setup,
            q.iter().find(|(k, _)| k == "setup").map(|(_, v)| v.clone())
        );
        // Custom parameters are kept (and were signed).
        let custom: Vec<_> = q
            .iter()
            .filter(|(k, _)| !auth::RESERVED.contains(&k.as_str()))
            .cloned()
            .collect();
        assert_eq!(call.custom, custom);
        // One changed character anywhere breaks it.
        for i in 0..q.len() {
            if q[i].0 == "sign" {
                continue;
            }
            let mut t = q.clone();
            t[i].1.push('x');
            let want = if q[i].0 == "key" {
                AuthError::ForeignKey
            } else {
                AuthError::BadSign
            };
            assert_eq!(auth::verify(&t, &cfg, tstamp * 1000), Err(want), "{case}");
        }
        assert!(matches!(
            auth::verify(&q, &cfg, (tstamp + 301) * 1000),
            Err(AuthError::Stale { .. })
        ));
    }
}

/// Products 100-102 of the vectors: copies of the business cards and the poster.
fn vector_catalog(woo: &WooStandin) {
    let mut cards = fixture_body(1);
    cards["id"] = json!(100);
    woo.put_product(cards);
    woo.put_variations(100, fixture_body(4));
    for id in [101, 102] {
        let mut poster = fixture_body(2);
        poster["id"] = json!(id);
        woo.put_product(poster);
    }
}

async fn vectors_end_to_end(backend: Backend) {
    let woo = WooStandin::start().await;
    vector_catalog(&woo);
    for (case, endpoint) in
        vectors()
            .into_iter()
            .zip(["product-details", "available-options", "price"])
    {
        let q = vector_query(&case);
        let get = |k: &str| {
            q.iter()
                .find(|(n, _)| n == k)
                .map(|(_, v)| v.clone())
                .expect(k)
        };
        let tstamp: i64 = get("tstamp").parse().expect("tstamp");
        let clock = ManualClock::new(tstamp * 1000);
        let s = store(
            &woo,
            "http://127.0.0.1:9",
            &get("key"),
            case["api_secret"].as_str().expect("secret"),
            300,
        );
        let app = TestApp::spawn_with_clock(
            backend,
            move |c: &mut Config| c.stores.push(s),
            Some(clock.clone() as Arc<dyn Clock>),
        )
        .await;
        // The vector's exact query, sign included.
        let mut url =
            reqwest::Url::parse(&app.url(&format!("/v1/key2print/{STORE}/gateway/{endpoint}")))
                .expect("url");
        url.query_pairs_mut().extend_pairs(q.iter());
        let answer = get_json(&app, url.as_str()).await;
        let d = data(&answer);
        match endpoint {
            "product-details" => assert_eq!(d["name"], "Business cards"),
            "available-options" => {
                assert_eq!(d, &json!({"validSetup": {}, "availableOptions": {}}))
            }
            _ => assert_eq!(d["currency"], "EUR"),
        }
        // Replayed after the window, the same URL is refused.
        clock.advance(301_000);
        let late = get_json(&app, url.as_str()).await;
        assert!(
            failed(&late).contains("away from the bridge's clock"),
            "{late}"
        );
        app.stop().await;
    }
}
on_both_backends!(vectors_e2e, vectors_end_to_end);

async fn refused_calls_are_recorded(backend: Backend) {
    let woo = WooStandin::start().await;
    let app = app_for(backend, &woo, 300).await;
    let t = now_secs().to_string();
    let base = [
        ("productIdentifier", "29"),
        ("key", KEY),
        ("tstamp", t.as_str()),
    ];

    // A wrong sign (and the answer does not reveal the right one).
    let mut url = signed_url(&app, "product-details", SECRET, &base);
    url = url.replace("sign=", "sign=0");
    let bad = get_json(&app, &url).await;
    assert_eq!(failed(&bad), "sign does not match the query parameters");
    let right = gateway_sign(SECRET, base.iter().copied());
    assert!(!bad.to_string().contains(&right));
    // Signed with another secret.
    let other = get_json(
        &app,
        &signed_url(&app, "product-details", "not-the-secret", &base),
    )
    .await;
    assert_eq!(failed(&other), "sign does not match the query parameters");
    // A stale tstamp, validly signed.
    let stale_t = (now_secs() - 3600).to_string();
    let stale = get_json(
        &app,
        &signed_url(
            &app,
            "product-details",
            SECRET,
            &[
                ("productIdentifier", "29"),
                ("key", KEY),
                ("tstamp", &stale_t),
            ],
        ),
    )
    .await;
    assert!(
        failed(&stale).contains("away from the bridge's clock"),
        "{stale}"
    );
    // Another merchant's key.
    let foreign = get_json(
        &app,
        &signed_url(
            &app,
            "product-details",
            SECRET,
            &[
                ("productIdentifier", "29"),
                ("key", "someone-else"),
                ("tstamp", &t),
            ],
        ),
    )
    .await;
    assert_eq!(
        failed(&foreign),
        "key is not this store's Key2print api key"
    );
    // A custom parameter with a reserved name (differing in case), validly signed.
    let reserved = get_json(
        &app,
        &signed_url(
            &app,
            "product-details",
            SECRET,
            &[
                ("productIdentifier", "29"),
                ("key", KEY),
                ("tstamp", &t),
                ("Setup", "{}"),
            ],
        ),
    )
    .await;
    assert!(
        failed(&reserved).contains("reserved parameter \"setup\""),
        "{reserved}"
    );
    // A reserved name twice (a session URL that already carried productIdentifier).
    let mut twice = signed_url(&app, "product-details", SECRET, &base);
    twice.push_str("&productIdentifier=38");
    let twice = get_json(&app, &twice).await;
    assert!(failed(&twice).contains("appears 2 times"), "{twice}");
    // Not even decodable: still the JSON envelope with HTTP 200.
    for q in ["productIdentifier=%FF&key=%FE&tstamp=1&sign=%", "", "setup"] {
        let url = app.url(&format!("/v1/key2print/{STORE}/gateway/price?{q}"));
        assert!(!failed(&get_json(&app, &url).await).is_empty());
    }
    // A custom parameter is fine when signed.
    let ok = get_json(
        &app,
        &signed_url(
            &app,
            "product-details",
            SECRET,
            &[
                ("productIdentifier", "29"),
                ("key", KEY),
                ("tstamp", &t),
                ("lang", "pl"),
            ],
        ),
    )
    .await;
    assert_eq!(data(&ok)["name"], "Business cards");

    // A missing product and an unreachable shop.
    assert!(failed(&call(&app, "product-details", "999", None).await).contains("does not exist"));
    woo.go_unreachable().await;
    let down = call(&app, "product-details", "38", None).await;
    assert!(failed(&down).starts_with("WooCommerce:"), "{down}");
    // The cached business cards still answer.
    assert_eq!(
        data(&call(&app, "product-details", "29", None).await)["name"],
        "Business cards"
    );

    // Every failure is listed for the operator; Key2print's own log could not be read
    // (nothing listens at the configured WEBAPI URL), which the answer says.
    let (status, list) = app
        .admin_get(&format!("/v1/admin/key2print/{STORE}/gateway-errors"))
        .await;
    assert_eq!(status, 200, "{list}");
    assert_eq!(list["total"], 11, "{list}");
    let errors = list["errors"].as_array().expect("errors");
    assert_eq!(errors[0]["method"], "getProductDetails");
    assert_eq!(errors[0]["product_identifier"], "38");
    assert!(
        errors[0]["details"]
            .as_str()
            .expect("d")
            .starts_with("WooCommerce:")
    );
    assert_eq!(
        errors[10]["details"],
        "sign does not match the query parameters"
    );
    assert!(!list.to_string().contains(SECRET));
    assert_eq!(list["webapi_error_log"]["available"], false);
    assert!(
        list["webapi_error_log"]["error"]
            .as_str()
            .is_some_and(|e| e.contains("could not be read")),
        "{list}"
    );
    let (_, only) = app
        .admin_get(&format!(
            "/v1/admin/key2print/{STORE}/gateway-errors?product_identifier=999"
        ))
        .await;
    assert_eq!(only["total"], 1);
    let (status, _) = app
        .client
        .get(app.url(&format!("/v1/admin/key2print/{STORE}/gateway-errors")))
        .send()
        .await
        .map(|r| (r.status().as_u16(), ()))
        .expect("request");
    assert_eq!(status, 401);
}
on_both_backends!(refused_and_recorded, refused_calls_are_recorded);

async fn webapi_error_log_beside_ours(backend: Backend) {
    let woo = WooStandin::start().await;
    let k2p = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/v1/error_log/list"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "success": true,
            "data": {"entities": [{
                "details": "Product not found", "tstamp": 1588376400,
                "date": "2020-05-01 23:40:00", "productIdentifier": 29,
                "method": "getProductDetails"
            }], "limit": 100, "offset": 0, "total": 1}
        })))
        .mount(&k2p)
        .await;
    let s = store(&woo, &k2p.uri(), KEY, SECRET, 300);
    let app = TestApp::spawn(backend, move |c: &mut Config| c.stores.push(s)).await;
    let (status, list) = app
        .admin_get(&format!("/v1/admin/key2print/{STORE}/gateway-errors"))
        .await;
    assert_eq!(status, 200, "{list}");
    assert_eq!(list["total"], 0);
    assert_eq!(list["webapi_error_log"]["available"], true);
    assert_eq!(
        list["webapi_error_log"]["entries"][0],
        json!({"details": "Product not found", "tstamp": 1588376400,
               "date": "2020-05-01 23:40:00", "product_identifier": "29",
               "method": "getProductDetails"})
    );
    let reqs = k2p.received_requests().await.expect("recorded");
    assert!(!reqs.is_empty());
    for r in &reqs {
        let h = |n: &str| {
            r.headers
                .get(n)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        assert_eq!(h("api-key").as_deref(), Some(KEY));
        assert_eq!(h("api-sign"), Some(webapi_sign(SECRET, "GET", b"")));
    }
}
on_both_backends!(webapi_error_log, webapi_error_log_beside_ours);

// ---- caching ----

async fn catalog_reads_are_cached_until_flushed(backend: Backend) {
    let woo = WooStandin::start().await;
    let creds = SandboxCredentials::default();
    let sandbox = Sandbox::start(creds.clone(), "127.0.0.1", 0)
        .await
        .expect("sandbox");
    let s = store(
        &woo,
        &sandbox.key2print_url(),
        &creds.key2print_api_key,
        &creds.key2print_api_secret,
        300,
    );
    let app = TestApp::spawn(backend, move |c: &mut Config| c.stores.push(s)).await;
    let signed_call = |endpoint: &'static str| {
        let tstamp = now_secs().to_string();
        let setup = setup("a5", "None").to_string();
        signed_url(
            &app,
            endpoint,
            &creds.key2print_api_secret,
            &[
                ("productIdentifier", "29"),
                ("key", &creds.key2print_api_key),
                ("tstamp", &tstamp),
                ("setup", &setup),
            ],
        )
    };
    let first = get_json(&app, &signed_call("price")).await;
    assert_eq!(data(&first)["netPrice"], json!(29.0));
    assert_eq!(woo.request_count("/products/29"), 1);
    assert_eq!(woo.request_count("/products/29/variations"), 1);
    // The shop's settings are read once per store, not per product.
    let poster = signed_url(
        &app,
        "price",
        &creds.key2print_api_secret,
        &[
            ("productIdentifier", "38"),
            ("key", &creds.key2print_api_key),
            ("tstamp", &now_secs().to_string()),
            ("setup", "{}"),
        ],
    );
    assert_eq!(data(&get_json(&app, &poster).await)["taxRate"], "VAT");
    for path in ["/settings/general", "/settings/tax", "/taxes"] {
        assert_eq!(woo.request_count(path), 1, "{path} read once");
    }
    // The shop switches to prices entered with tax: cached until a flush.
    woo.set_tax_setting("woocommerce_prices_include_tax", "yes");
    let cached_poster = get_json(&app, &poster).await;
    assert_eq!(data(&cached_poster)["netPrice"], json!(12.9));

    let second = get_json(&app, &signed_call("price")).await;
    assert_eq!(second, first);
    let _ = get_json(&app, &signed_call("available-options")).await;
    assert_eq!(
        woo.request_count("/products/29"),
        1,
        "served from the cache"
    );
    assert_eq!(woo.request_count("/products/29/variations"), 1);

    // The shop owner changes the price; the plugin flushes the product.
    let mut variations = fixture_body(4);
    for v in variations.as_array_mut().expect("array") {
        if v["id"] == 32 {
            v["price"] = json!("31.00");
            v["regular_price"] = json!("31.00");
        }
    }
    woo.put_variations(29, variations);
    let (status, _) = app
        .store_post(
            &format!("/v1/stores/{STORE}/key2print/cache/flush"),
            STORE_TOKEN,
            &json!({"product_id": 29}),
        )
        .await;
    assert_eq!(status, 200);
    let stats = eventually(Duration::from_secs(5), "the flush at Key2print", || async {
        let s = sandbox.state.stats();
        (!s.key2print_flushes.is_empty()).then_some(s)
    })
    .await;
    assert_eq!(stats.key2print_flushes, vec!["29".to_owned()]);
    assert_eq!(stats.rejected_signatures, 0);

    // The new price, entered with tax now.
    let third = get_json(&app, &signed_call("price")).await;
    assert_eq!(data(&third)["grossPrice"], json!(31.0));
    assert_eq!(data(&third)["netPrice"], json!(25.83));
    assert_eq!(
        woo.request_count("/products/29"),
        2,
        "read again after the flush"
    );
    assert_eq!(woo.request_count("/products/29/variations"), 2);
    // The flush also drops the store's settings: a change of the shop's tax settings shows
    // once a product is saved.
    for path in ["/settings/general", "/settings/tax", "/taxes"] {
        assert_eq!(woo.request_count(path), 2, "{path} read again");
    }
    // Every product is priced with the new settings, the poster still from the cache.
    let p = get_json(&app, &poster).await;
    assert_eq!(
        (
            &data(&p)["netPrice"],
            &data(&p)["tax"],
            &data(&p)["grossPrice"]
        ),
        (&json!(10.75), &json!(2.15), &json!(12.9)),
        "{p}"
    );
    assert_eq!(woo.request_count("/products/38"), 1);
    sandbox.stop();
}
on_both_backends!(cache, catalog_reads_are_cached_until_flushed);

// ---- retention ----

async fn records_are_bounded_per_store(backend: Backend) {
    let app = TestApp::spawn(backend, |_| {}).await;
    let mut ids = Vec::new();
    for i in 0..5 {
        ids.push(
            app.store
                .record_gateway_error(STORE, i, "getPrice", Some("29"), &"x".repeat(5000))
                .await
                .expect("record"),
        );
    }
    app.store
        .record_gateway_error("other", 9, "getPrice", None, "kept")
        .await
        .expect("record");
    assert_eq!(
        app.store
            .prune_gateway_errors(STORE, 3)
            .await
            .expect("prune"),
        2
    );
    let page = app
        .store
        .gateway_errors(STORE, None, 0, 50)
        .await
        .expect("list");
    assert_eq!(page.total, 3);
    let kept: Vec<i64> = page.errors.iter().map(|e| e.id).collect();
    assert_eq!(kept, vec![ids[4], ids[3], ids[2]]);
    // Long details are cut.
    assert!(page.errors[0].details.chars().count() <= 2001);
    let other = app
        .store
        .gateway_errors("other", None, 0, 50)
        .await
        .expect("list");
    assert_eq!(other.total, 1);
    assert_eq!(other.errors[0].product_identifier, None);
    // Nothing beyond the limit: nothing to drop.
    assert_eq!(
        app.store
            .prune_gateway_errors(STORE, 3)
            .await
            .expect("prune"),
        0
    );
}
on_both_backends!(retention, records_are_bounded_per_store);

//! `POST /v1/stores/{store}/key2print/price` against the real app: the WooCommerce REST
//! stand-in serves the recorded "Business cards" (A5 + Gloss on sale at 29.90, A6 + Gloss
//! out of stock, A4 + UV coating missing) and the simple poster; the store has a 20% VAT rate.

use crate::gateway::{STORE, app_for, business_cards_with_meta};
use crate::support::woo_standin::WooStandin;
use crate::support::{Backend, STORE_TOKEN, TestApp};
use serde_json::{Value, json};

/// The price tree of the gateway tests: Standard (leaf), or Express (+10.10) with a
/// Delivery choice of Self collection (leaf) or Courier (+5, unavailable).
fn tree() -> Value {
    json!({
        "id": "speed", "name": "Production time", "values": [
            {"id": "standard", "name": "Standard"},
            {"id": "express", "name": "Express", "surcharge": "10.10",
             "subOption": {"id": 2, "name": "Delivery", "values": [
                 {"id": 3, "name": "Self collection"},
                 {"id": 4, "name": "Courier", "surcharge": "5", "isAvailable": false}
             ]}}
        ]
    })
}

/// "Business cards" carrying [`tree`] as its price tree.
fn cards_with_tree() -> Value {
    business_cards_with_meta(json!([
        {"id": 901, "key": "_printbridge_key2print_price_tree", "value": tree().to_string()}
    ]))
}

/// Express with Self collection on A5 + None: 29.00 + 10.10.
fn express_self_collection() -> Value {
    let mut setup = cards("a5", "None");
    setup["speed"] = json!("express");
    setup["2"] = json!(3);
    setup
}

async fn price_with_token(app: &TestApp, token: &str, body: Value) -> (u16, Value) {
    app.store_post(&format!("/v1/stores/{STORE}/key2print/price"), token, &body)
        .await
}

async fn price(app: &TestApp, body: Value) -> (u16, Value) {
    price_with_token(app, STORE_TOKEN, body).await
}

/// The answer must be a problem with this status, code and field, and carry no price.
fn assert_problem(answer: &(u16, Value), status: u16, error: &str, field: &str) {
    let (got, body) = answer;
    assert_eq!(*got, status, "{body}");
    assert_eq!(body["error"], error, "{body}");
    assert_eq!(body["field"], field, "{body}");
    assert!(body.get("line_price").is_none(), "{body}");
}

fn cards(format: &str, finish: &str) -> Value {
    json!({"pa_format": format, "finish": finish})
}

async fn flat_prices(backend: Backend) {
    let woo = WooStandin::start().await;
    let app = app_for(backend, &woo, 300).await;

    // A5 + Gloss is on sale: the sale price, net, is the line price.
    let (status, p) = price(
        &app,
        json!({"product_id": 29, "variation_id": 33, "setup": cards("a5", "Gloss")}),
    )
    .await;
    assert_eq!(status, 200, "{p}");
    assert_eq!(
        p,
        json!({
            "product_id": 29, "variation_id": 33, "net": 29.9, "gross": 35.88, "tax": 5.98,
            "tax_rate": "VAT", "currency": "EUR", "line_price": 29.9, "price_path": [],
            "available": true
        })
    );
    // Without variation_id the setup designates it; names and any case are understood.
    let (status, p) = price(
        &app,
        json!({"product_id": 29, "setup": {"pa_format": "A5", "finish": "none"}}),
    )
    .await;
    assert_eq!(status, 200, "{p}");
    assert_eq!(
        (p["variation_id"].clone(), p["line_price"].clone()),
        (json!(32), json!(29.0))
    );

    // The simple poster: its own price, no variation.
    let (status, p) = price(&app, json!({"product_id": 38, "setup": {}})).await;
    assert_eq!(status, 200, "{p}");
    assert_eq!(p["variation_id"], Value::Null);
    assert!(p["line_price"].as_f64().is_some_and(|x| x > 0.0), "{p}");
    assert_eq!(p["line_price"], p["net"]);
}
on_both_backends!(setup_price_flat, flat_prices);

async fn tree_prices(backend: Backend) {
    let woo = WooStandin::start().await;
    woo.put_product(cards_with_tree());
    let app = app_for(backend, &woo, 300).await;

    let (status, p) = price(
        &app,
        json!({"product_id": 29, "setup": express_self_collection()}),
    )
    .await;
    assert_eq!(status, 200, "{p}");
    assert_eq!(
        (p["net"].clone(), p["gross"].clone()),
        (json!(39.1), json!(46.92))
    );
    assert_eq!(p["line_price"], json!(39.1));
    assert_eq!(
        p["price_path"],
        json!([
            {"option_id": "speed", "option_name": "Production time",
             "value_id": "express", "value_name": "Express"},
            {"option_id": "2", "option_name": "Delivery",
             "value_id": "3", "value_name": "Self collection"}
        ])
    );

    // Standard on the variation on sale: the sale price.
    let mut setup = cards("a5", "Gloss");
    setup["speed"] = json!("standard");
    let (status, p) = price(
        &app,
        json!({"product_id": 29, "variation_id": 33, "setup": setup}),
    )
    .await;
    assert_eq!(status, 200, "{p}");
    assert_eq!(p["line_price"], json!(29.9));
    assert_eq!(p["price_path"][0]["value_name"], "Standard");
}
on_both_backends!(setup_price_tree, tree_prices);

/// A shop that enters prices with tax: the line price is the gross the editor shows, the
/// amount WooCommerce reads a line's price as.
async fn prices_entered_with_tax(backend: Backend) {
    let woo = WooStandin::start().await;
    woo.set_tax_setting("woocommerce_prices_include_tax", "yes");
    woo.put_product(cards_with_tree());
    let app = app_for(backend, &woo, 300).await;

    // Both amounts entered with 20 % VAT.
    let (status, p) = price(
        &app,
        json!({"product_id": 29, "setup": express_self_collection()}),
    )
    .await;
    assert_eq!(status, 200, "{p}");
    assert_eq!(
        (&p["net"], &p["tax"], &p["gross"], &p["line_price"]),
        (&json!(32.58), &json!(6.52), &json!(39.1), &json!(39.1)),
        "{p}"
    );
}
on_both_backends!(setup_price_with_tax_entered, prices_entered_with_tax);

async fn setups_without_a_price(backend: Backend) {
    let woo = WooStandin::start().await;
    woo.put_product(business_cards_with_meta(json!([
        {"id": 901, "key": "_printbridge_key2print_price_tree", "value": tree()}
    ])));
    let app = app_for(backend, &woo, 300).await;
    let with = |format: &str, finish: &str, extra: Value| {
        let mut s = cards(format, finish);
        for (k, v) in extra.as_object().expect("object") {
            s[k] = v.clone();
        }
        s
    };

    // The path stops before a leaf: Express needs a Delivery choice.
    let a = price(
        &app,
        json!({"product_id": 29, "setup": with("a5", "None", json!({"speed": "express"}))}),
    )
    .await;
    assert_problem(&a, 422, "price_path_incomplete", "setup.2");
    assert!(
        a.1["message"]
            .as_str()
            .expect("message")
            .contains("Delivery"),
        "{}",
        a.1
    );
    // No choice at all at the root, and a value the tree does not have.
    let a = price(
        &app,
        json!({"product_id": 29, "setup": cards("a5", "None")}),
    )
    .await;
    assert_problem(&a, 422, "price_path_incomplete", "setup.speed");
    let a = price(
        &app,
        json!({"product_id": 29, "setup": with("a5", "None", json!({"speed": "overnight"}))}),
    )
    .await;
    assert_problem(&a, 422, "price_path_incomplete", "setup.speed");

    // An unavailable leaf (Courier) and an out-of-stock variation (A6 + Gloss).
    let courier = with("a5", "None", json!({"speed": "express", "2": "4"}));
    let a = price(&app, json!({"product_id": 29, "setup": courier})).await;
    assert_problem(&a, 409, "unavailable", "setup.2");
    let a = price(
        &app,
        json!({"product_id": 29, "setup": with("a6", "Gloss", json!({"speed": "standard"}))}),
    )
    .await;
    assert_problem(&a, 409, "unavailable", "setup");

    // A combination that does not exist, and a variation the setup does not designate.
    let a = price(
        &app,
        json!({"product_id": 29, "setup": with("a4", "UV coating", json!({"speed": "standard"}))}),
    )
    .await;
    assert_problem(&a, 422, "setup_not_priced", "setup");
    let a = price(
        &app,
        json!({"product_id": 29, "variation_id": 32,
               "setup": with("a5", "Gloss", json!({"speed": "standard"}))}),
    )
    .await;
    assert_problem(&a, 422, "variation_mismatch", "variation_id");
}
on_both_backends!(setup_price_refused, setups_without_a_price);

async fn bad_requests_and_tokens(backend: Backend) {
    let woo = WooStandin::start().await;
    let app = app_for(backend, &woo, 300).await;
    let ok = json!({"product_id": 29, "setup": cards("a5", "None")});

    // A wrong token, and an unknown store, are the same 401; neither names a price.
    let a = price_with_token(&app, "not-the-token", ok.clone()).await;
    assert_problem(&a, 401, "unauthorized", "Authorization");
    let (status, _) = app
        .store_post("/v1/stores/nope/key2print/price", STORE_TOKEN, &ok)
        .await;
    assert_eq!(status, 401);
    let resp = app
        .client
        .post(app.url(&format!("/v1/stores/{STORE}/key2print/price")))
        .json(&ok)
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status().as_u16(), 401);
    assert_eq!(
        woo.request_count("/products/29"),
        0,
        "nothing read unauthorised"
    );

    let a = price(&app, json!({"product_id": 0, "setup": {}})).await;
    assert_problem(&a, 400, "invalid_product_id", "product_id");
    let a = price(
        &app,
        json!({"product_id": 29, "variation_id": -1, "setup": {}}),
    )
    .await;
    assert_problem(&a, 400, "invalid_variation_id", "variation_id");
    let a = price(&app, json!({"product_id": 29, "setup": "pa_format=a5"})).await;
    assert_problem(&a, 400, "invalid_setup", "setup");
    let a = price(&app, json!({"product_id": 29, "setup": {"finish": ["a"]}})).await;
    assert_problem(&a, 400, "invalid_setup", "setup");
    let many: serde_json::Map<String, Value> =
        (0..101).map(|i| (format!("o{i}"), json!("v"))).collect();
    let a = price(&app, json!({"product_id": 29, "setup": many})).await;
    assert_problem(&a, 400, "invalid_setup", "setup");
    let a = price(&app, json!({"product_id": 999, "setup": {}})).await;
    assert_problem(&a, 404, "product_not_found", "product_id");
}
on_both_backends!(setup_price_requests, bad_requests_and_tokens);

//! Property tests of the parsers that read untrusted input: the webhook body parser and the
//! Key2print gateway's query parser and authentication. A few hundred cases each, so they run
//! with every `cargo test`.

use printbridge::config::Key2printConfig;
use printbridge::gateway::auth;
use printbridge::intake::parse::{Parsed, parse_delivery};
use printbridge::providers::key2print::{gateway_sign, parse_query};
use proptest::prelude::*;

fn topic() -> impl Strategy<Value = Option<String>> {
    prop_oneof![
        Just(None),
        Just(Some("order.updated".to_owned())),
        Just(Some("order.deleted".to_owned())),
        Just(Some("action.woocommerce_payment_complete".to_owned())),
        ".{0,40}".prop_map(Some),
    ]
}

/// A JSON scalar as text: integers in and beyond i64, fractions, strings, null.
fn number_text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<i64>().prop_map(|n| n.to_string()),
        any::<u64>().prop_map(|n| n.to_string()),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| format!("{f:?}")),
        Just("1180591620717411303424".to_owned()),
        "[0-9]{1,30}".prop_map(|d| format!("\"{d}\"")),
        Just("null".to_owned()),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Any bytes under any topic are read without a panic.
    #[test]
    fn any_body_is_read_without_panic(topic in topic(), body in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = parse_delivery(topic.as_deref(), &body);
    }

    /// An order's id is taken exactly or not at all (never rounded or clamped), and a
    /// provider item's quantity below 1 or not whole is never planned.
    #[test]
    fn order_ids_and_quantities_are_exact(id in number_text(), quantity in number_text()) {
        let body = format!(
            r#"{{"id":{id},"status":"processing","date_modified_gmt":"2026-11-23T08:00:00",
               "line_items":[{{"id":1,"name":"Mug","quantity":{quantity},"sku":"MUG",
               "meta_data":[{{"key":"_printbridge_spiff_transaction_id","value":"tx-1"}}]}}]}}"#
        );
        let exact_id = |text: &str| text.trim_matches('"').parse::<i64>().ok().filter(|n| *n > 0);
        match parse_delivery(Some("order.updated"), body.as_bytes()) {
            Parsed::Order(snap) => {
                prop_assert_eq!(Some(snap.order.id), exact_id(&id));
                let planned = printbridge::intake::parse::plan_provider_jobs(&snap);
                let whole = quantity.trim_matches('"').parse::<i64>().is_ok_and(|q| q >= 1);
                prop_assert_eq!(!planned.is_empty(), whole, "quantity {}", quantity);
            }
            _ => prop_assert_eq!(exact_id(&id), None, "id {} was not taken", id),
        }
    }

    /// Pairs encoded as a query string decode to themselves, in order.
    #[test]
    fn queries_round_trip(pairs in proptest::collection::vec((".{0,12}", ".{0,24}"), 0..8)) {
        let mut url = reqwest::Url::parse("http://q/").expect("url");
        url.query_pairs_mut().extend_pairs(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        let parsed = parse_query(url.query().unwrap_or(""));
        prop_assert_eq!(parsed, pairs);
    }

    /// Any query is decoded and authenticated without a panic, and only a correctly signed
    /// one with the store's key is accepted.
    #[test]
    fn gateway_queries_are_authenticated(query in ".{0,200}", extra in "[a-z]{1,8}", value in ".{0,16}") {
        let cfg: Key2printConfig = toml::from_str(
            "base_url = \"http://k2p\"\napi_key = \"merchant-key\"\napi_secret = \"s3cret\"\n",
        ).expect("config");
        let now_ms = 1_764_000_000_000;
        let params = parse_query(&query);
        let signed_by_us = params.iter().any(|(k, _)| k == "sign");
        if auth::verify(&params, &cfg, now_ms).is_ok() {
            prop_assert!(signed_by_us);
        }
        let mut params = vec![
            ("productIdentifier".to_owned(), "29".to_owned()),
            ("key".to_owned(), "merchant-key".to_owned()),
            ("tstamp".to_owned(), "1764000000".to_owned()),
        ];
        if !auth::RESERVED.iter().any(|r| r.eq_ignore_ascii_case(&extra)) {
            params.push((extra, value));
        }
        let sign = gateway_sign("s3cret", params.iter().map(|(k, v)| (k, v)));
        params.push(("sign".to_owned(), sign));
        prop_assert!(auth::verify(&params, &cfg, now_ms).is_ok());
        let last = params.len() - 1;
        params[last].1 = params[last].1.replace(|c: char| c != '0', "0");
        prop_assert!(auth::verify(&params, &cfg, now_ms).is_err());
    }
}

//! Every entry of tests/fixtures/signatures.json, reproduced by the provider signing functions.

use printbridge::config::SpiffBodyHash;
use printbridge::providers::{apliiq, key2print, spiff};
use printbridge::secret::Secret;
use serde_json::Value;

fn vectors() -> Value {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/signatures.json"
    ))
    .expect("signatures.json");
    serde_json::from_str(&text).expect("valid JSON")
}

fn cases(name: &str) -> Vec<Value> {
    let v = vectors()[name].as_array().cloned().unwrap_or_default();
    assert!(!v.is_empty(), "no vectors named {name}");
    v
}

fn s<'a>(case: &'a Value, key: &str) -> &'a str {
    case[key]
        .as_str()
        .unwrap_or_else(|| panic!("field {key} in {case}"))
}

fn spiff_cases(name: &str, hash: SpiffBodyHash) {
    for case in cases(name) {
        let req = spiff::SoaRequest {
            method: s(&case, "method"),
            body: s(&case, "body").as_bytes(),
            content_type: s(&case, "content_type"),
            date: s(&case, "date"),
            path: s(&case, "path"),
        };
        let got =
            spiff::soa_authorization(s(&case, "access_key"), s(&case, "secret_key"), hash, &req);
        assert_eq!(got, s(&case, "authorization"), "{name}: {case}");
        // A changed date must change the signature.
        let other = spiff::SoaRequest {
            date: "Mon, 01 Jan 2001 00:00:00 GMT",
            ..req
        };
        assert_ne!(
            spiff::soa_authorization(s(&case, "access_key"), s(&case, "secret_key"), hash, &other),
            got
        );
    }
}

#[test]
fn spiff_sha512_vectors() {
    spiff_cases("spiff", SpiffBodyHash::Sha512);
}

#[test]
fn spiff_legacy_md5_vectors() {
    spiff_cases("spiff_legacy_md5", SpiffBodyHash::Md5);
}

#[test]
fn apliiq_auth_vectors() {
    for case in cases("apliiq") {
        let got = apliiq::authorization(
            s(&case, "shared_secret"),
            s(&case, "app_id"),
            s(&case, "rts"),
            s(&case, "state"),
            s(&case, "body").as_bytes(),
        );
        assert_eq!(got, s(&case, "authorization"), "{case}");
        let parts = apliiq::parse_authorization(s(&case, "authorization")).expect("parses");
        assert_eq!(parts.app_id, s(&case, "app_id"));
        assert_eq!(parts.rts, s(&case, "rts"));
        assert_eq!(parts.state, s(&case, "state"));
    }
}

#[test]
fn apliiq_order_bodies_serialize_byte_for_byte() {
    // The non-empty vector bodies are what the client sends for these orders.
    for case in cases("apliiq") {
        let body = s(&case, "body");
        if body.is_empty() {
            continue;
        }
        let order: apliiq::ApliiqOrder = serde_json::from_str(body).expect("order body");
        assert_eq!(serde_json::to_string(&order).expect("encodes"), body);
    }
}

#[test]
fn apliiq_callback_vectors() {
    for case in cases("apliiq_fulfillment_callback") {
        let secret = s(&case, "shared_secret");
        let body = s(&case, "body").as_bytes();
        let header = s(&case, "x_apliiq_hmac");
        assert_eq!(apliiq::callback_hmac(secret, body), header, "{case}");
        assert!(apliiq::verify_callback(&Secret::new(secret), body, header));
        let mut tampered = body.to_vec();
        tampered.push(b' ');
        assert!(!apliiq::verify_callback(
            &Secret::new(secret),
            &tampered,
            header
        ));
        assert!(!apliiq::verify_callback(
            &Secret::new("wrong"),
            body,
            header
        ));
    }
}

#[test]
fn key2print_webapi_vectors() {
    for case in cases("key2print_webapi") {
        let got = key2print::webapi_sign(
            s(&case, "api_secret"),
            s(&case, "method"),
            s(&case, "body").as_bytes(),
        );
        assert_eq!(got, s(&case, "api_sign"), "{case}");
    }
}

#[test]
fn key2print_gateway_vectors() {
    for case in cases("key2print_gateway") {
        let secret = s(&case, "api_secret");
        let query: Vec<(String, String)> = case["query"]
            .as_object()
            .expect("query object")
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().expect("string").to_owned()))
            .collect();
        assert_eq!(
            key2print::gateway_sign(secret, query.clone()),
            s(&case, "sign")
        );
        assert_eq!(
            key2print::gateway_verify(&Secret::new(secret), query.clone()),
            Ok(())
        );
        // The same parameters as a URL-encoded query string verify too.
        let encoded = query
            .iter()
            .map(|(k, v)| format!("{k}={}", percent(v)))
            .collect::<Vec<_>>()
            .join("&");
        let parsed = key2print::parse_query(&encoded);
        assert_eq!(parsed, query);
        // An added unknown parameter is signed too, so it breaks the signature.
        let mut extra = query.clone();
        extra.push(("lang".to_owned(), "de".to_owned()));
        assert!(key2print::gateway_verify(&Secret::new(secret), extra).is_err());
        assert!(key2print::gateway_verify(&Secret::new("other"), query).is_err());
    }
}

#[test]
fn woocommerce_vectors_still_verify() {
    for case in cases("woocommerce_webhook") {
        let secret = Secret::new(s(&case, "secret"));
        assert!(printbridge::woo::signature::verify(
            [&secret],
            s(&case, "body").as_bytes(),
            s(&case, "signature")
        ));
    }
}

fn percent(v: &str) -> String {
    v.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

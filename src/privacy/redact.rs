//! Redaction of personal fields in what the bridge keeps: WooCommerce order JSON (delivery
//! bodies, snapshots), provider answers kept with jobs, attempt excerpts. Ids, states, times,
//! amounts and the meta the bridge's contract reads (design ids) stay, so the ledger and
//! the audit trail still make sense; everything that names, locates or describes a person
//! becomes [`MARKER`].

use serde_json::{Map, Value};

/// What a redacted value reads.
pub const MARKER: &str = "[redacted]";

/// Keys whose values are personal wherever they appear in an order or a provider answer:
/// WooCommerce's address fields and customer details, and the spellings providers use for
/// the same (Apliiq's and Spiff's shipping blocks).
const PERSONAL_KEYS: &[&str] = &[
    "first_name",
    "last_name",
    "firstname",
    "lastname",
    "full_name",
    "fullname",
    "company",
    "address_1",
    "address_2",
    "address1",
    "address2",
    "street",
    "city",
    "state",
    "postcode",
    "zip",
    "zipcode",
    "postal_code",
    "email",
    "phone",
    "customer_note",
    "customer_ip_address",
    "customer_user_agent",
    "note",
];

/// Objects that describe a person as a whole (WooCommerce's addresses, the providers'
/// shipping blocks): every value in them is redacted but the country.
const PERSON_BLOCKS: &[&str] = &[
    "billing",
    "shipping",
    "address",
    "shipping_address",
    "billing_address",
    "customer",
    "recipient",
];

/// Line-item meta the bridge reads to route an item (the meta-key contract): kept, since
/// they are design ids, not text a customer wrote.
const CONTRACT_META: &[&str] = &[
    "_printbridge_spiff_transaction_id",
    "spiff_transaction_id",
    "_printbridge_key2print_project_id",
];

/// `key` without case, `-` and `_`: `firstName`, `first-name` and `first_name` are one key.
fn fold(key: &str) -> String {
    key.chars()
        .filter(|c| *c != '_' && *c != '-')
        .flat_map(char::to_lowercase)
        .collect()
}

/// Whether `key` is one of `keys`, folded (see [`fold`]).
fn is_one_of(key: &str, keys: &[&str]) -> bool {
    let folded = fold(key);
    keys.iter().any(|k| fold(k) == folded)
}

/// Every value of a person block but its country, at any depth.
fn redact_block(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (key, v) in map.iter_mut() {
                if !is_one_of(key, &["country", "country_code"]) {
                    redact_block(v);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(redact_block),
        other => mark(other),
    }
}

/// Replaces a value by the marker, keeping JSON `null` and empty strings as they are (they
/// say nothing was there).
fn mark(value: &mut Value) {
    match value {
        Value::Null => {}
        Value::String(s) if s.is_empty() => {}
        _ => *value = Value::String(MARKER.to_owned()),
    }
}

/// Redacts, at any depth, the values of personal keys (see [`PERSONAL_KEYS`]) and the
/// values of `meta_data` entries other than the bridge's contract meta (personalisation
/// text, gift messages, whatever a plugin stored). The billing and shipping countries stay.
pub fn redact_value(value: &mut Value) {
    match value {
        Value::Object(map) => redact_object(map),
        Value::Array(items) => items.iter_mut().for_each(redact_value),
        _ => {}
    }
}

fn redact_object(map: &mut Map<String, Value>) {
    for (key, value) in map.iter_mut() {
        if key == "meta_data" {
            redact_meta(value);
        } else if is_one_of(key, PERSON_BLOCKS) && value.is_object() {
            redact_block(value);
        } else if is_one_of(key, PERSONAL_KEYS) {
            mark(value);
        } else {
            redact_value(value);
        }
    }
}

/// WooCommerce's `meta_data`: a list of `{id, key, value, display_key, display_value}`.
fn redact_meta(meta: &mut Value) {
    let Value::Array(entries) = meta else {
        mark(meta);
        return;
    };
    for entry in entries {
        let Value::Object(m) = entry else {
            mark(entry);
            continue;
        };
        let contract = m
            .get("key")
            .and_then(Value::as_str)
            .is_some_and(|k| CONTRACT_META.contains(&k));
        if contract {
            continue;
        }
        for field in ["value", "display_value"] {
            if let Some(v) = m.get_mut(field) {
                mark(v);
            }
        }
    }
}

/// A stored body (an order's JSON, or anything a delivery carried) in its redacted form:
/// JSON with its personal fields redacted, or, when it is not JSON, a JSON object that
/// says it was redacted (the bridge cannot tell what such a body holds).
pub fn redact_body(body: &[u8]) -> Vec<u8> {
    match serde_json::from_slice::<Value>(body) {
        Ok(mut value) => {
            redact_value(&mut value);
            serde_json::to_vec(&value).unwrap_or_else(|_| opaque())
        }
        Err(_) => opaque(),
    }
}

/// What replaces a body that is not JSON.
fn opaque() -> Vec<u8> {
    format!("{{\"redacted\":\"{MARKER}\"}}").into_bytes()
}

/// A stored JSON text (a snapshot's body, a job's kept answer) redacted; text that is not
/// JSON becomes the marker.
pub fn redact_text(text: &str) -> String {
    match serde_json::from_str::<Value>(text) {
        Ok(mut value) => {
            redact_value(&mut value);
            value.to_string()
        }
        Err(_) => MARKER.to_owned(),
    }
}

/// Quotes shorter than this are left alone: too short to name anyone, and replacing them
/// could mangle the bridge's own words around them.
const MIN_QUOTE_CHARS: usize = 4;

/// `text` with every occurrence of each of `quotes` replaced by [`MARKER`]: as written, and
/// as it reads inside a JSON string once or twice (a job's payload holds an event's body as
/// a JSON string). The JSON around a replaced quote stays valid, since the marker needs no
/// escaping.
pub fn redact_quotes(text: &str, quotes: &[String]) -> String {
    let mut out = text.to_owned();
    for quote in quotes
        .iter()
        .filter(|q| q.chars().count() >= MIN_QUOTE_CHARS)
    {
        let once = json_inner(quote);
        let twice = json_inner(&once);
        for form in [twice, once, quote.clone()] {
            if out.contains(&form) {
                out = out.replace(&form, MARKER);
            }
        }
    }
    out
}

/// `s` as it reads between the quotes of a JSON string.
fn json_inner(s: &str) -> String {
    let quoted = Value::String(s.to_owned()).to_string();
    quoted[1..quoted.len() - 1].to_owned()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn an_order_keeps_ids_amounts_and_design_ids_only() {
        let order = json!({
            "id": 7, "status": "processing", "total": "12.50", "customer_id": 3,
            "customer_note": "ring twice", "customer_ip_address": "203.0.113.9",
            "billing": {"first_name": "Ada", "email": "ada@example.test", "country": "GB",
                        "phone": "", "address_1": "12 Example Street"},
            "shipping": {"last_name": "Lovelace", "postcode": "SW1A 1AA"},
            "line_items": [{"id": 1, "name": "Mug", "meta_data": [
                {"key": "_printbridge_spiff_transaction_id", "value": "tx-1"},
                {"key": "Engraving", "value": "For Ada", "display_value": "For Ada"}
            ]}],
            "meta_data": [{"key": "_gift", "value": {"to": "Charles"}}]
        });
        let out: Value =
            serde_json::from_slice(&redact_body(order.to_string().as_bytes())).expect("json");
        assert_eq!(out["id"], 7);
        assert_eq!(out["total"], "12.50");
        assert_eq!(out["customer_id"], 3);
        assert_eq!(out["billing"]["country"], "GB");
        assert_eq!(out["billing"]["phone"], "", "empty stays empty");
        for path in [
            "/customer_note",
            "/customer_ip_address",
            "/billing/first_name",
            "/billing/email",
            "/billing/address_1",
            "/shipping/last_name",
            "/shipping/postcode",
            "/line_items/0/meta_data/1/value",
            "/line_items/0/meta_data/1/display_value",
            "/meta_data/0/value",
        ] {
            assert_eq!(out.pointer(path), Some(&json!(MARKER)), "{path}");
        }
        assert_eq!(out["line_items"][0]["meta_data"][0]["value"], "tx-1");
        assert_eq!(out["line_items"][0]["name"], "Mug");
        assert!(!out.to_string().contains("Ada"), "{out}");
    }

    #[test]
    fn provider_spellings_and_non_json_are_redacted() {
        let answer = json!({"order": {"ship_to": {"firstName": "Ada", "Address1": "x", "Zip": "1"},
            "shipping": {"name": "Ada L", "lines": ["1 Road"], "country": "GB"}}});
        let out = redact_text(&answer.to_string());
        assert!(!out.contains("Ada") && !out.contains("\"x\""), "{out}");
        assert!(!out.contains("1 Road") && out.contains("GB"), "{out}");
        assert_eq!(redact_text("Ada Lovelace, London"), MARKER);
        assert_eq!(
            redact_body(b"name=Ada&city=London"),
            br#"{"redacted":"[redacted]"}"#.to_vec()
        );
    }

    #[test]
    fn quotes_are_replaced_raw_and_inside_json_strings() {
        let quote = r#"{"error":"Ada Lovelace, 12 Example Street"}"#.to_owned();
        let reason = format!("HTTP 400: {quote}");
        assert_eq!(
            redact_quotes(&reason, std::slice::from_ref(&quote)),
            "HTTP 400: [redacted]"
        );
        let body = json!({"type": "order.dead_lettered", "data": {"reason": reason}}).to_string();
        let payload = json!({"id": "msg_1", "body": body}).to_string();
        let out = redact_quotes(&payload, std::slice::from_ref(&quote));
        assert!(!out.contains("Ada"), "{out}");
        let parsed: Value = serde_json::from_str(&out).expect("still JSON");
        let inner: Value = serde_json::from_str(parsed["body"].as_str().unwrap()).expect("body");
        assert_eq!(inner["data"]["reason"], "HTTP 400: [redacted]");
        assert_eq!(redact_quotes("a 400 b", &["400".to_owned()]), "a 400 b");
    }
}

//! WooCommerce REST v3 order shapes, as webhooks and the REST API send them.
//!
//! WooCommerce's types are loose (money is a string in one place and a number in another,
//! `image.id` is `""` or `0`), so every field is parsed leniently and unknown fields are kept
//! out of the way. Only what the bridge reads is modelled; the raw JSON is stored beside it.

use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;
use serde_json::value::RawValue;

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct Order {
    #[serde(deserialize_with = "order_id")]
    pub id: i64,
    #[serde(deserialize_with = "lenient_i64")]
    pub parent_id: i64,
    #[serde(deserialize_with = "lenient_string")]
    pub number: String,
    #[serde(deserialize_with = "lenient_string")]
    pub status: String,
    #[serde(deserialize_with = "lenient_string")]
    pub currency: String,
    #[serde(deserialize_with = "lenient_opt_string")]
    pub date_created_gmt: Option<String>,
    #[serde(deserialize_with = "lenient_opt_string")]
    pub date_modified_gmt: Option<String>,
    #[serde(deserialize_with = "lenient_opt_string")]
    pub date_modified: Option<String>,
    #[serde(deserialize_with = "lenient_opt_string")]
    pub date_paid_gmt: Option<String>,
    #[serde(deserialize_with = "lenient_string")]
    pub total: String,
    #[serde(deserialize_with = "lenient_string")]
    pub shipping_total: String,
    #[serde(deserialize_with = "lenient_i64")]
    pub customer_id: i64,
    #[serde(deserialize_with = "lenient_string")]
    pub customer_note: String,
    #[serde(deserialize_with = "lenient_string")]
    pub payment_method: String,
    #[serde(deserialize_with = "lenient_string")]
    pub transaction_id: String,
    pub billing: Address,
    pub shipping: Address,
    #[serde(deserialize_with = "lenient_vec")]
    pub line_items: Vec<LineItem>,
    #[serde(deserialize_with = "lenient_vec")]
    pub shipping_lines: Vec<ShippingLine>,
    #[serde(deserialize_with = "lenient_vec")]
    pub refunds: Vec<Refund>,
    // The order's own `meta_data` is not read: left out, it is skipped unparsed (in a
    // webhook it is often most of the body).
}

impl Order {
    /// The modification time used to order snapshots: `date_modified_gmt`, else the local
    /// `date_modified` (legacy payloads), normalised to `YYYY-MM-DDTHH:MM:SS`.
    pub fn modified_key(&self) -> String {
        self.date_modified_gmt
            .as_deref()
            .or(self.date_modified.as_deref())
            .map(normalise_wc_time)
            .unwrap_or_default()
    }

    /// The shipping address, or the billing address when the order has none.
    pub fn delivery_address(&self) -> &Address {
        if self.shipping.is_empty() {
            &self.billing
        } else {
            &self.shipping
        }
    }

    pub fn display_number(&self) -> String {
        if self.number.is_empty() {
            self.id.to_string()
        } else {
            self.number.clone()
        }
    }
}

/// WooCommerce writes `2026-11-23T06:49:19` (naive, GMT when the key ends in `_gmt`). Keep
/// the first 19 characters so that `...Z` or fractional forms compare equal and sort as text.
pub fn normalise_wc_time(s: &str) -> String {
    let s = s.trim();
    let head: String = s.chars().take(19).collect();
    head.replace(' ', "T")
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(default)]
pub struct Address {
    #[serde(deserialize_with = "lenient_string")]
    pub first_name: String,
    #[serde(deserialize_with = "lenient_string")]
    pub last_name: String,
    #[serde(deserialize_with = "lenient_string")]
    pub company: String,
    #[serde(deserialize_with = "lenient_string")]
    pub address_1: String,
    #[serde(deserialize_with = "lenient_string")]
    pub address_2: String,
    #[serde(deserialize_with = "lenient_string")]
    pub city: String,
    #[serde(deserialize_with = "lenient_string")]
    pub state: String,
    #[serde(deserialize_with = "lenient_string")]
    pub postcode: String,
    #[serde(deserialize_with = "lenient_string")]
    pub country: String,
    #[serde(deserialize_with = "lenient_string")]
    pub email: String,
    #[serde(deserialize_with = "lenient_string")]
    pub phone: String,
}

impl Address {
    /// No street and no city: WooCommerce sends empty strings for an address never entered.
    pub fn is_empty(&self) -> bool {
        self.address_1.trim().is_empty() && self.city.trim().is_empty()
    }
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct LineItem {
    #[serde(deserialize_with = "lenient_i64")]
    pub id: i64,
    #[serde(deserialize_with = "lenient_string")]
    pub name: String,
    #[serde(deserialize_with = "lenient_i64")]
    pub product_id: i64,
    #[serde(deserialize_with = "lenient_i64")]
    pub variation_id: i64,
    /// A whole number; anything else (a fraction, beyond i64) reads as 0, which no provider
    /// is sent (see `intake::classify`).
    #[serde(deserialize_with = "quantity")]
    pub quantity: i64,
    #[serde(deserialize_with = "lenient_string")]
    pub sku: String,
    /// Unit price after discounts; a JSON number in WooCommerce, kept as text.
    #[serde(deserialize_with = "lenient_string")]
    pub price: String,
    #[serde(deserialize_with = "lenient_string")]
    pub subtotal: String,
    #[serde(deserialize_with = "lenient_string")]
    pub total: String,
    #[serde(deserialize_with = "lenient_vec")]
    pub meta_data: Vec<Meta>,
    #[serde(deserialize_with = "lenient_opt_string")]
    pub parent_name: Option<String>,
}

impl LineItem {
    /// The first meta value under `key`, as text (numbers are printed, objects ignored).
    pub fn meta(&self, key: &str) -> Option<String> {
        self.meta_data
            .iter()
            .filter(|m| m.key == key)
            .find_map(|m| m.value_text())
    }
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct Meta {
    #[serde(deserialize_with = "lenient_i64")]
    pub id: i64,
    #[serde(deserialize_with = "lenient_string")]
    pub key: String,
    pub value: Value,
    #[serde(deserialize_with = "lenient_opt_string")]
    pub display_key: Option<String>,
    #[serde(deserialize_with = "lenient_opt_display")]
    pub display_value: Option<String>,
}

impl Meta {
    pub fn value_text(&self) -> Option<String> {
        match &self.value {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct ShippingLine {
    #[serde(deserialize_with = "lenient_i64")]
    pub id: i64,
    #[serde(deserialize_with = "lenient_string")]
    pub method_title: String,
    #[serde(deserialize_with = "lenient_string")]
    pub method_id: String,
    #[serde(deserialize_with = "lenient_string")]
    pub instance_id: String,
    #[serde(deserialize_with = "lenient_string")]
    pub total: String,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct Refund {
    #[serde(deserialize_with = "lenient_i64")]
    pub id: i64,
    #[serde(deserialize_with = "lenient_string")]
    pub reason: String,
    #[serde(deserialize_with = "lenient_string")]
    pub total: String,
}

fn value_to_string(v: Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s,
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        other => other.to_string(),
    }
}

fn lenient_string<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    Ok(value_to_string(Value::deserialize(d)?))
}

fn lenient_opt_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::Null => None,
        v => Some(value_to_string(v)),
    })
}

fn lenient_opt_display<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    lenient_opt_string(d)
}

/// An order id: a whole number within i64, as a JSON number or text. Anything else fails
/// the order (stored, answered, listed as unparsed), rather than being rounded or clamped
/// into another order's id.
fn order_id<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    match Value::deserialize(d)? {
        Value::Number(n) => n.as_i64().ok_or_else(|| {
            de::Error::custom(format!(
                "order id {n} is not a whole number within the range of order ids"
            ))
        }),
        Value::String(s) => Ok(s.trim().parse().unwrap_or(0)),
        _ => Ok(0),
    }
}

/// A line item's quantity: a whole number (as a JSON number or text), else 0.
fn quantity<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::Number(n) => n.as_i64().unwrap_or(0),
        Value::String(s) => s.trim().parse().unwrap_or(0),
        _ => 0,
    })
}

fn lenient_i64<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::Number(n) => n
            .as_i64()
            .or_else(|| n.as_f64().map(|f| f as i64))
            .unwrap_or(0),
        Value::String(s) => s.trim().parse().unwrap_or(0),
        Value::Bool(b) => i64::from(b),
        _ => 0,
    })
}

/// A list that WooCommerce may send as `[]`, `{}` (PHP's empty array) or `null`; entries
/// that do not parse are skipped rather than failing the whole order.
///
/// Each entry is taken as raw JSON text (checked, but no tree of values built) and parsed on
/// its own, so one that does not parse leaves the rest of the document readable. A line
/// item read through a tree first cost an allocation per key and per string twice over.
pub(crate) fn lenient_vec<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: serde::de::DeserializeOwned,
{
    d.deserialize_any(LenientEntries(PhantomData))
}

struct LenientEntries<T>(PhantomData<T>);

/// One entry of a lenient list (see [`lenient_vec`]): `None` when it does not parse as a `T`.
pub(crate) struct LenientEntry<T>(pub(crate) Option<T>);

impl<'de, T: serde::de::DeserializeOwned> Deserialize<'de> for LenientEntry<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = Box::<RawValue>::deserialize(d)?;
        Ok(LenientEntry(serde_json::from_str(raw.get()).ok()))
    }
}

impl<'de, T: serde::de::DeserializeOwned> Visitor<'de> for LenientEntries<T> {
    type Value = Vec<T>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a list")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<T>, A::Error> {
        let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(64));
        while let Some(LenientEntry(entry)) = seq.next_element()? {
            out.extend(entry);
        }
        Ok(out)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Vec<T>, A::Error> {
        let mut out = Vec::new();
        while let Some((IgnoredAny, LenientEntry(entry))) = map.next_entry()? {
            out.extend(entry);
        }
        Ok(out)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Vec<T>, E> {
        Ok(Vec::new())
    }

    fn visit_none<E: de::Error>(self) -> Result<Vec<T>, E> {
        Ok(Vec::new())
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Vec<T>, E> {
        Ok(Vec::new())
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Vec<T>, E> {
        Ok(Vec::new())
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Vec<T>, E> {
        Ok(Vec::new())
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Vec<T>, E> {
        Ok(Vec::new())
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<Vec<T>, E> {
        Ok(Vec::new())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_loose_types() {
        let o: Order = serde_json::from_str(
            r#"{"id":"21","number":21,"status":"processing","total":70,
                "line_items":[{"id":9,"quantity":"2","price":12.5,"sku":null,
                  "meta_data":[{"key":"spiff_transaction_id","value":"abc","display_value":{"x":1}}]}],
                "billing":{"first_name":"Ada","city":"London","address_1":"1 Way"},
                "shipping":{"first_name":"","city":"","address_1":""},
                "refunds":{},"date_modified_gmt":"2026-11-23T06:49:19"}"#,
        )
        .expect("parses");
        assert_eq!(o.id, 21);
        assert_eq!(o.number, "21");
        assert_eq!(o.total, "70");
        let li = &o.line_items[0];
        assert_eq!(li.quantity, 2);
        assert_eq!(li.price, "12.5");
        assert_eq!(li.sku, "");
        assert_eq!(li.meta("spiff_transaction_id").as_deref(), Some("abc"));
        assert_eq!(o.delivery_address().first_name, "Ada");
        assert_eq!(o.modified_key(), "2026-11-23T06:49:19");
        assert!(o.refunds.is_empty());
    }

    #[test]
    fn lenient_lists_skip_entries_that_do_not_parse() {
        let text = r#"{"id":7,
            "line_items":["oops",{"id":1,"sku":"A","meta_data":[3,{"key":"k","value":"v"}]},17,
                          {"id":2,"sku":"B","meta_data":{"4":{"key":"j","value":[1]}}}],
            "shipping_lines":{"0":{"method_id":"flat_rate"},"1":null},
            "refunds":null}"#;
        let from_text: Order = serde_json::from_str(text).expect("parses");
        // The same document through a tree of values, as the REST client reads list pages.
        let value: Value = serde_json::from_str(text).expect("JSON");
        let from_tree: Order = serde_json::from_value(value).expect("parses");
        for o in [from_text, from_tree] {
            let ids: Vec<i64> = o.line_items.iter().map(|li| li.id).collect();
            assert_eq!(ids, [1, 2]);
            assert_eq!(o.line_items[0].meta("k").as_deref(), Some("v"));
            assert_eq!(o.line_items[0].meta_data.len(), 1);
            assert_eq!(o.line_items[1].meta_data[0].key, "j");
            assert_eq!(o.shipping_lines.len(), 1);
            assert!(o.refunds.is_empty());
        }
        let scalar: Order = serde_json::from_str(r#"{"line_items":"none","refunds":false}"#)
            .expect("a list given as a scalar is read as empty");
        assert!(scalar.line_items.is_empty() && scalar.refunds.is_empty());
    }

    #[test]
    fn normalises_times() {
        assert_eq!(
            normalise_wc_time("2026-11-23T06:49:19Z"),
            "2026-11-23T06:49:19"
        );
        assert_eq!(
            normalise_wc_time("2026-11-23 06:49:19"),
            "2026-11-23T06:49:19"
        );
    }
}

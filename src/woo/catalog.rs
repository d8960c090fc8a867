//! The shop's catalog as WooCommerce REST v3 sends it: products, variations, global
//! attributes and their terms. The Key2print Product Gateway maps these to options and prices.
//!
//! WooCommerce's types are loose, so everything parses leniently:
//! * money is a string as entered (`"29.90"`), `""` when unset, sometimes a number;
//! * `image.id` is `""` or `0`, a variation's `image` may be `null`;
//! * `total_sales` is an integer on products and the string `"0"` on a variation found by SKU;
//! * one attribute has three spellings: a variation's `attributes[].option` is the term
//!   **name** (`"A5"`), the parent's `default_attributes[].option` and order-line meta use the
//!   term **slug** (`"a5"`), and a custom attribute's slug is `"Finish"` on the parent but
//!   `"finish"` on variations. Compare with [`same_option`] and [`Variation::option`].

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

use crate::woo::model::{Meta, lenient_vec};

/// `stock_status`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub enum StockStatus {
    /// `instock`.
    #[default]
    InStock,
    /// `outofstock`.
    OutOfStock,
    /// `onbackorder`.
    OnBackorder,
    /// Anything else a plugin may invent, kept as sent.
    Other(String),
}

impl StockStatus {
    /// Reads a `stock_status` value (case-insensitive).
    pub fn parse(s: &str) -> StockStatus {
        match s.trim().to_ascii_lowercase().as_str() {
            "instock" | "" => StockStatus::InStock,
            "outofstock" => StockStatus::OutOfStock,
            "onbackorder" => StockStatus::OnBackorder,
            _ => StockStatus::Other(s.to_owned()),
        }
    }

    /// Whether the item can be sold now (in stock or on backorder).
    pub fn can_sell(&self) -> bool {
        matches!(self, StockStatus::InStock | StockStatus::OnBackorder)
    }
}

impl<'de> Deserialize<'de> for StockStatus {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(StockStatus::parse(&value_to_string(Value::deserialize(d)?)))
    }
}

/// `dimensions`: strings as entered (`"14.8"`), in the shop's dimension unit.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(default)]
pub struct Dimensions {
    #[serde(deserialize_with = "lenient_string")]
    pub length: String,
    #[serde(deserialize_with = "lenient_string")]
    pub width: String,
    #[serde(deserialize_with = "lenient_string")]
    pub height: String,
}

/// A product or variation image. `id` is `0` when WooCommerce sends `""`.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(default)]
pub struct Image {
    #[serde(deserialize_with = "lenient_i64")]
    pub id: i64,
    #[serde(deserialize_with = "lenient_string")]
    pub src: String,
    #[serde(deserialize_with = "lenient_string")]
    pub name: String,
    #[serde(deserialize_with = "lenient_string")]
    pub alt: String,
}

/// A product category reference.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(default)]
pub struct CategoryRef {
    #[serde(deserialize_with = "lenient_i64")]
    pub id: i64,
    #[serde(deserialize_with = "lenient_string")]
    pub name: String,
    #[serde(deserialize_with = "lenient_string")]
    pub slug: String,
}

/// An attribute of a product (`attributes[]` on a parent or simple product).
///
/// Global attributes have `id > 0` and `slug` `pa_...`; `options` are term **names**.
/// Custom attributes have `id == 0` and `slug` in display case (`"Finish"`).
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(default)]
pub struct ProductAttribute {
    #[serde(deserialize_with = "lenient_i64")]
    pub id: i64,
    #[serde(deserialize_with = "lenient_string")]
    pub name: String,
    #[serde(deserialize_with = "lenient_string")]
    pub slug: String,
    #[serde(deserialize_with = "lenient_i64")]
    pub position: i64,
    #[serde(deserialize_with = "lenient_bool")]
    pub visible: bool,
    /// Used to make variations.
    #[serde(deserialize_with = "lenient_bool")]
    pub variation: bool,
    #[serde(deserialize_with = "lenient_string_vec")]
    pub options: Vec<String>,
}

impl ProductAttribute {
    /// Whether `key` names this attribute: its name, its slug, or the slug with or without
    /// `pa_` / `attribute_` prefixes, compared case-insensitively.
    pub fn is_named(&self, key: &str) -> bool {
        attribute_key_matches(self.id, &self.name, &self.slug, key)
    }
}

/// One attribute value of a variation (`attributes[]` on a variation): `option` is the term
/// **name** for global attributes.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(default)]
pub struct VariationAttribute {
    #[serde(deserialize_with = "lenient_i64")]
    pub id: i64,
    #[serde(deserialize_with = "lenient_string")]
    pub name: String,
    #[serde(deserialize_with = "lenient_string")]
    pub slug: String,
    #[serde(deserialize_with = "lenient_string")]
    pub option: String,
}

/// A parent's default choice (`default_attributes[]`): `option` is the term **slug** for
/// global attributes. It has no `slug` field.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(default)]
pub struct DefaultAttribute {
    #[serde(deserialize_with = "lenient_i64")]
    pub id: i64,
    #[serde(deserialize_with = "lenient_string")]
    pub name: String,
    #[serde(deserialize_with = "lenient_string")]
    pub option: String,
}

/// A product (`/products/{id}`; `/products?sku=` may also return a variation in this shape,
/// with `type: "variation"` and a `parent_id`).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct Product {
    #[serde(deserialize_with = "lenient_i64")]
    pub id: i64,
    #[serde(deserialize_with = "lenient_string")]
    pub name: String,
    #[serde(deserialize_with = "lenient_string")]
    pub slug: String,
    /// `simple`, `variable`, `grouped`, `external` or `variation`.
    #[serde(rename = "type", deserialize_with = "lenient_string")]
    pub kind: String,
    #[serde(deserialize_with = "lenient_string")]
    pub status: String,
    #[serde(deserialize_with = "lenient_string")]
    pub sku: String,
    #[serde(deserialize_with = "lenient_string")]
    pub permalink: String,
    /// The active price; for a variable parent, the cheapest variation's.
    #[serde(deserialize_with = "lenient_string")]
    pub price: String,
    /// `""` on a variable parent.
    #[serde(deserialize_with = "lenient_string")]
    pub regular_price: String,
    /// `""` when not on sale.
    #[serde(deserialize_with = "lenient_string")]
    pub sale_price: String,
    #[serde(deserialize_with = "lenient_bool")]
    pub on_sale: bool,
    #[serde(deserialize_with = "lenient_bool")]
    pub purchasable: bool,
    #[serde(deserialize_with = "lenient_i64")]
    pub total_sales: i64,
    #[serde(deserialize_with = "lenient_bool")]
    pub r#virtual: bool,
    #[serde(deserialize_with = "lenient_string")]
    pub tax_status: String,
    /// `""` is the standard class.
    #[serde(deserialize_with = "lenient_string")]
    pub tax_class: String,
    #[serde(deserialize_with = "lenient_bool")]
    pub manage_stock: bool,
    #[serde(deserialize_with = "lenient_opt_i64")]
    pub stock_quantity: Option<i64>,
    pub stock_status: StockStatus,
    #[serde(deserialize_with = "lenient_string")]
    pub backorders: String,
    #[serde(deserialize_with = "lenient_bool")]
    pub sold_individually: bool,
    /// In the shop's weight unit (not in the product; see the products settings).
    #[serde(deserialize_with = "lenient_string")]
    pub weight: String,
    #[serde(deserialize_with = "lenient_object")]
    pub dimensions: Dimensions,
    #[serde(deserialize_with = "lenient_string")]
    pub shipping_class: String,
    #[serde(deserialize_with = "lenient_i64")]
    pub parent_id: i64,
    #[serde(deserialize_with = "lenient_vec")]
    pub categories: Vec<CategoryRef>,
    #[serde(deserialize_with = "lenient_vec")]
    pub images: Vec<Image>,
    #[serde(deserialize_with = "lenient_vec")]
    pub attributes: Vec<ProductAttribute>,
    #[serde(deserialize_with = "lenient_vec")]
    pub default_attributes: Vec<DefaultAttribute>,
    /// Variation ids of a variable product (not necessarily every combination exists).
    #[serde(deserialize_with = "lenient_i64_vec")]
    pub variations: Vec<i64>,
    #[serde(deserialize_with = "lenient_vec")]
    pub meta_data: Vec<Meta>,
    #[serde(deserialize_with = "lenient_opt_string")]
    pub date_modified_gmt: Option<String>,
}

impl Product {
    /// Whether this is a variable product (has variations).
    pub fn is_variable(&self) -> bool {
        self.kind.eq_ignore_ascii_case("variable")
    }

    /// The attribute named `key` (name or slug, see [`ProductAttribute::is_named`]).
    pub fn attribute(&self, key: &str) -> Option<&ProductAttribute> {
        self.attributes.iter().find(|a| a.is_named(key))
    }

    /// The default option for the attribute named `key`, as the parent stores it (term slug
    /// for global attributes).
    pub fn default_option(&self, key: &str) -> Option<&str> {
        let attr = self.attribute(key);
        self.default_attributes
            .iter()
            .find(|d| match attr {
                Some(a) if a.id > 0 => d.id == a.id,
                Some(a) => d.id == 0 && d.name.eq_ignore_ascii_case(&a.name),
                None => attribute_key_matches(d.id, &d.name, "", key),
            })
            .map(|d| d.option.as_str())
    }

    /// The first meta value under `key`, as text.
    pub fn meta(&self, key: &str) -> Option<String> {
        meta_text(&self.meta_data, key)
    }

    /// `price` in minor units with `decimals` places (see [`parse_minor_units`]).
    pub fn price_minor(&self, decimals: u32) -> Option<i64> {
        parse_minor_units(&self.price, decimals)
    }
}

/// A variation of a variable product (`/products/{id}/variations[/{vid}]`).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct Variation {
    #[serde(deserialize_with = "lenient_i64")]
    pub id: i64,
    #[serde(deserialize_with = "lenient_i64")]
    pub parent_id: i64,
    #[serde(deserialize_with = "lenient_string")]
    pub name: String,
    #[serde(deserialize_with = "lenient_string")]
    pub sku: String,
    #[serde(deserialize_with = "lenient_string")]
    pub status: String,
    #[serde(deserialize_with = "lenient_string")]
    pub permalink: String,
    /// The active price (the sale price while on sale).
    #[serde(deserialize_with = "lenient_string")]
    pub price: String,
    #[serde(deserialize_with = "lenient_string")]
    pub regular_price: String,
    /// `""` when not on sale.
    #[serde(deserialize_with = "lenient_string")]
    pub sale_price: String,
    #[serde(deserialize_with = "lenient_bool")]
    pub on_sale: bool,
    #[serde(deserialize_with = "lenient_bool")]
    pub purchasable: bool,
    #[serde(deserialize_with = "lenient_string")]
    pub tax_status: String,
    /// Resolved (`""` = standard) in the view context; `"parent"` with `context=edit`.
    #[serde(deserialize_with = "lenient_string")]
    pub tax_class: String,
    #[serde(deserialize_with = "lenient_bool")]
    pub manage_stock: bool,
    #[serde(deserialize_with = "lenient_opt_i64")]
    pub stock_quantity: Option<i64>,
    pub stock_status: StockStatus,
    #[serde(deserialize_with = "lenient_string")]
    pub backorders: String,
    #[serde(deserialize_with = "lenient_string")]
    pub weight: String,
    #[serde(deserialize_with = "lenient_object")]
    pub dimensions: Dimensions,
    #[serde(deserialize_with = "lenient_string")]
    pub shipping_class: String,
    /// `None` for `null`; an image with `id == 0` when WooCommerce sends an empty one.
    #[serde(deserialize_with = "lenient_opt_object")]
    pub image: Option<Image>,
    #[serde(deserialize_with = "lenient_vec")]
    pub attributes: Vec<VariationAttribute>,
    #[serde(deserialize_with = "lenient_i64")]
    pub menu_order: i64,
    #[serde(deserialize_with = "lenient_vec")]
    pub meta_data: Vec<Meta>,
    #[serde(deserialize_with = "lenient_opt_string")]
    pub date_modified_gmt: Option<String>,
}

impl Variation {
    /// The option this variation has for the attribute named `key` (name, slug, or order-line
    /// meta key like `pa_format` / `finish`), as the variation states it (term name).
    /// `None` also when the variation accepts "any" value for it (attribute absent).
    pub fn option(&self, key: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|a| attribute_key_matches(a.id, &a.name, &a.slug, key))
            .map(|a| a.option.as_str())
    }

    /// Whether this variation matches every `(attribute key, value)` given, with values
    /// compared by [`same_option`] (term name or slug, any case). An attribute the variation
    /// does not list matches any value.
    pub fn matches<'a>(&self, choices: impl IntoIterator<Item = (&'a str, &'a str)>) -> bool {
        choices
            .into_iter()
            .all(|(key, value)| self.option(key).is_none_or(|o| same_option(o, value)))
    }

    /// The first meta value under `key`, as text.
    pub fn meta(&self, key: &str) -> Option<String> {
        meta_text(&self.meta_data, key)
    }

    /// `price` in minor units with `decimals` places (see [`parse_minor_units`]).
    pub fn price_minor(&self, decimals: u32) -> Option<i64> {
        parse_minor_units(&self.price, decimals)
    }
}

/// A global attribute (`/products/attributes[/{id}]`).
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(default)]
pub struct GlobalAttribute {
    #[serde(deserialize_with = "lenient_i64")]
    pub id: i64,
    #[serde(deserialize_with = "lenient_string")]
    pub name: String,
    /// `pa_...`.
    #[serde(deserialize_with = "lenient_string")]
    pub slug: String,
    #[serde(rename = "type", deserialize_with = "lenient_string")]
    pub kind: String,
    #[serde(deserialize_with = "lenient_string")]
    pub order_by: String,
    #[serde(deserialize_with = "lenient_bool")]
    pub has_archives: bool,
}

/// A term of a global attribute (`/products/attributes/{id}/terms`).
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(default)]
pub struct AttributeTerm {
    #[serde(deserialize_with = "lenient_i64")]
    pub id: i64,
    #[serde(deserialize_with = "lenient_string")]
    pub name: String,
    #[serde(deserialize_with = "lenient_string")]
    pub slug: String,
    #[serde(deserialize_with = "lenient_string")]
    pub description: String,
    #[serde(deserialize_with = "lenient_i64")]
    pub menu_order: i64,
    #[serde(deserialize_with = "lenient_i64")]
    pub count: i64,
}

/// WordPress-style slug of a term name: lower case, runs of whitespace as `-`.
/// (`"UV coating"` → `"uv-coating"`, `"A5"` → `"a5"`.)
pub fn slugify(s: &str) -> String {
    s.split_whitespace()
        .collect::<Vec<_>>()
        .join("-")
        .to_lowercase()
}

/// Whether two attribute values mean the same option: equal ignoring case, or equal as
/// slugs (a term name against its slug).
pub fn same_option(a: &str, b: &str) -> bool {
    let (a, b) = (a.trim(), b.trim());
    a.eq_ignore_ascii_case(b) || a.to_lowercase() == b.to_lowercase() || slugify(a) == slugify(b)
}

/// Whether `key` names an attribute with this id, name and slug: any of `name`, `slug`,
/// `pa_<key>` for global attributes, and the `attribute_` prefix of variation permalinks,
/// compared case-insensitively.
pub fn attribute_key_matches(id: i64, name: &str, slug: &str, key: &str) -> bool {
    let key = key.trim();
    let key = strip_prefix_ci(key, "attribute_").unwrap_or(key);
    let bare = strip_prefix_ci(key, "pa_").unwrap_or(key);
    let eq = |candidate: &str| {
        !candidate.is_empty()
            && (candidate.eq_ignore_ascii_case(key)
                || candidate.eq_ignore_ascii_case(bare)
                || slugify(candidate) == slugify(key)
                || slugify(candidate) == slugify(bare))
    };
    let slug_bare = strip_prefix_ci(slug, "pa_").unwrap_or(slug);
    eq(name) || eq(slug) || (id > 0 && eq(slug_bare))
}

fn strip_prefix_ci<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &s[prefix.len()..])
}

/// Parses a WooCommerce money string (`"29.90"`, `"32"`, `"29.9"`, `"-1.5"`) into minor units
/// with `decimals` places, without floating point. `""` or anything else gives `None`.
/// Extra decimals beyond `decimals` are rounded half away from zero.
pub fn parse_minor_units(s: &str, decimals: u32) -> Option<i64> {
    let s = s.trim();
    let (neg, digits) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s),
    };
    let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
    if int.is_empty() && frac.is_empty() {
        return None;
    }
    if !int.bytes().all(|b| b.is_ascii_digit()) || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let scale = 10i64.checked_pow(decimals)?;
    let int_part: i64 = if int.is_empty() { 0 } else { int.parse().ok()? };
    let mut frac_digits: Vec<u8> = frac.bytes().map(|b| b - b'0').collect();
    let round_up = frac_digits.get(decimals as usize).is_some_and(|d| *d >= 5);
    frac_digits.resize(decimals as usize, 0);
    let mut frac_part: i64 = 0;
    for d in frac_digits {
        frac_part = frac_part.checked_mul(10)?.checked_add(i64::from(d))?;
    }
    let mut v = int_part.checked_mul(scale)?.checked_add(frac_part)?;
    if round_up {
        v = v.checked_add(1)?;
    }
    Some(if neg { -v } else { v })
}

fn meta_text(meta: &[Meta], key: &str) -> Option<String> {
    meta.iter()
        .filter(|m| m.key == key)
        .find_map(|m| m.value_text())
}

// ---- lenient field parsers (shared with the REST client) ----

pub(crate) fn value_to_string(v: Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s,
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        other => other.to_string(),
    }
}

pub(crate) fn lenient_string<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    Ok(value_to_string(Value::deserialize(d)?))
}

pub(crate) fn lenient_opt_string<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<String>, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::Null => None,
        v => Some(value_to_string(v)),
    })
}

pub(crate) fn value_to_i64(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)),
        Value::String(s) => s.trim().parse().ok(),
        Value::Bool(b) => Some(i64::from(*b)),
        _ => None,
    }
}

pub(crate) fn lenient_i64<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    Ok(value_to_i64(&Value::deserialize(d)?).unwrap_or(0))
}

pub(crate) fn lenient_opt_i64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    Ok(value_to_i64(&Value::deserialize(d)?))
}

/// `true`, `"yes"`, `"true"`, `"1"`, `1` are true; anything else false.
pub(crate) fn lenient_bool<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::Bool(b) => b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => matches!(
            s.trim().to_ascii_lowercase().as_str(),
            "1" | "true" | "yes" | "on"
        ),
        _ => false,
    })
}

fn value_entries(v: Value) -> Vec<Value> {
    match v {
        Value::Array(a) => a,
        Value::Object(o) => o.into_iter().map(|(_, v)| v).collect(),
        _ => Vec::new(),
    }
}

pub(crate) fn lenient_string_vec<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    Ok(value_entries(Value::deserialize(d)?)
        .into_iter()
        .map(value_to_string)
        .collect())
}

fn lenient_i64_vec<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<i64>, D::Error> {
    Ok(value_entries(Value::deserialize(d)?)
        .iter()
        .filter_map(value_to_i64)
        .collect())
}

fn lenient_object<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: serde::de::DeserializeOwned + Default,
{
    Ok(serde_json::from_value(Value::deserialize(d)?).unwrap_or_default())
}

fn lenient_opt_object<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: serde::de::DeserializeOwned,
{
    Ok(match Value::deserialize(d)? {
        Value::Object(o) => serde_json::from_value(Value::Object(o)).ok(),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_in_minor_units() {
        assert_eq!(parse_minor_units("29.90", 2), Some(2990));
        assert_eq!(parse_minor_units("29.9", 2), Some(2990));
        assert_eq!(parse_minor_units("32", 2), Some(3200));
        assert_eq!(parse_minor_units("53.105", 2), Some(5311));
        assert_eq!(parse_minor_units("-1.5", 2), Some(-150));
        assert_eq!(parse_minor_units(".5", 2), Some(50));
        assert_eq!(parse_minor_units("", 2), None);
        assert_eq!(parse_minor_units("19,00", 2), None);
        assert_eq!(parse_minor_units("7", 0), Some(7));
    }

    #[test]
    fn attribute_spellings() {
        assert!(attribute_key_matches(2, "Format", "pa_format", "pa_format"));
        assert!(attribute_key_matches(2, "Format", "pa_format", "format"));
        assert!(attribute_key_matches(
            2,
            "Format",
            "pa_format",
            "attribute_pa_format"
        ));
        assert!(attribute_key_matches(0, "Finish", "Finish", "finish"));
        assert!(attribute_key_matches(
            0,
            "Finish",
            "finish",
            "attribute_finish"
        ));
        assert!(!attribute_key_matches(0, "Finish", "finish", "format"));
        assert!(same_option("A5", "a5"));
        assert!(same_option("UV coating", "uv-coating"));
        assert!(!same_option("A5", "A6"));
    }

    #[test]
    fn loose_fields() {
        let v: Variation = serde_json::from_str(
            r#"{"id":"33","price":29.9,"on_sale":"yes","stock_quantity":null,
                "stock_status":"onbackorder","image":{"id":"","src":""},
                "dimensions":[],"attributes":{"0":{"id":2,"name":"Format","slug":"pa_format","option":"A5"}}}"#,
        )
        .expect("parses");
        assert_eq!(v.id, 33);
        assert_eq!(v.price, "29.9");
        assert!(v.on_sale);
        assert_eq!(v.stock_quantity, None);
        assert_eq!(v.stock_status, StockStatus::OnBackorder);
        assert_eq!(v.image.as_ref().map(|i| i.id), Some(0));
        assert_eq!(v.dimensions, Dimensions::default());
        assert_eq!(v.option("pa_format"), Some("A5"));
        assert!(v.matches([("format", "a5")]));
        assert!(!v.matches([("format", "a6")]));
    }
}

//! Prices, the price option tree and setup data of the catalog entry a setup designates.
//!
//! **Prices** are the shop's active price (the sale price while on sale), as entered: with
//! or without tax, as the shop's `woocommerce_prices_include_tax` says. Tax is computed as
//! WooCommerce computes it at the shop's base address (see [`super::tax`]) from the shop's
//! own rates for the product's tax class (`standard` when empty or `parent`), unless the
//! store's configuration has `[stores.tax_rates.<class>]` for that class: that one rate
//! then applies instead of the shop's. Products whose tax status is not `taxable` carry no
//! tax. Net, tax and gross are per item in minor units; the currency and its decimals are
//! the shop's general settings. [`Price::prices_include_tax`] tells a caller which of net
//! and gross is the price as entered (the line price a cart sets).
//!
//! **Price option tree.** When the variation or product has the meta
//! `_printbridge_key2print_price_tree` (a JSON object, or its JSON text), Get Price answers
//! with a `priceOptionTree` built from it:
//!
//! ```json
//! {"id": "speed", "name": "Production time", "values": [
//!   {"id": "standard", "name": "Standard", "additionalInfo": [{"name": "Production days", "value": "5"}]},
//!   {"id": "express", "name": "Express", "surcharge": "9.50", "subOption": {"id": "delivery", ...}}
//! ]}
//! ```
//!
//! `surcharge` (decimal string or number, may be negative, default 0; with or without tax
//! like the shop's prices) adds to the variation's price along the path; a value without `subOption` is a leaf and carries the
//! full price; `"isAvailable": false` marks a leaf unavailable. At most 5 levels and 100
//! values per level.
//!
//! **Setup data** comes from the meta `_printbridge_key2print_page_count` (a positive integer,
//! default 1) and `_printbridge_key2print_template_format_id` (default null), of the
//! variation first, else of the product.

use serde::Serialize;
use serde_json::Value;

use super::GatewayError;
use super::catalog::{Item, variation_orderable};
use super::tax::{self, AppliedRate, ShopTax, TaxRule};
use crate::config::StoreConfig;
use crate::woo::catalog::{Dimensions, Product, parse_minor_units};
use crate::woo::model::Meta;

/// Product or variation meta holding the price option tree.
pub const PRICE_TREE_META: &str = "_printbridge_key2print_price_tree";
/// Product or variation meta holding the number of pages.
pub const PAGE_COUNT_META: &str = "_printbridge_key2print_page_count";
/// Product or variation meta holding the Key2print template format id.
pub const TEMPLATE_FORMAT_META: &str = "_printbridge_key2print_template_format_id";

const MAX_TREE_DEPTH: usize = 5;
const MAX_TREE_VALUES: usize = 100;

/// The shop's currency.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Money {
    /// ISO code, e.g. `EUR`.
    pub currency: String,
    /// Decimals of prices (`woocommerce_price_num_decimals`).
    pub decimals: u32,
}

/// One line of `additionalInfo`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Info {
    pub name: String,
    pub value: String,
}

/// A priced setup (the flat answer of Get Price, and a leaf of the tree).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Price {
    pub net_price: f64,
    pub gross_price: f64,
    pub tax: f64,
    pub tax_rate: String,
    pub currency: String,
    pub is_available: bool,
    pub additional_info: Vec<Info>,
    /// Whether the shop's prices are entered with tax: the price as entered (what a cart
    /// line is priced at) is `gross_price` then, else `net_price`. Not part of the answer.
    #[serde(skip)]
    pub prices_include_tax: bool,
}

/// A level of the price option tree.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TreeOption {
    pub id: Value,
    pub name: String,
    pub values: Vec<TreeValue>,
}

/// A value of a price option: either a further option or a price.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TreeValue {
    pub id: Value,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sub_option: Option<Box<TreeOption>>,
    #[serde(flatten)]
    pub price: Option<Price>,
}

/// `data` of Get Price.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum PriceAnswer {
    Flat(Price),
    Tree {
        #[serde(rename = "priceOptionTree")]
        price_option_tree: TreeOption,
    },
}

/// `data` of Get Setup Data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SetupData {
    pub page_count: u32,
    pub template_format_id: Option<String>,
}

/// The tax rule of an item with this tax status and tax class: the configured rate of the
/// class when `[stores.tax_rates.<class>]` has one, else the shop's matching rates.
pub fn tax_rule(
    store: &StoreConfig,
    shop: &ShopTax,
    tax_status: &str,
    tax_class: &str,
) -> Result<TaxRule, GatewayError> {
    let status = tax_status.trim();
    let rule = |rates| TaxRule {
        rates,
        prices_include_tax: shop.prices_include_tax,
        round_at_subtotal: shop.round_at_subtotal,
    };
    if !(status.is_empty() || status.eq_ignore_ascii_case("taxable")) {
        return Ok(rule(Vec::new()));
    }
    let class = match tax_class.trim() {
        "" | "parent" => "standard",
        c => c,
    };
    let Some((_, cfg)) = store
        .tax_rates
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(class))
    else {
        return Ok(rule(tax::matched_rates(shop, class)));
    };
    let rate_e4 = parse_minor_units(&cfg.rate, 4)
        .filter(|r| *r >= 0)
        .ok_or_else(|| {
            GatewayError::Tax(format!(
                "tax_rates.{class}.rate {:?} is not a percentage like \"20\"",
                cfg.rate
            ))
        })?;
    let name = cfg
        .name
        .clone()
        .filter(|n| !n.trim().is_empty())
        .unwrap_or_else(|| format!("Tax {}%", cfg.rate.trim()));
    Ok(rule(vec![AppliedRate {
        id: 0,
        rate_e4,
        name,
        compound: false,
    }]))
}

fn amount(minor: i64, decimals: u32) -> f64 {
    minor as f64 / 10f64.powi(decimals as i32)
}

/// The price of one item entered at `price_minor` (with or without tax, as `rule` says).
pub fn price(
    price_minor: i64,
    rule: &TaxRule,
    money: &Money,
    is_available: bool,
    additional_info: Vec<Info>,
) -> Result<Price, GatewayError> {
    let a = tax::amounts(price_minor, rule, money.decimals)
        .ok_or_else(|| GatewayError::Tax(format!("the price {price_minor} is out of range")))?;
    Ok(Price {
        net_price: amount(a.net, money.decimals),
        gross_price: amount(a.gross, money.decimals),
        tax: amount(a.tax, money.decimals),
        tax_rate: rule.name(),
        currency: money.currency.clone(),
        is_available,
        additional_info,
        prices_include_tax: rule.prices_include_tax,
    })
}

fn dimensions_text(d: &Dimensions) -> Option<String> {
    let parts: Vec<&str> = [&d.length, &d.width, &d.height]
        .into_iter()
        .map(|s| s.trim())
        .filter(|s| !s.is_empty())
        .collect();
    (!parts.is_empty()).then(|| parts.join(" × "))
}

/// What the editor shows beside the price: SKU, weight, dimensions (in the shop's units) and
/// the regular price while on sale.
fn info(sku: &str, weight: &str, dims: &Dimensions, on_sale: bool, regular: &str) -> Vec<Info> {
    let mut out = Vec::new();
    let mut push = |name: &str, value: &str| {
        if !value.trim().is_empty() {
            out.push(Info {
                name: name.to_owned(),
                value: value.trim().to_owned(),
            });
        }
    };
    push("SKU", sku);
    push("Weight", weight);
    push("Dimensions", &dimensions_text(dims).unwrap_or_default());
    if on_sale {
        push("Regular price", regular);
    }
    out
}

/// The facts Get Price needs about an item.
pub struct Priced<'a> {
    /// The shop's price in minor units, as entered (with tax when
    /// [`Priced::prices_include_tax`]).
    pub price_minor: i64,
    pub rule: TaxRule,
    pub available: bool,
    pub info: Vec<Info>,
    pub meta: &'a [Meta],
    pub parent_meta: &'a [Meta],
}

impl Priced<'_> {
    /// Whether the shop's prices are entered with tax: a cart line is then priced at the
    /// gross price, else at the net price.
    pub fn prices_include_tax(&self) -> bool {
        self.rule.prices_include_tax
    }
}

/// Collects price, tax and availability of the item a setup designates; `shop` holds the
/// shop's tax settings and rates.
pub fn priced<'a>(
    store: &StoreConfig,
    product: &'a Product,
    item: &Item<'a>,
    money: &Money,
    shop: &ShopTax,
) -> Result<Priced<'a>, GatewayError> {
    let no_price = |what: String| GatewayError::NoPrice(what);
    match item {
        Item::Variation(v) => {
            let price_minor = v
                .price_minor(money.decimals)
                .ok_or_else(|| no_price(format!("variation {}", v.id)))?;
            let class = if v.tax_class.trim() == "parent" {
                product.tax_class.as_str()
            } else {
                v.tax_class.as_str()
            };
            let status = if v.tax_status.trim().is_empty() {
                product.tax_status.as_str()
            } else {
                v.tax_status.as_str()
            };
            Ok(Priced {
                price_minor,
                rule: tax_rule(store, shop, status, class)?,
                available: variation_orderable(v),
                info: info(
                    &v.sku,
                    &v.weight,
                    &v.dimensions,
                    v.on_sale,
                    &v.regular_price,
                ),
                meta: &v.meta_data,
                parent_meta: &product.meta_data,
            })
        }
        Item::Simple(p) => {
            let price_minor = p
                .price_minor(money.decimals)
                .ok_or_else(|| no_price(format!("product {}", p.id)))?;
            let published = p.status.is_empty() || p.status.eq_ignore_ascii_case("publish");
            Ok(Priced {
                price_minor,
                rule: tax_rule(store, shop, &p.tax_status, &p.tax_class)?,
                available: published && p.purchasable && p.stock_status.can_sell(),
                info: info(
                    &p.sku,
                    &p.weight,
                    &p.dimensions,
                    p.on_sale,
                    &p.regular_price,
                ),
                meta: &p.meta_data,
                parent_meta: &[],
            })
        }
    }
}

fn meta_value<'m>(metas: &[&'m [Meta]], key: &str) -> Option<&'m Value> {
    metas.iter().find_map(|m| {
        m.iter()
            .find(|e| e.key == key)
            .map(|e| &e.value)
            .filter(|v| !v.is_null() && v.as_str().is_none_or(|s| !s.trim().is_empty()))
    })
}

/// Get Price: the flat price, or the price option tree when the item defines one.
pub fn price_answer(p: &Priced<'_>, money: &Money) -> Result<PriceAnswer, GatewayError> {
    let Some(raw) = meta_value(&[p.meta, p.parent_meta], PRICE_TREE_META) else {
        return Ok(PriceAnswer::Flat(price(
            p.price_minor,
            &p.rule,
            money,
            p.available,
            p.info.clone(),
        )?));
    };
    let parsed;
    let tree = match raw {
        Value::String(s) => {
            parsed = serde_json::from_str::<Value>(s)
                .map_err(|e| GatewayError::PriceTree(format!("not JSON: {e}")))?;
            &parsed
        }
        other => other,
    };
    Ok(PriceAnswer::Tree {
        price_option_tree: tree_option(tree, 1, p.price_minor, p, money, &p.info)?,
    })
}

fn tree_id(v: Option<&Value>, at: &str) -> Result<Value, GatewayError> {
    match v {
        Some(Value::String(s)) if !s.is_empty() => Ok(Value::String(s.clone())),
        Some(Value::Number(n)) => Ok(Value::Number(n.clone())),
        _ => Err(GatewayError::PriceTree(format!(
            "{at}: id must be a non-empty string or a number"
        ))),
    }
}

fn tree_name(v: Option<&Value>, at: &str) -> Result<String, GatewayError> {
    v.and_then(Value::as_str)
        .filter(|s| !s.trim().is_empty())
        .map(str::to_owned)
        .ok_or_else(|| GatewayError::PriceTree(format!("{at}: name must be a non-empty string")))
}

fn tree_option(
    node: &Value,
    depth: usize,
    base_price: i64,
    p: &Priced<'_>,
    money: &Money,
    base_info: &[Info],
) -> Result<TreeOption, GatewayError> {
    let at = format!("level {depth}");
    if depth > MAX_TREE_DEPTH {
        return Err(GatewayError::PriceTree(format!(
            "more than {MAX_TREE_DEPTH} levels"
        )));
    }
    let obj = node
        .as_object()
        .ok_or_else(|| GatewayError::PriceTree(format!("{at}: not an object")))?;
    let id = tree_id(obj.get("id"), &at)?;
    let name = tree_name(obj.get("name"), &at)?;
    let values = obj
        .get("values")
        .and_then(Value::as_array)
        .filter(|v| !v.is_empty() && v.len() <= MAX_TREE_VALUES)
        .ok_or_else(|| {
            GatewayError::PriceTree(format!(
                "{at} ({name}): values must be a list of 1 to {MAX_TREE_VALUES} values"
            ))
        })?;
    let mut out = Vec::with_capacity(values.len());
    for (i, v) in values.iter().enumerate() {
        let at = format!("{at} ({name}) value {}", i + 1);
        out.push(tree_value(v, &at, depth, base_price, p, money, base_info)?);
    }
    Ok(TreeOption {
        id,
        name,
        values: out,
    })
}

/// One value of a tree option (`at` names it in errors): priced when it is a leaf, with its
/// own sub-option otherwise.
fn tree_value(
    v: &Value,
    at: &str,
    depth: usize,
    base_price: i64,
    p: &Priced<'_>,
    money: &Money,
    base_info: &[Info],
) -> Result<TreeValue, GatewayError> {
    let vo = v
        .as_object()
        .ok_or_else(|| GatewayError::PriceTree(format!("{at}: not an object")))?;
    let id = tree_id(vo.get("id"), at)?;
    let vname = tree_name(vo.get("name"), at)?;
    let surcharge = tree_surcharge(vo.get("surcharge"), at, money)?;
    let price_minor = base_price
        .checked_add(surcharge)
        .ok_or_else(|| GatewayError::PriceTree(format!("{at}: surcharge out of range")))?;
    let info = tree_info(vo.get("additionalInfo"), at, base_info)?;
    match vo.get("subOption") {
        Some(sub) if !sub.is_null() => Ok(TreeValue {
            id,
            name: vname,
            sub_option: Some(Box::new(tree_option(
                sub,
                depth + 1,
                price_minor,
                p,
                money,
                &info,
            )?)),
            price: None,
        }),
        _ => {
            if price_minor < 0 {
                return Err(GatewayError::PriceTree(format!(
                    "{at}: the price would be negative"
                )));
            }
            let available =
                p.available && vo.get("isAvailable").and_then(Value::as_bool) != Some(false);
            Ok(TreeValue {
                id,
                name: vname,
                sub_option: None,
                price: Some(price(price_minor, &p.rule, money, available, info)?),
            })
        }
    }
}

/// A tree value's surcharge in minor units; none is 0.
fn tree_surcharge(v: Option<&Value>, at: &str, money: &Money) -> Result<i64, GatewayError> {
    match v {
        None | Some(Value::Null) => Ok(0),
        Some(s) => {
            let text = match s {
                Value::String(t) => t.clone(),
                Value::Number(n) => n.to_string(),
                _ => String::new(),
            };
            parse_minor_units(&text, money.decimals).ok_or_else(|| {
                GatewayError::PriceTree(format!("{at}: surcharge {s} is not an amount"))
            })
        }
    }
}

/// The inherited info lines followed by a tree value's own `additionalInfo` entries.
fn tree_info(
    extra: Option<&Value>,
    at: &str,
    base_info: &[Info],
) -> Result<Vec<Info>, GatewayError> {
    let mut info = base_info.to_vec();
    let Some(extra) = extra else {
        return Ok(info);
    };
    let list = extra
        .as_array()
        .ok_or_else(|| GatewayError::PriceTree(format!("{at}: additionalInfo must be a list")))?;
    let text = |x: &Value| match x {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    for e in list {
        let (Some(n), Some(val)) = (e.get("name"), e.get("value")) else {
            return Err(GatewayError::PriceTree(format!(
                "{at}: additionalInfo entries need name and value"
            )));
        };
        info.push(Info {
            name: text(n),
            value: text(val),
        });
    }
    Ok(info)
}

/// Get Setup Data of an item.
pub fn setup_data(product: &Product, item: &Item<'_>) -> Result<SetupData, GatewayError> {
    let own: &[Meta] = match item {
        Item::Variation(v) => &v.meta_data,
        Item::Simple(_) => &[],
    };
    let text = |key: &str| {
        meta_value(&[own, &product.meta_data], key).map(|v| match v {
            Value::String(s) => s.trim().to_owned(),
            other => other.to_string(),
        })
    };
    let page_count = match text(PAGE_COUNT_META) {
        None => 1,
        Some(t) => t.parse::<u32>().ok().filter(|n| *n > 0).ok_or_else(|| {
            GatewayError::SetupData(format!(
                "{PAGE_COUNT_META} is {t:?}, not a positive whole number"
            ))
        })?,
    };
    Ok(SetupData {
        page_count,
        template_format_id: text(TEMPLATE_FORMAT_META),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eur() -> Money {
        Money {
            currency: "EUR".to_owned(),
            decimals: 2,
        }
    }

    fn rule(rate_e4: i64, name: &str, prices_include_tax: bool) -> TaxRule {
        TaxRule {
            rates: vec![AppliedRate {
                id: 1,
                rate_e4,
                name: name.to_owned(),
                compound: false,
            }],
            prices_include_tax,
            round_at_subtotal: false,
        }
    }

    #[test]
    fn prices_without_tax_round_tax_half_up() {
        let p = price(2990, &rule(200_000, "VAT", false), &eur(), true, Vec::new()).expect("p");
        assert_eq!((p.net_price, p.tax, p.gross_price), (29.9, 5.98, 35.88));
        assert!(!p.prices_include_tax);
        // 0.65 × 7.7% = 0.05005 → 0.05
        let p = price(65, &rule(77_000, "MWST", false), &eur(), true, Vec::new()).expect("p");
        assert_eq!(p.tax, 0.05);
        assert_eq!(p.tax_rate, "MWST");
    }

    #[test]
    fn prices_with_tax_carry_the_flag() {
        let p = price(1200, &rule(200_000, "VAT", true), &eur(), true, Vec::new()).expect("p");
        assert_eq!((p.net_price, p.tax, p.gross_price), (10.0, 2.0, 12.0));
        assert!(p.prices_include_tax);
        // The flag is not part of the editor's answer.
        let json = serde_json::to_value(&p).expect("json");
        assert!(json.get("pricesIncludeTax").is_none(), "{json}");
    }

    fn store_with_rate(class: &str, rate: &str) -> StoreConfig {
        let text = format!(
            "id = \"shop\"\nwebhook_secret = \"s\"\n[tax_rates.{class}]\nrate = {rate:?}\n"
        );
        toml::from_str(&text).expect("store")
    }

    #[test]
    fn configured_rates_override_the_shop_per_class() {
        let shop = ShopTax {
            enabled: true,
            prices_include_tax: true,
            round_at_subtotal: false,
            base: tax::Location {
                country: "AT".to_owned(),
                ..tax::Location::default()
            },
            rates: vec![crate::woo::rest::TaxRate {
                id: 1,
                rate: "20.0000".to_owned(),
                name: "VAT".to_owned(),
                priority: 1,
                class: "standard".to_owned(),
                ..Default::default()
            }],
        };
        let store = store_with_rate("reduced-rate", "10");
        let standard = tax_rule(&store, &shop, "taxable", "").expect("rule");
        assert_eq!(standard.name(), "VAT");
        assert!(standard.prices_include_tax);
        let reduced = tax_rule(&store, &shop, "taxable", "reduced-rate").expect("rule");
        assert_eq!(reduced.rates.len(), 1);
        assert_eq!(reduced.rates[0].rate_e4, 100_000);
        assert_eq!(reduced.name(), "Tax 10%");
        // Not taxable: no tax, whatever is configured.
        let none = tax_rule(&store, &shop, "none", "reduced-rate").expect("rule");
        assert_eq!(none.name(), "No tax");
        // A class with neither a shop rate nor a configured one: no tax, as WooCommerce.
        assert!(
            tax_rule(&store, &shop, "taxable", "zero-rate")
                .expect("rule")
                .rates
                .is_empty()
        );
        let bad = store_with_rate("standard", "twenty");
        assert!(matches!(
            tax_rule(&bad, &shop, "taxable", ""),
            Err(GatewayError::Tax(m)) if m.contains("tax_rates.standard.rate")
        ));
    }
}

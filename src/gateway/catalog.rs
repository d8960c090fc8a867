//! The shop's product as the gateway shows it: options, values, variations and setups.
//!
//! **Ids.** An option is a variation attribute of the product: its id is what WooCommerce's
//! variation form names the attribute (`attribute_<id>`, which the plugin syncs back from the
//! editor): the taxonomy slug of a global attribute (`pa_format`) or the sanitised name of a
//! custom one (`Finish` → `finish`). A value id is what that form's `<select>` carries: the
//! term slug of a global attribute (`a5`, read from the attribute's terms, else derived from
//! the name) or the custom attribute's value as entered (`UV coating`). Ids do not change
//! between calls. Incoming setups are matched exactly first, then leniently (any case,
//! names for slugs).
//!
//! **Availability.** A variation can be ordered when it is published, purchasable and in
//! stock (or on backorder). A value of an option is available when some orderable variation
//! has it together with the current values of every other option ("any" on a variation
//! matches every value). Only existing variations count, not the Cartesian product.
//!
//! **Correcting a setup.** An impossible or partial setup is replaced by the orderable
//! combination that keeps most of the chosen values; among equals, the one that keeps the
//! earlier options (in the product's attribute order), then the one with most default
//! values, then the first in value order.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;
use serde_json::Value;

use super::GatewayError;
use crate::woo::catalog::{
    AttributeTerm, Product, ProductAttribute, Variation, attribute_key_matches, same_option,
    slugify,
};

/// One value of an option.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ValueDef {
    pub id: String,
    pub name: String,
}

/// One option (a variation attribute of the product).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OptionDef {
    pub id: String,
    pub name: String,
    pub values: Vec<ValueDef>,
    #[serde(skip)]
    attr_id: i64,
    #[serde(skip)]
    attr_name: String,
    #[serde(skip)]
    attr_slug: String,
}

impl OptionDef {
    fn is_named(&self, key: &str) -> bool {
        key == self.id || attribute_key_matches(self.attr_id, &self.attr_name, &self.attr_slug, key)
    }

    fn value_index(&self, value: &str) -> Option<usize> {
        self.values.iter().position(|v| v.id == value).or_else(|| {
            self.values
                .iter()
                .position(|v| same_option(&v.id, value) || same_option(&v.name, value))
        })
    }
}

/// How well a combination keeps a selection: kept values, which options kept (earlier
/// first), default values.
type Score = (usize, Vec<bool>, usize);

/// A chosen value index per option (`None`: nothing, or nothing valid, chosen).
pub type Selection = Vec<Option<usize>>;

struct Variant<'a> {
    /// Value index per option; `None` = "any".
    values: Vec<Option<usize>>,
    variation: &'a Variation,
    orderable: bool,
}

impl Variant<'_> {
    fn fits(&self, option: usize, value: usize) -> bool {
        self.values[option].is_none_or(|v| v == value)
    }
}

/// Whether a variation can be ordered now.
pub fn variation_orderable(v: &Variation) -> bool {
    let published = v.status.is_empty() || v.status.eq_ignore_ascii_case("publish");
    published && v.purchasable && v.stock_status.can_sell()
}

/// A product with its options and variations, ready to answer the callbacks.
pub struct ProductModel<'a> {
    pub product: &'a Product,
    pub options: Vec<OptionDef>,
    variants: Vec<Variant<'a>>,
}

/// `data` of Get Product Details.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProductDetails {
    pub name: String,
    pub default_setup: BTreeMap<String, String>,
    pub options: Vec<OptionDef>,
}

/// `data` of Get Available Options.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AvailableOptions {
    pub valid_setup: BTreeMap<String, String>,
    pub available_options: BTreeMap<String, Vec<String>>,
}

/// The catalog entry a setup designates: a variation, or the product itself when simple.
pub enum Item<'a> {
    Variation(&'a Variation),
    Simple(&'a Product),
}

fn option_of(attr: &ProductAttribute, terms: Option<&Vec<AttributeTerm>>) -> OptionDef {
    let global = attr.id > 0;
    let id = if global {
        if attr.slug.is_empty() {
            format!("pa_{}", slugify(&attr.name))
        } else {
            attr.slug.to_lowercase()
        }
    } else {
        slugify(&attr.name)
    };
    let values = attr
        .options
        .iter()
        .map(|name| {
            let id = if global {
                terms
                    .and_then(|ts| {
                        ts.iter()
                            .find(|t| t.name == *name)
                            .or_else(|| ts.iter().find(|t| same_option(&t.name, name)))
                    })
                    .map(|t| t.slug.clone())
                    .unwrap_or_else(|| slugify(name))
            } else {
                name.clone()
            };
            ValueDef {
                id,
                name: name.clone(),
            }
        })
        .collect();
    OptionDef {
        id,
        name: attr.name.clone(),
        values,
        attr_id: attr.id,
        attr_name: attr.name.clone(),
        attr_slug: attr.slug.clone(),
    }
}

impl<'a> ProductModel<'a> {
    /// Builds the model; `terms` are the terms of the product's global attributes by
    /// attribute id (for their slugs).
    pub fn new(
        product: &'a Product,
        variations: &'a [Variation],
        terms: &HashMap<i64, Vec<AttributeTerm>>,
    ) -> ProductModel<'a> {
        if !product.is_variable() {
            return ProductModel {
                product,
                options: Vec::new(),
                variants: Vec::new(),
            };
        }
        let mut attrs: Vec<&ProductAttribute> =
            product.attributes.iter().filter(|a| a.variation).collect();
        attrs.sort_by_key(|a| a.position);
        let options: Vec<OptionDef> = attrs
            .iter()
            .map(|a| option_of(a, terms.get(&a.id)))
            .filter(|o| !o.values.is_empty())
            .collect();
        let variants = variations
            .iter()
            .filter_map(|v| {
                let mut values = Vec::with_capacity(options.len());
                for o in &options {
                    let chosen = v
                        .attributes
                        .iter()
                        .find(|a| attribute_key_matches(a.id, &a.name, &a.slug, &o.id))
                        .map(|a| a.option.trim())
                        .filter(|s| !s.is_empty());
                    match chosen {
                        None => values.push(None),
                        // A value the parent no longer offers: the variation is stale.
                        Some(s) => values.push(Some(o.value_index(s)?)),
                    }
                }
                Some(Variant {
                    values,
                    variation: v,
                    orderable: variation_orderable(v),
                })
            })
            .collect();
        ProductModel {
            product,
            options,
            variants,
        }
    }

    /// Reads a setup (a JSON object of option id → value id). Unknown options are ignored
    /// (the editor also sends the price tree's options); unknown values count as not chosen.
    pub fn resolve(&self, setup: &BTreeMap<String, String>) -> Selection {
        self.options
            .iter()
            .map(|o| {
                setup
                    .iter()
                    .find(|(k, _)| *k == &o.id)
                    .or_else(|| setup.iter().find(|(k, _)| o.is_named(k)))
                    .and_then(|(_, v)| o.value_index(v))
            })
            .collect()
    }

    /// The setup as option id → value id (options without a value are left out).
    pub fn setup_of(&self, sel: &Selection) -> BTreeMap<String, String> {
        self.options
            .iter()
            .zip(sel)
            .filter_map(|(o, v)| v.map(|v| (o.id.clone(), o.values[v].id.clone())))
            .collect()
    }

    fn defaults(&self) -> Selection {
        self.options
            .iter()
            .map(|o| {
                self.product
                    .default_attributes
                    .iter()
                    .find(|d| {
                        if o.attr_id > 0 {
                            d.id == o.attr_id
                        } else {
                            d.id == 0 && d.name.eq_ignore_ascii_case(&o.attr_name)
                        }
                    })
                    .and_then(|d| o.value_index(&d.option))
            })
            .collect()
    }

    /// The orderable setup closest to `sel` (see the module doc), or `None` when nothing
    /// can be ordered.
    pub fn correct(&self, sel: &Selection) -> Option<Vec<usize>> {
        let defaults = self.defaults();
        let mut best: Option<(Vec<usize>, Score)> = None;
        for variant in self.variants.iter().filter(|v| v.orderable) {
            let combo: Vec<usize> = variant
                .values
                .iter()
                .enumerate()
                .map(|(i, fixed)| fixed.or(sel[i]).or(defaults[i]).unwrap_or(0))
                .collect();
            let kept: Vec<bool> = combo.iter().zip(sel).map(|(c, s)| *s == Some(*c)).collect();
            let score = (
                kept.iter().filter(|k| **k).count(),
                kept,
                combo
                    .iter()
                    .zip(&defaults)
                    .filter(|(c, d)| **d == Some(**c))
                    .count(),
            );
            let better = match &best {
                None => true,
                Some((b_combo, b_score)) => {
                    score > *b_score || (score == *b_score && combo < *b_combo)
                }
            };
            if better {
                best = Some((combo, score));
            }
        }
        best.map(|(c, _)| c)
    }

    /// Get Product Details.
    pub fn details(&self) -> ProductDetails {
        let defaults = self.defaults();
        let default_sel: Selection = match self.correct(&defaults) {
            Some(c) => c.into_iter().map(Some).collect(),
            None => defaults,
        };
        ProductDetails {
            name: self.product.name.clone(),
            default_setup: self.setup_of(&default_sel),
            options: self.options.clone(),
        }
    }

    /// Get Available Options for a selection.
    pub fn available(&self, sel: &Selection) -> Result<AvailableOptions, GatewayError> {
        if self.options.is_empty() {
            return Ok(AvailableOptions {
                valid_setup: BTreeMap::new(),
                available_options: BTreeMap::new(),
            });
        }
        let valid = self.correct(sel).ok_or(GatewayError::NothingOrderable)?;
        let available_options = self
            .options
            .iter()
            .enumerate()
            .map(|(i, o)| {
                let values = (0..o.values.len())
                    .filter(|x| {
                        self.variants.iter().any(|v| {
                            v.orderable
                                && v.fits(i, *x)
                                && valid
                                    .iter()
                                    .enumerate()
                                    .all(|(j, vj)| j == i || v.fits(j, *vj))
                        })
                    })
                    .map(|x| o.values[x].id.clone())
                    .collect();
                (o.id.clone(), values)
            })
            .collect();
        let valid_sel: Selection = valid.into_iter().map(Some).collect();
        Ok(AvailableOptions {
            valid_setup: self.setup_of(&valid_sel),
            available_options,
        })
    }

    /// The variation (or simple product) a complete setup designates; an orderable
    /// variation is preferred when several match.
    pub fn item(&self, sel: &Selection) -> Result<Item<'a>, GatewayError> {
        if !self.product.is_variable() {
            return Ok(Item::Simple(self.product));
        }
        let missing: Vec<&str> = self
            .options
            .iter()
            .zip(sel)
            .filter(|(_, v)| v.is_none())
            .map(|(o, _)| o.id.as_str())
            .collect();
        if !missing.is_empty() {
            return Err(GatewayError::BadSetup(format!(
                "no valid value for option(s) {}",
                missing.join(", ")
            )));
        }
        let matching = |v: &&Variant<'a>| {
            sel.iter()
                .enumerate()
                .all(|(i, s)| s.is_some_and(|x| v.fits(i, x)))
        };
        self.variants
            .iter()
            .filter(matching)
            .find(|v| v.orderable)
            .or_else(|| self.variants.iter().find(matching))
            .map(|v| Item::Variation(v.variation))
            .ok_or_else(|| {
                GatewayError::NoVariation(
                    self.options
                        .iter()
                        .zip(sel)
                        .filter_map(|(o, v)| v.map(|v| format!("{}={}", o.id, o.values[v].id)))
                        .collect::<Vec<_>>()
                        .join(", "),
                )
            })
    }
}

/// Parses the `setup` parameter: a JSON object of option id → value id (numbers are taken
/// as their text).
pub fn parse_setup(setup: &str) -> Result<BTreeMap<String, String>, GatewayError> {
    let value: Value = serde_json::from_str(setup).map_err(|_| bad_setup("not JSON"))?;
    setup_of_value(value)
}

fn bad_setup(why: &str) -> GatewayError {
    GatewayError::BadSetup(format!(
        "setup must be a JSON object of option id to value id ({why})"
    ))
}

/// Reads a setup given as JSON: an object of option id → value id (numbers are taken as
/// their text).
pub fn setup_of_value(value: Value) -> Result<BTreeMap<String, String>, GatewayError> {
    let bad = bad_setup;
    let obj = match value {
        Value::Object(o) => o,
        // PHP encodes an empty array for an empty setup.
        Value::Array(a) if a.is_empty() => return Ok(BTreeMap::new()),
        _ => return Err(bad("not an object")),
    };
    obj.into_iter()
        .map(|(k, v)| match v {
            Value::String(s) => Ok((k, s)),
            Value::Number(n) => Ok((k, n.to_string())),
            _ => Err(bad(&format!("the value of {k:?} is not a string"))),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn product() -> Product {
        serde_json::from_value(json!({
            "id": 7, "name": "Flyer", "type": "variable",
            "attributes": [
                {"id": 0, "name": "Paper", "slug": "Paper", "position": 1, "variation": true,
                 "options": ["Matt", "Silk"]},
                {"id": 3, "name": "Size", "slug": "pa_size", "position": 0, "variation": true,
                 "options": ["Small", "Large"]},
                {"id": 0, "name": "Brand", "slug": "Brand", "position": 2, "variation": false,
                 "options": ["X"]}
            ],
            "default_attributes": [{"id": 3, "name": "Size", "option": "large"}]
        }))
        .expect("product")
    }

    fn variations() -> Vec<Variation> {
        serde_json::from_value(json!([
            // Small in any paper.
            {"id": 1, "purchasable": true, "stock_status": "instock", "status": "publish",
             "attributes": [{"id": 3, "name": "Size", "slug": "pa_size", "option": "Small"}]},
            {"id": 2, "purchasable": true, "stock_status": "instock",
             "attributes": [{"id": 3, "name": "Size", "slug": "pa_size", "option": "Large"},
                            {"id": 0, "name": "Paper", "slug": "paper", "option": "Silk"}]},
            {"id": 3, "purchasable": true, "stock_status": "outofstock",
             "attributes": [{"id": 3, "name": "Size", "slug": "pa_size", "option": "Large"},
                            {"id": 0, "name": "Paper", "slug": "paper", "option": "Matt"}]},
            // A value the product no longer offers: ignored.
            {"id": 4, "purchasable": true, "stock_status": "instock",
             "attributes": [{"id": 3, "name": "Size", "slug": "pa_size", "option": "Huge"}]}
        ]))
        .expect("variations")
    }

    fn sel(m: &ProductModel<'_>, pairs: &[(&str, &str)]) -> Selection {
        m.resolve(
            &pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        )
    }

    #[test]
    fn options_in_attribute_order_with_any_values() {
        let (p, v) = (product(), variations());
        let terms = HashMap::from([(
            3,
            vec![AttributeTerm {
                id: 9,
                name: "Large".to_owned(),
                slug: "l".to_owned(),
                ..AttributeTerm::default()
            }],
        )]);
        let m = ProductModel::new(&p, &v, &terms);
        let ids: Vec<&str> = m.options.iter().map(|o| o.id.as_str()).collect();
        assert_eq!(ids, ["pa_size", "paper"]);
        // The term's real slug wins over a derived one.
        assert_eq!(m.options[0].values[1].id, "l");
        assert_eq!(m.options[0].values[0].id, "small");
        // Large + Matt is out of stock, so the default Large setup takes Silk.
        let d = m.details();
        assert_eq!(
            d.default_setup,
            BTreeMap::from([
                ("pa_size".to_owned(), "l".to_owned()),
                ("paper".to_owned(), "Silk".to_owned())
            ])
        );
        // "Any" paper for Small: both papers available; Large allows Silk only.
        let a = m
            .available(&sel(&m, &[("pa_size", "small"), ("paper", "Matt")]))
            .expect("available");
        assert_eq!(a.available_options["paper"], ["Matt", "Silk"]);
        assert_eq!(a.available_options["pa_size"], ["small"]);
        let a = m
            .available(&sel(&m, &[("pa_size", "l"), ("paper", "Matt")]))
            .expect("available");
        assert_eq!(a.valid_setup["paper"], "Silk");
        assert_eq!(a.available_options["paper"], ["Silk"]);
        // The out-of-stock variation still has a price (not available).
        match m.item(&sel(&m, &[("pa_size", "Large"), ("paper", "matt")])) {
            Ok(Item::Variation(v)) => assert_eq!(v.id, 3),
            _ => panic!("variation 3 expected"),
        }
        assert!(matches!(
            m.item(&sel(&m, &[("pa_size", "l")])),
            Err(GatewayError::BadSetup(_))
        ));
    }

    #[test]
    fn setups_parse_strictly() {
        assert_eq!(
            parse_setup(r#"{"1": 2, "a": "b"}"#).expect("ok"),
            BTreeMap::from([
                ("1".to_owned(), "2".to_owned()),
                ("a".to_owned(), "b".to_owned())
            ])
        );
        assert!(parse_setup("[]").expect("empty").is_empty());
        assert!(parse_setup("nope").is_err());
        assert!(parse_setup(r#"{"a": ["b"]}"#).is_err());
    }
}

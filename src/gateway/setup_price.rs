//! The price of a saved editor setup, for the shop's cart: the same catalog read, variation
//! resolution and price (or price option tree) as Get Price, followed along the setup's
//! price-tree choices to one leaf.
//!
//! A setup that names no value (or an unknown one) for a level of the tree does not reach a
//! leaf and has no price; neither has an unavailable variation or leaf. The cart's unit price
//! is [`SetupPrice::line_price`].

use std::collections::BTreeMap;

use serde_json::Value;

use super::price::{Price, PriceAnswer, TreeOption};
use super::{Gateway, GatewayError, catalog, price};

/// One choice along the price option tree, in words for the cart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathStep {
    pub option_id: String,
    pub option_name: String,
    pub value_id: String,
    pub value_name: String,
}

/// The price of a setup: the leaf's price and the choices that lead to it.
#[derive(Debug, Clone, PartialEq)]
pub struct SetupPrice {
    pub price: Price,
    /// The unit price the cart line is set to: the leaf's price as the shop enters prices.
    pub line_price: f64,
    pub path: Vec<PathStep>,
    /// The variation the setup designates (none for a simple product).
    pub variation_id: Option<i64>,
}

/// Why a setup has no price.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SetupPriceError {
    #[error("{0}")]
    Gateway(#[from] GatewayError),
    #[error("the setup chooses no value of the price option {option_id:?} ({option_name})")]
    NoChoice {
        option_id: String,
        option_name: String,
    },
    #[error(
        "{value_id:?} is not a value of the price option {option_id:?} ({option_name}); \
         values: {values}"
    )]
    UnknownValue {
        option_id: String,
        option_name: String,
        value_id: String,
        values: String,
    },
    #[error("{what} cannot be ordered now")]
    ItemUnavailable { what: String },
    #[error("{value_name} ({option_name}) cannot be ordered now")]
    LeafUnavailable {
        option_id: String,
        option_name: String,
        value_name: String,
    },
    #[error("variation_id {given} does not match the setup, which designates {designated}")]
    VariationMismatch { given: i64, designated: String },
}

/// A tree or setup id as text (numbers as their decimal text).
fn id_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Follows `setup` from the tree's root to a leaf.
pub fn walk(
    tree: &TreeOption,
    setup: &BTreeMap<String, String>,
) -> Result<(Price, Vec<PathStep>), SetupPriceError> {
    let mut option = tree;
    let mut path = Vec::new();
    loop {
        let option_id = id_text(&option.id);
        let Some(chosen) = setup.get(&option_id) else {
            return Err(SetupPriceError::NoChoice {
                option_id,
                option_name: option.name.clone(),
            });
        };
        let Some(value) = option.values.iter().find(|v| id_text(&v.id) == *chosen) else {
            return Err(SetupPriceError::UnknownValue {
                values: option
                    .values
                    .iter()
                    .map(|v| id_text(&v.id))
                    .collect::<Vec<_>>()
                    .join(", "),
                option_id,
                option_name: option.name.clone(),
                value_id: chosen.clone(),
            });
        };
        path.push(PathStep {
            option_id: option_id.clone(),
            option_name: option.name.clone(),
            value_id: chosen.clone(),
            value_name: value.name.clone(),
        });
        match (&value.sub_option, &value.price) {
            (Some(sub), _) => option = sub,
            (None, Some(p)) if p.is_available => return Ok((p.clone(), path)),
            (None, Some(_)) => {
                return Err(SetupPriceError::LeafUnavailable {
                    option_id,
                    option_name: option.name.clone(),
                    value_name: value.name.clone(),
                });
            }
            // The tree builder prices every value without a sub-option.
            (None, None) => {
                return Err(GatewayError::PriceTree(format!(
                    "value {chosen:?} of {option_id:?} has neither a sub-option nor a price"
                ))
                .into());
            }
        }
    }
}

impl Gateway<'_> {
    /// The price of `setup` for `product_id`; `variation_id`, when given, must be the
    /// variation the setup designates.
    pub async fn setup_price(
        &self,
        product_id: i64,
        variation_id: Option<i64>,
        setup: &BTreeMap<String, String>,
    ) -> Result<SetupPrice, SetupPriceError> {
        let cached = self.load(product_id).await?;
        let model = catalog::ProductModel::new(&cached.product, &cached.variations, &cached.terms);
        let item = model.item(&model.resolve(setup))?;
        let (designated, what) = match &item {
            catalog::Item::Variation(v) => (Some(v.id), format!("variation {}", v.id)),
            catalog::Item::Simple(p) => (None, format!("product {}", p.id)),
        };
        if let Some(given) = variation_id
            && designated != Some(given)
        {
            return Err(SetupPriceError::VariationMismatch {
                given,
                designated: what,
            });
        }
        let priced = cached.priced(self.store, &item)?;
        if !priced.available {
            return Err(SetupPriceError::ItemUnavailable { what });
        }
        let (price, path) = match price::price_answer(&priced, &cached.money)? {
            PriceAnswer::Flat(p) => (p, Vec::new()),
            PriceAnswer::Tree { price_option_tree } => walk(&price_option_tree, setup)?,
        };
        // WooCommerce reads a line's price as the shop enters prices: with tax or without.
        let line_price = if priced.prices_include_tax() {
            price.gross_price
        } else {
            price.net_price
        };
        Ok(SetupPrice {
            line_price,
            price,
            path,
            variation_id: designated,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gateway::price::TreeValue;
    use serde_json::json;

    fn leaf(id: Value, name: &str, net: f64, available: bool) -> TreeValue {
        TreeValue {
            id,
            name: name.to_owned(),
            sub_option: None,
            price: Some(Price {
                net_price: net,
                gross_price: net,
                tax: 0.0,
                tax_rate: "No tax".to_owned(),
                currency: "EUR".to_owned(),
                is_available: available,
                additional_info: Vec::new(),
                prices_include_tax: false,
            }),
        }
    }

    fn tree() -> TreeOption {
        TreeOption {
            id: json!("speed"),
            name: "Production time".to_owned(),
            values: vec![
                leaf(json!("standard"), "Standard", 10.0, true),
                TreeValue {
                    id: json!("express"),
                    name: "Express".to_owned(),
                    sub_option: Some(Box::new(TreeOption {
                        id: json!(2),
                        name: "Delivery".to_owned(),
                        values: vec![
                            leaf(json!(3), "Self collection", 12.0, true),
                            leaf(json!(4), "Courier", 15.0, false),
                        ],
                    })),
                    price: None,
                },
            ],
        }
    }

    fn setup(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn walks_to_the_chosen_leaf() {
        let (p, path) = walk(&tree(), &setup(&[("speed", "express"), ("2", "3")])).expect("leaf");
        assert_eq!(p.net_price, 12.0);
        let words: Vec<(&str, &str)> = path
            .iter()
            .map(|s| (s.option_name.as_str(), s.value_name.as_str()))
            .collect();
        assert_eq!(
            words,
            [
                ("Production time", "Express"),
                ("Delivery", "Self collection")
            ]
        );
        assert_eq!(path[1].option_id, "2");
        assert_eq!(path[1].value_id, "3");
    }

    #[test]
    fn stops_short_of_a_leaf_or_at_an_unavailable_one() {
        assert!(matches!(
            walk(&tree(), &setup(&[("speed", "express")])),
            Err(SetupPriceError::NoChoice { option_id, .. }) if option_id == "2"
        ));
        assert!(matches!(
            walk(&tree(), &setup(&[("speed", "slow")])),
            Err(SetupPriceError::UnknownValue { option_id, .. }) if option_id == "speed"
        ));
        assert!(matches!(
            walk(&tree(), &setup(&[("speed", "express"), ("2", "4")])),
            Err(SetupPriceError::LeafUnavailable { option_id, .. }) if option_id == "2"
        ));
    }
}

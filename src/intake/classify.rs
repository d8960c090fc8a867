//! Which provider makes a line item, by the meta-key contract (docs/ARCHITECTURE.md, "The
//! line-item meta-key contract"):
//! Spiff by `_printbridge_spiff_transaction_id` (or Spiff's own `spiff_transaction_id`),
//! Key2print by `_printbridge_key2print_project_id`, Apliiq by an `APQ-<design>S<size>A<n>` SKU.
//! An item claimed by two providers is a conflict: it is never sent, the order is flagged.

use serde::Serialize;

use crate::woo::model::LineItem;

pub const SPIFF_META: &str = "_printbridge_spiff_transaction_id";
pub const SPIFF_META_LEGACY: &str = "spiff_transaction_id";
pub const KEY2PRINT_META: &str = "_printbridge_key2print_project_id";

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "classification", rename_all = "lowercase")]
pub enum Classification {
    Spiff {
        transaction_id: String,
    },
    Key2print {
        project_id: String,
    },
    Apliiq {
        sku: String,
    },
    /// Not a personalised print product: nothing to send.
    None,
    /// Claimed by more than one provider; an operator must decide.
    Conflict {
        detail: String,
    },
    /// A design id that cannot be sent as it is.
    Invalid {
        detail: String,
    },
}

impl Classification {
    pub fn name(&self) -> &'static str {
        match self {
            Classification::Spiff { .. } => "spiff",
            Classification::Key2print { .. } => "key2print",
            Classification::Apliiq { .. } => "apliiq",
            Classification::None => "none",
            Classification::Conflict { .. } => "conflict",
            Classification::Invalid { .. } => "invalid",
        }
    }

    /// The design id or SKU the provider is called with.
    pub fn design_id(&self) -> Option<&str> {
        match self {
            Classification::Spiff { transaction_id } => Some(transaction_id),
            Classification::Key2print { project_id } => Some(project_id),
            Classification::Apliiq { sku } => Some(sku),
            _ => None,
        }
    }

    pub fn detail(&self) -> Option<&str> {
        match self {
            Classification::Conflict { detail } | Classification::Invalid { detail } => {
                Some(detail)
            }
            _ => None,
        }
    }

    /// Whether the order needs an operator because of this item.
    pub fn needs_attention(&self) -> bool {
        matches!(
            self,
            Classification::Conflict { .. } | Classification::Invalid { .. }
        )
    }
}

/// `APQ-<design>S<size>A<n>` with digits in each part and n ≥ 1 (case-insensitive).
pub fn is_apliiq_sku(sku: &str) -> bool {
    let s = sku.trim().to_ascii_uppercase();
    let Some(rest) = s.strip_prefix("APQ-") else {
        return false;
    };
    let Some((design, rest)) = rest.split_once('S') else {
        return false;
    };
    let Some((size, n)) = rest.split_once('A') else {
        return false;
    };
    let digits = |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit());
    digits(design) && digits(size) && digits(n) && !n.trim_start_matches('0').is_empty()
}

/// A design id is sent in URL paths and JSON bodies: allow only a conservative alphabet.
fn check_design_id(key: &str, value: &str) -> Result<String, String> {
    let v = value.trim();
    if v.is_empty() {
        return Err(format!("{key} is empty"));
    }
    if v.len() > 128 {
        return Err(format!("{key} is longer than 128 characters"));
    }
    if !v
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
    {
        return Err(format!(
            "{key} {v:?} has characters other than letters, digits and - _ . :"
        ));
    }
    Ok(v.to_owned())
}

pub fn classify(item: &LineItem) -> Classification {
    let mut claims: Vec<Result<Classification, String>> = Vec::new();

    let spiff = item
        .meta(SPIFF_META)
        .map(|v| (SPIFF_META, v))
        .or_else(|| item.meta(SPIFF_META_LEGACY).map(|v| (SPIFF_META_LEGACY, v)));
    if let Some((key, v)) = spiff {
        claims.push(
            check_design_id(key, &v).map(|transaction_id| Classification::Spiff { transaction_id }),
        );
    }
    if let Some(v) = item.meta(KEY2PRINT_META) {
        claims.push(
            check_design_id(KEY2PRINT_META, &v)
                .map(|project_id| Classification::Key2print { project_id }),
        );
    }
    if is_apliiq_sku(&item.sku) {
        claims.push(Ok(Classification::Apliiq {
            sku: item.sku.trim().to_owned(),
        }));
    }

    match claims.len() {
        0 => Classification::None,
        1 => match claims.remove(0) {
            Ok(_) if item.quantity < 1 => Classification::Invalid {
                detail: format!(
                    "line item {} ({}) has a quantity that is not a whole number of at least 1; \
                     it is not sent",
                    item.id, item.name
                ),
            },
            Ok(c) => c,
            Err(detail) => Classification::Invalid { detail },
        },
        _ => {
            let names: Vec<&str> = claims
                .iter()
                .map(|c| match c {
                    Ok(c) => c.name(),
                    Err(_) => "an invalid design id",
                })
                .collect();
            Classification::Conflict {
                detail: format!(
                    "line item {} ({}) is claimed by {}; personalise it with one provider only",
                    item.id,
                    item.name,
                    names.join(" and ")
                ),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::woo::model::Meta;

    fn item(sku: &str, meta: &[(&str, &str)]) -> LineItem {
        LineItem {
            id: 7,
            name: "Thing".into(),
            sku: sku.into(),
            quantity: 1,
            meta_data: meta
                .iter()
                .map(|(k, v)| Meta {
                    key: (*k).into(),
                    value: serde_json::Value::String((*v).into()),
                    ..Meta::default()
                })
                .collect(),
            ..LineItem::default()
        }
    }

    #[test]
    fn apliiq_skus() {
        assert!(is_apliiq_sku("APQ-1998244S7A1"));
        assert!(is_apliiq_sku("apq-1998244s7a12"));
        assert!(!is_apliiq_sku("APQ-1998244"));
        assert!(!is_apliiq_sku("APQ-1998244S7A0"));
        assert!(!is_apliiq_sku("APQ-1998244S7A"));
        assert!(!is_apliiq_sku("APQ-X998244S7A1"));
        assert!(!is_apliiq_sku("BC-A5-GLOSS"));
    }

    #[test]
    fn meta_contract() {
        assert_eq!(
            classify(&item("", &[(SPIFF_META, "abc-1")])),
            Classification::Spiff {
                transaction_id: "abc-1".into()
            }
        );
        assert_eq!(
            classify(&item("", &[(SPIFF_META_LEGACY, " abc-2 ")])),
            Classification::Spiff {
                transaction_id: "abc-2".into()
            }
        );
        assert_eq!(
            classify(&item(
                "",
                &[(SPIFF_META, "ours"), (SPIFF_META_LEGACY, "theirs")]
            )),
            Classification::Spiff {
                transaction_id: "ours".into()
            }
        );
        assert_eq!(
            classify(&item("", &[(KEY2PRINT_META, "K2P-7642EEED77")])),
            Classification::Key2print {
                project_id: "K2P-7642EEED77".into()
            }
        );
        // Only the contract's key counts for Key2print.
        assert_eq!(
            classify(&item("CAP-MUG", &[("key2print_project_id", "x")])),
            Classification::None
        );
        assert_eq!(
            classify(&item("APQ-1998244S7A1", &[])),
            Classification::Apliiq {
                sku: "APQ-1998244S7A1".into()
            }
        );
    }

    #[test]
    fn two_providers_conflict() {
        let c = classify(&item("APQ-1998244S7A1", &[(SPIFF_META, "abc")]));
        assert_eq!(c.name(), "conflict");
        assert!(c.detail().unwrap_or_default().contains("spiff and apliiq"));
        assert!(c.needs_attention());
    }

    #[test]
    fn unsafe_design_id_is_invalid() {
        let c = classify(&item("", &[(KEY2PRINT_META, "../../etc/passwd")]));
        assert_eq!(c.name(), "invalid");
        let c = classify(&item("", &[(SPIFF_META, "  ")]));
        assert_eq!(c.name(), "invalid");
    }
}

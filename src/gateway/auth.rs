//! Authentication of a product gateway callback (the spec's "Authentication" section).
//!
//! Key2print adds `productIdentifier`, `key`, `tstamp` and `sign` (and `setup` on three of the
//! four methods) to the query string of the callback URL given at session start, which may
//! carry custom parameters of its own. The rules the bridge applies, in this order:
//!
//! 1. **Parameter names.** Every name may appear once: a repeated name (reserved or custom)
//!    is refused, because Key2print's signer and the bridge could pick different values. A
//!    custom name that equals a reserved name ignoring ASCII case (`Sign`, `SETUP`, ...) is
//!    refused, and so are empty names and PHP array names (containing `[` or `]`), which
//!    cannot be signed unambiguously.
//! 2. **Required parameters.** `productIdentifier`, `key`, `tstamp` and `sign` must be present
//!    and non-empty; `setup` is required by the methods that take a setup (checked there).
//! 3. **Key.** `key` must be the store's Key2print `api_key`.
//! 4. **Sign.** `sign` must be the HMAC of every other parameter, custom ones included
//!    ([`gateway_verify`], constant time). The answer never tells the expected value.
//! 5. **Time.** `tstamp` (Unix seconds) must lie within `gateway_tstamp_window_secs` of the
//!    bridge's clock, either way. Within the window a signed URL can be replayed; the
//!    callbacks only read the catalog, so that gains an attacker nothing the editor would
//!    not show.
//! 6. **Product.** `productIdentifier` must be a WooCommerce product id (a positive integer).

use subtle::ConstantTimeEq;

use crate::config::Key2printConfig;
use crate::providers::key2print::{GatewayVerifyError, gateway_verify};

/// Names Key2print uses itself; custom parameters may not use them.
pub const RESERVED: [&str; 5] = ["productIdentifier", "key", "tstamp", "sign", "setup"];

/// Why a callback was refused. Holds no secret and never the expected sign.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("parameter {name:?} appears {count} times; every parameter may appear only once")]
    Repeated { name: String, count: usize },
    #[error(
        "custom parameter {name:?} clashes with the reserved parameter {reserved:?} \
         (reserved: productIdentifier, key, tstamp, sign, setup)"
    )]
    ReservedName {
        name: String,
        reserved: &'static str,
    },
    #[error("parameter name {0:?} is not accepted (empty, or a PHP array name with [ ])")]
    BadName(String),
    #[error("the query has no {0} parameter")]
    Missing(&'static str),
    #[error("key is not this store's Key2print api key")]
    ForeignKey,
    #[error("sign does not match the query parameters")]
    BadSign,
    #[error("tstamp {0:?} is not a Unix timestamp in seconds")]
    BadTstamp(String),
    #[error(
        "tstamp {tstamp} is {off_secs} s away from the bridge's clock; at most {window_secs} s \
         are accepted"
    )]
    Stale {
        tstamp: i64,
        off_secs: i64,
        window_secs: u64,
    },
    #[error("productIdentifier {0:?} is not a WooCommerce product id")]
    BadProductIdentifier(String),
}

/// An authenticated callback.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatewayCall {
    /// `productIdentifier` as sent.
    pub product_identifier: String,
    /// The WooCommerce product id it names.
    pub product_id: i64,
    /// `tstamp`, Unix seconds.
    pub tstamp: i64,
    /// `setup` as sent (JSON text), if present.
    pub setup: Option<String>,
    /// Custom parameters from the session URLs, in the order sent (signed like the rest).
    pub custom: Vec<(String, String)>,
}

fn the<'a>(params: &'a [(String, String)], name: &'static str) -> Result<&'a str, AuthError> {
    params
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .filter(|v| !v.trim().is_empty())
        .ok_or(AuthError::Missing(name))
}

/// Checks the parameter names alone (rule 1).
pub fn check_names(params: &[(String, String)]) -> Result<(), AuthError> {
    for (name, _) in params {
        if name.is_empty() || name.contains(['[', ']']) {
            return Err(AuthError::BadName(name.clone()));
        }
        let count = params.iter().filter(|(k, _)| k == name).count();
        if count > 1 {
            return Err(AuthError::Repeated {
                name: name.clone(),
                count,
            });
        }
        if let Some(reserved) = RESERVED
            .iter()
            .find(|r| r.eq_ignore_ascii_case(name) && **r != name.as_str())
        {
            return Err(AuthError::ReservedName {
                name: name.clone(),
                reserved,
            });
        }
    }
    Ok(())
}

/// Verifies a callback's query parameters (all of them, as decoded from the query string)
/// for a store's Key2print account at `now_ms`.
pub fn verify(
    params: &[(String, String)],
    cfg: &Key2printConfig,
    now_ms: i64,
) -> Result<GatewayCall, AuthError> {
    check_names(params)?;
    let product_identifier = the(params, "productIdentifier")?;
    let key = the(params, "key")?;
    let tstamp_text = the(params, "tstamp")?;
    the(params, "sign")?;
    let key_ok: bool = key.trim().as_bytes().ct_eq(cfg.api_key.as_bytes()).into();
    if !key_ok {
        return Err(AuthError::ForeignKey);
    }
    gateway_verify(&cfg.api_secret, params.iter().map(|(k, v)| (k, v))).map_err(|e| match e {
        GatewayVerifyError::MissingSign => AuthError::Missing("sign"),
        GatewayVerifyError::Mismatch { .. } => AuthError::BadSign,
    })?;
    let tstamp: i64 = tstamp_text
        .trim()
        .parse()
        .map_err(|_| AuthError::BadTstamp(tstamp_text.to_owned()))?;
    let off_secs = now_ms.div_euclid(1000).saturating_sub(tstamp);
    let window = i64::try_from(cfg.gateway_tstamp_window_secs).unwrap_or(i64::MAX);
    if off_secs.saturating_abs() > window {
        return Err(AuthError::Stale {
            tstamp,
            off_secs,
            window_secs: cfg.gateway_tstamp_window_secs,
        });
    }
    let product_id = product_identifier
        .trim()
        .parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or_else(|| AuthError::BadProductIdentifier(product_identifier.to_owned()))?;
    Ok(GatewayCall {
        product_identifier: product_identifier.to_owned(),
        product_id,
        tstamp,
        setup: params
            .iter()
            .find(|(k, _)| k == "setup")
            .map(|(_, v)| v.clone()),
        custom: params
            .iter()
            .filter(|(k, _)| !RESERVED.contains(&k.as_str()))
            .cloned()
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::key2print::gateway_sign;
    use crate::secret::Secret;

    fn cfg() -> Key2printConfig {
        toml::from_str(
            "base_url = \"http://k2p\"\napi_key = \"merchant-key\"\napi_secret = \"s3cret\"\n",
        )
        .expect("config")
    }

    fn signed(extra: &[(&str, &str)]) -> Vec<(String, String)> {
        let mut p: Vec<(String, String)> = [
            ("productIdentifier", "29"),
            ("key", "merchant-key"),
            ("tstamp", "1764000000"),
        ]
        .iter()
        .chain(extra)
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
        let sign = gateway_sign("s3cret", p.clone());
        p.push(("sign".to_owned(), sign));
        p
    }

    const NOW: i64 = 1_764_000_000_000;

    #[test]
    fn accepts_a_signed_call_with_custom_parameters() {
        let call = verify(&signed(&[("lang", "pl"), ("setup", "{}")]), &cfg(), NOW).expect("ok");
        assert_eq!(call.product_id, 29);
        assert_eq!(call.setup.as_deref(), Some("{}"));
        assert_eq!(call.custom, vec![("lang".to_owned(), "pl".to_owned())]);
    }

    #[test]
    fn refuses_what_the_rules_refuse() {
        let mut tampered = signed(&[("lang", "pl")]);
        tampered[3].1 = "en".to_owned();
        assert_eq!(verify(&tampered, &cfg(), NOW), Err(AuthError::BadSign));
        assert!(matches!(
            verify(&signed(&[]), &cfg(), NOW + 301_000),
            Err(AuthError::Stale { off_secs: 301, .. })
        ));
        assert!(verify(&signed(&[]), &cfg(), NOW - 300_000).is_ok());
        assert!(matches!(
            verify(&signed(&[("Sign", "x")]), &cfg(), NOW),
            Err(AuthError::ReservedName {
                reserved: "sign",
                ..
            })
        ));
        assert!(matches!(
            verify(&signed(&[("key", "merchant-key")]), &cfg(), NOW),
            Err(AuthError::Repeated { count: 2, .. })
        ));
        assert!(matches!(
            verify(&signed(&[("a[]", "1")]), &cfg(), NOW),
            Err(AuthError::BadName(_))
        ));
        let mut other = cfg();
        other.api_key = "another".to_owned();
        assert_eq!(
            verify(&signed(&[]), &other, NOW),
            Err(AuthError::ForeignKey)
        );
        other = cfg();
        other.api_secret = Secret::new("other");
        assert_eq!(verify(&signed(&[]), &other, NOW), Err(AuthError::BadSign));
        let no_sign: Vec<_> = signed(&[]).into_iter().take(3).collect();
        assert_eq!(
            verify(&no_sign, &cfg(), NOW),
            Err(AuthError::Missing("sign"))
        );
    }
}

//! `X-WC-Webhook-Signature`: base64 of HMAC-SHA256 over the raw body, keyed with the secret.
//!
//! WooCommerce runs WordPress's `wp_specialchars_decode($secret, ENT_QUOTES)` on the secret
//! before signing, so a secret typed as `a&amp;b` is used as `a&b`. We accept both forms: the
//! shop owner may paste either the value they typed or the value WooCommerce shows.

use base64::Engine as _;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use crate::secret::Secret;

type HmacSha256 = Hmac<Sha256>;

/// The signature WooCommerce sends for `body` under `secret` (the HMAC key as used).
pub fn sign(secret: &str, body: &[u8]) -> String {
    let mut mac = HmacSha256::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(body);
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// The signature WooCommerce computes for a secret as stored in its database.
pub fn sign_as_woocommerce(stored_secret: &str, body: &[u8]) -> String {
    sign(&wp_specialchars_decode(stored_secret), body)
}

/// Whether `header` is a valid signature of `body` under any of `secrets` (each tried as
/// given and entity-decoded). Comparison is constant time.
pub fn verify<'a>(
    secrets: impl IntoIterator<Item = &'a Secret>,
    body: &[u8],
    header: &str,
) -> bool {
    let Ok(presented) = base64::engine::general_purpose::STANDARD.decode(header.trim()) else {
        return false;
    };
    let mut ok = false;
    for secret in secrets {
        let raw = secret.expose();
        let decoded = wp_specialchars_decode(raw);
        ok |= verify_one(raw, body, &presented);
        if decoded != raw {
            ok |= verify_one(&decoded, body, &presented);
        }
    }
    ok
}

fn verify_one(key: &str, body: &[u8], presented: &[u8]) -> bool {
    let mut mac = HmacSha256::new_from_slice(key.as_bytes()).expect("HMAC takes any key length");
    mac.update(body);
    mac.verify_slice(presented).is_ok()
}

/// WordPress `wp_specialchars_decode($s, ENT_QUOTES)`: one pass over `&amp; &lt; &gt;
/// &quot; &#039;` and their numeric forms; anything else is left as it is.
pub fn wp_specialchars_decode(s: &str) -> String {
    const TABLE: &[(&str, char)] = &[
        ("&amp;", '&'),
        ("&#038;", '&'),
        ("&#38;", '&'),
        ("&#x26;", '&'),
        ("&lt;", '<'),
        ("&#060;", '<'),
        ("&#60;", '<'),
        ("&#x3c;", '<'),
        ("&gt;", '>'),
        ("&#062;", '>'),
        ("&#62;", '>'),
        ("&#x3e;", '>'),
        ("&quot;", '"'),
        ("&#034;", '"'),
        ("&#34;", '"'),
        ("&#x22;", '"'),
        ("&#039;", '\''),
        ("&#39;", '\''),
        ("&#x27;", '\''),
    ];
    if !s.contains('&') {
        return s.to_owned();
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(pos) = rest.find('&') {
        out.push_str(&rest[..pos]);
        rest = &rest[pos..];
        let lower = rest
            .get(..rest.len().min(7))
            .unwrap_or(rest)
            .to_ascii_lowercase();
        match TABLE.iter().find(|(ent, _)| lower.starts_with(ent)) {
            Some((ent, ch)) => {
                out.push(*ch);
                rest = &rest[ent.len()..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_entities_once() {
        assert_eq!(
            wp_specialchars_decode("pc-Secret-with-&amp;-entity-and-&quot;quotes&quot;"),
            "pc-Secret-with-&-entity-and-\"quotes\""
        );
        assert_eq!(wp_specialchars_decode("&amp;quot;"), "&quot;");
        assert_eq!(wp_specialchars_decode("a & b &nbsp;"), "a & b &nbsp;");
        assert_eq!(wp_specialchars_decode("&#039;x&#39;"), "'x'");
    }

    #[test]
    fn verifies_with_stored_or_decoded_secret() {
        let body = br#"{"id":1}"#;
        let stored = "k&amp;v";
        let sig = sign_as_woocommerce(stored, body);
        assert!(verify([&Secret::new(stored)], body, &sig));
        assert!(verify([&Secret::new("k&v")], body, &sig));
        assert!(!verify([&Secret::new("k&amp;v2")], body, &sig));
        assert!(!verify([&Secret::new(stored)], b"{}", &sig));
        assert!(!verify([&Secret::new(stored)], body, "not base64!"));
    }
}

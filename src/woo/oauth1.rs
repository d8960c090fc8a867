//! OAuth 1.0a one-legged request signing, as WooCommerce checks it on plain-http shops.
//!
//! Over http WooCommerce ignores consumer key/secret sent as Basic auth or query parameters;
//! only a signed request is accepted. The rules (RFC 5849, verified against WooCommerce 11):
//!
//! * parameters: `oauth_consumer_key`, `oauth_nonce`, `oauth_signature_method`
//!   (`HMAC-SHA1` or `HMAC-SHA256`), `oauth_timestamp`, `oauth_signature`; no token, no version;
//! * base string = `METHOD&pct(base URL)&pct(params)`, where `params` is every query parameter
//!   (decoded, then percent-encoded per RFC 3986) plus the `oauth_*` ones except the signature,
//!   sorted, written `k=v` and joined with `&`; a JSON body is not signed;
//! * the base URL is the shop's **home URL** plus the request path, not the host connected to;
//! * signing key = `pct(consumer_secret) + "&"`; the signature is base64.
//!
//! Everything here is a pure function of its inputs; nonce and timestamp are passed in.

use base64::Engine as _;
use hmac::{Hmac, KeyInit, Mac};
use sha1::Sha1;
use sha2::Sha256;

use crate::secret::Secret;

/// The HMAC variant named in `oauth_signature_method`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SignatureMethod {
    /// `HMAC-SHA1`, the OAuth 1.0a default.
    HmacSha1,
    /// `HMAC-SHA256`, which WooCommerce also accepts.
    #[default]
    HmacSha256,
}

impl SignatureMethod {
    /// The value of `oauth_signature_method`.
    pub fn as_str(self) -> &'static str {
        match self {
            SignatureMethod::HmacSha1 => "HMAC-SHA1",
            SignatureMethod::HmacSha256 => "HMAC-SHA256",
        }
    }

    /// Reads an `oauth_signature_method` value (case-insensitive, as WooCommerce does).
    pub fn parse(s: &str) -> Option<SignatureMethod> {
        match s.to_ascii_uppercase().as_str() {
            "HMAC-SHA1" => Some(SignatureMethod::HmacSha1),
            "HMAC-SHA256" => Some(SignatureMethod::HmacSha256),
            _ => None,
        }
    }
}

/// Where the `oauth_*` parameters travel. WooCommerce reads both; the query string also
/// survives servers that strip the `Authorization` header (some CGI set-ups do).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Placement {
    /// Appended to the query string.
    #[default]
    Query,
    /// In an `Authorization: OAuth ...` header.
    Header,
}

/// Percent-encodes per RFC 3986 / RFC 5849 §3.6: everything except `A-Z a-z 0-9 - . _ ~`.
/// (PHP's `rawurlencode`, which WooCommerce uses.)
pub fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                out.push(b as char)
            }
            _ => {
                out.push('%');
                out.push(char::from(HEX[usize::from(b >> 4)]));
                out.push(char::from(HEX[usize::from(b & 0x0f)]));
            }
        }
    }
    out
}

const HEX: &[u8; 16] = b"0123456789ABCDEF";

/// Decodes `%XX` escapes (and, when `plus_as_space`, `+` as a space, as PHP does for query
/// strings). Invalid escapes are kept as they are; invalid UTF-8 is replaced.
pub fn percent_decode(s: &str, plus_as_space: bool) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => match (hex_val(bytes[i + 1]), hex_val(bytes[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(h << 4 | l);
                    i += 3;
                }
                _ => {
                    out.push(b'%');
                    i += 1;
                }
            },
            b'+' if plus_as_space => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// The OAuth protocol parameters of one request, before signing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthParams {
    /// `oauth_consumer_key` (`ck_...`; not a secret, it is sent in clear).
    pub consumer_key: String,
    /// `oauth_nonce`: unique per key within WooCommerce's 15-minute window.
    pub nonce: String,
    /// `oauth_timestamp`: seconds since the Unix epoch.
    pub timestamp: i64,
    /// `oauth_signature_method`.
    pub method: SignatureMethod,
}

impl OAuthParams {
    /// The four unsigned `oauth_*` pairs, in the order they are sent.
    pub fn pairs(&self) -> Vec<(String, String)> {
        vec![
            ("oauth_consumer_key".to_owned(), self.consumer_key.clone()),
            ("oauth_nonce".to_owned(), self.nonce.clone()),
            (
                "oauth_signature_method".to_owned(),
                self.method.as_str().to_owned(),
            ),
            ("oauth_timestamp".to_owned(), self.timestamp.to_string()),
        ]
    }
}

/// The signature base string (RFC 5849 §3.4.1): `METHOD&pct(base_url)&pct(normalised)`.
///
/// `base_url` is scheme, host, port and path without query (the shop's home URL plus the
/// request path); `params` are decoded name/value pairs: the query parameters and the
/// `oauth_*` parameters, without `oauth_signature` (it is skipped if present).
pub fn signature_base_string(
    http_method: &str,
    base_url: &str,
    params: &[(String, String)],
) -> String {
    let mut encoded: Vec<(String, String)> = params
        .iter()
        .filter(|(k, _)| k != "oauth_signature")
        .map(|(k, v)| (percent_encode(k), percent_encode(v)))
        .collect();
    encoded.sort();
    let normalised = encoded
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&");
    format!(
        "{}&{}&{}",
        http_method.to_ascii_uppercase(),
        percent_encode(base_url),
        percent_encode(&normalised)
    )
}

fn signing_key(consumer_secret: &Secret) -> String {
    format!("{}&", percent_encode(consumer_secret.expose()))
}

/// The base64 signature of `base_string` under `consumer_secret` (one-legged: no token secret).
pub fn sign(consumer_secret: &Secret, method: SignatureMethod, base_string: &str) -> String {
    let key = signing_key(consumer_secret);
    let digest = match method {
        SignatureMethod::HmacSha1 => {
            let mut mac =
                Hmac::<Sha1>::new_from_slice(key.as_bytes()).expect("HMAC takes any key length");
            mac.update(base_string.as_bytes());
            mac.finalize().into_bytes().to_vec()
        }
        SignatureMethod::HmacSha256 => {
            let mut mac =
                Hmac::<Sha256>::new_from_slice(key.as_bytes()).expect("HMAC takes any key length");
            mac.update(base_string.as_bytes());
            mac.finalize().into_bytes().to_vec()
        }
    };
    base64::engine::general_purpose::STANDARD.encode(digest)
}

/// Whether `presented` (base64, already percent-decoded) is the signature of `base_string`.
/// The comparison is constant time.
pub fn verify(
    consumer_secret: &Secret,
    method: SignatureMethod,
    base_string: &str,
    presented: &str,
) -> bool {
    let Ok(presented) = base64::engine::general_purpose::STANDARD.decode(presented.trim()) else {
        return false;
    };
    let key = signing_key(consumer_secret);
    match method {
        SignatureMethod::HmacSha1 => {
            let mut mac =
                Hmac::<Sha1>::new_from_slice(key.as_bytes()).expect("HMAC takes any key length");
            mac.update(base_string.as_bytes());
            mac.verify_slice(&presented).is_ok()
        }
        SignatureMethod::HmacSha256 => {
            let mut mac =
                Hmac::<Sha256>::new_from_slice(key.as_bytes()).expect("HMAC takes any key length");
            mac.update(base_string.as_bytes());
            mac.verify_slice(&presented).is_ok()
        }
    }
}

/// A signed request: what to add to the query string or the `Authorization` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedRequest {
    /// The exact signature base string that was signed.
    pub base_string: String,
    /// The base64 signature (not percent-encoded).
    pub signature: String,
    /// All five `oauth_*` pairs (decoded), signature last, in the order they are sent.
    pub oauth_pairs: Vec<(String, String)>,
}

impl SignedRequest {
    /// The query string to send: `query` then the `oauth_*` pairs, each name and value
    /// percent-encoded per RFC 3986 (so `+` in a value is `%2B`, a space `%20`).
    pub fn query_string(&self, query: &[(String, String)]) -> String {
        encode_query(query.iter().chain(self.oauth_pairs.iter()))
    }

    /// The `Authorization` header value: `OAuth k="pct(v)", ...`.
    pub fn authorization_header(&self) -> String {
        let parts = self
            .oauth_pairs
            .iter()
            .map(|(k, v)| format!("{}=\"{}\"", percent_encode(k), percent_encode(v)))
            .collect::<Vec<_>>()
            .join(", ");
        format!("OAuth {parts}")
    }
}

/// Encodes decoded pairs as `k=v&k=v`, each side per RFC 3986, in the given order.
pub fn encode_query<'a>(pairs: impl IntoIterator<Item = &'a (String, String)>) -> String {
    pairs
        .into_iter()
        .map(|(k, v)| format!("{}={}", percent_encode(k), percent_encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// Signs one request. `base_url` is the shop's home URL joined with the request path
/// (no query); `query` holds the request's own (decoded) query parameters.
pub fn sign_request(
    consumer_secret: &Secret,
    params: &OAuthParams,
    http_method: &str,
    base_url: &str,
    query: &[(String, String)],
) -> SignedRequest {
    let mut all: Vec<(String, String)> = query.to_vec();
    let oauth = params.pairs();
    all.extend(oauth.iter().cloned());
    let base_string = signature_base_string(http_method, base_url, &all);
    let signature = sign(consumer_secret, params.method, &base_string);
    let mut oauth_pairs = oauth;
    oauth_pairs.push(("oauth_signature".to_owned(), signature.clone()));
    SignedRequest {
        base_string,
        signature,
        oauth_pairs,
    }
}

/// A fresh nonce: 32 lower-case hex characters from the thread RNG.
pub fn new_nonce() -> String {
    let bytes: [u8; 16] = rand::random();
    hex::encode(bytes)
}

/// Parses an `Authorization: OAuth k="v", ...` header into decoded pairs. Returns `None`
/// when the header is not an OAuth header.
pub fn parse_authorization_header(value: &str) -> Option<Vec<(String, String)>> {
    let rest = value.trim();
    let scheme = rest.get(..6)?;
    if !scheme.eq_ignore_ascii_case("oauth ") {
        return None;
    }
    let mut pairs = Vec::new();
    for part in rest[6..].split(',') {
        let part = part.trim();
        if part.is_empty() {
            continue;
        }
        let (k, v) = part.split_once('=')?;
        let v = v.trim().trim_matches('"');
        pairs.push((percent_decode(k.trim(), false), percent_decode(v, false)));
    }
    Some(pairs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_per_rfc3986() {
        assert_eq!(percent_encode("a b+c/~_.-"), "a%20b%2Bc%2F~_.-");
        assert_eq!(percent_encode("ä"), "%C3%A4");
        assert_eq!(percent_decode("a%20b%2Bc+d", true), "a b+c d");
        assert_eq!(percent_decode("a%20b%2Bc+d", false), "a b+c+d");
        assert_eq!(percent_decode("100%", false), "100%");
        assert_eq!(percent_decode("%zz%4", false), "%zz%4");
    }

    #[test]
    fn rfc5849_example_base_string() {
        // RFC 5849 §3.4.1.1 parameters (token and body parameters included).
        let params: Vec<(String, String)> = [
            ("b5", "=%3D"),
            ("a3", "a"),
            ("c@", ""),
            ("a2", "r b"),
            ("oauth_consumer_key", "9djdj82h48djs9d2"),
            ("oauth_token", "kkk9d7dh3k39sjv7"),
            ("oauth_signature_method", "HMAC-SHA1"),
            ("oauth_timestamp", "137131201"),
            ("oauth_nonce", "7d8f3e4a"),
            ("c2", ""),
            ("a3", "2 q"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let bs = signature_base_string("post", "http://example.com/request", &params);
        assert_eq!(
            bs,
            "POST&http%3A%2F%2Fexample.com%2Frequest&a2%3Dr%2520b%26a3%3D2%2520q%26a3%3Da%26b5%3D%253D%25253D%26c%2540%3D%26c2%3D%26oauth_consumer_key%3D9djdj82h48djs9d2%26oauth_nonce%3D7d8f3e4a%26oauth_signature_method%3DHMAC-SHA1%26oauth_timestamp%3D137131201%26oauth_token%3Dkkk9d7dh3k39sjv7"
        );
    }

    #[test]
    fn header_round_trip_and_verify() {
        let secret = Secret::new("cs_x&y");
        let p = OAuthParams {
            consumer_key: "ck_1".into(),
            nonce: "n1".into(),
            timestamp: 10,
            method: SignatureMethod::HmacSha1,
        };
        let q = vec![("a".to_owned(), "1 2".to_owned())];
        let s = sign_request(&secret, &p, "GET", "http://shop/wp-json/wc/v3/x", &q);
        let parsed = parse_authorization_header(&s.authorization_header()).expect("oauth");
        assert_eq!(parsed, s.oauth_pairs);
        assert!(verify(&secret, p.method, &s.base_string, &s.signature));
        assert!(!verify(
            &Secret::new("other"),
            p.method,
            &s.base_string,
            &s.signature
        ));
        assert!(!verify(
            &secret,
            SignatureMethod::HmacSha256,
            &s.base_string,
            &s.signature
        ));
        assert!(!verify(&secret, p.method, &s.base_string, "not base64!"));
        assert_eq!(s.query_string(&q).split('&').next(), Some("a=1%202"));
        assert_eq!(new_nonce().len(), 32);
        assert_ne!(new_nonce(), new_nonce());
    }
}

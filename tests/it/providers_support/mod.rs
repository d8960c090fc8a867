//! Shared helpers of the provider client tests: independent signature arithmetic (written
//! out here from the specs, not calling the bridge's signing functions) and request access.
#![allow(dead_code)]

use std::time::{Duration, Instant};

use base64::Engine as _;
use hmac::{Hmac, KeyInit, Mac};
use sha1::Sha1;
use sha2::{Digest, Sha256, Sha512};
use wiremock::{MockServer, Request};

/// 2012-04-23T12:45:19Z, the date of Spiff's documented example.
pub const NOW_MS: i64 = 1_335_185_119_000;
pub const NOW_HTTP: &str = "Mon, 23 Apr 2012 12:45:19 GMT";

pub fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

pub fn hmac_sha256(key: &[u8], msg: &[u8]) -> Vec<u8> {
    let mut m = Hmac::<Sha256>::new_from_slice(key).unwrap();
    m.update(msg);
    m.finalize().into_bytes().to_vec()
}

pub fn hmac_sha1(key: &[u8], msg: &[u8]) -> Vec<u8> {
    let mut m = Hmac::<Sha1>::new_from_slice(key).unwrap();
    m.update(msg);
    m.finalize().into_bytes().to_vec()
}

/// Spiff SOA, from the docs' pseudocode.
pub fn spiff_soa(
    access: &str,
    secret: &str,
    body: &[u8],
    date: &str,
    path: &str,
    md5: bool,
) -> String {
    let digest = if md5 {
        hex::encode(md5::Md5::digest(body))
    } else {
        hex::encode(Sha512::digest(body))
    };
    let unsigned = format!("POST\n{digest}\napplication/json\n{date}\n{path}");
    format!(
        "SOA {access}:{}",
        b64(&hmac_sha1(secret.as_bytes(), unsigned.as_bytes()))
    )
}

/// Apliiq SIG, from the C# sample.
pub fn apliiq_sig(secret: &str, app_id: &str, rts: &str, state: &str, body: &[u8]) -> String {
    let content = if body.is_empty() {
        String::new()
    } else {
        b64(body)
    };
    let data = format!("{app_id}{rts}{state}{content}");
    b64(&hmac_sha256(secret.as_bytes(), data.as_bytes()))
}

/// Key2print api-sign, from the PHP sample.
pub fn key2print_sign(secret: &str, msg: &[u8]) -> String {
    let key = hex::encode(Sha256::digest(secret.as_bytes()));
    hex::encode(hmac_sha256(key.as_bytes(), msg))
}

pub fn header(req: &Request, name: &str) -> String {
    req.headers
        .get(name)
        .unwrap_or_else(|| panic!("no {name} header"))
        .to_str()
        .unwrap()
        .to_owned()
}

pub fn has_header(req: &Request, name: &str) -> bool {
    req.headers.get(name).is_some()
}

pub fn query(req: &Request) -> Vec<(String, String)> {
    req.url
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

pub async fn requests(server: &MockServer) -> Vec<Request> {
    server.received_requests().await.unwrap_or_default()
}

pub async fn only_request(server: &MockServer) -> Request {
    let mut r = requests(server).await;
    assert_eq!(r.len(), 1, "expected exactly one request, got {}", r.len());
    r.remove(0)
}

pub fn assert_user_agent(req: &Request) {
    assert_eq!(
        header(req, "user-agent"),
        concat!("PrintBridge/", env!("CARGO_PKG_VERSION"))
    );
}

/// A port nothing listens on (bound, then released).
pub fn dead_url() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    drop(l);
    format!("http://127.0.0.1:{port}")
}

/// Polls `cond` until it holds or `limit` passes.
pub async fn eventually(limit: Duration, mut cond: impl AsyncFnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if cond().await {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

//! Outbound HTTP: one way to build clients, so every call names PrintBridge, has timeouts
//! and never follows redirects (a redirected signed POST would be re-sent unsigned or twice).

use std::sync::Once;
use std::time::Duration;

pub const USER_AGENT: &str = concat!("PrintBridge/", env!("CARGO_PKG_VERSION"));

static CRYPTO: Once = Once::new();

/// Installs the TLS crypto provider (ring) once per process. Building a client calls it.
pub fn ensure_crypto_provider() {
    CRYPTO.call_once(|| {
        // Err means another provider is already installed, which serves as well.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

/// A client builder with the bridge's defaults: User-Agent, total and connect timeouts,
/// no redirects.
pub fn client_builder(timeout: Duration) -> reqwest::ClientBuilder {
    ensure_crypto_provider();
    reqwest::Client::builder()
        .user_agent(USER_AGENT)
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(10)))
        .redirect(reqwest::redirect::Policy::none())
}

/// A ready client with [`client_builder`]'s defaults.
pub fn client(timeout: Duration) -> reqwest::Client {
    client_builder(timeout)
        .build()
        .expect("a client with these options always builds")
}

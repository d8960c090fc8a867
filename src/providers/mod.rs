//! Print providers: Spiff, Apliiq and Key2print.
//!
//! Each provider has one module holding its signing (pure functions, tested against the
//! known-answer vectors in `tests/fixtures/signatures.json`), its request/response types and a
//! client. Clients take their base URL and timeout in the constructor, so tests point them at a
//! local server; time ([`crate::clock::Clock`]) and nonces ([`NonceSource`]) are injectable.
//! Every client is built on [`crate::net::client_builder`]: `User-Agent: PrintBridge/<version>`,
//! total and connect timeouts, and redirects off (a redirected signed call would be re-sent
//! unsigned or twice).
//!
//! # Errors and how the dispatcher treats them
//!
//! Every failed call is a [`ProviderError`] naming the provider, the call and what came back
//! (status and a short body excerpt with the call's secrets replaced by `***`).
//! [`ProviderError::class`] turns it into a [`FailureClass`]:
//!
//! | what happened | class |
//! |---|---|
//! | could not connect (DNS, refused, TLS, connect timeout): nothing was sent | `Retryable` |
//! | HTTP 429 or 503 (with `Retry-After`, seconds or HTTP date, when given) | `Retryable` |
//! | other 5xx or a timeout/broken connection after the request went out, for a call that changes something (POST) | `Ambiguous` |
//! | the same for a read-only call (GET) | `Retryable` |
//! | Apliiq `POST /v1/Order` 5xx, 500 included (Apliiq also answers a bad signature with 500, so the order may or may not exist) | `Ambiguous` |
//! | a 2xx whose body cannot be understood, for a POST | `Ambiguous` |
//! | Apliiq 401 (signature refused), other 4xx, GraphQL `errors`, Key2print `success:false`, bad configuration | `Permanent` |
//!
//! An ambiguous outcome must be resolved by asking the provider (Apliiq
//! [`apliiq::ApliiqClient::find_order`]) or parked for review; it is never re-sent blindly.

pub mod apliiq;
pub mod key2print;
pub mod signcli;
pub mod spiff;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::clock::{Clock, SystemClock};

/// Which provider a call or an error is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Provider {
    Spiff,
    Apliiq,
    Key2print,
}

impl Provider {
    /// The lowercase name used in logs, job rows and the CLI.
    pub fn as_str(self) -> &'static str {
        match self {
            Provider::Spiff => "spiff",
            Provider::Apliiq => "apliiq",
            Provider::Key2print => "key2print",
        }
    }
}

impl fmt::Display for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Provider::Spiff => "Spiff",
            Provider::Apliiq => "Apliiq",
            Provider::Key2print => "Key2print",
        })
    }
}

/// How the dispatcher should treat a failed provider call (rules in the module docs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FailureClass {
    /// The request surely did not take effect, or the provider asked us to come back later.
    Retryable { retry_after: Option<Duration> },
    /// The request may have taken effect: look it up or park it for review, never re-send blindly.
    Ambiguous { reason: String },
    /// Re-sending the same request will fail the same way.
    Permanent { reason: String },
}

/// A failed provider call: which provider, which call, and what went wrong.
#[derive(Debug, thiserror::Error)]
#[error("{provider} {call}: {kind}")]
pub struct ProviderError {
    pub provider: Provider,
    /// The call, e.g. `orderCreate`, `POST /v1/Order`, `user/list`.
    pub call: &'static str,
    /// Whether repeating the call can have no further effect (reads).
    pub idempotent: bool,
    pub kind: ErrorKind,
}

/// What went wrong in a provider call. Excerpts never contain the call's secrets.
#[derive(Debug, thiserror::Error)]
pub enum ErrorKind {
    /// The configuration section lacks something this call needs.
    #[error("not configured: {0}")]
    Config(String),
    /// No connection was made, so nothing was sent.
    #[error("could not connect: {0}")]
    Connect(String),
    /// The request went out but no (complete) answer came in time.
    #[error("no answer within the timeout; the request may have been received")]
    Timeout,
    /// The connection broke after the request was sent, or the body could not be read.
    #[error("transport error after sending: {0}")]
    Transport(String),
    /// An HTTP status the call does not accept.
    #[error("HTTP {status}: {excerpt}")]
    Status {
        status: u16,
        retry_after: Option<Duration>,
        excerpt: String,
    },
    /// Apliiq refused the call in a way it also uses for a bad signature (401, 500).
    #[error(
        "HTTP {status}, possibly a signature problem (check app_id, shared_secret and the clock): {excerpt}"
    )]
    SignatureSuspect { status: u16, excerpt: String },
    /// Spiff GraphQL answered with an `errors` array.
    #[error("GraphQL errors: {messages}")]
    GraphQl { messages: String },
    /// Key2print answered `success: false`; `message` is its `details`, `error` or `error_message`.
    #[error("rejected (HTTP {status}): {message}")]
    Rejected { status: u16, message: String },
    /// A 2xx answer we could not understand.
    #[error("unexpected answer (HTTP {status}): {detail}: {excerpt}")]
    Unexpected {
        status: u16,
        detail: String,
        excerpt: String,
    },
}

impl ProviderError {
    pub(crate) fn new(
        provider: Provider,
        call: &'static str,
        idempotent: bool,
        kind: ErrorKind,
    ) -> Self {
        ProviderError {
            provider,
            call,
            idempotent,
            kind,
        }
    }

    /// The HTTP status that came back, if any.
    pub fn status(&self) -> Option<u16> {
        match &self.kind {
            ErrorKind::Status { status, .. }
            | ErrorKind::SignatureSuspect { status, .. }
            | ErrorKind::Rejected { status, .. }
            | ErrorKind::Unexpected { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// How the dispatcher should treat this failure (see the module docs for the rules).
    pub fn class(&self) -> FailureClass {
        let reason = self.to_string();
        let unsure = |reason: String| {
            if self.idempotent {
                FailureClass::Retryable { retry_after: None }
            } else {
                FailureClass::Ambiguous { reason }
            }
        };
        match &self.kind {
            ErrorKind::Connect(_) => FailureClass::Retryable { retry_after: None },
            ErrorKind::Timeout | ErrorKind::Transport(_) => unsure(reason),
            ErrorKind::Status {
                status,
                retry_after,
                ..
            } => match *status {
                429 | 503 => FailureClass::Retryable {
                    retry_after: *retry_after,
                },
                s if s >= 500 => unsure(reason),
                _ => FailureClass::Permanent { reason },
            },
            ErrorKind::SignatureSuspect { status, .. } if *status >= 500 => unsure(reason),
            ErrorKind::Unexpected { .. } => unsure(reason),
            ErrorKind::SignatureSuspect { .. }
            | ErrorKind::GraphQl { .. }
            | ErrorKind::Rejected { .. }
            | ErrorKind::Config(_) => FailureClass::Permanent { reason },
        }
    }
}

/// Where random one-time values come from (Apliiq `STATE`); injectable for tests.
pub trait NonceSource: Send + Sync + 'static {
    /// A fresh nonce; unique per call.
    fn nonce(&self) -> String;
}

/// 32 lowercase hex characters from a random UUID, as in Apliiq's own sample code.
#[derive(Debug, Default, Clone, Copy)]
pub struct RandomNonce;

impl NonceSource for RandomNonce {
    fn nonce(&self) -> String {
        uuid::Uuid::new_v4().simple().to_string()
    }
}

/// Always the same nonce (tests and `printbridge sign`).
#[derive(Debug, Clone)]
pub struct FixedNonce(pub String);

impl NonceSource for FixedNonce {
    fn nonce(&self) -> String {
        self.0.clone()
    }
}

/// What every client carries: the HTTP client, clock and nonce source.
#[derive(Clone)]
pub(crate) struct Plumbing {
    pub http: reqwest::Client,
    pub clock: Arc<dyn Clock>,
    pub nonce: Arc<dyn NonceSource>,
}

impl Plumbing {
    pub fn new(provider: Provider, timeout: Duration) -> Result<Self, ProviderError> {
        let http = crate::net::client_builder(timeout).build().map_err(|e| {
            ProviderError::new(
                provider,
                "client",
                true,
                ErrorKind::Config(format!("cannot build the HTTP client: {e}")),
            )
        })?;
        Ok(Plumbing {
            http,
            clock: Arc::new(SystemClock),
            nonce: Arc::new(RandomNonce),
        })
    }
}

/// One answer, read completely.
pub(crate) struct Answer {
    pub status: u16,
    pub retry_after: Option<Duration>,
    pub content_type: Option<String>,
    pub body: Vec<u8>,
}

/// Describes one call for error reporting.
pub(crate) struct CallInfo<'a> {
    pub provider: Provider,
    pub call: &'static str,
    pub idempotent: bool,
    /// Values to blank out of any excerpt (the call's secrets and derived keys).
    pub secrets: &'a [&'a str],
}

impl CallInfo<'_> {
    pub fn err(&self, kind: ErrorKind) -> ProviderError {
        ProviderError::new(self.provider, self.call, self.idempotent, kind)
    }

    pub fn excerpt(&self, body: &[u8]) -> String {
        excerpt(body, self.secrets)
    }

    /// The generic error for a status the call does not accept.
    pub fn status_error(&self, answer: &Answer) -> ProviderError {
        self.err(ErrorKind::Status {
            status: answer.status,
            retry_after: answer.retry_after,
            excerpt: self.excerpt(&answer.body),
        })
    }

    pub fn unexpected(&self, answer: &Answer, detail: impl Into<String>) -> ProviderError {
        self.err(ErrorKind::Unexpected {
            status: answer.status,
            detail: detail.into(),
            excerpt: self.excerpt(&answer.body),
        })
    }
}

/// The largest answer body read from a provider's API (JSON answers are a few KB).
pub const MAX_ANSWER_BYTES: usize = 4 * 1024 * 1024;

/// Sends `request` and reads the whole answer, up to [`MAX_ANSWER_BYTES`]; transport
/// failures become [`ProviderError`]s.
pub(crate) async fn send(
    info: &CallInfo<'_>,
    clock: &dyn Clock,
    request: reqwest::RequestBuilder,
) -> Result<Answer, ProviderError> {
    send_capped(info, clock, request, MAX_ANSWER_BYTES).await
}

/// Like [`send`], reading at most `cap` bytes of the body: a longer answer is an error
/// (transport, so an idempotent call is retried), never held in memory whole.
pub(crate) async fn send_capped(
    info: &CallInfo<'_>,
    clock: &dyn Clock,
    request: reqwest::RequestBuilder,
    cap: usize,
) -> Result<Answer, ProviderError> {
    let mut response = request.send().await.map_err(|e| info.err(transport(e)))?;
    let status = response.status().as_u16();
    let headers = response.headers();
    let retry_after = headers
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| parse_retry_after(v, clock.now_ms()));
    let content_type = headers
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let too_large = || {
        info.err(ErrorKind::Transport(format!(
            "the answer is larger than {cap} bytes; it was not read"
        )))
    };
    if response.content_length().is_some_and(|n| n > cap as u64) {
        return Err(too_large());
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| info.err(transport(e)))? {
        if body.len() + chunk.len() > cap {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Answer {
        status,
        retry_after,
        content_type,
        body,
    })
}

/// The kind of a failed send, without the URL: errors reach the plugin's answers and the
/// store's job list, and the URL (a provider's internal address, a download token) is
/// configuration or provider data, not an error's detail.
fn transport(e: reqwest::Error) -> ErrorKind {
    let e = e.without_url();
    // A connect error (also a connect timeout) means nothing was sent.
    if e.is_connect() {
        ErrorKind::Connect(error_chain(&e))
    } else if e.is_timeout() {
        ErrorKind::Timeout
    } else {
        ErrorKind::Transport(error_chain(&e))
    }
}

/// An error with its sources, joined by `: ` (each said once).
pub(crate) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut source = e.source();
    while let Some(inner) = source {
        let text = inner.to_string();
        if !s.contains(&text) {
            s.push_str(": ");
            s.push_str(&text);
        }
        source = inner.source();
    }
    s
}

/// `Retry-After` as delta-seconds or an HTTP date (relative to `now_ms`); past dates give zero.
pub fn parse_retry_after(value: &str, now_ms: i64) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    let ms = at.timestamp_millis().saturating_sub(now_ms).max(0);
    Some(Duration::from_millis(u64::try_from(ms).unwrap_or(0)))
}

/// At most this many characters of a body go into an error.
pub const EXCERPT_CHARS: usize = 200;

/// A short, single-line excerpt of `body` with every non-empty `secret` replaced by `***`.
pub fn excerpt(body: &[u8], secrets: &[&str]) -> String {
    let mut text = String::from_utf8_lossy(body).into_owned();
    for secret in secrets.iter().filter(|s| !s.is_empty()) {
        text = text.replace(secret, "***");
    }
    let flat: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let flat = flat.trim();
    if flat.is_empty() {
        return "(empty body)".to_owned();
    }
    let mut out: String = flat.chars().take(EXCERPT_CHARS).collect();
    if flat.chars().count() > EXCERPT_CHARS {
        out.push('…');
    }
    out
}

/// Joins `base` (which may carry a path prefix) and an absolute API `path`.
pub(crate) fn join_url(base: &str, path: &str) -> String {
    format!("{}{}", base.trim_end_matches('/'), path)
}

/// Current time as an HTTP IMF-fixdate, e.g. `Mon, 23 Apr 2012 12:45:19 GMT`.
pub fn imf_fixdate(now_ms: i64) -> String {
    chrono::DateTime::<chrono::Utc>::from_timestamp_millis(now_ms)
        .unwrap_or_default()
        .format("%a, %d %b %Y %H:%M:%S GMT")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(provider: Provider, idempotent: bool, kind: ErrorKind) -> ProviderError {
        ProviderError::new(provider, "test", idempotent, kind)
    }

    fn status(s: u16, retry_after: Option<Duration>) -> ErrorKind {
        ErrorKind::Status {
            status: s,
            retry_after,
            excerpt: String::new(),
        }
    }

    #[test]
    fn classification_follows_the_documented_rules() {
        let ra = Some(Duration::from_secs(7));
        assert_eq!(
            err(Provider::Spiff, false, status(429, ra)).class(),
            FailureClass::Retryable { retry_after: ra }
        );
        assert_eq!(
            err(Provider::Key2print, false, status(503, None)).class(),
            FailureClass::Retryable { retry_after: None }
        );
        assert!(matches!(
            err(Provider::Spiff, false, status(502, None)).class(),
            FailureClass::Ambiguous { .. }
        ));
        assert!(matches!(
            err(Provider::Key2print, true, status(502, None)).class(),
            FailureClass::Retryable { .. }
        ));
        assert!(matches!(
            err(Provider::Apliiq, false, status(502, None)).class(),
            FailureClass::Ambiguous { .. }
        ));
        assert!(matches!(
            err(Provider::Spiff, false, status(422, None)).class(),
            FailureClass::Permanent { .. }
        ));
        assert!(matches!(
            err(Provider::Spiff, false, ErrorKind::Connect("refused".into())).class(),
            FailureClass::Retryable { retry_after: None }
        ));
        assert!(matches!(
            err(Provider::Spiff, false, ErrorKind::Timeout).class(),
            FailureClass::Ambiguous { .. }
        ));
        assert!(matches!(
            err(Provider::Key2print, true, ErrorKind::Timeout).class(),
            FailureClass::Retryable { .. }
        ));
        let sig500 = ErrorKind::SignatureSuspect {
            status: 500,
            excerpt: String::new(),
        };
        assert!(matches!(
            err(Provider::Apliiq, false, sig500).class(),
            FailureClass::Ambiguous { .. }
        ));
        let sig401 = ErrorKind::SignatureSuspect {
            status: 401,
            excerpt: String::new(),
        };
        assert!(matches!(
            err(Provider::Apliiq, false, sig401).class(),
            FailureClass::Permanent { .. }
        ));
    }

    #[test]
    fn retry_after_accepts_seconds_and_dates() {
        assert_eq!(parse_retry_after(" 12 ", 0), Some(Duration::from_secs(12)));
        // Mon, 23 Apr 2012 12:45:19 GMT = 1335185119 s
        let now = 1_335_185_100_000;
        assert_eq!(
            parse_retry_after("Mon, 23 Apr 2012 12:45:19 GMT", now),
            Some(Duration::from_secs(19))
        );
        assert_eq!(
            parse_retry_after("Mon, 23 Apr 2012 12:45:19 GMT", now + 60_000),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", now), None);
    }

    #[test]
    fn excerpts_are_short_flat_and_redacted() {
        let body = format!("bad key hunter2\n{}", "x".repeat(500));
        let e = excerpt(body.as_bytes(), &["hunter2", ""]);
        assert!(!e.contains("hunter2"));
        assert!(e.starts_with("bad key *** x"));
        assert!(e.chars().count() <= EXCERPT_CHARS + 1);
        assert_eq!(excerpt(b"  ", &[]), "(empty body)");
    }

    #[test]
    fn imf_fixdate_matches_http_format() {
        assert_eq!(
            imf_fixdate(1_335_185_119_000),
            "Mon, 23 Apr 2012 12:45:19 GMT"
        );
    }
}

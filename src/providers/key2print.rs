//! Key2print editor: WEBAPI signing and client, Product Gateway signing and verification.
//!
//! WEBAPI calls carry `api-key` (plain) and `api-sign`: the lowercase hex HMAC-SHA256 keyed with
//! the lowercase hex SHA-256 of the API secret (the 64 ASCII characters, not the raw digest), over
//! the string `GET` for a GET and over the raw JSON body for a POST. The query string of a GET is
//! not signed.
//!
//! Product Gateway callbacks (Key2print calling the bridge) carry `sign` among their query
//! parameters: every other parameter (the reserved `productIdentifier`, `key`, `tstamp`, `setup`
//! and any the bridge added to its callback URLs) becomes `key=value` with the decoded value, the
//! strings are sorted ascending and joined with `&`, and the result is signed like a WEBAPI call.
//! Unknown parameters are kept: they are signed too.
//!
//! Every WEBAPI answer is `{"success": bool, "data": ..., <message>}`; `success: false` is a
//! [`ErrorKind::Rejected`](super::ErrorKind::Rejected) carrying the provider's message, which the
//! spec names `details`, `error` or `error_message` depending on the method (all are accepted).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use hmac::{Hmac, KeyInit, Mac};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::{
    Answer, CallInfo, ErrorKind, Plumbing, Provider, ProviderError, join_url, send, send_capped,
};
use crate::clock::Clock;
use crate::config::Key2printConfig;
use crate::secret::Secret;

type HmacSha256 = Hmac<Sha256>;

/// Page size the "all pages" helpers ask for.
pub const ALL_PAGES_LIMIT: u32 = 100;
/// The "all pages" helpers stop after this many pages (a provider that never ends a list).
pub const MAX_PAGES: usize = 1000;

/// Lowercase hex SHA-256 of the API secret: the HMAC key of every Key2print signature.
pub fn hashed_secret(api_secret: &str) -> String {
    hex::encode(Sha256::digest(api_secret.as_bytes()))
}

fn mac(api_secret: &str) -> HmacSha256 {
    HmacSha256::new_from_slice(hashed_secret(api_secret).as_bytes())
        .expect("HMAC takes any key length")
}

/// What a WEBAPI call signs: `GET` for a GET, the raw body otherwise.
pub fn webapi_signed_bytes<'a>(method: &str, body: &'a [u8]) -> &'a [u8] {
    if method.eq_ignore_ascii_case("GET") {
        b"GET"
    } else {
        body
    }
}

/// The `api-sign` header for a WEBAPI call.
pub fn webapi_sign(api_secret: &str, method: &str, body: &[u8]) -> String {
    let mut m = mac(api_secret);
    m.update(webapi_signed_bytes(method, body));
    hex::encode(m.finalize().into_bytes())
}

/// The string the gateway signs: every parameter but `sign` as `key=value`, sorted, joined by
/// `&`. A repeated key keeps its last value (PHP's `$_GET`).
pub fn gateway_string<K, V>(params: impl IntoIterator<Item = (K, V)>) -> String
where
    K: AsRef<str>,
    V: AsRef<str>,
{
    let mut map = BTreeMap::new();
    for (k, v) in params {
        if k.as_ref() != "sign" {
            map.insert(k.as_ref().to_owned(), v.as_ref().to_owned());
        }
    }
    let mut pairs: Vec<String> = map.into_iter().map(|(k, v)| format!("{k}={v}")).collect();
    pairs.sort();
    pairs.join("&")
}

/// The `sign` parameter for gateway `params` (a `sign` among them is ignored).
pub fn gateway_sign<K, V>(api_secret: &str, params: impl IntoIterator<Item = (K, V)>) -> String
where
    K: AsRef<str>,
    V: AsRef<str>,
{
    let mut m = mac(api_secret);
    m.update(gateway_string(params).as_bytes());
    hex::encode(m.finalize().into_bytes())
}

/// Why a gateway call failed verification. Holds no secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GatewayVerifyError {
    #[error("the query has no sign parameter")]
    MissingSign,
    #[error("sign does not match: expected {expected} over {signed:?}")]
    Mismatch {
        /// The sign we compute for these parameters.
        expected: String,
        /// The exact string that was signed.
        signed: String,
    },
}

/// Verifies a gateway call's parameters (all of them, `sign` included), in constant time.
pub fn gateway_verify<K, V>(
    api_secret: &Secret,
    params: impl IntoIterator<Item = (K, V)>,
) -> Result<(), GatewayVerifyError>
where
    K: AsRef<str>,
    V: AsRef<str>,
{
    let params: Vec<(String, String)> = params
        .into_iter()
        .map(|(k, v)| (k.as_ref().to_owned(), v.as_ref().to_owned()))
        .collect();
    let presented = params
        .iter()
        .rev()
        .find(|(k, _)| k == "sign")
        .map(|(_, v)| v.trim().to_owned())
        .ok_or(GatewayVerifyError::MissingSign)?;
    let signed = gateway_string(params.iter().map(|(k, v)| (k, v)));
    let mut m = mac(api_secret.expose());
    m.update(signed.as_bytes());
    let ok = hex::decode(&presented)
        .map(|bytes| m.clone().verify_slice(&bytes).is_ok())
        .unwrap_or(false);
    if ok {
        Ok(())
    } else {
        Err(GatewayVerifyError::Mismatch {
            expected: hex::encode(m.finalize().into_bytes()),
            signed,
        })
    }
}

/// Decodes a raw query string (with or without the leading `?`) into its pairs, in order.
pub fn parse_query(query: &str) -> Vec<(String, String)> {
    let query = query.trim().trim_start_matches('?');
    let Ok(url) = reqwest::Url::parse(&format!("http://q/?{query}")) else {
        return Vec::new();
    };
    url.query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// Which page of a paginated list to fetch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest {
    pub limit: u32,
    pub offset: u32,
}

impl Default for PageRequest {
    fn default() -> Self {
        PageRequest {
            limit: 30,
            offset: 0,
        }
    }
}

/// One page of a paginated list.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Page<T> {
    #[serde(default = "Vec::new")]
    pub entities: Vec<T>,
    #[serde(default)]
    pub limit: u64,
    #[serde(default)]
    pub offset: u64,
    #[serde(default)]
    pub total: u64,
}

/// An editor user (one per shop customer).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    pub id: String,
    #[serde(default)]
    pub username: String,
    #[serde(default)]
    pub email: String,
}

/// `user/add` body.
#[derive(Debug, Clone, Serialize)]
pub struct NewUser {
    pub username: String,
    pub email: String,
}

/// `user/update` body; absent fields are left as they are.
#[derive(Debug, Clone, Default, Serialize)]
pub struct UserUpdate {
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
}

/// A project template as listed inside a template format.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProjectTemplateSummary {
    pub id: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub thumbnail_url: Option<String>,
    #[serde(default)]
    pub thumbnail_width: Option<u32>,
    #[serde(default)]
    pub thumbnail_height: Option<u32>,
}

/// A template format (page size category). Sizes are millimetres.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TemplateFormat {
    pub id: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub page_width: Option<u32>,
    #[serde(default)]
    pub page_height: Option<u32>,
    #[serde(default)]
    pub page_bleed: Option<u32>,
    #[serde(default)]
    pub is_default: Option<bool>,
    #[serde(default)]
    pub mark_as_default: Option<bool>,
    #[serde(default)]
    pub projects: Vec<ProjectTemplateSummary>,
}

/// `template_format/add` body.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NewTemplateFormat {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub page_width: u32,
    pub page_height: u32,
    pub page_bleed: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mark_as_default: Option<bool>,
}

/// `template_format/update` body; absent fields are left as they are.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TemplateFormatUpdate {
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub page_width: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub page_height: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub page_bleed: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mark_as_default: Option<bool>,
}

/// Filters of `template_format/list`.
#[derive(Debug, Clone, Copy, Default)]
pub struct TemplateFormatFilter {
    pub page_width: Option<u32>,
    pub page_height: Option<u32>,
}

/// A user project or a merchant project template.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Project {
    pub id: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub is_published: Option<bool>,
    #[serde(default)]
    pub template_format: Option<TemplateFormat>,
    #[serde(default)]
    pub pages: Value,
    #[serde(default)]
    pub setup: Value,
}

/// Filters of `project/list`. Without `user_id` the list holds the merchant's templates.
#[derive(Debug, Clone, Default)]
pub struct ProjectFilter {
    pub template_format_id: Option<String>,
    pub user_id: Option<String>,
}

/// A placeholder merchants put into templates (only type `text` exists).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Placeholder {
    pub id: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub system_name: String,
    #[serde(rename = "type", default)]
    pub kind: String,
    #[serde(default)]
    pub accepted_parameters: Vec<String>,
}

/// `placeholder/add` body.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NewPlaceholder {
    pub name: String,
    pub system_name: String,
    #[serde(rename = "type")]
    pub kind: String,
}

/// `placeholder/update` body; absent fields are left as they are.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PlaceholderUpdate {
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub system_name: Option<String>,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
}

/// One product gateway error Key2print logged.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ErrorLogEntry {
    #[serde(default)]
    pub details: Option<String>,
    #[serde(default)]
    pub tstamp: Option<i64>,
    #[serde(default)]
    pub date: Option<String>,
    /// A string or a number, depending on how it was passed.
    #[serde(default)]
    pub product_identifier: Value,
    #[serde(default)]
    pub method: Option<String>,
}

/// Filters of `error_log/list`.
#[derive(Debug, Clone, Default)]
pub struct ErrorLogFilter {
    pub tstamp_from: Option<i64>,
    pub tstamp_to: Option<i64>,
    pub product_identifier: Option<String>,
}

/// Work session mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SessionMode {
    Merchant,
    User,
}

/// Product gateway URLs for a user session (the bridge's `/v1/key2print/{store}/gateway/*`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProductGatewaySetup {
    pub product_identifier: String,
    pub product_details_url: String,
    pub available_options_url: String,
    pub price_url: String,
    pub setup_data_url: String,
}

/// Editor colours.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EditorColors {
    /// Hex without `#`, e.g. `310048`.
    pub primary_color: String,
}

/// Editor tabs to hide (user mode only).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HiddenTabs {
    pub theme_tab: bool,
    pub image_tab: bool,
    pub photo_cell_tab: bool,
    pub text_tab: bool,
    pub shape_tab: bool,
    pub placeholder_tab: bool,
}

/// Editor setup of a session.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EditorSetup {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub colors: Option<EditorColors>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hidden_tabs: Option<HiddenTabs>,
}

/// `session/start` body. `placeholder_values` maps a placeholder's system name to its
/// parameters (for `text`: `value`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionStart {
    pub mode: SessionMode,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub project_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub project_template_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub product_gateway_setup: Option<ProductGatewaySetup>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub editor_setup: Option<EditorSetup>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub placeholder_values: Option<BTreeMap<String, BTreeMap<String, String>>>,
}

impl SessionStart {
    /// A merchant session.
    pub fn merchant() -> Self {
        SessionStart {
            mode: SessionMode::Merchant,
            user_id: None,
            project_id: None,
            project_template_id: None,
            product_gateway_setup: None,
            editor_setup: None,
            placeholder_values: None,
        }
    }

    /// A user session for `user_id`.
    pub fn user(user_id: impl Into<String>) -> Self {
        SessionStart {
            mode: SessionMode::User,
            user_id: Some(user_id.into()),
            ..SessionStart::merchant()
        }
    }
}

/// A started work session: the token the editor wrapper needs, and when it expires.
#[derive(Debug, Clone, PartialEq)]
pub struct Session {
    pub id: Option<String>,
    /// `token` (the spec's user example) or `hash` (its merchant example).
    pub token: String,
    /// As Key2print writes it, e.g. `2020-05-05 12:32:52`.
    pub expires_at: Option<String>,
    /// The project the session opened, when the answer names one.
    pub project_id: Option<String>,
    pub raw: Value,
}

/// A downloaded project PDF.
#[derive(Debug, Clone, PartialEq)]
pub struct ProjectPdf {
    pub bytes: Vec<u8>,
    /// The 20-minute link it was fetched from, when Key2print answered with one.
    pub download_url: Option<String>,
}

/// The largest project PDF fetched (print-ready PDFs with images run to tens of MB); a
/// larger file fails the download, which is retried and then becomes a dead letter.
pub const MAX_PDF_BYTES: usize = 256 * 1024 * 1024;

/// `scheme://host[:port]` of `url`, for messages (never its path or query, which may hold
/// a token).
fn origin(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(u) => u.origin().ascii_serialization(),
        Err(_) => "(not a URL)".to_owned(),
    }
}

/// Whether `bytes` look like a PDF (`%PDF-` after optional leading whitespace).
pub fn looks_like_pdf(bytes: &[u8]) -> bool {
    let start = bytes
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(bytes.len());
    bytes[start..].starts_with(b"%PDF-")
}

/// Calls the Key2print WEBAPI for one store.
#[derive(Clone)]
pub struct Key2printClient {
    base_url: String,
    api_key: String,
    api_secret: Secret,
    hashed_secret: Secret,
    plumbing: Plumbing,
}

impl std::fmt::Debug for Key2printClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Key2printClient")
            .field("base_url", &self.base_url)
            .field("api_key", &self.api_key)
            .finish_non_exhaustive()
    }
}

fn query_of(pairs: &[(&'static str, Option<String>)]) -> Vec<(&'static str, String)> {
    pairs
        .iter()
        .filter_map(|(k, v)| v.clone().map(|v| (*k, v)))
        .collect()
}

impl Key2printClient {
    /// A client for the store's `[stores.key2print]` section; every call times out after `timeout`.
    pub fn new(config: &Key2printConfig, timeout: Duration) -> Result<Self, ProviderError> {
        Ok(Key2printClient {
            base_url: config.base_url.clone(),
            api_key: config.api_key.clone(),
            hashed_secret: Secret::new(hashed_secret(config.api_secret.expose())),
            api_secret: config.api_secret.clone(),
            plumbing: Plumbing::new(Provider::Key2print, timeout)?,
        })
    }

    /// Uses `clock` (for `Retry-After` dates).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.plumbing.clock = clock;
        self
    }

    /// Whether a `download_url` may be fetched: over https from any host (Key2print serves
    /// files from its own storage), or from the configured WEBAPI's own origin (a sandbox
    /// on plain http). Nothing else: an `http` URL to another host would let an answer
    /// point the bridge at internal services.
    fn may_fetch(&self, url: &str) -> bool {
        let Ok(target) = reqwest::Url::parse(url) else {
            return false;
        };
        let base = reqwest::Url::parse(&self.base_url).ok();
        let same_origin =
            base.is_some_and(|b| b.origin().is_tuple() && b.origin() == target.origin());
        (target.scheme() == "https" && target.host().is_some()) || same_origin
    }

    fn secrets(&self) -> [&str; 2] {
        [self.api_secret.expose(), self.hashed_secret.expose()]
    }

    async fn get_answer(
        &self,
        info: &CallInfo<'_>,
        path: &str,
        query: &[(&'static str, String)],
    ) -> Result<Answer, ProviderError> {
        self.get_answer_capped(info, path, query, super::MAX_ANSWER_BYTES)
            .await
    }

    async fn get_answer_capped(
        &self,
        info: &CallInfo<'_>,
        path: &str,
        query: &[(&'static str, String)],
        cap: usize,
    ) -> Result<Answer, ProviderError> {
        let request = self
            .plumbing
            .http
            .get(join_url(&self.base_url, path))
            .query(query)
            .header("Accept", "application/json")
            .header("api-key", &self.api_key)
            .header(
                "api-sign",
                webapi_sign(self.api_secret.expose(), "GET", b""),
            );
        send_capped(info, self.plumbing.clock.as_ref(), request, cap).await
    }

    async fn get<T: DeserializeOwned>(
        &self,
        call: &'static str,
        path: &str,
        query: &[(&'static str, String)],
    ) -> Result<T, ProviderError> {
        let secrets = self.secrets();
        let info = CallInfo {
            provider: Provider::Key2print,
            call,
            idempotent: true,
            secrets: &secrets,
        };
        let answer = self.get_answer(&info, path, query).await?;
        envelope(&info, &answer)
    }

    async fn post<B: Serialize, T: DeserializeOwned>(
        &self,
        call: &'static str,
        path: &str,
        body: &B,
    ) -> Result<T, ProviderError> {
        let secrets = self.secrets();
        let info = CallInfo {
            provider: Provider::Key2print,
            call,
            idempotent: false,
            secrets: &secrets,
        };
        let body = serde_json::to_vec(body)
            .map_err(|e| info.err(ErrorKind::Config(format!("cannot encode the body: {e}"))))?;
        let request = self
            .plumbing
            .http
            .post(join_url(&self.base_url, path))
            .header("Content-Type", "application/json")
            .header("Accept", "application/json")
            .header("api-key", &self.api_key)
            .header(
                "api-sign",
                webapi_sign(self.api_secret.expose(), "POST", &body),
            )
            .body(body);
        let answer = send(&info, self.plumbing.clock.as_ref(), request).await?;
        envelope(&info, &answer)
    }

    async fn page<T: DeserializeOwned>(
        &self,
        call: &'static str,
        path: &str,
        page: PageRequest,
        filters: &[(&'static str, String)],
    ) -> Result<Page<T>, ProviderError> {
        let mut query = vec![
            ("limit", page.limit.to_string()),
            ("offset", page.offset.to_string()),
        ];
        query.extend(filters.iter().cloned());
        self.get(call, path, &query).await
    }

    async fn all<T: DeserializeOwned>(
        &self,
        call: &'static str,
        path: &str,
        filters: &[(&'static str, String)],
    ) -> Result<Vec<T>, ProviderError> {
        Ok(self.upto(call, path, filters, usize::MAX).await?.0)
    }

    /// The first `max` entities of a list, page after page, and whether the list holds more.
    async fn upto<T: DeserializeOwned>(
        &self,
        call: &'static str,
        path: &str,
        filters: &[(&'static str, String)],
        max: usize,
    ) -> Result<(Vec<T>, bool), ProviderError> {
        let mut out = Vec::new();
        let mut offset: u32 = 0;
        for _ in 0..MAX_PAGES {
            if out.len() >= max {
                return Ok((out, true));
            }
            let page: Page<T> = self
                .page(
                    call,
                    path,
                    PageRequest {
                        limit: ALL_PAGES_LIMIT,
                        offset,
                    },
                    filters,
                )
                .await?;
            let n = page.entities.len();
            let room = max - out.len();
            let more = n > room;
            out.extend(page.entities.into_iter().take(room));
            let next = u64::from(offset) + n as u64;
            if more || n == 0 || next >= page.total {
                return Ok((out, more));
            }
            offset = u32::try_from(next).unwrap_or(u32::MAX);
        }
        Ok((out, false))
    }

    /// `GET /api/v1/user/list`: one page of users.
    pub async fn list_users(&self, page: PageRequest) -> Result<Page<User>, ProviderError> {
        self.page("user/list", "/api/v1/user/list", page, &[]).await
    }

    /// Every user, page after page.
    pub async fn all_users(&self) -> Result<Vec<User>, ProviderError> {
        self.all("user/list", "/api/v1/user/list", &[]).await
    }

    /// `POST /api/v1/user/add`.
    pub async fn add_user(&self, user: &NewUser) -> Result<User, ProviderError> {
        self.post("user/add", "/api/v1/user/add", user).await
    }

    /// `POST /api/v1/user/update`.
    pub async fn update_user(&self, update: &UserUpdate) -> Result<User, ProviderError> {
        self.post("user/update", "/api/v1/user/update", update)
            .await
    }

    /// `POST /api/v1/user/remove`.
    pub async fn remove_user(&self, id: &str) -> Result<(), ProviderError> {
        self.post::<_, Value>("user/remove", "/api/v1/user/remove", &IdBody { id })
            .await
            .map(drop)
    }

    /// `GET /api/v1/template_format/list`: one page of template formats.
    pub async fn list_template_formats(
        &self,
        page: PageRequest,
        filter: &TemplateFormatFilter,
    ) -> Result<Page<TemplateFormat>, ProviderError> {
        self.page(
            "template_format/list",
            "/api/v1/template_format/list",
            page,
            &template_format_query(filter),
        )
        .await
    }

    /// Every template format matching `filter`.
    pub async fn all_template_formats(
        &self,
        filter: &TemplateFormatFilter,
    ) -> Result<Vec<TemplateFormat>, ProviderError> {
        self.all(
            "template_format/list",
            "/api/v1/template_format/list",
            &template_format_query(filter),
        )
        .await
    }

    /// The first `max` template formats matching `filter`, and whether there are more.
    pub async fn template_formats_upto(
        &self,
        filter: &TemplateFormatFilter,
        max: usize,
    ) -> Result<(Vec<TemplateFormat>, bool), ProviderError> {
        self.upto(
            "template_format/list",
            "/api/v1/template_format/list",
            &template_format_query(filter),
            max,
        )
        .await
    }

    /// `POST /api/v1/template_format/add`.
    pub async fn add_template_format(
        &self,
        format: &NewTemplateFormat,
    ) -> Result<TemplateFormat, ProviderError> {
        self.post("template_format/add", "/api/v1/template_format/add", format)
            .await
    }

    /// `POST /api/v1/template_format/update`.
    pub async fn update_template_format(
        &self,
        update: &TemplateFormatUpdate,
    ) -> Result<TemplateFormat, ProviderError> {
        self.post(
            "template_format/update",
            "/api/v1/template_format/update",
            update,
        )
        .await
    }

    /// `POST /api/v1/template_format/remove`.
    pub async fn remove_template_format(&self, id: &str) -> Result<(), ProviderError> {
        self.post::<_, Value>(
            "template_format/remove",
            "/api/v1/template_format/remove",
            &IdBody { id },
        )
        .await
        .map(drop)
    }

    /// `GET /api/v1/project/list`: one page of a user's projects (or the merchant's templates).
    pub async fn list_projects(
        &self,
        page: PageRequest,
        filter: &ProjectFilter,
    ) -> Result<Page<Project>, ProviderError> {
        self.page(
            "project/list",
            "/api/v1/project/list",
            page,
            &project_query(filter),
        )
        .await
    }

    /// Every project matching `filter`.
    pub async fn all_projects(
        &self,
        filter: &ProjectFilter,
    ) -> Result<Vec<Project>, ProviderError> {
        self.all(
            "project/list",
            "/api/v1/project/list",
            &project_query(filter),
        )
        .await
    }

    /// The first `max` projects matching `filter` (without a user: the merchant's project
    /// templates), and whether there are more.
    pub async fn projects_upto(
        &self,
        filter: &ProjectFilter,
        max: usize,
    ) -> Result<(Vec<Project>, bool), ProviderError> {
        self.upto(
            "project/list",
            "/api/v1/project/list",
            &project_query(filter),
            max,
        )
        .await
    }

    /// The first `max` placeholders, and whether there are more.
    pub async fn placeholders_upto(
        &self,
        max: usize,
    ) -> Result<(Vec<Placeholder>, bool), ProviderError> {
        self.upto("placeholder/list", "/api/v1/placeholder/list", &[], max)
            .await
    }

    /// `GET /api/v1/placeholder/list`: one page of placeholders.
    pub async fn list_placeholders(
        &self,
        page: PageRequest,
    ) -> Result<Page<Placeholder>, ProviderError> {
        self.page("placeholder/list", "/api/v1/placeholder/list", page, &[])
            .await
    }

    /// Every placeholder.
    pub async fn all_placeholders(&self) -> Result<Vec<Placeholder>, ProviderError> {
        self.all("placeholder/list", "/api/v1/placeholder/list", &[])
            .await
    }

    /// `POST /api/v1/placeholder/add`.
    pub async fn add_placeholder(
        &self,
        placeholder: &NewPlaceholder,
    ) -> Result<Placeholder, ProviderError> {
        self.post("placeholder/add", "/api/v1/placeholder/add", placeholder)
            .await
    }

    /// `POST /api/v1/placeholder/update`.
    pub async fn update_placeholder(
        &self,
        update: &PlaceholderUpdate,
    ) -> Result<Placeholder, ProviderError> {
        self.post("placeholder/update", "/api/v1/placeholder/update", update)
            .await
    }

    /// `POST /api/v1/placeholder/remove`.
    pub async fn remove_placeholder(&self, id: &str) -> Result<(), ProviderError> {
        self.post::<_, Value>(
            "placeholder/remove",
            "/api/v1/placeholder/remove",
            &IdBody { id },
        )
        .await
        .map(drop)
    }

    /// `POST /api/v1/session/start`: returns the token for the editor wrapper.
    pub async fn start_session(&self, start: &SessionStart) -> Result<Session, ProviderError> {
        let raw: Value = self
            .post("session/start", "/api/v1/session/start", start)
            .await?;
        let s = |p: &str| raw.pointer(p).and_then(Value::as_str).map(str::to_owned);
        let Some(token) = s("/token").or_else(|| s("/hash")) else {
            let secrets = self.secrets();
            return Err(ProviderError::new(
                Provider::Key2print,
                "session/start",
                false,
                ErrorKind::Unexpected {
                    status: 200,
                    detail: "no token in data".to_owned(),
                    excerpt: super::excerpt(raw.to_string().as_bytes(), &secrets),
                },
            ));
        };
        Ok(Session {
            id: s("/id"),
            token,
            expires_at: s("/expiresAt"),
            project_id: s("/project/id"),
            raw,
        })
    }

    /// Signed `GET /api/v1/project/download/{id}`, then the PDF itself: Key2print answers with a
    /// 20-minute `download_url` (fetched at once, without our credentials), or with the PDF.
    pub async fn download_project(&self, project_id: &str) -> Result<ProjectPdf, ProviderError> {
        let secrets = self.secrets();
        let info = CallInfo {
            provider: Provider::Key2print,
            call: "project/download",
            idempotent: true,
            secrets: &secrets,
        };
        if project_id.is_empty()
            || !project_id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(info.err(ErrorKind::Config(format!(
                "not a project id: {:?}",
                project_id.chars().take(80).collect::<String>()
            ))));
        }
        let path = format!("/api/v1/project/download/{project_id}");
        let answer = self
            .get_answer_capped(&info, &path, &[], MAX_PDF_BYTES)
            .await?;
        if (200..300).contains(&answer.status) && looks_like_pdf(&answer.body) {
            return Ok(ProjectPdf {
                bytes: answer.body,
                download_url: None,
            });
        }
        let data: Value = envelope(&info, &answer)?;
        let url = data
            .get("download_url")
            .or_else(|| data.get("downloadUrl"))
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| info.unexpected(&answer, "no data.download_url"))?;
        let file_info = CallInfo {
            call: "project/download (file)",
            ..info
        };
        self.fetch_pdf(&file_info, url, answer.status).await
    }

    /// Fetches the PDF at a project's `download_url` (named in an answer with `status`):
    /// only over https or from the WEBAPI's own origin, and only a PDF is taken.
    async fn fetch_pdf(
        &self,
        file_info: &CallInfo<'_>,
        url: String,
        status: u16,
    ) -> Result<ProjectPdf, ProviderError> {
        if !self.may_fetch(&url) {
            return Err(file_info.err(ErrorKind::Unexpected {
                status,
                detail: format!(
                    "download_url {} is neither https nor on the WEBAPI's own origin; not fetched",
                    origin(&url)
                ),
                excerpt: String::new(),
            }));
        }
        let request = self.plumbing.http.get(&url);
        let file = send_capped(
            file_info,
            self.plumbing.clock.as_ref(),
            request,
            MAX_PDF_BYTES,
        )
        .await?;
        // The file's bytes never go into an error: they are not Key2print's API answer,
        // and the error is shown to the store's token holder.
        if !(200..300).contains(&file.status) || !looks_like_pdf(&file.body) {
            let ct = file.content_type.clone().unwrap_or_default();
            return Err(file_info.err(ErrorKind::Unexpected {
                status: file.status,
                detail: format!("not a PDF (content-type {ct:?}, {} bytes)", file.body.len()),
                excerpt: "(not shown)".to_owned(),
            }));
        }
        Ok(ProjectPdf {
            bytes: file.body,
            download_url: Some(url),
        })
    }

    /// `GET /api/v1/error_log/list`: one page of product gateway errors.
    pub async fn list_error_log(
        &self,
        page: PageRequest,
        filter: &ErrorLogFilter,
    ) -> Result<Page<ErrorLogEntry>, ProviderError> {
        self.page(
            "error_log/list",
            "/api/v1/error_log/list",
            page,
            &error_log_query(filter),
        )
        .await
    }

    /// Every product gateway error matching `filter`.
    pub async fn all_error_log(
        &self,
        filter: &ErrorLogFilter,
    ) -> Result<Vec<ErrorLogEntry>, ProviderError> {
        self.all(
            "error_log/list",
            "/api/v1/error_log/list",
            &error_log_query(filter),
        )
        .await
    }

    /// `POST /api/v1/cache/flush` for one product identifier.
    pub async fn flush_cache(&self, product_identifier: &str) -> Result<(), ProviderError> {
        #[derive(Serialize)]
        #[serde(rename_all = "camelCase")]
        struct Body<'a> {
            product_identifier: &'a str,
        }
        self.post::<_, Value>(
            "cache/flush",
            "/api/v1/cache/flush",
            &Body { product_identifier },
        )
        .await
        .map(drop)
    }
}

#[derive(Serialize)]
struct IdBody<'a> {
    id: &'a str,
}

fn template_format_query(f: &TemplateFormatFilter) -> Vec<(&'static str, String)> {
    query_of(&[
        ("pageWidth", f.page_width.map(|v| v.to_string())),
        ("pageHeight", f.page_height.map(|v| v.to_string())),
    ])
}

fn project_query(f: &ProjectFilter) -> Vec<(&'static str, String)> {
    query_of(&[
        ("templateFormatId", f.template_format_id.clone()),
        ("userId", f.user_id.clone()),
    ])
}

fn error_log_query(f: &ErrorLogFilter) -> Vec<(&'static str, String)> {
    query_of(&[
        ("tstampFrom", f.tstamp_from.map(|v| v.to_string())),
        ("tstampTo", f.tstamp_to.map(|v| v.to_string())),
        ("productIdentifier", f.product_identifier.clone()),
    ])
}

/// The provider's failure message: `details`, `error` or `error_message`, whichever is a
/// non-empty string.
pub fn failure_message(json: &Value) -> Option<String> {
    ["details", "error", "error_message", "message"]
        .iter()
        .find_map(|k| {
            json.get(*k)
                .and_then(Value::as_str)
                .filter(|s| !s.trim().is_empty())
                .map(str::to_owned)
        })
}

/// Reads a WEBAPI answer: status, then `success`, then `data` as `T`.
fn envelope<T: DeserializeOwned>(info: &CallInfo<'_>, answer: &Answer) -> Result<T, ProviderError> {
    let json = serde_json::from_slice::<Value>(&answer.body).ok();
    let rejected = |json: &Value| {
        let message = failure_message(json).unwrap_or_else(|| "success is false".to_owned());
        info.err(ErrorKind::Rejected {
            status: answer.status,
            message: super::excerpt(message.as_bytes(), info.secrets),
        })
    };
    if !(200..300).contains(&answer.status) {
        // 429/503 keep their status (retryable); other refusals carry the provider's words.
        return Err(match &json {
            Some(j)
                if !matches!(answer.status, 429 | 503)
                    && j.get("success").and_then(Value::as_bool) == Some(false) =>
            {
                rejected(j)
            }
            _ => info.status_error(answer),
        });
    }
    let Some(json) = json else {
        return Err(info.unexpected(answer, "not JSON"));
    };
    match json.get("success").and_then(Value::as_bool) {
        Some(true) => {}
        Some(false) => return Err(rejected(&json)),
        None => return Err(info.unexpected(answer, "no success field")),
    }
    let data = json.get("data").cloned().unwrap_or(Value::Null);
    serde_json::from_value(data)
        .map_err(|e| info.unexpected(answer, format!("unexpected data ({e})")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gateway_string_sorts_pairs_and_drops_sign() {
        let s = gateway_string([("tstamp", "1"), ("sign", "x"), ("key", "k"), ("a", "b c")]);
        assert_eq!(s, "a=b c&key=k&tstamp=1");
    }

    #[test]
    fn query_parsing_decodes_values() {
        let q = parse_query("?setup=%7B%221%22%3A%222%22%7D&lang=pl&x=a+b");
        assert_eq!(
            q,
            vec![
                ("setup".to_owned(), "{\"1\":\"2\"}".to_owned()),
                ("lang".to_owned(), "pl".to_owned()),
                ("x".to_owned(), "a b".to_owned()),
            ]
        );
    }

    #[test]
    fn gateway_verify_reports_expected_sign() {
        let secret = Secret::new("s");
        let params = [("key", "k"), ("tstamp", "1")];
        let sign = gateway_sign("s", params);
        let mut with = params.to_vec();
        with.push(("sign", &sign));
        assert_eq!(gateway_verify(&secret, with.clone()), Ok(()));
        with.push(("extra", "1"));
        match gateway_verify(&secret, with) {
            Err(GatewayVerifyError::Mismatch { signed, expected }) => {
                assert_eq!(signed, "extra=1&key=k&tstamp=1");
                assert_eq!(expected.len(), 64);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            gateway_verify(&secret, params),
            Err(GatewayVerifyError::MissingSign)
        );
    }

    #[test]
    fn pdf_sniffing() {
        assert!(looks_like_pdf(b"%PDF-1.7\n..."));
        assert!(looks_like_pdf(b"\n %PDF-1.4"));
        assert!(!looks_like_pdf(b"{\"success\":true}"));
        assert!(!looks_like_pdf(b""));
    }

    #[test]
    fn failure_message_accepts_each_key() {
        for key in ["details", "error", "error_message"] {
            let j = serde_json::json!({"success": false, key: "boom"});
            assert_eq!(failure_message(&j).as_deref(), Some("boom"));
        }
        assert_eq!(failure_message(&serde_json::json!({"error": ""})), None);
    }
}

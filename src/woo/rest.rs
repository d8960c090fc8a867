//! A client for the shop's WooCommerce REST API v3: order notes (write-back), orders changed
//! since a time (reconciliation), the catalog (Key2print Product Gateway) and webhooks.
//!
//! Authentication follows what WooCommerce accepts (see docs/ARCHITECTURE.md, "Talking to the
//! shop's REST API"): over **https** HTTP Basic with the consumer key and secret; over plain
//! **http** WooCommerce ignores Basic and query keys, so requests are signed with OAuth 1.0a
//! one-legged ([`crate::woo::oauth1`]), against the shop's home URL. Keys work only on
//! `/wp-json/wc/...` URLs, so every request uses that form.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::Method;
use reqwest::header::{ACCEPT, HeaderMap, LOCATION, RETRY_AFTER};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::clock::{Clock, SystemClock};
use crate::config::StoreConfig;
use crate::secret::Secret;
use crate::woo::catalog::{
    AttributeTerm, GlobalAttribute, Product, Variation, lenient_bool, lenient_i64,
    lenient_opt_string, lenient_string, lenient_string_vec,
};
use crate::woo::model::{LenientEntry, Order, lenient_vec};
use crate::woo::oauth1::{self, OAuthParams, Placement, SignatureMethod};

/// The path prefix of every WooCommerce REST v3 endpoint.
pub const API_PREFIX: &str = "/wp-json/wc/v3";

/// WooCommerce's maximum `per_page` (101 is answered with 400 `rest_invalid_param`).
pub const MAX_PER_PAGE: u32 = 100;

/// A safety stop for the all-pages helpers: 1,000 pages of 100 is 100,000 objects.
pub const MAX_PAGES: u32 = 1000;

/// How requests are authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMode {
    /// HTTP Basic with consumer key and secret; honoured by WooCommerce only over HTTPS.
    Basic,
    /// OAuth 1.0a one-legged, the only key-based method that works over plain http.
    OAuth1 {
        /// HMAC-SHA1 or HMAC-SHA256.
        method: SignatureMethod,
        /// Query string or `Authorization` header.
        placement: Placement,
    },
}

impl AuthMode {
    /// Basic for `https://`, OAuth 1.0a (HMAC-SHA256, query string) for anything else.
    pub fn for_url(url: &str) -> AuthMode {
        if url
            .trim()
            .get(..8)
            .is_some_and(|s| s.eq_ignore_ascii_case("https://"))
        {
            AuthMode::Basic
        } else {
            AuthMode::OAuth1 {
                method: SignatureMethod::HmacSha256,
                placement: Placement::Query,
            }
        }
    }
}

/// Where OAuth nonces come from (injectable so tests can reproduce recorded requests).
pub type NonceSource = Arc<dyn Fn() -> String + Send + Sync>;

/// Errors talking to the shop. Never contains the consumer secret.
#[derive(Debug, thiserror::Error)]
pub enum WooError {
    /// The shop URL cannot be used.
    #[error("invalid WooCommerce URL: {0}")]
    InvalidUrl(String),
    /// The HTTP client could not be built.
    #[error("could not build the HTTP client: {0}")]
    Client(String),
    /// No connection was made: the request was not sent.
    #[error("could not connect to the shop: {0}")]
    Connect(String),
    /// No answer in time, after the connection was made (the request may have been handled).
    #[error("the shop did not answer in time ({method} {endpoint})")]
    Timeout {
        /// HTTP method of the request.
        method: String,
        /// Endpoint path below [`API_PREFIX`].
        endpoint: String,
    },
    /// The connection failed after it was made (reset, closed, unreadable body).
    #[error("the request to the shop failed ({method} {endpoint}): {message}")]
    Transport {
        /// HTTP method of the request.
        method: String,
        /// Endpoint path below [`API_PREFIX`].
        endpoint: String,
        /// What went wrong (no URL, no credentials).
        message: String,
    },
    /// WooCommerce (or a proxy in front of it) answered with an error status. `code` and
    /// `message` come from WooCommerce's JSON error body (`{"code","message","data"}`).
    #[error("the shop answered HTTP {status} {code}: {message}")]
    Api {
        /// HTTP status.
        status: u16,
        /// WooCommerce error code, e.g. `woocommerce_rest_shop_order_invalid_id`; empty when
        /// the body was not a WooCommerce error.
        code: String,
        /// WooCommerce's message, or the start of a non-JSON body.
        message: String,
        /// `Retry-After` in seconds, when sent.
        retry_after: Option<Duration>,
        /// The HTTP method, to tell whether a failure may have left an effect.
        method: String,
    },
    /// A success response whose body is not what the endpoint returns.
    #[error("unexpected response from the shop (HTTP {status}): {reason}")]
    Decode {
        /// HTTP status.
        status: u16,
        /// Why it could not be read.
        reason: String,
    },
}

impl WooError {
    /// The HTTP status, for errors that got an answer.
    pub fn status(&self) -> Option<u16> {
        match self {
            WooError::Api { status, .. } | WooError::Decode { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// WooCommerce's error code, for error answers.
    pub fn code(&self) -> Option<&str> {
        match self {
            WooError::Api { code, .. } => Some(code),
            _ => None,
        }
    }

    /// Worth trying again later: no connection, 429, 5xx, and timeouts or broken connections
    /// of requests that are safe to repeat (not POST).
    pub fn retryable(&self) -> bool {
        match self {
            WooError::Connect(_) => true,
            WooError::Api { status, .. } => *status == 429 || (500..600).contains(status),
            WooError::Timeout { method, .. } | WooError::Transport { method, .. } => {
                method != "POST"
            }
            WooError::InvalidUrl(_) | WooError::Client(_) | WooError::Decode { .. } => false,
        }
    }

    /// The request was sent and might have been carried out although no success came back:
    /// a timeout or broken connection after sending a POST (e.g. a note may exist). Do not
    /// repeat it blindly; check first (e.g. [`WooClient::list_order_notes`]).
    pub fn may_have_taken_effect(&self) -> bool {
        match self {
            WooError::Timeout { method, .. } | WooError::Transport { method, .. } => {
                method == "POST"
            }
            _ => false,
        }
    }

    /// 404: the order, product, variation or webhook does not exist.
    pub fn is_not_found(&self) -> bool {
        self.status() == Some(404)
    }

    /// 401 or 403: wrong or missing keys (over http also Basic or query keys, which are
    /// ignored), a read-only key used to write (401), or a user without the capability (403).
    pub fn is_auth(&self) -> bool {
        matches!(self.status(), Some(401 | 403))
    }

    /// `Retry-After` of a 429/503 answer.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            WooError::Api { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}

/// An order read through REST: the parsed order and the JSON it came from (exactly as sent
/// for a single order; the array element's own bytes for lists), so it can go through the
/// same intake path as a webhook delivery.
#[derive(Debug, Clone)]
pub struct FetchedOrder {
    /// The parsed order.
    pub order: Order,
    /// The order's JSON.
    pub raw: Vec<u8>,
}

/// One page of a collection.
#[derive(Debug, Clone)]
pub struct Page<T> {
    /// The objects on this page (`[]` past the last page).
    pub items: Vec<T>,
    /// The page number (1-based).
    pub page: u32,
    /// `X-WP-Total`, when sent. Past the last page WooCommerce sends `0`: trust page 1's.
    pub total: Option<u64>,
    /// `X-WP-TotalPages`, when sent.
    pub total_pages: Option<u32>,
}

impl<T> Page<T> {
    /// Nothing follows this page: it is empty or at/after `X-WP-TotalPages`.
    pub fn is_last(&self) -> bool {
        self.items.is_empty() || self.total_pages.is_some_and(|t| self.page >= t)
    }
}

/// An order note (`/orders/{id}/notes`).
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(default)]
pub struct OrderNote {
    #[serde(deserialize_with = "lenient_i64")]
    pub id: i64,
    /// `"WooCommerce"` for notes added through the API (unless `added_by_user`), or a user.
    #[serde(deserialize_with = "lenient_string")]
    pub author: String,
    #[serde(deserialize_with = "lenient_opt_string")]
    pub date_created_gmt: Option<String>,
    /// The note's text; system notes contain HTML entities (`&rarr;`).
    #[serde(deserialize_with = "lenient_string")]
    pub note: String,
    /// Shown to (and mailed to) the customer.
    #[serde(deserialize_with = "lenient_bool")]
    pub customer_note: bool,
}

/// A webhook as `/webhooks` shows it. The API never returns the secret nor the API version
/// the webhook delivers in, and its `*_gmt` dates are unreliable on shops whose timezone
/// changed.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(default)]
pub struct Webhook {
    #[serde(deserialize_with = "lenient_i64")]
    pub id: i64,
    #[serde(deserialize_with = "lenient_string")]
    pub name: String,
    /// `active`, `paused` or `disabled` (WooCommerce disables a webhook after repeated
    /// delivery failures).
    #[serde(deserialize_with = "lenient_string")]
    pub status: String,
    #[serde(deserialize_with = "lenient_string")]
    pub topic: String,
    #[serde(deserialize_with = "lenient_string")]
    pub resource: String,
    #[serde(deserialize_with = "lenient_string")]
    pub event: String,
    #[serde(deserialize_with = "lenient_vec")]
    pub hooks: Vec<String>,
    #[serde(deserialize_with = "lenient_string")]
    pub delivery_url: String,
    #[serde(deserialize_with = "lenient_opt_string")]
    pub date_created: Option<String>,
    #[serde(deserialize_with = "lenient_opt_string")]
    pub date_modified: Option<String>,
}

impl Webhook {
    /// Whether WooCommerce delivers it (`status == "active"`).
    pub fn is_active(&self) -> bool {
        self.status.eq_ignore_ascii_case("active")
    }
}

/// One entry of a settings group (`/settings/general`, `/settings/tax`). Every value there
/// is a string (numbers included).
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(default)]
pub struct Setting {
    #[serde(deserialize_with = "lenient_string")]
    pub id: String,
    #[serde(deserialize_with = "lenient_string")]
    pub label: String,
    #[serde(rename = "type", deserialize_with = "lenient_string")]
    pub kind: String,
    /// The value; lists (multiselects) are kept as JSON text.
    #[serde(deserialize_with = "lenient_string")]
    pub value: String,
}

/// A settings group of the shop: `/settings/general` (currency, separators, base address...)
/// or `/settings/tax` (prices entered with tax, rounding...), both lists of [`Setting`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GeneralSettings(pub Vec<Setting>);

impl GeneralSettings {
    /// The value of the setting `id`, e.g. `woocommerce_currency`.
    pub fn value(&self, id: &str) -> Option<&str> {
        self.0.iter().find(|s| s.id == id).map(|s| s.value.as_str())
    }

    /// `woocommerce_currency`, e.g. `EUR`.
    pub fn currency(&self) -> Option<&str> {
        self.value("woocommerce_currency")
    }

    /// `woocommerce_price_num_decimals`, e.g. `2`.
    pub fn price_decimals(&self) -> Option<u32> {
        self.value("woocommerce_price_num_decimals")
            .and_then(|v| v.trim().parse().ok())
    }
}

/// A tax rate (`/taxes`). WooCommerce calls the standard class `"standard"` here, while
/// products call it `""`. `postcodes` and `cities` are the rate's locations as stored
/// (upper case; postcodes may hold `*` wildcards and `min...max` ranges); the singular
/// `postcode` and `city` are the deprecated one-value forms.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(default)]
pub struct TaxRate {
    #[serde(deserialize_with = "lenient_i64")]
    pub id: i64,
    /// ISO 3166 code, `""` for every country.
    #[serde(deserialize_with = "lenient_string")]
    pub country: String,
    /// State code, `""` for every state.
    #[serde(deserialize_with = "lenient_string")]
    pub state: String,
    #[serde(deserialize_with = "lenient_string")]
    pub postcode: String,
    #[serde(deserialize_with = "lenient_string")]
    pub city: String,
    #[serde(deserialize_with = "lenient_string_vec")]
    pub postcodes: Vec<String>,
    #[serde(deserialize_with = "lenient_string_vec")]
    pub cities: Vec<String>,
    /// Percent as a decimal string (`"20.0000"`).
    #[serde(deserialize_with = "lenient_string")]
    pub rate: String,
    #[serde(deserialize_with = "lenient_string")]
    pub name: String,
    #[serde(deserialize_with = "lenient_i64")]
    pub priority: i64,
    #[serde(deserialize_with = "lenient_bool")]
    pub compound: bool,
    #[serde(deserialize_with = "lenient_bool")]
    pub shipping: bool,
    #[serde(deserialize_with = "lenient_i64")]
    pub order: i64,
    /// Tax class slug; `"standard"` for the standard class.
    #[serde(deserialize_with = "lenient_string")]
    pub class: String,
}

/// The WooCommerce REST v3 client of one shop.
#[derive(Clone)]
pub struct WooClient {
    http: reqwest::Client,
    root: String,
    home_url: String,
    consumer_key: String,
    consumer_secret: Secret,
    auth: AuthMode,
    clock: Arc<dyn Clock>,
    nonce: NonceSource,
}

impl fmt::Debug for WooClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WooClient")
            .field("root", &self.root)
            .field("home_url", &self.home_url)
            .field("consumer_key", &self.consumer_key)
            .field("consumer_secret", &self.consumer_secret)
            .field("auth", &self.auth)
            .finish_non_exhaustive()
    }
}

/// The shop root from a configured URL: no trailing `/`, no `/wp-json...` suffix.
fn shop_root(url: &str) -> Result<String, WooError> {
    let trimmed = url.trim();
    let parsed = reqwest::Url::parse(trimmed)
        .map_err(|e| WooError::InvalidUrl(format!("{trimmed:?}: {e}")))?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
        return Err(WooError::InvalidUrl(format!(
            "{trimmed:?}: needs http:// or https:// and a host"
        )));
    }
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err(WooError::InvalidUrl(format!(
            "{trimmed:?}: the shop URL takes no query or fragment (keys only work on /wp-json/ URLs)"
        )));
    }
    let mut root = trimmed.trim_end_matches('/').to_owned();
    if let Some(pos) = root.find("/wp-json") {
        root.truncate(pos);
    }
    Ok(root)
}

impl WooClient {
    /// A client for the shop at `base_url` (its home URL, e.g. `https://shop.example.com`;
    /// a `/wp-json/...` suffix is ignored). Authenticates with Basic over https and OAuth 1.0a
    /// otherwise, signing against `base_url` (see [`WooClient::with_home_url`]).
    pub fn new(
        base_url: &str,
        consumer_key: &str,
        consumer_secret: &Secret,
        timeout: Duration,
    ) -> Result<WooClient, WooError> {
        let root = shop_root(base_url)?;
        let http = crate::net::client_builder(timeout)
            .build()
            .map_err(|e| WooError::Client(e.to_string()))?;
        Ok(WooClient {
            http,
            auth: AuthMode::for_url(&root),
            home_url: root.clone(),
            root,
            consumer_key: consumer_key.trim().to_owned(),
            consumer_secret: consumer_secret.clone(),
            clock: Arc::new(SystemClock),
            nonce: Arc::new(oauth1::new_nonce),
        })
    }

    /// The client for a store with REST keys (`woocommerce_url`, consumer key and secret);
    /// `None` when the store has none, or its URL is unusable (configuration validation
    /// rejects such URLs).
    pub fn from_store(store: &StoreConfig, timeout: Duration) -> Option<WooClient> {
        let url = store.woocommerce_url.as_deref()?;
        let key = store.woocommerce_consumer_key.as_deref()?;
        let secret = store.woocommerce_consumer_secret.as_ref()?;
        match WooClient::new(url, key, secret, timeout) {
            Ok(client) => Some(client),
            Err(e) => {
                tracing::warn!(store = %store.id, error = %e, "WooCommerce REST client not available");
                None
            }
        }
    }

    /// Signs OAuth requests against `home_url` (WordPress's "Site Address") instead of the
    /// URL connected to, for shops reached through another host name or a proxy.
    /// WooCommerce rebuilds the signed URL from its home URL, so this must match it.
    pub fn with_home_url(mut self, home_url: &str) -> Result<WooClient, WooError> {
        self.home_url = shop_root(home_url)?;
        Ok(self)
    }

    /// Overrides the authentication chosen from the URL scheme (e.g. Basic behind a
    /// TLS-terminating proxy that WooCommerce sees as https).
    pub fn with_auth(mut self, auth: AuthMode) -> WooClient {
        self.auth = auth;
        self
    }

    /// Uses `clock` for OAuth timestamps.
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> WooClient {
        self.clock = clock;
        self
    }

    /// Uses `nonce` for OAuth nonces (each call must return a fresh value).
    pub fn with_nonce_source(mut self, nonce: NonceSource) -> WooClient {
        self.nonce = nonce;
        self
    }

    /// The authentication in use.
    pub fn auth_mode(&self) -> AuthMode {
        self.auth
    }

    /// The shop root requests go to (no trailing slash).
    pub fn base_url(&self) -> &str {
        &self.root
    }

    /// The home URL OAuth signatures are computed against.
    pub fn home_url(&self) -> &str {
        &self.home_url
    }

    // ---- orders ----

    /// `GET /orders/{id}`: the order and its JSON.
    pub async fn get_order(&self, order_id: i64) -> Result<FetchedOrder, WooError> {
        let resp = self
            .request(Method::GET, &format!("/orders/{order_id}"), &[], None)
            .await?;
        let order = resp.json::<Order>()?;
        Ok(FetchedOrder {
            order,
            raw: resp.body,
        })
    }

    /// One page of orders modified after `since`, oldest change first:
    /// `modified_after` as naive UTC with `dates_are_gmt=true` (an offset together with
    /// `dates_are_gmt` returns nothing), `orderby=modified&order=asc`, `per_page=100`.
    /// `statuses` are joined with commas (empty: WooCommerce's default, `any`).
    /// WooCommerce compares strictly (`>`) at whole seconds: overlap `since` a little and
    /// let intake drop what it has seen.
    pub async fn orders_modified_after(
        &self,
        since: DateTime<Utc>,
        statuses: &[&str],
        page: u32,
    ) -> Result<Page<FetchedOrder>, WooError> {
        let mut query = Vec::new();
        if !statuses.is_empty() {
            query.push(("status".to_owned(), statuses.join(",")));
        }
        query.extend([
            (
                "modified_after".to_owned(),
                since.format("%Y-%m-%dT%H:%M:%S").to_string(),
            ),
            ("dates_are_gmt".to_owned(), "true".to_owned()),
            ("orderby".to_owned(), "modified".to_owned()),
            ("order".to_owned(), "asc".to_owned()),
            ("per_page".to_owned(), MAX_PER_PAGE.to_string()),
            ("page".to_owned(), page.max(1).to_string()),
        ]);
        let resp = self.request(Method::GET, "/orders", &query, None).await?;
        let elements = split_json_array(&resp.body).ok_or_else(|| WooError::Decode {
            status: resp.status,
            reason: "expected a JSON array of orders".to_owned(),
        })?;
        let mut items = Vec::with_capacity(elements.len());
        for raw in elements {
            let order: Order = serde_json::from_slice(raw).map_err(|e| WooError::Decode {
                status: resp.status,
                reason: format!("an order in the list: {e}"),
            })?;
            items.push(FetchedOrder {
                order,
                raw: raw.to_vec(),
            });
        }
        Ok(resp.page(page.max(1), items))
    }

    /// Every order modified after `since` (all pages of
    /// [`orders_modified_after`](WooClient::orders_modified_after)), oldest change first.
    pub async fn all_orders_modified_after(
        &self,
        since: DateTime<Utc>,
        statuses: &[&str],
    ) -> Result<Vec<FetchedOrder>, WooError> {
        let mut out = Vec::new();
        let mut total_pages = None;
        for page in 1..=MAX_PAGES {
            let p = self.orders_modified_after(since, statuses, page).await?;
            if page == 1 {
                total_pages = p.total_pages;
            }
            let empty = p.items.is_empty();
            out.extend(p.items);
            if empty || total_pages.is_some_and(|t| page >= t) {
                break;
            }
        }
        Ok(out)
    }

    /// `POST /orders/{id}/notes`: adds a note (private unless `customer_note`, which also
    /// mails the customer) and returns its id. Does not change the order's `date_modified`
    /// and fires no webhook.
    pub async fn add_order_note(
        &self,
        order_id: i64,
        note: &str,
        customer_note: bool,
    ) -> Result<i64, WooError> {
        let body = serde_json::json!({ "note": note, "customer_note": customer_note });
        let resp = self
            .request(
                Method::POST,
                &format!("/orders/{order_id}/notes"),
                &[],
                Some(&body),
            )
            .await?;
        let created = resp.json::<OrderNote>()?;
        if created.id > 0 {
            return Ok(created.id);
        }
        // No id in the body: fall back to the Location header (`.../notes/51`).
        resp.location
            .as_deref()
            .and_then(|l| l.trim_end_matches('/').rsplit('/').next())
            .and_then(|id| id.parse().ok())
            .ok_or_else(|| WooError::Decode {
                status: resp.status,
                reason: "the created note has no id".to_owned(),
            })
    }

    /// `GET /orders/{id}/notes`: all notes, newest first (this list is not paginated).
    pub async fn list_order_notes(&self, order_id: i64) -> Result<Vec<OrderNote>, WooError> {
        self.request(Method::GET, &format!("/orders/{order_id}/notes"), &[], None)
            .await?
            .json()
    }

    // ---- catalog ----

    /// `GET /products/{id}`.
    pub async fn get_product(&self, product_id: i64) -> Result<Product, WooError> {
        self.request(Method::GET, &format!("/products/{product_id}"), &[], None)
            .await?
            .json()
    }

    /// `GET /products?sku=`: the product, or the variation (in the product shape, with
    /// `type: "variation"` and `parent_id`) with that SKU.
    pub async fn products_by_sku(&self, sku: &str) -> Result<Vec<Product>, WooError> {
        self.request(
            Method::GET,
            "/products",
            &[("sku".to_owned(), sku.to_owned())],
            None,
        )
        .await?
        .json()
    }

    /// Every variation of a variable product (all pages). A combination that does not exist
    /// is simply absent.
    pub async fn product_variations(&self, product_id: i64) -> Result<Vec<Variation>, WooError> {
        self.all_pages(&format!("/products/{product_id}/variations"))
            .await
    }

    /// `GET /products/{id}/variations/{vid}` (404 when the variation belongs to another
    /// product).
    pub async fn get_variation(
        &self,
        product_id: i64,
        variation_id: i64,
    ) -> Result<Variation, WooError> {
        self.request(
            Method::GET,
            &format!("/products/{product_id}/variations/{variation_id}"),
            &[],
            None,
        )
        .await?
        .json()
    }

    /// Every global attribute (`/products/attributes`).
    pub async fn list_attributes(&self) -> Result<Vec<GlobalAttribute>, WooError> {
        self.all_pages("/products/attributes").await
    }

    /// Every term of a global attribute (`/products/attributes/{id}/terms`).
    pub async fn attribute_terms(&self, attribute_id: i64) -> Result<Vec<AttributeTerm>, WooError> {
        self.all_pages(&format!("/products/attributes/{attribute_id}/terms"))
            .await
    }

    // ---- webhooks, settings ----

    /// Every webhook (all pages), to report one that WooCommerce disabled.
    pub async fn list_webhooks(&self) -> Result<Vec<Webhook>, WooError> {
        self.all_pages("/webhooks").await
    }

    /// `GET /webhooks/{id}`.
    pub async fn get_webhook(&self, webhook_id: i64) -> Result<Webhook, WooError> {
        self.request(Method::GET, &format!("/webhooks/{webhook_id}"), &[], None)
            .await?
            .json()
    }

    /// `GET /settings/general` (currency, separators, decimals, base country).
    pub async fn settings_general(&self) -> Result<GeneralSettings, WooError> {
        let entries: Vec<Setting> = self
            .request(Method::GET, "/settings/general", &[], None)
            .await?
            .json()?;
        Ok(GeneralSettings(entries))
    }

    /// `GET /settings/tax` (prices entered with tax, rounding, tax classes...).
    pub async fn settings_tax(&self) -> Result<GeneralSettings, WooError> {
        let entries: Vec<Setting> = self
            .request(Method::GET, "/settings/tax", &[], None)
            .await?
            .json()?;
        Ok(GeneralSettings(entries))
    }

    /// Every tax rate of every class (all pages of `/taxes`).
    pub async fn taxes(&self) -> Result<Vec<TaxRate>, WooError> {
        self.all_pages("/taxes").await
    }

    // ---- plumbing ----

    /// Every page of a collection at `per_page=100`: totals from page 1, stop on `[]` or
    /// after `X-WP-TotalPages`.
    async fn all_pages<T: serde::de::DeserializeOwned>(
        &self,
        endpoint: &str,
    ) -> Result<Vec<T>, WooError> {
        let mut out = Vec::new();
        let mut total_pages = None;
        for page in 1..=MAX_PAGES {
            let query = [
                ("per_page".to_owned(), MAX_PER_PAGE.to_string()),
                ("page".to_owned(), page.to_string()),
            ];
            let resp = self.request(Method::GET, endpoint, &query, None).await?;
            if page == 1 {
                total_pages = resp.total_pages;
            }
            // Each entry parsed on its own from its text: one that does not parse is skipped.
            let items: Vec<LenientEntry<T>> = resp.json()?;
            let n = items.len();
            out.extend(items.into_iter().filter_map(|entry| entry.0));
            let last_by_headers = total_pages.is_some_and(|t| page >= t);
            let short_unpaged = total_pages.is_none() && n < MAX_PER_PAGE as usize;
            if n == 0 || last_by_headers || short_unpaged {
                break;
            }
        }
        Ok(out)
    }

    /// Sends one authenticated request to `API_PREFIX + endpoint` with the (decoded) query
    /// pairs, in order, and a JSON body. Non-2xx answers become [`WooError::Api`].
    async fn request(
        &self,
        method: Method,
        endpoint: &str,
        query: &[(String, String)],
        body: Option<&Value>,
    ) -> Result<RawResponse, WooError> {
        let (url, oauth_header) = self.signed_url(&method, endpoint, query);
        let mut req = self
            .http
            .request(method.clone(), url)
            .header(ACCEPT, "application/json");
        match (self.auth, oauth_header) {
            (AuthMode::Basic, _) => {
                req = req.basic_auth(&self.consumer_key, Some(self.consumer_secret.expose()));
            }
            (_, Some(h)) => req = req.header(reqwest::header::AUTHORIZATION, h),
            _ => {}
        }
        if let Some(b) = body {
            req = req.json(b);
        }
        let method_name = method.as_str().to_owned();
        let fail = |e: reqwest::Error| classify_send_error(e, &method_name, endpoint);
        let resp = req.send().await.map_err(fail)?;
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let bytes = resp.bytes().await.map_err(fail)?;
        tracing::debug!(method = %method_name, endpoint, status, "WooCommerce REST call");
        if !(200..300).contains(&status) {
            let secrets = [self.consumer_secret.expose(), self.consumer_key.as_str()];
            return Err(api_error(status, &headers, &bytes, &method_name, &secrets));
        }
        Ok(RawResponse::new(status, &headers, bytes.to_vec()))
    }

    /// The URL of a request to `API_PREFIX + endpoint` with its query, and the
    /// `Authorization` header when OAuth 1.0a signs in a header. With OAuth 1.0a in the
    /// query, the signed query replaces the plain one.
    fn signed_url(
        &self,
        method: &Method,
        endpoint: &str,
        query: &[(String, String)],
    ) -> (String, Option<String>) {
        let path = format!("{API_PREFIX}{endpoint}");
        let mut query_string = oauth1::encode_query(query);
        let mut oauth_header = None;
        if let AuthMode::OAuth1 {
            method: sig_method,
            placement,
        } = self.auth
        {
            let params = OAuthParams {
                consumer_key: self.consumer_key.clone(),
                nonce: (self.nonce)(),
                timestamp: self.clock.now_ms().div_euclid(1000),
                method: sig_method,
            };
            let signed = oauth1::sign_request(
                &self.consumer_secret,
                &params,
                method.as_str(),
                &format!("{}{path}", self.home_url),
                query,
            );
            match placement {
                Placement::Query => query_string = signed.query_string(query),
                Placement::Header => oauth_header = Some(signed.authorization_header()),
            }
        }
        let url = if query_string.is_empty() {
            format!("{}{path}", self.root)
        } else {
            format!("{}{path}?{query_string}", self.root)
        };
        (url, oauth_header)
    }
}

struct RawResponse {
    status: u16,
    total: Option<u64>,
    total_pages: Option<u32>,
    location: Option<String>,
    body: Vec<u8>,
}

impl RawResponse {
    /// A 2xx answer with its paging totals and `Location` header.
    fn new(status: u16, headers: &HeaderMap, body: Vec<u8>) -> Self {
        RawResponse {
            status,
            total: header_num(headers, "x-wp-total"),
            total_pages: header_num(headers, "x-wp-totalpages")
                .and_then(|n: u64| u32::try_from(n).ok()),
            location: headers
                .get(LOCATION)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
            body,
        }
    }

    fn json<T: serde::de::DeserializeOwned>(&self) -> Result<T, WooError> {
        serde_json::from_slice(&self.body).map_err(|e| WooError::Decode {
            status: self.status,
            reason: e.to_string(),
        })
    }

    fn page<T>(&self, page: u32, items: Vec<T>) -> Page<T> {
        Page {
            items,
            page,
            total: self.total,
            total_pages: self.total_pages,
        }
    }
}

fn header_num(headers: &HeaderMap, name: &str) -> Option<u64> {
    headers.get(name)?.to_str().ok()?.trim().parse().ok()
}

fn classify_send_error(e: reqwest::Error, method: &str, endpoint: &str) -> WooError {
    let e = e.without_url();
    if e.is_connect() {
        WooError::Connect(error_chain(&e))
    } else if e.is_timeout() {
        WooError::Timeout {
            method: method.to_owned(),
            endpoint: endpoint.to_owned(),
        }
    } else if e.is_builder() {
        WooError::InvalidUrl(error_chain(&e))
    } else {
        WooError::Transport {
            method: method.to_owned(),
            endpoint: endpoint.to_owned(),
            message: error_chain(&e),
        }
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(inner) = src {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        src = inner.source();
    }
    s
}

/// Maps an error answer: WooCommerce's `{"code","message","data":{"status"}}` when present,
/// else the start of the body; as a provider's excerpt, on one line, at most 200
/// characters, with the REST keys (`secrets`) blanked out.
fn api_error(
    status: u16,
    headers: &HeaderMap,
    body: &[u8],
    method: &str,
    secrets: &[&str],
) -> WooError {
    #[derive(Deserialize)]
    struct ErrorBody {
        #[serde(default, deserialize_with = "lenient_string")]
        code: String,
        #[serde(default, deserialize_with = "lenient_string")]
        message: String,
    }
    let retry_after = headers
        .get(RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs);
    let (code, message) = match serde_json::from_slice::<ErrorBody>(body) {
        Ok(b) => {
            let redact = |t: String| match t.is_empty() {
                true => t,
                false => crate::providers::excerpt(t.as_bytes(), secrets),
            };
            (redact(b.code), redact(b.message))
        }
        Err(_) => (String::new(), crate::providers::excerpt(body, secrets)),
    };
    WooError::Api {
        status,
        code,
        message,
        retry_after,
        method: method.to_owned(),
    }
}

/// Splits a JSON array into its elements' bytes, exactly as sent (no re-serialisation).
/// `None` when the text is not an array.
// Stays whole: one pass of a byte scanner whose match arms share its depth and string state.
pub fn split_json_array(bytes: &[u8]) -> Option<Vec<&[u8]>> {
    let is_ws = |b: u8| matches!(b, b' ' | b'\t' | b'\n' | b'\r');
    let skip_ws = |mut i: usize| {
        while i < bytes.len() && is_ws(bytes[i]) {
            i += 1;
        }
        i
    };
    // A UTF-8 BOM is tolerated (some PHP set-ups emit one).
    let start_at = if bytes.starts_with(b"\xEF\xBB\xBF") {
        3
    } else {
        0
    };
    let mut i = skip_ws(start_at);
    if bytes.get(i) != Some(&b'[') {
        return None;
    }
    i += 1;
    let trim = |s: usize, e: usize| {
        let mut e = e;
        while e > s && is_ws(bytes[e - 1]) {
            e -= 1;
        }
        &bytes[s..e]
    };
    let mut items = Vec::new();
    let (mut depth, mut in_str, mut esc) = (0usize, false, false);
    let mut start: Option<usize> = None;
    while i < bytes.len() {
        let b = bytes[i];
        if in_str {
            if esc {
                esc = false;
            } else if b == b'\\' {
                esc = true;
            } else if b == b'"' {
                in_str = false;
            }
            i += 1;
            continue;
        }
        match b {
            b'"' => {
                in_str = true;
                start.get_or_insert(i);
            }
            b'[' | b'{' => {
                depth += 1;
                start.get_or_insert(i);
            }
            b']' | b'}' if depth > 0 => depth -= 1,
            b']' => {
                if let Some(s) = start.take() {
                    items.push(trim(s, i));
                } else if !items.is_empty() {
                    return None; // trailing comma
                }
                return (skip_ws(i + 1) == bytes.len()).then_some(items);
            }
            b',' if depth == 0 => items.push(trim(start.take()?, i)),
            b if is_ws(b) => {}
            _ => {
                start.get_or_insert(i);
            }
        }
        i += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_arrays_exactly() {
        let text = br#" [ {"a":"x,]}","b":[1,2]} , {"c":"q\"]"},[3] ] "#;
        let parts = split_json_array(text).expect("array");
        assert_eq!(parts.len(), 3);
        assert_eq!(parts[0], br#"{"a":"x,]}","b":[1,2]}"#);
        assert_eq!(parts[1], br#"{"c":"q\"]"}"#);
        assert_eq!(parts[2], b"[3]");
        assert_eq!(split_json_array(b"[]").map(|v| v.len()), Some(0));
        assert!(split_json_array(b"{}").is_none());
        assert!(split_json_array(b"[1,").is_none());
        assert!(split_json_array(b"[1] x").is_none());
        assert!(split_json_array(b"[1,]").is_none());
    }

    #[test]
    fn auth_by_scheme_and_roots() {
        assert_eq!(AuthMode::for_url("https://shop.example"), AuthMode::Basic);
        assert!(matches!(
            AuthMode::for_url("http://shop.example"),
            AuthMode::OAuth1 { .. }
        ));
        assert_eq!(
            shop_root("https://shop.example/blog/wp-json/wc/v3/").expect("ok"),
            "https://shop.example/blog"
        );
        assert!(shop_root("ftp://x").is_err());
        assert!(shop_root("http://x/?rest_route=/wc/v3").is_err());
    }

    #[test]
    fn error_excerpts_are_flat_short_and_redacted() {
        let headers = HeaderMap::new();
        let body = format!("<h1>Fatal</h1>\nkey cs_secret1 {}", "x".repeat(500));
        let WooError::Api { code, message, .. } = api_error(
            500,
            &headers,
            body.as_bytes(),
            "GET",
            &["cs_secret1", "ck_1"],
        ) else {
            panic!("an API error");
        };
        assert_eq!(code, "");
        assert!(message.starts_with("<h1>Fatal</h1> key *** x"), "{message}");
        assert!(message.chars().count() <= 201, "{message}");
        let body = br#"{"code":"woocommerce_rest_cannot_view","message":"Sorry ck_1 cs_secret1"}"#;
        let WooError::Api { code, message, .. } =
            api_error(401, &headers, body, "GET", &["cs_secret1", "ck_1"])
        else {
            panic!("an API error");
        };
        assert_eq!(code, "woocommerce_rest_cannot_view");
        assert_eq!(message, "Sorry *** ***");
    }

    #[test]
    fn error_classes() {
        let api = |status: u16, method: &str| WooError::Api {
            status,
            code: String::new(),
            message: String::new(),
            retry_after: None,
            method: method.to_owned(),
        };
        assert!(api(503, "GET").retryable());
        assert!(api(429, "POST").retryable());
        assert!(!api(404, "GET").retryable());
        assert!(api(404, "GET").is_not_found());
        assert!(api(403, "GET").is_auth());
        let t = |m: &str| WooError::Timeout {
            method: m.to_owned(),
            endpoint: "/orders/1/notes".to_owned(),
        };
        assert!(t("POST").may_have_taken_effect());
        assert!(!t("POST").retryable());
        assert!(t("GET").retryable());
        assert!(!t("GET").may_have_taken_effect());
        assert!(WooError::Connect("refused".into()).retryable());
        assert!(!WooError::Connect("refused".into()).may_have_taken_effect());
    }
}

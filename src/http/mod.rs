//! The HTTP API: poem + poem-openapi. Handlers parse and authenticate, then call one domain
//! or store function. Every error is a JSON problem body (see [`problem`]).

use std::sync::Arc;

use poem::{Endpoint, EndpointExt, IntoResponse, Route, get, handler};
use poem_openapi::{OpenApiService, Tags};
use tokio::sync::Notify;

use crate::clock::Clock;
use crate::config::Config;
use crate::metrics::Metrics;
use crate::store::Store;

pub mod admin;
pub mod callbacks;
pub mod conn;
pub mod events;
pub mod gateway;
pub mod health;
pub mod key2print;
pub mod key2print_lists;
pub mod key2print_price;
pub mod privacy;
pub mod problem;
pub mod ratelimit;
pub mod raw;
pub mod replays;
pub mod spec;
pub mod stores;
pub mod webhooks;

/// What every handler may use.
pub struct AppState {
    pub config: Arc<Config>,
    pub store: Store,
    pub clock: Arc<dyn Clock>,
    pub metrics: Arc<Metrics>,
    /// Wakes the dispatcher when new jobs were planned.
    pub dispatch_wakeup: Arc<Notify>,
    /// Key2print WEBAPI clients of the stores that use Key2print.
    pub key2print: key2print::Key2printClients,
    /// Catalog reads cached for the Key2print product gateway.
    pub catalog: Arc<crate::gateway::CatalogCache>,
    /// Key2print lists (template formats, templates, placeholders) read for the plugin.
    pub key2print_lists: Arc<key2print_lists::ListCache>,
    /// Webhook deliveries: stored, answered, applied to the ledger in order.
    pub intake: Arc<crate::intake::queue::IntakeQueue>,
    /// Recently stored deliveries, so that an identical replay is not stored again.
    pub recent: replays::RecentDeliveries,
    /// Key2print session creation per store (`key2print.sessions_per_minute`).
    pub session_limits: ratelimit::RateLimits,
}

impl AppState {
    pub fn wake_dispatcher(&self) {
        self.dispatch_wakeup.notify_one();
    }
}

#[derive(Tags)]
pub enum ApiTags {
    /// Deliveries from the shop.
    Webhooks,
    /// For operators: the ledger, jobs, dead letters and replay (admin bearer token).
    Admin,
    /// Callbacks from providers (signed by them).
    Callbacks,
    /// For the WordPress plugin (the store's bearer token).
    Stores,
    /// Liveness, readiness and metrics.
    Operations,
    /// Order events the bridge posts to each endpoint of `[[stores.events]]` that takes their
    /// type, signed as the Standard Webhooks specification describes (`webhook-id`,
    /// `webhook-timestamp`, `webhook-signature`). Verify the signature before trusting a body
    /// and dedupe on `webhook-id`: a retried or replayed event carries the same id and body.
    Events,
}

pub type Apis = (
    health::HealthApi,
    webhooks::WebhookApi,
    callbacks::CallbackApi,
    gateway::GatewayApi,
    stores::StoreApi,
    key2print::Key2printApi,
    privacy::PrivacyApi,
    key2print_price::Key2printPriceApi,
    key2print_lists::Key2printListsApi,
    admin::AdminApi,
);

/// The OpenAPI service; needs no state, so `printbridge openapi` can print the spec offline.
pub fn api_service() -> OpenApiService<Apis, events::EventWebhooks> {
    let apis: Apis = (
        health::HealthApi,
        webhooks::WebhookApi,
        callbacks::CallbackApi,
        gateway::GatewayApi,
        stores::StoreApi,
        key2print::Key2printApi,
        privacy::PrivacyApi,
        key2print_price::Key2printPriceApi,
        key2print_lists::Key2printListsApi,
        admin::AdminApi,
    );
    OpenApiService::new(apis, "PrintBridge", env!("CARGO_PKG_VERSION"))
        .description(
            "PrintBridge receives WooCommerce order webhooks, keeps a durable ledger and places \
         each paid order's print items with Spiff, Apliiq and Key2print exactly once. Errors \
         are JSON: `{\"error\": code, \"message\": text, \"field\": name}`.",
        )
        .license("Apache-2.0")
        .webhooks::<events::EventWebhooks>()
}

/// The published OpenAPI document (see [`spec`]).
fn openapi_document() -> &'static serde_yaml::Value {
    static DOC: std::sync::OnceLock<serde_yaml::Value> = std::sync::OnceLock::new();
    DOC.get_or_init(|| spec::refine(&api_service().spec()))
}

/// The OpenAPI document as YAML (what `openapi/openapi.yaml` must contain).
pub fn openapi_yaml() -> String {
    serde_yaml::to_string(openapi_document()).unwrap_or_default()
}

/// The OpenAPI document as JSON.
pub fn openapi_json() -> String {
    serde_json::to_string_pretty(openapi_document()).unwrap_or_default()
}

#[handler]
fn spec_json() -> poem::Response {
    poem::Response::builder()
        .content_type("application/json; charset=utf-8")
        .body(openapi_json())
}

#[handler]
fn spec_yaml() -> poem::Response {
    poem::Response::builder()
        .content_type("application/x-yaml; charset=utf-8")
        .body(openapi_yaml())
}

#[handler]
fn index() -> poem::web::Redirect {
    poem::web::Redirect::see_other("/docs")
}

/// The interactive API documentation (Swagger UI with the spec inlined). Built on its first
/// request, not at start: the page is about 1.6 MB (the UI's script and style are in it), which
/// poem-openapi's own endpoint builds and keeps, and copies for every request, from the start
/// of every bridge; an idle bridge did not need that memory.
#[handler]
fn docs() -> poem::web::Html<&'static str> {
    static PAGE: std::sync::OnceLock<&'static str> = std::sync::OnceLock::new();
    poem::web::Html(PAGE.get_or_init(|| {
        // The page inlines poem-openapi's document; it shows the published one.
        let api = api_service();
        let html = api.swagger_ui_html().replace(&api.spec(), &openapi_json());
        Box::leak(html.into_boxed_str())
    }))
}

/// The whole HTTP application.
pub fn routes(state: Arc<AppState>) -> impl Endpoint {
    let api = api_service();
    Route::new()
        .at("/", get(index))
        .at("/openapi.json", get(spec_json))
        .at("/openapi.yaml", get(spec_yaml))
        .at("/docs", get(docs))
        .at("/docs/", get(docs))
        .nest("/", api)
        .data(state)
        .catch_all_error(problem::problem_from_error)
        .around(challenge)
}

/// Adds `WWW-Authenticate` to every 401 that lacks one, naming what the endpoint checks:
/// the WooCommerce or Apliiq signature header, else a bearer token.
async fn challenge<E: Endpoint>(ep: Arc<E>, req: poem::Request) -> poem::Result<poem::Response> {
    let scheme = match req.uri().path() {
        p if p.starts_with("/v1/webhooks/") => {
            "WC-Webhook-Signature realm=\"printbridge\", header=\"X-WC-Webhook-Signature\""
        }
        p if p.starts_with("/v1/callbacks/") => {
            "Apliiq-HMAC realm=\"printbridge\", header=\"x-apliiq-hmac\""
        }
        _ => "Bearer realm=\"printbridge\"",
    };
    let mut resp = ep.call(req).await?.into_response();
    if resp.status() == poem::http::StatusCode::UNAUTHORIZED
        && !resp
            .headers()
            .contains_key(poem::http::header::WWW_AUTHENTICATE)
    {
        resp.headers_mut().insert(
            poem::http::header::WWW_AUTHENTICATE,
            poem::http::HeaderValue::from_static(scheme),
        );
    }
    Ok(resp)
}

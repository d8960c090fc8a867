//! `GET /v1/key2print/{store}/gateway/{product-details,available-options,price,setup-data}`:
//! the Key2print Product Gateway callbacks, answered from the shop's WooCommerce catalog,
//! and `GET /v1/admin/key2print/{store}/gateway-errors` for the operator.
//!
//! The callbacks always answer HTTP 200 with the spec's envelope
//! `{"success": bool, "data": {...}, "details": "..."}`, also when the signature is wrong;
//! every failure is recorded in `gateway_errors`. The handlers read the whole query string
//! themselves (custom parameters from the session URLs are signed too); see
//! [`crate::gateway::auth`] for the rules.

use std::sync::Arc;
use std::time::Duration;

use poem::Request;
use poem::web::Data;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};

use super::admin::{AdminAuth, AdminResponse, page};
use super::problem::ApiError;
use super::{ApiTags, AppState};
use crate::gateway::{Gateway, GatewayError, Method};
use crate::providers::key2print::{ErrorLogEntry, ErrorLogFilter, Key2printClient, parse_query};

/// Longest wait for one WooCommerce call made for a callback (the editor is waiting).
pub(super) const WOO_TIMEOUT: Duration = Duration::from_secs(10);

/// The Product Gateway answer envelope.
#[derive(Debug, Clone, Object)]
pub struct GatewayEnvelope {
    /// Whether the call succeeded.
    pub success: bool,
    /// The method's data (only with `success: true`).
    #[oai(skip_serializing_if_is_none)]
    pub data: Option<serde_json::Value>,
    /// What went wrong (only with `success: false`); Key2print logs it.
    #[oai(skip_serializing_if_is_none)]
    pub details: Option<String>,
}

/// A gateway failure recorded by the bridge.
#[derive(Debug, Clone, Object)]
pub struct GatewayErrorView {
    pub id: i64,
    /// Unix milliseconds.
    pub at: i64,
    /// `getProductDetails`, `getAvailableOptions`, `getPrice` or `getSetupData`.
    pub method: String,
    pub product_identifier: Option<String>,
    pub details: String,
}

/// A gateway error as Key2print logged it (`error_log/list`).
#[derive(Debug, Clone, Object)]
pub struct WebapiErrorView {
    pub details: Option<String>,
    /// Unix seconds.
    pub tstamp: Option<i64>,
    pub date: Option<String>,
    pub product_identifier: Option<String>,
    pub method: Option<String>,
}

/// Key2print's own error log, or why it could not be read.
#[derive(Debug, Clone, Object)]
pub struct WebapiErrorLog {
    /// Whether the log was read.
    pub available: bool,
    pub entries: Vec<WebapiErrorView>,
    /// Why the log could not be read.
    #[oai(skip_serializing_if_is_none)]
    pub error: Option<String>,
}

/// The gateway failures of a store: the bridge's records and Key2print's log.
#[derive(Debug, Clone, Object)]
pub struct GatewayErrorsAnswer {
    pub store: String,
    /// Recorded by the bridge, newest first.
    pub errors: Vec<GatewayErrorView>,
    /// Records matching the filter in all.
    pub total: i64,
    pub offset: i64,
    pub limit: i64,
    /// Key2print's WEBAPI error log (`error_log/list`) for the same filter.
    pub webapi_error_log: WebapiErrorLog,
}

/// The four Product Gateway callbacks and the operator's view of their failures.
pub struct GatewayApi;

async fn callback(state: &AppState, store: &str, req: &Request, method: Method) -> GatewayEnvelope {
    let params = parse_query(req.uri().query().unwrap_or(""));
    let product_identifier = params
        .iter()
        .find(|(k, _)| k == "productIdentifier")
        .map(|(_, v)| v.as_str());
    let Some(cfg) = state.config.store(store) else {
        return GatewayEnvelope {
            success: false,
            data: None,
            // The answer to a wrong key: store ids cannot be enumerated.
            details: Some(crate::gateway::auth::AuthError::ForeignKey.to_string()),
        };
    };
    let now_ms = state.clock.now_ms();
    let gateway = Gateway {
        store: cfg,
        cache: &state.catalog,
        now_ms,
        timeout: state.config.dispatch.request_timeout().min(WOO_TIMEOUT),
    };
    match gateway.answer(method, &params).await {
        Ok(data) => GatewayEnvelope {
            success: true,
            data: Some(data),
            details: None,
        },
        Err(e) => {
            let details = e.to_string();
            tracing::warn!(
                store = %cfg.id,
                method = method.name(),
                product_identifier = product_identifier.unwrap_or(""),
                error = %details,
                "Key2print gateway call failed"
            );
            if let Err(db) = state
                .store
                .record_gateway_error(&cfg.id, now_ms, method.name(), product_identifier, &details)
                .await
            {
                tracing::error!(store = %cfg.id, error = %db, "could not record a gateway error");
            }
            failure(&e)
        }
    }
}

fn failure(e: &GatewayError) -> GatewayEnvelope {
    GatewayEnvelope {
        success: false,
        data: None,
        details: Some(e.to_string()),
    }
}

#[OpenApi(tag = "ApiTags::Callbacks")]
impl GatewayApi {
    /// Key2print gateway: Get Product Details
    ///
    /// Called by the Key2print editor. `data`: `{name, defaultSetup, options: [{id, name,
    /// values: [{id, name}]}]}` from the WooCommerce product and its variation attributes
    /// (option id: `pa_<attribute>` or the custom attribute's sanitised name; value id: term
    /// slug or the custom value). Authenticated by `sign` over every other query parameter,
    /// custom ones included. Always HTTP 200; failures are `success: false` with `details`.
    #[oai(
        path = "/v1/key2print/:store/gateway/product-details",
        method = "get",
        operation_id = "key2printGatewayProductDetails"
    )]
    #[allow(clippy::too_many_arguments)]
    async fn product_details(
        &self,
        state: Data<&Arc<AppState>>,
        req: &Request,
        store: Path<String>,
        /// The WooCommerce product id given at session start.
        #[oai(name = "productIdentifier")]
        _product_identifier: Query<Option<String>>,
        /// The merchant's Key2print API key.
        #[oai(name = "key")]
        _key: Query<Option<String>>,
        /// Unix seconds; must be within `gateway_tstamp_window_secs` of the bridge's clock.
        #[oai(name = "tstamp")]
        _tstamp: Query<Option<String>>,
        /// HMAC-SHA256 (keyed with the hex SHA-256 of the API secret) over the sorted
        /// `key=value` pairs of every other parameter.
        #[oai(name = "sign")]
        _sign: Query<Option<String>>,
    ) -> Json<GatewayEnvelope> {
        Json(callback(&state, &store.0, req, Method::ProductDetails).await)
    }

    /// Key2print gateway: Get Available Options
    ///
    /// `data`: `{validSetup, availableOptions: {optionId: [valueId, ...]}}`: the values
    /// that existing, purchasable, in-stock variations allow given the other options of the
    /// (corrected) setup. An impossible setup is corrected in `validSetup`.
    #[oai(
        path = "/v1/key2print/:store/gateway/available-options",
        method = "get",
        operation_id = "key2printGatewayAvailableOptions"
    )]
    #[allow(clippy::too_many_arguments)]
    async fn available_options(
        &self,
        state: Data<&Arc<AppState>>,
        req: &Request,
        store: Path<String>,
        /// The WooCommerce product id given at session start.
        #[oai(name = "productIdentifier")]
        _product_identifier: Query<Option<String>>,
        /// The merchant's Key2print API key.
        #[oai(name = "key")]
        _key: Query<Option<String>>,
        /// Unix seconds; must be within `gateway_tstamp_window_secs` of the bridge's clock.
        #[oai(name = "tstamp")]
        _tstamp: Query<Option<String>>,
        /// HMAC-SHA256 over the sorted `key=value` pairs of every other parameter.
        #[oai(name = "sign")]
        _sign: Query<Option<String>>,
        /// The selected setup: a JSON object of option id to value id.
        #[oai(name = "setup")]
        _setup: Query<Option<String>>,
    ) -> Json<GatewayEnvelope> {
        Json(callback(&state, &store.0, req, Method::AvailableOptions).await)
    }

    /// Key2print gateway: Get Price
    ///
    /// `data`: `{netPrice, grossPrice, tax, taxRate, currency, isAvailable, additionalInfo}`
    /// of the variation the setup designates (tax from the shop's own tax settings and rates
    /// at its base address, or from the store's `tax_rates` for a class configured there),
    /// or `{priceOptionTree}` when the product defines one in the meta
    /// `_printbridge_key2print_price_tree`.
    #[oai(
        path = "/v1/key2print/:store/gateway/price",
        method = "get",
        operation_id = "key2printGatewayPrice"
    )]
    #[allow(clippy::too_many_arguments)]
    async fn price(
        &self,
        state: Data<&Arc<AppState>>,
        req: &Request,
        store: Path<String>,
        /// The WooCommerce product id given at session start.
        #[oai(name = "productIdentifier")]
        _product_identifier: Query<Option<String>>,
        /// The merchant's Key2print API key.
        #[oai(name = "key")]
        _key: Query<Option<String>>,
        /// Unix seconds; must be within `gateway_tstamp_window_secs` of the bridge's clock.
        #[oai(name = "tstamp")]
        _tstamp: Query<Option<String>>,
        /// HMAC-SHA256 over the sorted `key=value` pairs of every other parameter.
        #[oai(name = "sign")]
        _sign: Query<Option<String>>,
        /// The selected setup: a JSON object of option id to value id.
        #[oai(name = "setup")]
        _setup: Query<Option<String>>,
    ) -> Json<GatewayEnvelope> {
        Json(callback(&state, &store.0, req, Method::Price).await)
    }

    /// Key2print gateway: Get Setup Data
    ///
    /// `data`: `{pageCount, templateFormatId}` from the variation's (else the product's)
    /// meta `_printbridge_key2print_page_count` (default 1) and
    /// `_printbridge_key2print_template_format_id` (default null).
    #[oai(
        path = "/v1/key2print/:store/gateway/setup-data",
        method = "get",
        operation_id = "key2printGatewaySetupData"
    )]
    #[allow(clippy::too_many_arguments)]
    async fn setup_data(
        &self,
        state: Data<&Arc<AppState>>,
        req: &Request,
        store: Path<String>,
        /// The WooCommerce product id given at session start.
        #[oai(name = "productIdentifier")]
        _product_identifier: Query<Option<String>>,
        /// The merchant's Key2print API key.
        #[oai(name = "key")]
        _key: Query<Option<String>>,
        /// Unix seconds; must be within `gateway_tstamp_window_secs` of the bridge's clock.
        #[oai(name = "tstamp")]
        _tstamp: Query<Option<String>>,
        /// HMAC-SHA256 over the sorted `key=value` pairs of every other parameter.
        #[oai(name = "sign")]
        _sign: Query<Option<String>>,
        /// The selected setup: a JSON object of option id to value id.
        #[oai(name = "setup")]
        _setup: Query<Option<String>>,
    ) -> Json<GatewayEnvelope> {
        Json(callback(&state, &store.0, req, Method::SetupData).await)
    }

    /// List Key2print gateway errors
    ///
    /// The product gateway failures the bridge recorded for a store (newest first), beside
    /// Key2print's own error log (`error_log/list`). When Key2print cannot be asked, its
    /// part says why and the bridge's records are still listed.
    #[oai(
        path = "/v1/admin/key2print/:store/gateway-errors",
        method = "get",
        operation_id = "listKey2printGatewayErrors",
        tag = "ApiTags::Admin"
    )]
    async fn gateway_errors(
        &self,
        _auth: AdminAuth,
        state: Data<&Arc<AppState>>,
        store: Path<String>,
        /// Only errors of this product identifier.
        product_identifier: Query<Option<String>>,
        offset: Query<Option<i64>>,
        /// 1 to 500, default 50.
        limit: Query<Option<i64>>,
    ) -> Result<AdminResponse<GatewayErrorsAnswer>, ApiError> {
        let cfg = state
            .config
            .store(&store.0)
            .ok_or_else(|| ApiError::unknown_store(&store.0))?;
        let (offset, limit) = page(offset.0, limit.0)?;
        let product = product_identifier.0.filter(|p| !p.is_empty());
        let page = state
            .store
            .gateway_errors(&cfg.id, product.as_deref(), offset, limit)
            .await?;
        let webapi_error_log = webapi_error_log(
            state.key2print.get(&cfg.id).map(AsRef::as_ref),
            &cfg.id,
            product,
        )
        .await;
        Ok(AdminResponse::Ok(Json(GatewayErrorsAnswer {
            store: cfg.id.clone(),
            errors: page
                .errors
                .into_iter()
                .map(|r| GatewayErrorView {
                    id: r.id,
                    at: r.at,
                    method: r.method,
                    product_identifier: r.product_identifier,
                    details: r.details,
                })
                .collect(),
            total: page.total,
            offset,
            limit,
            webapi_error_log,
        })))
    }
}

/// Key2print's own error log of a store (of one product when given), or why it cannot be read.
async fn webapi_error_log(
    client: Option<&Key2printClient>,
    store: &str,
    product: Option<String>,
) -> WebapiErrorLog {
    let Some(client) = client else {
        return WebapiErrorLog {
            available: false,
            entries: Vec::new(),
            error: Some(format!("store {store} has no [stores.key2print] section")),
        };
    };
    let filter = ErrorLogFilter {
        product_identifier: product,
        ..ErrorLogFilter::default()
    };
    match client.all_error_log(&filter).await {
        Ok(entries) => WebapiErrorLog {
            available: true,
            entries: entries.into_iter().map(webapi_error_view).collect(),
            error: None,
        },
        Err(e) => WebapiErrorLog {
            available: false,
            entries: Vec::new(),
            error: Some(format!("Key2print's error log could not be read: {e}")),
        },
    }
}

fn webapi_error_view(e: ErrorLogEntry) -> WebapiErrorView {
    WebapiErrorView {
        details: e.details,
        tstamp: e.tstamp,
        date: e.date,
        product_identifier: match e.product_identifier {
            serde_json::Value::Null => None,
            serde_json::Value::String(s) => Some(s),
            other => Some(other.to_string()),
        },
        method: e.method,
    }
}

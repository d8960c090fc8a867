//! `/v1/stores/{store}/privacy/...`: one customer's personal data, exported or erased, for
//! the plugin's WordPress exporter and eraser (the store's bearer token). The e-mail travels
//! in the request body, never in a URL that proxies and access logs keep.

use std::sync::Arc;

use poem::web::Data;
use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};

use super::problem::ApiError;
use super::stores::{StoreResponse, StoreToken, authorize};
use super::{ApiTags, AppState};
use crate::privacy::{ErasurePage, ExportPage, Subject};

/// Whom the request is about.
#[derive(Debug, Clone, Object)]
pub struct PrivacyRequest {
    /// The customer's billing e-mail (compared trimmed, without case).
    pub email: String,
    /// Their WooCommerce customer id, when they have an account (0 or absent: a guest).
    pub customer_id: Option<i64>,
    /// Export only: the page after this order id (the previous page's `next_after`).
    pub after: Option<i64>,
}

impl PrivacyRequest {
    fn subject(&self) -> Result<Subject, ApiError> {
        Subject::new(&self.email, self.customer_id)
            .map_err(|e| ApiError::bad_request("invalid_request", e.to_string(), e.field()))
    }
}

pub struct PrivacyApi;

#[OpenApi(prefix_path = "/v1/stores", tag = "ApiTags::Stores")]
impl PrivacyApi {
    /// Export a customer's data
    ///
    /// Everything the bridge holds of the customer's orders (found by billing e-mail or
    /// customer id): ledger, delivery bodies, jobs with attempts, files, tracking; ten
    /// orders a page.
    #[oai(
        path = "/:store/privacy/export",
        method = "post",
        operation_id = "exportPersonalData"
    )]
    async fn export(
        &self,
        token: StoreToken,
        state: Data<&Arc<AppState>>,
        store: Path<String>,
        body: Json<PrivacyRequest>,
    ) -> Result<StoreResponse<ExportPage>, ApiError> {
        let cfg = authorize(&state, &store.0, &token)?;
        let subject = body.0.subject()?;
        let after = body.0.after.unwrap_or(0);
        let page = state.store.export_subject(&cfg.id, &subject, after).await?;
        Ok(StoreResponse::Ok(Json(page)))
    }

    /// Erase a customer's data
    ///
    /// Redacts the customer's orders in place (ids, states, times, amounts and hashes stay),
    /// cancels their jobs not yet placed and removes kept files, ten orders per call: call
    /// again until `done`.
    #[oai(
        path = "/:store/privacy/erase",
        method = "post",
        operation_id = "erasePersonalData"
    )]
    async fn erase(
        &self,
        token: StoreToken,
        state: Data<&Arc<AppState>>,
        store: Path<String>,
        body: Json<PrivacyRequest>,
    ) -> Result<StoreResponse<ErasurePage>, ApiError> {
        let cfg = authorize(&state, &store.0, &token)?;
        let subject = body.0.subject()?;
        let now = state.clock.now_ms();
        let page = state.store.erase_subject(&cfg.id, &subject, now).await?;
        for (kind, n) in page.counts() {
            state.metrics.privacy_redacted("erasure", kind, n);
        }
        if !page.orders.is_empty() {
            tracing::info!(
                store = %cfg.id,
                orders = page.orders.len(),
                done = page.done,
                "personal data erased on request"
            );
        }
        Ok(StoreResponse::Ok(Json(page)))
    }
}

//! `/v1/stores/{store}/...`: what the WordPress plugin calls, with the store's bearer token
//! (`api_token`). The token is checked in each handler, after the store id is known.

use std::sync::Arc;

use poem::web::Data;
use poem_openapi::auth::Bearer;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::{Binary, Json};
use poem_openapi::{ApiResponse, Enum, Object, OpenApi, SecurityScheme};

use super::problem::{ApiError, Problem};
use super::{ApiTags, AppState};
use crate::config::StoreConfig;
use crate::intake::parse::{parse_order_json, plan_provider_jobs};
use crate::outbox::job_types::{JobQueue, JobState};
use crate::outbox::jobs::OwnerAction;
use crate::reads::jobs::{OrderWaits, TrackingView};
use crate::reads::orders::rfc3339;

/// The store's `api_token` as a bearer token.
#[derive(SecurityScheme)]
#[oai(ty = "bearer", rename = "StoreToken")]
pub struct StoreToken(Bearer);

/// Resolves the store and checks its token in constant time; an unknown store gets the
/// same 401 as a wrong token.
pub fn authorize<'a>(
    state: &'a AppState,
    store: &str,
    token: &StoreToken,
) -> Result<&'a StoreConfig, ApiError> {
    // An unknown store is answered like a wrong token, so store ids cannot be enumerated.
    let cfg = state.config.store(store);
    match cfg.and_then(|c| c.api_token.as_ref().map(|t| (c, t))) {
        Some((cfg, expected)) if expected.matches(&token.0.token) => Ok(cfg),
        _ => Err(ApiError::Unauthorized(Json(
            Problem::new(
                "unauthorized",
                format!("missing or wrong bearer token for store {store} (api_token)"),
            )
            .field("Authorization"),
        ))),
    }
}

/// Answers of the plugin's API.
pub type StoreResponse<T> = super::problem::Authed<T>;

#[derive(ApiResponse)]
pub enum FileResponse {
    /// The kept file.
    #[oai(status = 200, content_type = "application/pdf")]
    Pdf(
        Binary<Vec<u8>>,
        #[oai(header = "Content-Disposition")] String,
    ),
}

/// What the plugin's "Test connection" shows.
#[derive(Debug, Object)]
pub struct StoreStatus {
    pub store: String,
    /// The bridge's version.
    pub version: String,
    /// Providers configured for this store.
    pub providers: Vec<String>,
    /// Where the shop's webhooks must point (from `public_url`, when set).
    pub webhook_url: Option<String>,
    /// The bridge holds WooCommerce REST keys (notes, reconciliation, catalog).
    pub rest_keys: bool,
    /// When the bridge last received a delivery from this store.
    pub last_delivery_at: Option<String>,
    /// How the plugin loads Spiff's editor, when the store uses Spiff.
    #[oai(skip_serializing_if_is_none)]
    pub spiff: Option<SpiffStorefront>,
}

/// Spiff's editor on the shop's product pages, in the Spiff system the bridge orders from.
#[derive(Debug, Object)]
pub struct SpiffStorefront {
    /// `us`, `au` or `au-legacy` (the store's `spiff.region`).
    pub region: String,
    /// Spiff's storefront script for the region.
    pub api_js_url: String,
    /// The store's Spiff application key, when one is configured: Spiff issues application
    /// keys for code that cannot keep a secret, and its editor needs it in the browser.
    #[oai(skip_serializing_if_is_none)]
    pub application_key: Option<String>,
}

impl SpiffStorefront {
    fn of(cfg: &StoreConfig) -> Option<SpiffStorefront> {
        let sp = cfg.spiff.as_ref()?;
        Some(SpiffStorefront {
            region: sp.region.as_str().to_owned(),
            api_js_url: sp.region.storefront_script().to_owned(),
            application_key: sp.application_key.as_ref().map(|k| k.expose().to_owned()),
        })
    }
}

/// One provider order (or Key2print PDF) of a WooCommerce order.
#[derive(Debug, Object)]
pub struct ProviderOrderView {
    pub provider: String,
    /// `order`, or the Key2print project id.
    pub target: String,
    /// pending, retrying, running, needs-review, dead, done, cancelled, held (until the
    /// owner sends it) or awaiting-approval.
    pub state: String,
    /// The provider's order id once placed.
    pub provider_order_id: Option<String>,
    pub attempts: i64,
    pub last_error: Option<String>,
    pub next_attempt_at: Option<String>,
    /// The kept PDF (`/v1/stores/{store}/files/{file_id}`).
    pub file_id: Option<i64>,
    pub tracking: Vec<TrackingView>,
}

/// The bridge's view of one order, for the plugin's order screen.
#[derive(Debug, Object)]
pub struct StoreOrderView {
    pub store: String,
    pub order_id: i64,
    pub status: String,
    pub paid: bool,
    /// The order's WooCommerce payment method id (`cod`, `stripe`, …).
    pub payment_method: String,
    pub provider_orders: Vec<ProviderOrderView>,
    /// What an operator should look at, in words.
    pub attention: Vec<String>,
    /// Why the order's print jobs wait, when they do.
    #[oai(skip_serializing_if_is_none)]
    pub waiting: Option<OrderWait>,
}

/// Why an order's print jobs wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "lowercase")]
pub enum WaitReason {
    /// The order is not paid by its payment method's policy (`paid_statuses` names what
    /// counts as paid): nothing is planned yet.
    Payment,
    /// Jobs await the owner's approval (Approve).
    Approval,
    /// The owner holds jobs until they are sent (Send now).
    Held,
    /// Jobs wait for the store's hold window (`print_at`; Send now or Hold).
    Hold,
}

/// What an order waits for before it goes to print; the first reason that applies, in
/// the order of [`WaitReason`], with the counts the order screen's buttons need.
#[derive(Debug, Object)]
pub struct OrderWait {
    pub reason: WaitReason,
    /// The reason in words.
    pub message: String,
    /// The statuses that count as paid for the order's payment method.
    pub paid_statuses: Vec<String>,
    /// When the jobs waiting for the hold window are due (RFC 3339, UTC).
    #[oai(skip_serializing_if_is_none)]
    pub print_at: Option<String>,
    /// Jobs the owner holds.
    pub held: i64,
    /// Jobs awaiting the owner's approval.
    pub awaiting_approval: i64,
}

impl OrderWait {
    /// The wait of an order in `status`, paid with `payment_method`, whose jobs wait as
    /// `waits` says; `unpaid_printable` when it has print items and is not paid yet.
    fn of(
        cfg: &StoreConfig,
        payment_method: &str,
        unpaid_printable: bool,
        waits: OrderWaits,
    ) -> Option<OrderWait> {
        let paid_statuses = cfg.paid_statuses_for(payment_method).to_vec();
        let (reason, message) = if unpaid_printable {
            let method = if payment_method.is_empty() {
                "no payment method"
            } else {
                payment_method
            };
            let message = format!(
                "paid with {method}: goes to print when the order is {}",
                paid_statuses.join(" or ")
            );
            (WaitReason::Payment, message)
        } else if waits.awaiting_approval > 0 {
            (WaitReason::Approval, "awaiting approval".to_owned())
        } else if waits.held > 0 {
            (WaitReason::Held, "held until sent".to_owned())
        } else if let Some(at) = waits.print_at {
            (
                WaitReason::Hold,
                format!("goes to print at {}", rfc3339(at)),
            )
        } else {
            return None;
        };
        Some(OrderWait {
            reason,
            message,
            paid_statuses,
            print_at: waits.print_at.map(rfc3339),
            held: waits.held,
            awaiting_approval: waits.awaiting_approval,
        })
    }
}

/// How many of an order's jobs an owner's action changed.
#[derive(Debug, Object)]
pub struct JobsChanged {
    pub jobs: u64,
}

#[derive(Debug, Object)]
pub struct Replayed {
    /// How many stopped provider orders were put back in the queue.
    pub replayed: u64,
}

pub struct StoreApi;

#[OpenApi(prefix_path = "/v1/stores", tag = "ApiTags::Stores")]
impl StoreApi {
    /// Connection status
    ///
    /// The plugin's "Test connection": proves URL, store id and token are right.
    #[oai(path = "/:store/status", method = "get", operation_id = "storeStatus")]
    async fn status(
        &self,
        token: StoreToken,
        state: Data<&Arc<AppState>>,
        store: Path<String>,
    ) -> Result<StoreResponse<StoreStatus>, ApiError> {
        let cfg = authorize(&state, &store.0, &token)?;
        let last = state.store.last_delivery_at(&cfg.id).await?;
        Ok(StoreResponse::Ok(Json(StoreStatus {
            store: cfg.id.clone(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            providers: cfg.provider_names(),
            webhook_url: state.config.public_url.as_ref().map(|u| {
                format!(
                    "{}/v1/webhooks/woocommerce/{}",
                    u.trim_end_matches('/'),
                    cfg.id
                )
            }),
            rest_keys: cfg.has_rest_keys(),
            last_delivery_at: last.map(rfc3339),
            spiff: SpiffStorefront::of(cfg),
        })))
    }

    /// One order's provider orders
    ///
    /// Provider orders with state, attempts, PDF and tracking, for the order screen.
    #[oai(
        path = "/:store/orders/:order_id",
        method = "get",
        operation_id = "storeOrder"
    )]
    async fn order(
        &self,
        token: StoreToken,
        state: Data<&Arc<AppState>>,
        store: Path<String>,
        order_id: Path<i64>,
    ) -> Result<StoreResponse<StoreOrderView>, ApiError> {
        let cfg = authorize(&state, &store.0, &token)?;
        let Some(summary) = state.store.order_summary(&cfg.id, order_id.0).await? else {
            return Err(ApiError::not_found(
                "not_found",
                format!("the bridge has not received order {}", order_id.0),
                "order_id",
            ));
        };
        let (payment_method, unpaid_printable) =
            payment_of(&state, cfg, order_id.0, &summary.status).await?;
        let waits = state
            .store
            .order_waits(&cfg.id, order_id.0, state.clock.now_ms())
            .await?;
        let mut attention: Vec<String> = summary.attention.iter().cloned().collect();
        let provider_orders = provider_orders(&state, cfg, order_id.0, &mut attention).await?;
        Ok(StoreResponse::Ok(Json(StoreOrderView {
            store: cfg.id.clone(),
            order_id: order_id.0,
            status: summary.status,
            paid: summary.paid,
            waiting: OrderWait::of(cfg, &payment_method, unpaid_printable, waits),
            payment_method,
            provider_orders,
            attention,
        })))
    }

    /// Send now
    ///
    /// Sends the order's held jobs and those waiting for the hold window at once (the
    /// order screen's Send now). Jobs awaiting approval keep waiting for it.
    #[oai(
        path = "/:store/orders/:order_id/send-now",
        method = "post",
        operation_id = "storeSendOrderNow"
    )]
    async fn send_now(
        &self,
        token: StoreToken,
        state: Data<&Arc<AppState>>,
        store: Path<String>,
        order_id: Path<i64>,
    ) -> Result<StoreResponse<JobsChanged>, ApiError> {
        let cfg = authorize(&state, &store.0, &token)?;
        owner_action(&state, cfg, order_id.0, OwnerAction::SendNow).await
    }

    /// Hold
    ///
    /// Holds the order's queued jobs that were not sent until the owner sends them (Send
    /// now).
    #[oai(
        path = "/:store/orders/:order_id/hold",
        method = "post",
        operation_id = "storeHoldOrder"
    )]
    async fn hold(
        &self,
        token: StoreToken,
        state: Data<&Arc<AppState>>,
        store: Path<String>,
        order_id: Path<i64>,
    ) -> Result<StoreResponse<JobsChanged>, ApiError> {
        let cfg = authorize(&state, &store.0, &token)?;
        owner_action(&state, cfg, order_id.0, OwnerAction::Hold).await
    }

    /// Approve for print
    ///
    /// Approves the order's jobs awaiting approval, of one `provider` or all: they go to
    /// print at the end of the hold window, or at once when it has passed.
    #[oai(
        path = "/:store/orders/:order_id/approve",
        method = "post",
        operation_id = "storeApproveOrder"
    )]
    async fn approve(
        &self,
        token: StoreToken,
        state: Data<&Arc<AppState>>,
        store: Path<String>,
        order_id: Path<i64>,
        /// spiff, apliiq or key2print; all providers when left out.
        provider: Query<Option<String>>,
    ) -> Result<StoreResponse<JobsChanged>, ApiError> {
        let cfg = authorize(&state, &store.0, &token)?;
        let provider = match provider.0.as_deref() {
            None => None,
            Some(name) => Some(
                name.parse::<JobQueue>()
                    .ok()
                    .filter(|q| q.provider().is_some())
                    .ok_or_else(|| {
                        ApiError::bad_request(
                            "invalid_provider",
                            "provider must be spiff, apliiq or key2print",
                            "provider",
                        )
                    })?,
            ),
        };
        owner_action(&state, cfg, order_id.0, OwnerAction::Approve(provider)).await
    }

    /// Retry what needs attention
    ///
    /// Replays the order's dead letters and jobs needing review (the order screen's Retry).
    #[oai(
        path = "/:store/orders/:order_id/retry",
        method = "post",
        operation_id = "storeRetryOrder"
    )]
    async fn retry(
        &self,
        token: StoreToken,
        state: Data<&Arc<AppState>>,
        store: Path<String>,
        order_id: Path<i64>,
    ) -> Result<StoreResponse<Replayed>, ApiError> {
        let cfg = authorize(&state, &store.0, &token)?;
        let replayed = state
            .store
            .replay_order(&cfg.id, order_id.0, state.clock.now_ms())
            .await?;
        if replayed > 0 {
            state.wake_dispatcher();
        }
        Ok(StoreResponse::Ok(Json(Replayed { replayed })))
    }

    /// A kept file
    ///
    /// The Key2print PDF the bridge fetched for an order.
    #[oai(
        path = "/:store/files/:file_id",
        method = "get",
        operation_id = "storeFile"
    )]
    async fn file(
        &self,
        token: StoreToken,
        state: Data<&Arc<AppState>>,
        store: Path<String>,
        file_id: Path<i64>,
    ) -> Result<FileResponse, ApiError> {
        let cfg = authorize(&state, &store.0, &token)?;
        serve_file(&state, Some(&cfg.id), file_id.0).await
    }
}

/// An order's provider orders for the order screen; each stopped one adds its reason to
/// `attention`.
async fn provider_orders(
    state: &AppState,
    cfg: &StoreConfig,
    order_id: i64,
    attention: &mut Vec<String>,
) -> Result<Vec<ProviderOrderView>, ApiError> {
    let jobs = state.store.order_jobs(&cfg.id, order_id).await?;
    let tracking = state.store.order_tracking(&cfg.id, order_id).await?;
    let views = jobs
        .into_iter()
        // Write-back to the shop and order events are not provider orders.
        .filter(|j| j.job.provider != JobQueue::Woocommerce && j.job.provider != JobQueue::Events)
        .map(|j| {
            if j.job.state.parse().is_ok_and(JobState::is_stopped) {
                attention.push(format!(
                    "{} {}: {}",
                    j.job.provider,
                    j.job.state,
                    j.job.last_error.clone().unwrap_or_default()
                ));
            }
            ProviderOrderView {
                tracking: tracking
                    .iter()
                    .filter(|t| t.provider == j.job.provider)
                    .cloned()
                    .collect(),
                provider: j.job.provider,
                target: j.job.target,
                state: j.job.state,
                provider_order_id: j.job.provider_ref,
                attempts: j.job.attempts,
                last_error: j.job.last_error,
                next_attempt_at: j.job.next_attempt_at,
                file_id: j.file_id,
            }
        })
        .collect();
    Ok(views)
}

/// The order's payment method, and whether it has print items and is not paid by that
/// method's policy (neither a draft nor stopped), from its current snapshot.
async fn payment_of(
    state: &AppState,
    cfg: &StoreConfig,
    order_id: i64,
    status: &str,
) -> Result<(String, bool), ApiError> {
    let body = state.store.current_order_body(&cfg.id, order_id).await?;
    let Some(snap) = body.and_then(|b| parse_order_json(b.as_bytes()).ok()) else {
        return Ok((String::new(), false));
    };
    let method = snap.order.payment_method.clone();
    let unpaid = !snap.is_draft()
        && !snap.is_stopped()
        && !cfg.is_paid(status, &method)
        && !plan_provider_jobs(&snap).is_empty();
    Ok((method, unpaid))
}

/// Does `action` with an order's unsent jobs and wakes the dispatcher; 404 for an order the
/// bridge has not received, 409 when no job waits for the action.
async fn owner_action(
    state: &AppState,
    cfg: &StoreConfig,
    order_id: i64,
    action: OwnerAction,
) -> Result<StoreResponse<JobsChanged>, ApiError> {
    if state
        .store
        .order_summary(&cfg.id, order_id)
        .await?
        .is_none()
    {
        return Err(ApiError::not_found(
            "not_found",
            format!("the bridge has not received order {order_id}"),
            "order_id",
        ));
    }
    let jobs = state
        .store
        .owner_action(&cfg.id, order_id, action, state.clock.now_ms())
        .await?;
    if jobs == 0 {
        let what = match action {
            OwnerAction::SendNow => "is held or waiting for the hold window",
            OwnerAction::Hold => "is queued and not sent",
            OwnerAction::Approve(_) => "awaits approval",
        };
        return Err(ApiError::conflict(
            "nothing_waiting",
            format!("no print job of order {order_id} {what}"),
            "order_id",
        ));
    }
    if action != OwnerAction::Hold {
        state.wake_dispatcher();
    }
    Ok(StoreResponse::Ok(Json(JobsChanged { jobs })))
}

/// Reads a kept file; `store` limits it to one store's files.
pub async fn serve_file(
    state: &AppState,
    store: Option<&str>,
    id: i64,
) -> Result<FileResponse, ApiError> {
    let not_found = || ApiError::not_found("file_not_found", format!("no file {id}"), "file_id");
    let row = state.store.file(id).await?.ok_or_else(not_found)?;
    if store.is_some_and(|s| s != row.store_id) {
        return Err(not_found());
    }
    if row.path.is_empty() {
        return Err(ApiError::not_found(
            "file_removed",
            format!("file {id} was removed (personal data retention or erasure)"),
            "file_id",
        ));
    }
    let bytes = tokio::fs::read(&row.path).await.map_err(|e| {
        tracing::error!(file_id = id, error = %e, "kept file unreadable");
        ApiError::internal(format!("file {id} is recorded but cannot be read"))
    })?;
    let name = row.name.replace(['"', '\\', '\r', '\n'], "_");
    Ok(FileResponse::Pdf(
        Binary(bytes),
        format!("attachment; filename=\"{name}\""),
    ))
}

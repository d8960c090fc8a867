//! `/v1/admin/...`: the operator's view of the ledger (admin bearer token).

use std::sync::Arc;

use poem::Request;
use poem::web::Data;
use poem_openapi::auth::Bearer;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi, SecurityScheme};

use super::problem::{ApiError, Problem};
use super::{ApiTags, AppState};
use crate::intake::apply::DeliveryOutcome;
use crate::outbox::job_types::{JobQueue, JobState};
use crate::outbox::replay::{StoppedFilter, parse_instant};
use crate::reads::jobs::{JobDetail, JobFilter, JobPage, JobView};
use crate::reads::orders::{
    DeliveryDetail, DeliveryFilter, DeliveryPage, OrderFilter, OrderLedger, OrderPage,
};

/// The admin token (`admin_token` in the configuration) as a bearer token.
#[derive(SecurityScheme)]
#[oai(ty = "bearer", rename = "AdminToken", checker = "check_admin")]
pub struct AdminAuth(());

async fn check_admin(req: &Request, bearer: Bearer) -> Option<()> {
    let state = req.data::<Arc<AppState>>()?;
    let expected = state.config.admin_token.as_ref()?;
    expected.matches(&bearer.token).then_some(())
}

/// Answers of the admin API.
pub type AdminResponse<T> = super::problem::Authed<T>;

/// A configured store, without its secrets.
#[derive(Debug, Object)]
pub struct StoreView {
    pub id: String,
    pub woocommerce_url: Option<String>,
    pub paid_statuses: Vec<String>,
    /// Per payment method id, the statuses that count as paid (`cod` waits for
    /// `completed` unless listed).
    pub payment_methods: std::collections::BTreeMap<String, Vec<String>>,
    /// Minutes a paid order's print jobs wait before they are due.
    pub hold_minutes: u32,
    /// Providers whose jobs wait for the owner's approval.
    pub approval: Vec<String>,
    /// The bridge may call the shop's REST API (notes, reconciliation, catalog).
    pub woocommerce_rest: bool,
    /// Providers configured for this store.
    pub providers: Vec<String>,
    /// Where the shop's webhooks must point.
    pub webhook_path: String,
}

#[derive(Debug, Object)]
pub struct StoreList {
    pub stores: Vec<StoreView>,
}

const MAX_LIMIT: i64 = 500;

/// `offset` (default 0) and `limit` (default 50, at most 500) of a paged list, checked.
pub(super) fn page(offset: Option<i64>, limit: Option<i64>) -> Result<(i64, i64), ApiError> {
    let offset = offset.unwrap_or(0);
    let limit = limit.unwrap_or(50);
    if offset < 0 {
        return Err(ApiError::bad_request(
            "bad_offset",
            "offset must be 0 or more",
            "offset",
        ));
    }
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(ApiError::bad_request(
            "bad_limit",
            format!("limit must be between 1 and {MAX_LIMIT}"),
            "limit",
        ));
    }
    Ok((offset, limit))
}

pub struct AdminApi;

/// What a bulk replay did, or with `dry_run` would do.
#[derive(Debug, Object)]
pub struct ReplayOutcome {
    pub dry_run: bool,
    /// How many jobs were queued again (or would be).
    pub count: i64,
    /// Those jobs, oldest first: as they are now, or with `dry_run` as they would be sent.
    pub jobs: Vec<JobView>,
}

/// The filters of a bulk replay as given, before they are checked.
struct StoppedQuery {
    state: Option<String>,
    provider: Option<String>,
    store: Option<String>,
    since: Option<String>,
    until: Option<String>,
    limit: Option<i64>,
}

const MAX_REPLAY: i64 = 5000;

/// Checks a bulk replay's filters; a bad one is a 400 naming it. One check per filter in the
/// order of the query, kept in one place so each answer names its own parameter.
fn stopped_filter(q: StoppedQuery) -> Result<StoppedFilter, ApiError> {
    let job_state = q
        .state
        .map(|s| {
            s.parse::<JobState>()
                .ok()
                .filter(|s| s.is_stopped())
                .ok_or_else(|| {
                    let names: Vec<_> = JobState::STOPPED.iter().map(|s| s.as_str()).collect();
                    ApiError::bad_request(
                        "bad_state",
                        format!("state must be one of {}", names.join(", ")),
                        "state",
                    )
                })
        })
        .transpose()?;
    let provider = q
        .provider
        .map(|p| {
            p.parse::<JobQueue>().map_err(|_| {
                ApiError::bad_request(
                    "bad_provider",
                    format!(
                        "provider must be one of {}",
                        JobQueue::names().collect::<Vec<_>>().join(", ")
                    ),
                    "provider",
                )
            })
        })
        .transpose()?;
    let instant = |text: Option<String>, field: &'static str| {
        text.map(|t| {
            parse_instant(&t).ok_or_else(|| {
                ApiError::bad_request(
                    "bad_time",
                    format!("{field} must be RFC 3339 or UTC as 2026-11-20T00:00:00"),
                    field,
                )
            })
        })
        .transpose()
    };
    let limit = q.limit.unwrap_or(500);
    if !(1..=MAX_REPLAY).contains(&limit) {
        return Err(ApiError::bad_request(
            "bad_limit",
            format!("limit must be between 1 and {MAX_REPLAY}"),
            "limit",
        ));
    }
    Ok(StoppedFilter {
        state: job_state,
        provider,
        store: q.store,
        since: instant(q.since, "since")?,
        until: instant(q.until, "until")?,
        limit,
    })
}

fn job_not_found(id: i64) -> ApiError {
    ApiError::not_found("job_not_found", format!("no job {id}"), "id")
}

#[OpenApi(prefix_path = "/v1/admin", tag = "ApiTags::Admin")]
impl AdminApi {
    /// List orders
    ///
    /// Newest activity first. Filter by store, WooCommerce status, or `attention=true` for
    /// orders an operator should look at (flagged, unsendable items, stopped jobs).
    #[oai(path = "/orders", method = "get", operation_id = "listOrders")]
    async fn list_orders(
        &self,
        _auth: AdminAuth,
        state: Data<&Arc<AppState>>,
        store: Query<Option<String>>,
        status: Query<Option<String>>,
        attention: Query<Option<bool>>,
        offset: Query<Option<i64>>,
        /// 1 to 500, default 50.
        limit: Query<Option<i64>>,
    ) -> Result<AdminResponse<OrderPage>, ApiError> {
        let (offset, limit) = page(offset.0, limit.0)?;
        let page = state
            .store
            .list_orders(&OrderFilter {
                store: store.0,
                status: status.0,
                attention: attention.0,
                offset,
                limit,
            })
            .await?;
        Ok(AdminResponse::Ok(Json(page)))
    }

    /// One order's ledger
    ///
    /// The order's current state, its line items with their provider, every snapshot and
    /// every delivery about it.
    #[oai(
        path = "/orders/:store/:order_id",
        method = "get",
        operation_id = "getOrder"
    )]
    async fn get_order(
        &self,
        _auth: AdminAuth,
        state: Data<&Arc<AppState>>,
        store: Path<String>,
        order_id: Path<i64>,
    ) -> Result<AdminResponse<OrderLedger>, ApiError> {
        if state.config.store(&store.0).is_none() {
            return Err(ApiError::unknown_store(&store.0));
        }
        match state.store.order_ledger(&store.0, order_id.0).await? {
            Some(ledger) => Ok(AdminResponse::Ok(Json(ledger))),
            None => Err(ApiError::not_found(
                "order_not_found",
                format!(
                    "the bridge has not received order {} of store {}",
                    order_id.0, store.0
                ),
                "order_id",
            )),
        }
    }

    /// List deliveries
    ///
    /// Every authentic delivery, newest first. `outcome=unparsed` lists those the bridge
    /// stored but could not read, `outcome=stored` those stored and not yet applied to the
    /// ledger (`received` is read as `stored`), `outcome=failed` those that could not be applied.
    #[oai(path = "/deliveries", method = "get", operation_id = "listDeliveries")]
    async fn list_deliveries(
        &self,
        _auth: AdminAuth,
        state: Data<&Arc<AppState>>,
        store: Query<Option<String>>,
        /// applied, duplicate, stale, deleted, signal, ignored, unparsed, stored or failed.
        outcome: Query<Option<String>>,
        /// A WooCommerce order id; with `store`, its deliveries are found through an index
        /// (alone, every stored delivery is read).
        order_id: Query<Option<i64>>,
        offset: Query<Option<i64>>,
        limit: Query<Option<i64>>,
    ) -> Result<AdminResponse<DeliveryPage>, ApiError> {
        let (offset, limit) = page(offset.0, limit.0)?;
        // `received` names `stored` too, for operators' scripts that filter by it.
        let outcome = outcome.0.map(|o| {
            if o == "received" {
                "stored".to_owned()
            } else {
                o
            }
        });
        if let Some(o) = outcome.as_deref()
            && !DeliveryOutcome::NAMES.contains(&o)
        {
            return Err(ApiError::bad_request(
                "bad_outcome",
                format!(
                    "outcome must be one of {}",
                    DeliveryOutcome::NAMES.join(", ")
                ),
                "outcome",
            ));
        }
        let page = state
            .store
            .list_deliveries(&DeliveryFilter {
                store: store.0,
                outcome,
                order_id: order_id.0,
                offset,
                limit,
            })
            .await?;
        Ok(AdminResponse::Ok(Json(page)))
    }

    /// One delivery, with its body
    #[oai(path = "/deliveries/:id", method = "get", operation_id = "getDelivery")]
    async fn get_delivery(
        &self,
        _auth: AdminAuth,
        state: Data<&Arc<AppState>>,
        id: Path<i64>,
    ) -> Result<AdminResponse<DeliveryDetail>, ApiError> {
        match state.store.delivery(id.0).await? {
            Some(d) => Ok(AdminResponse::Ok(Json(d))),
            None => Err(ApiError::not_found(
                "delivery_not_found",
                format!("no delivery {}", id.0),
                "id",
            )),
        }
    }

    /// List jobs
    ///
    /// The outbox, newest first: one job per provider order (and per write-back note).
    /// `state=dead` lists the dead letters, `state=needs-review` the outcomes an operator must
    /// check before replaying.
    #[oai(path = "/jobs", method = "get", operation_id = "listJobs")]
    async fn list_jobs(
        &self,
        _auth: AdminAuth,
        state: Data<&Arc<AppState>>,
        store: Query<Option<String>>,
        /// pending, retrying, running, needs-review, dead, done, cancelled, held or
        /// awaiting-approval.
        #[oai(name = "state")]
        job_state: Query<Option<String>>,
        /// spiff, apliiq, key2print or woocommerce.
        provider: Query<Option<String>>,
        offset: Query<Option<i64>>,
        limit: Query<Option<i64>>,
    ) -> Result<AdminResponse<JobPage>, ApiError> {
        let (offset, limit) = page(offset.0, limit.0)?;
        let job_state = job_state
            .0
            .map(|s| {
                s.parse::<JobState>().map_err(|_| {
                    ApiError::bad_request(
                        "bad_state",
                        format!(
                            "state must be one of {}",
                            JobState::names().collect::<Vec<_>>().join(", ")
                        ),
                        "state",
                    )
                })
            })
            .transpose()?;
        // A provider that names no queue has no jobs: the page is empty.
        let provider = match provider.0.map(|p| p.parse::<JobQueue>()) {
            None => None,
            Some(Ok(p)) => Some(p),
            Some(Err(_)) => {
                return Ok(AdminResponse::Ok(Json(JobPage {
                    jobs: Vec::new(),
                    total: 0,
                    offset,
                    limit,
                    next_offset: None,
                })));
            }
        };
        let page = state
            .store
            .list_jobs(&JobFilter {
                store: store.0,
                state: job_state,
                provider,
                offset,
                limit,
            })
            .await?;
        Ok(AdminResponse::Ok(Json(page)))
    }

    /// One job, with every attempt
    #[oai(path = "/jobs/:id", method = "get", operation_id = "getJob")]
    async fn get_job(
        &self,
        _auth: AdminAuth,
        state: Data<&Arc<AppState>>,
        id: Path<i64>,
    ) -> Result<AdminResponse<JobDetail>, ApiError> {
        match state.store.job_detail(id.0).await? {
            Some(d) => Ok(AdminResponse::Ok(Json(d))),
            None => Err(job_not_found(id.0)),
        }
    }

    /// Replay a job
    ///
    /// Puts a dead letter, a job needing review or a cancelled job back in the queue; it runs
    /// at once. The same as `printbridge replay JOB_ID`. Refused (409) when the job's order
    /// had its personal data erased, or its current state redacted by retention.
    #[oai(path = "/jobs/:id/replay", method = "post", operation_id = "replayJob")]
    async fn replay_job(
        &self,
        _auth: AdminAuth,
        state: Data<&Arc<AppState>>,
        id: Path<i64>,
    ) -> Result<AdminResponse<JobDetail>, ApiError> {
        match state.store.replay_job(id.0, state.clock.now_ms()).await? {
            None => Err(job_not_found(id.0)),
            Some(false) => Err(ApiError::Conflict(Json(
                Problem::new(
                    "not_replayable",
                    format!(
                        "job {} is not dead, needing review or cancelled; only stopped jobs are replayed",
                        id.0
                    ),
                )
                .field("id"),
            ))),
            Some(true) => {
                state.wake_dispatcher();
                let detail = state
                    .store
                    .job_detail(id.0)
                    .await?
                    .ok_or_else(|| job_not_found(id.0))?;
                Ok(AdminResponse::Ok(Json(detail)))
            }
        }
    }

    /// Replay stopped jobs in bulk
    ///
    /// After an outage: puts every job waiting for review and every dead letter that the
    /// filters name (provider, store, state, and when it stopped) back in the queue in one
    /// call, oldest first, up to `limit`. With `dry_run=true` nothing changes and the answer
    /// lists the jobs that would be sent. Check a job waiting for review at its provider
    /// first: its request may have been received.
    #[oai(path = "/jobs/replay", method = "post", operation_id = "replayJobs")]
    #[allow(clippy::too_many_arguments)]
    async fn replay_jobs(
        &self,
        _auth: AdminAuth,
        state: Data<&Arc<AppState>>,
        /// needs-review or dead; both when absent.
        #[oai(name = "state")]
        job_state: Query<Option<String>>,
        /// spiff, apliiq, key2print or woocommerce.
        provider: Query<Option<String>>,
        store: Query<Option<String>>,
        /// Jobs stopped at or after this moment (RFC 3339, or UTC as 2026-11-20T00:00:00).
        since: Query<Option<String>>,
        /// Jobs stopped before this moment (RFC 3339, or UTC as 2026-11-20T00:00:00).
        until: Query<Option<String>>,
        /// List what would be sent and change nothing.
        dry_run: Query<Option<bool>>,
        /// 1 to 5000, default 500.
        limit: Query<Option<i64>>,
    ) -> Result<AdminResponse<ReplayOutcome>, ApiError> {
        let filter = stopped_filter(StoppedQuery {
            state: job_state.0,
            provider: provider.0,
            store: store.0,
            since: since.0,
            until: until.0,
            limit: limit.0,
        })?;
        let dry_run = dry_run.0.unwrap_or(false);
        let jobs = if dry_run {
            state.store.stopped_jobs(&filter).await?
        } else {
            let jobs = state
                .store
                .replay_stopped(&filter, state.clock.now_ms())
                .await?;
            if !jobs.is_empty() {
                tracing::info!(replayed = jobs.len(), "stopped jobs replayed in bulk");
                state.wake_dispatcher();
            }
            jobs
        };
        Ok(AdminResponse::Ok(Json(ReplayOutcome {
            dry_run,
            count: i64::try_from(jobs.len()).unwrap_or(i64::MAX),
            jobs,
        })))
    }

    /// A kept file
    ///
    /// A Key2print PDF the bridge fetched.
    #[oai(path = "/files/:id", method = "get", operation_id = "getFile")]
    async fn get_file(
        &self,
        _auth: AdminAuth,
        state: Data<&Arc<AppState>>,
        id: Path<i64>,
    ) -> Result<super::stores::FileResponse, ApiError> {
        super::stores::serve_file(&state, None, id.0).await
    }

    /// List configured stores
    ///
    /// Without secrets.
    #[oai(path = "/stores", method = "get", operation_id = "listStores")]
    async fn list_stores(
        &self,
        _auth: AdminAuth,
        state: Data<&Arc<AppState>>,
    ) -> AdminResponse<StoreList> {
        let stores = state
            .config
            .stores
            .iter()
            .map(|s| StoreView {
                id: s.id.clone(),
                woocommerce_url: s.woocommerce_url.clone(),
                paid_statuses: s.paid_statuses.clone(),
                payment_methods: s.payment_methods.clone(),
                hold_minutes: s.hold_minutes.get(),
                approval: crate::config::Approval::ALL
                    .into_iter()
                    .filter(|p| s.needs_approval(*p))
                    .map(|p| p.as_str().to_owned())
                    .collect(),
                woocommerce_rest: s.has_rest_keys(),
                providers: s.provider_names(),
                webhook_path: format!("/v1/webhooks/woocommerce/{}", s.id),
            })
            .collect();
        AdminResponse::Ok(Json(StoreList { stores }))
    }
}

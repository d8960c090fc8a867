//! `GET /healthz`, `GET /readyz`, `GET /metrics`.

use std::sync::Arc;

use poem::web::Data;
use poem_openapi::payload::{Json, PlainText};
use poem_openapi::{ApiResponse, Object, OpenApi};

use super::problem::{ApiError, Problem, bad_request_problem};
use super::{ApiTags, AppState};
use crate::metrics::ScrapeGauges;

#[derive(Debug, Object)]
pub struct Health {
    /// `ok` when the process runs (healthz) or can serve (readyz).
    pub status: String,
    pub version: String,
    /// sqlite or postgres (readyz only).
    #[oai(skip_serializing_if_is_none)]
    pub database: Option<String>,
}

#[derive(ApiResponse)]
#[oai(bad_request_handler = "bad_request")]
pub enum HealthResponse {
    #[oai(status = 200)]
    Ok(Json<Health>),
    #[oai(status = 400)]
    BadRequest(Json<Problem>),
}

fn bad_request(err: poem::Error) -> HealthResponse {
    HealthResponse::BadRequest(bad_request_problem(err))
}

#[derive(ApiResponse)]
#[oai(bad_request_handler = "bad_request_text")]
pub enum MetricsResponse {
    /// Prometheus text exposition format 0.0.4.
    #[oai(status = 200, content_type = "text/plain; version=0.0.4")]
    Ok(PlainText<String>),
    #[oai(status = 400)]
    BadRequest(Json<Problem>),
}

fn bad_request_text(err: poem::Error) -> MetricsResponse {
    MetricsResponse::BadRequest(bad_request_problem(err))
}

pub struct HealthApi;

#[OpenApi]
impl HealthApi {
    /// Liveness
    ///
    /// 200 while the process runs; touches nothing else.
    #[oai(
        path = "/healthz",
        method = "get",
        tag = "ApiTags::Operations",
        operation_id = "healthz"
    )]
    async fn healthz(&self) -> HealthResponse {
        HealthResponse::Ok(Json(Health {
            status: "ok".to_owned(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            database: None,
        }))
    }

    /// Readiness
    ///
    /// 200 when the database answers and the intake writer runs; 503 with a problem saying
    /// which is not the case otherwise: `database_unavailable`, or `intake_stopped` when the
    /// writer that stores deliveries and applies them to the ledger has stopped (deliveries
    /// are then neither stored nor applied).
    #[oai(
        path = "/readyz",
        method = "get",
        tag = "ApiTags::Operations",
        operation_id = "readyz"
    )]
    async fn readyz(&self, state: Data<&Arc<AppState>>) -> Result<HealthResponse, ApiError> {
        if state.intake.stopped() {
            return Err(ApiError::Unavailable(Json(Problem::new(
                "intake_stopped",
                "the intake writer, which stores deliveries and applies them to the ledger, has stopped",
            ))));
        }
        if let Err(e) = state.store.ping().await {
            tracing::error!(error = %e, "readiness: the database does not answer");
            return Err(ApiError::Unavailable(Json(Problem::new(
                "database_unavailable",
                "the bridge's database does not answer",
            ))));
        }
        Ok(HealthResponse::Ok(Json(Health {
            status: "ok".to_owned(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            database: Some(state.store.backend().to_owned()),
        })))
    }

    /// Metrics
    ///
    /// Deliveries by topic and outcome, deliveries stored and waiting to be applied and the
    /// oldest one's age in seconds, jobs not finished or waiting for an operator or the
    /// shop's owner by provider and state (pending, retrying, running, needs-review, dead,
    /// held, awaiting-approval; done and cancelled jobs show
    /// as provider attempts), queue depth and oldest due job age, provider attempts and latency by provider and outcome,
    /// dead letters.
    #[oai(
        path = "/metrics",
        method = "get",
        tag = "ApiTags::Operations",
        operation_id = "metrics"
    )]
    async fn metrics(&self, state: Data<&Arc<AppState>>) -> Result<MetricsResponse, ApiError> {
        let jobs = state
            .store
            .job_gauges(state.clock.now_ms())
            .await
            .map_err(ApiError::database_unavailable)?;
        let (waiting, oldest) = state
            .store
            .unapplied_deliveries()
            .await
            .map_err(ApiError::database_unavailable)?;
        let age_ms = oldest.map_or(0, |at| (state.clock.now_ms() - at).max(0));
        let gauges = ScrapeGauges {
            jobs: jobs
                .by_state
                .into_iter()
                .map(|g| {
                    (
                        g.provider.as_str().to_owned(),
                        g.state.as_str().to_owned(),
                        g.count,
                    )
                })
                .collect(),
            queue_depth: jobs.queue_depth,
            oldest_due_job_age_seconds: jobs.oldest_due_age_ms as f64 / 1000.0,
            dead_letters: jobs.dead,
            deliveries_unapplied: waiting,
            oldest_unapplied_delivery_age_seconds: age_ms as f64 / 1000.0,
        };
        Ok(MetricsResponse::Ok(PlainText(
            state.metrics.render(&gauges),
        )))
    }
}

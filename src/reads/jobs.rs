//! Read side of the outbox: jobs with their attempts, kept files and tracking, for operators
//! (`/v1/admin/jobs`, the order timeline) and the plugin's order screen.

use crate::outbox::jobs::PROVIDER_JOBS;
use poem_openapi::Object;
use serde::Serialize;
use sqlx::{FromRow, Row};

use super::orders::{rfc3339, where_terms};
use crate::events::EventEndpointConfig;
use crate::intake::apply::Ledger;
use crate::outbox::job_types::{JobKind, JobQueue, JobState};
use crate::outbox::jobs::{IN_JOBS_DUE, IN_JOBS_STATE};
use crate::store::{Store, StoreError, in_tx, on_pool};

/// Writes a shipment note's text from the tracking numbers it names.
pub type ShipmentNote<'a> = &'a (dyn Fn(&[&str]) -> String + Sync);

/// A shipment a provider reported: its order and tracking numbers (with their URLs).
#[derive(Debug, Clone)]
pub struct Shipment<'a> {
    pub store_id: &'a str,
    pub order_id: i64,
    pub provider: &'a str,
    pub carrier: &'a str,
    pub tracking: &'a [(&'a str, Option<&'a str>)],
}

/// A provider order (or write-back) job.
#[derive(Debug, Clone, Serialize, Object)]
pub struct JobView {
    pub id: i64,
    pub store: String,
    pub order_id: i64,
    /// spiff, apliiq, key2print or woocommerce (write-back to the shop).
    pub provider: String,
    /// `order`, a Key2print project id, or a note key.
    pub target: String,
    /// place_order, fetch_pdf, order_note or fetch_order.
    pub kind: String,
    /// pending, retrying, running, needs-review, dead, done, cancelled, held or
    /// awaiting-approval.
    pub state: String,
    pub attempts: i64,
    /// When it runs next (pending, retrying).
    pub next_attempt_at: Option<String>,
    /// The provider's order id, a kept file id or a note id.
    pub provider_ref: Option<String>,
    pub last_error: Option<String>,
    pub last_status: Option<i64>,
    pub created_at: String,
    pub updated_at: String,
}

/// What an order's provider jobs wait for before they are sent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OrderWaits {
    /// When the first job waiting for the hold window is due (milliseconds), if one waits.
    pub print_at: Option<i64>,
    /// Jobs the owner holds.
    pub held: i64,
    /// Jobs awaiting the owner's approval.
    pub awaiting_approval: i64,
}

/// One attempt of a job.
#[derive(Debug, Clone, Serialize, Object)]
pub struct AttemptView {
    pub started_at: String,
    pub duration_ms: i64,
    /// success, retryable, ambiguous, permanent or resolved.
    pub outcome: String,
    pub status_code: Option<i64>,
    /// The start of what the provider answered (secrets redacted).
    pub excerpt: Option<String>,
    pub error: Option<String>,
}

#[derive(Debug, Clone, Serialize, Object)]
pub struct JobDetail {
    #[oai(flatten)]
    #[serde(flatten)]
    pub job: JobView,
    pub attempts_log: Vec<AttemptView>,
    /// The kept file (Key2print PDF), if any.
    pub file_id: Option<i64>,
}

#[derive(Debug, Clone, Serialize, Object)]
pub struct JobPage {
    pub jobs: Vec<JobView>,
    pub total: i64,
    pub offset: i64,
    pub limit: i64,
    pub next_offset: Option<i64>,
}

#[derive(Debug, Clone, Default)]
pub struct JobFilter {
    pub store: Option<String>,
    pub state: Option<JobState>,
    pub provider: Option<JobQueue>,
    pub offset: i64,
    pub limit: i64,
}

/// A shipment reported by a provider.
#[derive(Debug, Clone, Serialize, Object)]
pub struct TrackingView {
    pub provider: String,
    pub carrier: String,
    pub number: String,
    pub url: Option<String>,
    pub received_at: String,
}

/// A kept artefact.
#[derive(Debug, Clone)]
pub struct FileRow {
    pub id: i64,
    pub store_id: String,
    pub order_id: i64,
    pub name: String,
    pub path: String,
    pub size: i64,
    pub sha256: String,
}

pub(crate) const JOB_COLUMNS: &str = "id, store_id, order_id, provider, target, kind, state, attempts, run_at, \
     provider_ref, last_error, last_status, created_at, updated_at";

/// A row of [`JOB_COLUMNS`].
#[derive(sqlx::FromRow)]
pub(crate) struct JobRow {
    id: i64,
    store_id: String,
    order_id: i64,
    provider: JobQueue,
    target: String,
    kind: JobKind,
    state: JobState,
    attempts: i64,
    run_at: i64,
    provider_ref: Option<String>,
    last_error: Option<String>,
    last_status: Option<i64>,
    created_at: i64,
    updated_at: i64,
}

impl From<JobRow> for JobView {
    fn from(r: JobRow) -> Self {
        JobView {
            id: r.id,
            store: r.store_id,
            order_id: r.order_id,
            provider: r.provider.as_str().to_owned(),
            target: r.target,
            kind: r.kind.as_str().to_owned(),
            next_attempt_at: r.state.is_queued().then(|| rfc3339(r.run_at)),
            state: r.state.as_str().to_owned(),
            attempts: r.attempts,
            provider_ref: r.provider_ref,
            last_error: r.last_error,
            last_status: r.last_status,
            created_at: rfc3339(r.created_at),
            updated_at: rfc3339(r.updated_at),
        }
    }
}

/// The job a row of [`JOB_COLUMNS`] describes.
pub(crate) fn job_from_row<'r, R: Row>(r: &'r R) -> Result<JobView, sqlx::Error>
where
    JobRow: FromRow<'r, R>,
{
    JobRow::from_row(r).map(JobView::from)
}

/// A row of a job's attempts.
#[derive(sqlx::FromRow)]
struct AttemptRow {
    started_at: i64,
    duration_ms: i64,
    outcome: String,
    status_code: Option<i64>,
    excerpt: Option<String>,
    error: Option<String>,
}

impl From<AttemptRow> for AttemptView {
    fn from(r: AttemptRow) -> Self {
        AttemptView {
            started_at: rfc3339(r.started_at),
            duration_ms: r.duration_ms,
            outcome: r.outcome,
            status_code: r.status_code,
            excerpt: r.excerpt,
            error: r.error,
        }
    }
}

impl JobFilter {
    /// The page's statement and its count's, with the filters given only (`$1` store, `$2`
    /// state, `$3` provider, then `$4` limit and `$5` offset, all bound given or not; see
    /// [`where_terms`]). A state a partial index holds is listed and counted from it: the
    /// dead letters, the jobs for review, the running ones and those waiting for the shop's
    /// owner (held, awaiting approval) from `jobs_state`, the queued
    /// ones from `jobs_due`, whatever the number of finished jobs beside them.
    fn statements(&self) -> (String, String) {
        let queued = self.state.is_some_and(JobState::is_queued);
        let partial = match self.state {
            Some(
                JobState::Running
                | JobState::NeedsReview
                | JobState::Dead
                | JobState::Held
                | JobState::AwaitingApproval,
            ) => Some(IN_JOBS_STATE),
            _ if queued => Some(IN_JOBS_DUE),
            _ => None,
        };
        let state_term = match partial {
            Some(index) => format!("{index} AND state = $2"),
            None => "state = $2".to_owned(),
        };
        let filter = where_terms(&[
            self.store.as_ref().map(|_| "store_id = $1"),
            self.state.as_ref().map(|_| state_term.as_str()),
            self.provider.as_ref().map(|_| "provider = $3"),
        ]);
        // For a queued state, `+id`: not in the table's own order, which SQLite would rather
        // walk than sort the queue, through every finished job where none is queued.
        let order = if queued { "+id" } else { "id" };
        (
            format!(
                "SELECT {JOB_COLUMNS} FROM jobs {filter} ORDER BY {order} DESC LIMIT $4 OFFSET $5"
            ),
            format!("SELECT COUNT(*) FROM jobs {filter}"),
        )
    }
}

impl Store {
    pub async fn list_jobs(&self, f: &JobFilter) -> Result<JobPage, StoreError> {
        let (list_sql, count_sql) = f.statements();
        let (jobs, total) = on_pool!(self, |pool| {
            let jobs = sqlx::query(sqlx::AssertSqlSafe(list_sql))
                .bind(&f.store)
                .bind(f.state)
                .bind(f.provider)
                .bind(f.limit)
                .bind(f.offset)
                .fetch_all(pool)
                .await?
                .iter()
                .map(job_from_row)
                .collect::<Result<Vec<_>, _>>()?;
            let total: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(count_sql))
                .bind(&f.store)
                .bind(f.state)
                .bind(f.provider)
                .fetch_one(pool)
                .await?;
            (jobs, total)
        });
        let next = f.offset + jobs.len() as i64;
        Ok(JobPage {
            next_offset: (!jobs.is_empty() && next < total).then_some(next),
            jobs,
            total,
            offset: f.offset,
            limit: f.limit,
        })
    }

    pub async fn job_detail(&self, id: i64) -> Result<Option<JobDetail>, StoreError> {
        let sql = format!("SELECT {JOB_COLUMNS} FROM jobs WHERE id = $1");
        let detail = on_pool!(self, |pool| {
            let Some(row) = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(id)
                .fetch_optional(pool)
                .await?
            else {
                return Ok(None);
            };
            let job = job_from_row(&row)?;
            let attempts_log: Vec<AttemptView> = sqlx::query_as::<_, AttemptRow>(
                "SELECT started_at, duration_ms, outcome, status_code, excerpt, error \
                 FROM job_attempts WHERE job_id = $1 ORDER BY id",
            )
            .bind(id)
            .fetch_all(pool)
            .await?
            .into_iter()
            .map(AttemptView::from)
            .collect();
            let file_id: Option<i64> = sqlx::query_scalar("SELECT id FROM files WHERE job_id = $1")
                .bind(id)
                .fetch_optional(pool)
                .await?;
            Some(JobDetail {
                job,
                attempts_log,
                file_id,
            })
        });
        Ok(detail)
    }

    /// What an order's provider jobs wait for before they are sent (see [`OrderWaits`]).
    pub async fn order_waits(
        &self,
        store_id: &str,
        order_id: i64,
        now: i64,
    ) -> Result<OrderWaits, StoreError> {
        let (print_at, held, awaiting_approval): (Option<i64>, i64, i64) = on_pool!(self, |pool| {
            sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT MIN(CASE WHEN state = 'pending' AND started = 0 AND run_at > $3 \
                 THEN run_at END), \
                 COALESCE(SUM(CASE WHEN state = 'held' THEN 1 ELSE 0 END), 0), \
                 COALESCE(SUM(CASE WHEN state = 'awaiting-approval' THEN 1 ELSE 0 END), 0) \
                 FROM jobs WHERE store_id = $1 AND order_id = $2 AND {PROVIDER_JOBS}"
            )))
            .bind(store_id)
            .bind(order_id)
            .bind(now)
            .fetch_one(pool)
            .await?
        });
        Ok(OrderWaits {
            print_at,
            held,
            awaiting_approval,
        })
    }

    /// Every job of one order, oldest first, with attempts and kept files.
    pub async fn order_jobs(
        &self,
        store_id: &str,
        order_id: i64,
    ) -> Result<Vec<JobDetail>, StoreError> {
        let ids: Vec<i64> = on_pool!(self, |pool| {
            sqlx::query_scalar(
                "SELECT id FROM jobs WHERE store_id = $1 AND order_id = $2 ORDER BY id",
            )
            .bind(store_id)
            .bind(order_id)
            .fetch_all(pool)
            .await?
        });
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(d) = self.job_detail(id).await? {
                out.push(d);
            }
        }
        Ok(out)
    }

    pub async fn order_tracking(
        &self,
        store_id: &str,
        order_id: i64,
    ) -> Result<Vec<TrackingView>, StoreError> {
        let rows = on_pool!(self, |pool| {
            sqlx::query(
                "SELECT provider, carrier, number, url, received_at FROM tracking \
                 WHERE store_id = $1 AND order_id = $2 ORDER BY id",
            )
            .bind(store_id)
            .bind(order_id)
            .fetch_all(pool)
            .await?
            .iter()
            .map(|r| {
                Ok::<_, sqlx::Error>(TrackingView {
                    provider: r.try_get("provider")?,
                    carrier: r.try_get("carrier")?,
                    number: r.try_get("number")?,
                    url: r.try_get("url")?,
                    received_at: rfc3339(r.try_get("received_at")?),
                })
            })
            .collect::<Result<Vec<_>, _>>()?
        });
        Ok(rows)
    }

    /// Records a shipment's tracking numbers and, in the same transaction, plans the order
    /// note that names the ones not known before (`note` writes its text from them; `None`:
    /// no note) and their `order.shipped` event for the store's event `endpoints`. A
    /// callback retried after a failure between them finds none stored, so the note and
    /// the event are planned exactly once. Returns the new numbers.
    pub async fn record_shipment(
        &self,
        shipment: &Shipment<'_>,
        note: Option<ShipmentNote<'_>>,
        endpoints: &[EventEndpointConfig],
        now: i64,
    ) -> Result<Vec<String>, StoreError> {
        let added = in_tx!(self, |tx| {
            let mut added: Vec<&str> = Vec::new();
            let mut shipped: Vec<(&str, Option<&str>)> = Vec::new();
            for (number, url) in shipment.tracking {
                let n = sqlx::query(
                    "INSERT INTO tracking (store_id, order_id, provider, carrier, number, url, received_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7) \
                     ON CONFLICT (store_id, order_id, provider, number) DO NOTHING",
                )
                .bind(shipment.store_id)
                .bind(shipment.order_id)
                .bind(shipment.provider)
                .bind(shipment.carrier)
                .bind(*number)
                .bind(*url)
                .bind(now)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if n == 1 {
                    added.push(number);
                    shipped.push((number, *url));
                }
            }
            let events = crate::events::triggers::shipped(
                endpoints,
                shipment.store_id,
                shipment.order_id,
                shipment.provider,
                shipment.carrier,
                &shipped,
                now,
            );
            crate::events::insert_in(&mut tx, &events, now).await?;
            if let Some(note) = note.filter(|_| !added.is_empty()) {
                let key = format!("shipped:{}:{}", shipment.provider, added.join(","));
                let text = note(&added);
                Ledger::plan_note(
                    &mut *tx,
                    shipment.store_id,
                    shipment.order_id,
                    &key,
                    &text,
                    now,
                )
                .await?;
            }
            added.into_iter().map(str::to_owned).collect::<Vec<_>>()
        });
        Ok(added)
    }

    pub async fn file(&self, id: i64) -> Result<Option<FileRow>, StoreError> {
        let row = on_pool!(self, |pool| {
            let row = sqlx::query(
                "SELECT id, store_id, order_id, name, path, size, sha256 FROM files WHERE id = $1",
            )
            .bind(id)
            .fetch_optional(pool)
            .await?;
            match row {
                Some(r) => Some(FileRow {
                    id: r.try_get("id")?,
                    store_id: r.try_get("store_id")?,
                    order_id: r.try_get("order_id")?,
                    name: r.try_get("name")?,
                    path: r.try_get("path")?,
                    size: r.try_get("size")?,
                    sha256: r.try_get("sha256")?,
                }),
                None => None,
            }
        });
        Ok(row)
    }

    /// Newest delivery time of a store (the plugin's connection test shows it).
    pub async fn last_delivery_at(&self, store_id: &str) -> Result<Option<i64>, StoreError> {
        let t = on_pool!(self, |pool| {
            sqlx::query_scalar::<_, Option<i64>>(
                "SELECT MAX(received_at) FROM deliveries WHERE store_id = $1",
            )
            .bind(store_id)
            .fetch_one(pool)
            .await?
        });
        Ok(t)
    }
}

#[cfg(test)]
mod tests {
    use super::JobFilter;
    use crate::outbox::job_types::{JobQueue, JobState};
    use crate::store::sqlite_plan;

    /// The dead letters, the jobs for review, the running and the queued ones are listed
    /// and counted from their partial index (`jobs_state`, `jobs_due`), by provider or not,
    /// never by reading the finished jobs beside them.
    #[tokio::test]
    async fn a_state_is_listed_from_its_partial_index() {
        for (state, index) in [
            (JobState::Dead, "jobs_state"),
            (JobState::NeedsReview, "jobs_state"),
            (JobState::Running, "jobs_state"),
            (JobState::Held, "jobs_state"),
            (JobState::AwaitingApproval, "jobs_state"),
            (JobState::Pending, "jobs_due"),
            (JobState::Retrying, "jobs_due"),
        ] {
            for provider in [None, Some(JobQueue::Spiff)] {
                let f = JobFilter {
                    state: Some(state),
                    provider,
                    ..Default::default()
                };
                let (page, count) = f.statements();
                for sql in [page, count] {
                    let steps = sqlite_plan(&sql).await;
                    assert!(
                        steps.iter().any(|s| s.contains(&format!("INDEX {index}"))),
                        "{sql}: {steps:?}"
                    );
                    assert!(!steps.iter().any(|s| s == "SCAN jobs"), "{sql}: {steps:?}");
                }
            }
        }
    }
}

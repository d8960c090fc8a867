//! The outbox: claiming jobs with a lease, completing them fenced by the lease holder.

use std::collections::{HashMap, HashSet};
use std::marker::PhantomData;
use std::sync::LazyLock;

use sqlx::{ColumnIndex, Decode, Encode, Executor, IntoArguments, QueryBuilder, Transaction, Type};

use super::job_types::{JobKind, JobQueue, JobState, UnknownName};
use crate::intake::apply::Ledger;
use crate::intake::body;
use crate::store::backend::Backend;
use crate::store::{Store, StoreError, in_tx, on_pool, on_pool_write};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct JobGauge {
    pub provider: JobQueue,
    pub state: JobState,
    #[sqlx(rename = "n")]
    pub count: i64,
}

#[derive(Debug, Clone, Default)]
pub struct JobGauges {
    pub by_state: Vec<JobGauge>,
    /// Jobs pending or retrying.
    pub queue_depth: i64,
    /// How long the oldest due job has waited past its run time.
    pub oldest_due_age_ms: i64,
    pub dead: i64,
}

/// The predicate of the partial index `jobs_state` (migrations 0007 and 0012), spelled as a statement
/// must spell it for SQLite to read that index: SQLite uses a partial index only where a
/// term of the statement's `WHERE` is the index's own, and PostgreSQL only where the terms
/// imply it with no parameter involved.
pub(crate) const IN_JOBS_STATE: &str =
    "state IN ('running', 'needs-review', 'dead', 'held', 'awaiting-approval')";

/// A job whose order's personal data was not erased (an erased order's jobs are never
/// queued again; migration 0011).
pub(crate) const NOT_ERASED: &str = "NOT EXISTS (SELECT 1 FROM orders e \
     WHERE e.store_id = jobs.store_id AND e.order_id = jobs.order_id \
     AND e.erased_at IS NOT NULL)";

/// A job whose order's current state was not redacted by retention (the provider call is
/// built from that state: a replay must not send the redacted text).
const CURRENT_STATE_KEPT: &str = "NOT EXISTS (SELECT 1 FROM orders r \
     JOIN order_snapshots rs ON rs.id = r.snapshot_id \
     JOIN deliveries rd ON rd.id = rs.delivery_id \
     WHERE r.store_id = jobs.store_id AND r.order_id = jobs.order_id \
     AND rd.redacted_at IS NOT NULL)";

/// The predicate of the claim index `jobs_due` (migration 0001), as for [`IN_JOBS_STATE`].
pub(crate) const IN_JOBS_DUE: &str = "state IN ('pending', 'retrying')";

/// The jobs of a print provider: not the write-back to the shop, not the order events.
pub(crate) const PROVIDER_JOBS: &str = "provider IN ('spiff', 'apliiq', 'key2print')";

/// The jobs of an order that have not been sent and may still be withdrawn or changed:
/// queued, held or awaiting approval.
pub(crate) const IN_JOBS_UNSENT: &str =
    "state IN ('pending', 'retrying', 'held', 'awaiting-approval')";

/// Jobs per provider and state, for the jobs not finished (pending, retrying, running) and
/// those waiting for an operator (needs-review, dead) or the shop's owner (held,
/// awaiting-approval). Done and cancelled jobs, which only
/// accumulate, are not counted: their number grows with the bridge's history (every finished
/// call is counted in `printbridge_attempts_total`). Each part reads one partial index
/// (migrations 0007, 0012): running, needs-review, dead, held and awaiting-approval jobs from
/// `jobs_state` alone, queued ones
/// through the claim index `jobs_due`, so a scrape's cost follows the queue and the dead
/// letters, not the table.
static JOB_COUNTS: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT provider, state, COUNT(*) AS n FROM jobs WHERE {IN_JOBS_STATE} \
         GROUP BY state, provider UNION ALL SELECT provider, state, COUNT(*) AS n FROM jobs \
         WHERE {IN_JOBS_DUE} GROUP BY provider, state"
    )
});

impl Store {
    /// The outbox's unfinished jobs and dead letters counted per provider and state
    /// (`/metrics` reads them at every scrape; see [`JOB_COUNTS`]), and the age of the
    /// oldest due job from one probe per provider queue: neither reads the table's rows,
    /// whose number only grows.
    pub async fn job_gauges(&self, now: i64) -> Result<JobGauges, StoreError> {
        let mut rows: Vec<JobGauge> = on_pool!(self, |pool| {
            sqlx::query_as(sqlx::AssertSqlSafe(JOB_COUNTS.as_str()))
                .fetch_all(pool)
                .await?
        });
        rows.sort_unstable_by_key(|g| (g.provider.as_str(), g.state.as_str()));
        // The earliest run time of a queued job is the oldest due one's when it is due.
        let oldest = self.next_run_at().await?.filter(|&t| t <= now);
        let sum = |pred: &dyn Fn(JobState) -> bool| {
            rows.iter()
                .filter(|g| pred(g.state))
                .map(|g| g.count)
                .sum::<i64>()
        };
        Ok(JobGauges {
            queue_depth: sum(&JobState::is_queued),
            dead: sum(&|s| s == JobState::Dead),
            oldest_due_age_ms: oldest.map(|t| (now - t).max(0)).unwrap_or(0),
            by_state: rows,
        })
    }
}

/// A job taken by one worker under a lease.
#[derive(Debug, Clone)]
pub struct ClaimedJob {
    pub id: i64,
    pub store_id: String,
    pub order_id: i64,
    pub provider: JobQueue,
    pub target: String,
    /// The job's kind; a name no kind has (a row PrintBridge did not write) is kept so the
    /// attempt can fail permanently naming it.
    pub kind: Result<JobKind, UnknownName>,
    pub payload: serde_json::Value,
    /// Attempts finished before this one.
    pub attempts: i64,
    /// An earlier attempt began and never finished (a crash or an expired lease): its call
    /// may have reached the provider.
    pub interrupted: bool,
    /// This is the job's first claim ever (replays included): no call for it was made
    /// before, so nothing it asks for can exist at the provider yet.
    pub first_claim: bool,
    /// When an earlier attempt handed its request to the provider and its outcome was never
    /// recorded (milliseconds): the request may have taken effect.
    pub sent_unrecorded: Option<i64>,
    pub created_at: i64,
}

/// How an attempt ended, as stored.
#[derive(Debug, Clone)]
pub enum Finish {
    Done {
        provider_ref: Option<String>,
        result: serde_json::Value,
    },
    Retry {
        run_at: i64,
        error: String,
    },
    NeedsReview {
        reason: String,
    },
    Dead {
        reason: String,
    },
}

impl Finish {
    pub fn state(&self) -> JobState {
        match self {
            Finish::Done { .. } => JobState::Done,
            Finish::Retry { .. } => JobState::Retrying,
            Finish::NeedsReview { .. } => JobState::NeedsReview,
            Finish::Dead { .. } => JobState::Dead,
        }
    }
}

/// One attempt's record: what was sent, how long it took, what came back (redacted).
#[derive(Debug, Clone)]
pub struct AttemptRecord {
    pub started_at: i64,
    pub duration_ms: i64,
    /// success | retryable | ambiguous | permanent | resolved
    pub outcome: &'static str,
    pub status_code: Option<i64>,
    pub excerpt: Option<String>,
    pub error: Option<String>,
}

/// A kept artefact (a Key2print PDF) written before the job completes.
#[derive(Debug, Clone)]
pub struct NewFile {
    pub name: String,
    pub path: String,
    pub size: i64,
    pub sha256: String,
}

/// Side effects recorded in the same transaction as the job's completion.
#[derive(Debug, Clone, Default)]
pub struct FollowUp {
    /// Order notes to write back to the shop: (unique key, text).
    pub notes: Vec<(String, String)>,
    pub file: Option<NewFile>,
    /// Flags the order for the operator.
    pub attention: Option<String>,
    /// Order events to send (`crate::events`), planned with the attempt's record.
    pub events: Vec<crate::events::PlannedEvent>,
}

/// An order's current snapshot body: `order_snapshots.body`, or when that is empty (the
/// snapshot is its delivery's body, stored once) the delivery's body. Rows for
/// [`snapshot_text`] after `SELECT` and any columns before them; the caller adds the `WHERE`
/// on `o`.
pub(crate) const CURRENT_BODY_FROM: &str = "s.body, CASE WHEN s.body = '' THEN d.body END AS raw, \
     d.body_encoding FROM orders o JOIN order_snapshots s ON s.id = o.snapshot_id \
     LEFT JOIN deliveries d ON d.id = s.delivery_id";

/// Order ids per read of [`Store::claimed_order_bodies`].
const ROWS_PER_READ: usize = 500;

/// A row of [`CURRENT_BODY_FROM`]: the snapshot's body, the delivery's body as stored when the
/// snapshot's is empty, and its encoding.
pub(crate) type CurrentBody = (String, Option<Vec<u8>>, Option<String>);

/// An order id, whether it was erased, and its [`CurrentBody`] row.
type ClaimedBody = (i64, bool, String, Option<Vec<u8>>, Option<String>);

/// The orders of a claim (see [`Store::claimed_order_bodies`]).
#[derive(Debug, Default)]
pub struct ClaimedOrders {
    /// Current bodies, by (store, order id).
    pub bodies: HashMap<(String, i64), String>,
    /// Orders whose personal data was erased.
    pub erased: HashSet<(String, i64)>,
}

pub(crate) fn snapshot_text((body, raw, encoding): CurrentBody) -> Result<String, StoreError> {
    match raw {
        Some(raw) if body.is_empty() => {
            let raw = body::decode(encoding.as_deref().unwrap_or(body::IDENTITY), raw)?;
            Ok(String::from_utf8_lossy(&raw).into_owned())
        }
        _ => Ok(body),
    }
}

/// What the shop's owner does with an order's provider jobs before they are sent, from the
/// plugin's order screen. Only jobs never attempted are changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OwnerAction {
    /// Send now: held jobs and jobs waiting for the hold window are due at once.
    SendNow,
    /// Hold: queued jobs wait until they are sent (Send now).
    Hold,
    /// Approve: jobs awaiting approval (of one provider, or all) are queued; they are due
    /// at the end of the hold window, or at once when it has passed.
    Approve(Option<JobQueue>),
}

impl OwnerAction {
    /// The columns the action sets, in SQL (`$3` is now).
    fn set(self) -> &'static str {
        match self {
            OwnerAction::SendNow => "state = 'pending', run_at = $3, last_error = NULL",
            OwnerAction::Hold => "state = 'held'",
            OwnerAction::Approve(_) => "state = 'pending'",
        }
    }

    /// The jobs it changes, in SQL (`$3` is now).
    fn applies_to(self) -> &'static str {
        match self {
            OwnerAction::SendNow => "(state = 'held' OR (state = 'pending' AND run_at > $3))",
            OwnerAction::Hold => "state = 'pending'",
            OwnerAction::Approve(_) => "state = 'awaiting-approval'",
        }
    }
}

/// A replayed job starts afresh: queued, no attempts counted, no lease.
pub(crate) const REQUEUE: &str = "state = 'pending', attempts = 0, started = 0, sent_at = NULL, \
     locked_by = NULL, locked_until = NULL";

const CLAIM_COLUMNS: &str = "id, store_id, order_id, provider, target, kind, payload, attempts, \
     started, claims, sent_at, created_at";

/// A row of [`CLAIM_COLUMNS`].
#[derive(sqlx::FromRow)]
struct ClaimRow {
    id: i64,
    store_id: String,
    order_id: i64,
    provider: JobQueue,
    target: String,
    kind: String,
    payload: String,
    attempts: i64,
    started: i64,
    claims: i64,
    sent_at: Option<i64>,
    created_at: i64,
}

impl From<ClaimRow> for ClaimedJob {
    fn from(r: ClaimRow) -> Self {
        ClaimedJob {
            id: r.id,
            store_id: r.store_id,
            order_id: r.order_id,
            provider: r.provider,
            target: r.target,
            kind: r.kind.parse(),
            payload: serde_json::from_str(&r.payload).unwrap_or(serde_json::Value::Null),
            attempts: r.attempts,
            // `started` already counts this attempt.
            interrupted: r.started - 1 > r.attempts,
            // `claims` already counts this claim.
            first_claim: r.claims == 1,
            sent_unrecorded: r.sent_at,
            created_at: r.created_at,
        }
    }
}

/// SQLite's claim, over `$1` worker, `$2` lease end, `$3` now, `$4` provider and `$5` limit:
/// one `UPDATE … RETURNING` statement (a single writer).
fn claim_sqlite() -> String {
    format!(
        "UPDATE jobs SET state = 'running', locked_by = $1, locked_until = $2, \
         started = started + 1, claims = claims + 1, updated_at = $3 \
         WHERE id IN (SELECT id FROM jobs WHERE provider = $4 \
         AND state IN ('pending', 'retrying') AND run_at <= $3 \
         ORDER BY run_at, id LIMIT $5) RETURNING {CLAIM_COLUMNS}"
    )
}

/// PostgreSQL's claim, over the parameters of [`claim_sqlite`]: `FOR UPDATE SKIP LOCKED` in
/// a materialized CTE, so replicas never take the same job.
fn claim_postgres() -> String {
    let cols = CLAIM_COLUMNS
        .split(", ")
        .map(|c| format!("jobs.{c}"))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "WITH picked AS MATERIALIZED (SELECT id FROM jobs WHERE provider = $4 \
         AND state IN ('pending', 'retrying') AND run_at <= $3 \
         ORDER BY run_at, id LIMIT $5 FOR UPDATE SKIP LOCKED) \
         UPDATE jobs SET state = 'running', locked_by = $1, locked_until = $2, \
         started = jobs.started + 1, claims = jobs.claims + 1, updated_at = $3 \
         FROM picked \
         WHERE jobs.id = picked.id RETURNING {cols}"
    )
}

/// The job columns a finished attempt sets besides its state.
struct FinishColumns {
    provider_ref: Option<String>,
    result: Option<String>,
    last_error: Option<String>,
    run_at: Option<i64>,
}

impl FinishColumns {
    fn of(finish: &Finish) -> Self {
        let (provider_ref, result, last_error, run_at) = match finish {
            Finish::Done {
                provider_ref,
                result,
            } => (provider_ref.clone(), Some(result.to_string()), None, None),
            Finish::Retry { run_at, error } => (None, None, Some(error.clone()), Some(*run_at)),
            Finish::NeedsReview { reason } | Finish::Dead { reason } => {
                (None, None, Some(reason.clone()), None)
            }
        };
        FinishColumns {
            provider_ref,
            result,
            last_error,
            run_at,
        }
    }
}

/// Rows per statement when a group's attempts are recorded together (9 bound values per
/// row stays far below either backend's limit).
const FINISH_ROWS: usize = 500;

/// A group's attempts (indexes into it) in rounds, given their job ids: round *k* holds
/// each job's *k*-th report, in the group's order. A job reported twice in one group (never
/// expected: one lease, one attempt) has its second report in a later round, where it meets
/// the fence the first one left, as it would on its own.
fn rounds_by_job(job_ids: impl ExactSizeIterator<Item = i64>) -> Vec<Vec<usize>> {
    let mut reports: std::collections::HashMap<i64, usize> =
        std::collections::HashMap::with_capacity(job_ids.len());
    let mut rounds: Vec<Vec<usize>> = Vec::new();
    for (i, id) in job_ids.enumerate() {
        let k = reports.entry(id).or_insert(0);
        if rounds.len() <= *k {
            rounds.push(Vec::new());
        }
        rounds[*k].push(i);
        *k += 1;
    }
    rounds
}

impl Store {
    /// Claims up to `limit` due jobs of one provider for `worker` until `locked_until`.
    /// PostgreSQL: `FOR UPDATE SKIP LOCKED` in a materialized CTE, so replicas never take the
    /// same job; SQLite: one `UPDATE … RETURNING` statement (a single writer).
    pub async fn claim_jobs(
        &self,
        provider: JobQueue,
        worker: &str,
        now: i64,
        locked_until: i64,
        limit: i64,
    ) -> Result<Vec<ClaimedJob>, StoreError> {
        let sql = match self {
            Store::Sqlite(..) => claim_sqlite(),
            Store::Postgres(_) => claim_postgres(),
        };
        let rows: Vec<ClaimRow> = on_pool_write!(self, |pool| {
            sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .bind(worker)
                .bind(locked_until)
                .bind(now)
                .bind(provider)
                .bind(limit)
                .fetch_all(pool)
                .await?
        });
        let jobs = rows.into_iter().map(ClaimedJob::from).collect();
        Ok(jobs)
    }

    /// Records that `worker`'s attempt of job `id` is handing its request to the provider;
    /// false when the worker no longer holds the job (nothing may be sent then).
    pub async fn mark_sent(&self, id: i64, worker: &str, now: i64) -> Result<bool, StoreError> {
        let n = on_pool_write!(self, |pool| {
            sqlx::query(
                "UPDATE jobs SET sent_at = $3 WHERE id = $1 AND locked_by = $2 \
                 AND state = 'running'",
            )
            .bind(id)
            .bind(worker)
            .bind(now)
            .execute(pool)
            .await?
            .rows_affected()
        });
        Ok(n == 1)
    }

    /// Returns jobs whose lease expired (their worker died) to the queue; the next claim
    /// sees them as interrupted.
    pub async fn reap_expired_leases(&self, now: i64) -> Result<u64, StoreError> {
        let n = on_pool_write!(self, |pool| {
            sqlx::query(
                "UPDATE jobs SET state = 'retrying', locked_by = NULL, locked_until = NULL, \
                 run_at = $1, updated_at = $1 WHERE state = 'running' AND locked_until < $1",
            )
            .bind(now)
            .execute(pool)
            .await?
            .rows_affected()
        });
        Ok(n)
    }

    /// Gives back the jobs this worker still holds (graceful shutdown after the drain
    /// deadline), so another worker takes them at once instead of after the lease. Their
    /// attempt began, so the next claim sees them as interrupted.
    /// Puts back jobs `worker` claimed but never started (no call was made): queued again
    /// from `run_at`, their claim not counted, so the next claim does not take them for
    /// interrupted attempts.
    pub async fn unclaim(
        &self,
        jobs: &[ClaimedJob],
        worker: &str,
        run_at: i64,
    ) -> Result<u64, StoreError> {
        let mut n = 0;
        for chunk in jobs.chunks(ROWS_PER_READ) {
            n += on_pool_write!(self, |pool| {
                let mut q = sqlx::QueryBuilder::new(
                    "UPDATE jobs SET state = CASE WHEN attempts = 0 THEN 'pending' \
                     ELSE 'retrying' END, started = started - 1, claims = claims - 1, \
                     locked_by = NULL, \
                     locked_until = NULL, run_at = ",
                );
                q.push_bind(run_at)
                    .push(", updated_at = ")
                    .push_bind(run_at)
                    .push(" WHERE state = 'running' AND locked_by = ")
                    .push_bind(worker)
                    .push(" AND id IN (");
                let mut ids = q.separated(", ");
                for job in chunk {
                    ids.push_bind(job.id);
                }
                ids.push_unseparated(")");
                q.build().execute(pool).await?.rows_affected()
            });
        }
        Ok(n)
    }

    pub async fn release_leases(&self, worker: &str, now: i64) -> Result<u64, StoreError> {
        let n = on_pool_write!(self, |pool| {
            sqlx::query(
                "UPDATE jobs SET state = 'retrying', locked_by = NULL, locked_until = NULL, \
                 run_at = $2, updated_at = $2 WHERE locked_by = $1 AND state = 'running'",
            )
            .bind(worker)
            .bind(now)
            .execute(pool)
            .await?
            .rows_affected()
        });
        Ok(n)
    }

    /// Records an attempt and its outcome, fenced by the lease: returns false (and changes
    /// nothing) when `worker` no longer holds the job.
    pub async fn finish_job(
        &self,
        job: &ClaimedJob,
        worker: &str,
        now: i64,
        attempt: &AttemptRecord,
        finish: &Finish,
        follow_up: &FollowUp,
    ) -> Result<bool, StoreError> {
        let finished = FinishedAttempt {
            job: job.clone(),
            worker: worker.to_owned(),
            now,
            attempt: attempt.clone(),
            finish: finish.clone(),
            follow_up: follow_up.clone(),
        };
        let oks = self.finish_jobs(std::slice::from_ref(&finished)).await?;
        Ok(oks.first().copied().unwrap_or(false))
    }

    /// Records finished attempts in one transaction (one commit, one sync), each fenced by
    /// its lease: `false` (and nothing changed) for an attempt whose worker no longer held the
    /// job. One statement per table for a chunk of attempts: one update of their jobs, one
    /// insert of their attempts, one of their files, one of their order notes; only an order
    /// flagged for attention is updated on its own.
    async fn finish_jobs(&self, batch: &[FinishedAttempt]) -> Result<Vec<bool>, StoreError> {
        let oks = in_tx!(self, |tx| Outbox::finish(&mut tx, batch).await?);
        Ok(oks)
    }

    /// Puts a stopped job (dead letter, needing review, cancelled) back in the queue.
    /// `Ok(None)`: no such job; `Ok(Some(false))`: the job is not in a replayable state;
    /// a conflict when its order's personal data was erased, or its current state redacted
    /// by retention (the provider would get the redacted text: it is never sent).
    pub async fn replay_job(&self, id: i64, now: i64) -> Result<Option<bool>, StoreError> {
        let removed: Option<(i64, bool)> = on_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT j.order_id, o.erased_at IS NOT NULL FROM jobs j \
                 JOIN orders o ON o.store_id = j.store_id AND o.order_id = j.order_id \
                 LEFT JOIN order_snapshots s ON s.id = o.snapshot_id \
                 LEFT JOIN deliveries d ON d.id = s.delivery_id \
                 WHERE j.id = $1 AND (o.erased_at IS NOT NULL OR d.redacted_at IS NOT NULL)",
            )
            .bind(id)
            .fetch_optional(pool)
            .await?
        });
        if let Some((order_id, erased)) = removed {
            let how = if erased {
                "was erased"
            } else {
                "was removed by retention"
            };
            return Err(StoreError::Conflict(format!(
                "job {id} belongs to order {order_id}, whose personal data {how}: it is never sent"
            )));
        }
        let (exists, updated) = on_pool_write!(self, |pool| {
            let updated = sqlx::query(sqlx::AssertSqlSafe(format!(
                "UPDATE jobs SET {REQUEUE}, run_at = $2, updated_at = $2 \
                 WHERE id = $1 AND state IN ('dead', 'needs-review', 'cancelled') \
                 AND {NOT_ERASED} AND {CURRENT_STATE_KEPT}"
            )))
            .bind(id)
            .bind(now)
            .execute(pool)
            .await?
            .rows_affected();
            let exists: Option<i64> = sqlx::query_scalar("SELECT id FROM jobs WHERE id = $1")
                .bind(id)
                .fetch_optional(pool)
                .await?;
            (exists.is_some(), updated)
        });
        Ok(exists.then_some(updated == 1))
    }

    /// Does what the shop's owner asked with an order's provider jobs that were not sent
    /// (see [`OwnerAction`]); returns how many jobs it changed.
    pub async fn owner_action(
        &self,
        store_id: &str,
        order_id: i64,
        action: OwnerAction,
        now: i64,
    ) -> Result<u64, StoreError> {
        let provider = match action {
            OwnerAction::Approve(p) => p,
            _ => None,
        };
        let n = on_pool_write!(self, |pool| {
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "UPDATE jobs SET {}, updated_at = $3 WHERE store_id = $1 AND order_id = $2 \
                 AND {PROVIDER_JOBS} AND ($4 IS NULL OR provider = $4) \
                 AND started = 0 AND {}",
                action.set(),
                action.applies_to()
            )))
            .bind(store_id)
            .bind(order_id)
            .bind(now)
            .bind(provider.map(JobQueue::as_str))
            .execute(pool)
            .await?
            .rows_affected()
        });
        Ok(n)
    }

    /// Replays every stopped provider job of one order; returns how many.
    pub async fn replay_order(
        &self,
        store_id: &str,
        order_id: i64,
        now: i64,
    ) -> Result<u64, StoreError> {
        let n = on_pool_write!(self, |pool| {
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "UPDATE jobs SET {REQUEUE}, run_at = $3, updated_at = $3 \
                 WHERE store_id = $1 AND order_id = $2 AND state IN ('dead', 'needs-review') \
                 AND {NOT_ERASED}"
            )))
            .bind(store_id)
            .bind(order_id)
            .bind(now)
            .execute(pool)
            .await?
            .rows_affected()
        });
        Ok(n)
    }

    /// The current order bodies of claimed jobs, by (store, order id), and the orders among
    /// them whose personal data was erased (no body: their jobs must not run): one query per
    /// store for a whole claim instead of one per job.
    pub async fn claimed_order_bodies(
        &self,
        jobs: &[ClaimedJob],
    ) -> Result<ClaimedOrders, StoreError> {
        let mut by_store: HashMap<&str, Vec<i64>> = HashMap::new();
        for job in jobs {
            let ids = by_store.entry(job.store_id.as_str()).or_default();
            if !ids.contains(&job.order_id) {
                ids.push(job.order_id);
            }
        }
        let mut out = ClaimedOrders {
            bodies: HashMap::with_capacity(jobs.len()),
            erased: HashSet::new(),
        };
        for (store_id, ids) in by_store {
            for chunk in ids.chunks(ROWS_PER_READ) {
                let rows: Vec<ClaimedBody> = on_pool!(self, |pool| {
                    let mut q = sqlx::QueryBuilder::new(format!(
                        "SELECT o.order_id, o.erased_at IS NOT NULL, {CURRENT_BODY_FROM} \
                         WHERE o.store_id = "
                    ));
                    q.push_bind(store_id).push(" AND o.order_id IN (");
                    let mut list = q.separated(", ");
                    for id in chunk {
                        list.push_bind(*id);
                    }
                    list.push_unseparated(")");
                    q.build_query_as().fetch_all(pool).await?
                });
                for (order_id, erased, body, raw, encoding) in rows {
                    if erased {
                        out.erased.insert((store_id.to_owned(), order_id));
                        continue;
                    }
                    // One order that cannot be read back does not hold up the others: its
                    // jobs run without it and fail, saying so.
                    match snapshot_text((body, raw, encoding)) {
                        Ok(text) => {
                            out.bodies.insert((store_id.to_owned(), order_id), text);
                        }
                        Err(e) => {
                            tracing::warn!(store = store_id, order_id, error = %e, "an order's stored body cannot be read");
                        }
                    }
                }
            }
        }
        Ok(out)
    }

    /// Cancels jobs `worker` claimed whose order's personal data was erased (see
    /// [`Store::claimed_order_bodies`]): nothing was sent, and nothing will be.
    pub async fn cancel_claimed(
        &self,
        jobs: &[&ClaimedJob],
        worker: &str,
        now: i64,
    ) -> Result<u64, StoreError> {
        let mut n = 0;
        for job in jobs {
            n += on_pool_write!(self, |pool| {
                sqlx::query(
                    "UPDATE jobs SET state = 'cancelled', last_error = $4, locked_by = NULL, \
                     locked_until = NULL, sent_at = NULL, updated_at = $3 \
                     WHERE id = $1 AND locked_by = $2 AND state = 'running'",
                )
                .bind(job.id)
                .bind(worker)
                .bind(now)
                .bind(crate::privacy::subject::ERASED_REASON)
                .execute(pool)
                .await?
                .rows_affected()
            });
        }
        Ok(n)
    }

    /// The order as WooCommerce last sent it (its current snapshot), for building provider calls.
    pub async fn current_order_body(
        &self,
        store_id: &str,
        order_id: i64,
    ) -> Result<Option<String>, StoreError> {
        let row = on_pool!(self, |pool| {
            sqlx::query_as::<_, CurrentBody>(sqlx::AssertSqlSafe(format!(
                "SELECT {CURRENT_BODY_FROM} WHERE o.store_id = $1 AND o.order_id = $2"
            )))
            .bind(store_id)
            .bind(order_id)
            .fetch_optional(pool)
            .await?
        });
        row.map(snapshot_text).transpose()
    }

    /// The earliest `run_at` of a queued job, to sleep until then.
    pub async fn next_run_at(&self) -> Result<Option<i64>, StoreError> {
        // One index probe per provider queue (jobs_due), not a scan of every queued job.
        let t = on_pool!(self, |pool| {
            sqlx::query_scalar::<_, Option<i64>>(
                "SELECT MIN(t) FROM (\
                 SELECT (SELECT run_at FROM jobs WHERE provider = 'spiff' AND state IN ('pending', 'retrying') ORDER BY run_at LIMIT 1) AS t \
                 UNION ALL SELECT (SELECT run_at FROM jobs WHERE provider = 'apliiq' AND state IN ('pending', 'retrying') ORDER BY run_at LIMIT 1) \
                 UNION ALL SELECT (SELECT run_at FROM jobs WHERE provider = 'key2print' AND state IN ('pending', 'retrying') ORDER BY run_at LIMIT 1) \
                 UNION ALL SELECT (SELECT run_at FROM jobs WHERE provider = 'woocommerce' AND state IN ('pending', 'retrying') ORDER BY run_at LIMIT 1) \
                 UNION ALL SELECT (SELECT run_at FROM jobs WHERE provider = 'events' AND state IN ('pending', 'retrying') ORDER BY run_at LIMIT 1)\
                 ) AS next_due",
            )
            .fetch_one(pool)
            .await?
        });
        Ok(t)
    }
}

impl Store {
    /// The newest `date_modified_gmt` the reconciler has fetched for a store.
    pub async fn reconcile_cursor(&self, store_id: &str) -> Result<Option<String>, StoreError> {
        let c = on_pool!(self, |pool| {
            sqlx::query_scalar::<_, String>(
                "SELECT cursor_gmt FROM reconcile_state WHERE store_id = $1",
            )
            .bind(store_id)
            .fetch_optional(pool)
            .await?
        });
        Ok(c)
    }

    pub async fn save_reconcile_cursor(
        &self,
        store_id: &str,
        cursor_gmt: &str,
        now: i64,
        error: Option<&str>,
    ) -> Result<(), StoreError> {
        on_pool_write!(self, |pool| {
            sqlx::query(
                "INSERT INTO reconcile_state (store_id, cursor_gmt, last_run_at, last_error) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT (store_id) DO UPDATE SET \
                 cursor_gmt = excluded.cursor_gmt, last_run_at = excluded.last_run_at, \
                 last_error = excluded.last_error",
            )
            .bind(store_id)
            .bind(cursor_gmt)
            .bind(now)
            .bind(error)
            .execute(pool)
            .await?
            .rows_affected()
        });
        Ok(())
    }
}

impl Store {
    /// Plans an order note for write-back (once per key); returns whether it was new.
    pub async fn plan_order_note(
        &self,
        store_id: &str,
        order_id: i64,
        key: &str,
        note: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        let inserted = on_pool_write!(self, |pool| {
            Ledger::plan_note(pool, store_id, order_id, key, note, now).await?
        });
        Ok(inserted)
    }
}

/// The key the bridge remembers a registered shop customer's Key2print user under (a guest's
/// is `guest:<key>`).
pub fn customer_key(customer_id: i64) -> String {
    format!("customer:{customer_id}")
}

impl Store {
    /// The Key2print user the bridge created for a shop customer (`customer:<id>`, see
    /// [`customer_key`], or `guest:<key>`), if any.
    pub async fn key2print_user(
        &self,
        store_id: &str,
        customer_key: &str,
    ) -> Result<Option<String>, StoreError> {
        let id = on_pool!(self, |pool| {
            sqlx::query_scalar::<_, String>(
                "SELECT user_id FROM key2print_users WHERE store_id = $1 AND customer_key = $2",
            )
            .bind(store_id)
            .bind(customer_key)
            .fetch_optional(pool)
            .await?
        });
        Ok(id)
    }

    /// Remembers a customer's Key2print user; when another request remembered one first,
    /// returns that one (so a customer keeps a single Key2print user).
    pub async fn remember_key2print_user(
        &self,
        store_id: &str,
        customer_key: &str,
        user_id: &str,
        now: i64,
    ) -> Result<String, StoreError> {
        on_pool_write!(self, |pool| {
            sqlx::query(
                "INSERT INTO key2print_users (store_id, customer_key, user_id, created_at) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT (store_id, customer_key) DO NOTHING",
            )
            .bind(store_id)
            .bind(customer_key)
            .bind(user_id)
            .bind(now)
            .execute(pool)
            .await?
            .rows_affected()
        });
        Ok(self
            .key2print_user(store_id, customer_key)
            .await?
            .unwrap_or_else(|| user_id.to_owned()))
    }
}

/// A finished attempt waiting to be recorded.
struct FinishedAttempt {
    job: ClaimedJob,
    worker: String,
    now: i64,
    attempt: AttemptRecord,
    finish: Finish,
    follow_up: FollowUp,
}

type FinishReply = crate::store::writer::Reply<bool>;

/// Most attempts one transaction records.
const MAX_FINISH_GROUP: usize = 256;

/// Group commit for the dispatcher: attempts that finish while a commit is being synced are
/// recorded together in the next transaction. Each caller returns once its own attempt is
/// committed.
pub struct FinishQueue {
    group: crate::store::writer::GroupCommit<FinishedAttempt, bool>,
}

impl Default for FinishQueue {
    fn default() -> Self {
        Self::new()
    }
}

impl FinishQueue {
    pub fn new() -> Self {
        FinishQueue {
            group: crate::store::writer::GroupCommit::new(
                |store, batch| Box::pin(finish_group(store, batch)),
                MAX_FINISH_GROUP,
            ),
        }
    }

    /// Like [`Store::finish_job`], grouped with concurrent ones into one transaction.
    pub async fn record(
        &self,
        store: &Store,
        job: ClaimedJob,
        worker: &str,
        now: i64,
        attempt: AttemptRecord,
        finish: Finish,
        follow_up: FollowUp,
    ) -> Result<bool, StoreError> {
        // Attempts of one order's jobs go through one writer.
        let key = job.order_id;
        let item = FinishedAttempt {
            job,
            worker: worker.to_owned(),
            now,
            attempt,
            finish,
            follow_up,
        };
        self.group.submit(store, key, item).await
    }
}

/// Records a group in one transaction; if that fails, each attempt on its own.
async fn finish_group(store: Store, batch: Vec<(FinishedAttempt, FinishReply)>) {
    let (items, replies): (Vec<_>, Vec<_>) = batch.into_iter().unzip();
    match store.finish_jobs(&items).await {
        Ok(oks) => {
            for (reply, ok) in replies.into_iter().zip(oks) {
                let _ = reply.send(Ok(ok));
            }
        }
        Err(e) if items.len() == 1 => {
            if let Some(reply) = replies.into_iter().next() {
                let _ = reply.send(Err(e));
            }
        }
        Err(_) => {
            for (item, reply) in items.into_iter().zip(replies) {
                let r = store
                    .finish_jobs(std::slice::from_ref(&item))
                    .await
                    .map(|oks| oks.first().copied().unwrap_or(false));
                let _ = reply.send(r);
            }
        }
    }
}

/// The outbox's statements, on a connection of either backend inside the caller's
/// transaction.
struct Outbox<DB>(PhantomData<DB>);

impl<DB: Backend> Outbox<DB>
where
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    DB::Arguments: IntoArguments<DB>,
    usize: ColumnIndex<DB::Row>,
    for<'q> i64: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
    for<'q> Option<i64>: Encode<'q, DB>,
    for<'q> i32: Encode<'q, DB> + Type<DB>,
    for<'q> bool: Decode<'q, DB> + Type<DB>,
    for<'q> &'q str: Encode<'q, DB> + Type<DB>,
    for<'q> Option<&'q str>: Encode<'q, DB>,
    for<'q> String: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
    for<'q> &'q [u8]: Encode<'q, DB> + Type<DB>,
    for<'q> Vec<u8>: Decode<'q, DB> + Type<DB>,
{
    /// Records finished attempts (see [`Store::finish_jobs`]): per round of reports and chunk
    /// of [`FINISH_ROWS`], one update of their jobs, fenced by the lease, then the records of
    /// the attempts that held it. Returns, per attempt, whether it held its job.
    async fn finish(
        tx: &mut Transaction<'_, DB>,
        batch: &[FinishedAttempt],
    ) -> Result<Vec<bool>, StoreError> {
        let tx: &mut DB::Connection = tx;
        let rounds = rounds_by_job(batch.iter().map(|f| f.job.id));
        let mut oks = vec![false; batch.len()];
        for chunk in rounds.iter().flat_map(|round| round.chunks(FINISH_ROWS)) {
            let chunk: Vec<(usize, &FinishedAttempt)> =
                chunk.iter().map(|&i| (i, &batch[i])).collect();
            let updated = Self::update_finished(tx, &chunk).await?;
            for (i, f) in &chunk {
                oks[*i] = updated.contains(&f.job.id);
            }
            let done: Vec<&FinishedAttempt> = chunk
                .iter()
                .filter(|(_, f)| updated.contains(&f.job.id))
                .map(|(_, f)| *f)
                .collect();
            if !done.is_empty() {
                Self::insert_attempts(tx, &done).await?;
            }
            Self::insert_files(tx, &done).await?;
            Self::plan_notes(tx, &done).await?;
            Self::flag_attention(tx, &done).await?;
            for f in &done {
                crate::events::insert::<DB>(tx, &f.follow_up.events, f.now).await?;
            }
        }
        Ok(oks)
    }

    /// Sets the state and columns of each attempt's job, if its worker still holds it;
    /// returns the ids of the jobs updated.
    async fn update_finished(
        tx: &mut DB::Connection,
        chunk: &[(usize, &FinishedAttempt)],
    ) -> Result<HashSet<i64>, StoreError> {
        let mut q = QueryBuilder::new(
            "UPDATE jobs SET state = v.column3, attempts = attempts + 1, \
             locked_by = NULL, locked_until = NULL, \
             provider_ref = COALESCE(v.column4, provider_ref), \
             result = COALESCE(v.column5, result), last_error = v.column6, \
             last_status = v.column7, run_at = COALESCE(v.column8, run_at), \
             sent_at = NULL, updated_at = v.column9 FROM (",
        );
        let columns: Vec<FinishColumns> = chunk
            .iter()
            .map(|(_, f)| FinishColumns::of(&f.finish))
            .collect();
        q.push_values(chunk.iter().zip(&columns), |mut row, ((_, f), c)| {
            row.push_bind(f.job.id)
                .push_bind(f.worker.as_str())
                .push_bind(f.finish.state().as_str())
                .push_bind(c.provider_ref.as_deref())
                .push_bind(c.result.as_deref())
                .push_bind(c.last_error.as_deref())
                .push_bind(f.attempt.status_code)
                .push_bind(c.run_at)
                .push_bind(f.now);
        });
        // `VALUES` columns are column1, column2, … on both backends.
        q.push(
            ") AS v WHERE jobs.id = v.column1 AND jobs.locked_by = v.column2 \
             AND jobs.state = 'running' RETURNING jobs.id",
        );
        let updated: Vec<i64> = q.build_query_scalar().fetch_all(&mut *tx).await?;
        Ok(updated.into_iter().collect())
    }

    /// The records of the attempts `done`.
    async fn insert_attempts(
        tx: &mut DB::Connection,
        done: &[&FinishedAttempt],
    ) -> Result<(), StoreError> {
        let mut q = QueryBuilder::new(
            "INSERT INTO job_attempts (job_id, started_at, duration_ms, outcome, \
             status_code, excerpt, error, worker) ",
        );
        q.push_values(done, |mut row, f| {
            let a = &f.attempt;
            row.push_bind(f.job.id)
                .push_bind(a.started_at)
                .push_bind(a.duration_ms)
                .push_bind(a.outcome)
                .push_bind(a.status_code)
                .push_bind(a.excerpt.as_deref())
                .push_bind(a.error.as_deref())
                .push_bind(f.worker.as_str());
        });
        q.build().execute(&mut *tx).await?;
        Ok(())
    }

    /// The files the attempts `done` kept, one per job.
    async fn insert_files(
        tx: &mut DB::Connection,
        done: &[&FinishedAttempt],
    ) -> Result<(), StoreError> {
        let files: Vec<(&FinishedAttempt, &NewFile)> = done
            .iter()
            .filter_map(|f| f.follow_up.file.as_ref().map(|file| (*f, file)))
            .collect();
        if files.is_empty() {
            return Ok(());
        }
        let mut q = QueryBuilder::new(
            "INSERT INTO files (store_id, order_id, job_id, name, path, size, sha256, \
             created_at) ",
        );
        q.push_values(&files, |mut row, (f, file)| {
            row.push_bind(f.job.store_id.as_str())
                .push_bind(f.job.order_id)
                .push_bind(f.job.id)
                .push_bind(file.name.as_str())
                .push_bind(file.path.as_str())
                .push_bind(file.size)
                .push_bind(file.sha256.as_str())
                .push_bind(f.now);
        });
        q.push(
            " ON CONFLICT (job_id) DO UPDATE SET name = excluded.name, \
             path = excluded.path, size = excluded.size, sha256 = excluded.sha256",
        );
        q.build().execute(&mut *tx).await?;
        Ok(())
    }

    /// Order notes to write back, each planned once per key (as [`Ledger::plan_note`]).
    async fn plan_notes(
        tx: &mut DB::Connection,
        done: &[&FinishedAttempt],
    ) -> Result<(), StoreError> {
        let notes: Vec<(&FinishedAttempt, String, String)> = done
            .iter()
            .flat_map(|f| {
                f.follow_up.notes.iter().map(move |(key, note)| {
                    (
                        *f,
                        format!("note:{key}"),
                        serde_json::json!({ "note": note }).to_string(),
                    )
                })
            })
            .collect();
        for notes in notes.chunks(FINISH_ROWS) {
            let mut q = QueryBuilder::new(
                "INSERT INTO jobs (store_id, order_id, provider, target, kind, state, \
                 payload, run_at, created_at, updated_at) ",
            );
            q.push_values(notes, |mut row, (f, target, payload)| {
                row.push_bind(f.job.store_id.as_str())
                    .push_bind(f.job.order_id)
                    .push("'woocommerce'")
                    .push_bind(target.as_str())
                    .push("'order_note'")
                    .push("'pending'")
                    .push_bind(payload.as_str())
                    .push_bind(f.now)
                    .push_bind(f.now)
                    .push_bind(f.now);
            });
            q.push(" ON CONFLICT (store_id, order_id, provider, target) DO NOTHING");
            q.build().execute(&mut *tx).await?;
        }
        Ok(())
    }

    /// Rare (a provider said something a person must read): one by one, so two jobs of one
    /// order leave the later reason, as they would on their own.
    async fn flag_attention(
        tx: &mut DB::Connection,
        done: &[&FinishedAttempt],
    ) -> Result<(), StoreError> {
        for f in done {
            if let Some(reason) = &f.follow_up.attention {
                sqlx::query(
                    "UPDATE orders SET attention = $3, updated_at = $4 \
                     WHERE store_id = $1 AND order_id = $2",
                )
                .bind(f.job.store_id.as_str())
                .bind(f.job.order_id)
                .bind(reason.as_str())
                .bind(f.now)
                .execute(&mut *tx)
                .await?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::{JOB_COUNTS, rounds_by_job};
    use crate::store::sqlite_plan;

    #[test]
    fn a_job_reported_twice_in_a_group_is_recorded_in_a_later_round() {
        assert_eq!(
            rounds_by_job([7, 8, 7, 9, 7].into_iter()),
            vec![vec![0, 1, 3], vec![2], vec![4]]
        );
        assert_eq!(rounds_by_job([1, 2, 3].into_iter()), vec![vec![0, 1, 2]]);
        assert!(rounds_by_job(std::iter::empty()).is_empty());
    }

    /// An order's jobs are read through the jobs' unique key (no index of their own since
    /// migration 0004), not by scanning the table.
    #[tokio::test]
    async fn an_orders_jobs_are_found_by_the_unique_key() {
        let steps =
            sqlite_plan("SELECT id FROM jobs WHERE store_id = 's' AND order_id = 1 ORDER BY id")
                .await;
        assert!(
            steps.iter().any(|s| s.starts_with("SEARCH jobs USING")
                && s.contains("sqlite_autoindex_jobs_1 (store_id=? AND order_id=?)")),
            "{steps:?}"
        );
        assert!(
            !steps.iter().any(|s| s.starts_with("SCAN jobs")),
            "{steps:?}"
        );
    }

    /// `/metrics` counts jobs from two partial indexes: running, needs-review and dead jobs
    /// from `jobs_state` alone, queued ones through `jobs_due`. A scrape reads no finished
    /// job of a table that only grows.
    #[tokio::test]
    async fn jobs_are_counted_from_partial_indexes() {
        let steps = sqlite_plan(&JOB_COUNTS).await;
        let reads: Vec<&str> = steps
            .iter()
            .map(String::as_str)
            .filter(|s| s.contains(" jobs"))
            .collect();
        assert_eq!(
            reads,
            [
                "SEARCH jobs USING COVERING INDEX jobs_state (state=?)",
                "SCAN jobs USING INDEX jobs_due"
            ],
            "{steps:?}"
        );
    }
}

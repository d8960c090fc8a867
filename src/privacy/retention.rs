//! The privacy sweep: per store, in bounded batches, it
//! - fills in the contacts of orders applied before migration 0011 (a batch per sweep),
//! - finishes erasures: deliveries of erased orders that arrived after the erasure, and
//!   what an attempt under way at the erasure recorded, are redacted,
//! - applies the store's retention (`[stores.retention]`): once an order is finished (no
//!   job queued, held, awaiting approval, running, waiting for review or dead) for the
//!   configured days, its earlier delivery bodies, its current state's personal fields, its attempt excerpts and its
//!   kept files are redacted or removed. Ids, states, times, amounts and hashes stay, so
//!   exactly-once (the unique job keys, snapshot keys) and the audit trail are unaffected.
//!   When `unattended_jobs_days` is set, a job that has waited that long for the owner
//!   (dead, waiting for review, held or awaiting approval) is cancelled first, so that its
//!   order finishes and the days above run from then.
//!
//! Every write is a short transaction of at most [`ops::BATCH`] rows, so intake and
//! dispatch, which share SQLite's single writer, wait at most one batch.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use tokio::sync::watch;

use super::ops::{self, Bodies, OrderRef};
use super::redact::MARKER;
use crate::config::{RetentionConfig, StoreConfig};
use crate::http::AppState;
use crate::intake::apply::Ledger;
use crate::outbox::job_types::JobQueue;
use crate::outbox::jobs::IN_JOBS_STATE;
use crate::outbox::provider_label;
use crate::store::{Store, StoreError, in_tx, on_pool};

/// Orders read per batch of the retention walk.
const WALK_BATCH: i64 = 100;

/// Orders the retention walk looks at per store and sweep; the next sweep goes on from
/// where this one stopped.
const WALK_PER_SWEEP: usize = 2_000;

/// Erased orders followed up per store and sweep.
const ERASED_PER_SWEEP: i64 = 200;

const DAY_MS: i64 = 86_400_000;

/// The retention steps, as bits of `orders.retention_done` (migration 0011).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    /// Earlier delivery bodies (`delivery_bodies_days`).
    EarlierBodies = 1,
    /// The current state's personal fields (`snapshots_days`).
    CurrentState = 2,
    /// Attempt excerpts and kept answers (`attempt_excerpts_days`).
    Excerpts = 4,
    /// Kept files (`files_days`).
    Files = 8,
}

const STEPS: [Step; 4] = [
    Step::EarlierBodies,
    Step::CurrentState,
    Step::Excerpts,
    Step::Files,
];

/// Every step done.
pub(crate) const ALL_DONE: i64 = 15;

impl Step {
    fn days(self, r: &RetentionConfig) -> u32 {
        match self {
            Step::EarlierBodies => r.delivery_bodies_days,
            Step::CurrentState => r.snapshots_days,
            Step::Excerpts => r.attempt_excerpts_days,
            Step::Files => r.files_days,
        }
    }

    /// The label of `printbridge_privacy_redacted_total` for what the step redacts.
    fn kind(self) -> &'static str {
        match self {
            Step::EarlierBodies => "delivery_body",
            Step::CurrentState => "snapshot",
            Step::Excerpts => "attempt_excerpt",
            Step::Files => "file",
        }
    }
}

/// What one sweep of one store did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SweepReport {
    /// Orders applied before 0011 whose contact was filled in.
    pub contacts_indexed: u64,
    /// Rows redacted by the follow-up of erasures (deliveries, snapshots, attempts).
    pub erasure_rows: u64,
    /// Jobs of erased orders found queued and cancelled.
    pub erasure_jobs_cancelled: u64,
    /// Rows redacted or files removed by retention, by kind label.
    pub retention: Vec<(&'static str, u64)>,
    /// Orders whose retention is complete.
    pub orders_completed: u64,
    /// Jobs cancelled after waiting `unattended_jobs_days` for the owner.
    pub unattended_jobs_cancelled: u64,
}

impl SweepReport {
    fn add(&mut self, kind: &'static str, n: u64) {
        if n == 0 {
            return;
        }
        match self.retention.iter_mut().find(|(k, _)| *k == kind) {
            Some((_, total)) => *total += n,
            None => self.retention.push((kind, n)),
        }
    }

    /// Whether the sweep changed anything.
    pub fn is_empty(&self) -> bool {
        *self == SweepReport::default()
    }
}

/// Where each store's retention walk stands: (updated_at, order_id) of the last order seen.
#[derive(Debug, Default)]
pub struct Cursors(HashMap<String, (i64, i64)>);

/// Runs the sweep every `privacy_sweep_interval_secs` (0: never) until shutdown, the first
/// one interval after start.
pub async fn run(state: Arc<AppState>, mut shutdown: watch::Receiver<bool>) {
    let every = Duration::from_secs(state.config.privacy_sweep_interval_secs);
    if every.is_zero() {
        return;
    }
    let mut cursors = Cursors::default();
    loop {
        tokio::select! {
            _ = shutdown.changed() => return,
            _ = tokio::time::sleep(every) => {}
        }
        if *shutdown.borrow() {
            return;
        }
        for cfg in &state.config.stores {
            let now = state.clock.now_ms();
            sweep_and_report(&state, cfg, now, &mut cursors).await;
        }
    }
}

/// One sweep of one store, logged and counted in `/metrics`.
pub async fn sweep_and_report(
    state: &AppState,
    cfg: &StoreConfig,
    now: i64,
    cursors: &mut Cursors,
) -> Option<SweepReport> {
    match sweep(&state.store, cfg, now, cursors).await {
        Ok(report) => {
            state.metrics.privacy_sweep("ok");
            state
                .metrics
                .privacy_redacted("erasure", "rows", report.erasure_rows);
            for (kind, n) in &report.retention {
                state.metrics.privacy_redacted("retention", kind, *n);
            }
            state
                .metrics
                .unattended_jobs_cancelled(report.unattended_jobs_cancelled);
            if !report.is_empty() {
                tracing::info!(
                    store = %cfg.id,
                    contacts_indexed = report.contacts_indexed,
                    erasure_rows = report.erasure_rows,
                    erasure_jobs_cancelled = report.erasure_jobs_cancelled,
                    retention = ?report.retention,
                    orders_completed = report.orders_completed,
                    unattended_jobs_cancelled = report.unattended_jobs_cancelled,
                    "privacy sweep"
                );
            }
            Some(report)
        }
        Err(e) => {
            state.metrics.privacy_sweep("failed");
            tracing::warn!(store = %cfg.id, error = %e, "privacy sweep failed; the next one goes on");
            None
        }
    }
}

/// One sweep of one store at `now` (see the module's description).
pub async fn sweep(
    store: &Store,
    cfg: &StoreConfig,
    now: i64,
    cursors: &mut Cursors,
) -> Result<SweepReport, StoreError> {
    let mut report = SweepReport {
        contacts_indexed: store.index_order_contacts(&cfg.id).await?,
        ..SweepReport::default()
    };
    follow_up_erasures(store, &cfg.id, now, &mut report).await?;
    let r = &cfg.retention;
    if r.unattended_jobs_days > 0 {
        let before = now - i64::from(r.unattended_jobs_days) * DAY_MS;
        let reason = unattended_reason(r.unattended_jobs_days);
        let notes = cfg.has_rest_keys().then_some(r.unattended_jobs_days);
        loop {
            let n = store
                .cancel_unattended_jobs(&cfg.id, before, &reason, notes, now)
                .await?;
            report.unattended_jobs_cancelled += n;
            if n < u64::try_from(ops::BATCH).unwrap_or(0) {
                break;
            }
        }
    }
    if r.delivery_bodies_days > 0 {
        let before = now - i64::from(r.delivery_bodies_days) * DAY_MS;
        loop {
            let n = store.redact_orderless(&cfg.id, before, now).await?;
            report.add(Step::EarlierBodies.kind(), n);
            if n < u64::try_from(ops::BATCH).unwrap_or(0) {
                break;
            }
        }
    }
    walk(store, cfg, now, cursors, &mut report).await?;
    Ok(report)
}

/// Cancels a batch of jobs waiting for the owner, found through the partial index
/// `jobs_state` (which also holds the running jobs, left alone): binds store, unchanged
/// before, reason, now and the batch size; returns each job's id, order and queue. The
/// store is compared as an expression, or SQLite would read every job of the store through
/// the unique key instead.
static CANCEL_UNATTENDED: LazyLock<String> = LazyLock::new(|| {
    format!(
        "UPDATE jobs SET state = 'cancelled', last_error = $3, updated_at = $4 \
         WHERE id IN (SELECT id FROM jobs WHERE {IN_JOBS_STATE} AND state <> 'running' \
         AND store_id || '' = $1 AND updated_at < $2 ORDER BY id LIMIT $5) \
         RETURNING id, order_id, provider"
    )
});

/// The order note that tells the shop's owner a print job was cancelled after `days`.
fn unattended_note(provider: JobQueue, days: u32) -> String {
    format!(
        "PrintBridge: the {} print job waited {days} days for someone to act on it and was \
         cancelled, as this shop's retention settings ask; PrintBridge no longer sends it.",
        provider_label(provider)
    )
}

/// The reason a job cancelled after waiting `days` for the owner carries.
fn unattended_reason(days: u32) -> String {
    format!(
        "cancelled by retention after waiting {days} days for the owner \
         ([stores.retention] unattended_jobs_days); the order's personal data is now removed \
         on the retention schedule"
    )
}

/// Redacts what erased orders still hold (deliveries that came after the erasure, what an
/// attempt under way recorded) and cancels their queued jobs.
async fn follow_up_erasures(
    store: &Store,
    store_id: &str,
    now: i64,
    report: &mut SweepReport,
) -> Result<(), StoreError> {
    let orders: Vec<i64> = on_pool!(store, |pool| {
        sqlx::query_scalar(
            "SELECT o.order_id FROM orders o WHERE o.store_id = $1 AND o.erased_at IS NOT NULL \
             AND (EXISTS (SELECT 1 FROM deliveries d WHERE d.store_id = o.store_id \
               AND d.order_id = o.order_id AND d.redacted_at IS NULL AND d.outcome <> 'stored') \
             OR EXISTS (SELECT 1 FROM jobs j JOIN job_attempts a ON a.job_id = j.id \
               WHERE j.store_id = o.store_id AND j.order_id = o.order_id \
               AND j.state <> 'running' \
               AND ((a.excerpt IS NOT NULL AND a.excerpt <> $2) \
                 OR (a.error IS NOT NULL AND a.error <> $2)))) \
             ORDER BY o.order_id LIMIT $3",
        )
        .bind(store_id)
        .bind(MARKER)
        .bind(ERASED_PER_SWEEP)
        .fetch_all(pool)
        .await?
    });
    for order_id in orders {
        let o = OrderRef { store_id, order_id };
        report.erasure_rows += store.redact_deliveries(o, Bodies::All, now).await?;
        report.erasure_rows += store.redact_snapshots(o).await?;
        report.erasure_rows += store.redact_attempts(o).await?;
    }
    report.erasure_jobs_cancelled = store.cancel_erased_jobs(store_id, now).await?;
    Ok(())
}

/// An order the retention walk looks at: id, `updated_at`, `retention_done`.
type Candidate = (i64, i64, i64);

/// The retention walk: the store's orders not done with, oldest change first, from the
/// store's cursor, at most [`WALK_PER_SWEEP`]; at the end the cursor starts over.
async fn walk(
    store: &Store,
    cfg: &StoreConfig,
    now: i64,
    cursors: &mut Cursors,
    report: &mut SweepReport,
) -> Result<(), StoreError> {
    let r = &cfg.retention;
    let Some(shortest) = STEPS.iter().map(|s| s.days(r)).filter(|d| *d > 0).min() else {
        return Ok(());
    };
    let older_than = now - i64::from(shortest) * DAY_MS;
    let mut seen = 0usize;
    while seen < WALK_PER_SWEEP {
        let from = cursors
            .0
            .get(&cfg.id)
            .copied()
            .unwrap_or((i64::MIN, i64::MIN));
        let batch = store
            .retention_candidates(&cfg.id, older_than, from)
            .await?;
        let Some(&(last_id, last_at, _)) = batch.last() else {
            cursors.0.remove(&cfg.id);
            return Ok(());
        };
        cursors.0.insert(cfg.id.clone(), (last_at, last_id));
        seen += batch.len();
        let finished = store.finished_at(&cfg.id, &batch).await?;
        for (order_id, _, done) in batch {
            let Some(&at) = finished.get(&order_id) else {
                continue;
            };
            let o = OrderRef {
                store_id: &cfg.id,
                order_id,
            };
            let now_done = retain(store, o, r, done, at, now, report).await?;
            if now_done != done {
                store.set_retention_done(o, now_done).await?;
                if now_done == ALL_DONE {
                    report.orders_completed += 1;
                }
            }
        }
    }
    Ok(())
}

/// The retention steps of one finished order that are due and not done; returns its new
/// `retention_done`. A step whose days are 0 keeps its data for good and counts as done.
async fn retain(
    store: &Store,
    o: OrderRef<'_>,
    r: &RetentionConfig,
    mut done: i64,
    finished_at: i64,
    now: i64,
    report: &mut SweepReport,
) -> Result<i64, StoreError> {
    for step in STEPS {
        let bit = step as i64;
        let days = step.days(r);
        if done & bit != 0 {
            continue;
        }
        if days == 0 {
            done |= bit;
            continue;
        }
        if finished_at >= now - i64::from(days) * DAY_MS {
            continue;
        }
        let n = match step {
            Step::EarlierBodies => store.redact_deliveries(o, Bodies::Earlier, now).await?,
            Step::CurrentState => {
                store.redact_deliveries(o, Bodies::Current, now).await?
                    + store.redact_snapshots(o).await?
            }
            Step::Excerpts => store.redact_attempts(o).await?,
            Step::Files => store.remove_files(o, now).await?,
        };
        report.add(step.kind(), n);
        done |= bit;
    }
    Ok(done)
}

impl Store {
    /// Up to [`WALK_BATCH`] orders of the store with retention steps left, changed before
    /// `older_than`, after `from` in (updated_at, order_id) order (index `orders_retention`).
    async fn retention_candidates(
        &self,
        store_id: &str,
        older_than: i64,
        from: (i64, i64),
    ) -> Result<Vec<Candidate>, StoreError> {
        let rows: Vec<Candidate> = on_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT order_id, updated_at, retention_done FROM orders \
                 WHERE store_id = $1 AND retention_done < 15 AND updated_at < $2 \
                 AND (updated_at > $3 OR (updated_at = $3 AND order_id > $4)) \
                 ORDER BY updated_at, order_id LIMIT $5",
            )
            .bind(store_id)
            .bind(older_than)
            .bind(from.0)
            .bind(from.1)
            .bind(WALK_BATCH)
            .fetch_all(pool)
            .await?
        });
        Ok(rows)
    }

    /// When each of the candidates finished: the later of its last change and its jobs'
    /// last change; absent when a job of it is queued, held, awaiting approval, running,
    /// waiting for review or dead.
    async fn finished_at(
        &self,
        store_id: &str,
        batch: &[Candidate],
    ) -> Result<HashMap<i64, i64>, StoreError> {
        let rows: Vec<(i64, i64, i64)> = on_pool!(self, |pool| {
            let mut q = sqlx::QueryBuilder::new(
                "SELECT order_id, MAX(updated_at), SUM(CASE WHEN state IN ('pending', 'retrying', \
                 'held', 'awaiting-approval', 'running', 'needs-review', 'dead') THEN 1 ELSE 0 END) \
                 FROM jobs WHERE store_id = ",
            );
            q.push_bind(store_id).push(" AND order_id IN (");
            let mut ids = q.separated(", ");
            for (id, _, _) in batch {
                ids.push_bind(*id);
            }
            ids.push_unseparated(") GROUP BY order_id");
            q.build_query_as().fetch_all(pool).await?
        });
        let jobs: HashMap<i64, (i64, i64)> = rows
            .into_iter()
            .map(|(o, at, open)| (o, (at, open)))
            .collect();
        Ok(batch
            .iter()
            .filter_map(|&(id, updated, _)| match jobs.get(&id) {
                Some(&(_, open)) if open > 0 => None,
                Some(&(at, _)) => Some((id, at.max(updated))),
                None => Some((id, updated)),
            })
            .collect())
    }

    async fn set_retention_done(&self, o: OrderRef<'_>, done: i64) -> Result<(), StoreError> {
        in_tx!(self, |tx| {
            sqlx::query(
                "UPDATE orders SET retention_done = $3 WHERE store_id = $1 AND order_id = $2",
            )
            .bind(o.store_id)
            .bind(o.order_id)
            .bind(done)
            .execute(&mut *tx)
            .await?;
        });
        Ok(())
    }

    /// Cancels up to [`ops::BATCH`] of the store's jobs that wait for the owner (dead,
    /// waiting for review, held or awaiting approval) unchanged since before `before`;
    /// returns how many. With `note_days` (the shop takes order notes), each cancelled print
    /// job plans an order note saying so, in the same transaction. The owner's Retry, Send
    /// now and Approve no longer take them; an operator may replay one until retention
    /// redacts its order's current state.
    async fn cancel_unattended_jobs(
        &self,
        store_id: &str,
        before: i64,
        reason: &str,
        note_days: Option<u32>,
        now: i64,
    ) -> Result<u64, StoreError> {
        let n = in_tx!(self, |tx| {
            let cancelled: Vec<(i64, i64, JobQueue)> =
                sqlx::query_as(sqlx::AssertSqlSafe(CANCEL_UNATTENDED.as_str()))
                    .bind(store_id)
                    .bind(before)
                    .bind(reason)
                    .bind(now)
                    .bind(ops::BATCH)
                    .fetch_all(&mut *tx)
                    .await?;
            for (job_id, order_id, provider) in &cancelled {
                let Some(days) = note_days.filter(|_| provider.provider().is_some()) else {
                    continue;
                };
                let key = format!("unattended:{job_id}");
                let note = unattended_note(*provider, days);
                Ledger::plan_note(&mut *tx, store_id, *order_id, &key, &note, now).await?;
            }
            cancelled.len() as u64
        });
        Ok(n)
    }

    /// Cancels queued jobs of the store's erased orders (a job whose attempt was under way at
    /// the erasure and was to be retried); returns how many.
    pub(crate) async fn cancel_erased_jobs(
        &self,
        store_id: &str,
        now: i64,
    ) -> Result<u64, StoreError> {
        let n = in_tx!(self, |tx| {
            sqlx::query(
                "UPDATE jobs SET state = 'cancelled', last_error = $3, updated_at = $2 \
                 WHERE state IN ('pending', 'retrying') AND store_id = $1 AND order_id IN \
                 (SELECT order_id FROM orders WHERE store_id = $1 AND erased_at IS NOT NULL)",
            )
            .bind(store_id)
            .bind(now)
            .bind(super::subject::ERASED_REASON)
            .execute(&mut *tx)
            .await?
            .rows_affected()
        });
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::CANCEL_UNATTENDED;
    use crate::store::sqlite_plan;

    /// The jobs waiting for the owner are found through `jobs_state`, which holds only the
    /// jobs waiting or running: the sweep never reads the done and cancelled jobs.
    #[tokio::test]
    async fn unattended_jobs_are_found_through_their_partial_index() {
        let steps = sqlite_plan(&CANCEL_UNATTENDED).await;
        assert!(
            steps.iter().any(|s| s.contains("USING INDEX jobs_state")
                || s.contains("USING COVERING INDEX jobs_state")),
            "{steps:?}"
        );
        assert!(
            !steps.iter().any(|s| s.starts_with("SCAN jobs")),
            "{steps:?}"
        );
    }
}

//! Stopped jobs in bulk: after an outage, the jobs waiting for review and the dead letters
//! of one provider, store and time window are listed (what a replay would send) or put back
//! in the queue in one statement.

use crate::reads::jobs::{JOB_COLUMNS, JobView, job_from_row};
use sqlx::query::Query;
use sqlx::{Database, Encode, Type};

use super::job_types::{JobQueue, JobState};
use super::jobs::{IN_JOBS_STATE, NOT_ERASED, REQUEUE};
use crate::reads::orders::where_terms;
use crate::store::{Store, StoreError, on_pool, on_pool_write};

/// [`JobState::STOPPED`] as a SQL predicate.
const IN_STOPPED: &str = "state IN ('needs-review', 'dead')";

/// Which stopped jobs: every given filter must hold.
#[derive(Debug, Clone, Default)]
pub struct StoppedFilter {
    /// One of [`JobState::STOPPED`]; both when `None` (another state matches no job).
    pub state: Option<JobState>,
    pub provider: Option<JobQueue>,
    pub store: Option<String>,
    /// Stopped (last changed) at or after this moment, in milliseconds.
    pub since: Option<i64>,
    /// Stopped before this moment, in milliseconds.
    pub until: Option<i64>,
    /// At most this many, oldest first.
    pub limit: i64,
}

impl StoppedFilter {
    /// The `WHERE` clause over `$1` state, `$2` store, `$3` provider, `$4` since and `$5`
    /// until (all bound, used when given), read through the partial index `jobs_state`.
    /// Jobs of erased orders are never replayed.
    fn filter(&self) -> String {
        let states = format!("{IN_JOBS_STATE} AND {IN_STOPPED}");
        where_terms(&[
            Some(states.as_str()),
            Some(NOT_ERASED),
            self.state.as_ref().map(|_| "state = $1"),
            self.store.as_ref().map(|_| "store_id = $2"),
            self.provider.as_ref().map(|_| "provider = $3"),
            self.since.map(|_| "updated_at >= $4"),
            self.until.map(|_| "updated_at < $5"),
        ])
    }
}

/// Binds a [`StoppedFilter`]'s values in the order of [`StoppedFilter::filter`], then `$6`
/// the limit.
fn bind_stopped<'q, DB>(
    query: Query<'q, DB, DB::Arguments>,
    f: &'q StoppedFilter,
) -> Query<'q, DB, DB::Arguments>
where
    DB: Database,
    Option<&'q str>: Encode<'q, DB> + Type<DB>,
    Option<i64>: Encode<'q, DB> + Type<DB>,
    i64: Encode<'q, DB> + Type<DB>,
{
    query
        .bind(f.state.map(JobState::as_str))
        .bind(f.store.as_deref())
        .bind(f.provider.map(JobQueue::as_str))
        .bind(f.since)
        .bind(f.until)
        .bind(f.limit)
}

impl Store {
    /// The stopped jobs `f` names, oldest first: what [`Store::replay_stopped`] would queue.
    pub async fn stopped_jobs(&self, f: &StoppedFilter) -> Result<Vec<JobView>, StoreError> {
        let sql = format!(
            "SELECT {JOB_COLUMNS} FROM jobs {} ORDER BY id LIMIT $6",
            f.filter()
        );
        let jobs = on_pool!(self, |pool| {
            bind_stopped(sqlx::query(sqlx::AssertSqlSafe(sql)), f)
                .fetch_all(pool)
                .await?
                .iter()
                .map(job_from_row)
                .collect::<Result<Vec<_>, _>>()?
        });
        Ok(jobs)
    }

    /// Puts the stopped jobs `f` names back in the queue, due at `now`, as a replay of each
    /// would; returns them as they are now, oldest first.
    pub async fn replay_stopped(
        &self,
        f: &StoppedFilter,
        now: i64,
    ) -> Result<Vec<JobView>, StoreError> {
        let sql = format!(
            "UPDATE jobs SET {REQUEUE}, run_at = $7, updated_at = $7 WHERE id IN \
             (SELECT id FROM jobs {} ORDER BY id LIMIT $6) \
             AND {IN_STOPPED} RETURNING {JOB_COLUMNS}",
            f.filter()
        );
        let mut jobs = on_pool_write!(self, |pool| {
            bind_stopped(sqlx::query(sqlx::AssertSqlSafe(sql)), f)
                .bind(now)
                .fetch_all(pool)
                .await?
                .iter()
                .map(job_from_row)
                .collect::<Result<Vec<_>, _>>()?
        });
        jobs.sort_by_key(|j| j.id);
        Ok(jobs)
    }
}

/// A moment given as RFC 3339 or as naive UTC (`2026-11-20T00:00:00`), in milliseconds.
pub fn parse_instant(text: &str) -> Option<i64> {
    let text = text.trim();
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(text) {
        return Some(t.timestamp_millis());
    }
    chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S")
        .ok()
        .map(|n| n.and_utc().timestamp_millis())
}

#[cfg(test)]
mod tests {
    use super::parse_instant;

    #[test]
    fn instants_are_read_as_rfc3339_or_naive_utc() {
        assert_eq!(parse_instant("1970-01-01T00:00:01Z"), Some(1_000));
        assert_eq!(parse_instant("1970-01-01T01:00:01+01:00"), Some(1_000));
        assert_eq!(parse_instant("1970-01-01T00:00:02"), Some(2_000));
        assert_eq!(parse_instant("yesterday"), None);
    }
}

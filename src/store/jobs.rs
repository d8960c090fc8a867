//! The outbox: claiming jobs with a lease, completing them fenced by the lease holder.

use sqlx::Row;

use super::{Store, StoreError, on_pool};

#[derive(Debug, Clone)]
pub struct JobGauge {
    pub provider: String,
    pub state: String,
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

impl Store {
    pub async fn job_gauges(&self, now: i64) -> Result<JobGauges, StoreError> {
        let (rows, oldest) = on_pool!(self, |pool| {
            let rows = sqlx::query(
                "SELECT provider, state, COUNT(*) AS n FROM jobs GROUP BY provider, state ORDER BY provider, state",
            )
            .fetch_all(pool)
            .await?
            .iter()
            .map(|r| {
                Ok::<_, sqlx::Error>(JobGauge {
                    provider: r.try_get("provider")?,
                    state: r.try_get("state")?,
                    count: r.try_get("n")?,
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
            let oldest: Option<i64> = sqlx::query_scalar(
                "SELECT MIN(run_at) FROM jobs WHERE state IN ('pending', 'retrying') AND run_at <= $1",
            )
            .bind(now)
            .fetch_one(pool)
            .await?;
            (rows, oldest)
        });
        let sum = |pred: &dyn Fn(&str) -> bool| {
            rows.iter()
                .filter(|g| pred(&g.state))
                .map(|g| g.count)
                .sum::<i64>()
        };
        Ok(JobGauges {
            queue_depth: sum(&|s| s == "pending" || s == "retrying"),
            dead: sum(&|s| s == "dead"),
            oldest_due_age_ms: oldest.map(|t| (now - t).max(0)).unwrap_or(0),
            by_state: rows,
        })
    }
}

//! Bulk planning of a synthetic backlog, for benchmarks and load tests: many paid orders and
//! their provider jobs written with a few set-based statements instead of one intake each.

use super::{Store, StoreError, in_tx};

/// The text replaced by each order's id in [`Backlog`] templates.
pub const ORDER_ID_MARKER: &str = "987654321";

/// A backlog of `orders` paid orders with consecutive ids from `first_order_id`, each with one
/// pending job per entry of `jobs`.
#[derive(Debug, Clone)]
pub struct Backlog {
    pub store_id: String,
    pub first_order_id: i64,
    pub orders: i64,
    /// The order JSON; [`ORDER_ID_MARKER`] is replaced by the order id.
    pub body_template: String,
    pub status: String,
    pub modified_gmt: String,
    /// `(provider, target, kind, payload template)`; the payload's marker is replaced too.
    pub jobs: Vec<(String, String, String, String)>,
}

impl Store {
    /// Writes `backlog` in one transaction: snapshots, orders, then the jobs, all due at `now`.
    /// Returns how many jobs were planned.
    pub async fn plan_backlog(&self, backlog: &Backlog, now: i64) -> Result<u64, StoreError> {
        let last = backlog.first_order_id + backlog.orders - 1;
        let planned = in_tx!(self, |tx| {
            sqlx::query(
                "WITH RECURSIVE n(i) AS (SELECT CAST($1 AS BIGINT) UNION ALL \
                 SELECT i + 1 FROM n WHERE i < CAST($2 AS BIGINT)) \
                 INSERT INTO order_snapshots (store_id, order_id, modified_gmt, status, \
                 delivery_id, received_at, body) \
                 SELECT $3, i, $4, $5, 0, $6, replace($7, $8, CAST(i AS TEXT)) FROM n",
            )
            .bind(backlog.first_order_id)
            .bind(last)
            .bind(&backlog.store_id)
            .bind(&backlog.modified_gmt)
            .bind(&backlog.status)
            .bind(now)
            .bind(&backlog.body_template)
            .bind(ORDER_ID_MARKER)
            .execute(&mut *tx)
            .await?;
            sqlx::query(
                "INSERT INTO orders (store_id, order_id, number, status, currency, total, \
                 modified_gmt, snapshot_id, trashed, paid_at, first_seen_at, updated_at) \
                 SELECT store_id, order_id, CAST(order_id AS TEXT), status, 'EUR', '0.00', \
                 modified_gmt, id, 0, $4, $4, $4 FROM order_snapshots \
                 WHERE store_id = $1 AND order_id BETWEEN $2 AND $3",
            )
            .bind(&backlog.store_id)
            .bind(backlog.first_order_id)
            .bind(last)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            let mut planned = 0u64;
            for (provider, target, kind, payload) in &backlog.jobs {
                planned += sqlx::query(
                    "INSERT INTO jobs (store_id, order_id, provider, target, kind, state, \
                     payload, run_at, created_at, updated_at) \
                     SELECT store_id, order_id, $4, $5, $6, 'pending', \
                     replace($7, $8, CAST(order_id AS TEXT)), $9, $9, $9 FROM orders \
                     WHERE store_id = $1 AND order_id BETWEEN $2 AND $3 ORDER BY order_id",
                )
                .bind(&backlog.store_id)
                .bind(backlog.first_order_id)
                .bind(last)
                .bind(provider)
                .bind(target)
                .bind(kind)
                .bind(payload)
                .bind(ORDER_ID_MARKER)
                .bind(now)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            }
            planned
        });
        Ok(planned)
    }
}

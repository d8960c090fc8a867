//! Bulk planning of the dispatch backlog: many paid orders and their provider jobs written
//! with a few set-based statements instead of one intake each, in plain SQL on the store's
//! pool (the same SQL runs on SQLite and PostgreSQL).

use printbridge::store::Store;

use crate::order::ORDER_ID_MARKER;

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

const SNAPSHOTS: &str = "WITH RECURSIVE n(i) AS (SELECT CAST($1 AS BIGINT) UNION ALL \
     SELECT i + 1 FROM n WHERE i < CAST($2 AS BIGINT)) \
     INSERT INTO order_snapshots (store_id, order_id, modified_gmt, status, \
     delivery_id, received_at, body) \
     SELECT $3, i, $4, $5, 0, $6, replace($7, $8, CAST(i AS TEXT)) FROM n";

const ORDERS: &str = "INSERT INTO orders (store_id, order_id, number, status, currency, total, \
     modified_gmt, snapshot_id, trashed, paid_at, first_seen_at, updated_at) \
     SELECT store_id, order_id, CAST(order_id AS TEXT), status, 'EUR', '0.00', \
     modified_gmt, id, 0, $4, $4, $4 FROM order_snapshots \
     WHERE store_id = $1 AND order_id BETWEEN $2 AND $3";

const JOBS: &str = "INSERT INTO jobs (store_id, order_id, provider, target, kind, state, \
     payload, run_at, created_at, updated_at) \
     SELECT store_id, order_id, $4, $5, $6, 'pending', \
     replace($7, $8, CAST(order_id AS TEXT)), $9, $9, $9 FROM orders \
     WHERE store_id = $1 AND order_id BETWEEN $2 AND $3 ORDER BY order_id";

/// Runs the statements of [`plan_backlog`] in the transaction `$tx`, whatever its database.
macro_rules! plan_in {
    ($tx:ident, $backlog:expr, $now:expr) => {{
        let b = $backlog;
        let last = b.first_order_id + b.orders - 1;
        sqlx::query(SNAPSHOTS)
            .bind(b.first_order_id)
            .bind(last)
            .bind(&b.store_id)
            .bind(&b.modified_gmt)
            .bind(&b.status)
            .bind($now)
            .bind(&b.body_template)
            .bind(ORDER_ID_MARKER)
            .execute(&mut *$tx)
            .await?;
        sqlx::query(ORDERS)
            .bind(&b.store_id)
            .bind(b.first_order_id)
            .bind(last)
            .bind($now)
            .execute(&mut *$tx)
            .await?;
        let mut planned = 0u64;
        for (provider, target, kind, payload) in &b.jobs {
            planned += sqlx::query(JOBS)
                .bind(&b.store_id)
                .bind(b.first_order_id)
                .bind(last)
                .bind(provider)
                .bind(target)
                .bind(kind)
                .bind(payload)
                .bind(ORDER_ID_MARKER)
                .bind($now)
                .execute(&mut *$tx)
                .await?
                .rows_affected();
        }
        planned
    }};
}

/// Writes `backlog` in one transaction: snapshots, orders, then the jobs, all due at `now`.
/// Returns how many jobs were planned. Nothing else writes while it runs (the bridge's
/// dispatcher is not started yet), so on SQLite it writes through the store's pool
/// (`BEGIN IMMEDIATE`, as the bridge's own writes).
pub async fn plan_backlog(store: &Store, backlog: &Backlog, now: i64) -> sqlx::Result<u64> {
    let planned = match store {
        Store::Sqlite(pool, _) => {
            let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
            let planned = plan_in!(tx, backlog, now);
            tx.commit().await?;
            planned
        }
        Store::Postgres(pool) => {
            let mut tx = pool.begin().await?;
            let planned = plan_in!(tx, backlog, now);
            tx.commit().await?;
            planned
        }
    };
    Ok(planned)
}

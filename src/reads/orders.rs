//! Read side for operators and the plugin: orders, their snapshots, items and deliveries.

use std::sync::LazyLock;

use poem_openapi::Object;
use serde::Serialize;
use sqlx::Row;

use crate::intake::body;
use crate::outbox::jobs::IN_JOBS_STATE;
use crate::store::{Store, StoreError, on_pool};

/// Milliseconds since the epoch as RFC 3339 UTC text.
pub fn rfc3339(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        .unwrap_or_default()
}

/// One order as the ledger knows it.
#[derive(Debug, Clone, Serialize, Object)]
pub struct OrderSummary {
    pub store: String,
    pub order_id: i64,
    /// The order number the shop shows.
    pub number: String,
    /// WooCommerce status of the newest snapshot.
    pub status: String,
    pub currency: String,
    pub total: String,
    /// `date_modified_gmt` of the newest snapshot.
    pub modified_gmt: String,
    /// In the trash in WooCommerce.
    pub trashed: bool,
    /// Seen in a status that counts as paid for its payment method.
    pub paid: bool,
    /// Why an operator should look at this order, if anything.
    pub attention: Option<String>,
    pub first_seen_at: String,
    pub updated_at: String,
}

#[derive(Debug, Clone, Serialize, Object)]
pub struct OrderPage {
    pub orders: Vec<OrderSummary>,
    /// Orders matching the filter, over all pages.
    pub total: i64,
    pub offset: i64,
    pub limit: i64,
    /// Offset of the next page, absent on the last page.
    pub next_offset: Option<i64>,
}

/// A line item of the newest snapshot with its provider.
#[derive(Debug, Clone, Serialize, Object, sqlx::FromRow)]
pub struct ItemView {
    pub item_id: i64,
    pub name: String,
    pub sku: String,
    pub product_id: i64,
    pub variation_id: i64,
    pub quantity: i64,
    pub price: String,
    /// spiff, key2print, apliiq, none, conflict or invalid.
    pub classification: String,
    /// Spiff transaction id, Key2print project id or Apliiq SKU.
    pub design_id: Option<String>,
    pub detail: Option<String>,
}

#[derive(Debug, Clone, Serialize, Object)]
pub struct SnapshotView {
    pub id: i64,
    pub modified_gmt: String,
    pub status: String,
    pub delivery_id: i64,
    pub received_at: String,
    /// Whether this is the order's current state.
    pub current: bool,
}

#[derive(Debug, Clone, Serialize, Object)]
pub struct DeliveryView {
    pub id: i64,
    pub store: String,
    pub received_at: String,
    /// webhook, reconcile or backfill.
    pub source: String,
    pub topic: Option<String>,
    pub webhook_id: Option<String>,
    pub delivery_ref: Option<String>,
    pub content_type: Option<String>,
    pub order_id: Option<i64>,
    /// applied, duplicate, stale, deleted, signal, ignored or unparsed; `stored` while
    /// it waits to be applied, `failed` if applying it failed repeatedly (`detail` says why).
    pub outcome: String,
    pub detail: Option<String>,
    pub size: i64,
}

#[derive(Debug, Clone, Serialize, Object)]
pub struct DeliveryDetail {
    #[oai(flatten)]
    #[serde(flatten)]
    pub delivery: DeliveryView,
    /// The body as received (invalid UTF-8 replaced).
    pub body: String,
}

#[derive(Debug, Clone, Serialize, Object)]
pub struct DeliveryPage {
    pub deliveries: Vec<DeliveryView>,
    pub total: i64,
    pub offset: i64,
    pub limit: i64,
    pub next_offset: Option<i64>,
}

/// Everything the ledger knows about one order.
#[derive(Debug, Clone, Serialize, Object)]
pub struct OrderLedger {
    #[oai(flatten)]
    #[serde(flatten)]
    pub order: OrderSummary,
    pub items: Vec<ItemView>,
    pub snapshots: Vec<SnapshotView>,
    pub deliveries: Vec<DeliveryView>,
    /// Provider orders and write-back notes, with every attempt.
    pub jobs: Vec<super::jobs::JobDetail>,
    /// Shipments reported by providers.
    pub tracking: Vec<super::jobs::TrackingView>,
    /// The newest snapshot as WooCommerce sent it.
    pub current: serde_json::Value,
}

#[derive(Debug, Clone, Default)]
pub struct OrderFilter {
    pub store: Option<String>,
    pub status: Option<String>,
    pub attention: Option<bool>,
    pub offset: i64,
    pub limit: i64,
}

#[derive(Debug, Clone, Default)]
pub struct DeliveryFilter {
    pub store: Option<String>,
    pub outcome: Option<String>,
    pub order_id: Option<i64>,
    pub offset: i64,
    pub limit: i64,
}

const ORDER_COLUMNS: &str = "store_id, order_id, number, status, currency, total, modified_gmt, \
     trashed, paid_at, attention, first_seen_at, updated_at";

/// The keys of the orders an operator should look at: flagged, with items no provider can
/// take, or with jobs that stopped. Each set is read from a partial index
/// (`orders_attention`, `order_items_attention`, `jobs_state`; migrations 0007 and 0008), so
/// the list joins the few orders concerned instead of testing every order for the three.
static ATTENTION_KEYS: LazyLock<String> = LazyLock::new(|| {
    format!(
        "(SELECT store_id, order_id FROM orders WHERE attention IS NOT NULL \
         UNION SELECT store_id, order_id FROM order_items \
         WHERE classification IN ('conflict', 'invalid') \
         UNION SELECT store_id, order_id FROM jobs WHERE {IN_JOBS_STATE} \
         AND state IN ('needs-review', 'dead'))"
    )
});

impl OrderFilter {
    /// The page's statement and its count's, with the filters given only (`$1` store, `$2`
    /// status, then `$3` limit and `$4` offset; see [`where_terms`]). The page is read in
    /// the order of `orders_updated` (migration 0008), newest first, so it stops after its
    /// last order instead of sorting them all.
    fn statements(&self, sqlite: bool) -> (String, String) {
        let from = match self.attention {
            None => "orders o".to_owned(),
            Some(true) => format!(
                "orders o JOIN {} a \
                 ON a.store_id = o.store_id AND a.order_id = o.order_id",
                *ATTENTION_KEYS
            ),
            Some(false) => format!(
                "orders o LEFT JOIN {} a \
                 ON a.store_id = o.store_id AND a.order_id = o.order_id",
                *ATTENTION_KEYS
            ),
        };
        // Alone, the store is compared as an expression on SQLite: a bridge's orders are
        // mostly one store's, and SQLite would otherwise read them all by the primary key
        // and sort them (45 ms at 100,000 orders) rather than walk `orders_updated` to the
        // page. PostgreSQL, which knows how many orders each store has, plans it well as is.
        let store = if sqlite && self.status.is_none() {
            "o.store_id || '' = $1"
        } else {
            "o.store_id = $1"
        };
        let filter = where_terms(&[
            self.store.as_ref().map(|_| store),
            self.status.as_ref().map(|_| "o.status = $2"),
            (self.attention == Some(false)).then_some("a.order_id IS NULL"),
        ]);
        let cols = ORDER_COLUMNS
            .split(", ")
            .map(|c| format!("o.{c}"))
            .collect::<Vec<_>>()
            .join(", ");
        (
            format!(
                "SELECT {cols} FROM {from} {filter} \
                 ORDER BY o.updated_at DESC, o.store_id DESC, o.order_id DESC LIMIT $3 OFFSET $4"
            ),
            format!("SELECT COUNT(*) FROM {from} {filter}"),
        )
    }
}

fn order_from_row<R: Row>(row: &R) -> Result<OrderSummary, sqlx::Error>
where
    for<'a> &'a str: sqlx::ColumnIndex<R>,
    String: for<'r> sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    i64: for<'r> sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    Option<String>: for<'r> sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    Option<i64>: for<'r> sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    Ok(OrderSummary {
        store: row.try_get("store_id")?,
        order_id: row.try_get("order_id")?,
        number: row.try_get("number")?,
        status: row.try_get("status")?,
        currency: row.try_get("currency")?,
        total: row.try_get("total")?,
        modified_gmt: row.try_get("modified_gmt")?,
        trashed: row.try_get::<i64, _>("trashed")? != 0,
        paid: row.try_get::<Option<i64>, _>("paid_at")?.is_some(),
        attention: row.try_get("attention")?,
        first_seen_at: rfc3339(row.try_get("first_seen_at")?),
        updated_at: rfc3339(row.try_get("updated_at")?),
    })
}

fn delivery_from_row<R: Row>(row: &R) -> Result<DeliveryView, sqlx::Error>
where
    for<'a> &'a str: sqlx::ColumnIndex<R>,
    String: for<'r> sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    i64: for<'r> sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    Option<String>: for<'r> sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    Option<i64>: for<'r> sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    Ok(DeliveryView {
        id: row.try_get("id")?,
        store: row.try_get("store_id")?,
        received_at: rfc3339(row.try_get("received_at")?),
        source: row.try_get("source")?,
        topic: row.try_get("topic")?,
        webhook_id: row.try_get("webhook_id")?,
        delivery_ref: row.try_get("delivery_ref")?,
        content_type: row.try_get("content_type")?,
        order_id: row.try_get("order_id")?,
        outcome: row.try_get("outcome")?,
        detail: row.try_get("detail")?,
        size: row.try_get("size")?,
    })
}

fn snapshot_from_row<R: Row>(r: &R) -> Result<SnapshotView, sqlx::Error>
where
    for<'a> &'a str: sqlx::ColumnIndex<R>,
    String: for<'r> sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    i64: for<'r> sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    i32: for<'r> sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    Ok(SnapshotView {
        id: r.try_get("id")?,
        modified_gmt: r.try_get("modified_gmt")?,
        status: r.try_get("status")?,
        delivery_id: r.try_get("delivery_id")?,
        received_at: rfc3339(r.try_get("received_at")?),
        current: r.try_get::<i32, _>("current")? != 0,
    })
}

/// An order's items, by item id.
const ORDER_ITEMS_SQL: &str = "SELECT item_id, name, sku, product_id, variation_id, quantity, \
     price, classification, design_id, detail FROM order_items \
     WHERE store_id = $1 AND order_id = $2 ORDER BY item_id";

/// An order's snapshots, oldest first, marking the current one.
const ORDER_SNAPSHOTS_SQL: &str = "SELECT s.id, s.modified_gmt, s.status, s.delivery_id, \
     s.received_at, CASE WHEN s.id = o.snapshot_id THEN 1 ELSE 0 END AS current \
     FROM order_snapshots s JOIN orders o \
       ON o.store_id = s.store_id AND o.order_id = s.order_id \
     WHERE s.store_id = $1 AND s.order_id = $2 ORDER BY s.modified_gmt, s.id";

const DELIVERY_COLUMNS: &str = "id, store_id, received_at, source, topic, webhook_id, delivery_ref, \
     content_type, order_id, outcome, detail, \
     CAST(COALESCE(body_size, LENGTH(body)) AS BIGINT) AS size";

/// The `WHERE` clause of an admin list: the terms of the filters given (`None` for one left
/// out), joined by `AND`, or nothing. A filter left out is not in the statement at all: a
/// `($1 IS NULL OR column = $1)` term, which lets one statement serve every combination, is
/// one no index serves, so each page and its count read the whole table (the dead letters
/// among 300,000 finished jobs took 0.15 s on SQLite). Lists bind all their filters in
/// fixed places, given or not, and each term names its own.
pub(crate) fn where_terms(terms: &[Option<&str>]) -> String {
    let given: Vec<&str> = terms.iter().flatten().copied().collect();
    if given.is_empty() {
        String::new()
    } else {
        format!("WHERE {}", given.join(" AND "))
    }
}

fn next_offset(offset: i64, returned: usize, total: i64) -> Option<i64> {
    let next = offset + returned as i64;
    (returned > 0 && next < total).then_some(next)
}

impl DeliveryFilter {
    /// The page's statement and its count's, with the filters given only (`$1` store, `$2`
    /// outcome, `$3` order, then `$4` limit and `$5` offset; see [`where_terms`]): an
    /// outcome is listed and counted from `deliveries_outcome`.
    fn statements(&self) -> (String, String) {
        let filter = where_terms(&[
            self.store.as_ref().map(|_| "store_id = $1"),
            self.outcome.as_ref().map(|_| "outcome = $2"),
            self.order_id.map(|_| "order_id = $3"),
        ]);
        (
            format!(
                "SELECT {DELIVERY_COLUMNS} FROM deliveries {filter} \
                 ORDER BY id DESC LIMIT $4 OFFSET $5"
            ),
            format!("SELECT COUNT(*) FROM deliveries {filter}"),
        )
    }
}

impl Store {
    pub async fn list_orders(&self, f: &OrderFilter) -> Result<OrderPage, StoreError> {
        let (page_sql, count_sql) = f.statements(matches!(self, Store::Sqlite(..)));
        let (orders, total) = on_pool!(self, |pool| {
            let rows = sqlx::query(sqlx::AssertSqlSafe(page_sql))
                .bind(&f.store)
                .bind(&f.status)
                .bind(f.limit)
                .bind(f.offset)
                .fetch_all(pool)
                .await?;
            let total: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(count_sql))
                .bind(&f.store)
                .bind(&f.status)
                .fetch_one(pool)
                .await?;
            let orders = rows
                .iter()
                .map(order_from_row)
                .collect::<Result<Vec<_>, _>>()?;
            (orders, total)
        });
        Ok(OrderPage {
            next_offset: next_offset(f.offset, orders.len(), total),
            orders,
            total,
            offset: f.offset,
            limit: f.limit,
        })
    }

    pub async fn order_summary(
        &self,
        store_id: &str,
        order_id: i64,
    ) -> Result<Option<OrderSummary>, StoreError> {
        let sql =
            format!("SELECT {ORDER_COLUMNS} FROM orders WHERE store_id = $1 AND order_id = $2");
        let summary = on_pool!(self, |pool| {
            let row = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(store_id)
                .bind(order_id)
                .fetch_optional(pool)
                .await?;
            row.as_ref().map(order_from_row).transpose()?
        });
        Ok(summary)
    }

    pub async fn order_ledger(
        &self,
        store_id: &str,
        order_id: i64,
    ) -> Result<Option<OrderLedger>, StoreError> {
        let Some(order) = self.order_summary(store_id, order_id).await? else {
            return Ok(None);
        };
        let delivery_sql = format!(
            "SELECT {DELIVERY_COLUMNS} FROM deliveries WHERE store_id = $1 AND order_id = $2 ORDER BY id"
        );
        let (items, snapshots, deliveries) = on_pool!(self, |pool| {
            let items: Vec<ItemView> = sqlx::query_as(ORDER_ITEMS_SQL)
                .bind(store_id)
                .bind(order_id)
                .fetch_all(pool)
                .await?;
            let snapshots = sqlx::query(ORDER_SNAPSHOTS_SQL)
                .bind(store_id)
                .bind(order_id)
                .fetch_all(pool)
                .await?
                .iter()
                .map(snapshot_from_row)
                .collect::<Result<Vec<_>, _>>()?;
            let deliveries = sqlx::query(sqlx::AssertSqlSafe(delivery_sql))
                .bind(store_id)
                .bind(order_id)
                .fetch_all(pool)
                .await?
                .iter()
                .map(delivery_from_row)
                .collect::<Result<Vec<_>, _>>()?;
            (items, snapshots, deliveries)
        });
        let current = self
            .current_order_body(store_id, order_id)
            .await?
            .and_then(|b| serde_json::from_str(&b).ok())
            .unwrap_or(serde_json::Value::Null);
        let jobs = self.order_jobs(store_id, order_id).await?;
        let tracking = self.order_tracking(store_id, order_id).await?;
        Ok(Some(OrderLedger {
            order,
            items,
            snapshots,
            deliveries,
            jobs,
            tracking,
            current,
        }))
    }

    pub async fn list_deliveries(&self, f: &DeliveryFilter) -> Result<DeliveryPage, StoreError> {
        let (page_sql, count_sql) = f.statements();
        let (deliveries, total) = on_pool!(self, |pool| {
            let rows = sqlx::query(sqlx::AssertSqlSafe(page_sql))
                .bind(&f.store)
                .bind(&f.outcome)
                .bind(f.order_id)
                .bind(f.limit)
                .bind(f.offset)
                .fetch_all(pool)
                .await?;
            let total: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(count_sql))
                .bind(&f.store)
                .bind(&f.outcome)
                .bind(f.order_id)
                .fetch_one(pool)
                .await?;
            let deliveries = rows
                .iter()
                .map(delivery_from_row)
                .collect::<Result<Vec<_>, _>>()?;
            (deliveries, total)
        });
        Ok(DeliveryPage {
            next_offset: next_offset(f.offset, deliveries.len(), total),
            deliveries,
            total,
            offset: f.offset,
            limit: f.limit,
        })
    }

    pub async fn delivery(&self, id: i64) -> Result<Option<DeliveryDetail>, StoreError> {
        let sql =
            format!("SELECT {DELIVERY_COLUMNS}, body, body_encoding FROM deliveries WHERE id = $1");
        let detail = on_pool!(self, |pool| {
            let row = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(id)
                .fetch_optional(pool)
                .await?;
            match row {
                Some(r) => {
                    let stored: Vec<u8> = r.try_get("body")?;
                    let body = body::decode(r.try_get("body_encoding")?, stored)?;
                    Some(DeliveryDetail {
                        delivery: delivery_from_row(&r)?,
                        body: String::from_utf8_lossy(&body).into_owned(),
                    })
                }
                None => None,
            }
        });
        Ok(detail)
    }

    /// Counts rows of a table; for tests and metrics.
    pub async fn count(&self, table: Table) -> Result<i64, StoreError> {
        let sql = format!("SELECT COUNT(*) FROM {}", table.name());
        let n = on_pool!(self, |pool| {
            sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(sql))
                .fetch_one(pool)
                .await?
        });
        Ok(n)
    }
}

/// Tables whose size is worth knowing.
#[derive(Debug, Clone, Copy)]
pub enum Table {
    Deliveries,
    Orders,
    OrderSnapshots,
    OrderItems,
    Jobs,
}

impl Table {
    fn name(self) -> &'static str {
        match self {
            Table::Deliveries => "deliveries",
            Table::Orders => "orders",
            Table::OrderSnapshots => "order_snapshots",
            Table::OrderItems => "order_items",
            Table::Jobs => "jobs",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{DeliveryFilter, OrderFilter};
    use crate::store::sqlite_plan;

    /// Whether SQLite's plan reads a table whole rather than through an index.
    fn reads_whole(steps: &[String], table: &str) -> bool {
        steps.iter().any(|s| s == &format!("SCAN {table}"))
    }

    /// The deliveries of one outcome (the failed ones, those not applied yet) are listed and
    /// counted from `deliveries_outcome`, not by reading every stored body.
    #[tokio::test]
    async fn an_outcome_is_listed_from_its_index() {
        let f = DeliveryFilter {
            outcome: Some("failed".into()),
            ..Default::default()
        };
        let (page, count) = f.statements();
        for sql in [page, count] {
            let steps = sqlite_plan(&sql).await;
            assert!(
                steps
                    .iter()
                    .any(|s| s.starts_with("SEARCH deliveries USING")
                        && s.ends_with("INDEX deliveries_outcome (outcome=?)")),
                "{sql}: {steps:?}"
            );
        }
    }

    /// The orders list walks `orders_updated` to its page, for every store or one, instead
    /// of sorting all orders.
    #[tokio::test]
    async fn the_orders_list_is_read_in_index_order() {
        for store in [None, Some("shop".to_owned())] {
            let f = OrderFilter {
                store,
                ..Default::default()
            };
            let steps = sqlite_plan(&f.statements(true).0).await;
            assert_eq!(steps, ["SCAN o USING INDEX orders_updated"], "{f:?}");
        }
    }

    /// The orders that need attention, and those that do not, are told apart by the keys
    /// read once from three partial indexes, not by testing every order for the three
    /// reasons; the count of those that need it reads only them.
    #[tokio::test]
    async fn attention_is_read_from_partial_indexes() {
        for wanted in [true, false] {
            let f = OrderFilter {
                attention: Some(wanted),
                ..Default::default()
            };
            let (page, count) = f.statements(true);
            for sql in [page, count] {
                let steps = sqlite_plan(&sql).await;
                for index in ["orders_attention", "order_items_attention", "jobs_state"] {
                    assert!(
                        steps.iter().any(|s| s.contains(&format!("INDEX {index}"))),
                        "{index}: {sql}: {steps:?}"
                    );
                }
                for table in ["o", "orders", "order_items", "jobs"] {
                    assert!(!reads_whole(&steps, table), "{table}: {sql}: {steps:?}");
                }
            }
        }
        let f = OrderFilter {
            attention: Some(true),
            ..Default::default()
        };
        let steps = sqlite_plan(&f.statements(true).1).await;
        assert!(
            steps
                .iter()
                .any(|s| s.starts_with("SEARCH o USING COVERING INDEX sqlite_autoindex_orders_1")),
            "{steps:?}"
        );
    }
}

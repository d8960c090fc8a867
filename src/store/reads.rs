//! Read side for operators and the plugin: orders, their snapshots, items and deliveries.

use poem_openapi::Object;
use serde::Serialize;
use sqlx::Row;

use super::body;
use super::{Store, StoreError, on_pool};

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
    /// Seen in one of the store's paid statuses.
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
#[derive(Debug, Clone, Serialize, Object)]
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
    /// applied, duplicate, stale, deleted, signal, ignored or unparsed; `received` while
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
    pub jobs: Vec<super::job_reads::JobDetail>,
    /// Shipments reported by providers.
    pub tracking: Vec<super::job_reads::TrackingView>,
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

/// Orders an operator should look at: flagged, with items no provider can take, or with jobs
/// that stopped.
const ATTENTION: &str = "(o.attention IS NOT NULL \
     OR EXISTS (SELECT 1 FROM order_items i WHERE i.store_id = o.store_id AND i.order_id = o.order_id \
                AND i.classification IN ('conflict', 'invalid')) \
     OR EXISTS (SELECT 1 FROM jobs j WHERE j.store_id = o.store_id AND j.order_id = o.order_id \
                AND j.state IN ('needs-review', 'dead')))";

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

const DELIVERY_COLUMNS: &str = "id, store_id, received_at, source, topic, webhook_id, delivery_ref, \
     content_type, order_id, outcome, detail, \
     CAST(COALESCE(body_size, LENGTH(body)) AS BIGINT) AS size";

fn next_offset(offset: i64, returned: usize, total: i64) -> Option<i64> {
    let next = offset + returned as i64;
    (returned > 0 && next < total).then_some(next)
}

impl Store {
    pub async fn list_orders(&self, f: &OrderFilter) -> Result<OrderPage, StoreError> {
        let filter = format!(
            "($1 IS NULL OR o.store_id = $1) AND ($2 IS NULL OR o.status = $2) \
             AND ($3 IS NULL OR ($3 = 1) = {ATTENTION})"
        );
        let attention = f.attention.map(i64::from);
        let page_sql = format!(
            "SELECT {cols} FROM orders o WHERE {filter} \
             ORDER BY o.updated_at DESC, o.store_id, o.order_id DESC LIMIT $4 OFFSET $5",
            cols = ORDER_COLUMNS
                .split(", ")
                .map(|c| format!("o.{c}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        let count_sql = format!("SELECT COUNT(*) FROM orders o WHERE {filter}");
        let (orders, total) = on_pool!(self, |pool| {
            let rows = sqlx::query(sqlx::AssertSqlSafe(page_sql))
                .bind(&f.store)
                .bind(&f.status)
                .bind(attention)
                .bind(f.limit)
                .bind(f.offset)
                .fetch_all(pool)
                .await?;
            let total: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(count_sql))
                .bind(&f.store)
                .bind(&f.status)
                .bind(attention)
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
            let items = sqlx::query(
                "SELECT item_id, name, sku, product_id, variation_id, quantity, price, \
                 classification, design_id, detail FROM order_items \
                 WHERE store_id = $1 AND order_id = $2 ORDER BY item_id",
            )
            .bind(store_id)
            .bind(order_id)
            .fetch_all(pool)
            .await?
            .iter()
            .map(|r| {
                Ok::<_, sqlx::Error>(ItemView {
                    item_id: r.try_get("item_id")?,
                    name: r.try_get("name")?,
                    sku: r.try_get("sku")?,
                    product_id: r.try_get("product_id")?,
                    variation_id: r.try_get("variation_id")?,
                    quantity: r.try_get("quantity")?,
                    price: r.try_get("price")?,
                    classification: r.try_get("classification")?,
                    design_id: r.try_get("design_id")?,
                    detail: r.try_get("detail")?,
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
            let snapshots = sqlx::query(
                "SELECT s.id, s.modified_gmt, s.status, s.delivery_id, s.received_at, \
                 CASE WHEN s.id = o.snapshot_id THEN 1 ELSE 0 END AS current \
                 FROM order_snapshots s JOIN orders o \
                   ON o.store_id = s.store_id AND o.order_id = s.order_id \
                 WHERE s.store_id = $1 AND s.order_id = $2 ORDER BY s.modified_gmt, s.id",
            )
            .bind(store_id)
            .bind(order_id)
            .fetch_all(pool)
            .await?
            .iter()
            .map(|r| {
                Ok::<_, sqlx::Error>(SnapshotView {
                    id: r.try_get("id")?,
                    modified_gmt: r.try_get("modified_gmt")?,
                    status: r.try_get("status")?,
                    delivery_id: r.try_get("delivery_id")?,
                    received_at: rfc3339(r.try_get("received_at")?),
                    current: r.try_get::<i32, _>("current")? != 0,
                })
            })
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
        let filter = "($1 IS NULL OR store_id = $1) AND ($2 IS NULL OR outcome = $2) \
                      AND ($3 IS NULL OR order_id = $3)";
        let page_sql = format!(
            "SELECT {DELIVERY_COLUMNS} FROM deliveries WHERE {filter} ORDER BY id DESC LIMIT $4 OFFSET $5"
        );
        let count_sql = format!("SELECT COUNT(*) FROM deliveries WHERE {filter}");
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

//! The intake transaction: every authentic delivery is stored, the order's newest snapshot
//! wins, and the provider jobs of a paid order are planned at most once (unique key).

use serde_json::json;
use sha2::{Digest, Sha256};

use super::{Store, StoreError, in_tx};
use crate::config::{Config, StoreConfig};
use crate::ledger::intake::{
    Delivery, OrderSnapshot, Parsed, PlannedJob, Source, parse_delivery, plan_provider_jobs,
};

/// What the ledger did with a delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryOutcome {
    /// The newest state of its order: snapshot stored and applied.
    Applied,
    /// The same order state was already stored (same modification time and status).
    Duplicate,
    /// An older state than the one we have: stored, not applied.
    Stale,
    /// The order went to the trash.
    Deleted,
    /// An `action.*` notification.
    Signal,
    /// Authentic but nothing to do (error body, other resource).
    Ignored,
    /// Authentic but not understood; kept raw for the operator.
    Unparsed,
    /// Stored and acknowledged, not yet applied to the ledger: the bridge answered before
    /// applying it because other deliveries were waiting. It is applied in order of arrival
    /// (see [`super::intake`]).
    Received,
    /// Stored, but applying it failed repeatedly; `detail` says why.
    Failed,
}

impl DeliveryOutcome {
    /// Every outcome's name, as stored and as the admin API filters by.
    pub const NAMES: [&'static str; 9] = [
        "applied",
        "duplicate",
        "stale",
        "deleted",
        "signal",
        "ignored",
        "unparsed",
        "received",
        "failed",
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryOutcome::Applied => "applied",
            DeliveryOutcome::Duplicate => "duplicate",
            DeliveryOutcome::Stale => "stale",
            DeliveryOutcome::Deleted => "deleted",
            DeliveryOutcome::Signal => "signal",
            DeliveryOutcome::Ignored => "ignored",
            DeliveryOutcome::Unparsed => "unparsed",
            DeliveryOutcome::Received => "received",
            DeliveryOutcome::Failed => "failed",
        }
    }
}

#[derive(Debug, Clone)]
pub struct IntakeResult {
    pub delivery_id: i64,
    pub outcome: DeliveryOutcome,
    pub order_id: Option<i64>,
    pub detail: Option<String>,
    pub jobs_planned: u32,
}

/// Side effects an applied snapshot leads to, decided before the transaction.
struct Plan {
    provider_jobs: Vec<PlannedJob>,
    paid: bool,
    stopped: bool,
    trashed: bool,
    /// Refunds on the order (a partial refund keeps the order's status).
    refunds: usize,
    detail: Option<String>,
}

/// The plan for a delivery: an order's, none for anything else.
fn plan_of(store: &StoreConfig, parsed: &Parsed) -> Option<Plan> {
    match parsed {
        Parsed::Order(snap) => Some(plan_for(store, snap)),
        _ => None,
    }
}

fn plan_for(store: &StoreConfig, snap: &OrderSnapshot) -> Plan {
    let status = snap.order.status.as_str();
    let draft = snap.is_draft();
    let trashed = status.eq_ignore_ascii_case("trash");
    let paid = !draft && !trashed && store.is_paid_status(status);
    let provider_jobs = if paid {
        plan_provider_jobs(snap)
    } else {
        Vec::new()
    };
    let detail = if draft {
        Some(format!("{status}: stored, never dispatched"))
    } else {
        snap.attention()
    };
    Plan {
        provider_jobs,
        paid,
        stopped: snap.is_stopped(),
        trashed,
        refunds: snap.order.refunds.len(),
        detail,
    }
}

/// The body stored with a snapshot: empty when it is the delivery's own body, which is kept
/// once, in `deliveries` (see [`Store::current_order_body`]). Deliveries are never deleted;
/// anything that prunes them must first copy such bodies into their snapshots.
fn snapshot_body<'a>(snap: &'a OrderSnapshot, delivery: &Delivery) -> &'a str {
    if snap.json.as_bytes() == delivery.body.as_slice() {
        ""
    } else {
        &snap.json
    }
}

const ACTIVE_JOB_STATES: &str = "'pending', 'retrying'";

/// Rows per multi-row insert: 12 columns each stays far below SQLite's 32,766 and
/// PostgreSQL's 65,535 bound parameters.
const ROWS_PER_INSERT: usize = 500;

/// One delivery as the intake transaction sees it, with what was decided beforehand.
struct Intake<'a> {
    delivery: &'a Delivery,
    parsed: &'a Parsed,
    plan: &'a Option<Plan>,
    can_fetch: bool,
    now: i64,
}

/// A delivery to store: its body's digest and when it was received.
pub(super) struct Stored<'a> {
    pub delivery: &'a Delivery,
    pub body_sha256: &'a str,
    pub now: i64,
}

/// Stores a group's deliveries (outcome `received`), one statement per chunk of
/// [`ROWS_PER_INSERT`] rows, on `$tx`; evaluates to their ids in the group's order. Both
/// backends number the rows of one insert in the order of its `VALUES` (SQLite's
/// `AUTOINCREMENT`, PostgreSQL's identity sequence), while `RETURNING` promises no order,
/// so the ids are sorted.
macro_rules! insert_deliveries {
    ($tx:ident, $group:expr) => {{
        let group: &[Stored<'_>] = $group;
        let mut ids: Vec<i64> = Vec::with_capacity(group.len());
        for chunk in group.chunks(ROWS_PER_INSERT) {
            let mut q = sqlx::QueryBuilder::new(
                "INSERT INTO deliveries (store_id, received_at, source, topic, webhook_id, \
                 delivery_ref, content_type, body, body_sha256, outcome) ",
            );
            q.push_values(chunk, |mut row, i| {
                let d = i.delivery;
                row.push_bind(d.store_id.as_str())
                    .push_bind(i.now)
                    .push_bind(d.source.as_str())
                    .push_bind(d.topic.as_deref())
                    .push_bind(d.webhook_id.as_deref())
                    .push_bind(d.delivery_ref.as_deref())
                    .push_bind(d.content_type.as_deref())
                    .push_bind(d.body.as_slice())
                    .push_bind(i.body_sha256)
                    .push("'received'");
            });
            q.push(" RETURNING id");
            let mut chunk_ids: Vec<i64> = q.build_query_scalar().fetch_all(&mut *$tx).await?;
            if chunk_ids.len() != chunk.len() {
                return Err(StoreError::Conflict(format!(
                    "{} deliveries stored, {} ids returned",
                    chunk.len(),
                    chunk_ids.len()
                )));
            }
            chunk_ids.sort_unstable();
            ids.extend(chunk_ids);
        }
        ids
    }};
}

/// Sets the outcomes of a group's deliveries, one statement per chunk, on `$tx`.
macro_rules! set_outcomes {
    ($tx:ident, $results:expr) => {{
        let results: &[IntakeResult] = $results;
        for chunk in results.chunks(ROWS_PER_INSERT) {
            // `VALUES` columns are column1, column2, … on both backends.
            let mut q = sqlx::QueryBuilder::new(
                "UPDATE deliveries SET outcome = v.column2, order_id = v.column3, \
                 detail = v.column4 FROM (",
            );
            q.push_values(chunk, |mut row, r| {
                row.push_bind(r.delivery_id)
                    .push_bind(r.outcome.as_str())
                    .push_bind(r.order_id)
                    .push_bind(r.detail.as_deref());
            });
            q.push(") AS v WHERE deliveries.id = v.column1");
            q.build().execute(&mut *$tx).await?;
        }
    }};
}

/// The intake transaction's statements for one stored delivery, on `$tx`; evaluates to its
/// [`IntakeResult`] (a macro so it runs on either backend's transaction, and so a group of
/// deliveries can share one transaction). Its outcome is written by [`set_outcomes`].
macro_rules! apply_delivery {
    ($tx:ident, $intake:expr, $delivery_id:expr) => {{
        let intake: &Intake<'_> = $intake;
        let delivery_id: i64 = $delivery_id;
        let Intake {
            delivery,
            parsed,
            plan,
            can_fetch,
            now,
            ..
        } = *intake;
            let mut jobs_planned = 0u32;
            let (outcome, order_id, detail) = match (parsed, plan) {
                (Parsed::Order(snap), Some(plan)) => {
                    let o = &snap.order;
                    let snapshot_id: Option<i64> = sqlx::query_scalar(
                        "INSERT INTO order_snapshots (store_id, order_id, modified_gmt, status, \
                         delivery_id, received_at, body) VALUES ($1, $2, $3, $4, $5, $6, $7) \
                         ON CONFLICT (store_id, order_id, modified_gmt, status) DO NOTHING \
                         RETURNING id",
                    )
                    .bind(&delivery.store_id)
                    .bind(o.id)
                    .bind(&snap.modified_gmt)
                    .bind(&o.status)
                    .bind(delivery_id)
                    .bind(now)
                    .bind(snapshot_body(snap, delivery))
                    .fetch_optional(&mut *$tx)
                    .await?;

                    match snapshot_id {
                        None => (DeliveryOutcome::Duplicate, Some(o.id), None),
                        Some(snapshot_id) => {
                            let restore = delivery.topic.as_deref() == Some("order.restored");
                            // The newest modification wins; on a tie the later arrival does.
                            let applied: Option<i64> = sqlx::query_scalar(
                                "INSERT INTO orders (store_id, order_id, number, status, currency, \
                                 total, modified_gmt, snapshot_id, trashed, paid_at, first_seen_at, \
                                 updated_at) \
                                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11) \
                                 ON CONFLICT (store_id, order_id) DO UPDATE SET \
                                 number = excluded.number, status = excluded.status, \
                                 currency = excluded.currency, total = excluded.total, \
                                 modified_gmt = excluded.modified_gmt, \
                                 snapshot_id = excluded.snapshot_id, \
                                 trashed = CASE WHEN excluded.trashed = 1 OR $12 = 1 \
                                   THEN excluded.trashed ELSE orders.trashed END, \
                                 paid_at = COALESCE(orders.paid_at, excluded.paid_at), \
                                 updated_at = excluded.updated_at \
                                 WHERE orders.modified_gmt < excluded.modified_gmt \
                                    OR (orders.modified_gmt = excluded.modified_gmt \
                                        AND orders.snapshot_id < excluded.snapshot_id) \
                                 RETURNING trashed",
                            )
                            .bind(&delivery.store_id)
                            .bind(o.id)
                            .bind(o.display_number())
                            .bind(&o.status)
                            .bind(&o.currency)
                            .bind(&o.total)
                            .bind(&snap.modified_gmt)
                            .bind(snapshot_id)
                            .bind(i64::from(plan.trashed))
                            .bind(plan.paid.then_some(now))
                            .bind(now)
                            .bind(i64::from(restore))
                            .fetch_optional(&mut *$tx)
                            .await?;

                            match applied {
                                None => (DeliveryOutcome::Stale, Some(o.id), None),
                                Some(trashed) => {
                                    sqlx::query(
                                        "DELETE FROM order_items WHERE store_id = $1 AND order_id = $2",
                                    )
                                    .bind(&delivery.store_id)
                                    .bind(o.id)
                                    .execute(&mut *$tx)
                                    .await?;
                                    // One statement per chunk of items, not one per item.
                                    for chunk in snap.items.chunks(ROWS_PER_INSERT) {
                                        let mut q = sqlx::QueryBuilder::new(
                                            "INSERT INTO order_items (store_id, order_id, item_id, \
                                             name, sku, product_id, variation_id, quantity, price, \
                                             classification, design_id, detail) ",
                                        );
                                        q.push_values(chunk, |mut row, ci| {
                                            let it = &ci.item;
                                            row.push_bind(delivery.store_id.as_str())
                                                .push_bind(o.id)
                                                .push_bind(it.id)
                                                .push_bind(it.name.as_str())
                                                .push_bind(it.sku.as_str())
                                                .push_bind(it.product_id)
                                                .push_bind(it.variation_id)
                                                .push_bind(it.quantity)
                                                .push_bind(it.price.as_str())
                                                .push_bind(ci.classification.name())
                                                .push_bind(ci.classification.design_id())
                                                .push_bind(ci.classification.detail());
                                        });
                                        q.push(" ON CONFLICT (store_id, order_id, item_id) DO NOTHING");
                                        q.build().execute(&mut *$tx).await?;
                                    }

                                    if plan.paid && trashed == 0 && !plan.provider_jobs.is_empty() {
                                        // Planned once; a job cancelled because the order was
                                        // cancelled comes back when the order is paid again.
                                        // All of the order's jobs in one statement (their
                                        // targets are distinct, see `plan_provider_jobs`).
                                        let payloads: Vec<String> = plan
                                            .provider_jobs
                                            .iter()
                                            .map(|job| job.payload.to_string())
                                            .collect();
                                        let mut q = sqlx::QueryBuilder::new(
                                            "INSERT INTO jobs (store_id, order_id, provider, target, \
                                             kind, state, payload, run_at, created_at, updated_at) ",
                                        );
                                        q.push_values(
                                            plan.provider_jobs.iter().zip(&payloads),
                                            |mut row, (job, payload)| {
                                                row.push_bind(delivery.store_id.as_str())
                                                    .push_bind(o.id)
                                                    .push_bind(job.provider)
                                                    .push_bind(job.target.as_str())
                                                    .push_bind(job.kind)
                                                    .push("'pending'")
                                                    .push_bind(payload.as_str())
                                                    .push_bind(now)
                                                    .push_bind(now)
                                                    .push_bind(now);
                                            },
                                        );
                                        q.push(
                                            " ON CONFLICT (store_id, order_id, provider, target) \
                                             DO UPDATE SET state = 'pending', run_at = excluded.run_at, \
                                             updated_at = excluded.updated_at \
                                             WHERE jobs.state = 'cancelled' RETURNING id",
                                        );
                                        let inserted = q.build().fetch_all(&mut *$tx).await?;
                                        jobs_planned +=
                                            u32::try_from(inserted.len()).unwrap_or(u32::MAX);
                                    }

                                    let mut detail = plan.detail.clone();
                                    // (note key, what happened) when the order changed in a way
                                    // the provider must hear about from a person.
                                    let mut change: Option<(String, String)> = None;
                                    if plan.stopped || trashed == 1 {
                                        let what = if trashed == 1 {
                                            "trash"
                                        } else {
                                            o.status.as_str()
                                        };
                                        sqlx::query(sqlx::AssertSqlSafe(format!(
                                            "UPDATE jobs SET state = 'cancelled', updated_at = $3, \
                                             last_error = $4 WHERE store_id = $1 AND order_id = $2 \
                                             AND provider <> 'woocommerce' AND state IN ({ACTIVE_JOB_STATES})"
                                        )))
                                        .bind(&delivery.store_id)
                                        .bind(o.id)
                                        .bind(now)
                                        .bind(format!("order became {what} before this was sent"))
                                        .execute(&mut *$tx)
                                        .await?;
                                        change = Some((
                                            format!("stopped:{what}"),
                                            format!("became {what}"),
                                        ));
                                    } else if plan.refunds > 0 {
                                        change = Some((
                                            format!("refunded:{}", plan.refunds),
                                            "was refunded in part".to_owned(),
                                        ));
                                    }
                                    if let Some((key, what)) = change {
                                        let placed: Vec<String> = sqlx::query_scalar(
                                            "SELECT provider FROM jobs WHERE store_id = $1 AND order_id = $2 \
                                             AND provider <> 'woocommerce' AND state IN ('done', 'running') \
                                             ORDER BY id",
                                        )
                                        .bind(&delivery.store_id)
                                        .bind(o.id)
                                        .fetch_all(&mut *$tx)
                                        .await?;
                                        if !placed.is_empty() {
                                            let reason = format!(
                                                "Order {what} after it was sent to {}; no provider offers a cancel or change call, so contact the provider to stop or change production.",
                                                placed.join(", ")
                                            );
                                            sqlx::query(
                                                "UPDATE orders SET attention = $3 WHERE store_id = $1 AND order_id = $2",
                                            )
                                            .bind(&delivery.store_id)
                                            .bind(o.id)
                                            .bind(&reason)
                                            .execute(&mut *$tx)
                                            .await?;
                                            if can_fetch {
                                                let _ = plan_note!(
                                                    &mut *$tx,
                                                    &delivery.store_id,
                                                    o.id,
                                                    key,
                                                    &reason,
                                                    now
                                                );
                                            }
                                            detail = Some(reason);
                                        }
                                    }
                                    (DeliveryOutcome::Applied, Some(o.id), detail)
                                }
                            }
                        }
                    }
                }
                (Parsed::Deleted { order_id }, _) => {
                    let order_id = *order_id;
                    sqlx::query(
                        "UPDATE orders SET trashed = 1, updated_at = $3 WHERE store_id = $1 AND order_id = $2",
                    )
                    .bind(&delivery.store_id)
                    .bind(order_id)
                    .bind(now)
                    .execute(&mut *$tx)
                    .await?;
                    sqlx::query(sqlx::AssertSqlSafe(format!(
                        "UPDATE jobs SET state = 'cancelled', updated_at = $3, \
                         last_error = 'order moved to the trash before this was sent' \
                         WHERE store_id = $1 AND order_id = $2 AND provider <> 'woocommerce' \
                         AND state IN ({ACTIVE_JOB_STATES})"
                    )))
                    .bind(&delivery.store_id)
                    .bind(order_id)
                    .bind(now)
                    .execute(&mut *$tx)
                    .await?;
                    let placed: Vec<String> = sqlx::query_scalar(
                        "SELECT provider FROM jobs WHERE store_id = $1 AND order_id = $2 \
                         AND provider <> 'woocommerce' AND state IN ('done', 'running') ORDER BY id",
                    )
                    .bind(&delivery.store_id)
                    .bind(order_id)
                    .fetch_all(&mut *$tx)
                    .await?;
                    let detail = if placed.is_empty() {
                        None
                    } else {
                        let reason = format!(
                            "Order moved to the trash after it was sent to {}; contact the provider to stop production.",
                            placed.join(", ")
                        );
                        sqlx::query(
                            "UPDATE orders SET attention = $3 WHERE store_id = $1 AND order_id = $2",
                        )
                        .bind(&delivery.store_id)
                        .bind(order_id)
                        .bind(&reason)
                        .execute(&mut *$tx)
                        .await?;
                        Some(reason)
                    };
                    (DeliveryOutcome::Deleted, Some(order_id), detail)
                }
                (Parsed::Signal { action, order_id }, _) => {
                    // The action body carries no order; with REST keys we fetch the order so
                    // a payment is never missed even when order.updated is lost.
                    if let (Some(order_id), true) = (order_id, can_fetch) {
                        let inserted: Option<i64> = sqlx::query_scalar(
                            "INSERT INTO jobs (store_id, order_id, provider, target, kind, state, \
                             payload, run_at, created_at, updated_at) \
                             VALUES ($1, $2, 'woocommerce', $3, 'fetch_order', 'pending', $4, $5, $5, $5) \
                             ON CONFLICT (store_id, order_id, provider, target) DO NOTHING RETURNING id",
                        )
                        .bind(&delivery.store_id)
                        .bind(*order_id)
                        .bind(format!("fetch:{action}"))
                        .bind(json!({ "action": action }).to_string())
                        .bind(now)
                        .fetch_optional(&mut *$tx)
                        .await?;
                        jobs_planned += u32::from(inserted.is_some());
                    }
                    (
                        DeliveryOutcome::Signal,
                        *order_id,
                        Some(format!("action {action}")),
                    )
                }
                (Parsed::Ignored { order_id, reason }, _) => {
                    (DeliveryOutcome::Ignored, *order_id, Some(reason.clone()))
                }
                (Parsed::Unparsed { error }, _) => {
                    (DeliveryOutcome::Unparsed, None, Some(error.clone()))
                }
                (Parsed::Order(_), None) => unreachable!("a plan is made for every order"),
            };

            IntakeResult {
                delivery_id,
                outcome,
                order_id,
                detail,
                jobs_planned,
            }
    }};
}

impl Store {
    /// Stores a verified delivery and applies it to the ledger in one transaction.
    pub async fn record_delivery(
        &self,
        store: &StoreConfig,
        delivery: &Delivery,
        parsed: &Parsed,
        now: i64,
    ) -> Result<IntakeResult, StoreError> {
        let body_sha256 = hex::encode(Sha256::digest(&delivery.body));
        let stored = [Stored {
            delivery,
            body_sha256: &body_sha256,
            now,
        }];
        let plan = plan_of(store, parsed);
        let intake = Intake {
            delivery,
            parsed,
            plan: &plan,
            can_fetch: store.has_rest_keys(),
            now,
        };
        let result = in_tx!(self, |tx| {
            let ids = insert_deliveries!(tx, &stored);
            let Some(&id) = ids.first() else {
                return Err(StoreError::Conflict(
                    "the intake transaction returned nothing".into(),
                ));
            };
            let result = apply_delivery!(tx, &intake, id);
            set_outcomes!(tx, std::slice::from_ref(&result));
            result
        });
        Ok(result)
    }
}

/// Plans a WooCommerce order note (written back by the dispatcher), once per `key`.
/// Evaluates to whether it was newly planned. A macro so it runs on either backend's
/// connection inside the caller's transaction.
macro_rules! plan_note {
    ($conn:expr, $store_id:expr, $order_id:expr, $key:expr, $note:expr, $now:expr) => {{
        let inserted: Option<i64> = sqlx::query_scalar(
            "INSERT INTO jobs (store_id, order_id, provider, target, kind, state, payload, run_at, \
             created_at, updated_at) VALUES ($1, $2, 'woocommerce', $3, 'order_note', 'pending', $4, $5, $5, $5) \
             ON CONFLICT (store_id, order_id, provider, target) DO NOTHING RETURNING id",
        )
        .bind($store_id)
        .bind($order_id)
        .bind(format!("note:{}", $key))
        .bind(serde_json::json!({ "note": $note }).to_string())
        .bind($now)
        .fetch_optional($conn)
        .await?;
        inserted.is_some()
    }};
}
pub(crate) use plan_note;

/// What one intake transaction is asked to do (see [`super::intake`]).
pub(super) struct Cycle<'a> {
    /// Deliveries to store, in order of arrival.
    pub new: &'a [Stored<'a>],
    /// Most deliveries to apply; 0 stores only.
    pub limit: usize,
    /// Whether deliveries stored by earlier transactions may wait to be applied.
    pub read_older: bool,
    /// Deliveries applied whatever `waiting` says.
    pub min_apply: usize,
    /// The time of applying a delivery stored earlier.
    pub now: i64,
    pub config: &'a Config,
    /// Whether more deliveries are waiting to be stored: applying stops once it says so.
    pub waiting: &'a (dyn Fn() -> bool + Sync),
}

/// A delivery applied by an intake transaction.
pub(super) struct CycleApplied {
    pub result: IntakeResult,
    /// Its index in [`Cycle::new`], if it was stored by this transaction.
    pub new_index: Option<usize>,
    pub store_id: String,
    pub topic: Option<String>,
}

/// What one intake transaction did.
pub(super) struct CycleOutcome {
    /// The ids of [`Cycle::new`], in order.
    pub ids: Vec<i64>,
    /// Applied, oldest first.
    pub results: Vec<CycleApplied>,
    /// Deliveries stored earlier that were read to be applied.
    pub older: usize,
    /// PostgreSQL: another replica holds the apply lock, so nothing was applied.
    pub locked_out: bool,
}

/// A stored delivery read back to be applied: id, store, topic, body.
type StoredRow = (i64, String, Option<String>, Vec<u8>);

/// The PostgreSQL advisory lock (transaction scope) held by the replica applying
/// deliveries, so replicas apply one at a time, in order: this key with a hash of the
/// schema. Advisory locks belong to the whole database, and bridges with schemas of their
/// own in one database (a `search_path` in the URL) must not wait for each other.
pub const APPLY_LOCK: i32 = 0x5072_4231;

impl Store {
    /// One intake transaction: stores `cycle.new` (outcome `received`), then applies stored
    /// deliveries oldest first, those stored earlier before the new ones, until
    /// `cycle.limit` are applied or, past `cycle.min_apply`, `cycle.waiting()` says more
    /// deliveries wait to be stored; sets their outcomes and commits. `applying` is left
    /// holding the id of the delivery being applied if a statement fails.
    pub(super) async fn intake_cycle(
        &self,
        cycle: &Cycle<'_>,
        applying: &mut Option<i64>,
    ) -> Result<CycleOutcome, StoreError> {
        let postgres = matches!(self, Store::Postgres(_));
        let limit = cycle.limit;
        let outcome = in_tx!(self, |tx| {
            let ids = insert_deliveries!(tx, cycle.new);
            let mut results: Vec<CycleApplied> = Vec::new();
            let mut older: Vec<(i64, Delivery)> = Vec::new();
            let mut locked_out = false;
            if limit > 0 && postgres {
                let locked: bool = sqlx::query_scalar(
                    "SELECT pg_try_advisory_xact_lock($1, hashtext(current_schema()))",
                )
                .bind(APPLY_LOCK)
                .fetch_one(&mut *tx)
                .await?;
                locked_out = !locked;
            }
            if limit > 0 && !locked_out {
                if cycle.read_older {
                    let first_new = ids.first().copied().unwrap_or(i64::MAX);
                    let rows: Vec<StoredRow> = sqlx::query_as(
                        "SELECT id, store_id, topic, body FROM deliveries \
                         WHERE outcome = 'received' AND id < $1 ORDER BY id LIMIT $2",
                    )
                    .bind(first_new)
                    .bind(i64::try_from(limit).unwrap_or(i64::MAX))
                    .fetch_all(&mut *tx)
                    .await?;
                    older = rows
                        .into_iter()
                        .map(|(id, store_id, topic, body)| {
                            let delivery = Delivery {
                                store_id,
                                source: Source::Webhook,
                                topic,
                                webhook_id: None,
                                delivery_ref: None,
                                content_type: None,
                                body,
                            };
                            (id, delivery)
                        })
                        .collect();
                }
                let candidates = older.iter().map(|(id, d)| (*id, d, None, cycle.now)).chain(
                    ids.iter()
                        .zip(cycle.new)
                        .enumerate()
                        .map(|(i, (id, n))| (*id, n.delivery, Some(i), n.now)),
                );
                for (id, delivery, new_index, at) in candidates {
                    if results.len() >= limit
                        || (results.len() >= cycle.min_apply && (cycle.waiting)())
                    {
                        break;
                    }
                    *applying = Some(id);
                    let parsed = parse_delivery(delivery.topic.as_deref(), &delivery.body);
                    let result = match cycle.config.store(&delivery.store_id) {
                        None => IntakeResult {
                            delivery_id: id,
                            outcome: DeliveryOutcome::Ignored,
                            order_id: None,
                            detail: Some(format!(
                                "store {} is no longer in the configuration",
                                delivery.store_id
                            )),
                            jobs_planned: 0,
                        },
                        Some(cfg) => {
                            let plan = plan_of(cfg, &parsed);
                            let intake = Intake {
                                delivery,
                                parsed: &parsed,
                                plan: &plan,
                                can_fetch: cfg.has_rest_keys(),
                                now: at,
                            };
                            apply_delivery!(tx, &intake, id)
                        }
                    };
                    results.push(CycleApplied {
                        result,
                        new_index,
                        store_id: delivery.store_id.clone(),
                        topic: delivery.topic.clone(),
                    });
                }
                *applying = None;
                let outcomes: Vec<IntakeResult> =
                    results.iter().map(|r| r.result.clone()).collect();
                set_outcomes!(tx, &outcomes);
            }
            CycleOutcome {
                ids,
                results,
                older: older.len(),
                locked_out,
            }
        });
        Ok(outcome)
    }
}

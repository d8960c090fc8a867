//! The intake transaction: every authentic delivery is stored, the order's newest snapshot
//! wins, and the provider jobs of a paid order are planned at most once (unique key).

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};

use serde_json::json;

use std::marker::PhantomData;

use sqlx::{
    AssertSqlSafe, ColumnIndex, Decode, Encode, Executor, IntoArguments, QueryBuilder, Transaction,
    Type,
};

use super::body::{self, Packed};
use crate::config::Approval;
use crate::config::{Config, StoreConfig};
use crate::events::EventEndpointConfig;
use crate::events::triggers::{
    attention as attention_events, item_attention as item_attention_events,
};
use crate::intake::parse::{
    ClassifiedItem, Delivery, OrderSnapshot, Parsed, PlannedJob, Source, parse_delivery,
    plan_provider_jobs,
};
use crate::outbox::job_types::JobState;
use crate::outbox::jobs::{IN_JOBS_UNSENT, PROVIDER_JOBS};
use crate::store::backend::{Backend, Done};
use crate::store::{Store, StoreError, in_tx};

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
    /// Stored and acknowledged, not yet applied to the ledger: the transaction that stored
    /// it did not apply it (a backlog, a failure, another replica applying). It is applied in
    /// order of arrival (see [`super::queue`]).
    Stored,
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
        "stored",
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
            DeliveryOutcome::Stored => "stored",
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
    /// Why the order's items need an operator (none for a draft).
    attention: Option<String>,
    /// How long the provider jobs wait before they are due, in milliseconds.
    hold_ms: i64,
    /// The providers whose jobs wait for the owner's approval.
    approval: Approval,
    /// The store's jobs can wait (a hold window or approval), so a paid order's unsent jobs
    /// are re-planned when it changes ([`Ledger::replan`]).
    replan: bool,
}

impl Plan {
    /// The state a provider job is planned in: awaiting approval where its provider needs
    /// it, else pending.
    fn initial_state(&self, job: &PlannedJob) -> JobState {
        match job.provider.provider() {
            Some(p) if self.approval.covers(p) => JobState::AwaitingApproval,
            _ => JobState::Pending,
        }
    }
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
    let paid = !draft && !trashed && store.is_paid(status, &snap.order.payment_method);
    let provider_jobs = if paid {
        plan_provider_jobs(snap)
    } else {
        Vec::new()
    };
    let attention = if draft { None } else { snap.attention() };
    let detail = if draft {
        Some(format!("{status}: stored, never dispatched"))
    } else {
        attention.clone()
    };
    Plan {
        provider_jobs,
        paid,
        stopped: snap.is_stopped(),
        trashed,
        refunds: snap.order.refunds.len(),
        detail,
        attention,
        hold_ms: store.hold_ms(),
        approval: store.approval.clone(),
        replan: store.holds_jobs(),
    }
}

/// The body stored with a snapshot: empty when it is the delivery's own body, which is kept
/// once, in `deliveries` (see [`Store::current_order_body`]). Deliveries are never deleted;
/// anything that prunes them must first copy such bodies into their snapshots.
fn snapshot_body(snap: &OrderSnapshot) -> &str {
    snap.lossy_json.as_deref().unwrap_or("")
}

/// Rows per multi-row insert: 12 columns each stays far below SQLite's 32,766 and
/// PostgreSQL's 65,535 bound parameters.
const ROWS_PER_INSERT: usize = 500;

/// One delivery as the intake transaction sees it, with what was decided beforehand.
struct Intake<'a> {
    delivery: &'a Delivery,
    parsed: &'a Parsed,
    plan: &'a Option<Plan>,
    can_fetch: bool,
    /// The store's event endpoints (`order.needs_attention` when the ledger flags an order).
    events: &'a [EventEndpointConfig],
    now: i64,
}

/// A stored delivery waiting in an intake transaction to be applied.
enum Pending<'a> {
    Apply(Intake<'a>),
    /// Its result is known without the ledger (its store left the configuration).
    Decided(IntakeResult),
}

/// An order snapshot to apply, with its plan (see [`apply_orders`]).
struct OrderApply<'a> {
    delivery: &'a Delivery,
    delivery_id: i64,
    snap: &'a OrderSnapshot,
    plan: &'a Plan,
    can_fetch: bool,
    events: &'a [EventEndpointConfig],
    now: i64,
}

impl OrderApply<'_> {
    fn key(&self) -> (String, i64) {
        (self.delivery.store_id.clone(), self.snap.order.id)
    }
}

/// How the deliveries of one transaction are applied, in their order.
enum Step<'a> {
    /// A run of order snapshots, no two of one order: applied together.
    Orders(Vec<OrderApply<'a>>),
    /// Anything else, on its own: its index.
    One(usize),
}

/// Splits deliveries to apply into [`Step`]s without changing their order: each run of
/// order snapshots in which no order comes twice is one step; a second state of an order
/// starts the next run, so it is applied after the first.
fn steps<'a>(pending: &[(i64, Pending<'a>)]) -> Vec<Step<'a>> {
    let mut steps = Vec::new();
    let mut run: Vec<OrderApply<'a>> = Vec::new();
    let mut orders: HashSet<(&'a str, i64)> = HashSet::new();
    for (index, (delivery_id, pending)) in pending.iter().enumerate() {
        let order = match pending {
            Pending::Apply(Intake {
                delivery,
                parsed: Parsed::Order(snap),
                plan: Some(plan),
                can_fetch,
                events,
                now,
            }) => Some(OrderApply {
                delivery,
                delivery_id: *delivery_id,
                snap,
                plan,
                can_fetch: *can_fetch,
                events,
                now: *now,
            }),
            _ => None,
        };
        match order {
            Some(order) => {
                let key = (order.delivery.store_id.as_str(), order.snap.order.id);
                if !orders.insert(key) {
                    steps.push(Step::Orders(std::mem::take(&mut run)));
                    orders.clear();
                    orders.insert(key);
                }
                run.push(order);
            }
            None => {
                if !run.is_empty() {
                    steps.push(Step::Orders(std::mem::take(&mut run)));
                    orders.clear();
                }
                steps.push(Step::One(index));
            }
        }
    }
    if !run.is_empty() {
        steps.push(Step::Orders(run));
    }
    steps
}

/// A delivery to store: how its body is kept, when it was received, and what it says if the
/// caller read it already.
pub(super) struct Stored<'a> {
    pub delivery: &'a Delivery,
    /// How its body is stored.
    pub packed: &'a Packed,
    pub parsed: Option<&'a Parsed>,
    pub now: i64,
}

/// The ids `RETURNING` gave for `stored` deliveries inserted by one statement, in the order of
/// its rows (see [`Ledger::insert_deliveries`]).
fn delivery_ids(stored: usize, mut ids: Vec<i64>) -> Result<Vec<i64>, StoreError> {
    if ids.len() != stored {
        return Err(StoreError::Internal(format!(
            "{stored} deliveries stored, {} ids returned",
            ids.len()
        )));
    }
    ids.sort_unstable();
    Ok(ids)
}

/// SQLite: the ids of the `rows` rows one multi-row insert into an `AUTOINCREMENT` table
/// stored, in the order of its `VALUES`, from the statement's row count and last rowid.
/// The single writer numbers them one after another. Every row of a `RETURNING` is a
/// hand-off between SQLite's thread and the writer's, and a group's inserts returned six
/// rows per delivery; the writer now gets one answer per statement.
fn consecutive_ids(rows: usize, affected: u64, last: Option<i64>) -> Result<Vec<i64>, StoreError> {
    let count = i64::try_from(rows).unwrap_or(i64::MAX);
    match last {
        Some(last) if affected == rows as u64 && last >= count => {
            Ok((last - count + 1..=last).collect())
        }
        _ => Err(StoreError::Internal(format!(
            "{rows} rows inserted, {affected} stored (last id {last:?})"
        ))),
    }
}

/// The unsent jobs [`Ledger::replan`] changes (with `started = 0`): queued, never
/// attempted, or waiting for the owner.
const IN_JOBS_REPLANNED: &str = "state IN ('pending', 'held', 'awaiting-approval')";

/// Why a paid order's waiting jobs were held after a partial refund.
const REFUND_HELD: &str = "The order was refunded in part before it went to print; its print \
     jobs are held: check the order, then send them (Send now).";

/// After [`Ledger::push_jobs`]: the store and order of each job planned.
const JOBS_RETURNING: &str = " RETURNING store_id, order_id";

/// The upsert of an order's row, after `INSERT INTO orders (…) <rows>`: the newest
/// modification wins; on a tie the later arrival (the greater snapshot id); the trash flag is
/// only ever set here (`order.restored` clears it, see [`Ledger::apply_orders`]); the first paid time
/// is kept. An erased order (`erased_at`, see `crate::privacy`) takes no new state: its
/// deliveries are `stale`, so nothing is planned or queued again for it. With
/// [`ORDER_RETURNING`], returns each order whose row took the new snapshot.
const UPSERT_ORDER: &str = " ON CONFLICT (store_id, order_id) DO UPDATE SET \
     number = excluded.number, status = excluded.status, \
     currency = excluded.currency, total = excluded.total, \
     modified_gmt = excluded.modified_gmt, snapshot_id = excluded.snapshot_id, \
     trashed = CASE WHEN excluded.trashed = 1 THEN excluded.trashed \
       ELSE orders.trashed END, \
     paid_at = COALESCE(orders.paid_at, excluded.paid_at), \
     billing_email = excluded.billing_email, customer_id = excluded.customer_id, \
     updated_at = excluded.updated_at \
     WHERE orders.erased_at IS NULL AND (orders.modified_gmt < excluded.modified_gmt \
        OR (orders.modified_gmt = excluded.modified_gmt \
            AND orders.snapshot_id < excluded.snapshot_id))";

/// After [`UPSERT_ORDER`]: each order whose row took the new snapshot, with its trash flag.
const ORDER_RETURNING: &str = " RETURNING store_id, order_id, trashed";

/// PostgreSQL: [`Ledger::apply_orders`]'s first three statements as one, after `WITH v (…) AS
/// (VALUES …)` (one row per order: its snapshot's and its row's columns). Data-modifying
/// `WITH` queries see one snapshot of the tables, so each statement reads what the one
/// before returned: the snapshots inserted (`s`: a duplicate returns nothing), the orders
/// whose row took their snapshot (`o`), whose items are deleted (`d`; new ones are
/// inserted by the next statement, which sees the deletion). Returns each new snapshot with
/// its order's trash flag, or NULL when the order kept a newer state.
const APPLY_ORDERS_POSTGRES: &str = "), \
     s AS (INSERT INTO order_snapshots (store_id, order_id, modified_gmt, status, \
       delivery_id, received_at, body) \
       SELECT store_id, order_id, modified_gmt, status, delivery_id, received_at, body \
       FROM v ORDER BY n \
       ON CONFLICT (store_id, order_id, modified_gmt, status) DO NOTHING \
       RETURNING store_id, order_id, id), \
     o AS (INSERT INTO orders (store_id, order_id, number, status, currency, total, \
       modified_gmt, snapshot_id, trashed, paid_at, first_seen_at, updated_at, \
       billing_email, customer_id) \
       SELECT v.store_id, v.order_id, v.number, v.status, v.currency, v.total, \
       v.modified_gmt, s.id, v.trashed, v.paid_at, v.received_at, v.received_at, \
       v.billing_email, v.customer_id \
       FROM v, s WHERE s.store_id = v.store_id AND s.order_id = v.order_id";

/// The end of the statement [`APPLY_ORDERS_POSTGRES`] begins, after [`UPSERT_ORDER`].
const APPLY_ORDERS_POSTGRES_END: &str = "), \
     d AS (DELETE FROM order_items WHERE (store_id, order_id) IN \
       (SELECT store_id, order_id FROM o)) \
     SELECT s.store_id, s.order_id, s.id, o.trashed \
     FROM s LEFT JOIN o ON o.store_id = s.store_id AND o.order_id = s.order_id";

/// Whether an applied order needs [`Ledger::after_order_applied`]'s statements: it stopped, went to
/// the trash or was refunded in part, or it is paid in a store whose jobs can wait (its
/// unsent jobs follow its changes).
fn needs_follow_up(plan: &Plan, trashed: i64) -> bool {
    plan.stopped || trashed == 1 || plan.refunds > 0 || (plan.paid && plan.replan)
}

/// The keys of an intake transaction's maps: (store, order id).
type OrderKey = (String, i64);

/// What applying a run of orders learns, by order.
#[derive(Default)]
struct RunState {
    /// Orders with a new snapshot: its id.
    snapshot_ids: HashMap<OrderKey, i64>,
    /// Orders whose row took the new snapshot: their trash flag.
    trashed: HashMap<OrderKey, i64>,
    /// Provider jobs newly planned, per order.
    planned: HashMap<OrderKey, u32>,
}

/// Each delivery's outcome in a run of orders, and its detail unless a follow-up changes it.
fn run_results(run: &[OrderApply<'_>], state: &RunState) -> Vec<IntakeResult> {
    run.iter()
        .map(|a| {
            let key = a.key();
            let (outcome, detail) = if !state.snapshot_ids.contains_key(&key) {
                (DeliveryOutcome::Duplicate, None)
            } else if state.trashed.contains_key(&key) {
                (DeliveryOutcome::Applied, a.plan.detail.clone())
            } else {
                (DeliveryOutcome::Stale, None)
            };
            IntakeResult {
                delivery_id: a.delivery_id,
                outcome,
                order_id: Some(a.snap.order.id),
                detail,
                jobs_planned: 0,
            }
        })
        .collect()
}

/// SQLite: adds to `planned` the jobs of `chunk` its insert plans, those not already planned
/// (`kept`, per order); returns how many rows the insert is expected to store.
fn newly_planned(
    chunk: &[(&OrderApply<'_>, &PlannedJob)],
    kept: &HashMap<OrderKey, i64>,
    planned: &mut HashMap<OrderKey, u32>,
) -> u64 {
    let mut per_order: HashMap<OrderKey, u32> = HashMap::new();
    for (a, _) in chunk {
        *per_order.entry(a.key()).or_default() += 1;
    }
    let mut expected = 0u64;
    for (key, jobs) in per_order {
        let kept = kept
            .get(&key)
            .and_then(|&n| u32::try_from(n).ok())
            .unwrap_or(0);
        let new = jobs.saturating_sub(kept);
        expected += u64::from(new);
        if new > 0 {
            *planned.entry(key).or_default() += new;
        }
    }
    expected
}

/// The ledger's statements and steps, on a connection of either backend inside the caller's
/// transaction.
pub(crate) struct Ledger<DB>(PhantomData<DB>);

impl<DB: Backend> Ledger<DB>
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
    /// Stores a group's deliveries, one statement per chunk of [`ROWS_PER_INSERT`] rows, each
    /// with its outcome in `outcomes` if it is there (else `stored`); returns their ids in the
    /// group's order. Both backends number the rows of one insert in the order of its `VALUES`
    /// (SQLite's `AUTOINCREMENT`, PostgreSQL's identity sequence), while `RETURNING` promises
    /// no order, so the ids are sorted. With `numbered` (PostgreSQL: ids taken from the
    /// table's sequence beforehand, one per delivery, ascending) the rows are stored under
    /// those ids.
    async fn insert_deliveries(
        tx: &mut DB::Connection,
        group: &[Stored<'_>],
        outcomes: &[Option<&IntakeResult>],
        numbered: &[i64],
    ) -> Result<Vec<i64>, StoreError> {
        let mut ids: Vec<i64> = Vec::with_capacity(group.len());
        for (index, chunk) in group.chunks(ROWS_PER_INSERT).enumerate() {
            let mut q = QueryBuilder::new("");
            let from = index * ROWS_PER_INSERT;
            Self::push_deliveries(
                &mut q,
                chunk,
                outcomes.get(from..).unwrap_or(&[]),
                numbered.get(from..).unwrap_or(&[]),
            );
            if DB::POSTGRES {
                q.push(" RETURNING id");
                let chunk_ids: Vec<i64> = q.build_query_scalar().fetch_all(&mut *tx).await?;
                ids.extend(delivery_ids(chunk.len(), chunk_ids)?);
            } else {
                // One answer for the statement instead of a row per delivery (see
                // `consecutive_ids`).
                let done = q.build().execute(&mut *tx).await?;
                ids.extend(consecutive_ids(
                    chunk.len(),
                    done.rows_affected(),
                    done.last_insert_id(),
                )?);
            }
        }
        Ok(ids)
    }

    /// Pushes onto `q` the insert of deliveries, each with its outcome in `outcomes` if it is
    /// there (else `stored`), under the ids in `numbered` if there are any (else the table
    /// numbers them); the caller adds `RETURNING id` where it wants the ids as rows.
    fn push_deliveries(
        q: &mut QueryBuilder<DB>,
        group: &[Stored<'_>],
        outcomes: &[Option<&IntakeResult>],
        numbered: &[i64],
    ) {
        q.push(if numbered.is_empty() {
            "INSERT INTO deliveries ("
        } else {
            "INSERT INTO deliveries (id, "
        });
        q.push(
            "store_id, received_at, source, topic, webhook_id, delivery_ref, content_type, \
             body, body_encoding, body_size, outcome, order_id, detail) ",
        );
        q.push_values(group.iter().enumerate(), |mut row, (index, i)| {
            let d = i.delivery;
            // Its outcome if it is known; `stored` for the others.
            let result = outcomes.get(index).copied().flatten();
            if let Some(id) = numbered.get(index) {
                row.push_bind(*id);
            }
            row.push_bind(d.store_id.as_str())
                .push_bind(i.now)
                .push_bind(d.source.as_str())
                .push_bind(d.topic.as_deref())
                .push_bind(d.webhook_id.as_deref())
                .push_bind(d.delivery_ref.as_deref())
                .push_bind(d.content_type.as_deref())
                .push_bind(i.packed.bytes(&d.body))
                .push_bind(i.packed.encoding())
                .push_bind(i64::try_from(d.body.len()).unwrap_or(i64::MAX))
                .push_bind(result.map_or("stored", |r| r.outcome.as_str()))
                .push_bind(result.and_then(|r| r.order_id))
                .push_bind(result.and_then(|r| r.detail.as_deref()));
        });
    }

    /// Sets the outcomes of a group's deliveries, one statement per chunk.
    async fn set_outcomes(
        tx: &mut DB::Connection,
        results: &[IntakeResult],
    ) -> Result<(), StoreError> {
        for chunk in results.chunks(ROWS_PER_INSERT) {
            let mut q = QueryBuilder::new("");
            Self::push_outcomes(&mut q, chunk);
            q.build().execute(&mut *tx).await?;
        }
        Ok(())
    }

    /// Pushes onto `q` the update of deliveries' outcomes, order ids and details. On
    /// PostgreSQL the update also names the range of their ids (a group's are consecutive):
    /// the range keeps the planner, whose statistics lag a table growing by a burst, from
    /// joining the values with a scan of the whole `deliveries` table, a cost per group that
    /// grows with the table.
    fn push_outcomes(q: &mut QueryBuilder<DB>, results: &[IntakeResult]) {
        // `VALUES` columns are column1, column2, … on both backends.
        q.push(
            "UPDATE deliveries SET outcome = v.column2, order_id = v.column3, \
             detail = v.column4 FROM (",
        );
        q.push_values(results, |mut row, r| {
            row.push_bind(r.delivery_id)
                .push_bind(r.outcome.as_str())
                .push_bind(r.order_id)
                .push_bind(r.detail.as_deref());
        });
        q.push(") AS v WHERE deliveries.id = v.column1");
        let ids = results.iter().map(|r| r.delivery_id);
        if DB::POSTGRES
            && let (Some(first), Some(last)) = (ids.clone().min(), ids.max())
        {
            q.push(" AND deliveries.id BETWEEN ")
                .push_bind(first)
                .push(" AND ")
                .push_bind(last);
        }
    }

    /// Pushes onto `q` the insert of order items (`(order, item)` pairs), which leaves an item
    /// already stored as it is.
    fn push_items(q: &mut QueryBuilder<DB>, items: &[(&OrderApply<'_>, &ClassifiedItem)]) {
        q.push(
            "INSERT INTO order_items (store_id, order_id, item_id, name, sku, product_id, \
             variation_id, quantity, price, classification, design_id, detail) ",
        );
        q.push_values(items, |mut row, (a, ci)| {
            let it = &ci.item;
            row.push_bind(a.delivery.store_id.as_str())
                .push_bind(a.snap.order.id)
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
    }

    /// Pushes onto `q` the insert of provider jobs (`(order, job)`), each in its initial
    /// state (pending, or awaiting approval) and due after the store's hold window: a job
    /// already planned is left as it is unless it was cancelled, when it is planned again.
    fn push_jobs(q: &mut QueryBuilder<DB>, jobs: &[(&OrderApply<'_>, &PlannedJob)]) {
        q.push(
            "INSERT INTO jobs (store_id, order_id, provider, target, kind, state, payload, \
             run_at, created_at, updated_at) ",
        );
        q.push_values(jobs, |mut row, (a, job)| {
            row.push_bind(a.delivery.store_id.as_str())
                .push_bind(a.snap.order.id)
                .push_bind(job.provider.as_str())
                .push_bind(job.target.as_str())
                .push_bind(job.kind.as_str())
                .push_bind(a.plan.initial_state(job).as_str())
                .push_bind(job.payload.as_str())
                .push_bind(a.now.saturating_add(a.plan.hold_ms))
                .push_bind(a.now)
                .push_bind(a.now);
        });
        q.push(
            " ON CONFLICT (store_id, order_id, provider, target) \
             DO UPDATE SET state = excluded.state, run_at = excluded.run_at, \
             updated_at = excluded.updated_at, last_error = NULL \
             WHERE jobs.state = 'cancelled'",
        );
    }

    /// Applies snapshots of distinct orders, one statement per table for all of them (per
    /// chunk of [`ROWS_PER_INSERT`] rows): their snapshots (an order state already stored is
    /// a duplicate), their rows in `orders` (the newest modification wins; on a tie the later
    /// arrival; a restored order takes its trash flag from the delivery), their items, the
    /// provider jobs of paid orders; then, one order at a time, what a stopped, trashed or
    /// refunded order needs ([`Self::after_order_applied`]). Distinct orders touch distinct
    /// rows, so this does what applying them one after another does. On PostgreSQL a run of
    /// up to [`ROWS_PER_INSERT`] orders takes two statements instead of five (snapshots,
    /// orders and the old items' deletion; items and jobs), and when `outcomes_here` (the run
    /// is all the transaction applies) and no order needs a follow-up, the second also writes
    /// the outcomes. SQLite's statements return no row per order or job (each row would be a
    /// hand-off between its thread and the writer's): the snapshots' ids follow from the
    /// insert's row count and last rowid, one read returns only the orders that kept a newer
    /// state or are in the trash, and one counts, per order, the jobs already planned before
    /// the jobs are inserted. Returns their results, in order, and whether their outcomes were
    /// written; if not, the caller writes them with [`Self::set_outcomes`].
    async fn apply_orders(
        tx: &mut DB::Connection,
        run: &[OrderApply<'_>],
        outcomes_here: bool,
    ) -> Result<(Vec<IntakeResult>, bool), StoreError> {
        let mut state = RunState::default();
        // PostgreSQL: snapshots, orders and the deletion of the applied orders' items in one
        // statement (one round trip instead of three; see `APPLY_ORDERS_POSTGRES`).
        let orders_at_once = DB::POSTGRES && run.len() <= ROWS_PER_INSERT;
        if orders_at_once {
            Self::apply_orders_at_once(tx, run, &mut state).await?;
        } else {
            for chunk in run.chunks(ROWS_PER_INSERT) {
                Self::insert_snapshots(tx, chunk, &mut state.snapshot_ids).await?;
            }
        }
        // Orders with a new snapshot: (order, snapshot id).
        let fresh: Vec<(&OrderApply<'_>, i64)> = run
            .iter()
            .filter_map(|a| state.snapshot_ids.get(&a.key()).map(|&id| (a, id)))
            .collect();
        if !orders_at_once {
            for chunk in fresh.chunks(ROWS_PER_INSERT) {
                Self::upsert_orders(tx, chunk, &mut state.trashed).await?;
            }
        }
        Self::restore_trash_flags(tx, &fresh, &mut state.trashed).await?;
        // Orders applied: their items replace the ones stored.
        let applied: Vec<(&OrderApply<'_>, i64)> = fresh
            .iter()
            .filter_map(|(a, _)| state.trashed.get(&a.key()).map(|&t| (*a, t)))
            .collect();
        if !orders_at_once {
            for chunk in applied.chunks(ROWS_PER_INSERT) {
                Self::delete_items(tx, chunk).await?;
            }
        }
        let mut results = run_results(run, &state);
        let outcomes_written =
            Self::plan_items_and_jobs(tx, run, &applied, &results, outcomes_here, &mut state)
                .await?;
        Self::follow_up(tx, run, &mut results, &state).await?;
        Ok((results, outcomes_written))
    }

    /// PostgreSQL: the snapshots of a run of at most [`ROWS_PER_INSERT`] orders, their rows
    /// and the deletion of the items of those applied, in one statement
    /// ([`APPLY_ORDERS_POSTGRES`]).
    async fn apply_orders_at_once(
        tx: &mut DB::Connection,
        run: &[OrderApply<'_>],
        state: &mut RunState,
    ) -> Result<(), StoreError> {
        let mut q = QueryBuilder::new(
            "WITH v (n, store_id, order_id, modified_gmt, status, delivery_id, \
             received_at, body, number, currency, total, trashed, paid_at, billing_email, \
             customer_id) AS (",
        );
        q.push_values(run.iter().zip(0_i64..), |mut row, (a, n)| {
            let o = &a.snap.order;
            row.push_bind(n)
                .push_bind(a.delivery.store_id.as_str())
                .push_bind(o.id)
                .push_bind(a.snap.modified_gmt.as_str())
                .push_bind(o.status.as_str())
                .push_bind(a.delivery_id)
                .push_bind(a.now)
                .push_bind(snapshot_body(a.snap))
                .push_bind(o.display_number())
                .push_bind(o.currency.as_str())
                .push_bind(o.total.as_str())
                .push_bind(i64::from(a.plan.trashed))
                .push_bind(a.plan.paid.then_some(a.now))
                .push_bind(crate::privacy::normalise_email(&o.billing.email))
                .push_bind(o.customer_id);
        });
        q.push(APPLY_ORDERS_POSTGRES);
        q.push(UPSERT_ORDER);
        q.push(ORDER_RETURNING);
        q.push(APPLY_ORDERS_POSTGRES_END);
        let rows: Vec<(String, i64, i64, Option<i64>)> =
            q.build_query_as().fetch_all(&mut *tx).await?;
        for (store_id, order_id, snapshot_id, flag) in rows {
            if let Some(flag) = flag {
                state.trashed.insert((store_id.clone(), order_id), flag);
            }
            state.snapshot_ids.insert((store_id, order_id), snapshot_id);
        }
        Ok(())
    }

    /// Inserts the snapshots of a chunk of orders (a state already stored is left as it is)
    /// and adds the new ones' ids to `snapshot_ids`.
    async fn insert_snapshots(
        tx: &mut DB::Connection,
        chunk: &[OrderApply<'_>],
        snapshot_ids: &mut HashMap<OrderKey, i64>,
    ) -> Result<(), StoreError> {
        let mut q = QueryBuilder::new(
            "INSERT INTO order_snapshots (store_id, order_id, modified_gmt, status, \
             delivery_id, received_at, body) ",
        );
        q.push_values(chunk, |mut row, a| {
            row.push_bind(a.delivery.store_id.as_str())
                .push_bind(a.snap.order.id)
                .push_bind(a.snap.modified_gmt.as_str())
                .push_bind(a.snap.order.status.as_str())
                .push_bind(a.delivery_id)
                .push_bind(a.now)
                .push_bind(snapshot_body(a.snap));
        });
        q.push(" ON CONFLICT (store_id, order_id, modified_gmt, status) DO NOTHING");
        if DB::POSTGRES {
            q.push(" RETURNING store_id, order_id, id");
            let rows: Vec<(String, i64, i64)> = q.build_query_as().fetch_all(&mut *tx).await?;
            snapshot_ids.extend(rows.into_iter().map(|(s, o, id)| ((s, o), id)));
            return Ok(());
        }
        // SQLite: no row per snapshot (see `consecutive_ids`). Without duplicates the
        // snapshots are numbered in order; with some, the ones stored are read back from the
        // ids the statement can have numbered.
        let done = q.build().execute(&mut *tx).await?;
        let stored = done.rows_affected();
        if stored == chunk.len() as u64 {
            let ids = consecutive_ids(chunk.len(), stored, done.last_insert_id())?;
            snapshot_ids.extend(chunk.iter().map(OrderApply::key).zip(ids));
        } else if stored > 0 {
            let last = done.last_insert_id().unwrap_or(0);
            let ours: HashSet<i64> = chunk.iter().map(|a| a.delivery_id).collect();
            let rows: Vec<(String, i64, i64, i64)> = sqlx::query_as(
                "SELECT store_id, order_id, id, delivery_id FROM order_snapshots \
                 WHERE id > $1 AND id <= $2",
            )
            .bind(last - i64::try_from(chunk.len()).unwrap_or(i64::MAX))
            .bind(last)
            .fetch_all(&mut *tx)
            .await?;
            snapshot_ids.extend(
                rows.into_iter()
                    .filter(|row| ours.contains(&row.3))
                    .map(|(s, o, id, _)| ((s, o), id)),
            );
        }
        Ok(())
    }

    /// Upserts the rows of a chunk of orders with a new snapshot (see [`UPSERT_ORDER`]) and
    /// adds to `trashed` the trash flag of each whose row took it.
    async fn upsert_orders(
        tx: &mut DB::Connection,
        chunk: &[(&OrderApply<'_>, i64)],
        trashed: &mut HashMap<OrderKey, i64>,
    ) -> Result<(), StoreError> {
        let mut q = QueryBuilder::new(
            "INSERT INTO orders (store_id, order_id, number, status, currency, total, \
             modified_gmt, snapshot_id, trashed, paid_at, first_seen_at, updated_at, \
             billing_email, customer_id) ",
        );
        q.push_values(chunk, |mut row, (a, snapshot_id)| {
            let o = &a.snap.order;
            row.push_bind(a.delivery.store_id.as_str())
                .push_bind(o.id)
                .push_bind(o.display_number())
                .push_bind(o.status.as_str())
                .push_bind(o.currency.as_str())
                .push_bind(o.total.as_str())
                .push_bind(a.snap.modified_gmt.as_str())
                .push_bind(*snapshot_id)
                .push_bind(i64::from(a.plan.trashed))
                .push_bind(a.plan.paid.then_some(a.now))
                .push_bind(a.now)
                .push_bind(a.now)
                .push_bind(crate::privacy::normalise_email(&o.billing.email))
                .push_bind(o.customer_id);
        });
        q.push(UPSERT_ORDER);
        if DB::POSTGRES {
            q.push(ORDER_RETURNING);
            let rows: Vec<(String, i64, i64)> = q.build_query_as().fetch_all(&mut *tx).await?;
            trashed.extend(rows.into_iter().map(|(s, o, t)| ((s, o), t)));
            return Ok(());
        }
        let took_rows = q.build().execute(&mut *tx).await?.rows_affected();
        Self::read_back_orders(tx, chunk, took_rows, trashed).await
    }

    /// SQLite, after [`Self::upsert_orders`] stored `took_rows` of `chunk`'s rows: one
    /// statement reads back only the exceptions, orders that kept a newer state and orders in
    /// the trash; the others took their snapshot.
    async fn read_back_orders(
        tx: &mut DB::Connection,
        chunk: &[(&OrderApply<'_>, i64)],
        took_rows: u64,
        trashed: &mut HashMap<OrderKey, i64>,
    ) -> Result<(), StoreError> {
        let mut x = QueryBuilder::new(
            "SELECT o.store_id, o.order_id, o.trashed, o.snapshot_id = v.column3 FROM (",
        );
        x.push_values(chunk, |mut row, (a, snapshot_id)| {
            row.push_bind(a.delivery.store_id.as_str())
                .push_bind(a.snap.order.id)
                .push_bind(*snapshot_id);
        });
        x.push(
            ") AS v JOIN orders o ON o.store_id = v.column1 AND o.order_id = v.column2 \
             WHERE o.trashed <> 0 OR o.snapshot_id <> v.column3",
        );
        let rows: Vec<(String, i64, i64, bool)> = x.build_query_as().fetch_all(&mut *tx).await?;
        let exceptions: HashMap<OrderKey, (i64, bool)> = rows
            .into_iter()
            .map(|(s, o, flag, took)| ((s, o), (flag, took)))
            .collect();
        let mut took = 0u64;
        for (a, _) in chunk {
            let key = a.key();
            match exceptions.get(&key) {
                Some((_, false)) => {}
                Some((flag, true)) => {
                    trashed.insert(key, *flag);
                    took += 1;
                }
                None => {
                    trashed.insert(key, 0);
                    took += 1;
                }
            }
        }
        if took != took_rows {
            return Err(StoreError::Internal(format!(
                "{took_rows} orders took their snapshot, {took} read back"
            )));
        }
        Ok(())
    }

    /// order.restored brings an order back from the trash: its flag is the delivery's.
    async fn restore_trash_flags(
        tx: &mut DB::Connection,
        fresh: &[(&OrderApply<'_>, i64)],
        trashed: &mut HashMap<OrderKey, i64>,
    ) -> Result<(), StoreError> {
        for (a, _) in fresh {
            if a.delivery.topic.as_deref() != Some("order.restored") {
                continue;
            }
            if let Some(flag) = trashed.get_mut(&a.key()) {
                *flag = i64::from(a.plan.trashed);
                sqlx::query("UPDATE orders SET trashed = $3 WHERE store_id = $1 AND order_id = $2")
                    .bind(a.delivery.store_id.as_str())
                    .bind(a.snap.order.id)
                    .bind(*flag)
                    .execute(&mut *tx)
                    .await?;
            }
        }
        Ok(())
    }

    /// Deletes the stored items of a chunk of applied orders.
    async fn delete_items(
        tx: &mut DB::Connection,
        chunk: &[(&OrderApply<'_>, i64)],
    ) -> Result<(), StoreError> {
        let mut q = QueryBuilder::new("DELETE FROM order_items WHERE (store_id, order_id) IN (");
        q.push_values(chunk, |mut row, (a, _)| {
            row.push_bind(a.delivery.store_id.as_str())
                .push_bind(a.snap.order.id);
        });
        q.push(")");
        q.build().execute(&mut *tx).await?;
        Ok(())
    }

    /// Inserts the items of the `applied` orders and the provider jobs of those paid and not
    /// in the trash, planned once each; a job cancelled because the order was cancelled comes
    /// back, without that error, when it is paid again (an order's jobs have distinct targets,
    /// see `plan_provider_jobs`). Counts the jobs planned per order in `state`. On PostgreSQL
    /// items and jobs go in one statement, with the outcomes `results` when the caller leaves
    /// them to this run (`outcomes_here`) and no order needs a follow-up; returns whether it
    /// wrote them.
    async fn plan_items_and_jobs(
        tx: &mut DB::Connection,
        run: &[OrderApply<'_>],
        applied: &[(&OrderApply<'_>, i64)],
        results: &[IntakeResult],
        outcomes_here: bool,
        state: &mut RunState,
    ) -> Result<bool, StoreError> {
        let items: Vec<(&OrderApply<'_>, &ClassifiedItem)> = applied
            .iter()
            .flat_map(|(a, _)| a.snap.items.iter().map(move |ci| (*a, ci)))
            .collect();
        let jobs: Vec<(&OrderApply<'_>, &PlannedJob)> = applied
            .iter()
            .filter(|(a, trashed)| a.plan.paid && *trashed == 0)
            .flat_map(|(a, _)| a.plan.provider_jobs.iter().map(move |job| (*a, job)))
            .collect();
        let at_once = DB::POSTGRES
            && !items.is_empty()
            && !jobs.is_empty()
            && items.len() <= ROWS_PER_INSERT
            && jobs.len() <= ROWS_PER_INSERT;
        let outcomes_written = at_once
            && outcomes_here
            && run.len() <= ROWS_PER_INSERT
            && applied
                .iter()
                .all(|(a, trashed)| !needs_follow_up(a.plan, *trashed));
        if at_once {
            let mut q = QueryBuilder::new("WITH i AS (");
            Self::push_items(&mut q, &items);
            if outcomes_written {
                q.push("), u AS (");
                Self::push_outcomes(&mut q, results);
            }
            q.push(") ");
            Self::push_jobs(&mut q, &jobs);
            q.push(JOBS_RETURNING);
            let rows: Vec<OrderKey> = q.build_query_as().fetch_all(&mut *tx).await?;
            for key in rows {
                *state.planned.entry(key).or_default() += 1;
            }
            return Ok(outcomes_written);
        }
        for chunk in items.chunks(ROWS_PER_INSERT) {
            let mut q = QueryBuilder::new("");
            Self::push_items(&mut q, chunk);
            q.build().execute(&mut *tx).await?;
        }
        for chunk in jobs.chunks(ROWS_PER_INSERT) {
            Self::insert_jobs(tx, chunk, &mut state.planned).await?;
        }
        Ok(outcomes_written)
    }

    /// Inserts a chunk of provider jobs and counts in `planned` those it plans, per order.
    async fn insert_jobs(
        tx: &mut DB::Connection,
        chunk: &[(&OrderApply<'_>, &PlannedJob)],
        planned: &mut HashMap<OrderKey, u32>,
    ) -> Result<(), StoreError> {
        let mut q = QueryBuilder::new("");
        Self::push_jobs(&mut q, chunk);
        if DB::POSTGRES {
            q.push(JOBS_RETURNING);
            let rows: Vec<OrderKey> = q.build_query_as().fetch_all(&mut *tx).await?;
            for key in rows {
                *planned.entry(key).or_default() += 1;
            }
            return Ok(());
        }
        // SQLite: the jobs already planned (and not cancelled) are counted per order first,
        // in one row per such order; the insert plans the others.
        let mut x = QueryBuilder::new("SELECT j.store_id, j.order_id, COUNT(*) FROM (");
        x.push_values(chunk, |mut row, (a, job)| {
            row.push_bind(a.delivery.store_id.as_str())
                .push_bind(a.snap.order.id)
                .push_bind(job.provider.as_str())
                .push_bind(job.target.as_str());
        });
        x.push(
            ") AS v JOIN jobs j ON j.store_id = v.column1 AND j.order_id = v.column2 \
             AND j.provider = v.column3 AND j.target = v.column4 \
             WHERE j.state <> 'cancelled' GROUP BY j.store_id, j.order_id",
        );
        let rows: Vec<(String, i64, i64)> = x.build_query_as().fetch_all(&mut *tx).await?;
        let kept: HashMap<OrderKey, i64> = rows.into_iter().map(|(s, o, n)| ((s, o), n)).collect();
        let stored = q.build().execute(&mut *tx).await?.rows_affected();
        let expected = newly_planned(chunk, &kept, planned);
        if stored != expected {
            return Err(StoreError::Internal(format!(
                "{stored} jobs planned, {expected} expected"
            )));
        }
        Ok(())
    }

    /// The follow-ups of a run's applied orders ([`Self::after_order_applied`], the
    /// `order.needs_attention` event of items that cannot be sent), one order at a time, and
    /// the jobs each planned.
    async fn follow_up(
        tx: &mut DB::Connection,
        run: &[OrderApply<'_>],
        results: &mut [IntakeResult],
        state: &RunState,
    ) -> Result<(), StoreError> {
        for (a, result) in run.iter().zip(results.iter_mut()) {
            if result.outcome != DeliveryOutcome::Applied {
                continue;
            }
            if let Some(reason) = &a.plan.attention {
                let (store_id, order_id) = (a.delivery.store_id.as_str(), a.snap.order.id);
                let events = item_attention_events(a.events, store_id, order_id, reason, a.now);
                crate::events::insert::<DB>(tx, &events, a.now).await?;
            }
            let key = a.key();
            if let Some(&trashed) = state.trashed.get(&key)
                && needs_follow_up(a.plan, trashed)
            {
                result.detail = Self::after_order_applied(tx, a, trashed).await?;
            }
            result.jobs_planned = state.planned.get(&key).copied().unwrap_or(0);
        }
        Ok(())
    }

    /// What an applied order snapshot needs besides its rows: a stopped or trashed order's
    /// queued provider jobs are cancelled (its write-back and events still go out), and an
    /// order that stopped, went to the trash or was refunded in part after a provider got it
    /// is flagged for a person (with a note to the shop when it has REST keys, and an
    /// `order.needs_attention` event). Returns the delivery's detail.
    async fn after_order_applied(
        tx: &mut DB::Connection,
        a: &OrderApply<'_>,
        trashed: i64,
    ) -> Result<Option<String>, StoreError> {
        let (o, plan, store_id, now) = (&a.snap.order, a.plan, a.delivery.store_id.as_str(), a.now);
        let mut detail = plan.detail.clone();
        if plan.paid && plan.replan && trashed == 0 {
            Self::replan(tx, a).await?;
            if plan.refunds > 0 && Self::hold_for_refund(tx, store_id, o.id, now).await? > 0 {
                Self::set_attention(tx, store_id, o.id, REFUND_HELD).await?;
                detail = Some(REFUND_HELD.to_owned());
            }
        }
        // (note key, what happened) when the order changed in a way the provider must hear
        // about from a person.
        let change: Option<(String, String)> = if plan.stopped || trashed == 1 {
            let what = if trashed == 1 {
                "trash"
            } else {
                o.status.as_str()
            };
            sqlx::query(AssertSqlSafe(format!(
                "UPDATE jobs SET state = 'cancelled', updated_at = $3, \
                 last_error = $4 WHERE store_id = $1 AND order_id = $2 \
                 AND {PROVIDER_JOBS} AND {IN_JOBS_UNSENT}"
            )))
            .bind(store_id)
            .bind(o.id)
            .bind(now)
            .bind(format!("order became {what} before this was sent"))
            .execute(&mut *tx)
            .await?;
            Some((format!("stopped:{what}"), format!("became {what}")))
        } else if plan.refunds > 0 {
            Some((
                format!("refunded:{}", plan.refunds),
                "was refunded in part".to_owned(),
            ))
        } else {
            None
        };
        let Some((key, what)) = change else {
            return Ok(detail);
        };
        let placed = Self::placed_providers(tx, store_id, o.id).await?;
        if placed.is_empty() {
            return Ok(detail);
        }
        let reason = format!(
            "Order {what} after it was sent to {}; no provider offers a cancel or change call, so contact the provider to stop or change production.",
            placed.join(", ")
        );
        Self::set_attention(tx, store_id, o.id, &reason).await?;
        let events = attention_events(a.events, store_id, o.id, &key, &reason, now);
        crate::events::insert::<DB>(tx, &events, now).await?;
        if a.can_fetch {
            Self::plan_note(&mut *tx, store_id, o.id, &key, &reason, now).await?;
        }
        Ok(Some(reason))
    }

    /// Re-plans a paid order's jobs that were not sent yet (queued and never started, held
    /// or awaiting approval) after it changed: each takes the payload planned from the order
    /// as it stands (a changed design id), and one the order does not plan (a Key2print
    /// project replaced by another) is cancelled. The jobs' unique key keeps each one row, so what is sent is
    /// sent once, as the order stands when it leaves.
    async fn replan(tx: &mut DB::Connection, a: &OrderApply<'_>) -> Result<(), StoreError> {
        let (store_id, order_id, now) = (a.delivery.store_id.as_str(), a.snap.order.id, a.now);
        let jobs = &a.plan.provider_jobs;
        for job in jobs {
            sqlx::query(AssertSqlSafe(format!(
                "UPDATE jobs SET payload = $5, updated_at = $6 WHERE store_id = $1 \
                 AND order_id = $2 AND provider = $3 AND target = $4 AND started = 0 \
                 AND {IN_JOBS_REPLANNED} AND payload <> $5"
            )))
            .bind(store_id)
            .bind(order_id)
            .bind(job.provider.as_str())
            .bind(job.target.as_str())
            .bind(job.payload.as_str())
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        let mut q = QueryBuilder::new(
            "UPDATE jobs SET state = 'cancelled', last_error = 'its design changed before it \
             was sent', updated_at = ",
        );
        q.push_bind(now)
            .push(" WHERE store_id = ")
            .push_bind(store_id)
            .push(" AND order_id = ")
            .push_bind(order_id)
            .push(" AND ")
            .push(PROVIDER_JOBS)
            .push(" AND started = 0 AND ")
            .push(IN_JOBS_REPLANNED);
        if !jobs.is_empty() {
            q.push(" AND (provider, target) NOT IN (");
            q.push_values(jobs, |mut row, job| {
                row.push_bind(job.provider.as_str())
                    .push_bind(job.target.as_str());
            });
            q.push(")");
        }
        q.build().execute(&mut *tx).await?;
        Ok(())
    }

    /// A paid order refunded in part while its jobs wait for the hold window: the jobs not
    /// yet due are held until the owner sends them (the order screen's Send now), since
    /// the refund may concern what they would print. Returns how many.
    async fn hold_for_refund(
        tx: &mut DB::Connection,
        store_id: &str,
        order_id: i64,
        now: i64,
    ) -> Result<u64, StoreError> {
        let held = sqlx::query(AssertSqlSafe(format!(
            "UPDATE jobs SET state = 'held', updated_at = $3, last_error = $4 \
             WHERE store_id = $1 AND order_id = $2 AND {PROVIDER_JOBS} \
             AND state = 'pending' AND started = 0 AND run_at > $3"
        )))
        .bind(store_id)
        .bind(order_id)
        .bind(now)
        .bind(REFUND_HELD)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        Ok(held)
    }

    /// The providers an order's jobs were sent to (done or running), in the jobs' order.
    async fn placed_providers(
        tx: &mut DB::Connection,
        store_id: &str,
        order_id: i64,
    ) -> Result<Vec<String>, StoreError> {
        let placed: Vec<String> = sqlx::query_scalar(AssertSqlSafe(format!(
            "SELECT provider FROM jobs WHERE store_id = $1 AND order_id = $2 \
             AND {PROVIDER_JOBS} AND state IN ('done', 'running') \
             ORDER BY id"
        )))
        .bind(store_id)
        .bind(order_id)
        .fetch_all(&mut *tx)
        .await?;
        Ok(placed)
    }

    /// Flags an order for the operator with `reason`.
    async fn set_attention(
        tx: &mut DB::Connection,
        store_id: &str,
        order_id: i64,
        reason: &str,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE orders SET attention = $3 WHERE store_id = $1 AND order_id = $2")
            .bind(store_id)
            .bind(order_id)
            .bind(reason)
            .execute(&mut *tx)
            .await?;
        Ok(())
    }

    /// The statements for one stored delivery that is not an order snapshot (those go through
    /// [`Self::apply_orders`]); returns its [`IntakeResult`].
    async fn apply_other(
        tx: &mut DB::Connection,
        intake: &Intake<'_>,
        delivery_id: i64,
    ) -> Result<IntakeResult, StoreError> {
        let Intake {
            delivery,
            parsed,
            can_fetch,
            events,
            now,
            ..
        } = *intake;
        let mut jobs_planned = 0u32;
        let (outcome, order_id, detail) = match parsed {
            Parsed::Deleted { order_id } => {
                let detail =
                    Self::apply_deleted(tx, &delivery.store_id, *order_id, events, now).await?;
                (DeliveryOutcome::Deleted, Some(*order_id), detail)
            }
            Parsed::Signal { action, order_id } => {
                // The action body carries no order; with REST keys we fetch the order so a
                // payment is never missed even when order.updated is lost.
                if let (Some(order_id), true) = (order_id, can_fetch) {
                    let planned =
                        Self::plan_fetch(tx, &delivery.store_id, *order_id, action, now).await?;
                    jobs_planned += u32::from(planned);
                }
                (
                    DeliveryOutcome::Signal,
                    *order_id,
                    Some(format!("action {action}")),
                )
            }
            Parsed::Ignored { order_id, reason } => {
                (DeliveryOutcome::Ignored, *order_id, Some(reason.clone()))
            }
            Parsed::Unparsed { error } => (DeliveryOutcome::Unparsed, None, Some(error.clone())),
            Parsed::Order(_) => {
                return Err(StoreError::Internal(
                    "an order snapshot reached the one-by-one path".to_owned(),
                ));
            }
        };
        Ok(IntakeResult {
            delivery_id,
            outcome,
            order_id,
            detail,
            jobs_planned,
        })
    }

    /// An order moved to the trash: flagged, its queued provider jobs cancelled, and flagged
    /// for a person when a provider got it already. Returns the delivery's detail.
    async fn apply_deleted(
        tx: &mut DB::Connection,
        store_id: &str,
        order_id: i64,
        events: &[EventEndpointConfig],
        now: i64,
    ) -> Result<Option<String>, StoreError> {
        sqlx::query(
            "UPDATE orders SET trashed = 1, updated_at = $3 WHERE store_id = $1 AND order_id = $2",
        )
        .bind(store_id)
        .bind(order_id)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        sqlx::query(AssertSqlSafe(format!(
            "UPDATE jobs SET state = 'cancelled', updated_at = $3, \
             last_error = 'order moved to the trash before this was sent' \
             WHERE store_id = $1 AND order_id = $2 AND {PROVIDER_JOBS} AND {IN_JOBS_UNSENT}"
        )))
        .bind(store_id)
        .bind(order_id)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        let placed = Self::placed_providers(tx, store_id, order_id).await?;
        if placed.is_empty() {
            return Ok(None);
        }
        let reason = format!(
            "Order moved to the trash after it was sent to {}; contact the provider to stop production.",
            placed.join(", ")
        );
        Self::set_attention(tx, store_id, order_id, &reason).await?;
        let events = attention_events(events, store_id, order_id, "deleted", &reason, now);
        crate::events::insert::<DB>(tx, &events, now).await?;
        Ok(Some(reason))
    }

    /// Plans the fetch of an order an `action.*` notification names, once per action;
    /// returns whether it was newly planned.
    async fn plan_fetch(
        tx: &mut DB::Connection,
        store_id: &str,
        order_id: i64,
        action: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        let inserted: Option<i64> = sqlx::query_scalar(
            "INSERT INTO jobs (store_id, order_id, provider, target, kind, state, \
             payload, run_at, created_at, updated_at) \
             VALUES ($1, $2, 'woocommerce', $3, 'fetch_order', 'pending', $4, $5, $5, $5) \
             ON CONFLICT (store_id, order_id, provider, target) DO NOTHING RETURNING id",
        )
        .bind(store_id)
        .bind(order_id)
        .bind(format!("fetch:{action}"))
        .bind(json!({ "action": action }).to_string())
        .bind(now)
        .fetch_optional(&mut *tx)
        .await?;
        Ok(inserted.is_some())
    }

    /// Applies stored deliveries in their order ([`steps`]): runs of order snapshots with
    /// [`Self::apply_orders`], anything else with [`Self::apply_other`]. Leaves `applying`
    /// holding the first delivery of the step that was running if a statement fails. Returns
    /// their results, in order, and whether their outcomes were written (see
    /// [`Self::apply_orders`]; only where `outcomes_here`).
    async fn apply_pending(
        tx: &mut DB::Connection,
        pending: &[(i64, Pending<'_>)],
        applying: &mut Option<i64>,
        outcomes_here: bool,
    ) -> Result<(Vec<IntakeResult>, bool), StoreError> {
        let mut results: Vec<IntakeResult> = Vec::with_capacity(pending.len());
        let steps = steps(pending);
        // One run of orders may write every outcome with its last statement, unless the
        // caller stores the deliveries with their outcomes after.
        let one_step = steps.len() == 1 && outcomes_here;
        let mut outcomes_written = false;
        for step in steps {
            match step {
                Step::Orders(run) => {
                    *applying = run.first().map(|a| a.delivery_id);
                    let (applied, written) = Self::apply_orders(tx, &run, one_step).await?;
                    outcomes_written = written;
                    results.extend(applied);
                }
                Step::One(index) => {
                    let Some((delivery_id, pending)) = pending.get(index) else {
                        return Err(StoreError::Internal(format!(
                            "no delivery {index} among the {} to apply",
                            pending.len()
                        )));
                    };
                    *applying = Some(*delivery_id);
                    let result = match pending {
                        Pending::Decided(result) => result.clone(),
                        Pending::Apply(intake) => {
                            Self::apply_other(tx, intake, *delivery_id).await?
                        }
                    };
                    results.push(result);
                }
            }
        }
        *applying = None;
        Ok((results, outcomes_written))
    }

    /// Plans a WooCommerce order note (written back by the dispatcher), once per `key`, on
    /// `conn` (a pool, or a connection inside the caller's transaction). Returns whether it
    /// was newly planned.
    pub(crate) async fn plan_note<'c, E>(
        conn: E,
        store_id: &str,
        order_id: i64,
        key: &str,
        note: &str,
        now: i64,
    ) -> Result<bool, StoreError>
    where
        E: Executor<'c, Database = DB>,
    {
        let inserted: Option<i64> = sqlx::query_scalar(
            "INSERT INTO jobs (store_id, order_id, provider, target, kind, state, payload, run_at, \
             created_at, updated_at) VALUES ($1, $2, 'woocommerce', $3, 'order_note', 'pending', $4, $5, $5, $5) \
             ON CONFLICT (store_id, order_id, provider, target) DO NOTHING RETURNING id",
        )
        .bind(store_id)
        .bind(order_id)
        .bind(format!("note:{key}"))
        .bind(json!({ "note": note }).to_string())
        .bind(now)
        .fetch_optional(conn)
        .await?;
        Ok(inserted.is_some())
    }

    /// Stores one delivery and applies it (see [`Store::record_delivery`]).
    async fn record(
        tx: &mut Transaction<'_, DB>,
        stored: &[Stored<'_>],
        intake: Intake<'_>,
    ) -> Result<Option<IntakeResult>, StoreError> {
        let tx: &mut DB::Connection = tx;
        let ids = Self::insert_deliveries(tx, stored, &[], &[]).await?;
        let Some(&id) = ids.first() else {
            return Err(StoreError::Internal(
                "the intake transaction returned nothing".into(),
            ));
        };
        let pending = [(id, Pending::Apply(intake))];
        let (results, outcomes_written) =
            Self::apply_pending(tx, &pending, &mut None, true).await?;
        if !outcomes_written {
            Self::set_outcomes(tx, &results).await?;
        }
        Ok(results.into_iter().next())
    }

    /// PostgreSQL: numbers `count` new deliveries from the table's sequence, takes the apply
    /// lock and reads at most `most` deliveries stored before them, in one round trip. A
    /// delivery committed before this statement took its id from the sequence before these.
    /// Returns the new ids, the rows read, and whether another bridge holds the lock.
    async fn numbered_with_lock(
        tx: &mut DB::Connection,
        count: usize,
        most: i64,
    ) -> Result<(Vec<i64>, Vec<StoredRow>, bool), StoreError> {
        let mut q = QueryBuilder::new(
            "WITH n AS (SELECT nextval(pg_get_serial_sequence('deliveries', 'id')) \
             AS id FROM generate_series(1, ",
        );
        q.push_bind(i64::try_from(count).unwrap_or(i64::MAX));
        q.push(")), l AS (SELECT pg_try_advisory_xact_lock(");
        q.push_bind(APPLY_LOCK);
        q.push(
            ", hashtext(current_schema())) AS locked) \
             SELECT NULL::boolean, n.id, NULL::text, NULL::text, NULL::bytea, NULL::text \
             FROM n UNION ALL \
             SELECT l.locked, d.id, d.store_id, d.topic, d.body, d.body_encoding FROM l \
             LEFT JOIN LATERAL (SELECT id, store_id, topic, body, body_encoding \
              FROM deliveries \
              WHERE l.locked AND outcome = 'stored' ORDER BY id LIMIT ",
        );
        q.push_bind(most);
        q.push(") AS d ON true");
        let found: Vec<NewOrLockedRow> = q.build_query_as().fetch_all(&mut *tx).await?;
        let mut new_ids = Vec::with_capacity(count);
        let mut rows: Vec<StoredRow> = Vec::new();
        let mut locked_out = false;
        for (locked, id, store_id, topic, body, encoding) in found {
            match (locked, id) {
                (None, Some(id)) => new_ids.push(id),
                (Some(locked), id) => {
                    locked_out = !locked;
                    if let (Some(id), Some(store_id), Some(body), Some(encoding)) =
                        (id, store_id, body, encoding)
                    {
                        rows.push((id, store_id, topic, body, encoding));
                    }
                }
                (None, None) => {}
            }
        }
        rows.sort_unstable_by_key(|row| row.0);
        Ok((delivery_ids(count, new_ids)?, rows, locked_out))
    }

    /// PostgreSQL: the apply lock and at most `most` deliveries stored before `first_new`, in
    /// one round trip: one row of NULLs besides the lock's answer when it is held elsewhere or
    /// nothing older waits. Returns the rows read and whether another bridge holds the lock.
    async fn older_with_lock(
        tx: &mut DB::Connection,
        first_new: i64,
        most: i64,
    ) -> Result<(Vec<StoredRow>, bool), StoreError> {
        let found: Vec<NewOrLockedRow> = sqlx::query_as(
            "SELECT l.locked, d.id, d.store_id, d.topic, d.body, d.body_encoding FROM \
             (SELECT pg_try_advisory_xact_lock($1, hashtext(current_schema())) \
              AS locked) AS l \
             LEFT JOIN LATERAL (SELECT id, store_id, topic, body, body_encoding \
              FROM deliveries \
              WHERE l.locked AND outcome = 'stored' AND id < $2 \
              ORDER BY id LIMIT $3) AS d ON true",
        )
        .bind(APPLY_LOCK)
        .bind(first_new)
        .bind(most)
        .fetch_all(&mut *tx)
        .await?;
        let locked_out = found.first().is_none_or(|row| row.0 != Some(true));
        let rows: Vec<StoredRow> = found
            .into_iter()
            .filter_map(|(_, id, store_id, topic, body, encoding)| {
                Some((id?, store_id?, topic, body?, encoding?))
            })
            .collect();
        Ok((rows, locked_out))
    }

    /// The first steps of an intake transaction: numbers or stores `cycle.new` and reads the
    /// deliveries stored before them that it applies. Returns the new ids, the older rows,
    /// whether another bridge holds the apply lock, and whether the new deliveries are stored
    /// after they are applied.
    ///
    /// Applying, the new deliveries are numbered first and stored once they are applied, with
    /// their outcomes, instead of written `stored` and then rewritten (on PostgreSQL a new
    /// version of the row and of its index entries) with their outcomes. With no new
    /// deliveries there is nothing to number. SQLite's single writer knows the ids its table
    /// gives next; PostgreSQL takes them from the table's sequence and stores the rows under
    /// them, applied or, when another bridge holds the apply lock, `stored`.
    async fn number_and_read(
        tx: &mut DB::Connection,
        cycle: &Cycle<'_>,
    ) -> Result<(Vec<i64>, Vec<StoredRow>, bool, bool), StoreError> {
        let most = i64::try_from(cycle.limit).unwrap_or(i64::MAX);
        let apply_lock = cycle.limit > 0 && DB::POSTGRES;
        let numbered_with_lock =
            apply_lock && !cycle.new.is_empty() && cycle.new.len() <= ROWS_PER_INSERT;
        let store_after = if DB::POSTGRES {
            numbered_with_lock
        } else {
            cycle.limit > 0 && !cycle.new.is_empty()
        };
        let mut rows: Vec<StoredRow> = Vec::new();
        let mut locked_out = false;
        let ids = if numbered_with_lock {
            let (ids, read, locked) = Self::numbered_with_lock(tx, cycle.new.len(), most).await?;
            (rows, locked_out) = (read, locked);
            ids
        } else if store_after {
            // SQLite's single writer knows the ids the table gives next.
            let last: i64 = sqlx::query_scalar(
                "SELECT COALESCE(MAX(seq), 0) FROM sqlite_sequence WHERE name = 'deliveries'",
            )
            .fetch_one(&mut *tx)
            .await?;
            let count = i64::try_from(cycle.new.len()).unwrap_or(i64::MAX);
            (last + 1..=last + count).collect()
        } else {
            Self::insert_deliveries(tx, cycle.new, &[], &[]).await?
        };
        let first_new = ids.first().copied().unwrap_or(i64::MAX);
        if numbered_with_lock {
            // Read above.
        } else if apply_lock {
            (rows, locked_out) = Self::older_with_lock(tx, first_new, most).await?;
        } else if cycle.limit > 0 && cycle.read_older {
            rows = sqlx::query_as(
                "SELECT id, store_id, topic, body, body_encoding FROM deliveries \
                 WHERE outcome = 'stored' AND id < $1 ORDER BY id LIMIT $2",
            )
            .bind(first_new)
            .bind(most)
            .fetch_all(&mut *tx)
            .await?;
        }
        Ok((ids, rows, locked_out, store_after))
    }

    /// Stores the new deliveries of `cycle` under the ids `ids` they were applied under, each
    /// with its outcome among `applied` (the results of `picked`, in order), and sets the
    /// outcomes of the older deliveries applied.
    async fn store_applied(
        tx: &mut DB::Connection,
        cycle: &Cycle<'_>,
        ids: &[i64],
        applied: &[IntakeResult],
        picked: &[Picked<'_>],
    ) -> Result<(), StoreError> {
        let mut outcomes: Vec<Option<&IntakeResult>> = vec![None; cycle.new.len()];
        for (result, (_, _, new_index, _)) in applied.iter().zip(picked) {
            if let Some(slot) = new_index.and_then(|i| outcomes.get_mut(i)) {
                *slot = Some(result);
            }
        }
        // Stored under the ids they were applied under, or not at all.
        let numbered: &[i64] = if DB::POSTGRES { ids } else { &[] };
        let stored = Self::insert_deliveries(tx, cycle.new, &outcomes, numbered).await?;
        stored_as_numbered(ids, &stored)?;
        let older_results: Vec<IntakeResult> = applied
            .iter()
            .zip(picked)
            .filter(|(_, (_, _, new_index, _))| new_index.is_none())
            .map(|(result, _)| result.clone())
            .collect();
        Self::set_outcomes(tx, &older_results).await
    }

    /// One intake transaction's statements (see [`Store::intake_cycle`]).
    async fn intake(
        tx: &mut Transaction<'_, DB>,
        cycle: &Cycle<'_>,
        applying: &mut Option<i64>,
    ) -> Result<CycleOutcome, StoreError> {
        let tx: &mut DB::Connection = tx;
        let (ids, rows, locked_out, store_after) = Self::number_and_read(tx, cycle).await?;
        let mut results: Vec<CycleApplied> = Vec::new();
        let mut older: Vec<(i64, Delivery)> = Vec::new();
        if cycle.limit > 0 && !locked_out {
            older = read_back(rows, applying)?;
            let picked = pick(&older, &ids, cycle);
            let parsed = parse_picked(&picked, cycle);
            let stores: Vec<Option<&StoreConfig>> = picked
                .iter()
                .map(|(_, d, _, _)| cycle.config.store(&d.store_id))
                .collect();
            let plans: Vec<Option<Plan>> = stores
                .iter()
                .zip(&parsed)
                .map(|(store, parsed)| store.and_then(|s| plan_of(s, parsed)))
                .collect();
            let pending = pending_of(&picked, &parsed, &stores, &plans);
            let (applied, outcomes_written) =
                Self::apply_pending(tx, &pending, applying, !store_after).await?;
            if store_after {
                Self::store_applied(tx, cycle, &ids, &applied, &picked).await?;
            } else if !outcomes_written {
                Self::set_outcomes(tx, &applied).await?;
            }
            results = cycle_applied(applied, &picked);
        }
        if store_after && locked_out {
            // Another bridge applies: stored under the ids taken, to be applied by it.
            let stored = Self::insert_deliveries(tx, cycle.new, &[], &ids).await?;
            stored_as_numbered(&ids, &stored)?;
        }
        Ok(CycleOutcome {
            ids,
            results,
            older: older.len(),
            locked_out,
        })
    }
}

/// The results of picked deliveries, with what the caller needs of each.
fn cycle_applied(applied: Vec<IntakeResult>, picked: &[Picked<'_>]) -> Vec<CycleApplied> {
    applied
        .into_iter()
        .zip(picked)
        .map(|(result, (_, delivery, new_index, _))| CycleApplied {
            result,
            new_index: *new_index,
            store_id: delivery.store_id.clone(),
            topic: delivery.topic.clone(),
        })
        .collect()
}

impl Store {
    /// One intake transaction: stores `cycle.new` (outcome `stored`), then applies at most
    /// `cycle.limit` stored deliveries, oldest first (those stored earlier before the new
    /// ones), sets their outcomes and commits. `applying` is left holding the id of the first
    /// delivery of the step being applied if a statement fails.
    ///
    /// On PostgreSQL, where each statement is a round trip to the server, a transaction that
    /// stores and applies new paid orders is five: `BEGIN`; the new deliveries with the apply
    /// lock and the deliveries stored before them; two for the ledger, the second with the
    /// outcomes (see [`Ledger::apply_orders`]); `COMMIT`.
    pub(super) async fn intake_cycle(
        &self,
        cycle: &Cycle<'_>,
        applying: &mut Option<i64>,
    ) -> Result<CycleOutcome, StoreError> {
        let outcome = in_tx!(self, |tx| Ledger::intake(&mut tx, cycle, applying).await?);
        Ok(outcome)
    }

    /// Stores a verified delivery and applies it to the ledger in one transaction.
    pub async fn record_delivery(
        &self,
        store: &StoreConfig,
        delivery: &Delivery,
        parsed: &Parsed,
        now: i64,
    ) -> Result<IntakeResult, StoreError> {
        let packed = Packed::for_store(self, &delivery.body);
        let stored = [Stored {
            delivery,
            packed: &packed,
            parsed: None,
            now,
        }];
        let plan = plan_of(store, parsed);
        let intake = Intake {
            delivery,
            parsed,
            plan: &plan,
            can_fetch: store.has_rest_keys(),
            events: &store.events,
            now,
        };
        let result = in_tx!(self, |tx| Ledger::record(&mut tx, &stored, intake).await?);
        result.ok_or_else(|| StoreError::Internal("the intake transaction applied nothing".into()))
    }
}

/// What one intake transaction is asked to do (see [`super::queue`]).
pub(super) struct Cycle<'a> {
    /// Deliveries to store, in order of arrival.
    pub new: &'a [Stored<'a>],
    /// Most deliveries to apply; 0 stores only.
    pub limit: usize,
    /// Whether deliveries stored by earlier transactions may wait to be applied.
    pub read_older: bool,
    /// The time of applying a delivery stored earlier.
    pub now: i64,
    pub config: &'a Config,
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

/// A stored delivery read back to be applied: id, store, topic, body as stored, its encoding.
type StoredRow = (i64, String, Option<String>, Vec<u8>, String);
/// PostgreSQL: whether this replica took the apply lock, and a stored delivery if any; or,
/// with no answer of the lock, a new delivery's id.
type NewOrLockedRow = (
    Option<bool>,
    Option<i64>,
    Option<String>,
    Option<String>,
    Option<Vec<u8>>,
    Option<String>,
);

/// Checks that deliveries numbered before they were stored were stored under those ids.
fn stored_as_numbered(numbered: &[i64], stored: &[i64]) -> Result<(), StoreError> {
    if stored == numbered {
        return Ok(());
    }
    Err(StoreError::Internal(format!(
        "deliveries numbered {:?}..{:?} were stored as {:?}..{:?}",
        numbered.first(),
        numbered.last(),
        stored.first(),
        stored.last()
    )))
}

/// The PostgreSQL advisory lock (transaction scope) held by the replica applying
/// deliveries, so replicas apply one at a time, in order: this key with a hash of the
/// schema. Advisory locks belong to the whole database, and bridges with schemas of their
/// own in one database (a `search_path` in the URL) must not wait for each other.
pub const APPLY_LOCK: i32 = 0x5072_4231;

/// A delivery picked to be applied by an intake transaction: its id, itself, its index in
/// [`Cycle::new`] if it is new, and the time it is applied.
type Picked<'a> = (i64, &'a Delivery, Option<usize>, i64);

/// Stored deliveries read back to be applied. One that cannot be read back is set aside like
/// one that cannot be applied (`applying` names it).
fn read_back(
    rows: Vec<StoredRow>,
    applying: &mut Option<i64>,
) -> Result<Vec<(i64, Delivery)>, StoreError> {
    rows.into_iter()
        .map(|(id, store_id, topic, stored, encoding)| {
            let body = body::decode(&encoding, stored).inspect_err(|_| {
                *applying = Some(id);
            })?;
            let delivery = Delivery {
                store_id,
                source: Source::Webhook,
                topic,
                webhook_id: None,
                delivery_ref: None,
                content_type: None,
                body,
            };
            Ok((id, delivery))
        })
        .collect()
}

/// The deliveries a transaction applies, oldest first: those stored earlier, then the new
/// ones under `ids`, at most `cycle.limit`.
fn pick<'a>(older: &'a [(i64, Delivery)], ids: &[i64], cycle: &Cycle<'a>) -> Vec<Picked<'a>> {
    older
        .iter()
        .map(|(id, d)| (*id, d, None, cycle.now))
        .chain(
            ids.iter()
                .zip(cycle.new)
                .enumerate()
                .map(|(i, (id, n))| (*id, n.delivery, Some(i), n.now)),
        )
        .take(cycle.limit)
        .collect()
}

/// What each picked delivery says: read by its caller for a new one, read here otherwise.
fn parse_picked<'a>(picked: &[Picked<'a>], cycle: &Cycle<'a>) -> Vec<Cow<'a, Parsed>> {
    picked
        .iter()
        .map(|(_, d, new_index, _)| {
            match new_index
                .and_then(|i| cycle.new.get(i))
                .and_then(|n| n.parsed)
            {
                Some(given) => Cow::Borrowed(given),
                None => Cow::Owned(parse_delivery(d.topic.as_deref(), &d.body)),
            }
        })
        .collect()
}

/// The picked deliveries as [`Pending`]: to apply, or ignored when their store left the
/// configuration.
fn pending_of<'a>(
    picked: &[Picked<'a>],
    parsed: &'a [Cow<'a, Parsed>],
    stores: &[Option<&'a StoreConfig>],
    plans: &'a [Option<Plan>],
) -> Vec<(i64, Pending<'a>)> {
    picked
        .iter()
        .zip(parsed.iter().zip(stores.iter().zip(plans)))
        .map(|((id, delivery, _, at), (parsed, (store, plan)))| {
            let pending = match store {
                None => Pending::Decided(IntakeResult {
                    delivery_id: *id,
                    outcome: DeliveryOutcome::Ignored,
                    order_id: None,
                    detail: Some(format!(
                        "store {} is no longer in the configuration",
                        delivery.store_id
                    )),
                    jobs_planned: 0,
                }),
                Some(cfg) => Pending::Apply(Intake {
                    delivery,
                    parsed,
                    plan,
                    can_fetch: cfg.has_rest_keys(),
                    events: &cfg.events,
                    now: *at,
                }),
            };
            (*id, pending)
        })
        .collect()
}

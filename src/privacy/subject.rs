//! One customer's data: finding their orders by billing e-mail or WooCommerce customer id,
//! exporting everything the bridge holds of them, and erasing it.

use poem_openapi::Object;
use serde::Serialize;

use super::ops::{Bodies, OrderRef};
use crate::outbox::jobs::{CURRENT_BODY_FROM, CurrentBody, customer_key, snapshot_text};
use crate::reads::orders::{DeliveryDetail, OrderLedger, rfc3339};
use crate::store::{Store, StoreError, in_tx, on_pool};

/// Orders per page of an export or an erasure.
pub const ORDERS_PER_PAGE: i64 = 10;

/// Deliveries whose bodies one order's export carries (its newest).
const DELIVERIES_PER_ORDER: usize = 100;

/// Bytes of delivery bodies one export page carries: a page ends after the order that
/// reaches it, and an order's bodies beyond it are left out (counted), whatever their sizes.
const PAGE_BODY_BYTES: usize = 8 << 20;

/// Orders applied before migration 0011 whose e-mail is filled in per transaction.
const INDEX_BATCH: i64 = 200;

/// Batches of [`INDEX_BATCH`] one export or erasure request fills in at most; beyond, the
/// answer asks again (an erasure is not `done`, an export's `next_after` repeats `after`),
/// and each request and sweep fills in more.
const INDEX_BATCHES_PER_REQUEST: u32 = 10;

/// Whom a request is about: a billing e-mail (normalised, see [`normalise_email`]) and, when
/// the shop knows them as a registered customer, their WooCommerce customer id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subject {
    pub email: String,
    pub customer_id: Option<i64>,
}

/// What is wrong with a request's subject, naming the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SubjectError {
    #[error("email: an e-mail address (with @, at most 254 characters) is required")]
    Email,
    #[error("customer_id: must be a WooCommerce customer id (1 or more)")]
    CustomerId,
}

impl SubjectError {
    /// The request field at fault.
    pub fn field(&self) -> &'static str {
        match self {
            SubjectError::Email => "email",
            SubjectError::CustomerId => "customer_id",
        }
    }
}

/// An e-mail address as the bridge records and compares it: trimmed, lowercase.
pub fn normalise_email(email: &str) -> String {
    email.trim().to_lowercase()
}

impl Subject {
    /// A subject from a request's fields; `customer_id` 0 is a guest (none).
    pub fn new(email: &str, customer_id: Option<i64>) -> Result<Subject, SubjectError> {
        let email = normalise_email(email);
        let at = email.find('@');
        if email.len() > 254 || at.is_none_or(|i| i == 0 || i + 1 == email.len()) {
            return Err(SubjectError::Email);
        }
        let customer_id = match customer_id {
            Some(id) if id < 0 => return Err(SubjectError::CustomerId),
            Some(0) | None => None,
            Some(id) => Some(id),
        };
        Ok(Subject { email, customer_id })
    }
}

/// What the bridge holds of one order, for an export.
#[derive(Debug, Clone, Serialize, Object)]
pub struct OrderExport {
    #[oai(flatten)]
    #[serde(flatten)]
    pub ledger: OrderLedger,
    /// The bodies of its newest deliveries (at most 100), as received or as redacted.
    pub delivery_bodies: Vec<DeliveryDetail>,
    /// Bodies of its deliveries left out: beyond the newest 100, or beyond what one page
    /// carries (8 MiB of bodies). Its current state is in `current` either way.
    pub delivery_bodies_omitted: u64,
    /// When its personal data was erased, if it was.
    pub erased_at: Option<String>,
}

/// A job named in an erasure's report.
#[derive(Debug, Clone, Serialize, Object)]
pub struct ErasedJob {
    pub job_id: i64,
    pub provider: String,
    pub target: String,
    /// Its state before the erasure.
    pub state: String,
}

/// What erasing one order did.
#[derive(Debug, Clone, Default, Serialize, Object)]
pub struct OrderErasure {
    pub order_id: i64,
    /// Jobs not yet placed, cancelled: they are never sent.
    pub cancelled: Vec<ErasedJob>,
    /// Jobs whose call was under way: the provider may get the data as it was. The order
    /// never runs another attempt, and the next privacy sweep redacts what the attempt kept.
    pub in_flight: Vec<ErasedJob>,
    /// Provider orders placed (or possibly placed, when waiting for review) before the
    /// erasure: the provider keeps its own copy.
    pub placed: Vec<ErasedJob>,
    /// Delivery bodies replaced by their redacted form.
    pub deliveries_redacted: u64,
    /// Snapshot bodies kept apart from their deliveries, redacted.
    pub snapshots_redacted: u64,
    /// Attempts whose excerpt or error was redacted.
    pub attempts_redacted: u64,
    /// Kept files (Key2print PDFs) removed.
    pub files_removed: u64,
}

impl OrderErasure {
    /// Whether anything was removed or redacted.
    pub fn removed_any(&self) -> bool {
        self.deliveries_redacted
            + self.snapshots_redacted
            + self.attempts_redacted
            + self.files_removed
            > 0
            || !self.cancelled.is_empty()
    }
}

/// The contact of a stored body; an unreadable body has none.
fn contact_of(body: &str) -> (String, i64) {
    let order: crate::woo::model::Order = serde_json::from_str(body).unwrap_or_default();
    (
        normalise_email(&order.billing.email),
        order.customer_id.max(0),
    )
}

/// An order id and its current body's row ([`CurrentBody`]).
type OrderBodyRow = (i64, String, Option<Vec<u8>>, Option<String>);

/// An order's job, as the erasure reads it: id, provider, target, state.
type JobRow = (i64, String, String, String);

impl Store {
    /// Fills in `billing_email` and `customer_id` of up to [`INDEX_BATCH`] of the store's
    /// orders applied before migration 0011, from their current bodies; returns how many.
    pub async fn index_order_contacts(&self, store_id: &str) -> Result<u64, StoreError> {
        let rows: Vec<OrderBodyRow> = on_pool!(self, |pool| {
            sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT o.order_id, {CURRENT_BODY_FROM} WHERE o.store_id = $1 \
                 AND o.billing_email IS NULL ORDER BY o.order_id LIMIT $2"
            )))
            .bind(store_id)
            .bind(INDEX_BATCH)
            .fetch_all(pool)
            .await?
        });
        let contacts: Vec<(i64, String, i64)> = rows
            .into_iter()
            .map(|(id, body, raw, enc)| {
                let text: CurrentBody = (body, raw, enc);
                let (email, customer) = snapshot_text(text)
                    .map(|t| contact_of(&t))
                    .unwrap_or_default();
                (id, email, customer)
            })
            .collect();
        let n = in_tx!(self, |tx| {
            let mut n = 0u64;
            for (order_id, email, customer) in &contacts {
                n += sqlx::query(
                    "UPDATE orders SET billing_email = $3, customer_id = $4 \
                     WHERE store_id = $1 AND order_id = $2 AND billing_email IS NULL",
                )
                .bind(store_id)
                .bind(*order_id)
                .bind(email.as_str())
                .bind(*customer)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            }
            n
        });
        Ok(n)
    }

    /// Fills in the contacts of the store's orders applied before 0011, at most
    /// [`INDEX_BATCHES_PER_REQUEST`] batches (see [`Self::index_order_contacts`]); whether
    /// none is left, so a search by contact finds every order.
    async fn index_contacts_bounded(&self, store_id: &str) -> Result<bool, StoreError> {
        for _ in 0..INDEX_BATCHES_PER_REQUEST {
            // Another writer (a sweep, intake) may fill in some of a batch: only a batch
            // that fills in none ends the loop, and the read below decides.
            if self.index_order_contacts(store_id).await? == 0 {
                break;
            }
        }
        let left: Option<i64> = on_pool!(self, |pool| {
            sqlx::query_scalar(
                "SELECT order_id FROM orders WHERE store_id = $1 AND billing_email IS NULL LIMIT 1",
            )
            .bind(store_id)
            .fetch_optional(pool)
            .await?
        });
        Ok(left.is_none())
    }

    /// The subject's orders in the store (not erased), by id after `after`, at most `limit`;
    /// `None` while orders applied before 0011 are left to fill in (see
    /// [`Self::index_contacts_bounded`]): the search would not be complete.
    pub async fn subject_orders(
        &self,
        store_id: &str,
        subject: &Subject,
        after: i64,
        limit: i64,
    ) -> Result<Option<Vec<i64>>, StoreError> {
        if !self.index_contacts_bounded(store_id).await? {
            return Ok(None);
        }
        // Two reads, each through its partial index (orders_email, orders_customer), whose
        // predicates the statements repeat so both databases use them.
        let mut ids: Vec<i64> = on_pool!(self, |pool| {
            sqlx::query_scalar(
                "SELECT order_id FROM orders WHERE store_id = $1 AND billing_email <> '' \
                 AND billing_email = $2 AND order_id > $3 ORDER BY order_id LIMIT $4",
            )
            .bind(store_id)
            .bind(subject.email.as_str())
            .bind(after)
            .bind(limit)
            .fetch_all(pool)
            .await?
        });
        if let Some(customer) = subject.customer_id {
            let more: Vec<i64> = on_pool!(self, |pool| {
                sqlx::query_scalar(
                    "SELECT order_id FROM orders WHERE store_id = $1 AND customer_id > 0 \
                     AND customer_id = $2 AND order_id > $3 ORDER BY order_id LIMIT $4",
                )
                .bind(store_id)
                .bind(customer)
                .bind(after)
                .bind(limit)
                .fetch_all(pool)
                .await?
            });
            ids.extend(more);
            ids.sort_unstable();
            ids.dedup();
            ids.truncate(usize::try_from(limit).unwrap_or(0));
        }
        Ok(Some(ids))
    }

    /// Everything the bridge holds of one order: its ledger (snapshots, items, deliveries,
    /// jobs with attempts, files, tracking, current body) and its newest delivery bodies, as
    /// many as `budget` (bytes, reduced by what they take) allows.
    pub async fn export_order(
        &self,
        store_id: &str,
        order_id: i64,
        budget: &mut usize,
    ) -> Result<Option<OrderExport>, StoreError> {
        let Some(ledger) = self.order_ledger(store_id, order_id).await? else {
            return Ok(None);
        };
        let mut delivery_bodies = Vec::new();
        for d in ledger.deliveries.iter().rev().take(DELIVERIES_PER_ORDER) {
            let size = usize::try_from(d.size).unwrap_or(usize::MAX);
            if size > *budget {
                break;
            }
            if let Some(detail) = self.delivery(d.id).await? {
                *budget -= size;
                delivery_bodies.push(detail);
            }
        }
        let delivery_bodies_omitted = (ledger.deliveries.len() - delivery_bodies.len()) as u64;
        let erased_at: Option<i64> = on_pool!(self, |pool| {
            sqlx::query_scalar("SELECT erased_at FROM orders WHERE store_id = $1 AND order_id = $2")
                .bind(store_id)
                .bind(order_id)
                .fetch_one(pool)
                .await?
        });
        Ok(Some(OrderExport {
            ledger,
            delivery_bodies,
            delivery_bodies_omitted,
            erased_at: erased_at.map(rfc3339),
        }))
    }

    /// The Key2print user the bridge created for a registered customer, if any.
    pub async fn key2print_user_of(
        &self,
        store_id: &str,
        customer_id: i64,
    ) -> Result<Option<String>, StoreError> {
        self.key2print_user(store_id, &customer_key(customer_id))
            .await
    }

    /// Forgets the Key2print user of a registered customer; whether there was one.
    pub async fn forget_key2print_user(
        &self,
        store_id: &str,
        customer_id: i64,
    ) -> Result<bool, StoreError> {
        let n = in_tx!(self, |tx| {
            sqlx::query("DELETE FROM key2print_users WHERE store_id = $1 AND customer_key = $2")
                .bind(store_id)
                .bind(customer_key(customer_id))
                .execute(&mut *tx)
                .await?
                .rows_affected()
        });
        Ok(n > 0)
    }

    /// Erases one order's personal data: marks it erased (it takes no new state, so no job
    /// is planned, queued again or replayed for it, and its contact is cleared), cancels
    /// its jobs not yet placed in the same transaction, then redacts its deliveries,
    /// snapshots and attempts and removes its files. `None` when there is no such order.
    pub async fn erase_order(
        &self,
        store_id: &str,
        order_id: i64,
        now: i64,
    ) -> Result<Option<OrderErasure>, StoreError> {
        let Some(jobs) = self.mark_erased(store_id, order_id, now).await? else {
            return Ok(None);
        };
        let mut report = OrderErasure {
            order_id,
            ..OrderErasure::default()
        };
        for (job_id, provider, target, state) in jobs {
            let job = ErasedJob {
                job_id,
                provider,
                target,
                state,
            };
            match job.state.as_str() {
                "running" => report.in_flight.push(job),
                "done" | "needs-review" if job.provider != "woocommerce" => {
                    // A job for review may have reached the provider; it is cancelled too.
                    if job.state == "needs-review" {
                        report.cancelled.push(job.clone());
                    }
                    report.placed.push(job);
                }
                "pending" | "retrying" | "held" | "awaiting-approval" | "dead" | "needs-review" => {
                    report.cancelled.push(job)
                }
                _ => {}
            }
        }
        let o = OrderRef { store_id, order_id };
        report.deliveries_redacted = self.redact_deliveries(o, Bodies::All, now).await?;
        report.snapshots_redacted = self.redact_snapshots(o).await?;
        report.attempts_redacted = self.redact_attempts(o).await?;
        report.files_removed = self.remove_files(o, now).await?;
        Ok(Some(report))
    }

    /// Marks the order erased and cancels its jobs not placed, in one transaction; returns
    /// its jobs as they were before (`None`: no such order).
    async fn mark_erased(
        &self,
        store_id: &str,
        order_id: i64,
        now: i64,
    ) -> Result<Option<Vec<JobRow>>, StoreError> {
        let jobs = in_tx!(self, |tx| {
            let found = sqlx::query(
                "UPDATE orders SET erased_at = COALESCE(erased_at, $3), billing_email = '', \
                 customer_id = 0, retention_done = 15 WHERE store_id = $1 AND order_id = $2",
            )
            .bind(store_id)
            .bind(order_id)
            .bind(now)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if found == 0 {
                None
            } else {
                let jobs: Vec<JobRow> = sqlx::query_as(
                    "SELECT id, provider, target, state FROM jobs \
                     WHERE store_id = $1 AND order_id = $2 ORDER BY id",
                )
                .bind(store_id)
                .bind(order_id)
                .fetch_all(&mut *tx)
                .await?;
                // Queued, held, awaiting approval, dead or waiting for review: none may be
                // sent with blanked data.
                // Running jobs are left to their attempt (the dispatcher claims no job of
                // an erased order again).
                sqlx::query(
                    "UPDATE jobs SET state = 'cancelled', last_error = $4, locked_by = NULL, \
                     locked_until = NULL, sent_at = NULL, updated_at = $3 \
                     WHERE store_id = $1 AND order_id = $2 \
                     AND state IN ('pending', 'retrying', 'held', 'awaiting-approval', 'dead', \
                     'needs-review')",
                )
                .bind(store_id)
                .bind(order_id)
                .bind(now)
                .bind(ERASED_REASON)
                .execute(&mut *tx)
                .await?;
                Some(jobs)
            }
        });
        Ok(jobs)
    }
}

/// What a job of an erased order that was never placed says.
pub(crate) const ERASED_REASON: &str =
    "the customer's personal data was erased before this was sent; it is never sent";

/// One page of a customer's export.
#[derive(Debug, Clone, Serialize, Object)]
pub struct ExportPage {
    /// Their orders on this page, by order id.
    pub orders: Vec<OrderExport>,
    /// The Key2print user the bridge created for them (registered customers only).
    pub key2print_user: Option<String>,
    /// Pass as `after` for the next page; none when this is the last.
    pub next_after: Option<i64>,
    /// False while the bridge is still filling in the contacts of orders it recorded before
    /// it kept them: the page is empty and `next_after` repeats `after` (ask again).
    pub search_complete: bool,
}

/// One round of a customer's erasure.
#[derive(Debug, Clone, Serialize, Object)]
pub struct ErasurePage {
    /// The orders erased in this round.
    pub orders: Vec<OrderErasure>,
    /// The bridge forgot the Key2print user it created for them.
    pub key2print_user_forgotten: bool,
    /// No order of theirs is left to erase; otherwise ask again (also while the bridge is
    /// still filling in the contacts of orders it recorded before it kept them).
    pub done: bool,
}

impl ErasurePage {
    /// Rows redacted or removed, by the kind label of `printbridge_privacy_redacted_total`.
    pub fn counts(&self) -> [(&'static str, u64); 4] {
        let sum = |f: fn(&OrderErasure) -> u64| self.orders.iter().map(f).sum::<u64>();
        [
            ("delivery_body", sum(|o| o.deliveries_redacted)),
            ("snapshot", sum(|o| o.snapshots_redacted)),
            ("attempt_excerpt", sum(|o| o.attempts_redacted)),
            ("file", sum(|o| o.files_removed)),
        ]
    }
}

impl Store {
    /// Up to [`ORDERS_PER_PAGE`] of the subject's orders after order id `after`, exported.
    pub async fn export_subject(
        &self,
        store_id: &str,
        subject: &Subject,
        after: i64,
    ) -> Result<ExportPage, StoreError> {
        let key2print_user = match subject.customer_id {
            Some(c) => self.key2print_user_of(store_id, c).await?,
            None => None,
        };
        let Some(ids) = self
            .subject_orders(store_id, subject, after, ORDERS_PER_PAGE)
            .await?
        else {
            return Ok(ExportPage {
                orders: Vec::new(),
                key2print_user,
                next_after: Some(after),
                search_complete: false,
            });
        };
        let mut orders = Vec::with_capacity(ids.len());
        let mut budget = PAGE_BODY_BYTES;
        let mut last = None;
        for id in &ids {
            // The next orders go to the next page once less than an eighth of the budget is
            // left (the first order of a page always has all of it).
            if budget < PAGE_BODY_BYTES / 8 {
                break;
            }
            last = Some(*id);
            if let Some(export) = self.export_order(store_id, *id, &mut budget).await? {
                orders.push(export);
            }
        }
        // More may follow when the page was full or its bodies' budget ran out.
        let more = ids.len() == usize::try_from(ORDERS_PER_PAGE).unwrap_or(0)
            || last != ids.last().copied();
        Ok(ExportPage {
            orders,
            key2print_user,
            next_after: last.filter(|_| more),
            search_complete: true,
        })
    }

    /// Erases up to [`ORDERS_PER_PAGE`] of the subject's orders (an erased order no longer
    /// matches, so the next round takes the next ones) and forgets their Key2print user.
    pub async fn erase_subject(
        &self,
        store_id: &str,
        subject: &Subject,
        now: i64,
    ) -> Result<ErasurePage, StoreError> {
        let Some(ids) = self
            .subject_orders(store_id, subject, 0, ORDERS_PER_PAGE)
            .await?
        else {
            return Ok(ErasurePage {
                orders: Vec::new(),
                key2print_user_forgotten: false,
                done: false,
            });
        };
        let mut orders = Vec::with_capacity(ids.len());
        for id in &ids {
            if let Some(erased) = self.erase_order(store_id, *id, now).await? {
                orders.push(erased);
            }
        }
        let key2print_user_forgotten = match subject.customer_id {
            Some(c) => self.forget_key2print_user(store_id, c).await?,
            None => false,
        };
        Ok(ErasurePage {
            orders,
            key2print_user_forgotten,
            done: ids.len() < usize::try_from(ORDERS_PER_PAGE).unwrap_or(0),
        })
    }
}

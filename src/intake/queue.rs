//! Webhook intake: a delivery is answered once it is committed in the database, and applied
//! to the ledger in order of arrival, normally in the same transaction.
//!
//! WooCommerce never re-sends a failed delivery and disables a webhook after repeated
//! failures, so what matters most on a sale day is that every delivery is stored and answered
//! quickly. One writer task takes every delivery queued since its last transaction (each
//! already verified and read by its caller) and, in one transaction (one commit, one sync):
//!
//! 1. stores them (outcome `stored`);
//! 2. applies stored deliveries oldest first, those left from earlier transactions before
//!    the new ones, at most [`MAX_APPLY`]: runs of order states with one statement per table
//!    for the whole run (see [`Store::intake_cycle`]), so applying a burst's deliveries costs
//!    little more than storing them;
//! 3. sets the outcomes of those applied, and commits.
//!
//! When the transaction applies, the new deliveries are numbered first (SQLite's one writer
//! knows the ids the table gives next; PostgreSQL takes them from the table's sequence) and
//! stored after they are applied, with their outcomes, so that a 6 KB row is not written
//! `stored` and rewritten in the same transaction. On SQLite their bodies are compressed
//! by their callers (see [`super::body`]), not by the writer.
//!
//! Each caller is answered after that commit with its delivery's id, and its outcome when it
//! was applied in the transaction (the usual case, in a burst too), else `stored`; it is then
//! applied by a later transaction, in order, and its outcome shows under
//! `/v1/admin/deliveries`. Stored deliveries not yet applied are the queue: those a restart
//! left are applied when the bridge starts; on PostgreSQL one replica at a time applies (an
//! advisory lock), taking every replica's deliveries in order, and each replica looks for
//! left-over ones every second.
//!
//! A transaction that fails is retried storing only, so the new deliveries are answered;
//! stored deliveries are then applied one per transaction, and one that fails
//! [`MAX_APPLY_ATTEMPTS`] times is set aside as `failed` with the error as its detail.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::apply::{Cycle, CycleApplied, CycleOutcome, DeliveryOutcome, IntakeResult, Stored};
use super::body::Packed;
use crate::clock::Clock;
use crate::config::Config;
use crate::intake::parse::{Delivery, Parsed, parse_delivery};
use crate::store::{Store, StoreError, on_pool, on_pool_write};

/// Most new deliveries one transaction stores.
const MAX_GROUP: usize = 256;
/// Most deliveries one transaction applies. They are applied together, one statement per
/// table (see [`Store::intake_cycle`]), so a transaction that applies everything it stores
/// costs little more than one that only stores; the cap bounds how long the callers of a
/// transaction wait while a backlog (left by a restart, or by a burst beyond what the
/// ledger keeps up with) is applied.
const MAX_APPLY: usize = 256;
/// How often the writer looks for stored deliveries it was not told about (another
/// replica's, or left by a failure).
const PROBE_INTERVAL: Duration = Duration::from_secs(1);
/// Pause before applying again after a failed transaction.
const RETRY_PAUSE: Duration = Duration::from_secs(1);
/// Pause before trying again when another replica holds the apply lock.
const LOCKED_PAUSE: Duration = Duration::from_millis(100);
/// Attempts to apply one delivery before it is set aside as `failed`.
pub const MAX_APPLY_ATTEMPTS: u32 = 3;

/// A delivery applied to the ledger (or set aside), for metrics, logs and the dispatcher.
#[derive(Debug, Clone)]
pub struct Applied {
    pub store_id: String,
    pub topic: Option<String>,
    pub result: IntakeResult,
    /// Whether the answer to the shop carried this outcome (false: applied after it).
    pub answered: bool,
}

/// Called on the writer's thread after each commit with what it applied.
pub type OnApplied = Arc<dyn Fn(&[Applied]) + Send + Sync>;

type Reply = oneshot::Sender<Result<IntakeResult, StoreError>>;

/// Deliveries queued for the writer at most; callers beyond it wait for room.
const QUEUE_DEPTH: usize = 4 * MAX_GROUP;

/// A verified delivery waiting to be stored.
struct NewDelivery {
    delivery: Delivery,
    /// How its body is stored (on SQLite compressed), made by the caller too.
    packed: Packed,
    /// Read by the caller, so the writer (one at a time) does not have to.
    parsed: Parsed,
    now: i64,
}

impl NewDelivery {
    fn new(store: &Store, delivery: Delivery, now: i64) -> Self {
        NewDelivery {
            packed: Packed::for_store(store, &delivery.body),
            parsed: parse_delivery(delivery.topic.as_deref(), &delivery.body),
            delivery,
            now,
        }
    }
}

/// The intake writer of one bridge: see the module documentation.
pub struct IntakeQueue {
    config: Arc<Config>,
    clock: Arc<dyn Clock>,
    on_applied: OnApplied,
    writer: OnceLock<WriterHandle>,
}

type Queued = (NewDelivery, Reply);

struct WriterHandle {
    queue: mpsc::Sender<Queued>,
    stop: watch::Sender<bool>,
    task: Mutex<Option<JoinHandle<()>>>,
}

impl IntakeQueue {
    pub fn new(config: Arc<Config>, clock: Arc<dyn Clock>, on_applied: OnApplied) -> Self {
        IntakeQueue {
            config,
            clock,
            on_applied,
            writer: OnceLock::new(),
        }
    }

    /// Starts the writer (idempotent). It first applies any deliveries a restart left
    /// stored but not applied.
    pub fn start(&self, store: &Store) {
        self.handle(store);
    }

    fn handle(&self, store: &Store) -> &WriterHandle {
        self.writer.get_or_init(|| {
            let (queue, receiver) = mpsc::channel(QUEUE_DEPTH);
            let (stop, stopped) = watch::channel(false);
            let writer = Writer {
                // `handle` runs on the server's runtime (the first start or delivery).
                server: tokio::runtime::Handle::try_current().ok(),
                store: store.clone(),
                config: self.config.clone(),
                clock: self.clock.clone(),
                on_applied: self.on_applied.clone(),
                queue: receiver,
                stopped,
                maybe_unapplied: true,
                careful: false,
                paused_until: None,
                failures: HashMap::new(),
            };
            let task = crate::store::writer::spawn(writer.run());
            WriterHandle {
                queue,
                stop,
                task: Mutex::new(Some(task)),
            }
        })
    }

    /// Stores a verified webhook delivery and returns once it is committed: with its id,
    /// and its outcome if it was applied in the same transaction (it normally is), else
    /// outcome `stored` (it is applied by a later transaction, in order of arrival).
    pub async fn record(
        &self,
        store: &Store,
        delivery: Delivery,
        now: i64,
    ) -> Result<IntakeResult, StoreError> {
        let writer = self.handle(store);
        let item = NewDelivery::new(store, delivery, now);
        let (reply, answer) = oneshot::channel();
        if writer.queue.send((item, reply)).await.is_err() {
            return Err(StoreError::Unavailable(
                "the intake writer has stopped".to_owned(),
            ));
        }
        answer.await.unwrap_or_else(|_| {
            Err(StoreError::Unavailable(
                "the delivery was interrupted before it was stored".to_owned(),
            ))
        })
    }

    /// Whether the writer, which stores deliveries and applies them to the ledger, has
    /// stopped (stopped on purpose, or ended by a fault). Before its start it has not.
    pub fn stopped(&self) -> bool {
        self.writer.get().is_some_and(|h| h.queue.is_closed())
    }

    /// Stops the writer after its current transaction; deliveries it has not applied yet
    /// stay stored and are applied at the next start.
    pub async fn stop(&self) {
        if let Some(handle) = self.writer.get() {
            let _ = handle.stop.send(true);
            let task = handle.task.lock().ok().and_then(|mut t| t.take());
            if let Some(task) = task {
                let _ = task.await;
            }
        }
    }
}

/// What one transaction did.
struct Written {
    /// Per new delivery: its result (outcome `stored` when it was not applied).
    answers: Vec<IntakeResult>,
    applied: Vec<Applied>,
    /// Whether stored deliveries may remain unapplied.
    more: bool,
    /// On PostgreSQL: another replica was applying, so this one only stored.
    locked_out: bool,
}

/// A failed transaction: the error, and the id of the delivery being applied, if any.
type Failed = (StoreError, Option<i64>);

struct Writer {
    store: Store,
    config: Arc<Config>,
    clock: Arc<dyn Clock>,
    on_applied: OnApplied,
    queue: mpsc::Receiver<Queued>,
    stopped: watch::Receiver<bool>,
    /// Whether stored deliveries may be waiting to be applied (true at start).
    maybe_unapplied: bool,
    /// After a failed transaction: apply one delivery per transaction.
    careful: bool,
    /// After a failure or lock contention: store only until then.
    paused_until: Option<Instant>,
    /// Failed attempts per delivery id, while applying one at a time.
    failures: HashMap<i64, u32>,
    /// The server's runtime, where the deliveries written are dropped (see [`Writer::cycle`]).
    server: Option<tokio::runtime::Handle>,
}

impl Writer {
    async fn run(mut self) {
        let mut probe = tokio::time::interval(PROBE_INTERVAL);
        probe.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut batch: Vec<Queued> = Vec::with_capacity(MAX_GROUP);
        loop {
            if *self.stopped.borrow() {
                break;
            }
            if self.paused_until.is_some_and(|t| Instant::now() >= t) {
                self.paused_until = None;
            }
            if !(self.maybe_unapplied && self.paused_until.is_none()) {
                let resume = self.paused_until;
                tokio::select! {
                    biased;
                    _ = self.stopped.changed() => break,
                    n = self.queue.recv_many(&mut batch, MAX_GROUP) => {
                        if n == 0 {
                            break;
                        }
                    }
                    _ = probe.tick(), if !self.maybe_unapplied => {
                        if let Ok(found) = self.store.has_unapplied_deliveries().await {
                            self.maybe_unapplied = found;
                        }
                        continue;
                    }
                    _ = tokio::time::sleep_until(resume.unwrap_or_else(Instant::now)), if resume.is_some() => continue,
                }
            }
            while batch.len() < MAX_GROUP {
                match self.queue.try_recv() {
                    Ok(item) => batch.push(item),
                    Err(_) => break,
                }
            }
            self.cycle(std::mem::take(&mut batch)).await;
        }
    }

    /// One transaction, and what follows from its outcome.
    async fn cycle(&mut self, group: Vec<Queued>) {
        let (new, replies): (Vec<NewDelivery>, Vec<Reply>) = group.into_iter().unzip();
        let limit = if self.paused_until.is_some() {
            0
        } else if self.careful {
            1
        } else {
            MAX_APPLY
        };
        let (new, result) = self.write(new, limit).await;
        match result {
            Ok(written) => {
                self.careful = self.careful && written.applied.is_empty();
                self.maybe_unapplied = written.more;
                if written.locked_out {
                    self.paused_until = Some(Instant::now() + LOCKED_PAUSE);
                }
                answer(replies, Ok(written.answers));
                for a in &written.applied {
                    self.failures.remove(&a.result.delivery_id);
                }
                if !written.applied.is_empty() {
                    (self.on_applied)(&written.applied);
                }
                // Freeing a group's bodies and orders, allocated by the request tasks, took
                // a large share of this (single) writer's time; the server's threads free
                // them instead, beside the next transaction.
                if let Some(server) = &self.server {
                    server.spawn(async move { drop(new) });
                }
            }
            Err(failed) => self.recover(new, replies, failed).await,
        }
    }

    /// After a failed transaction: stores its new deliveries on their own, so that they are
    /// answered, and applies one delivery per transaction from then on.
    async fn recover(&mut self, new: Vec<NewDelivery>, replies: Vec<Reply>, failed: Failed) {
        let (error, applying) = failed;
        tracing::warn!(error = %error, delivery_id = ?applying, "intake transaction failed; storing only, then applying one at a time");
        if !new.is_empty() {
            let (_, stored) = self.write(new, 0).await;
            answer(replies, stored.map(|w| w.answers).map_err(|(e, _)| e));
        }
        self.maybe_unapplied = true;
        match applying.filter(|_| self.careful) {
            Some(id) => self.failed_once(id, &error).await,
            None => {
                if self.careful {
                    self.paused_until = Some(Instant::now() + RETRY_PAUSE);
                }
                self.careful = true;
            }
        }
    }

    /// Counts a failed attempt to apply delivery `id` on its own; sets it aside as `failed`
    /// after [`MAX_APPLY_ATTEMPTS`], else pauses before the next attempt.
    async fn failed_once(&mut self, id: i64, error: &StoreError) {
        let attempts = self.failures.entry(id).or_insert(0);
        *attempts += 1;
        if *attempts < MAX_APPLY_ATTEMPTS {
            self.paused_until = Some(Instant::now() + RETRY_PAUSE);
            return;
        }
        let detail =
            format!("could not be applied to the ledger ({MAX_APPLY_ATTEMPTS} attempts): {error}");
        match self.store.set_delivery_failed(id, &detail).await {
            Ok(Some((store_id, topic))) => {
                self.failures.remove(&id);
                tracing::error!(delivery_id = id, store = %store_id, error = %error, "delivery set aside as failed");
                (self.on_applied)(&[Applied {
                    store_id,
                    topic,
                    result: IntakeResult {
                        delivery_id: id,
                        outcome: DeliveryOutcome::Failed,
                        order_id: None,
                        detail: Some(detail),
                        jobs_planned: 0,
                    },
                    answered: false,
                }]);
            }
            Ok(None) => {
                self.failures.remove(&id);
            }
            Err(e) => {
                tracing::warn!(delivery_id = id, error = %e, "could not set the delivery aside; will retry");
                self.paused_until = Some(Instant::now() + RETRY_PAUSE);
            }
        }
    }

    /// One transaction (see [`Store::intake_cycle`]) in a task of its own, so that a panic
    /// fails this transaction's callers, not the writer. Returns `new` again (empty after a
    /// panic), and on failure the id of the delivery being applied, if any.
    async fn write(
        &self,
        new: Vec<NewDelivery>,
        limit: usize,
    ) -> (Vec<NewDelivery>, Result<Written, Failed>) {
        let store = self.store.clone();
        let config = self.config.clone();
        let postgres = matches!(store, Store::Postgres(_));
        // SQLite has one writer, this one, so it knows whether older deliveries wait; on
        // PostgreSQL another replica may have stored some.
        let read_older = self.maybe_unapplied || postgres;
        let maybe_unapplied = self.maybe_unapplied;
        let now = self.clock.now_ms();
        let task = tokio::spawn(async move {
            let mut applying = None;
            let result = write(&store, &config, &new, limit, read_older, now, &mut applying)
                .await
                .map(|outcome| written(outcome, limit, maybe_unapplied));
            (new, result.map_err(|e| (e, applying)))
        });
        match task.await {
            Ok(done) => done,
            Err(e) => (
                Vec::new(),
                Err((
                    StoreError::Internal(format!("the intake transaction failed: {e}")),
                    None,
                )),
            ),
        }
    }
}

async fn write(
    store: &Store,
    config: &Config,
    new: &[NewDelivery],
    limit: usize,
    read_older: bool,
    now: i64,
    applying: &mut Option<i64>,
) -> Result<CycleOutcome, StoreError> {
    let stored: Vec<Stored<'_>> = new
        .iter()
        .map(|n| Stored {
            delivery: &n.delivery,
            packed: &n.packed,
            parsed: Some(&n.parsed),
            now: n.now,
        })
        .collect();
    let cycle = Cycle {
        new: &stored,
        limit,
        read_older,
        now,
        config,
    };
    store.intake_cycle(&cycle, applying).await
}

/// Answers the callers of a transaction's new deliveries, in order.
fn answer(replies: Vec<Reply>, answers: Result<Vec<IntakeResult>, StoreError>) {
    match answers {
        Ok(answers) => {
            for (reply, answer) in replies.into_iter().zip(answers) {
                let _ = reply.send(Ok(answer));
            }
        }
        Err(e) => {
            for reply in replies {
                let _ = reply.send(Err(e.shared()));
            }
        }
    }
}

/// What a transaction's outcome means for its callers and the writer.
fn written(outcome: CycleOutcome, limit: usize, maybe_unapplied: bool) -> Written {
    let CycleOutcome {
        ids,
        results,
        older: older_len,
        locked_out,
    } = outcome;
    let mut answers: Vec<IntakeResult> = ids
        .iter()
        .map(|&delivery_id| IntakeResult {
            delivery_id,
            outcome: DeliveryOutcome::Stored,
            order_id: None,
            detail: None,
            jobs_planned: 0,
        })
        .collect();
    let candidates = older_len + ids.len();
    let more = locked_out
        || (limit > 0 && older_len >= limit)
        || (limit == 0 && (candidates > 0 || maybe_unapplied))
        || results.len() < candidates;
    let applied = results
        .into_iter()
        .map(
            |CycleApplied {
                 result,
                 new_index,
                 store_id,
                 topic,
             }| {
                let answer = new_index.and_then(|i| answers.get_mut(i));
                let answered = answer.is_some();
                if let Some(answer) = answer {
                    *answer = result.clone();
                }
                Applied {
                    store_id,
                    topic,
                    result,
                    answered,
                }
            },
        )
        .collect();
    Written {
        answers,
        applied,
        more,
        locked_out,
    }
}

impl Store {
    /// Whether any stored delivery waits to be applied to the ledger.
    pub async fn has_unapplied_deliveries(&self) -> Result<bool, StoreError> {
        let found: Option<i64> = on_pool!(self, |pool| {
            sqlx::query_scalar(
                "SELECT id FROM deliveries WHERE outcome = 'stored' ORDER BY id LIMIT 1",
            )
            .fetch_optional(pool)
            .await?
        });
        Ok(found.is_some())
    }

    /// Stored deliveries waiting to be applied: how many, and when the oldest came.
    pub async fn unapplied_deliveries(&self) -> Result<(i64, Option<i64>), StoreError> {
        let row: (i64, Option<i64>) = on_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT COUNT(*), MIN(received_at) FROM deliveries WHERE outcome = 'stored'",
            )
            .fetch_one(pool)
            .await?
        });
        Ok(row)
    }

    /// Sets a stored delivery that could not be applied aside as `failed`; returns its
    /// store and topic, or `None` if it was no longer waiting.
    async fn set_delivery_failed(
        &self,
        id: i64,
        detail: &str,
    ) -> Result<Option<(String, Option<String>)>, StoreError> {
        let row = on_pool_write!(self, |pool| {
            sqlx::query_as(
                "UPDATE deliveries SET outcome = 'failed', detail = $2 \
                 WHERE id = $1 AND outcome = 'stored' RETURNING store_id, topic",
            )
            .bind(id)
            .bind(detail)
            .fetch_optional(pool)
            .await?
        });
        Ok(row)
    }
}

//! Webhook intake: a delivery is answered once it is stored, and applied to the ledger in
//! order of arrival, normally in the same transaction.
//!
//! WooCommerce never re-sends a failed delivery and disables a webhook after repeated
//! failures, so what matters most on a sale day is that every delivery is stored and answered
//! quickly. One writer task takes every delivery queued since its last transaction (each
//! already verified and read by its caller) and, in one transaction (one commit, one sync):
//!
//! 1. stores them (outcome `received`);
//! 2. applies stored deliveries oldest first, those left from earlier transactions before
//!    the new ones, at most [`MAX_APPLY`]: runs of order states with one statement per table
//!    for the whole run (see [`Store::intake_cycle`]), so applying a burst's deliveries costs
//!    little more than storing them;
//! 3. sets the outcomes of those applied, and commits.
//!
//! When the transaction applies, the new deliveries are numbered first (SQLite's one writer
//! knows the ids the table gives next; PostgreSQL takes them from the table's sequence) and
//! stored after they are applied, with their outcomes, so that a 6 KB row is not written
//! `received` and rewritten in the same transaction. On SQLite their bodies are compressed
//! by their callers (see [`super::body`]), not by the writer.
//!
//! Each caller is answered after that commit: with its delivery's outcome when it was
//! applied in the transaction (the usual case, in a burst too), else with `received`; it is
//! then applied by a later transaction, in order, and its outcome shows under
//! `/v1/admin/deliveries`. Deliveries left `received` by a restart are applied when the
//! bridge starts; on PostgreSQL one replica at a time applies (an advisory lock), taking
//! every replica's deliveries in order, and each replica looks for left-over ones every
//! second.
//!
//! With the intake journal (see [`super::journal`]) only a delivery that finds the bridge
//! idle is queued by its caller as above. Every other one is answered once it is on disk in
//! the journal, and the journal's feeder reads it back (and parses and compresses it) and
//! queues it, in order; each transaction also records the journal's position (the highest
//! sequence number it stored), so a restart replays exactly what the journal holds beyond it.
//! A journaled group that cannot be stored is kept and stored first after a pause.
//!
//! A transaction that fails is retried storing only, so the new deliveries are answered;
//! stored deliveries are then applied one per transaction, and one that fails
//! [`MAX_APPLY_ATTEMPTS`] times is set aside as `failed` with the error as its detail.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::body::Packed;
use super::journal::{Journal, JournalError, Payload, Record};
use super::ledger::{Cycle, CycleApplied, CycleOutcome, DeliveryOutcome, IntakeResult, Stored};
use super::{Store, StoreError, on_pool, on_pool_write};
use crate::clock::Clock;
use crate::config::Config;
use crate::ledger::intake::{Delivery, Parsed, parse_delivery};

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

/// Deliveries queued for the writer at most (the feeder of the journal waits beyond it).
const QUEUE_DEPTH: usize = 4 * MAX_GROUP;

/// The intake journal of a bridge (see [`super::journal`]).
pub type IntakeJournal = Arc<Journal>;

/// What became of a delivery handed to [`IntakeQueue::record`].
#[derive(Debug)]
pub enum Recorded {
    /// Stored in the database, with its outcome (`received` if not applied yet).
    Stored(IntakeResult),
    /// On disk in the intake journal; stored and applied right after, in order of arrival.
    Journaled { seq: u64 },
}

/// Opens the intake journal in `dir` for `store`: the position the database stored last,
/// and what follows it is replayed. A journal that holds deliveries this database has no
/// position for belongs to another database and is refused.
pub async fn open_journal(
    store: &Store,
    dir: &std::path::Path,
) -> Result<IntakeJournal, StoreError> {
    let (opened, files) = Journal::open(dir)?;
    let stored = match store.journal_position(&opened.id).await? {
        Some(seq) => u64::try_from(seq).unwrap_or(0),
        None if !opened.has_records => {
            store
                .set_journal_position(&opened.id, opened.last_seq)
                .await?;
            opened.last_seq
        }
        None => {
            return Err(JournalError::Invalid {
                path: dir.display().to_string(),
                detail: "it holds deliveries, but this database has never stored from it (another \
                         database's journal?); point intake_journal_dir at an empty directory, or the \
                         database_url at the database it fed"
                    .to_owned(),
            }
            .into());
        }
    };
    if opened.last_seq > stored {
        tracing::info!(
            deliveries = opened.last_seq - stored,
            "intake journal: replaying deliveries answered before the last stop and not yet stored"
        );
    }
    Ok(Arc::new(Journal::start(files, &opened, stored)?))
}

/// A verified delivery waiting to be stored.
struct NewDelivery {
    delivery: Delivery,
    /// How its body is stored (on SQLite compressed), made by the caller too.
    packed: Packed,
    /// Read by the caller, so the writer (one at a time) does not have to.
    parsed: Parsed,
    now: i64,
    /// Its sequence number in the intake journal, if it came through it.
    seq: Option<u64>,
}

impl NewDelivery {
    fn new(store: &Store, delivery: Delivery, now: i64, seq: Option<u64>) -> Self {
        NewDelivery {
            packed: Packed::for_store(store, &delivery.body),
            parsed: parse_delivery(delivery.topic.as_deref(), &delivery.body),
            delivery,
            now,
            seq,
        }
    }
}

/// The intake writer of one bridge: see the module documentation.
pub struct IntakeQueue {
    config: Arc<Config>,
    clock: Arc<dyn Clock>,
    on_applied: OnApplied,
    journal: Option<IntakeJournal>,
    /// Deliveries recorded without the journal and not answered yet.
    direct: AtomicUsize,
    writer: OnceLock<WriterHandle>,
}

type Queued = (NewDelivery, Option<Reply>);

struct WriterHandle {
    queue: mpsc::Sender<Queued>,
    stop: watch::Sender<bool>,
    task: Mutex<Option<JoinHandle<()>>>,
}

impl IntakeQueue {
    pub fn new(
        config: Arc<Config>,
        clock: Arc<dyn Clock>,
        on_applied: OnApplied,
        journal: Option<IntakeJournal>,
    ) -> Self {
        IntakeQueue {
            config,
            clock,
            on_applied,
            journal,
            direct: AtomicUsize::new(0),
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
                journal: self.journal.clone(),
                held: Vec::new(),
                halted: false,
                queue: receiver,
                stopped,
                maybe_unapplied: true,
                careful: false,
                paused_until: None,
                failures: HashMap::new(),
            };
            let task = super::writer::spawn(writer.run());
            if let Some(journal) = &self.journal {
                let feed = queue.clone();
                let store = store.clone();
                let fed = journal.feed(move |record: Record| {
                    let item = NewDelivery::new(
                        &store,
                        record.delivery,
                        record.received_at,
                        Some(record.seq),
                    );
                    feed.blocking_send((item, None)).is_ok()
                });
                if let Err(e) = fed {
                    tracing::error!(error = %e, "intake journal: cannot start its feeder");
                }
            }
            WriterHandle {
                queue,
                stop,
                task: Mutex::new(Some(task)),
            }
        })
    }

    /// Makes a verified webhook delivery durable and returns once it is.
    ///
    /// A delivery that finds the bridge idle (with the journal: nothing being appended or
    /// waiting to be stored, and no other delivery being recorded) goes straight to the
    /// database, and returns once it is committed, with its outcome if it was applied in the
    /// same transaction (it normally is), else with outcome `received`. With the intake
    /// journal, every other delivery returns once it is on disk in the journal, and is
    /// stored and applied right after, in order.
    pub async fn record(
        &self,
        store: &Store,
        delivery: Delivery,
        now: i64,
    ) -> Result<Recorded, StoreError> {
        let writer = self.handle(store);
        let _direct = match &self.journal {
            None => None,
            Some(journal) => match Direct::claim(&self.direct, journal) {
                Some(direct) => Some(direct),
                None => {
                    let seq = journal.append(Payload::new(delivery, now)).await?;
                    return Ok(Recorded::Journaled { seq });
                }
            },
        };
        let item = NewDelivery::new(store, delivery, now, None);
        let (reply, answer) = oneshot::channel();
        if writer.queue.send((item, Some(reply))).await.is_err() {
            return Err(StoreError::Conflict(
                "the intake writer has stopped".to_owned(),
            ));
        }
        answer
            .await
            .unwrap_or_else(|_| {
                Err(StoreError::Conflict(
                    "the delivery was interrupted before it was stored".to_owned(),
                ))
            })
            .map(Recorded::Stored)
    }

    /// Deliveries on disk in the intake journal that the database has not stored yet (0
    /// without a journal).
    pub fn journal_backlog(&self) -> u64 {
        self.journal.as_ref().map_or(0, |j| j.backlog())
    }

    /// The intake journal's writes and syncs since it started (`None` without a journal).
    pub fn journal_sync_stats(&self) -> Option<super::journal::SyncStats> {
        self.journal.as_ref().map(|j| j.sync_stats())
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
        // After the writer: its queue is closed, so the feeder stops too.
        if let Some(journal) = self.journal.clone() {
            let _ = tokio::task::spawn_blocking(move || journal.stop()).await;
        }
    }
}

/// A delivery recorded without the journal: counted in [`IntakeQueue::direct`] until it is
/// answered, so that deliveries arriving meanwhile go to the journal instead of waiting.
struct Direct<'a>(&'a AtomicUsize);

impl<'a> Direct<'a> {
    fn claim(direct: &'a AtomicUsize, journal: &Journal) -> Option<Self> {
        if !journal.idle() {
            return None;
        }
        direct
            .compare_exchange(0, 1, Ordering::AcqRel, Ordering::Acquire)
            .ok()
            .map(|_| Direct(direct))
    }
}

impl Drop for Direct<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// What one transaction did.
struct Written {
    /// Per new delivery: its result (outcome `received` when it was not applied).
    answers: Vec<IntakeResult>,
    applied: Vec<Applied>,
    /// Whether stored deliveries may remain unapplied.
    more: bool,
    /// On PostgreSQL: another replica was applying, so this one only stored.
    locked_out: bool,
}

struct Writer {
    store: Store,
    config: Arc<Config>,
    clock: Arc<dyn Clock>,
    on_applied: OnApplied,
    journal: Option<IntakeJournal>,
    /// Journaled deliveries a failed transaction could not store, stored first next.
    held: Vec<Queued>,
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
    /// A transaction panicked in journal mode: the writer stops (see [`Writer::cycle`]).
    halted: bool,
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
            let can_apply = self.paused_until.is_none();
            let retry_held = can_apply && !self.held.is_empty();
            if !(retry_held || self.maybe_unapplied && can_apply) {
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
            if !self.held.is_empty() {
                batch.splice(0..0, std::mem::take(&mut self.held));
            }
            let group = std::mem::take(&mut batch);
            self.cycle(group).await;
            if self.halted {
                break;
            }
        }
    }

    /// One transaction, and what follows from its outcome.
    async fn cycle(&mut self, group: Vec<Queued>) {
        let (new, replies): (Vec<NewDelivery>, Vec<Option<Reply>>) = group.into_iter().unzip();
        let waiting: Vec<bool> = replies.iter().map(Option::is_some).collect();
        let last_seq = new.iter().filter_map(|n| n.seq).max();
        let limit = if self.paused_until.is_some() {
            0
        } else if self.careful {
            1
        } else {
            MAX_APPLY
        };
        let count = new.len();
        let (new, result) = self.write(new, limit, waiting.clone(), last_seq).await;
        if new.len() != count && self.journal.is_some() {
            // A panic took the group: storing later deliveries would move the journal's
            // position past it, so the writer stops, and the next start replays it.
            tracing::error!(
                "intake transaction panicked; deliveries stay in the intake journal and are stored at the next start"
            );
            self.halted = true;
            return;
        }
        match result {
            Ok(written) => {
                if let (Some(journal), Some(seq)) = (&self.journal, last_seq) {
                    journal.committed(seq);
                }
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
            Err((error, applying)) => {
                tracing::warn!(error = %error, delivery_id = ?applying, "intake transaction failed; storing only, then applying one at a time");
                // The new deliveries are stored on their own, so they can be answered.
                if !new.is_empty() {
                    let (new, stored) = self.write(new, 0, waiting, last_seq).await;
                    match (stored, &self.journal) {
                        (Ok(written), journal) => {
                            if let (Some(journal), Some(seq)) = (journal, last_seq) {
                                journal.committed(seq);
                            }
                            answer(replies, Ok(written.answers));
                        }
                        (Err((e, _)), Some(_)) if new.len() == count => {
                            // Journaled, so kept and stored first once the pause is over;
                            // their callers are answered that they are in the journal.
                            answer(replies, Err(e));
                            self.held = new.into_iter().map(|n| (n, None)).collect();
                            self.paused_until = Some(Instant::now() + RETRY_PAUSE);
                        }
                        (Err((e, _)), Some(_)) => {
                            tracing::error!(error = %e, "intake transaction panicked; deliveries stay in the intake journal and are stored at the next start");
                            answer(replies, Err(e));
                            self.halted = true;
                            return;
                        }
                        (Err((e, _)), None) => answer(replies, Err(e)),
                    }
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
    /// fails this transaction's callers, not the writer. `last_seq` is the highest journal
    /// sequence number among `new`, recorded as the journal's position. Returns `new` again,
    /// and on failure the id of the delivery being applied, if any.
    async fn write(
        &self,
        new: Vec<NewDelivery>,
        limit: usize,
        waiting: Vec<bool>,
        last_seq: Option<u64>,
    ) -> (Vec<NewDelivery>, Result<Written, (StoreError, Option<i64>)>) {
        let store = self.store.clone();
        let config = self.config.clone();
        let postgres = matches!(store, Store::Postgres(_));
        // SQLite has one writer, this one, so it knows whether older deliveries wait; on
        // PostgreSQL another replica may have stored some.
        let read_older = self.maybe_unapplied || postgres;
        let maybe_unapplied = self.maybe_unapplied;
        let now = self.clock.now_ms();
        let journal = self.journal.clone();
        let task = tokio::spawn(async move {
            let mut applying = None;
            let position = journal
                .as_ref()
                .zip(last_seq)
                .and_then(|(j, seq)| Some((j.id(), i64::try_from(seq).ok()?)));
            let result = write(
                &store,
                &config,
                &new,
                (limit, position),
                read_older,
                now,
                &mut applying,
            )
            .await
            .map(|outcome| written(outcome, limit, maybe_unapplied, &waiting));
            (new, result.map_err(|e| (e, applying)))
        });
        match task.await {
            Ok(done) => done,
            Err(e) => (
                Vec::new(),
                Err((
                    StoreError::Conflict(format!("the intake transaction failed: {e}")),
                    None,
                )),
            ),
        }
    }
}

#[allow(clippy::too_many_arguments)]
async fn write(
    store: &Store,
    config: &Config,
    new: &[NewDelivery],
    (limit, journal): (usize, Option<(&str, i64)>),
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
        journal,
        limit,
        read_older,
        now,
        config,
    };
    store.intake_cycle(&cycle, applying).await
}

/// Answers the callers of a transaction's new deliveries that wait, in order.
fn answer(replies: Vec<Option<Reply>>, answers: Result<Vec<IntakeResult>, StoreError>) {
    match answers {
        Ok(answers) => {
            for (reply, answer) in replies.into_iter().zip(answers) {
                if let Some(reply) = reply {
                    let _ = reply.send(Ok(answer));
                }
            }
        }
        Err(e) => {
            let message = e.to_string();
            for reply in replies.into_iter().flatten() {
                let _ = reply.send(Err(StoreError::Conflict(message.clone())));
            }
        }
    }
}

/// What a transaction's outcome means for its callers and the writer.
fn written(
    outcome: CycleOutcome,
    limit: usize,
    maybe_unapplied: bool,
    waiting: &[bool],
) -> Written {
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
            outcome: DeliveryOutcome::Received,
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
                if let Some(answer) = new_index.and_then(|i| answers.get_mut(i)) {
                    *answer = result.clone();
                }
                Applied {
                    store_id,
                    topic,
                    result,
                    answered: new_index.is_some_and(|i| waiting.get(i).copied().unwrap_or(false)),
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
    /// The highest sequence number of intake journal `id` this database has stored.
    pub async fn journal_position(&self, id: &str) -> Result<Option<i64>, StoreError> {
        let seq: Option<i64> = on_pool!(self, |pool| {
            sqlx::query_scalar("SELECT seq FROM intake_journals WHERE journal_id = $1")
                .bind(id)
                .fetch_optional(pool)
                .await?
        });
        Ok(seq)
    }

    /// Records that intake journal `id` starts after `seq` (a new journal).
    async fn set_journal_position(&self, id: &str, seq: u64) -> Result<(), StoreError> {
        let seq = i64::try_from(seq).unwrap_or(i64::MAX);
        on_pool_write!(self, |pool| {
            sqlx::query(super::ledger::SET_JOURNAL_POSITION)
                .bind(id)
                .bind(seq)
                .execute(pool)
                .await?
                .rows_affected()
        });
        Ok(())
    }

    /// Whether any stored delivery waits to be applied to the ledger.
    pub async fn has_unapplied_deliveries(&self) -> Result<bool, StoreError> {
        let found: Option<i64> = on_pool!(self, |pool| {
            sqlx::query_scalar(
                "SELECT id FROM deliveries WHERE outcome = 'received' ORDER BY id LIMIT 1",
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
                "SELECT COUNT(*), MIN(received_at) FROM deliveries WHERE outcome = 'received'",
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
                 WHERE id = $1 AND outcome = 'received' RETURNING store_id, topic",
            )
            .bind(id)
            .bind(detail)
            .fetch_optional(pool)
            .await?
        });
        Ok(row)
    }
}

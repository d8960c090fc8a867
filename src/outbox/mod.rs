//! The outbox worker: claims due jobs with a lease, runs each through an [`Executor`] outside
//! any transaction, and records the outcome fenced by the lease.
//!
//! Outcome classes (docs/ARCHITECTURE.md, "Delivery semantics"):
//! - success: done, with the provider's reference and follow-ups (order note, kept file);
//! - retryable (the request surely did not take effect, or the provider asked us to retry):
//!   exponential backoff with jitter, capped, `Retry-After` honoured; a dead letter after
//!   `max_attempts` attempts or `max_age_secs`;
//! - unresolved (it may have taken effect and asking the provider failed): asked again with
//!   backoff, parked as needing review when the attempts run out;
//! - ambiguous (it may have taken effect and the provider cannot be asked): parked as
//!   needing review with the reason, never re-sent blindly;
//! - permanent: a dead letter with the provider's message.
//!
//! The moment a request that changes something leaves is recorded first ([`SendMark`]), so an
//! attempt interrupted before it is tried again and only one interrupted after it is treated
//! as possibly effective. A known outcome is recorded again until the database takes it.
//!
//! Replay (`POST /v1/admin/jobs/{id}/replay`, `printbridge replay`) puts a stopped job back.
//!
//! This file is the dispatcher. [`jobs`] holds the store's statements on jobs (claim, lease,
//! finish, replay one job or order, the reconcile cursors), [`job_types`] the names of a job's
//! state, kind and queue, [`replay`] the replay of stopped jobs in bulk, [`exec`] the executor
//! that turns a job into its provider call, and [`reconcile`] the reconciler that asks each
//! shop for orders changed since it last looked.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tracing::Instrument;

use crate::events::triggers as events;
use crate::http::AppState;
use crate::outbox::job_types::{JobKind, JobQueue, JobState};
use crate::outbox::jobs::{AttemptRecord, ClaimedJob, ClaimedOrders, Finish, FollowUp};

pub mod exec;
pub mod job_types;
pub mod jobs;
pub mod reconcile;
pub mod replay;

/// What one attempt came to.
#[derive(Debug, Clone)]
pub enum Outcome {
    Success {
        provider_ref: Option<String>,
        result: Value,
        follow_up: FollowUp,
        /// An earlier, uncertain attempt was found to have taken effect (Apliiq lookup).
        resolved: bool,
    },
    Retryable {
        retry_after: Option<Duration>,
        error: String,
    },
    /// It may have taken effect and the provider could not be asked this time (Apliiq's
    /// lookup failed): asked again with backoff; when the attempts run out the job waits for
    /// review with `review` as its reason, never a dead letter.
    Unresolved {
        error: String,
        review: String,
    },
    Ambiguous {
        reason: String,
    },
    Permanent {
        reason: String,
    },
}

/// The outcome plus what the attempt record keeps of the exchange (redacted by the executor).
#[derive(Debug, Clone)]
pub struct Report {
    pub outcome: Outcome,
    pub status_code: Option<u16>,
    pub excerpt: Option<String>,
}

impl Report {
    pub fn new(outcome: Outcome) -> Self {
        Report {
            outcome,
            status_code: None,
            excerpt: None,
        }
    }
}

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Records, right before a request that changes something at a provider is handed to the
/// network, that it is being sent: an attempt interrupted before that point sent nothing
/// and is simply tried again, one interrupted after it may have taken effect.
pub trait SendMark: Send + Sync {
    /// `Err` (with the reason) when the moment cannot be recorded: nothing may be sent then.
    fn mark(&self) -> BoxFuture<'_, Result<(), String>>;
}

/// Runs one job's call. Never sees the database; gets what it needs in the job and the
/// order, and records the moment its request leaves through `sent`.
pub trait Executor: Send + Sync + 'static {
    fn execute<'a>(
        &'a self,
        job: &'a ClaimedJob,
        order: Option<&'a Value>,
        sent: &'a dyn SendMark,
    ) -> BoxFuture<'a, Report>;
}

/// The dispatcher's [`SendMark`]: `sent_at` on the job row, fenced by the worker's lease.
struct JobSendMark<'a> {
    state: &'a AppState,
    job_id: i64,
    worker: &'a str,
}

impl SendMark for JobSendMark<'_> {
    fn mark(&self) -> BoxFuture<'_, Result<(), String>> {
        Box::pin(async move {
            let now = self.state.clock.now_ms();
            match self
                .state
                .store
                .mark_sent(self.job_id, self.worker, now)
                .await
            {
                Ok(true) => Ok(()),
                Ok(false) => Err("the job's lease was lost before its request was sent".into()),
                Err(e) => Err(format!(
                    "cannot record that the request is being sent ({e}); nothing was sent"
                )),
            }
        })
    }
}

/// Backoff before retry number `attempt` (1-based): `min(cap, base·2^(attempt-1))` with
/// ±20 % jitter; a provider's `Retry-After` is honoured but clamped to `[base, cap]`.
pub fn retry_delay(
    attempt: i64,
    base: Duration,
    cap: Duration,
    retry_after: Option<Duration>,
    jitter: f64,
) -> Duration {
    if let Some(ra) = retry_after {
        return ra.clamp(base, cap.max(base));
    }
    let exp = u32::try_from(attempt.saturating_sub(1).clamp(0, 30)).unwrap_or(30);
    let raw = base.saturating_mul(2u32.saturating_pow(exp)).min(cap);
    let factor = 1.0 + 0.4 * (jitter.clamp(0.0, 1.0) - 0.5);
    raw.mul_f64(factor).min(cap).max(Duration::from_millis(1))
}

pub(crate) fn provider_label(provider: JobQueue) -> &'static str {
    match provider {
        JobQueue::Spiff => "Spiff",
        JobQueue::Apliiq => "Apliiq",
        JobQueue::Key2print => "Key2print",
        JobQueue::Woocommerce => "WooCommerce",
        JobQueue::Events => "Event",
    }
}

/// The claim loop's running calls, per queue.
#[derive(Default)]
struct Pool {
    /// Calls in flight per provider.
    inflight: HashMap<JobQueue, usize>,
    tasks: JoinSet<JobQueue>,
    /// Queues whose last claim came back short: nothing more is due there until new jobs
    /// are planned (a wake-up) or time passes (a timer), so they are not asked again on
    /// every finished job.
    drained: HashSet<JobQueue>,
}

impl Pool {
    /// Counts a finished call, and every other call that finished meanwhile, so one claim
    /// refills them all.
    fn settle(&mut self, done: Result<JobQueue, tokio::task::JoinError>) {
        let mut done = Some(done);
        while let Some(d) = done {
            if let Ok(provider) = d
                && let Some(n) = self.inflight.get_mut(&provider)
            {
                *n = n.saturating_sub(1);
            }
            done = self.tasks.try_join_next();
        }
    }
}

/// The outbox worker of one process.
pub struct Dispatcher {
    state: Arc<AppState>,
    executor: Arc<dyn Executor>,
    worker: String,
    /// How long to wait for in-flight calls on shutdown.
    drain: Duration,
    /// Group commit of finished attempts.
    finishes: crate::outbox::jobs::FinishQueue,
}

impl Dispatcher {
    pub fn new(state: Arc<AppState>, executor: Arc<dyn Executor>) -> Self {
        Dispatcher {
            state,
            executor,
            worker: format!("{}-{}", std::process::id(), uuid::Uuid::new_v4().simple()),
            drain: Duration::from_secs(20),
            finishes: crate::outbox::jobs::FinishQueue::new(),
        }
    }

    /// The lease outlives the slowest attempt (a call, a lookup and a file write).
    fn lease_ms(&self) -> i64 {
        i64::try_from(self.state.config.dispatch.lease().as_millis()).unwrap_or(i64::MAX)
    }

    /// Claims and runs jobs until `shutdown` turns true; then stops claiming, lets in-flight
    /// calls finish (up to the drain deadline) and returns.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        let this = Arc::new(self);
        let mut pool = Pool::default();
        let mut last_reap: Option<Instant> = None;
        let mut last_probe: Option<Instant> = None;
        tracing::info!(worker = %this.worker, "dispatcher started");
        loop {
            if *shutdown.borrow() {
                break;
            }
            // Leases last at least tens of seconds: once a second is often enough, and it
            // keeps a write off the path of every completed job.
            if last_reap.is_none_or(|t| t.elapsed() >= Duration::from_secs(1)) {
                last_reap = Some(Instant::now());
                pool.drained.clear();
                this.reap_expired_leases().await;
            }
            // The queues the worker serves, one per provider (plus write-back to the shop).
            for &provider in JobQueue::ALL {
                this.fill(provider, &mut pool).await;
            }
            // While calls are in flight, their completions wake the loop; the next due time
            // is looked up at most five times a second.
            let wait = if pool.tasks.is_empty()
                || last_probe.is_none_or(|t| t.elapsed() >= Duration::from_millis(200))
            {
                last_probe = Some(Instant::now());
                this.idle_wait().await
            } else {
                Duration::from_millis(200)
            };
            tokio::select! {
                _ = shutdown.changed() => {}
                _ = this.state.dispatch_wakeup.notified() => pool.drained.clear(),
                Some(done) = pool.tasks.join_next() => pool.settle(done),
                _ = tokio::time::sleep(wait) => pool.drained.clear(),
            }
        }
        this.drain_calls(pool.tasks).await;
        tracing::info!(worker = %this.worker, "dispatcher stopped");
    }

    async fn reap_expired_leases(&self) {
        let now = self.state.clock.now_ms();
        if let Err(e) = self.state.store.reap_expired_leases(now).await {
            tracing::warn!(error = %e, "cannot reap expired leases");
        }
    }

    /// Claims as many of `provider`'s due jobs as it has free slots and spawns a task for
    /// each; a claim that comes back short marks the queue as drained.
    async fn fill(self: &Arc<Self>, provider: JobQueue, pool: &mut Pool) {
        let limit = self.state.config.dispatch.concurrency.get();
        let busy = pool.inflight.get(&provider).copied().unwrap_or(0);
        if busy >= limit || pool.drained.contains(&provider) {
            return;
        }
        let free = i64::try_from(limit - busy).unwrap_or(1);
        let now = self.state.clock.now_ms();
        let claimed = self.claim(provider, now, free).await;
        if i64::try_from(claimed.len()).unwrap_or(i64::MAX) < free {
            pool.drained.insert(provider);
        }
        if claimed.is_empty() {
            return;
        }
        let Some(orders) = self.claimed_bodies(provider, &claimed, now).await else {
            return;
        };
        let claimed = self.cancel_erased(claimed, &orders.erased, now).await;
        for job in claimed {
            let order = orders
                .bodies
                .get(&(job.store_id.clone(), job.order_id))
                .cloned();
            *pool.inflight.entry(provider).or_default() += 1;
            let me = self.clone();
            pool.tasks.spawn(async move {
                me.run_job(job, order).await;
                provider
            });
        }
    }

    /// Up to `free` of `provider`'s due jobs, leased to this worker; none when the store fails.
    async fn claim(&self, provider: JobQueue, now: i64, free: i64) -> Vec<ClaimedJob> {
        match self
            .state
            .store
            .claim_jobs(provider, &self.worker, now, now + self.lease_ms(), free)
            .await
        {
            Ok(jobs) => jobs,
            Err(e) => {
                tracing::warn!(error = %e, provider = provider.as_str(), "cannot claim jobs");
                Vec::new()
            }
        }
    }

    /// The claimed jobs that may run: those of orders whose personal data was erased are
    /// cancelled instead (a failure to cancel leaves them to their lease, and the next
    /// claim finds them again).
    async fn cancel_erased(
        &self,
        claimed: Vec<ClaimedJob>,
        erased: &HashSet<(String, i64)>,
        now: i64,
    ) -> Vec<ClaimedJob> {
        if erased.is_empty() {
            return claimed;
        }
        let (stop, run): (Vec<ClaimedJob>, Vec<ClaimedJob>) = claimed
            .into_iter()
            .partition(|j| erased.contains(&(j.store_id.clone(), j.order_id)));
        let stop: Vec<&ClaimedJob> = stop.iter().collect();
        match self
            .state
            .store
            .cancel_claimed(&stop, &self.worker, now)
            .await
        {
            Ok(n) => tracing::info!(cancelled = n, "jobs of erased orders cancelled, not sent"),
            Err(e) => {
                tracing::warn!(error = %e, "cannot cancel jobs of erased orders; they stay leased")
            }
        }
        run
    }

    /// The claimed jobs' order bodies; `None` when they cannot be read, after the jobs are
    /// put back.
    async fn claimed_bodies(
        &self,
        provider: JobQueue,
        claimed: &[ClaimedJob],
        now: i64,
    ) -> Option<ClaimedOrders> {
        match self.state.store.claimed_order_bodies(claimed).await {
            Ok(orders) => Some(orders),
            Err(e) => {
                // No call was made: put them back (a second from now, so a database
                // that cannot answer is not asked again at once).
                tracing::warn!(error = %e, provider = provider.as_str(), "cannot read the claimed jobs' orders; they are queued again");
                if let Err(e) = self
                    .state
                    .store
                    .unclaim(claimed, &self.worker, now + 1_000)
                    .await
                {
                    tracing::warn!(error = %e, provider = provider.as_str(), "cannot queue them again; they are retried as interrupted when their leases expire");
                }
                None
            }
        }
    }

    /// Waits for in-flight calls up to the drain deadline; past it, aborts them and releases
    /// their leases.
    async fn drain_calls(&self, mut tasks: JoinSet<JobQueue>) {
        let n = tasks.len();
        if n > 0 {
            tracing::info!(in_flight = n, "dispatcher draining");
        }
        let drained = tokio::time::timeout(self.drain, async {
            while tasks.join_next().await.is_some() {}
        })
        .await;
        if drained.is_ok() {
            return;
        }
        tracing::warn!(
            abandoned = tasks.len(),
            "calls still running at the drain deadline; their jobs are released as interrupted"
        );
        tasks.abort_all();
        while tasks.join_next().await.is_some() {}
        match self
            .state
            .store
            .release_leases(&self.worker, self.state.clock.now_ms())
            .await
        {
            Ok(n) => tracing::info!(released = n, "leases released"),
            Err(e) => {
                tracing::warn!(error = %e, "cannot release leases; they expire on their own")
            }
        }
    }

    /// Sleeps until the next job is due, at most a second (other replicas plan jobs too).
    async fn idle_wait(&self) -> Duration {
        let max = Duration::from_secs(1);
        match self.state.store.next_run_at().await {
            Ok(Some(at)) => {
                let ms = at - self.state.clock.now_ms();
                Duration::from_millis(u64::try_from(ms).unwrap_or(0).max(5)).min(max)
            }
            _ => max,
        }
    }

    /// Runs one claimed job; `order` is its order's current body, read with the claim.
    /// Every line it logs carries the job's span, and only it: the span is entered only
    /// while this job's future is polled ([`Instrument`]), never held across an `.await`.
    async fn run_job(&self, job: ClaimedJob, order: Option<String>) {
        let span = tracing::info_span!(
            "job",
            job_id = job.id,
            store = %job.store_id,
            order_id = job.order_id,
            provider = %job.provider,
            target = %job.target
        );
        self.attempt(job, order).instrument(span).await
    }

    /// One attempt of a claimed job: the call, its outcome, and the record of both.
    async fn attempt(&self, job: ClaimedJob, order: Option<String>) {
        let started_at = self.state.clock.now_ms();
        let started = Instant::now();
        let order = order.and_then(|b| serde_json::from_str::<Value>(&b).ok());
        let mark = JobSendMark {
            state: &self.state,
            job_id: job.id,
            worker: &self.worker,
        };
        let mut report = self.executor.execute(&job, order.as_ref(), &mark).await;
        if job.kind == Ok(JobKind::FetchOrder) {
            report = self.ingest_fetched(&job, report).await;
        }
        let took = started.elapsed();
        let now = self.state.clock.now_ms();
        let (attempt_outcome, finish, mut follow_up) = self.decide(&job, &report.outcome, now);
        follow_up.events = self.attempt_events(&job, order.as_ref(), &finish, &follow_up, now);
        self.state
            .metrics
            .attempt(job.provider.as_str(), attempt_outcome, took);
        if finish.state() == JobState::Dead {
            self.state.metrics.dead_letter(job.provider.as_str());
        }
        let attempt = AttemptRecord {
            started_at,
            duration_ms: i64::try_from(took.as_millis()).unwrap_or(i64::MAX),
            outcome: attempt_outcome,
            status_code: report.status_code.map(i64::from),
            excerpt: report.excerpt.clone(),
            error: attempt_error(&report.outcome),
        };
        let state = finish.state();
        // Notes and events it planned are due at once.
        let planned = !follow_up.notes.is_empty() || !follow_up.events.is_empty();
        let lease_ends = started_at + self.lease_ms();
        match self
            .record_until_stored(job, now, attempt, finish, follow_up, lease_ends)
            .await
        {
            Ok(true) => {
                tracing::info!(
                    state = state.as_str(),
                    outcome = attempt_outcome,
                    "job attempt recorded"
                );
                if planned {
                    self.state.wake_dispatcher();
                }
            }
            Ok(false) => {
                tracing::warn!("lease lost before completion; another worker owns the job")
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot record the attempt before its lease ends; the job is retried as interrupted")
            }
        }
    }

    /// The events an attempt's outcome leads to, for its store's endpoints.
    fn attempt_events(
        &self,
        job: &ClaimedJob,
        order: Option<&Value>,
        finish: &Finish,
        follow_up: &FollowUp,
        now: i64,
    ) -> Vec<crate::events::PlannedEvent> {
        let Some(cfg) = self.state.config.store(&job.store_id) else {
            return Vec::new();
        };
        let attention = follow_up.attention.as_deref();
        events::of_attempt(&cfg.events, job, order, finish, attention, now)
    }

    /// Records an attempt whose outcome is known, again and again (the database may be
    /// unreachable for a moment) until it is stored, the lease is lost, or the lease runs
    /// out (another worker may take the job then; its next claim sees what was sent).
    async fn record_until_stored(
        &self,
        job: ClaimedJob,
        now: i64,
        attempt: AttemptRecord,
        finish: Finish,
        follow_up: FollowUp,
        lease_ends: i64,
    ) -> Result<bool, crate::store::StoreError> {
        let mut pause = Duration::from_millis(50);
        loop {
            let result = self
                .finishes
                .record(
                    &self.state.store,
                    job.clone(),
                    &self.worker,
                    now,
                    attempt.clone(),
                    finish.clone(),
                    follow_up.clone(),
                )
                .await;
            let Err(e) = result else {
                return result;
            };
            let left = lease_ends - self.state.clock.now_ms();
            let pause_ms = i64::try_from(pause.as_millis()).unwrap_or(i64::MAX);
            if left <= pause_ms {
                return Err(e);
            }
            tracing::warn!(error = %e, "cannot record the attempt yet; trying again");
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_secs(5));
        }
    }

    /// An order read through REST (after an `action.*` signal) goes through intake.
    async fn ingest_fetched(&self, job: &ClaimedJob, report: Report) -> Report {
        let Outcome::Success { result, .. } = &report.outcome else {
            return report;
        };
        let Some(cfg) = self.state.config.store(&job.store_id) else {
            return report;
        };
        let raw = result["fetched_order"]
            .as_str()
            .unwrap_or_default()
            .as_bytes()
            .to_vec();
        let now = self.state.clock.now_ms();
        match reconcile::ingest_order_json(
            &self.state.store,
            cfg,
            crate::intake::parse::Source::Reconcile,
            raw,
            now,
        )
        .await
        {
            Ok(r) => {
                if r.jobs_planned > 0 {
                    self.state.wake_dispatcher();
                }
                Report::new(Outcome::Success {
                    provider_ref: Some(r.delivery_id.to_string()),
                    result: serde_json::json!({ "delivery_id": r.delivery_id, "outcome": r.outcome.as_str() }),
                    follow_up: FollowUp::default(),
                    resolved: false,
                })
            }
            Err(e) => Report::new(Outcome::Retryable {
                retry_after: None,
                error: format!("cannot store the fetched order: {e}"),
            }),
        }
    }

    /// A retry after backoff, or `stop(attempts)` once the attempts or the job's age run out.
    fn retry_or(
        &self,
        job: &ClaimedJob,
        now: i64,
        error: &str,
        retry_after: Option<Duration>,
        stop: impl FnOnce(i64) -> (Finish, FollowUp),
    ) -> (&'static str, Finish, FollowUp) {
        let cfg = &self.state.config.dispatch;
        let attempts = job.attempts + 1;
        let age_ms = now - job.created_at;
        let max_age_ms = i64::try_from(cfg.max_age_secs.saturating_mul(1000)).unwrap_or(i64::MAX);
        if attempts >= i64::from(cfg.max_attempts.get()) || age_ms > max_age_ms {
            let (finish, follow) = stop(attempts);
            return ("retryable", finish, follow);
        }
        let delay = retry_delay(
            attempts,
            Duration::from_secs(cfg.backoff_base_secs),
            Duration::from_secs(cfg.backoff_cap_secs),
            retry_after,
            rand::random::<f64>(),
        );
        let run_at = now + i64::try_from(delay.as_millis()).unwrap_or(i64::MAX / 2);
        (
            "retryable",
            Finish::Retry {
                run_at,
                error: error.to_owned(),
            },
            FollowUp::default(),
        )
    }

    /// Whether a stopped or placed job may leave an order note: its shop has REST keys, and
    /// the job is not itself a write-back to the shop or an event.
    fn can_note(&self, job: &ClaimedJob) -> bool {
        !matches!(job.provider, JobQueue::Woocommerce | JobQueue::Events)
            && self
                .state
                .config
                .store(&job.store_id)
                .is_some_and(|s| s.has_rest_keys())
    }

    /// Maps an outcome to the job's next state and the follow-ups to record with it.
    fn decide(
        &self,
        job: &ClaimedJob,
        outcome: &Outcome,
        now: i64,
    ) -> (&'static str, Finish, FollowUp) {
        let can_note = self.can_note(job);
        match outcome {
            Outcome::Success {
                provider_ref,
                result,
                follow_up,
                resolved,
            } => {
                let mut follow_up = follow_up.clone();
                if !can_note {
                    follow_up.notes.clear();
                }
                (
                    if *resolved { "resolved" } else { "success" },
                    Finish::Done {
                        provider_ref: provider_ref.clone(),
                        result: result.clone(),
                    },
                    follow_up,
                )
            }
            Outcome::Retryable { retry_after, error } => {
                self.retry_or(job, now, error, *retry_after, |attempts| {
                    let reason = format!("gave up after {attempts} attempts: {error}");
                    let follow = stopped(job, can_note, &reason, "dead letter");
                    (Finish::Dead { reason }, follow)
                })
            }
            Outcome::Unresolved { error, review } => {
                self.retry_or(job, now, error, None, |attempts| {
                    let reason = format!("{review} (asked {attempts} times; last: {error})");
                    let follow = stopped(job, can_note, &reason, "needs review");
                    (Finish::NeedsReview { reason }, follow)
                })
            }
            Outcome::Ambiguous { reason } => (
                "ambiguous",
                Finish::NeedsReview {
                    reason: reason.clone(),
                },
                stopped(job, can_note, reason, "needs review"),
            ),
            Outcome::Permanent { reason } => (
                "permanent",
                Finish::Dead {
                    reason: reason.clone(),
                },
                stopped(job, can_note, reason, "dead letter"),
            ),
        }
    }
}

/// The follow-ups of a job that stops (`what`: "dead letter" or "needs review"): an
/// attention line, and the same text as an order note when the shop can take notes. An
/// event job that stops leaves none: the order itself is fine, and the stopped job is
/// listed with the dead letters.
fn stopped(job: &ClaimedJob, can_note: bool, reason: &str, what: &str) -> FollowUp {
    if job.provider == JobQueue::Events {
        return FollowUp::default();
    }
    let who = provider_label(job.provider);
    let text = format!("PrintBridge: {who} {what}: {reason}");
    let notes = if can_note {
        let key = format!(
            "{}:{}:{}:{}",
            what,
            job.provider,
            job.target,
            job.attempts + 1
        );
        vec![(key, text.clone())]
    } else {
        Vec::new()
    };
    FollowUp {
        notes,
        file: None,
        attention: Some(text),
        events: Vec::new(),
    }
}

/// The error an attempt records: none for a success, else the outcome's error or reason.
fn attempt_error(outcome: &Outcome) -> Option<String> {
    match outcome {
        Outcome::Success { .. } => None,
        Outcome::Retryable { error, .. } | Outcome::Unresolved { error, .. } => Some(error.clone()),
        Outcome::Ambiguous { reason } | Outcome::Permanent { reason } => Some(reason.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_caps_with_bounded_jitter() {
        let base = Duration::from_secs(5);
        let cap = Duration::from_secs(60);
        assert_eq!(retry_delay(1, base, cap, None, 0.5), Duration::from_secs(5));
        assert_eq!(
            retry_delay(2, base, cap, None, 0.5),
            Duration::from_secs(10)
        );
        assert_eq!(
            retry_delay(3, base, cap, None, 0.5),
            Duration::from_secs(20)
        );
        assert_eq!(retry_delay(10, base, cap, None, 0.5), cap);
        assert_eq!(
            retry_delay(3, base, cap, None, 0.0),
            Duration::from_secs(16)
        );
        assert_eq!(
            retry_delay(3, base, cap, None, 1.0),
            Duration::from_secs(24)
        );
        assert_eq!(retry_delay(10, base, cap, None, 1.0), cap);
    }

    #[test]
    fn retry_after_is_honoured_within_bounds() {
        let base = Duration::from_secs(5);
        let cap = Duration::from_secs(60);
        let ra = |s| Some(Duration::from_secs(s));
        assert_eq!(
            retry_delay(1, base, cap, ra(30), 0.9),
            Duration::from_secs(30)
        );
        assert_eq!(retry_delay(1, base, cap, ra(1), 0.9), base);
        assert_eq!(retry_delay(1, base, cap, ra(3600), 0.9), cap);
    }
}

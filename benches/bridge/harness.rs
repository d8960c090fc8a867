//! The benchmark's runs: intake and dispatch figures on this machine, printed as one markdown
//! table (see BENCHMARKS.md).
//!
//! - Intake: an in-process load generator on loopback posts a ~6 KB signed WooCommerce order
//!   (a unique order id per request, so each is a real write) to the real bridge, and the same
//!   requests to a bare poem handler that only answers 200 and to a durable floor that
//!   verifies, appends and syncs, without a database. Closed loop for the sustained
//!   throughput; open loop at fixed rates for latency, measured from each request's scheduled
//!   send time (no coordinated omission).
//! - Dispatch: a backlog of paid orders with a Spiff, an Apliiq and a Key2print job each, drained by the
//!   real dispatcher against the provider sandboxes; calls per second and the time of each
//!   tenth of the backlog (the cost per job must not grow with the backlog).
//! - Memory and start: cold start (`Application::build` to `/readyz` 200), idle RSS, and the
//!   peak RSS of each run (VmHWM, reset between runs). The process holds the bridge, the load
//!   generator and the sandboxes.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::sync::watch;
use tokio::task::JoinSet;

use printbridge::app::Application;
use printbridge::config::{Config, StoreConfig};
use printbridge::outbox::exec::ProviderExecutor;
use printbridge::outbox::jobs::ClaimedJob;
use printbridge::outbox::{BoxFuture, Dispatcher, Executor, Report};
use printbridge::reads::jobs::JobFilter;
use printbridge::reads::orders::Table;
use printbridge::sandbox::{Sandbox, SandboxCredentials};
use printbridge::store::Store;

use crate::backlog::{Backlog, plan_backlog};
use crate::order::{ORDER_ID_MARKER, order_template};

const STORE: &str = "bench";
const WEBHOOK_SECRET: &str = "bench-webhook-secret";

/// Which databases to measure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BenchDb {
    Sqlite,
    Postgres,
}

impl BenchDb {
    fn name(self) -> &'static str {
        match self {
            BenchDb::Sqlite => "SQLite",
            BenchDb::Postgres => "PostgreSQL",
        }
    }
}

/// Options of the benchmark.
#[derive(Debug, Clone)]
pub struct BenchOptions {
    pub dbs: Vec<BenchDb>,
    /// Offered rates for the latency runs, requests per second.
    pub rates: Vec<u32>,
    /// Length of each intake run.
    pub duration: Duration,
    /// Jobs in the dispatch backlog (a third each Spiff orders, Apliiq orders and Key2print
    /// PDFs).
    pub backlog: u64,
    /// Dispatch concurrency per provider.
    pub concurrency: usize,
    /// Connections of the closed-loop throughput run.
    pub connections: usize,
    /// PostgreSQL server; each run creates its own database there and drops it after.
    pub postgres_url: String,
}

impl BenchOptions {
    /// The smoke run: a few seconds per database.
    pub fn quick(postgres_url: String, dbs: Vec<BenchDb>) -> Self {
        BenchOptions {
            dbs,
            rates: vec![100, 500],
            duration: Duration::from_secs(2),
            backlog: 2_000,
            concurrency: 16,
            connections: 32,
            postgres_url,
        }
    }
}

/// Latency and throughput of one load run.
#[derive(Debug, Clone, Default)]
pub struct LoadStats {
    pub ok: u64,
    pub errors: u64,
    pub throughput: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    pub peak_rss_kb: u64,
    /// Length of the run.
    pub elapsed: Duration,
    /// Share of the machine's CPU time the hypervisor gave to others during the run
    /// (`steal` in /proc/stat), in per cent.
    pub steal_pct: f64,
    /// Closed loop: CPU time this process (load generator, bridge, sandboxes; not a
    /// PostgreSQL server) spent per answered request, in microseconds; steadier than
    /// throughput on a machine whose neighbours take a varying share. (At a fixed rate the
    /// process's idle work would dominate it, so it is not given there.)
    pub cpu_us_per_request: f64,
    /// Closed loop: bytes this process wrote to storage per answered request (the kernel's
    /// `write_bytes`, counted as pages are dirtied; a PostgreSQL server's writes are its own).
    pub disk_bytes_per_request: f64,
    /// Intake: how long after the run the last acknowledged delivery was applied to the
    /// ledger (deliveries answered `stored` in a burst are applied right after).
    pub applied_after: Option<Duration>,
    /// The durable floor's syncs during the run: how long a group of requests waited for the
    /// disk, and how many shared a sync.
    pub syncs: Option<SyncStats>,
}

/// Bytes this process has caused to be written to storage (`write_bytes` of /proc/self/io).
fn disk_written() -> u64 {
    std::fs::read_to_string("/proc/self/io")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("write_bytes:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

/// CPU time counters of the whole machine (/proc/stat), to tell how much the hypervisor
/// took during a run.
#[derive(Debug, Clone, Copy, Default)]
struct CpuTicks {
    total: u64,
    steal: u64,
}

impl CpuTicks {
    fn now() -> Self {
        let text = std::fs::read_to_string("/proc/stat").unwrap_or_default();
        let fields: Vec<u64> = text
            .lines()
            .next()
            .unwrap_or("")
            .split_whitespace()
            .skip(1)
            .filter_map(|v| v.parse().ok())
            .collect();
        CpuTicks {
            // user nice system idle iowait irq softirq steal (guest time is within user).
            total: fields.iter().take(8).sum(),
            steal: fields.get(7).copied().unwrap_or(0),
        }
    }

    /// CPU time this process has used, user and system, in seconds (/proc/self/stat, in
    /// ticks of 1/100 s).
    fn process_secs() -> f64 {
        let text = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
        // After the command name, in parentheses: state is field 3, utime 14, stime 15.
        let fields: Vec<&str> = text
            .rsplit_once(')')
            .map(|(_, rest)| rest.split_whitespace().collect())
            .unwrap_or_default();
        let ticks = |i: usize| {
            fields
                .get(i)
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0)
        };
        (ticks(11) + ticks(12)) as f64 / 100.0
    }

    /// Per cent of the CPU time since `self` that was stolen.
    fn steal_pct_since(self) -> f64 {
        let now = CpuTicks::now();
        let total = now.total.saturating_sub(self.total);
        if total == 0 {
            return 0.0;
        }
        now.steal.saturating_sub(self.steal) as f64 * 100.0 / total as f64
    }
}

impl LoadStats {
    fn from_samples(mut lat_us: Vec<u64>, errors: u64, elapsed: Duration) -> Self {
        lat_us.sort_unstable();
        let pick = |q: f64| -> f64 {
            if lat_us.is_empty() {
                return 0.0;
            }
            let i = ((lat_us.len() as f64 * q).ceil() as usize).clamp(1, lat_us.len()) - 1;
            lat_us[i] as f64 / 1000.0
        };
        let ok = lat_us.len() as u64;
        LoadStats {
            ok,
            errors,
            throughput: ok as f64 / elapsed.as_secs_f64().max(1e-9),
            p50_ms: pick(0.50),
            p99_ms: pick(0.99),
            max_ms: lat_us.last().map(|&v| v as f64 / 1000.0).unwrap_or(0.0),
            peak_rss_kb: 0,
            elapsed,
            steal_pct: 0.0,
            cpu_us_per_request: 0.0,
            disk_bytes_per_request: 0.0,
            applied_after: None,
            syncs: None,
        }
    }
}

/// Dispatch figures.
#[derive(Debug, Clone, Default)]
pub struct DispatchStats {
    pub jobs: u64,
    pub insert: Duration,
    pub drain: Duration,
    pub calls: u64,
    pub done: i64,
    pub failed: i64,
    /// Time of each slice of the backlog, in order.
    pub slices: Vec<Duration>,
    pub slice_jobs: u64,
    /// When each provider's last call finished, from the start of the drain: the
    /// dispatcher's concurrency is per provider, so the queue of the provider that finishes
    /// last drains alone at the end.
    pub provider_last: Vec<(String, Duration)>,
    pub peak_rss_kb: u64,
    /// A `/metrics` scrape over the drained backlog (the median of [`SCRAPES`]).
    pub metrics_scrape: Duration,
    /// The first page of the dead letters (`/v1/admin/jobs?state=dead`, read from the
    /// store) among the drained backlog's done jobs (the median of [`SCRAPES`]).
    pub dead_letters_page: Duration,
}

/// `/metrics` scrapes timed after a drain: what a Prometheus server's scrape costs once the
/// outbox holds a backlog's jobs.
const SCRAPES: usize = 5;

/// Everything measured on one database.
#[derive(Debug, Clone, Default)]
pub struct DbReport {
    pub cold_start: Duration,
    pub idle_rss_kb: u64,
    /// `printbridge serve` in a process of its own: start to `/readyz` 200, and its idle RSS.
    pub process_cold_start: Option<Duration>,
    pub process_idle_rss_kb: Option<u64>,
    pub bare_sustained: LoadStats,
    /// The durable floor (see [`start_floor`]), closed loop.
    pub floor_sustained: LoadStats,
    pub intake_sustained: LoadStats,
    /// (rate, bare, intake)
    pub rates: Vec<(u32, LoadStats, LoadStats)>,
    /// What the intake runs added to the database: bytes, and deliveries stored.
    pub stored: Option<(i64, i64)>,
    pub dispatch: DispatchStats,
}

impl DbReport {
    /// A closed loop's throughput as a share of the bare handler's.
    fn of_bare(&self, s: &LoadStats) -> f64 {
        s.throughput / self.bare_sustained.throughput.max(1e-9)
    }

    /// Intake's closed-loop throughput as a share of the durable floor's.
    fn intake_of_floor(&self) -> f64 {
        self.intake_sustained.throughput / self.floor_sustained.throughput.max(1e-9)
    }
}

/// The database's size in bytes: SQLite's pages (the log's included), PostgreSQL's
/// `pg_database_size`.
async fn db_bytes(store: &Store) -> Result<i64, sqlx::Error> {
    match store {
        Store::Sqlite(pool, _) => {
            sqlx::query_scalar(
                "SELECT c.page_count * s.page_size FROM pragma_page_count() AS c, \
                 pragma_page_size() AS s",
            )
            .fetch_one(pool)
            .await
        }
        Store::Postgres(pool) => {
            sqlx::query_scalar("SELECT pg_database_size(current_database())")
                .fetch_one(pool)
                .await
        }
    }
}

/// RSS figures of this process, in kB: (VmRSS, VmHWM).
pub fn rss_kb() -> (u64, u64) {
    proc_rss_kb("self")
}

/// RSS figures from `/proc/<pid>/status`, in kB: (VmRSS, VmHWM); zero where unreadable.
fn proc_rss_kb(pid: &str) -> (u64, u64) {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// Whether the bridge at `base` answers `/readyz` with a 2xx.
async fn answers_ready(client: &reqwest::Client, base: &str) -> bool {
    client
        .get(format!("{base}/readyz"))
        .send()
        .await
        .is_ok_and(|r| r.status().is_success())
}

/// Resets the peak RSS (VmHWM) to the current RSS, so each run reports its own peak.
fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// Where the load goes. Every target gets the same requests, made the same way (a new order
/// id, signed), so the generator's share of the machine is the same in every run and the
/// ratios show what the server side costs.
#[derive(Clone)]
struct Target {
    url: String,
    template: Arc<str>,
}

static NEXT_ORDER: AtomicI64 = AtomicI64::new(1_000_000);

impl Target {
    fn request(&self, client: &reqwest::Client) -> reqwest::RequestBuilder {
        let id = NEXT_ORDER.fetch_add(1, Ordering::Relaxed);
        let body = self.template.replace(ORDER_ID_MARKER, &id.to_string());
        let sig = printbridge::woo::signature::sign(WEBHOOK_SECRET, body.as_bytes());
        client
            .post(&self.url)
            .header("Content-Type", "application/json")
            .header("X-WC-Webhook-Topic", "order.created")
            .header("X-WC-Webhook-Signature", sig)
            .body(body)
    }
}

async fn send_one(client: &reqwest::Client, target: &Target) -> bool {
    match target.request(client).send().await {
        Ok(resp) => {
            let ok = resp.status().is_success();
            let _ = resp.bytes().await;
            ok
        }
        Err(_) => false,
    }
}

/// Closed loop: `connections` senders, each waits for its answer before sending again.
async fn closed_loop(
    client: &reqwest::Client,
    target: &Target,
    connections: usize,
    duration: Duration,
) -> LoadStats {
    reset_peak_rss();
    let cpu = CpuTicks::now();
    let used = CpuTicks::process_secs();
    let written = disk_written();
    let start = Instant::now();
    let end = start + duration;
    let mut set = JoinSet::new();
    for _ in 0..connections {
        let client = client.clone();
        let target = target.clone();
        set.spawn(async move {
            let mut lat = Vec::new();
            let mut errors = 0u64;
            while Instant::now() < end {
                let t = Instant::now();
                if send_one(&client, &target).await {
                    lat.push(t.elapsed().as_micros() as u64);
                } else {
                    errors += 1;
                }
            }
            (lat, errors)
        });
    }
    let mut lat = Vec::new();
    let mut errors = 0;
    while let Some(r) = set.join_next().await {
        if let Ok((l, e)) = r {
            lat.extend(l);
            errors += e;
        }
    }
    let mut stats = LoadStats::from_samples(lat, errors, start.elapsed());
    stats.peak_rss_kb = rss_kb().1;
    stats.steal_pct = cpu.steal_pct_since();
    stats.cpu_us_per_request = (CpuTicks::process_secs() - used) * 1e6 / (stats.ok.max(1) as f64);
    stats.disk_bytes_per_request =
        disk_written().saturating_sub(written) as f64 / (stats.ok.max(1) as f64);
    stats
}

/// Open loop: request `i` is due at `start + i/rate`, sent then whatever came back before;
/// latency counts from that due time.
async fn open_loop(
    client: &reqwest::Client,
    target: &Target,
    rate: u32,
    duration: Duration,
) -> LoadStats {
    reset_peak_rss();
    let cpu = CpuTicks::now();
    let n = (u64::from(rate) as f64 * duration.as_secs_f64()).round() as u64;
    let gap = Duration::from_secs_f64(1.0 / f64::from(rate.max(1)));
    let start = tokio::time::Instant::now() + Duration::from_millis(5);
    let mut set = JoinSet::new();
    for i in 0..n {
        let due = start + gap.mul_f64(i as f64);
        tokio::time::sleep_until(due).await;
        let client = client.clone();
        let target = target.clone();
        set.spawn(async move {
            let ok = tokio::time::timeout(Duration::from_secs(30), send_one(&client, &target))
                .await
                .unwrap_or(false);
            (ok, due.elapsed().as_micros() as u64)
        });
    }
    let mut lat = Vec::with_capacity(n as usize);
    let mut errors = 0;
    while let Some(r) = set.join_next().await {
        match r {
            Ok((true, us)) => lat.push(us),
            _ => errors += 1,
        }
    }
    let elapsed = start.elapsed();
    let mut stats = LoadStats::from_samples(lat, errors, elapsed);
    stats.peak_rss_kb = rss_kb().1;
    stats.steal_pct = cpu.steal_pct_since();
    stats
}

/// Waits until every stored delivery is applied to the ledger; returns how long that took.
async fn applied(state: &printbridge::http::AppState) -> anyhow::Result<Duration> {
    let start = Instant::now();
    let deadline = start + Duration::from_secs(600);
    while state.store.has_unapplied_deliveries().await? {
        anyhow::ensure!(
            Instant::now() < deadline,
            "deliveries were still waiting to be applied 10 minutes after the run"
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    Ok(start.elapsed())
}

#[poem::handler]
fn bare_ok() -> &'static str {
    "ok"
}

/// A reference server's URL, and what stops it.
type Reference = (String, tokio::sync::oneshot::Sender<()>);

/// A poem server that answers 200 to any POST, for the baseline.
async fn start_bare() -> anyhow::Result<Reference> {
    serve_reference(poem::Route::new().at("/*path", poem::post(bare_ok))).await
}

/// What groups of appends to the durable floor's file waited for the disk: kept by its
/// writer, read at any time without a lock.
#[derive(Debug, Default)]
struct SyncCounters {
    syncs: AtomicU64,
    appended: AtomicU64,
    micros: AtomicU64,
}

impl SyncCounters {
    /// Counts one group of `appended` bodies written and synced in `took`.
    fn record(&self, appended: usize, took: Duration) {
        self.appended.fetch_add(appended as u64, Ordering::Relaxed);
        self.micros.fetch_add(
            u64::try_from(took.as_micros()).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
        self.syncs.fetch_add(1, Ordering::Relaxed);
    }

    fn snapshot(&self) -> SyncStats {
        SyncStats {
            syncs: self.syncs.load(Ordering::Relaxed),
            appended: self.appended.load(Ordering::Relaxed),
            seconds: self.micros.load(Ordering::Relaxed) as f64 / 1e6,
        }
    }
}

/// The durable floor's syncs (see [`SyncCounters`]).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct SyncStats {
    /// Groups written and synced.
    pub syncs: u64,
    /// Bodies in them.
    pub appended: u64,
    /// Time spent writing and syncing them, in all.
    pub seconds: f64,
}

impl SyncStats {
    /// What happened between `earlier` and `self`.
    fn since(&self, earlier: &SyncStats) -> SyncStats {
        SyncStats {
            syncs: self.syncs.saturating_sub(earlier.syncs),
            appended: self.appended.saturating_sub(earlier.appended),
            seconds: (self.seconds - earlier.seconds).max(0.0),
        }
    }

    /// Mean time of a sync, in seconds (0 without one).
    pub fn mean_seconds(&self) -> f64 {
        if self.syncs == 0 {
            0.0
        } else {
            self.seconds / self.syncs as f64
        }
    }

    /// Mean bodies per sync (0 without one).
    pub fn mean_group(&self) -> f64 {
        if self.syncs == 0 {
            0.0
        } else {
            self.appended as f64 / self.syncs as f64
        }
    }
}

/// What the durable floor's handlers hand to its writer: a body, and where to say whether
/// it is on disk.
type FloorWrite = (Vec<u8>, tokio::sync::oneshot::Sender<bool>);

/// The durable floor: verifies the signature as intake does, appends the body to a file and
/// answers 200 once the file is synced, one `fdatasync` for every body that arrived while
/// the last one ran. No database, no parsing: what storing before answering costs on this
/// machine's disk, for any design.
async fn start_floor(dir: &Path) -> anyhow::Result<(Reference, Arc<SyncCounters>)> {
    use poem::EndpointExt as _;
    use std::io::Write as _;
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("floor.log"))?;
    let (queue, writes) = std::sync::mpsc::channel::<FloorWrite>();
    let syncs = Arc::new(SyncCounters::default());
    let counters = syncs.clone();
    std::thread::Builder::new()
        .name("bench-floor".to_owned())
        .spawn(move || {
            let mut group: Vec<FloorWrite> = Vec::new();
            let mut buf = Vec::new();
            while let Ok(first) = writes.recv() {
                group.push(first);
                group.extend(writes.try_iter());
                buf.clear();
                for (body, _) in &group {
                    buf.extend_from_slice(&u32::try_from(body.len()).unwrap_or(0).to_le_bytes());
                    buf.extend_from_slice(body);
                }
                let started = Instant::now();
                let ok = file.write_all(&buf).and_then(|()| file.sync_data()).is_ok();
                if ok {
                    counters.record(group.len(), started.elapsed());
                }
                for (_, reply) in group.drain(..) {
                    let _ = reply.send(ok);
                }
            }
        })?;
    let reference = serve_reference(
        poem::Route::new()
            .at("/*path", poem::post(floor_append))
            .data(queue),
    )
    .await?;
    Ok((reference, syncs))
}

#[poem::handler]
async fn floor_append(
    req: &poem::Request,
    body: Vec<u8>,
    queue: poem::web::Data<&std::sync::mpsc::Sender<FloorWrite>>,
) -> poem::http::StatusCode {
    use poem::http::StatusCode;
    let secret = printbridge::secret::Secret::new(WEBHOOK_SECRET);
    let signature = req.header("X-WC-Webhook-Signature").unwrap_or("");
    if !printbridge::woo::signature::verify([&secret], &body, signature) {
        return StatusCode::UNAUTHORIZED;
    }
    let (reply, stored) = tokio::sync::oneshot::channel();
    if queue.send((body, reply)).is_err() {
        return StatusCode::SERVICE_UNAVAILABLE;
    }
    match stored.await {
        Ok(true) => StatusCode::OK,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// Serves `app` on a loopback port until the returned sender is used or dropped.
async fn serve_reference(app: impl poem::Endpoint + 'static) -> anyhow::Result<Reference> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        let _ = poem::Server::new_with_acceptor(poem::listener::TcpAcceptor::from_tokio(listener)?)
            .run_with_graceful_shutdown(
                app,
                async move {
                    let _ = rx.await;
                },
                Some(Duration::from_secs(1)),
            )
            .await;
        Ok::<_, std::io::Error>(())
    });
    Ok((format!("http://{addr}/hook"), tx))
}

fn bench_store(sb: &Sandbox) -> Result<StoreConfig, String> {
    sb.store_config(STORE, WEBHOOK_SECRET, "bench-store-token")
}

/// A fresh database for one run, dropped by [`FreshDb::drop_db`].
struct FreshDb {
    url: String,
    /// Names this run's data directory, unique in the bench's directory.
    tag: String,
    /// PostgreSQL: (admin URL, database name).
    pg: Option<(String, String)>,
}

impl FreshDb {
    async fn create(
        db: BenchDb,
        dir: &Path,
        postgres_url: &str,
        tag: &str,
    ) -> anyhow::Result<Self> {
        match db {
            BenchDb::Sqlite => Ok(FreshDb {
                url: format!("sqlite://{}", dir.join(format!("bench-{tag}.db")).display()),
                tag: format!("{tag}-{}", uuid::Uuid::new_v4().simple()),
                pg: None,
            }),
            BenchDb::Postgres => {
                let name = format!("pb_bench_{}_{tag}", uuid::Uuid::new_v4().simple());
                let admin = sqlx::PgPool::connect(postgres_url).await?;
                sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
                    .execute(&admin)
                    .await?;
                admin.close().await;
                let mut url = reqwest::Url::parse(postgres_url)?;
                url.set_path(&format!("/{name}"));
                Ok(FreshDb {
                    url: url.to_string(),
                    tag: name.clone(),
                    pg: Some((postgres_url.to_owned(), name)),
                })
            }
        }
    }

    /// Lets the disk go quiet before a measured run, so that it does not pay for the
    /// writes of the run before it: the database is checkpointed (PostgreSQL `CHECKPOINT`,
    /// SQLite `wal_checkpoint(TRUNCATE)`) and the operating system's dirty pages are
    /// written out (`sync`).
    async fn settle(&self, store: &printbridge::store::Store) {
        match &self.pg {
            Some((admin_url, _)) => {
                if let Ok(admin) = sqlx::PgPool::connect(admin_url).await {
                    if let Err(e) = sqlx::query("CHECKPOINT").execute(&admin).await {
                        tracing::warn!(error = %e, "bench: CHECKPOINT refused; runs may share writes");
                    }
                    admin.close().await;
                }
            }
            None => {
                if let Err(e) = store.checkpoint().await {
                    tracing::warn!(error = %e, "bench: SQLite checkpoint failed");
                }
            }
        }
        let synced =
            tokio::task::spawn_blocking(|| std::process::Command::new("sync").status()).await;
        if !matches!(synced, Ok(Ok(status)) if status.success()) {
            tracing::warn!("bench: sync failed; runs may share writes");
        }
    }

    async fn drop_db(self) {
        if let Some((admin_url, name)) = self.pg
            && let Ok(admin) = sqlx::PgPool::connect(&admin_url).await
        {
            let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
                "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
            )))
            .execute(&admin)
            .await;
            admin.close().await;
        }
    }
}

/// A running bridge for one run.
struct Bridge {
    base: String,
    state: Arc<printbridge::http::AppState>,
    stop: tokio::sync::oneshot::Sender<()>,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Bridge {
    async fn start(
        fresh: &FreshDb,
        dir: &Path,
        store: StoreConfig,
        concurrency: usize,
        client: &reqwest::Client,
    ) -> anyhow::Result<(Bridge, Duration)> {
        let mut config = Config {
            listen: "127.0.0.1:0".to_owned(),
            database_url: fresh.url.clone(),
            // A data directory per database.
            data_dir: dir.join(format!("data-{}", fresh.tag)),
            ..Config::default()
        };
        // The benchmark runs its own dispatcher (to count calls); nothing else polls.
        config.dispatch.enabled = false;
        config.dispatch.concurrency =
            std::num::NonZeroUsize::new(concurrency).unwrap_or(std::num::NonZeroUsize::MIN);
        config.dispatch.reconcile_interval_secs = 0;
        config.stores = vec![store];
        config.validate()?;
        let started = Instant::now();
        let app = Application::build(config, None, None).await?;
        let base = format!("http://{}", app.addr());
        let state = app.state();
        let (stop, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(app.run_until(async move {
            let _ = stop_rx.await;
        }));
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if answers_ready(client, &base).await {
                break;
            }
            anyhow::ensure!(
                Instant::now() < deadline,
                "the bridge was not ready within 60 s"
            );
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        let cold = started.elapsed();
        Ok((
            Bridge {
                base,
                state,
                stop,
                server,
            },
            cold,
        ))
    }

    async fn stop(self) {
        let _ = self.stop.send(());
        let _ = self.server.await;
    }
}

/// Starts `printbridge serve` (the crate's executable, built with this bench) on `url` in a
/// process of its own, times it to `/readyz` 200, lets it idle for a second and reads its
/// resident size; then stops it.
async fn serve_process(
    url: &str,
    dir: &Path,
    store: &StoreConfig,
    client: &reqwest::Client,
) -> anyhow::Result<(Duration, u64)> {
    let exe = env!("CARGO_BIN_EXE_printbridge");
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let config = dir.join(format!("serve-{port}.toml"));
    let text = format!(
        "listen = \"127.0.0.1:{port}\"\ndatabase_url = {url:?}\ndata_dir = {:?}\n\
         [dispatch]\nreconcile_interval_secs = 0\n\n[[stores]]\nid = {:?}\nwebhook_secret = {WEBHOOK_SECRET:?}\n",
        dir.join("serve-data").display().to_string(),
        store.id,
    );
    std::fs::write(&config, text)?;
    let started = Instant::now();
    let mut child = ChildGuard(
        std::process::Command::new(exe)
            .arg("serve")
            .arg("--config")
            .arg(&config)
            .env("PRINTBRIDGE_LOG", "warn")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()?,
    );
    let pid = child.0.id();
    let base = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(60);
    let cold = loop {
        if answers_ready(client, &base).await {
            break started.elapsed();
        }
        if let Some(status) = child.0.try_wait()? {
            anyhow::bail!("printbridge serve exited with {status}");
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "printbridge serve was not ready within 60 s"
        );
        tokio::time::sleep(Duration::from_millis(1)).await;
    };
    tokio::time::sleep(Duration::from_secs(1)).await;
    let (rss, _) = proc_rss_kb(&pid.to_string());
    drop(child);
    Ok((cold, rss))
}

/// Stops (and reaps) the child process it holds when dropped.
struct ChildGuard(std::process::Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Counts finished provider calls for the slice timings, and notes when each provider's
/// latest call finished.
struct CountingExecutor {
    inner: ProviderExecutor,
    done: Arc<AtomicU64>,
    started: Instant,
    last: Mutex<BTreeMap<String, Duration>>,
}

impl Executor for CountingExecutor {
    fn execute<'a>(
        &'a self,
        job: &'a ClaimedJob,
        order: Option<&'a Value>,
        sent: &'a dyn printbridge::outbox::SendMark,
    ) -> BoxFuture<'a, Report> {
        Box::pin(async move {
            let report = self.inner.execute(job, order, sent).await;
            let at = self.started.elapsed();
            if let Ok(mut last) = self.last.lock() {
                last.insert(job.provider.as_str().to_owned(), at);
            }
            self.done.fetch_add(1, Ordering::Relaxed);
            report
        })
    }
}

/// Job payloads for the backlog, planned from the template exactly as intake plans them.
fn backlog_jobs(template: &str) -> anyhow::Result<Vec<(String, String, String, String)>> {
    let body = template.replace(ORDER_ID_MARKER, "1");
    let printbridge::intake::parse::Parsed::Order(snap) =
        printbridge::intake::parse::parse_delivery(Some("order.created"), body.as_bytes())
    else {
        anyhow::bail!("the benchmark order does not parse as an order");
    };
    Ok(printbridge::intake::parse::plan_provider_jobs(&snap)
        .into_iter()
        .map(|j| {
            (
                j.provider.as_str().to_owned(),
                j.target,
                j.kind.as_str().to_owned(),
                j.payload,
            )
        })
        .collect())
}

async fn dispatch_run(
    bridge: &Bridge,
    sb: &Sandbox,
    client: &reqwest::Client,
    backlog: u64,
    progress: &mut (dyn std::io::Write + Send),
) -> anyhow::Result<DispatchStats> {
    let store: &Store = &bridge.state.store;
    // One Spiff, one Apliiq and one Key2print job per order: one call each (a job's first
    // claim sends without asking Apliiq first, so the backlog's size does not show in the
    // cost of a job).
    let template = order_template(&[]).map_err(anyhow::Error::msg)?;
    let jobs = backlog_jobs(&template)?;
    let per_order = jobs.len().max(1) as u64;
    let orders = backlog.div_ceil(per_order);
    let t = Instant::now();
    let planned = plan_backlog(
        store,
        &Backlog {
            store_id: STORE.to_owned(),
            first_order_id: 1,
            orders: i64::try_from(orders)?,
            body_template: template,
            status: "processing".to_owned(),
            modified_gmt: "2026-11-27T08:00:00".to_owned(),
            jobs,
        },
        bridge.state.clock.now_ms(),
    )
    .await?;
    let insert = t.elapsed();
    writeln!(
        progress,
        "  backlog of {planned} jobs planned in {:.1} s",
        insert.as_secs_f64()
    )?;
    let calls_before = sb.state.stats().calls;
    let done = Arc::new(AtomicU64::new(0));
    let slice_jobs = (planned / 10).max(1);
    reset_peak_rss();
    let (stop_tx, stop_rx) = watch::channel(false);
    let started = Instant::now();
    let executor = Arc::new(CountingExecutor {
        inner: ProviderExecutor::new(&bridge.state.config, bridge.state.clock.clone()),
        done: done.clone(),
        started,
        last: Mutex::new(BTreeMap::new()),
    });
    let worker = tokio::spawn(Dispatcher::new(bridge.state.clone(), executor.clone()).run(stop_rx));
    let mut slices = Vec::new();
    let mut last = Duration::ZERO;
    let mut next = slice_jobs;
    let deadline = started + Duration::from_secs(1800);
    loop {
        let n = done.load(Ordering::Relaxed);
        while n >= next && next <= planned {
            let now = started.elapsed();
            slices.push(now - last);
            last = now;
            next += slice_jobs;
        }
        if n >= planned {
            break;
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "the backlog did not drain in 30 minutes"
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    // Every call made: wait until the last outcomes are recorded. The gauges count the jobs
    // not finished and the dead letters; once nothing is queued or running, those left are
    // the ones that failed.
    let failed = loop {
        let g = store.job_gauges(bridge.state.clock.now_ms()).await?;
        let running: i64 = g
            .by_state
            .iter()
            .filter(|x| x.state == printbridge::outbox::job_types::JobState::Running)
            .map(|x| x.count)
            .sum();
        if g.queue_depth == 0 && running == 0 {
            break g.by_state.iter().map(|x| x.count).sum::<i64>();
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "the backlog did not drain in 30 minutes"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    let drain = started.elapsed();
    let peak = rss_kb().1;
    let done_jobs = store
        .list_jobs(&JobFilter {
            store: None,
            state: Some(printbridge::outbox::job_types::JobState::Done),
            provider: None,
            offset: 0,
            limit: 1,
        })
        .await?
        .total;
    let _ = stop_tx.send(true);
    let _ = worker.await;
    let provider_last = executor
        .last
        .lock()
        .map(|last| last.iter().map(|(p, at)| (p.clone(), *at)).collect())
        .unwrap_or_default();
    let calls = u64::from(sb.state.stats().calls.saturating_sub(calls_before));
    let mut scrapes = Vec::with_capacity(SCRAPES);
    for _ in 0..SCRAPES {
        let t = Instant::now();
        let res = client
            .get(format!("{}/metrics", bridge.base))
            .send()
            .await?;
        anyhow::ensure!(
            res.status().is_success(),
            "/metrics answered {}",
            res.status()
        );
        res.bytes().await?;
        scrapes.push(t.elapsed());
    }
    scrapes.sort();
    let mut pages = Vec::with_capacity(SCRAPES);
    for _ in 0..SCRAPES {
        let t = Instant::now();
        store
            .list_jobs(&JobFilter {
                state: Some(printbridge::outbox::job_types::JobState::Dead),
                limit: 50,
                ..JobFilter::default()
            })
            .await?;
        pages.push(t.elapsed());
    }
    pages.sort();
    Ok(DispatchStats {
        jobs: planned,
        insert,
        drain,
        calls,
        done: done_jobs,
        failed,
        slices,
        slice_jobs,
        provider_last,
        peak_rss_kb: peak,
        metrics_scrape: scrapes[SCRAPES / 2],
        dead_letters_page: pages[SCRAPES / 2],
    })
}

async fn run_db(
    db: BenchDb,
    opts: &BenchOptions,
    sb: &Sandbox,
    client: &reqwest::Client,
    (bare_url, floor_url, floor_syncs): (&str, &str, &SyncCounters),
    dir: &Path,
    progress: &mut (dyn std::io::Write + Send),
) -> anyhow::Result<DbReport> {
    let mut report = DbReport::default();
    let store_cfg = bench_store(sb).map_err(anyhow::Error::msg)?;

    // The bridge alone, in a process of its own.
    writeln!(progress, "{}: printbridge serve, idle", db.name())?;
    let fresh = FreshDb::create(db, dir, &opts.postgres_url, "serve").await?;
    let serve = serve_process(&fresh.url, dir, &store_cfg, client).await;
    fresh.drop_db().await;
    let (cold, rss) = serve?;
    report.process_cold_start = Some(cold);
    report.process_idle_rss_kb = Some(rss);

    // Intake on a fresh database.
    writeln!(progress, "{}: intake", db.name())?;
    let fresh = FreshDb::create(db, dir, &opts.postgres_url, "intake").await?;
    let (bridge, cold) =
        Bridge::start(&fresh, dir, store_cfg.clone(), opts.concurrency, client).await?;
    report.cold_start = cold;
    // Idle: let the start settle, then read the resident size.
    tokio::time::sleep(Duration::from_millis(500)).await;
    report.idle_rss_kb = rss_kb().0;
    let template: Arc<str> = order_template(&[]).map_err(anyhow::Error::msg)?.into();
    let target = |url: String| Target {
        url,
        template: template.clone(),
    };
    let bare = target(bare_url.to_owned());
    let floor = target(floor_url.to_owned());
    let intake = target(format!("{}/v1/webhooks/woocommerce/{STORE}", bridge.base));
    // Warm up (connections, caches), unmeasured.
    for t in [&bare, &floor, &intake] {
        let _ = closed_loop(client, t, 8, Duration::from_millis(300)).await;
    }
    applied(&bridge.state).await?;
    let bytes_before = db_bytes(&bridge.state.store).await?;
    let deliveries_before = bridge.state.store.count(Table::Deliveries).await?;
    report.bare_sustained = closed_loop(client, &bare, opts.connections, opts.duration).await;
    let before = floor_syncs.snapshot();
    report.floor_sustained = closed_loop(client, &floor, opts.connections, opts.duration).await;
    report.floor_sustained.syncs = Some(floor_syncs.snapshot().since(&before));
    fresh.settle(&bridge.state.store).await;
    report.intake_sustained = closed_loop(client, &intake, opts.connections, opts.duration).await;
    report.intake_sustained.applied_after = Some(applied(&bridge.state).await?);
    writeln!(
        progress,
        "  sustained: bare {:.0} req/s, durable floor {:.0} req/s, intake {:.0} req/s",
        report.bare_sustained.throughput,
        report.floor_sustained.throughput,
        report.intake_sustained.throughput
    )?;
    for &rate in &opts.rates {
        let b = open_loop(client, &bare, rate, opts.duration).await;
        fresh.settle(&bridge.state.store).await;
        let mut i = open_loop(client, &intake, rate, opts.duration).await;
        i.applied_after = Some(applied(&bridge.state).await?);
        writeln!(
            progress,
            "  {rate} req/s: bare p99 {:.2} ms, intake p99 {:.2} ms",
            b.p99_ms, i.p99_ms
        )?;
        report.rates.push((rate, b, i));
    }
    report.stored = Some((
        db_bytes(&bridge.state.store).await? - bytes_before,
        bridge.state.store.count(Table::Deliveries).await? - deliveries_before,
    ));
    bridge.stop().await;
    fresh.drop_db().await;

    // Dispatch on another fresh database.
    writeln!(progress, "{}: dispatch", db.name())?;
    let fresh = FreshDb::create(db, dir, &opts.postgres_url, "dispatch").await?;
    let (bridge, _) = Bridge::start(&fresh, dir, store_cfg, opts.concurrency, client).await?;
    let d = dispatch_run(&bridge, sb, client, opts.backlog, progress).await;
    bridge.stop().await;
    fresh.drop_db().await;
    report.dispatch = d?;
    writeln!(
        progress,
        "  drained {} jobs in {:.1} s",
        report.dispatch.jobs,
        report.dispatch.drain.as_secs_f64()
    )?;
    Ok(report)
}

fn mb(kb: u64) -> String {
    format!("{:.1} MB", kb as f64 / 1024.0)
}

fn ms(d: Duration) -> String {
    format!("{:.0} ms", d.as_secs_f64() * 1000.0)
}

/// Renders the figures as one markdown table, then the targets.
pub fn render(opts: &BenchOptions, reports: &[(BenchDb, DbReport)]) -> String {
    let mut rows: Vec<[String; 9]> = Vec::new();
    for (db, r) in reports {
        let name = db.name();
        rows.extend(start_rows(name, r));
        rows.extend(load_rows(opts, name, r));
        rows.push(dispatch_row(opts, name, r));
    }
    let headers = [
        "database",
        "run",
        "offered",
        "throughput",
        "p50 ms",
        "p99 ms",
        "max ms",
        "peak RSS",
        "notes",
    ];
    let mut out = String::new();
    let _ = writeln!(out, "| {} |", headers.join(" | "));
    let _ = writeln!(out, "|{}|", headers.map(|_| "---").join("|"));
    for r in &rows {
        let _ = writeln!(out, "| {} |", r.join(" | "));
    }
    let _ = writeln!(out);
    for (db, r) in reports {
        out.push_str(&targets_line(*db, r));
    }
    out
}

/// A table row: database, run, offered, throughput, p50, p99, max, peak RSS, notes.
type Row = [String; 9];

/// The rows of the bridge's start: in-process, and as a `printbridge serve` process.
fn start_rows(name: &str, r: &DbReport) -> Vec<Row> {
    let name = name.to_owned();
    let mut rows = Vec::new();
    rows.push([
        name.clone(),
        "in-process: Application::build to /readyz 200".to_owned(),
        String::new(),
        ms(r.cold_start),
        String::new(),
        String::new(),
        String::new(),
        String::new(),
        format!("idle RSS {} (whole bench process)", mb(r.idle_rss_kb)),
    ]);
    if let (Some(cold), Some(rss)) = (r.process_cold_start, r.process_idle_rss_kb) {
        rows.push([
            name.clone(),
            "`printbridge serve` process: start to /readyz 200".to_owned(),
            String::new(),
            ms(cold),
            String::new(),
            String::new(),
            String::new(),
            String::new(),
            format!("idle RSS {}", mb(rss)),
        ]);
    }
    rows
}

/// The closed-loop and open-loop rows of the bare handler, the durable floor and intake.
fn load_rows(opts: &BenchOptions, name: &str, r: &DbReport) -> Vec<Row> {
    let name = name.to_owned();
    let mut rows = Vec::new();
    let lat = |s: &LoadStats| {
        [
            format!("{:.2}", s.p50_ms),
            format!("{:.2}", s.p99_ms),
            format!("{:.2}", s.max_ms),
        ]
    };
    for (what, s, note) in [
        (
            "bare handler, closed loop",
            &r.bare_sustained,
            String::new(),
        ),
        (
            "durable floor (verify, append, fdatasync), closed loop",
            &r.floor_sustained,
            format!("{:.0} % of bare", r.of_bare(&r.floor_sustained) * 100.0),
        ),
        (
            "intake, closed loop",
            &r.intake_sustained,
            format!(
                "{:.0} % of bare, {:.0} % of the durable floor{}",
                r.of_bare(&r.intake_sustained) * 100.0,
                r.intake_of_floor() * 100.0,
                match r.stored {
                    Some((bytes, n)) if n > 0 => format!(
                        "; the intake runs' {n} deliveries grew the database by {:.1} KB each",
                        bytes as f64 / n as f64 / 1024.0
                    ),
                    _ => String::new(),
                }
            ),
        ),
    ] {
        let [p50, p99, max] = lat(s);
        rows.push([
            name.clone(),
            format!("{what} ({} conns)", opts.connections),
            "max".to_owned(),
            format!("{:.0} req/s", s.throughput),
            p50,
            p99,
            max,
            mb(s.peak_rss_kb),
            join_note(note, s),
        ]);
    }
    for (rate, b, i) in &r.rates {
        for (what, s) in [("bare handler", b), ("intake", i)] {
            let [p50, p99, max] = lat(s);
            rows.push([
                name.clone(),
                format!("{what}, open loop"),
                format!("{rate} req/s"),
                format!("{:.0} req/s", s.throughput),
                p50,
                p99,
                max,
                mb(s.peak_rss_kb),
                join_note(String::new(), s),
            ]);
        }
    }
    rows
}

/// The dispatch row: calls per second while draining the backlog, and how it went.
fn dispatch_row(opts: &BenchOptions, name: &str, r: &DbReport) -> Row {
    let d = &r.dispatch;
    let secs = d.drain.as_secs_f64().max(1e-9);
    let slices = d
        .slices
        .iter()
        .map(|s| format!("{:.2}", s.as_secs_f64()))
        .collect::<Vec<_>>()
        .join(" / ");
    let last_calls = d
        .provider_last
        .iter()
        .map(|(provider, at)| format!("{provider} {:.1} s", at.as_secs_f64()))
        .collect::<Vec<_>>()
        .join(", ");
    [
        name.to_owned(),
        format!(
            "dispatch {} jobs, concurrency {}/provider",
            d.jobs, opts.concurrency
        ),
        "backlog".to_owned(),
        format!("{:.0} calls/s", d.calls as f64 / secs),
        String::new(),
        String::new(),
        String::new(),
        mb(d.peak_rss_kb),
        format!(
            "drain {:.1} s ({:.0} jobs/s, {} done, {} not done), planned in {:.1} s; s per {} jobs: {slices}; each provider's last call at {last_calls}; a /metrics scrape then {:.1} ms, the dead letters' first page {:.1} ms",
            secs,
            d.jobs as f64 / secs,
            d.done,
            d.failed,
            d.insert.as_secs_f64(),
            d.slice_jobs,
            d.metrics_scrape.as_secs_f64() * 1e3,
            d.dead_letters_page.as_secs_f64() * 1e3
        ),
    ]
}

/// One database's line under the table: each target, met or missed, and the CPU per request
/// of each closed-loop run against the bare handler's.
fn targets_line(db: BenchDb, r: &DbReport) -> String {
    let mut out = String::new();
    let ratio = r.of_bare(&r.intake_sustained);
    let floor = r.of_bare(&r.floor_sustained);
    let p99_500 = r
        .rates
        .iter()
        .find(|(rate, _, _)| *rate == 500)
        .map(|(_, _, i)| i.p99_ms);
    let calls = r.dispatch.calls as f64 / r.dispatch.drain.as_secs_f64().max(1e-9);
    let idle = r.process_idle_rss_kb.unwrap_or(r.idle_rss_kb);
    let mark = |ok: bool| if ok { "met" } else { "MISSED" };
    // What the floor's answers waited for the disk.
    let syncs = match r.floor_sustained.syncs {
        Some(f) if f.syncs > 0 => format!(", a sync {:.2} ms", f.mean_seconds() * 1000.0),
        _ => String::new(),
    };
    // The process's CPU per request beside the bare handler's: where the bare handler
    // fills the cores, a run that needs k times its CPU per request reaches at most 1/k
    // of its throughput, whatever it waits for. (A PostgreSQL server's CPU is not the
    // process's, so there intake's bound is looser.)
    let cpu =
        [&r.bare_sustained, &r.floor_sustained, &r.intake_sustained].map(|s| s.cpu_us_per_request);
    let cpu = match cpu {
        [bare, floor, intake] if bare > 0.0 && floor > 0.0 && intake > 0.0 => format!(
            "; CPU per request: the floor {:.1}x the bare handler's, intake {:.1}x, so at most \
             {:.0} and {:.0} % of its throughput on the cores it fills",
            floor / bare,
            intake / bare,
            bare / floor * 100.0,
            bare / intake * 100.0
        ),
        _ => String::new(),
    };
    let _ = writeln!(
        out,
        "{}: intake {:.0} % of bare (target >= 50 %: {}; the durable floor: {:.0} %{syncs}{cpu}); p99 at 500 req/s {} (target < 10 ms: {}); {:.0} provider calls/s (target >= 1,000: {}); idle RSS of printbridge serve {} (target < 20 MB: {})",
        db.name(),
        ratio * 100.0,
        mark(ratio >= 0.5),
        floor * 100.0,
        p99_500
            .map(|p| format!("{p:.2} ms"))
            .unwrap_or_else(|| "not run".to_owned()),
        p99_500.map(|p| mark(p < 10.0)).unwrap_or("-"),
        calls,
        mark(calls >= 1000.0),
        mb(idle),
        mark(idle < 20 * 1024),
    );
    out
}

/// A run's notes: `note`, its errors, its CPU per request, when its deliveries were all
/// applied, its syncs, CPU steal.
fn join_note(note: String, s: &LoadStats) -> String {
    let mut parts = Vec::new();
    if !note.is_empty() {
        parts.push(note);
    }
    if s.cpu_us_per_request > 0.0 {
        parts.push(format!("CPU {:.0} µs/request", s.cpu_us_per_request));
    }
    if s.disk_bytes_per_request >= 1.0 {
        parts.push(format!(
            "{:.1} KB written to disk/request",
            s.disk_bytes_per_request / 1024.0
        ));
    }
    if s.errors > 0 {
        parts.push(format!("{} errors", s.errors));
    }
    if let Some(after) = s.applied_after {
        let until = s.elapsed + after;
        parts.push(format!(
            "all applied {:.2} s after the run ({:.0} applied/s)",
            after.as_secs_f64(),
            s.ok as f64 / until.as_secs_f64().max(1e-9)
        ));
    }
    if let Some(syncs) = s.syncs.filter(|y| y.syncs > 0) {
        parts.push(format!(
            "{} syncs of {:.1} deliveries, {:.2} ms each",
            syncs.syncs,
            syncs.mean_group(),
            syncs.mean_seconds() * 1000.0
        ));
    }
    if s.steal_pct >= 0.5 {
        parts.push(format!("CPU steal {:.0} %", s.steal_pct));
    }
    parts.join("; ")
}

/// Runs the benchmark, writing progress and the table to `out`.
pub async fn run(opts: BenchOptions, out: &mut (dyn std::io::Write + Send)) -> anyhow::Result<i32> {
    printbridge::net::ensure_crypto_provider();
    let dir = bench_dir()?;
    let sb = Sandbox::start(SandboxCredentials::default(), "127.0.0.1", 0).await?;
    let (bare_url, bare_stop) = start_bare().await?;
    let ((floor_url, floor_stop), floor_syncs) = start_floor(&dir).await?;
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .pool_max_idle_per_host(1024)
        .build()?;
    writeln!(
        out,
        "PrintBridge bench: {} s per run, rates {:?} req/s, backlog {} jobs, {} CPU(s)",
        opts.duration.as_secs_f64(),
        opts.rates,
        opts.backlog,
        std::thread::available_parallelism().map_or(0, |n| n.get())
    )?;
    let mut reports = Vec::new();
    for &db in &opts.dbs {
        let urls = (bare_url.as_str(), floor_url.as_str(), &*floor_syncs);
        let r = run_db(db, &opts, &sb, &client, urls, &dir, out).await?;
        reports.push((db, r));
    }
    let _ = bare_stop.send(());
    let _ = floor_stop.send(());
    sb.stop();
    let _ = std::fs::remove_dir_all(&dir);
    writeln!(out, "\n{}", render(&opts, &reports))?;
    Ok(0)
}

fn bench_dir() -> std::io::Result<PathBuf> {
    let d = std::env::temp_dir().join(format!(
        "printbridge-bench-{}",
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::create_dir_all(&d)?;
    Ok(d)
}

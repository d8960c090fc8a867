//! Persistence with sqlx on SQLite (default) or PostgreSQL.
//!
//! Not `sqlx::Any` (no timestamps, no tests support): one enum over the two pools, and the
//! `on_pool!` / `in_tx!` macros expand each query body once per backend, so the same SQL
//! (`$1` placeholders work on both) runs with concrete types. The intake transaction and the
//! recording of finished attempts are generic functions over either backend's connection
//! (the `backend` module). Times are Unix milliseconds.
//!
//! This module is storage itself: the pools, connecting, migrations, [`StoreError`], the pool
//! macros, group commit ([`writer`]) and the gateway's error log. The statements of intake,
//! the outbox and the read side are `impl Store` blocks in `crate::intake`, `crate::outbox`
//! and `crate::reads` (docs/ARCHITECTURE.md, "Module map").

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions, PgSslMode};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

pub(crate) mod backend;
pub mod gateway_errors;
pub mod writer;

/// What a store operation failed with. The HTTP layer answers each kind with its own status
/// (`From<StoreError> for ApiError`): not found 404, a conflicting state 409, an unavailable
/// database 503, anything else 500.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database cannot be reached or does not answer: the pool timed out or is closed,
    /// the connection failed or broke, the server is shutting down or refuses connections,
    /// SQLite's file is busy past the busy timeout, cannot be opened or written. Retrying
    /// later may succeed. Holds the error's text.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// Any other error from the database or the driver.
    #[error("database error: {0}")]
    Database(sqlx::Error),
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("database URL {0:?} is neither sqlite: nor postgres://")]
    UnsupportedUrl(String),
    /// The row an operation names does not exist.
    #[error("{0}")]
    NotFound(String),
    /// The operation conflicts with the current state of the rows it touches.
    #[error("{0}")]
    Conflict(String),
    /// The store found its own rows or writers in a state it does not expect: rows that
    /// disagree with what was written, a stored body that does not decode, a task that failed.
    #[error("{0}")]
    Internal(String),
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        if is_unavailable(&e) {
            StoreError::Unavailable(e.to_string())
        } else {
            StoreError::Database(e)
        }
    }
}

impl StoreError {
    /// An error of the same kind with the same text, for each of several callers waiting on
    /// one failed operation (a driver error is not `Clone`).
    pub fn shared(&self) -> StoreError {
        match self {
            StoreError::Unavailable(m) => StoreError::Unavailable(m.clone()),
            StoreError::NotFound(m) => StoreError::NotFound(m.clone()),
            StoreError::Conflict(m) => StoreError::Conflict(m.clone()),
            StoreError::Internal(m) => StoreError::Internal(m.clone()),
            other => StoreError::Internal(other.to_string()),
        }
    }
}

/// Whether a driver error says the database cannot be reached or does not answer now, rather
/// than that the statement or the data is wrong.
fn is_unavailable(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_) => true,
        sqlx::Error::Database(db) => {
            let code = db.code();
            let code = code.as_deref().unwrap_or("");
            if db
                .try_downcast_ref::<sqlx::postgres::PgDatabaseError>()
                .is_some()
            {
                // Class 08: connection exception; 53300: too many connections; 57P01-57P03:
                // the server is shutting down, crashed or not yet accepting connections.
                code.starts_with("08") || matches!(code, "53300" | "57P01" | "57P02" | "57P03")
            } else {
                // SQLite's primary result code (the low byte of an extended one): BUSY (5)
                // past the busy timeout, IOERR (10), FULL (13), CANTOPEN (14).
                code.parse::<i32>()
                    .is_ok_and(|c| matches!(c & 0xff, 5 | 10 | 13 | 14))
            }
        }
        _ => false,
    }
}

#[derive(Clone, Debug)]
pub enum Store {
    /// The pool, and the lock every write takes first (see [`WriteLock`]).
    Sqlite(SqlitePool, WriteLock),
    Postgres(PgPool),
}

/// SQLite has one writer at a time. Writers that meet in SQLite wait in its busy handler,
/// which sleeps up to 100 ms between tries, and a write on a connection that did not make
/// the last one starts with a cold page cache. So every write goes through this pool of one
/// connection: writers queue in the process (fairly) and the writer's cache stays warm.
#[derive(Clone, Debug)]
pub struct WriteLock(SqlitePool);

impl WriteLock {
    pub(crate) fn pool(&self) -> &SqlitePool {
        &self.0
    }
}

/// Runs `$body` with `$pool` bound to the concrete pool.
macro_rules! on_pool {
    ($store:expr, |$pool:ident| $body:expr) => {
        match $store {
            $crate::store::Store::Sqlite($pool, _) => $body,
            $crate::store::Store::Postgres($pool) => $body,
        }
    };
}

/// Like `on_pool!` for a statement that writes: on SQLite it holds the [`WriteLock`].
macro_rules! on_pool_write {
    ($store:expr, |$pool:ident| $body:expr) => {
        match $store {
            $crate::store::Store::Sqlite(_, writer) => {
                let $pool = writer.pool();
                $body
            }
            $crate::store::Store::Postgres($pool) => $body,
        }
    };
}

/// Runs `$body` inside a transaction bound to `$tx` (SQLite: `BEGIN IMMEDIATE`, so a
/// read-then-write never fails with SQLITE_BUSY on upgrade) and commits when it returns Ok.
macro_rules! in_tx {
    ($store:expr, |$tx:ident| $body:expr) => {
        match $store {
            $crate::store::Store::Sqlite(_, writer) => {
                let mut $tx = writer.pool().begin_with("BEGIN IMMEDIATE").await?;
                let out = $body;
                $tx.commit().await?;
                out
            }
            $crate::store::Store::Postgres(pool) => {
                let mut $tx = pool.begin().await?;
                let out = $body;
                $tx.commit().await?;
                out
            }
        }
    };
}

pub(crate) use in_tx;
pub(crate) use on_pool;
pub(crate) use on_pool_write;

/// Run on each new PostgreSQL connection: values the bridge writes that PostgreSQL compresses
/// (a webhook body of more than about 2 KB) are compressed with lz4 instead of pglz, where
/// the server was built with lz4 (PostgreSQL 14 and later) and its operator left
/// `default_toast_compression` at its default: lz4 costs the server less time per stored
/// delivery than pglz. Values already stored keep their compression; PostgreSQL reads both.
pub const LZ4_WHERE_OFFERED: &str = "SELECT set_config('default_toast_compression', 'lz4', false) \
     FROM pg_settings WHERE name = 'default_toast_compression' AND source = 'default' \
     AND 'lz4' = ANY (enumvals)";

/// A PostgreSQL connection idle for this long is pinged before it is used again.
pub const PING_IDLE_AFTER: Duration = Duration::from_secs(1);

static SQLITE_MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// Creates `path` empty, readable and writable by its owner only (0600), unless it exists:
/// the database holds customers' addresses and e-mails,
/// and SQLite gives its `-wal` and `-shm` files the database file's mode.
fn create_private_file(path: &std::path::Path) -> std::io::Result<()> {
    if path.as_os_str().is_empty() || path.exists() {
        return Ok(());
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}

/// Creates `path` and any missing parents, accessible to their owner only (0700); an
/// existing directory keeps its mode. `data_dir` holds Key2print PDFs, which carry
/// customers' designs.
pub fn create_private_dir(path: &std::path::Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(path)
}

impl Store {
    /// Connects to `database_url` (`sqlite://file.db` or `postgres://…`), creating a SQLite
    /// file if missing (WAL, synchronous=FULL: a commit survives power loss).
    pub async fn connect(database_url: &str) -> Result<Store, StoreError> {
        if database_url.starts_with("sqlite:") {
            let opts = SqliteConnectOptions::from_str(database_url)?;
            let in_memory =
                database_url.contains(":memory:") || database_url.contains("mode=memory");
            if !in_memory {
                create_private_file(opts.get_filename()).map_err(sqlx::Error::Io)?;
            }
            let opts = opts
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Full)
                .busy_timeout(Duration::from_secs(10))
                .foreign_keys(true)
                // A new database gets 8 KB pages, so a ~6 KB webhook body fits one page instead
                // of spilling onto an overflow page (fewer pages written per delivery, so less
                // of SQLite's time per delivery). An existing database keeps
                // its page size; WAL mode cannot change it.
                .page_size(8192)
                // A multi-row statement inside a transaction keeps a statement journal (to
                // undo just that statement); past 64 KB SQLite spilled it to a temporary file,
                // created, written and deleted for most group commits. In memory instead.
                .pragma("temp_store", "memory");
            // No ping before each acquire (sqlx's default): a connection to a local file does
            // not go away, and the ping is a round trip to SQLite's thread per transaction.
            // The writer checkpoints in line (SQLite's default, every 1,000 pages): a
            // background checkpointer makes intake slower.
            let writer = SqlitePoolOptions::new()
                .max_connections(1)
                .min_connections(1)
                .test_before_acquire(false)
                .acquire_timeout(Duration::from_secs(60))
                .connect_with(opts.clone())
                .await?;
            // Readers map the file instead of copying pages into each connection's cache
            // (which every write by another connection invalidates). The writer does not:
            // its cache stays warm, and mapped pages it reads (bodies of deliveries it
            // applies) would count as its resident memory.
            let pool = SqlitePoolOptions::new()
                .max_connections(4)
                .min_connections(1)
                .test_before_acquire(false)
                .connect_with(opts.pragma("mmap_size", "268435456"))
                .await?;
            Ok(Store::Sqlite(pool, WriteLock(writer)))
        } else if database_url.starts_with("postgres://")
            || database_url.starts_with("postgresql://")
        {
            Self::connect_postgres(pg_options(database_url)?).await
        } else {
            Err(StoreError::UnsupportedUrl(redact_url(database_url)))
        }
    }

    /// Connects to PostgreSQL with every connection's `search_path` set to `schema`, creating
    /// the schema first. Tests use one schema each; operators may use it to share a database.
    pub async fn connect_postgres_schema(
        database_url: &str,
        schema: &str,
    ) -> Result<Store, StoreError> {
        if !schema
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_')
        {
            return Err(StoreError::UnsupportedUrl(format!("schema {schema:?}")));
        }
        let opts = pg_options(database_url)?;
        let admin = PgPoolOptions::new()
            .max_connections(1)
            .connect_with(opts.clone())
            .await?;
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "CREATE SCHEMA IF NOT EXISTS \"{schema}\""
        )))
        .execute(&admin)
        .await?;
        admin.close().await;
        Self::connect_postgres(opts.options([("search_path", schema)])).await
    }

    async fn connect_postgres(opts: PgConnectOptions) -> Result<Store, StoreError> {
        // sqlx pings a connection before every use by default: a round trip per transaction
        // and per read (about one in ten of a delivery's). A connection used moments ago is
        // alive, so only one idle for longer than PING_IDLE_AFTER is pinged first, as
        // HikariCP's alive-bypass window does; a dead one is dropped and another taken.
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(Duration::from_secs(10))
            .test_before_acquire(false)
            .before_acquire(|conn, meta| {
                Box::pin(async move {
                    if meta.idle_for >= PING_IDLE_AFTER {
                        sqlx::Connection::ping(conn).await?;
                    }
                    Ok(true)
                })
            })
            .after_connect(|conn, _| {
                Box::pin(async move {
                    sqlx::query(LZ4_WHERE_OFFERED).execute(conn).await?;
                    Ok(())
                })
            })
            .connect_with(opts)
            .await?;
        Ok(Store::Postgres(pool))
    }

    /// Applies the migrations of this backend (idempotent).
    pub async fn migrate(&self) -> Result<(), StoreError> {
        match self {
            Store::Sqlite(_, writer) => SQLITE_MIGRATOR.run(writer.pool()).await?,
            Store::Postgres(pool) => POSTGRES_MIGRATOR.run(pool).await?,
        }
        Ok(())
    }

    /// Whether the database answers.
    pub async fn ping(&self) -> Result<(), StoreError> {
        on_pool!(self, |pool| {
            sqlx::query("SELECT 1").execute(pool).await?;
        });
        Ok(())
    }

    /// SQLite: copies the write-ahead log into the database file and empties it
    /// (`wal_checkpoint(TRUNCATE)`). PostgreSQL checkpoints on its own; nothing to do.
    pub async fn checkpoint(&self) -> Result<(), StoreError> {
        if let Store::Sqlite(_, writer) = self {
            sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
                .execute(writer.pool())
                .await?;
        }
        Ok(())
    }

    pub fn backend(&self) -> &'static str {
        match self {
            Store::Sqlite(..) => "sqlite",
            Store::Postgres(_) => "postgres",
        }
    }

    pub async fn close(&self) {
        if let Store::Sqlite(_, writer) = self {
            writer.pool().close().await;
        }
        on_pool!(self, |pool| pool.close().await)
    }
}

/// PostgreSQL connect options for `database_url`. A server on this host (a loopback
/// address, `localhost` or a Unix socket) is reached without TLS unless the URL or
/// `PGSSLMODE` chooses an `sslmode`: nothing crosses a network, and sqlx's default,
/// `prefer`, would encrypt every round trip, which costs intake and dispatch about a tenth.
/// Any other host keeps sqlx's default.
fn pg_options(database_url: &str) -> Result<PgConnectOptions, StoreError> {
    pg_options_with(database_url, std::env::var_os("PGSSLMODE").is_some())
}

fn pg_options_with(database_url: &str, env_ssl_mode: bool) -> Result<PgConnectOptions, StoreError> {
    let opts = PgConnectOptions::from_str(database_url)?;
    let chosen = env_ssl_mode
        || reqwest::Url::parse(database_url).map_or(true, |url| {
            url.query_pairs()
                .any(|(key, _)| key.eq_ignore_ascii_case("sslmode") || key == "ssl-mode")
        });
    if chosen || !is_local_host(opts.get_host()) {
        return Ok(opts);
    }
    Ok(opts.ssl_mode(PgSslMode::Disable))
}

/// Whether a PostgreSQL host names this machine.
fn is_local_host(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host.starts_with('/')
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// A database URL with any password replaced by `***`, for messages.
pub fn redact_url(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        _ => url.to_owned(),
    }
}

/// SQLite's plan for `sql` on a database migrated to the latest schema: its steps.
#[cfg(test)]
pub(crate) async fn sqlite_plan(sql: &str) -> Vec<String> {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}", dir.path().join("plan.db").display());
    let store = Store::connect(&url).await.expect("store");
    store.migrate().await.expect("migrate");
    let Store::Sqlite(pool, _) = &store else {
        panic!("a SQLite store");
    };
    let plan: Vec<(i64, i64, i64, String)> =
        sqlx::query_as(sqlx::AssertSqlSafe(format!("EXPLAIN QUERY PLAN {sql}")))
            .fetch_all(pool)
            .await
            .expect("plan");
    plan.into_iter().map(|p| p.3).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A new SQLite store in a temporary directory (kept as long as the directory is): its
    /// readers and its writer.
    async fn temp_sqlite() -> (tempfile::TempDir, SqlitePool, WriteLock) {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}", dir.path().join("t.db").display());
        let Store::Sqlite(readers, writer) = Store::connect(&url).await.expect("store") else {
            panic!("a SQLite URL gave another store");
        };
        (dir, readers, writer)
    }

    /// `temp_store = MEMORY` (2) on the writer's connection and the readers': statement
    /// journals and temporary tables never go to a file.
    #[tokio::test]
    async fn sqlite_keeps_temporary_data_in_memory() {
        let (_dir, readers, writer) = temp_sqlite().await;
        for pool in [&readers, writer.pool()] {
            let mode: i64 = sqlx::query_scalar("PRAGMA temp_store")
                .fetch_one(pool)
                .await
                .expect("temp_store");
            assert_eq!(mode, 2);
        }
    }

    /// The bundled SQLite is built without memory statistics (`.cargo/config.toml`), so its
    /// allocations take no process-wide mutex.
    #[tokio::test]
    async fn sqlite_is_built_without_memory_statistics() {
        let (_dir, readers, _) = temp_sqlite().await;
        let options: Vec<String> = sqlx::query_scalar("PRAGMA compile_options")
            .fetch_all(&readers)
            .await
            .expect("compile_options");
        assert!(
            options.iter().any(|o| o == "DEFAULT_MEMSTATUS=0"),
            "compile options: {options:?}"
        );
    }

    #[test]
    fn redacts_passwords() {
        assert_eq!(
            redact_url("postgres://bridge:s3cret@db/printbridge"),
            "postgres://bridge:***@db/printbridge"
        );
        assert_eq!(redact_url("sqlite://x.db"), "sqlite://x.db");
    }

    fn mode(url: &str, env_ssl_mode: bool) -> PgSslMode {
        pg_options_with(url, env_ssl_mode)
            .expect("a PostgreSQL URL")
            .get_ssl_mode()
    }

    fn default_mode(url: &str) -> PgSslMode {
        PgConnectOptions::from_str(url)
            .expect("a PostgreSQL URL")
            .get_ssl_mode()
    }

    #[test]
    fn a_server_on_this_host_is_reached_without_tls_unless_a_mode_is_chosen() {
        for url in [
            "postgres://postgres@127.0.0.1:5432/test",
            "postgres://u:p@localhost/db",
            "postgresql://u@[::1]:5432/db",
            "postgres://u@127.0.0.2/db?application_name=pb",
        ] {
            assert!(matches!(mode(url, false), PgSslMode::Disable), "{url}");
        }
        // Chosen in the URL (either spelling) or in PGSSLMODE: kept.
        let require = "postgres://u@127.0.0.1/db?sslmode=require";
        assert!(matches!(mode(require, false), PgSslMode::Require));
        let verify = "postgres://u@localhost/db?ssl-mode=verify-full";
        assert!(matches!(mode(verify, false), PgSslMode::VerifyFull));
        let local = "postgres://u@127.0.0.1/db";
        assert_eq!(
            format!("{:?}", mode(local, true)),
            format!("{:?}", default_mode(local))
        );
        // Another host: sqlx's default.
        for url in ["postgres://u@db.internal/db", "postgres://u@10.0.0.5/db"] {
            assert_eq!(
                format!("{:?}", mode(url, false)),
                format!("{:?}", default_mode(url)),
                "{url}"
            );
        }
    }
}

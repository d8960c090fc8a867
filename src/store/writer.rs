//! Group commit, and the thread it runs on.
//!
//! Callers hand their write to a [`GroupCommit`] and wait for its answer; a writer task
//! takes everything queued meanwhile and writes it in one transaction (one commit, one
//! sync). Nobody waits in line for a lock: a caller waits only for its own answer.
//!
//! A group commit is a chain of statements, each a round trip to the database (SQLite's
//! worker thread, or PostgreSQL's socket) and back. The writer tasks run on a runtime of
//! their own, on a thread of their own, so the wake-up after each answer does not queue
//! behind the server's request tasks, which keeps the dispatcher's recording of finished
//! attempts short.

use std::future::Future;
use std::pin::Pin;
use std::sync::OnceLock;

use tokio::runtime::{Builder, Handle};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use super::{Store, StoreError};

/// Where a queued write's answer goes.
pub type Reply<R> = oneshot::Sender<Result<R, StoreError>>;

/// Writes a group and answers each of its members.
pub type WriteGroup<T, R> =
    fn(Store, Vec<(T, Reply<R>)>) -> Pin<Box<dyn Future<Output = ()> + Send>>;

/// A writer task's queue.
type Queue<T, R> = mpsc::UnboundedSender<(T, Reply<R>)>;

/// Group commit: writes submitted while the writer is busy are written together next.
pub struct GroupCommit<T, R> {
    /// One queue per writer task.
    queues: OnceLock<Vec<Queue<T, R>>>,
    write: WriteGroup<T, R>,
    max_group: usize,
}

impl<T: Send + 'static, R: Send + 'static> GroupCommit<T, R> {
    pub fn new(write: WriteGroup<T, R>, max_group: usize) -> Self {
        GroupCommit {
            queues: OnceLock::new(),
            write,
            max_group: max_group.max(1),
        }
    }

    /// Queues `item` and returns once its group is committed (or failed). The writer tasks
    /// start with the first submission and stop when this is dropped: one on SQLite (a
    /// single writer), [`POSTGRES_WRITERS`] on PostgreSQL. Items with the same `key` (an
    /// order) always go to the same writer, so they are written in the order they came
    /// and two writers never contend for one order's rows.
    pub async fn submit(&self, store: &Store, key: i64, item: T) -> Result<R, StoreError> {
        let queues = self.queues.get_or_init(|| {
            let writers = match store {
                Store::Sqlite(..) => 1,
                Store::Postgres(_) => POSTGRES_WRITERS,
            };
            (0..writers)
                .map(|_| {
                    let (sender, receiver) = mpsc::unbounded_channel();
                    spawn(run_writer(
                        store.clone(),
                        receiver,
                        self.write,
                        self.max_group,
                    ));
                    sender
                })
                .collect()
        });
        let shard = usize::try_from(key.unsigned_abs() % queues.len() as u64).unwrap_or(0);
        let (reply, answer) = oneshot::channel();
        if queues[shard].send((item, reply)).is_err() {
            return Err(StoreError::Unavailable(
                "the database writer has stopped".to_owned(),
            ));
        }
        answer.await.unwrap_or_else(|_| {
            Err(StoreError::Unavailable(
                "the write was interrupted before it was committed".to_owned(),
            ))
        })
    }
}

/// Group transactions in flight at once on PostgreSQL, whose writers do not exclude each
/// other: while one group waits for the server, the others are being written.
pub const POSTGRES_WRITERS: usize = 4;

async fn run_writer<T: Send + 'static, R: Send + 'static>(
    store: Store,
    mut receiver: mpsc::UnboundedReceiver<(T, Reply<R>)>,
    write: WriteGroup<T, R>,
    max_group: usize,
) {
    let mut group = Vec::with_capacity(max_group);
    while receiver.recv_many(&mut group, max_group).await > 0 {
        // In a task of its own: a panic fails this group's callers (their replies are
        // dropped), not the writer.
        let _ = tokio::spawn(write(store.clone(), std::mem::take(&mut group))).await;
    }
}

static WRITER: OnceLock<Option<Handle>> = OnceLock::new();

fn writer() -> Option<&'static Handle> {
    WRITER
        .get_or_init(|| {
            let runtime = match Builder::new_current_thread().enable_all().build() {
                Ok(rt) => rt,
                Err(e) => {
                    tracing::warn!(error = %e, "no writer runtime; group commits share the server's");
                    return None;
                }
            };
            let handle = runtime.handle().clone();
            let spawned = std::thread::Builder::new()
                .name("printbridge-writer".to_owned())
                .spawn(move || runtime.block_on(std::future::pending::<()>()));
            match spawned {
                Ok(_) => Some(handle),
                Err(e) => {
                    tracing::warn!(error = %e, "no writer thread; group commits share the server's runtime");
                    None
                }
            }
        })
        .as_ref()
}

/// Runs `fut` on the writer thread (or, if it could not be started, on the caller's runtime).
pub fn spawn<F>(fut: F) -> JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    match writer() {
        Some(handle) => handle.spawn(fut),
        None => tokio::spawn(fut),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    #[tokio::test]
    async fn runs_on_the_writer_thread() {
        let name = super::spawn(async { std::thread::current().name().map(str::to_owned) })
            .await
            .ok()
            .flatten();
        assert_eq!(name.as_deref(), Some("printbridge-writer"));
    }

    static GROUPS: AtomicUsize = AtomicUsize::new(0);

    /// Answers each member with its own value doubled, slowly, and panics on 13.
    fn doubling(
        _: Store,
        group: Vec<(u32, Reply<u32>)>,
    ) -> Pin<Box<dyn Future<Output = ()> + Send>> {
        Box::pin(async move {
            GROUPS.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            assert!(
                group.iter().all(|(n, _)| *n != 13),
                "a member the writer cannot take"
            );
            for (n, reply) in group {
                let _ = reply.send(Ok(n * 2));
            }
        })
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_writes_share_groups_and_each_gets_its_own_answer() {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}", dir.path().join("g.db").display());
        let store = Store::connect(&url).await.expect("store");
        let commit = Arc::new(GroupCommit::new(doubling, 64));
        let before = GROUPS.load(Ordering::SeqCst);
        let mut tasks = tokio::task::JoinSet::new();
        for n in 100..200u32 {
            let (commit, store) = (commit.clone(), store.clone());
            tasks.spawn(async move { (n, commit.submit(&store, i64::from(n), n).await) });
        }
        while let Some(joined) = tasks.join_next().await {
            let (n, answer) = joined.expect("task");
            assert_eq!(answer.expect("answer"), n * 2);
        }
        let groups = GROUPS.load(Ordering::SeqCst) - before;
        // 100 writes of 20 ms each would take 2 s; grouped, a handful of groups.
        assert!(groups < 20, "{groups} groups for 100 concurrent writes");

        // A group that fails fails its own members only, and the writer goes on.
        let failed = commit.submit(&store, 13, 13).await;
        assert!(
            matches!(failed, Err(StoreError::Unavailable(_))),
            "{failed:?}"
        );
        assert_eq!(
            commit
                .submit(&store, 21, 21)
                .await
                .expect("after a failure"),
            42
        );
    }
}

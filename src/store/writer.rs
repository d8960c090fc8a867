//! The thread that group commits run on.
//!
//! A group commit is a chain of statements, each a round trip to the database (SQLite's
//! worker thread, or PostgreSQL's socket) and back. On the server's runtime, the task that
//! waits for each answer is woken from another thread, so it queues behind the request
//! tasks of a burst before it sends the next statement: under load that wait, not the
//! database, was most of the cost of a delivery. Group commits therefore run on a runtime of
//! their own, on a thread of their own, where nothing else queues.

use std::future::Future;
use std::sync::OnceLock;

use tokio::runtime::{Builder, Handle};
use tokio::task::JoinHandle;

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
    #[tokio::test]
    async fn runs_on_the_writer_thread() {
        let name = super::spawn(async { std::thread::current().name().map(str::to_owned) })
            .await
            .ok()
            .flatten();
        assert_eq!(name.as_deref(), Some("printbridge-writer"));
    }
}

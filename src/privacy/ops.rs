//! The statements that redact one order's personal data, shared by erasure and retention.
//! Each works in batches of [`BATCH`] rows, one short transaction per batch, so a large
//! order never holds SQLite's single writer (and intake behind it) for long.

use sha2::{Digest, Sha256};
use sqlx::Row;

use super::redact::{self, MARKER};
use crate::intake::body;
use crate::store::{Store, StoreError, in_tx, on_pool};

/// Rows read and rewritten per transaction.
pub(crate) const BATCH: i64 = 20;

/// One order of one store.
#[derive(Debug, Clone, Copy)]
pub(crate) struct OrderRef<'a> {
    pub store_id: &'a str,
    pub order_id: i64,
}

/// Which of an order's delivery bodies to redact.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Bodies {
    /// Every one.
    All,
    /// All but the one the order's current snapshot is (the current state).
    Earlier,
    /// Only the current snapshot's.
    Current,
}

/// A delivery body as stored: id, bytes, encoding.
type StoredBody = (i64, Vec<u8>, String);

/// A job's texts that may quote a person: id, result, last error, payload, and its
/// `updated_at` (the rewrite is skipped when the job changed since it was read).
type JobTexts = (i64, Option<String>, Option<String>, String, i64);

/// A job's texts with the attempts' `quotes` replaced (see [`redact::redact_quotes`]) and
/// its kept answer's personal fields redacted; `None` when nothing changed.
fn redact_job_texts(row: JobTexts, quotes: &[String]) -> Option<JobTexts> {
    let (id, result, last_error, payload, updated_at) = row;
    let new_result = result
        .as_deref()
        .map(|r| redact::redact_text(&redact::redact_quotes(r, quotes)));
    let new_error = last_error
        .as_deref()
        .map(|e| redact::redact_quotes(e, quotes));
    let new_payload = redact::redact_quotes(&payload, quotes);
    let same = new_result == result && new_error == last_error && new_payload == payload;
    (!same).then_some((id, new_result, new_error, new_payload, updated_at))
}

impl Store {
    /// The delivery the order's current snapshot is, if any.
    async fn current_delivery(&self, o: OrderRef<'_>) -> Result<Option<i64>, StoreError> {
        let id: Option<i64> = on_pool!(self, |pool| {
            sqlx::query_scalar(
                "SELECT s.delivery_id FROM orders o JOIN order_snapshots s ON s.id = o.snapshot_id \
                 WHERE o.store_id = $1 AND o.order_id = $2",
            )
            .bind(o.store_id)
            .bind(o.order_id)
            .fetch_optional(pool)
            .await?
        });
        Ok(id)
    }

    /// Replaces the bodies of the order's deliveries chosen by `which` (not yet redacted, and
    /// applied: one waiting in the intake queue is left to it) by their redacted form, kept
    /// as it is (`identity`), with the SHA-256 of the body as it was signed. Returns how many.
    pub(crate) async fn redact_deliveries(
        &self,
        o: OrderRef<'_>,
        which: Bodies,
        now: i64,
    ) -> Result<u64, StoreError> {
        let current = match which {
            Bodies::All => None,
            Bodies::Earlier | Bodies::Current => self.current_delivery(o).await?,
        };
        if which == Bodies::Current && current.is_none() {
            return Ok(0);
        }
        // `Earlier` skips the current one; `Current` takes only it.
        let (skip, only) = match which {
            Bodies::All => (-1, None),
            Bodies::Earlier => (current.unwrap_or(-1), None),
            Bodies::Current => (-1, current),
        };
        let mut done = 0u64;
        let mut after = 0i64;
        loop {
            let rows: Vec<StoredBody> = on_pool!(self, |pool| {
                sqlx::query_as(
                    "SELECT id, body, body_encoding FROM deliveries WHERE store_id = $1 \
                     AND order_id = $2 AND id > $3 AND id <> $4 AND ($5 IS NULL OR id = $5) \
                     AND redacted_at IS NULL AND outcome <> 'stored' ORDER BY id LIMIT $6",
                )
                .bind(o.store_id)
                .bind(o.order_id)
                .bind(after)
                .bind(skip)
                .bind(only)
                .bind(BATCH)
                .fetch_all(pool)
                .await?
            });
            let Some(last) = rows.last().map(|r| r.0) else {
                return Ok(done);
            };
            after = last;
            done += self.rewrite_bodies(rows, now).await?;
        }
    }

    /// Redacts the deliveries of one store that name no order (unparsed, ignored, signals
    /// without an order) received before `before`, at most [`BATCH`]; returns how many.
    pub(crate) async fn redact_orderless(
        &self,
        store_id: &str,
        before: i64,
        now: i64,
    ) -> Result<u64, StoreError> {
        let rows: Vec<StoredBody> = on_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT id, body, body_encoding FROM deliveries WHERE store_id = $1 \
                 AND order_id IS NULL AND received_at < $2 AND redacted_at IS NULL \
                 AND outcome <> 'stored' ORDER BY id LIMIT $3",
            )
            .bind(store_id)
            .bind(before)
            .bind(BATCH)
            .fetch_all(pool)
            .await?
        });
        self.rewrite_bodies(rows, now).await
    }

    /// Writes the redacted form of each stored body, in one transaction.
    async fn rewrite_bodies(&self, rows: Vec<StoredBody>, now: i64) -> Result<u64, StoreError> {
        let mut redacted = Vec::with_capacity(rows.len());
        for (id, stored, encoding) in rows {
            let original = body::decode(&encoding, stored)?;
            let sha = hex::encode(Sha256::digest(&original));
            redacted.push((id, redact::redact_body(&original), sha));
        }
        let n = in_tx!(self, |tx| {
            let mut n = 0u64;
            for (id, body, sha) in &redacted {
                n += sqlx::query(
                    "UPDATE deliveries SET body = $2, body_encoding = 'identity', body_size = $3, \
                     redacted_at = $4, original_sha256 = $5 WHERE id = $1 AND redacted_at IS NULL",
                )
                .bind(*id)
                .bind(body.as_slice())
                .bind(i64::try_from(body.len()).unwrap_or(i64::MAX))
                .bind(now)
                .bind(sha.as_str())
                .execute(&mut *tx)
                .await?
                .rows_affected();
            }
            n
        });
        Ok(n)
    }

    /// Redacts the order's snapshot bodies kept apart from their deliveries (those that were
    /// not valid UTF-8); returns how many changed.
    pub(crate) async fn redact_snapshots(&self, o: OrderRef<'_>) -> Result<u64, StoreError> {
        let rows: Vec<(i64, String)> = on_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT id, body FROM order_snapshots WHERE store_id = $1 AND order_id = $2 \
                 AND body <> ''",
            )
            .bind(o.store_id)
            .bind(o.order_id)
            .fetch_all(pool)
            .await?
        });
        let changed: Vec<(i64, String)> = rows
            .into_iter()
            .filter_map(|(id, body)| {
                let red = redact::redact_text(&body);
                (red != body).then_some((id, red))
            })
            .collect();
        self.update_texts(
            "UPDATE order_snapshots SET body = $2 WHERE id = $1",
            &changed,
        )
        .await
    }

    /// Runs `sql` (`$1` id, `$2` text) for each pair, [`BATCH`] per transaction.
    async fn update_texts(
        &self,
        sql: &'static str,
        rows: &[(i64, String)],
    ) -> Result<u64, StoreError> {
        let mut n = 0u64;
        for chunk in rows.chunks(usize::try_from(BATCH).unwrap_or(50)) {
            n += in_tx!(self, |tx| {
                let mut n = 0u64;
                for (id, text) in chunk {
                    n += sqlx::query(sql)
                        .bind(*id)
                        .bind(text.as_str())
                        .execute(&mut *tx)
                        .await?
                        .rows_affected();
                }
                n
            });
        }
        Ok(n)
    }

    /// Replaces the excerpts and errors of the order's attempts by the marker, and redacts what
    /// quotes them: the answers kept with its jobs (personal fields too, see
    /// [`redact::redact_text`]), its jobs' last errors, the payloads of its note and event
    /// jobs and its attention text (a provider's refusal may repeat the name or address it
    /// was sent). The bridge's own words around a quote stay, so a stopped job's reason still
    /// reads "HTTP 400: [redacted]".
    /// Outcome, status, times and durations stay. Jobs that are running are left to their
    /// attempt. Returns how many attempts changed.
    pub(crate) async fn redact_attempts(&self, o: OrderRef<'_>) -> Result<u64, StoreError> {
        let quotes = self.attempt_quotes(o).await?;
        let mut after = 0i64;
        loop {
            let rows: Vec<JobTexts> = on_pool!(self, |pool| {
                sqlx::query_as(
                    "SELECT id, result, last_error, payload, updated_at FROM jobs WHERE store_id = $1 \
                     AND order_id = $2 AND id > $3 AND state <> 'running' ORDER BY id LIMIT $4",
                )
                .bind(o.store_id)
                .bind(o.order_id)
                .bind(after)
                .bind(BATCH)
                .fetch_all(pool)
                .await?
            });
            let Some(last) = rows.last().map(|r| r.0) else {
                break;
            };
            after = last;
            let changed: Vec<JobTexts> = rows
                .into_iter()
                .filter_map(|row| redact_job_texts(row, &quotes))
                .collect();
            self.update_job_texts(&changed).await?;
        }
        self.redact_attention(o, &quotes).await?;
        let n = in_tx!(self, |tx| {
            sqlx::query(
                "UPDATE job_attempts SET \
                 excerpt = CASE WHEN excerpt IS NULL THEN NULL ELSE $3 END, \
                 error = CASE WHEN error IS NULL THEN NULL ELSE $3 END \
                 WHERE job_id IN (SELECT id FROM jobs WHERE store_id = $1 AND order_id = $2 \
                 AND state <> 'running') \
                 AND ((excerpt IS NOT NULL AND excerpt <> $3) OR (error IS NOT NULL AND error <> $3))",
            )
            .bind(o.store_id)
            .bind(o.order_id)
            .bind(MARKER)
            .execute(&mut *tx)
            .await?
            .rows_affected()
        });
        Ok(n)
    }

    /// The providers' words the order's attempts kept (their excerpts, not yet redacted), of
    /// jobs not running: what its jobs' errors, notes and events may quote.
    async fn attempt_quotes(&self, o: OrderRef<'_>) -> Result<Vec<String>, StoreError> {
        let quotes: Vec<String> = on_pool!(self, |pool| {
            sqlx::query_scalar(
                "SELECT DISTINCT a.excerpt FROM job_attempts a JOIN jobs j ON j.id = a.job_id \
                 WHERE j.store_id = $1 AND j.order_id = $2 AND j.state <> 'running' \
                 AND a.excerpt IS NOT NULL AND a.excerpt <> $3",
            )
            .bind(o.store_id)
            .bind(o.order_id)
            .bind(MARKER)
            .fetch_all(pool)
            .await?
        });
        Ok(quotes)
    }

    /// Replaces the attempts' `quotes` in the order's attention text (a stopped job's reason
    /// is repeated there for the operator).
    async fn redact_attention(&self, o: OrderRef<'_>, quotes: &[String]) -> Result<(), StoreError> {
        let attention: Option<Option<String>> = on_pool!(self, |pool| {
            sqlx::query_scalar("SELECT attention FROM orders WHERE store_id = $1 AND order_id = $2")
                .bind(o.store_id)
                .bind(o.order_id)
                .fetch_optional(pool)
                .await?
        });
        let Some(text) = attention.flatten() else {
            return Ok(());
        };
        let redacted = redact::redact_quotes(&text, quotes);
        if redacted != text {
            in_tx!(self, |tx| {
                sqlx::query(
                    "UPDATE orders SET attention = $3 WHERE store_id = $1 AND order_id = $2",
                )
                .bind(o.store_id)
                .bind(o.order_id)
                .bind(redacted.as_str())
                .execute(&mut *tx)
                .await?;
            });
        }
        Ok(())
    }

    /// Writes jobs' redacted texts, in one transaction; a job claimed or replayed since it
    /// was read keeps what it has now.
    async fn update_job_texts(&self, rows: &[JobTexts]) -> Result<(), StoreError> {
        if rows.is_empty() {
            return Ok(());
        }
        in_tx!(self, |tx| {
            for (id, result, last_error, payload, updated_at) in rows {
                sqlx::query(
                    "UPDATE jobs SET result = $2, last_error = $3, payload = $4 \
                     WHERE id = $1 AND updated_at = $5 AND state <> 'running'",
                )
                .bind(*id)
                .bind(result.as_deref())
                .bind(last_error.as_deref())
                .bind(payload.as_str())
                .bind(*updated_at)
                .execute(&mut *tx)
                .await?;
            }
        });
        Ok(())
    }

    /// Removes the order's kept files from `data_dir` and marks their rows removed (name,
    /// size and SHA-256 stay); returns how many.
    pub(crate) async fn remove_files(&self, o: OrderRef<'_>, now: i64) -> Result<u64, StoreError> {
        let rows = on_pool!(self, |pool| {
            sqlx::query(
                "SELECT id, path FROM files WHERE store_id = $1 AND order_id = $2 \
                 AND removed_at IS NULL",
            )
            .bind(o.store_id)
            .bind(o.order_id)
            .fetch_all(pool)
            .await?
            .iter()
            .map(|r| {
                Ok::<_, sqlx::Error>((r.try_get::<i64, _>("id")?, r.try_get::<String, _>("path")?))
            })
            .collect::<Result<Vec<_>, _>>()?
        });
        let mut n = 0u64;
        for (id, path) in rows {
            match tokio::fs::remove_file(&path).await {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => {
                    return Err(StoreError::Internal(format!(
                        "kept file {id} cannot be removed: {e}"
                    )));
                }
            }
            n += in_tx!(self, |tx| {
                sqlx::query("UPDATE files SET path = '', removed_at = $2 WHERE id = $1")
                    .bind(id)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected()
            });
        }
        Ok(n)
    }
}

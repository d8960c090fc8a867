//! Failures of the Key2print product gateway callbacks, kept for the operator beside
//! Key2print's own error log.

use sqlx::Row;

use super::{Store, StoreError, on_pool, on_pool_write};

/// Longest `details` kept (longer texts are cut at a character boundary).
pub const MAX_DETAILS_CHARS: usize = 2000;
/// Longest product identifier kept.
pub const MAX_PRODUCT_IDENTIFIER_CHARS: usize = 200;
/// Records kept per store: older ones are dropped (checked every [`PRUNE_EVERY`] records).
pub const KEEP_PER_STORE: i64 = 10_000;
/// How often (in record ids) the oldest records beyond [`KEEP_PER_STORE`] are dropped.
pub const PRUNE_EVERY: i64 = 100;

/// One recorded gateway failure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatewayErrorRow {
    pub id: i64,
    pub store_id: String,
    /// Unix milliseconds.
    pub at: i64,
    /// The callback: `getProductDetails`, `getAvailableOptions`, `getPrice`, `getSetupData`.
    pub method: String,
    pub product_identifier: Option<String>,
    pub details: String,
}

/// A page of recorded gateway failures, newest first.
#[derive(Debug, Clone, Default)]
pub struct GatewayErrorPage {
    pub errors: Vec<GatewayErrorRow>,
    /// How many match the filter in all.
    pub total: i64,
}

fn cut(s: &str, max_chars: usize) -> String {
    match s.char_indices().nth(max_chars) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_owned(),
    }
}

impl Store {
    /// Records a gateway failure; returns its id. Long texts are cut and only the newest
    /// [`KEEP_PER_STORE`] records of a store are kept (the callbacks are reachable by anyone,
    /// so nothing they send may grow the table without bound).
    pub async fn record_gateway_error(
        &self,
        store_id: &str,
        at: i64,
        method: &str,
        product_identifier: Option<&str>,
        details: &str,
    ) -> Result<i64, StoreError> {
        let product_identifier = product_identifier.map(|p| cut(p, MAX_PRODUCT_IDENTIFIER_CHARS));
        let details = cut(details, MAX_DETAILS_CHARS);
        let id = on_pool_write!(self, |pool| {
            sqlx::query_scalar::<_, i64>(
                "INSERT INTO gateway_errors (store_id, at, method, product_identifier, details) \
                 VALUES ($1, $2, $3, $4, $5) RETURNING id",
            )
            .bind(store_id)
            .bind(at)
            .bind(method)
            .bind(product_identifier.as_deref())
            .bind(details.as_str())
            .fetch_one(pool)
            .await?
        });
        if id % PRUNE_EVERY == 0 {
            self.prune_gateway_errors(store_id, KEEP_PER_STORE).await?;
        }
        Ok(id)
    }

    /// Drops a store's gateway failures beyond the newest `keep`; returns how many.
    pub async fn prune_gateway_errors(&self, store_id: &str, keep: i64) -> Result<u64, StoreError> {
        let n = on_pool_write!(self, |pool| {
            sqlx::query(
                "DELETE FROM gateway_errors WHERE store_id = $1 AND id <= \
                 (SELECT id FROM gateway_errors WHERE store_id = $1 ORDER BY id DESC \
                  LIMIT 1 OFFSET $2)",
            )
            .bind(store_id)
            .bind(keep)
            .execute(pool)
            .await?
            .rows_affected()
        });
        Ok(n)
    }

    /// Gateway failures of a store, newest first, optionally of one product identifier.
    pub async fn gateway_errors(
        &self,
        store_id: &str,
        product_identifier: Option<&str>,
        offset: i64,
        limit: i64,
    ) -> Result<GatewayErrorPage, StoreError> {
        let (rows, total) = on_pool!(self, |pool| {
            let rows = sqlx::query(
                "SELECT id, store_id, at, method, product_identifier, details FROM gateway_errors \
                 WHERE store_id = $1 AND ($2 IS NULL OR product_identifier = $2) \
                 ORDER BY id DESC LIMIT $3 OFFSET $4",
            )
            .bind(store_id)
            .bind(product_identifier)
            .bind(limit)
            .bind(offset)
            .fetch_all(pool)
            .await?
            .iter()
            .map(|r| {
                Ok::<_, sqlx::Error>(GatewayErrorRow {
                    id: r.try_get("id")?,
                    store_id: r.try_get("store_id")?,
                    at: r.try_get("at")?,
                    method: r.try_get("method")?,
                    product_identifier: r.try_get("product_identifier")?,
                    details: r.try_get("details")?,
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
            let total: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM gateway_errors \
                 WHERE store_id = $1 AND ($2 IS NULL OR product_identifier = $2)",
            )
            .bind(store_id)
            .bind(product_identifier)
            .fetch_one(pool)
            .await?;
            (rows, total)
        });
        Ok(GatewayErrorPage {
            errors: rows,
            total,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::cut;

    #[test]
    fn cuts_at_character_boundaries() {
        assert_eq!(cut("abc", 3), "abc");
        assert_eq!(cut("äöüß", 2), "äö…");
    }
}

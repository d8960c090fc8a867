//! A token bucket per store for Key2print session creation: every session (and, for a new
//! guest, a Key2print user) is made at the merchant's Key2print account, on behalf of
//! anyone who can open a product page, so a script must not make them without bound.

use std::collections::HashMap;
use std::sync::Mutex;

/// One store's bucket: `tokens` left at `at_ms`.
struct Bucket {
    tokens: f64,
    at_ms: i64,
}

/// Buckets of `per_minute` tokens, refilled evenly over a minute, one per store.
#[derive(Default)]
pub struct RateLimits {
    buckets: Mutex<HashMap<String, Bucket>>,
}

impl RateLimits {
    pub fn new() -> Self {
        Self::default()
    }

    /// Takes a token of `key`'s bucket (`per_minute` tokens at most, 0 = no limit): `Ok`, or
    /// `Err(seconds)` until the next token.
    pub fn take(&self, key: &str, per_minute: u32, now_ms: i64) -> Result<(), u64> {
        if per_minute == 0 {
            return Ok(());
        }
        let capacity = f64::from(per_minute);
        let per_ms = capacity / 60_000.0;
        let Ok(mut buckets) = self.buckets.lock() else {
            return Ok(());
        };
        let bucket = match buckets.get_mut(key) {
            Some(b) => b,
            None => buckets.entry(key.to_owned()).or_insert(Bucket {
                tokens: capacity,
                at_ms: now_ms,
            }),
        };
        let elapsed = (now_ms - bucket.at_ms).max(0) as f64;
        bucket.tokens = (bucket.tokens + elapsed * per_ms).min(capacity);
        bucket.at_ms = now_ms;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            return Ok(());
        }
        let wait_ms = (1.0 - bucket.tokens) / per_ms;
        Err((wait_ms / 1000.0).ceil().max(1.0) as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_empties_and_refills_over_a_minute() {
        let limits = RateLimits::new();
        assert!(limits.take("a", 2, 0).is_ok());
        assert!(limits.take("a", 2, 0).is_ok());
        assert_eq!(limits.take("a", 2, 0), Err(30));
        assert!(
            limits.take("b", 2, 0).is_ok(),
            "each store has its own bucket"
        );
        assert_eq!(limits.take("a", 2, 20_000), Err(10));
        assert!(limits.take("a", 2, 30_000).is_ok());
        assert!(limits.take("a", 0, 30_000).is_ok(), "0 is no limit");
    }
}

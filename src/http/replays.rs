//! Replays of an identical authentic delivery are answered without storing it again.
//!
//! The key is the delivery's store, topic and `X-WC-Webhook-Signature`: the HMAC of the
//! exact body under the store's secret, already computed to verify it, so identical bytes
//! have an identical key and nothing more is hashed on the intake path. A key is remembered
//! once its delivery is durable; the newest [`REMEMBERED_PER_STORE`] keys are kept per
//! store, in memory: after a restart, or after that many other deliveries, a replay is
//! stored once more (and the ledger finds it a duplicate as before).

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Mutex;

/// Keys remembered per store (about 100 bytes each).
pub const REMEMBERED_PER_STORE: usize = 4096;

#[derive(Default)]
struct Recent {
    keys: HashSet<String>,
    order: VecDeque<String>,
}

/// The recently stored deliveries' keys, per store.
#[derive(Default)]
pub struct RecentDeliveries {
    stores: Mutex<HashMap<String, Recent>>,
}

fn key(topic: Option<&str>, signature: &str) -> String {
    format!("{}\n{}", topic.unwrap_or(""), signature.trim())
}

impl RecentDeliveries {
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether an identical delivery to `store` was stored recently.
    pub fn contains(&self, store: &str, topic: Option<&str>, signature: &str) -> bool {
        self.stores.lock().is_ok_and(|stores| {
            stores
                .get(store)
                .is_some_and(|r| r.keys.contains(&key(topic, signature)))
        })
    }

    /// Remembers a delivery that is durable (stored, or in the intake journal).
    pub fn remember(&self, store: &str, topic: Option<&str>, signature: &str) {
        let Ok(mut stores) = self.stores.lock() else {
            return;
        };
        let recent = match stores.get_mut(store) {
            Some(r) => r,
            None => stores.entry(store.to_owned()).or_default(),
        };
        let k = key(topic, signature);
        if recent.keys.insert(k.clone()) {
            recent.order.push_back(k);
            if recent.order.len() > REMEMBERED_PER_STORE
                && let Some(old) = recent.order.pop_front()
            {
                recent.keys.remove(&old);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_the_newest_keys_per_store() {
        let r = RecentDeliveries::new();
        r.remember("a", Some("order.updated"), "sig0");
        assert!(r.contains("a", Some("order.updated"), "sig0"));
        assert!(!r.contains("b", Some("order.updated"), "sig0"));
        assert!(!r.contains("a", Some("order.created"), "sig0"));
        for n in 1..=REMEMBERED_PER_STORE {
            r.remember("a", Some("order.updated"), &format!("sig{n}"));
        }
        assert!(!r.contains("a", Some("order.updated"), "sig0"));
        assert!(r.contains("a", Some("order.updated"), "sig1"));
    }
}

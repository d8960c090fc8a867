//! Replays of an identical authentic delivery are answered without storing it again.
//!
//! The key is the delivery's store, topic and `X-WC-Webhook-Signature`: the HMAC of the
//! exact body under the store's secret, already computed to verify it, so identical bytes
//! have an identical key and nothing more is hashed on the intake path. A key is remembered
//! once its delivery is durable; the newest [`REMEMBERED_PER_STORE`] keys are kept per
//! store, in memory: after a restart, or after that many other deliveries, a replay is
//! stored once more (and the ledger finds it a duplicate as before).

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

/// Keys remembered per store (about 100 bytes each).
pub const REMEMBERED_PER_STORE: usize = 4096;

#[derive(Default)]
struct Recent {
    /// Each key's stored delivery.
    keys: HashMap<String, i64>,
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

    /// The delivery to `store` stored recently with the same topic and signature, if any.
    pub fn find(&self, store: &str, topic: Option<&str>, signature: &str) -> Option<i64> {
        let stores = self.stores.lock().ok()?;
        stores.get(store)?.keys.get(&key(topic, signature)).copied()
    }

    /// Remembers a delivery once it is stored, under its id.
    pub fn remember(&self, store: &str, topic: Option<&str>, signature: &str, delivery_id: i64) {
        let Ok(mut stores) = self.stores.lock() else {
            return;
        };
        let recent = match stores.get_mut(store) {
            Some(r) => r,
            None => stores.entry(store.to_owned()).or_default(),
        };
        let k = key(topic, signature);
        if recent.keys.insert(k.clone(), delivery_id).is_none() {
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
    fn remembers_the_newest_keys_per_store_with_their_deliveries() {
        let r = RecentDeliveries::new();
        r.remember("a", Some("order.updated"), "sig0", 7);
        assert_eq!(r.find("a", Some("order.updated"), "sig0"), Some(7));
        assert_eq!(r.find("b", Some("order.updated"), "sig0"), None);
        assert_eq!(r.find("a", Some("order.created"), "sig0"), None);
        for n in 1..=REMEMBERED_PER_STORE {
            r.remember("a", Some("order.updated"), &format!("sig{n}"), 7 + n as i64);
        }
        assert_eq!(r.find("a", Some("order.updated"), "sig0"), None);
        assert_eq!(r.find("a", Some("order.updated"), "sig1"), Some(8));
    }
}

//! The Key2print Product Gateway backed by the WooCommerce catalog: product details,
//! available options, price and setup data computed from the shop's products and variations,
//! with catalog reads cached per product.

use std::collections::HashMap;
use std::sync::Mutex;

/// Cached catalog reads, per (store, product).
#[derive(Default)]
pub struct CatalogCache {
    entries: Mutex<HashMap<(String, i64), CachedProduct>>,
}

/// A product and its variations as read from the shop, with the time they were read.
#[derive(Clone)]
pub struct CachedProduct {
    pub read_at_ms: i64,
    pub product: crate::woo::catalog::Product,
    pub variations: Vec<crate::woo::catalog::Variation>,
}

impl CatalogCache {
    pub fn new() -> Self {
        Self::default()
    }

    /// Drops what is cached for one product.
    pub fn flush(&self, store: &str, product_id: i64) {
        if let Ok(mut e) = self.entries.lock() {
            e.remove(&(store.to_owned(), product_id));
        }
    }

    /// The cached product if read less than `max_age_ms` ago.
    pub fn get(
        &self,
        store: &str,
        product_id: i64,
        now_ms: i64,
        max_age_ms: i64,
    ) -> Option<CachedProduct> {
        let e = self.entries.lock().ok()?;
        e.get(&(store.to_owned(), product_id))
            .filter(|c| now_ms - c.read_at_ms < max_age_ms)
            .cloned()
    }

    pub fn put(&self, store: &str, product_id: i64, value: CachedProduct) {
        if let Ok(mut e) = self.entries.lock() {
            e.insert((store.to_owned(), product_id), value);
        }
    }
}

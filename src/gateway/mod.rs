//! The Key2print Product Gateway backed by the WooCommerce catalog: product details,
//! available options, price and setup data computed from the shop's products and variations,
//! with catalog reads cached per product.
//!
//! [`auth`] verifies a callback, [`catalog`] maps a product and its variations to options and
//! setups, [`price`] prices a setup and maps it to editor settings. [`answer`] ties them
//! together for one callback; the HTTP layer only wraps the result in the spec's envelope.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;

use crate::config::{Key2printConfig, StoreConfig};
use crate::woo::catalog::{AttributeTerm, Product, Variation};
use crate::woo::rest::WooClient;

pub mod auth;
pub mod catalog;
pub mod price;
pub mod setup_price;

/// Cached catalog reads, per (store, product), and the stores' REST clients.
#[derive(Default)]
pub struct CatalogCache {
    entries: Mutex<HashMap<(String, i64), CachedProduct>>,
    clients: Mutex<HashMap<String, Arc<WooClient>>>,
}

/// A product and its variations as read from the shop, with the time they were read.
#[derive(Clone)]
pub struct CachedProduct {
    pub read_at_ms: i64,
    pub product: Product,
    pub variations: Vec<Variation>,
    /// Terms of the product's global variation attributes, by attribute id.
    pub terms: HashMap<i64, Vec<AttributeTerm>>,
    /// The shop's currency and price decimals.
    pub money: price::Money,
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

    /// Keeps a product read.
    pub fn put(&self, store: &str, product_id: i64, value: CachedProduct) {
        if let Ok(mut e) = self.entries.lock() {
            e.insert((store.to_owned(), product_id), value);
        }
    }

    /// The store's WooCommerce REST client, built once.
    fn client(&self, store: &StoreConfig, timeout: Duration) -> Option<Arc<WooClient>> {
        let mut clients = self.clients.lock().ok()?;
        if let Some(c) = clients.get(&store.id) {
            return Some(c.clone());
        }
        let c = Arc::new(WooClient::from_store(store, timeout)?);
        clients.insert(store.id.clone(), c.clone());
        Some(c)
    }
}

/// Why a callback got `success: false`. The text is what the editor (and Key2print's error
/// log) shows: it names the cause and holds no secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GatewayError {
    #[error("{0}")]
    Auth(#[from] auth::AuthError),
    #[error("store {0} has no [stores.key2print] section")]
    NotConfigured(String),
    #[error("store {0} has no WooCommerce REST keys (woocommerce_url, consumer key and secret)")]
    NoRestKeys(String),
    #[error("WooCommerce: {0}")]
    Woo(String),
    #[error("product {0} does not exist in the shop")]
    ProductNotFound(i64),
    #[error("{0} is a variation id; sessions name the parent product")]
    NotAProduct(i64),
    #[error("the query has no setup parameter")]
    MissingSetup,
    #[error("bad setup: {0}")]
    BadSetup(String),
    #[error("no variation exists for the setup {0}")]
    NoVariation(String),
    #[error("no variation of the product can be ordered now")]
    NothingOrderable,
    #[error("{0} has no price")]
    NoPrice(String),
    #[error("tax: {0}")]
    Tax(String),
    #[error("price tree (_printbridge_key2print_price_tree): {0}")]
    PriceTree(String),
    #[error("setup data: {0}")]
    SetupData(String),
}

/// The four callbacks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    ProductDetails,
    AvailableOptions,
    Price,
    SetupData,
}

impl Method {
    /// The method's name in Key2print's error log.
    pub fn name(self) -> &'static str {
        match self {
            Method::ProductDetails => "getProductDetails",
            Method::AvailableOptions => "getAvailableOptions",
            Method::Price => "getPrice",
            Method::SetupData => "getSetupData",
        }
    }
}

/// What one callback may use.
pub struct Gateway<'a> {
    pub store: &'a StoreConfig,
    pub cache: &'a CatalogCache,
    pub now_ms: i64,
    /// Timeout of each WooCommerce call.
    pub timeout: Duration,
}

fn woo(e: crate::woo::rest::WooError) -> GatewayError {
    GatewayError::Woo(e.to_string())
}

/// The terms of each attribute a variable product's variations are made of, by attribute id.
async fn variation_terms(
    client: &WooClient,
    product: &Product,
) -> Result<HashMap<i64, Vec<AttributeTerm>>, GatewayError> {
    let mut terms = HashMap::new();
    if product.is_variable() {
        for a in product
            .attributes
            .iter()
            .filter(|a| a.variation && a.id > 0)
        {
            terms.insert(a.id, client.attribute_terms(a.id).await.map_err(woo)?);
        }
    }
    Ok(terms)
}

/// The shop's currency and its number of decimals (2 when not set, at most 8).
async fn shop_money(client: &WooClient) -> Result<price::Money, GatewayError> {
    let settings = client.settings_general().await.map_err(woo)?;
    let currency = settings
        .currency()
        .filter(|c| !c.trim().is_empty())
        .ok_or_else(|| GatewayError::Woo("the shop's settings name no currency".to_owned()))?
        .trim()
        .to_owned();
    Ok(price::Money {
        currency,
        decimals: settings.price_decimals().unwrap_or(2).min(8),
    })
}

impl Gateway<'_> {
    fn key2print(&self) -> Result<&Key2printConfig, GatewayError> {
        self.store
            .key2print
            .as_ref()
            .ok_or_else(|| GatewayError::NotConfigured(self.store.id.clone()))
    }

    /// The product and its variations: cached for `catalog_cache_secs`, else read.
    pub async fn load(&self, product_id: i64) -> Result<CachedProduct, GatewayError> {
        let max_age_ms = i64::try_from(self.key2print()?.catalog_cache_secs)
            .unwrap_or(i64::MAX / 1000)
            .saturating_mul(1000);
        if max_age_ms > 0
            && let Some(c) = self
                .cache
                .get(&self.store.id, product_id, self.now_ms, max_age_ms)
        {
            return Ok(c);
        }
        let client = self
            .cache
            .client(self.store, self.timeout)
            .ok_or_else(|| GatewayError::NoRestKeys(self.store.id.clone()))?;
        let product = client.get_product(product_id).await.map_err(|e| {
            if e.is_not_found() {
                GatewayError::ProductNotFound(product_id)
            } else {
                woo(e)
            }
        })?;
        if product.kind.eq_ignore_ascii_case("variation") || product.parent_id > 0 {
            return Err(GatewayError::NotAProduct(product_id));
        }
        let variations = if product.is_variable() {
            client.product_variations(product_id).await.map_err(woo)?
        } else {
            Vec::new()
        };
        let terms = variation_terms(&client, &product).await?;
        let money = shop_money(&client).await?;
        let cached = CachedProduct {
            read_at_ms: self.now_ms,
            product,
            variations,
            terms,
            money,
        };
        if max_age_ms > 0 {
            self.cache.put(&self.store.id, product_id, cached.clone());
        }
        Ok(cached)
    }

    /// Authenticates one callback from its decoded query parameters and computes its `data`.
    pub async fn answer(
        &self,
        method: Method,
        params: &[(String, String)],
    ) -> Result<Value, GatewayError> {
        let call = auth::verify(params, self.key2print()?, self.now_ms)?;
        let setup = match (method, call.setup.as_deref()) {
            (Method::ProductDetails, _) => None,
            (_, None) => return Err(GatewayError::MissingSetup),
            (_, Some(s)) => Some(catalog::parse_setup(s)?),
        };
        let cached = self.load(call.product_id).await?;
        let model = catalog::ProductModel::new(&cached.product, &cached.variations, &cached.terms);
        let json = |v: Result<Value, serde_json::Error>| {
            v.map_err(|e| GatewayError::Woo(format!("cannot encode the answer: {e}")))
        };
        let Some(setup) = setup else {
            return json(serde_json::to_value(model.details()));
        };
        let sel = model.resolve(&setup);
        match method {
            Method::ProductDetails => json(serde_json::to_value(model.details())),
            Method::AvailableOptions => json(serde_json::to_value(model.available(&sel)?)),
            Method::Price => {
                let item = model.item(&sel)?;
                let priced = price::priced(self.store, &cached.product, &item, &cached.money)?;
                json(serde_json::to_value(price::price_answer(
                    &priced,
                    &cached.money,
                )?))
            }
            Method::SetupData => {
                let item = model.item(&sel)?;
                json(serde_json::to_value(price::setup_data(
                    &cached.product,
                    &item,
                )?))
            }
        }
    }
}

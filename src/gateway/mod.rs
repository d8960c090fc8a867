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
use crate::woo::rest::{GeneralSettings, WooClient};

pub mod auth;
pub mod catalog;
pub mod price;
pub mod setup_price;
pub mod tax;

/// Cached catalog reads, per (store, product), the shops' settings per store, and the
/// stores' REST clients.
#[derive(Default)]
pub struct CatalogCache {
    entries: Mutex<HashMap<(String, i64), CachedProduct>>,
    shops: Mutex<HashMap<String, ShopSettings>>,
    clients: Mutex<HashMap<String, Arc<WooClient>>>,
}

/// The shop's settings prices depend on (currency, tax settings and rates), with the time
/// they were read.
#[derive(Clone)]
pub struct ShopSettings {
    pub read_at_ms: i64,
    pub money: price::Money,
    pub tax: Arc<tax::ShopTax>,
}

/// A product and its variations as read from the shop, with the time they were read.
#[derive(Clone)]
pub struct CachedProduct {
    pub read_at_ms: i64,
    pub product: Product,
    pub variations: Vec<Variation>,
    /// Terms of the product's global variation attributes, by attribute id.
    pub terms: HashMap<i64, Vec<AttributeTerm>>,
    /// The shop's currency and price decimals ([`Gateway::load`] sets the store's current
    /// ones).
    pub money: price::Money,
    /// The shop's tax settings and rates ([`Gateway::load`] sets the store's current ones).
    pub tax: Arc<tax::ShopTax>,
}

impl CachedProduct {
    /// The price of `item` (this product or one of its variations) in `store`, with the
    /// shop's money and tax as read with the product.
    pub fn priced<'a>(
        &'a self,
        store: &StoreConfig,
        item: &catalog::Item<'a>,
    ) -> Result<price::Priced<'a>, GatewayError> {
        price::priced(store, &self.product, item, &self.money, &self.tax)
    }
}

impl CatalogCache {
    pub fn new() -> Self {
        Self::default()
    }

    /// Drops what is cached for one product, and the store's settings (so that after a
    /// change of the shop's tax settings, saving any product brings the new ones).
    pub fn flush(&self, store: &str, product_id: i64) {
        if let Ok(mut e) = self.entries.lock() {
            e.remove(&(store.to_owned(), product_id));
        }
        if let Ok(mut s) = self.shops.lock() {
            s.remove(store);
        }
    }

    /// The store's cached settings if read less than `max_age_ms` ago.
    fn shop(&self, store: &str, now_ms: i64, max_age_ms: i64) -> Option<ShopSettings> {
        let s = self.shops.lock().ok()?;
        s.get(store)
            .filter(|c| now_ms - c.read_at_ms < max_age_ms)
            .cloned()
    }

    /// Keeps a store's settings.
    fn put_shop(&self, store: &str, value: ShopSettings) {
        if let Ok(mut s) = self.shops.lock() {
            s.insert(store.to_owned(), value);
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
fn shop_money(settings: &GeneralSettings) -> Result<price::Money, GatewayError> {
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

/// The shop's currency, tax settings and rates: `/settings/general`, and with taxes enabled
/// `/settings/tax` and every page of `/taxes`.
async fn read_shop(client: &WooClient, now_ms: i64) -> Result<ShopSettings, GatewayError> {
    let general = client.settings_general().await.map_err(woo)?;
    let money = shop_money(&general)?;
    let tax_error = |e: crate::woo::rest::WooError| {
        GatewayError::Woo(format!("reading the shop's tax settings and rates: {e}"))
    };
    let (tax_settings, rates) = if tax::ShopTax::enabled_in(&general) {
        let settings = client.settings_tax().await.map_err(tax_error)?;
        (Some(settings), client.taxes().await.map_err(tax_error)?)
    } else {
        (None, Vec::new())
    };
    Ok(ShopSettings {
        read_at_ms: now_ms,
        money,
        tax: Arc::new(tax::ShopTax::from_settings(
            &general,
            tax_settings.as_ref(),
            rates,
        )),
    })
}

impl Gateway<'_> {
    fn key2print(&self) -> Result<&Key2printConfig, GatewayError> {
        self.store
            .key2print
            .as_ref()
            .ok_or_else(|| GatewayError::NotConfigured(self.store.id.clone()))
    }

    /// How long catalog reads are kept (`catalog_cache_secs`), in milliseconds.
    fn max_age_ms(&self) -> Result<i64, GatewayError> {
        Ok(i64::try_from(self.key2print()?.catalog_cache_secs)
            .unwrap_or(i64::MAX / 1000)
            .saturating_mul(1000))
    }

    /// The shop's settings: cached per store for `catalog_cache_secs`, else read.
    async fn shop(&self, client: &WooClient) -> Result<ShopSettings, GatewayError> {
        let max_age_ms = self.max_age_ms()?;
        if max_age_ms > 0
            && let Some(s) = self.cache.shop(&self.store.id, self.now_ms, max_age_ms)
        {
            return Ok(s);
        }
        let shop = read_shop(client, self.now_ms).await?;
        if max_age_ms > 0 {
            self.cache.put_shop(&self.store.id, shop.clone());
        }
        Ok(shop)
    }

    /// The product and its variations (cached for `catalog_cache_secs`, else read), with the
    /// store's current settings (cached per store, so a flush shows in every product).
    pub async fn load(&self, product_id: i64) -> Result<CachedProduct, GatewayError> {
        let max_age_ms = self.max_age_ms()?;
        let client = self
            .cache
            .client(self.store, self.timeout)
            .ok_or_else(|| GatewayError::NoRestKeys(self.store.id.clone()))?;
        let cached = match max_age_ms > 0 {
            true => self
                .cache
                .get(&self.store.id, product_id, self.now_ms, max_age_ms),
            false => None,
        };
        let shop = self.shop(&client).await?;
        match cached {
            Some(c) => Ok(CachedProduct {
                money: shop.money,
                tax: shop.tax,
                ..c
            }),
            None => {
                self.read_product(&client, product_id, max_age_ms, shop)
                    .await
            }
        }
    }

    /// Reads a product, its variations and their attributes' terms from the shop, and keeps
    /// them (with `shop`) when caching.
    async fn read_product(
        &self,
        client: &WooClient,
        product_id: i64,
        max_age_ms: i64,
        shop: ShopSettings,
    ) -> Result<CachedProduct, GatewayError> {
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
        let terms = variation_terms(client, &product).await?;
        let cached = CachedProduct {
            read_at_ms: self.now_ms,
            product,
            variations,
            terms,
            money: shop.money,
            tax: shop.tax,
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
                let priced = cached.priced(self.store, &item)?;
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

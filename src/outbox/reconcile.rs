//! The reconciler: WooCommerce never re-sends a failed webhook and disables a webhook after
//! repeated failures, so the bridge also asks each shop (with REST keys) for orders changed
//! since it last looked and feeds them through the same intake path as a webhook. Intake's
//! deduplication makes the overlap harmless. `printbridge backfill` does the same on demand.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, NaiveDateTime, Utc};
use tokio::sync::watch;

use crate::config::StoreConfig;
use crate::http::AppState;
use crate::intake::apply::IntakeResult;
use crate::intake::parse::{Delivery, Source, parse_delivery};
use crate::store::{Store, StoreError};
use crate::woo::rest::{WooClient, WooError};

/// Re-reading this much before the newest change seen covers WooCommerce's whole-second,
/// strictly-after comparison and clocks that disagree a little.
const OVERLAP: Duration = Duration::from_secs(120);

#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    #[error("store {0} has no WooCommerce REST keys (woocommerce_url, consumer key and secret)")]
    NoKeys(String),
    #[error(transparent)]
    Woo(#[from] WooError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What one pass did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Pass {
    pub fetched: usize,
    pub applied: usize,
    pub jobs_planned: u32,
    /// The newest `date_modified_gmt` seen (naive UTC).
    pub newest: Option<String>,
}

/// Stores an order read through REST exactly as intake stores a webhook delivery.
pub async fn ingest_order_json(
    store: &Store,
    cfg: &StoreConfig,
    source: Source,
    raw: Vec<u8>,
    now: i64,
) -> Result<IntakeResult, StoreError> {
    let parsed = parse_delivery(Some("order.updated"), &raw);
    let delivery = Delivery {
        store_id: cfg.id.clone(),
        source,
        topic: Some("order.updated".to_owned()),
        webhook_id: None,
        delivery_ref: None,
        content_type: Some("application/json".to_owned()),
        body: raw,
    };
    store.record_delivery(cfg, &delivery, &parsed, now).await
}

fn parse_gmt(s: &str) -> Option<DateTime<Utc>> {
    NaiveDateTime::parse_from_str(s.trim(), "%Y-%m-%dT%H:%M:%S")
        .ok()
        .map(|n| n.and_utc())
}

/// Fetches every order changed after `since` in a status that counts as paid for some payment
/// method of the store, and ingests it (the ledger decides per order whether it is paid).
pub async fn pass(
    store: &Store,
    cfg: &StoreConfig,
    client: &WooClient,
    since: DateTime<Utc>,
    source: Source,
    now: impl Fn() -> i64,
) -> Result<Pass, ReconcileError> {
    let paid = cfg.any_paid_statuses();
    let statuses: Vec<&str> = paid.iter().map(String::as_str).collect();
    let orders = client.all_orders_modified_after(since, &statuses).await?;
    let mut out = Pass {
        fetched: orders.len(),
        ..Pass::default()
    };
    for fetched in orders {
        if let Some(m) = fetched.order.date_modified_gmt.clone()
            && out.newest.as_deref().is_none_or(|n| m.as_str() > n)
        {
            out.newest = Some(m);
        }
        let result = ingest_order_json(store, cfg, source, fetched.raw, now()).await?;
        if result.outcome.as_str() == "applied" {
            out.applied += 1;
        }
        out.jobs_planned += result.jobs_planned;
    }
    Ok(out)
}

/// Polls every store with REST keys every `reconcile_interval_secs` until shutdown.
pub async fn run(state: Arc<AppState>, mut shutdown: watch::Receiver<bool>) {
    let every = Duration::from_secs(state.config.dispatch.reconcile_interval_secs);
    if every.is_zero() {
        return;
    }
    let timeout = state.config.dispatch.request_timeout();
    let clients: Vec<(StoreConfig, WooClient)> = state
        .config
        .stores
        .iter()
        .filter_map(|s| WooClient::from_store(s, timeout).map(|c| (s.clone(), c)))
        .collect();
    if clients.is_empty() {
        return;
    }
    loop {
        for (cfg, client) in &clients {
            reconcile_store(&state, cfg, client).await;
        }
        tokio::select! {
            _ = shutdown.changed() => return,
            _ = tokio::time::sleep(every) => {}
        }
        if *shutdown.borrow() {
            return;
        }
    }
}

/// One reconcile pass over a store: from its cursor (a day back on the first run, less an
/// overlap), and the cursor saved with the newest change seen and the pass's error if any.
async fn reconcile_store(state: &AppState, cfg: &StoreConfig, client: &WooClient) {
    let now = state.clock.now_ms();
    let cursor = match state.store.reconcile_cursor(&cfg.id).await {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!(store = %cfg.id, error = %e, "cannot read the reconcile cursor");
            return;
        }
    };
    // First run: look back one day.
    let since = cursor.as_deref().and_then(parse_gmt).unwrap_or_else(|| {
        DateTime::from_timestamp_millis(now).unwrap_or_default() - chrono::Duration::days(1)
    }) - chrono::Duration::from_std(OVERLAP).unwrap_or_default();
    let clock = state.clock.clone();
    let result = pass(&state.store, cfg, client, since, Source::Reconcile, || {
        clock.now_ms()
    })
    .await;
    let (newest, error) = match &result {
        Ok(p) => {
            if p.jobs_planned > 0 {
                state.wake_dispatcher();
            }
            if p.applied > 0 {
                tracing::info!(store = %cfg.id, fetched = p.fetched, applied = p.applied, "reconciler found changes");
            }
            (p.newest.clone().or(cursor.clone()), None)
        }
        Err(e) => {
            tracing::warn!(store = %cfg.id, error = %e, "reconcile pass failed");
            (cursor.clone(), Some(e.to_string()))
        }
    };
    let newest = newest.unwrap_or_else(|| {
        (DateTime::from_timestamp_millis(now).unwrap_or_default() - chrono::Duration::days(1))
            .format("%Y-%m-%dT%H:%M:%S")
            .to_string()
    });
    if let Err(e) = state
        .store
        .save_reconcile_cursor(&cfg.id, &newest, now, error.as_deref())
        .await
    {
        tracing::warn!(store = %cfg.id, error = %e, "cannot save the reconcile cursor");
    }
}

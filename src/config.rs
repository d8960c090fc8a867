//! Configuration: one TOML file plus environment overrides.
//!
//! With no file the bridge runs on embedded defaults (SQLite in the working directory,
//! 127.0.0.1:8080). Any string value written `env:NAME` or `file:/path` is read from that
//! environment variable or file, so secrets need not sit in the file. The key names are a
//! contract with the plugin and the docs (see docs/ARCHITECTURE.md, "Configuration keys"); add
//! keys, rename none.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::num::{NonZeroU32, NonZeroU64, NonZeroUsize};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Deserializer};

use crate::secret::Secret;

pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
pub const DEFAULT_DATABASE_URL: &str = "sqlite://printbridge.db";
pub const DEFAULT_DATA_DIR: &str = "./printbridge-data";
pub const DEFAULT_CONFIG_FILE: &str = "printbridge.toml";
/// The shortest `admin_token` accepted: it guards every order and delivery of every store.
pub const MIN_ADMIN_TOKEN_CHARS: usize = 16;
/// The largest `max_body_bytes` accepted (64 MiB): a WooCommerce order is a few KB, a
/// hundred-line order well under 1 MiB, and every body is held in memory while it is read.
pub const MAX_BODY_BYTES_CAP: usize = 64 * 1024 * 1024;

/// Whole seconds from 1 to [`ServerSecs::MAX`] (an hour): a timeout of the HTTP server or
/// the shutdown grace. A value out of range is refused while the file is read, the key named.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerSecs(u64);

impl ServerSecs {
    pub const MAX: u64 = 3600;

    /// `secs` when it is from 1 to [`ServerSecs::MAX`].
    pub const fn new(secs: u64) -> Option<ServerSecs> {
        if secs >= 1 && secs <= Self::MAX {
            Some(ServerSecs(secs))
        } else {
            None
        }
    }

    /// A default written in the code; out of range fails the build.
    const fn from_const(secs: u64) -> ServerSecs {
        match ServerSecs::new(secs) {
            Some(s) => s,
            None => panic!("a server default is out of range"),
        }
    }

    pub const fn get(self) -> u64 {
        self.0
    }

    pub const fn duration(self) -> Duration {
        Duration::from_secs(self.0)
    }
}

impl<'de> Deserialize<'de> for ServerSecs {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let secs = u64::deserialize(d)?;
        ServerSecs::new(secs).ok_or_else(|| {
            serde::de::Error::custom(format!("must be between 1 and {}", ServerSecs::MAX))
        })
    }
}

/// The largest webhook body accepted, in bytes: from 1024 to [`MAX_BODY_BYTES_CAP`]
/// (default 2 MiB). A value out of range is refused while the file is read, the key named.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BodyLimit(usize);

impl BodyLimit {
    pub const MIN: usize = 1024;

    /// `bytes` when it is from [`BodyLimit::MIN`] to [`MAX_BODY_BYTES_CAP`].
    pub const fn new(bytes: usize) -> Option<BodyLimit> {
        if bytes >= Self::MIN && bytes <= MAX_BODY_BYTES_CAP {
            Some(BodyLimit(bytes))
        } else {
            None
        }
    }

    pub const fn get(self) -> usize {
        self.0
    }
}

impl Default for BodyLimit {
    fn default() -> Self {
        BodyLimit(2 * 1024 * 1024)
    }
}

impl<'de> Deserialize<'de> for BodyLimit {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let bytes = usize::deserialize(d)?;
        BodyLimit::new(bytes).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "must be between {} and {MAX_BODY_BYTES_CAP} (64 MiB)",
                BodyLimit::MIN
            ))
        })
    }
}

/// Keys of the intake journal, which the bridge does not have: every delivery is committed in
/// the database before its answer. A file that sets one is refused with a message naming it.
pub const REMOVED_KEYS: [&str; 2] = ["intake_journal", "intake_journal_dir"];
/// The environment variable of the intake journal, refused like [`REMOVED_KEYS`].
pub const REMOVED_ENV: &str = "PRINTBRIDGE_INTAKE_JOURNAL";
const INTAKE_JOURNAL_GONE: &str = "the intake journal is gone (every delivery is committed in \
     the database before its answer, with no setting to choose)";

/// What went wrong with the configuration; `key` names the offending key as a TOML path.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Parse { path: String, message: String },
    #[error("{key}: {message}")]
    Invalid { key: String, message: String },
}

impl ConfigError {
    fn invalid(key: impl Into<String>, message: impl Into<String>) -> Self {
        ConfigError::Invalid {
            key: key.into(),
            message: message.into(),
        }
    }

    /// The key the error is about, when there is one.
    pub fn key(&self) -> Option<&str> {
        match self {
            ConfigError::Invalid { key, .. } => Some(key),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default = "default_listen")]
    pub listen: String,
    #[serde(default = "default_database_url")]
    pub database_url: String,
    /// How providers and the shop reach the bridge (Key2print gateway callback URLs).
    #[serde(default)]
    pub public_url: Option<String>,
    /// Bearer token for `/v1/admin`. Without one the admin API answers 401 to everyone.
    #[serde(default)]
    pub admin_token: Option<Secret>,
    #[serde(default = "default_data_dir")]
    pub data_dir: PathBuf,
    /// Largest webhook body accepted, in bytes (default 2 MiB).
    #[serde(default)]
    pub max_body_bytes: BodyLimit,
    /// On SIGTERM, how long the server may take to answer the requests it accepted before
    /// it closes what is still open, in seconds.
    #[serde(default = "default_shutdown_grace_secs")]
    pub shutdown_grace_secs: ServerSecs,
    /// Seconds a client has to send a request's head, from the connection's opening or
    /// from the first byte of a further request on a kept-alive connection.
    #[serde(default = "default_header_read_timeout_secs")]
    pub header_read_timeout_secs: ServerSecs,
    /// Seconds a client has to send a request's whole body (408 after).
    #[serde(default = "default_body_read_timeout_secs")]
    pub body_read_timeout_secs: ServerSecs,
    /// Seconds a kept-alive connection may wait for its next request before it is closed.
    #[serde(default = "default_idle_timeout_secs")]
    pub idle_timeout_secs: ServerSecs,
    #[serde(default)]
    pub dispatch: DispatchConfig,
    /// How often the privacy sweep runs (retention and the follow-up of erasures), in
    /// seconds (0 = off).
    #[serde(default = "default_privacy_sweep_secs")]
    pub privacy_sweep_interval_secs: u64,
    #[serde(default)]
    pub stores: Vec<StoreConfig>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DispatchConfig {
    /// Run the outbox worker in this process.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Attempts before a job becomes a dead letter.
    #[serde(
        default = "default_max_attempts",
        deserialize_with = "at_least_one::<_, u32, _>"
    )]
    pub max_attempts: NonZeroU32,
    /// Age in seconds after which a still-failing job becomes a dead letter.
    #[serde(default = "default_max_age_secs")]
    pub max_age_secs: u64,
    /// First retry delay in seconds; doubles per attempt up to `backoff_cap_secs`.
    #[serde(default = "default_backoff_base_secs")]
    pub backoff_base_secs: u64,
    #[serde(default = "default_backoff_cap_secs")]
    pub backoff_cap_secs: u64,
    /// Timeout of one provider call, in seconds. The job lease is longer than this.
    #[serde(
        default = "default_request_timeout_secs",
        deserialize_with = "at_least_one::<_, u64, _>"
    )]
    pub request_timeout_secs: NonZeroU64,
    /// How long a claimed job stays with its worker before another may take it over, in
    /// seconds (default: three request timeouts plus 30 s, so a slow call is never taken over
    /// while still running).
    #[serde(default)]
    pub lease_secs: Option<u64>,
    /// Concurrent calls per provider.
    #[serde(
        default = "default_concurrency",
        deserialize_with = "at_least_one::<_, usize, _>"
    )]
    pub concurrency: NonZeroUsize,
    /// How often the reconciler asks each shop for paid orders it has not seen, in seconds (0 = off).
    #[serde(default = "default_reconcile_secs")]
    pub reconcile_interval_secs: u64,
}

impl DispatchConfig {
    /// The lease against the request timeout, and the backoff's base against its cap (the
    /// counts are at least 1 by their types).
    fn validate(&self) -> Result<(), ConfigError> {
        let d = self;
        if d.lease_secs
            .is_some_and(|l| l <= d.request_timeout_secs.get())
        {
            return Err(ConfigError::invalid(
                "dispatch.lease_secs",
                "must be longer than dispatch.request_timeout_secs, or a slow call is taken over while it runs",
            ));
        }
        if d.backoff_base_secs > d.backoff_cap_secs {
            return Err(ConfigError::invalid(
                "dispatch.backoff_base_secs",
                "must not exceed dispatch.backoff_cap_secs",
            ));
        }
        Ok(())
    }
}

impl Default for DispatchConfig {
    fn default() -> Self {
        DispatchConfig {
            enabled: true,
            max_attempts: default_max_attempts(),
            max_age_secs: default_max_age_secs(),
            backoff_base_secs: default_backoff_base_secs(),
            backoff_cap_secs: default_backoff_cap_secs(),
            request_timeout_secs: default_request_timeout_secs(),
            lease_secs: None,
            concurrency: default_concurrency(),
            reconcile_interval_secs: default_reconcile_secs(),
        }
    }
}

impl DispatchConfig {
    pub fn request_timeout(&self) -> Duration {
        Duration::from_secs(self.request_timeout_secs.get())
    }

    /// The job lease: longer than the slowest attempt (a call, a lookup and a file write).
    pub fn lease(&self) -> Duration {
        self.lease_secs
            .map(Duration::from_secs)
            .unwrap_or_else(|| self.request_timeout() * 3 + Duration::from_secs(30))
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreConfig {
    /// Path segment in every store URL.
    pub id: String,
    #[serde(default)]
    pub woocommerce_url: Option<String>,
    /// The secret set on the WooCommerce webhook.
    pub webhook_secret: Secret,
    /// Further accepted webhook secrets (rotation, webhooks created by hand).
    #[serde(default)]
    pub webhook_secrets: Vec<Secret>,
    /// The plugin's bearer token for `/v1/stores/{id}/...`.
    #[serde(default)]
    pub api_token: Option<Secret>,
    #[serde(default = "default_paid_statuses")]
    pub paid_statuses: Vec<String>,
    /// Per WooCommerce payment method id, the statuses that count as paid for its orders
    /// (`[stores.payment_methods]`, `cod = ["completed"]`). A method not listed takes
    /// `paid_statuses`, except `cod`, which waits for `completed` unless listed.
    #[serde(default)]
    pub payment_methods: std::collections::BTreeMap<String, Vec<String>>,
    /// Minutes a paid order's provider jobs wait before they are due (0 = at once).
    #[serde(default)]
    pub hold_minutes: HoldMinutes,
    /// The providers whose jobs wait for the owner's approval (`true` = all of them).
    #[serde(default)]
    pub approval: Approval,
    #[serde(default)]
    pub woocommerce_consumer_key: Option<String>,
    #[serde(default)]
    pub woocommerce_consumer_secret: Option<Secret>,
    #[serde(default)]
    pub spiff: Option<SpiffConfig>,
    #[serde(default)]
    pub apliiq: Option<ApliiqConfig>,
    #[serde(default)]
    pub key2print: Option<Key2printConfig>,
    /// Tax rates by WooCommerce tax class slug (`standard` for the standard class) that
    /// replace the shop's own rates of that class where the bridge shows prices (the
    /// Key2print product gateway); classes not listed use the rates read from the shop.
    #[serde(default)]
    pub tax_rates: std::collections::BTreeMap<String, TaxRateConfig>,
    /// How long personal data is kept after an order is finished (`[stores.retention]`).
    #[serde(default)]
    pub retention: RetentionConfig,
    /// Endpoints the store's order events are sent to (`[[stores.events]]`).
    #[serde(default)]
    pub events: Vec<crate::events::EventEndpointConfig>,
}

/// How many days after an order is finished (no job of it queued, held, awaiting approval,
/// running, waiting for review or dead) each kind of personal data is kept; 0 keeps it for good. The privacy
/// sweep redacts or removes it then (`crate::privacy::retention`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetentionConfig {
    /// Delivery bodies other than the order's current state (earlier states, repeats), and
    /// deliveries that name no order (kept by their age).
    #[serde(default = "default_delivery_bodies_days")]
    pub delivery_bodies_days: u32,
    /// The personal fields of the order's current state (the body the order screen and the
    /// provider calls read).
    #[serde(default = "default_snapshots_days")]
    pub snapshots_days: u32,
    /// Provider answer excerpts and errors of attempts, and the answers kept with jobs.
    #[serde(default = "default_attempt_excerpts_days")]
    pub attempt_excerpts_days: u32,
    /// Kept files (Key2print PDFs) under `data_dir`.
    #[serde(default = "default_files_days")]
    pub files_days: u32,
    /// Days a job may wait for the owner (dead, waiting for review, held or awaiting
    /// approval) before the sweep cancels it, so that its order finishes and the days above
    /// run from then. 0 (the default): such a job waits for good, and its order keeps its
    /// personal data until the job is replayed, sent or approved, or the data is erased.
    #[serde(default)]
    pub unattended_jobs_days: u32,
}

impl Default for RetentionConfig {
    fn default() -> Self {
        RetentionConfig {
            delivery_bodies_days: default_delivery_bodies_days(),
            snapshots_days: default_snapshots_days(),
            attempt_excerpts_days: default_attempt_excerpts_days(),
            files_days: default_files_days(),
            unattended_jobs_days: 0,
        }
    }
}

fn default_delivery_bodies_days() -> u32 {
    30
}
fn default_snapshots_days() -> u32 {
    365
}
fn default_attempt_excerpts_days() -> u32 {
    90
}
fn default_files_days() -> u32 {
    90
}
fn default_privacy_sweep_secs() -> u64 {
    3600
}

/// The WooCommerce payment method id of cash on delivery.
pub const COD: &str = "cod";

/// What counts as paid for cash on delivery unless `payment_methods.cod` says otherwise:
/// WooCommerce puts such orders in `processing` at checkout, before anyone paid.
pub static COD_PAID_STATUSES: std::sync::LazyLock<Vec<String>> =
    std::sync::LazyLock::new(|| vec!["completed".to_owned()]);

/// A store's hold window in minutes, from 0 to [`HoldMinutes::MAX`] (30 days). A value out
/// of range is refused while the file is read, the key named.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HoldMinutes(u32);

impl HoldMinutes {
    pub const MAX: u32 = 43_200;

    pub const fn new(minutes: u32) -> Option<HoldMinutes> {
        if minutes <= Self::MAX {
            Some(HoldMinutes(minutes))
        } else {
            None
        }
    }

    pub const fn get(self) -> u32 {
        self.0
    }
}

impl<'de> Deserialize<'de> for HoldMinutes {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let minutes = u32::deserialize(d)?;
        HoldMinutes::new(minutes).ok_or_else(|| {
            serde::de::Error::custom(format!("must be between 0 and {}", HoldMinutes::MAX))
        })
    }
}

/// Which providers' jobs wait for the owner's approval: `approval = true` (all),
/// `false` (none, the default) or a list such as `["spiff", "key2print"]`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Approval(Vec<crate::providers::Provider>);

impl Approval {
    pub const ALL: [crate::providers::Provider; 3] = [
        crate::providers::Provider::Spiff,
        crate::providers::Provider::Apliiq,
        crate::providers::Provider::Key2print,
    ];

    pub fn of(providers: &[crate::providers::Provider]) -> Approval {
        Approval(providers.to_vec())
    }

    pub fn covers(&self, provider: crate::providers::Provider) -> bool {
        self.0.contains(&provider)
    }

    pub fn is_none(&self) -> bool {
        self.0.is_empty()
    }
}

impl<'de> Deserialize<'de> for Approval {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visit;
        impl<'de> serde::de::Visitor<'de> for Visit {
            type Value = Approval;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("true, false or a list of providers (spiff, apliiq, key2print)")
            }
            fn visit_bool<E: serde::de::Error>(self, all: bool) -> Result<Approval, E> {
                Ok(if all {
                    Approval(Approval::ALL.to_vec())
                } else {
                    Approval::default()
                })
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<Approval, A::Error> {
                let mut providers = Vec::new();
                while let Some(name) = seq.next_element::<String>()? {
                    let provider = Approval::ALL
                        .into_iter()
                        .find(|p| p.as_str() == name)
                        .ok_or_else(|| {
                            serde::de::Error::custom(format!(
                                "unknown provider {name:?}: expected spiff, apliiq or key2print"
                            ))
                        })?;
                    if !providers.contains(&provider) {
                        providers.push(provider);
                    }
                }
                Ok(Approval(providers))
            }
        }
        d.deserialize_any(Visit)
    }
}

/// One tax rate of a store (`[stores.tax_rates.standard]`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaxRateConfig {
    /// Percent as a decimal string, as WooCommerce shows it (`"20"`, `"20.0000"`, `"7.7"`).
    pub rate: String,
    /// The name shown with prices (`"VAT 20%"`); defaults to `Tax <rate>%`.
    #[serde(default)]
    pub name: Option<String>,
}

impl StoreConfig {
    /// Every secret a delivery may be signed with, the main one first.
    pub fn webhook_secrets(&self) -> impl Iterator<Item = &Secret> {
        std::iter::once(&self.webhook_secret).chain(self.webhook_secrets.iter())
    }

    pub fn is_paid_status(&self, status: &str) -> bool {
        self.paid_statuses
            .iter()
            .any(|s| s.eq_ignore_ascii_case(status))
    }

    /// The statuses that count as paid for an order paid with `payment_method`: its entry
    /// in `payment_methods`, else [`COD_PAID_STATUSES`] for cash on delivery, which reaches
    /// `processing` unpaid, else `paid_statuses`.
    pub fn paid_statuses_for(&self, payment_method: &str) -> &[String] {
        if let Some(statuses) = self.payment_methods.get(payment_method) {
            return statuses;
        }
        if payment_method == COD {
            return &COD_PAID_STATUSES;
        }
        &self.paid_statuses
    }

    /// Whether an order in `status`, paid with `payment_method`, counts as paid.
    pub fn is_paid(&self, status: &str, payment_method: &str) -> bool {
        self.paid_statuses_for(payment_method)
            .iter()
            .any(|s| s.eq_ignore_ascii_case(status))
    }

    /// Every status that counts as paid for some payment method (the reconciler asks the
    /// shop for orders in these).
    pub fn any_paid_statuses(&self) -> Vec<String> {
        let mut all: Vec<String> = Vec::new();
        let lists = std::iter::once(&self.paid_statuses)
            .chain(self.payment_methods.values())
            .chain(std::iter::once(&*COD_PAID_STATUSES));
        for status in lists.flatten() {
            if !all.iter().any(|s| s.eq_ignore_ascii_case(status)) {
                all.push(status.clone());
            }
        }
        all
    }

    /// How long a paid order's provider jobs wait, in milliseconds.
    pub fn hold_ms(&self) -> i64 {
        i64::from(self.hold_minutes.get()) * 60_000
    }

    /// Whether jobs of `provider` wait for the owner's approval.
    pub fn needs_approval(&self, provider: crate::providers::Provider) -> bool {
        self.approval.covers(provider)
    }

    /// Whether an order's jobs can wait before they are due (a hold window or approval), so
    /// a change during the wait re-plans them.
    pub fn holds_jobs(&self) -> bool {
        self.hold_minutes.get() > 0 || !self.approval.is_none()
    }

    /// Names of the providers configured for this store.
    pub fn provider_names(&self) -> Vec<String> {
        [
            self.spiff.as_ref().map(|_| "spiff"),
            self.apliiq.as_ref().map(|_| "apliiq"),
            self.key2print.as_ref().map(|_| "key2print"),
        ]
        .into_iter()
        .flatten()
        .map(str::to_owned)
        .collect()
    }

    /// Whether the bridge may call the shop's REST API (notes, reconciliation, catalog).
    pub fn has_rest_keys(&self) -> bool {
        self.woocommerce_url.is_some()
            && self.woocommerce_consumer_key.is_some()
            && self.woocommerce_consumer_secret.is_some()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SpiffApi {
    Graphql,
    Rest,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SpiffBodyHash {
    Sha512,
    Md5,
}

/// The Spiff system a store's account lives in. It decides the API host the bridge places
/// orders with and how the plugin loads Spiff's storefront script, so that a design made in
/// the shop is ordered in the same system.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
pub enum SpiffRegion {
    #[default]
    #[serde(rename = "us")]
    Us,
    #[serde(rename = "au")]
    Au,
    /// An account of Spiff's older Australian system (`api.spiff.com.au`).
    #[serde(rename = "au-legacy")]
    AuLegacy,
}

impl SpiffRegion {
    pub const ALL: [SpiffRegion; 3] = [SpiffRegion::Us, SpiffRegion::Au, SpiffRegion::AuLegacy];

    /// The name in the configuration and in the plugin's connection status.
    pub fn as_str(self) -> &'static str {
        match self {
            SpiffRegion::Us => "us",
            SpiffRegion::Au => "au",
            SpiffRegion::AuLegacy => "au-legacy",
        }
    }

    /// The region's API host.
    pub fn api_base_url(self) -> &'static str {
        match self {
            SpiffRegion::Us => "https://api.us.spiffcommerce.com",
            SpiffRegion::Au => "https://api.au.spiffcommerce.com",
            SpiffRegion::AuLegacy => "https://api.spiff.com.au",
        }
    }

    /// Spiff's storefront script (`api.js`) for the region: one script for the current
    /// systems, which picks the region with `Spiff.setRegion`, and the older script of the
    /// legacy Australian system.
    pub fn storefront_script(self) -> &'static str {
        match self {
            SpiffRegion::Us | SpiffRegion::Au => "https://assets.us.spiffcommerce.com/api.js",
            SpiffRegion::AuLegacy => "https://assets.spiff.com.au/api.js",
        }
    }

    /// The region whose API host `url` is, if it is one of Spiff's.
    pub fn of_api_host(url: &str) -> Option<SpiffRegion> {
        let host = reqwest::Url::parse(url)
            .ok()?
            .host_str()?
            .to_ascii_lowercase();
        SpiffRegion::ALL.into_iter().find(|r| {
            reqwest::Url::parse(r.api_base_url())
                .ok()
                .and_then(|u| u.host_str().map(|h| h == host))
                .unwrap_or(false)
        })
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpiffConfig {
    /// The Spiff system of the store's account (`us`, `au` or `au-legacy`).
    #[serde(default)]
    pub region: SpiffRegion,
    /// The API host; empty in the file means the region's host. Set it only for a sandbox
    /// or a proxy: a Spiff host of another region than `region` is refused.
    #[serde(default)]
    pub base_url: String,
    #[serde(default = "default_spiff_api")]
    pub api: SpiffApi,
    #[serde(default)]
    pub application_key: Option<Secret>,
    #[serde(default)]
    pub access_key: Option<String>,
    #[serde(default)]
    pub secret_key: Option<Secret>,
    #[serde(default = "default_spiff_body_hash")]
    pub body_hash: SpiffBodyHash,
    /// REST only: ask Spiff to print at once (`autoPrint`).
    #[serde(default)]
    pub auto_print: Option<bool>,
}

impl SpiffConfig {
    /// The API host orders are placed with: `base_url` when set, else the region's.
    pub fn api_base_url(&self) -> &str {
        if self.base_url.trim().is_empty() {
            self.region.api_base_url()
        } else {
            &self.base_url
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApliiqConfig {
    #[serde(default = "default_apliiq_base_url")]
    pub base_url: String,
    pub app_id: String,
    pub shared_secret: Secret,
    #[serde(default = "default_shipping_code")]
    pub default_shipping_code: String,
    /// WooCommerce shipping `method_id` (or method title) to Apliiq shipping code.
    #[serde(default)]
    pub shipping_codes: std::collections::BTreeMap<String, String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Key2printConfig {
    pub base_url: String,
    pub api_key: String,
    pub api_secret: Secret,
    /// Seconds a gateway callback's `tstamp` may differ from our clock.
    #[serde(default = "default_gateway_window_secs")]
    pub gateway_tstamp_window_secs: u64,
    /// Seconds a catalog read (and the shop's tax settings and rates) is cached for the
    /// gateway.
    #[serde(default = "default_catalog_cache_secs")]
    pub catalog_cache_secs: u64,
    /// Work sessions the plugin may start per minute (a burst of as many, refilled evenly);
    /// beyond, 429. 0 = no limit.
    #[serde(default = "default_sessions_per_minute")]
    pub sessions_per_minute: u32,
}

fn yes() -> bool {
    true
}
fn default_listen() -> String {
    DEFAULT_LISTEN.to_owned()
}
fn default_database_url() -> String {
    DEFAULT_DATABASE_URL.to_owned()
}
fn default_data_dir() -> PathBuf {
    PathBuf::from(DEFAULT_DATA_DIR)
}
fn default_shutdown_grace_secs() -> ServerSecs {
    ServerSecs::from_const(10)
}
fn default_header_read_timeout_secs() -> ServerSecs {
    ServerSecs::from_const(10)
}
fn default_body_read_timeout_secs() -> ServerSecs {
    ServerSecs::from_const(30)
}
fn default_idle_timeout_secs() -> ServerSecs {
    ServerSecs::from_const(75)
}
fn default_paid_statuses() -> Vec<String> {
    vec!["processing".to_owned(), "completed".to_owned()]
}
fn default_max_attempts() -> NonZeroU32 {
    const { NonZeroU32::new(12).expect("12 is not 0") }
}
fn default_max_age_secs() -> u64 {
    3 * 24 * 3600
}
fn default_backoff_base_secs() -> u64 {
    5
}
fn default_backoff_cap_secs() -> u64 {
    3600
}
fn default_request_timeout_secs() -> NonZeroU64 {
    const { NonZeroU64::new(30).expect("30 is not 0") }
}
fn default_concurrency() -> NonZeroUsize {
    const { NonZeroUsize::new(4).expect("4 is not 0") }
}
fn default_reconcile_secs() -> u64 {
    300
}
/// Reads a count that must be at least 1 (`T` a `NonZero` of the integer `U`); 0 is refused
/// with a message the parse error puts after the key.
fn at_least_one<'de, D, U, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    U: Deserialize<'de>,
    T: TryFrom<U>,
{
    T::try_from(U::deserialize(d)?).map_err(|_| serde::de::Error::custom("must be at least 1"))
}

fn default_spiff_api() -> SpiffApi {
    SpiffApi::Graphql
}
fn default_spiff_body_hash() -> SpiffBodyHash {
    SpiffBodyHash::Sha512
}
fn default_apliiq_base_url() -> String {
    "https://api.apliiq.com".to_owned()
}
fn default_shipping_code() -> String {
    "standard".to_owned()
}
fn default_gateway_window_secs() -> u64 {
    300
}
fn default_sessions_per_minute() -> u32 {
    300
}
fn default_catalog_cache_secs() -> u64 {
    300
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: default_listen(),
            database_url: default_database_url(),
            public_url: None,
            admin_token: None,
            data_dir: default_data_dir(),
            max_body_bytes: BodyLimit::default(),
            shutdown_grace_secs: default_shutdown_grace_secs(),
            header_read_timeout_secs: default_header_read_timeout_secs(),
            body_read_timeout_secs: default_body_read_timeout_secs(),
            idle_timeout_secs: default_idle_timeout_secs(),
            dispatch: DispatchConfig::default(),
            privacy_sweep_interval_secs: default_privacy_sweep_secs(),
            stores: Vec::new(),
        }
    }
}

/// Where a value comes from: the process environment and the file system, injectable for tests.
pub trait Environment {
    fn var(&self, name: &str) -> Option<String>;
    fn read_file(&self, path: &Path) -> std::io::Result<String>;
}

/// The real process environment.
pub struct ProcessEnv;

impl Environment for ProcessEnv {
    fn var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok()
    }
    fn read_file(&self, path: &Path) -> std::io::Result<String> {
        std::fs::read_to_string(path)
    }
}

impl Config {
    /// Loads `path` if given, else `printbridge.toml` in the working directory if present,
    /// else the embedded defaults; then applies `PRINTBRIDGE_*` overrides and validates.
    pub fn load(path: Option<&Path>, env: &dyn Environment) -> Result<Config, ConfigError> {
        let mut config = match path {
            Some(p) => Self::from_file(p)?,
            None if Path::new(DEFAULT_CONFIG_FILE).exists() => {
                Self::from_file(Path::new(DEFAULT_CONFIG_FILE))?
            }
            None => Config::default(),
        };
        if env.var(REMOVED_ENV).is_some() {
            return Err(ConfigError::invalid(
                REMOVED_ENV,
                format!("{INTAKE_JOURNAL_GONE}; unset this variable"),
            ));
        }
        config.apply_env(env);
        config.resolve_references(env)?;
        config.validate()?;
        Ok(config)
    }

    fn from_file(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Self::parse(&text).map_err(|message| ConfigError::Parse {
            path: path.display().to_string(),
            message,
        })
    }

    /// Parses TOML text; the error message names the line, column and what is wrong, but
    /// never quotes the text (the line may hold a secret). A key of the intake journal is
    /// refused by name (see [`REMOVED_KEYS`]).
    pub fn parse(text: &str) -> Result<Config, String> {
        if let Ok(table) = text.parse::<toml::Table>()
            && let Some(key) = REMOVED_KEYS.iter().find(|k| table.contains_key(**k))
        {
            return Err(format!("{key}: {INTAKE_JOURNAL_GONE}; remove this key"));
        }
        toml::from_str(text).map_err(|e| parse_error(text, &e))
    }

    /// `PRINTBRIDGE_LISTEN`, `PRINTBRIDGE_DATABASE_URL`, `PRINTBRIDGE_ADMIN_TOKEN`,
    /// `PRINTBRIDGE_PUBLIC_URL` and `PRINTBRIDGE_DATA_DIR` override the file.
    pub fn apply_env(&mut self, env: &dyn Environment) {
        if let Some(v) = env.var("PRINTBRIDGE_LISTEN") {
            self.listen = v;
        }
        if let Some(v) = env.var("PRINTBRIDGE_DATABASE_URL") {
            self.database_url = v;
        }
        if let Some(v) = env.var("PRINTBRIDGE_ADMIN_TOKEN") {
            self.admin_token = Some(Secret::new(v));
        }
        if let Some(v) = env.var("PRINTBRIDGE_PUBLIC_URL") {
            self.public_url = Some(v);
        }
        if let Some(v) = env.var("PRINTBRIDGE_DATA_DIR") {
            self.data_dir = PathBuf::from(v);
        }
    }

    /// How long a shutdown waits for the requests the server accepted.
    pub fn shutdown_grace(&self) -> Duration {
        self.shutdown_grace_secs.duration()
    }

    /// Replaces every `env:NAME` / `file:/path` string value by what it refers to.
    pub fn resolve_references(&mut self, env: &dyn Environment) -> Result<(), ConfigError> {
        let r = |key: &str, v: &mut String| resolve(key, v, env);
        let rs = |key: &str, v: &mut Secret| resolve(key, v.expose_mut(), env);
        r("listen", &mut self.listen)?;
        r("database_url", &mut self.database_url)?;
        if let Some(v) = self.public_url.as_mut() {
            r("public_url", v)?;
        }
        if let Some(v) = self.admin_token.as_mut() {
            rs("admin_token", v)?;
        }
        for (i, s) in self.stores.iter_mut().enumerate() {
            let k = |name: &str| format!("stores[{i}].{name}");
            r(&k("id"), &mut s.id)?;
            if let Some(v) = s.woocommerce_url.as_mut() {
                r(&k("woocommerce_url"), v)?;
            }
            rs(&k("webhook_secret"), &mut s.webhook_secret)?;
            for (j, v) in s.webhook_secrets.iter_mut().enumerate() {
                rs(&k(&format!("webhook_secrets[{j}]")), v)?;
            }
            if let Some(v) = s.api_token.as_mut() {
                rs(&k("api_token"), v)?;
            }
            if let Some(v) = s.woocommerce_consumer_key.as_mut() {
                r(&k("woocommerce_consumer_key"), v)?;
            }
            if let Some(v) = s.woocommerce_consumer_secret.as_mut() {
                rs(&k("woocommerce_consumer_secret"), v)?;
            }
            if let Some(sp) = s.spiff.as_mut() {
                r(&k("spiff.base_url"), &mut sp.base_url)?;
                if let Some(v) = sp.application_key.as_mut() {
                    rs(&k("spiff.application_key"), v)?;
                }
                if let Some(v) = sp.access_key.as_mut() {
                    r(&k("spiff.access_key"), v)?;
                }
                if let Some(v) = sp.secret_key.as_mut() {
                    rs(&k("spiff.secret_key"), v)?;
                }
            }
            if let Some(ap) = s.apliiq.as_mut() {
                r(&k("apliiq.base_url"), &mut ap.base_url)?;
                r(&k("apliiq.app_id"), &mut ap.app_id)?;
                rs(&k("apliiq.shared_secret"), &mut ap.shared_secret)?;
            }
            if let Some(kp) = s.key2print.as_mut() {
                r(&k("key2print.base_url"), &mut kp.base_url)?;
                r(&k("key2print.api_key"), &mut kp.api_key)?;
                rs(&k("key2print.api_secret"), &mut kp.api_secret)?;
            }
            for (j, e) in s.events.iter_mut().enumerate() {
                r(&k(&format!("events[{j}].url")), &mut e.url)?;
                rs(&k(&format!("events[{j}].secret")), &mut e.secret)?;
            }
        }
        Ok(())
    }

    /// Checks everything that can be checked without the network; names the bad key.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.validate_server()?;
        self.dispatch.validate()?;
        let mut seen = HashSet::new();
        for (i, s) in self.stores.iter().enumerate() {
            if !seen.insert(s.id.as_str()) {
                return Err(ConfigError::invalid(
                    format!("stores[{i}].id"),
                    format!("store id {:?} is used twice", s.id),
                ));
            }
            validate_store(i, s)?;
        }
        Ok(())
    }

    /// The listener, database and tokens (the HTTP limits are in range by their types).
    fn validate_server(&self) -> Result<(), ConfigError> {
        self.listen
            .parse::<SocketAddr>()
            .map_err(|e| ConfigError::invalid("listen", format!("not an address:port ({e})")))?;
        if !(self.database_url.starts_with("sqlite:")
            || self.database_url.starts_with("postgres://")
            || self.database_url.starts_with("postgresql://"))
        {
            return Err(ConfigError::invalid(
                "database_url",
                "must start with sqlite: or postgres://",
            ));
        }
        if let Some(u) = &self.public_url {
            check_url("public_url", u)?;
        }
        if let Some(t) = &self.admin_token {
            check_secret("admin_token", t)?;
            if t.expose().chars().count() < MIN_ADMIN_TOKEN_CHARS {
                return Err(ConfigError::invalid(
                    "admin_token",
                    format!(
                        "must be at least {MIN_ADMIN_TOKEN_CHARS} characters; use a long random token (openssl rand -hex 32)"
                    ),
                ));
            }
        }
        Ok(())
    }

    pub fn store(&self, id: &str) -> Option<&StoreConfig> {
        self.stores.iter().find(|s| s.id == id)
    }

    pub fn listen_addr(&self) -> SocketAddr {
        // validate() has checked it; the fallback only serves configs built in code.
        self.listen
            .parse()
            .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 8080)))
    }
}

/// `line L, column C: message` for a TOML error, without the source excerpt that the
/// error's own `Display` shows. An error about a value is `line L, column C: key: message`,
/// the key as its table path (see [`key_of_value`]).
fn parse_error(text: &str, e: &toml::de::Error) -> String {
    let message = redact_quoted_value(e.message().trim_end());
    match e.span() {
        Some(span) => {
            let before = text.get(..span.start).unwrap_or(text);
            let line = before.matches('\n').count() + 1;
            let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
            match key_of_value(before) {
                Some(key) => {
                    format!("TOML parse error at line {line}, column {column}: {key}: {message}")
                }
                None => format!("TOML parse error at line {line}, column {column}: {message}"),
            }
        }
        None => format!("TOML parse error: {message}"),
    }
}

/// The key whose value starts where `before` ends, when the line so far is `key =`: the key
/// prefixed with the `[table]` (or `[[table]]`) header above it, such as
/// `dispatch.max_attempts`. Only bare keys (letters, digits, `_`, `-`, `.`) are named, so
/// nothing but a key of the file ends up in the message.
fn key_of_value(before: &str) -> Option<String> {
    let mut lines = before.rsplit('\n');
    let (key, rest) = lines.next()?.split_once('=')?;
    let key = key.trim();
    if !rest.trim().is_empty() || !is_bare_key(key) {
        return None;
    }
    let table = lines.map(str::trim).find(|l| l.starts_with('['));
    match table.map(|t| t.trim_matches(['[', ']']).trim()) {
        Some(table) if is_bare_key(table) => Some(format!("{table}.{key}")),
        Some(_) => None,
        None => Some(key.to_owned()),
    }
}

fn is_bare_key(key: &str) -> bool {
    !key.is_empty()
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}

/// serde's `invalid type: string "…", expected …` quotes the value; it may be a secret
/// written under the wrong key, so it is left out.
fn redact_quoted_value(message: &str) -> String {
    match message.split_once("string \"") {
        Some((head, rest)) => match rest.rsplit_once('"') {
            Some((_, tail)) => format!("{head}string{tail}"),
            None => format!("{head}string"),
        },
        None => message.to_owned(),
    }
}

/// The checks of one `[[stores]]` entry (`i` its index); names the bad key. One check per key
/// in the order of the documented table, so it stays whole.
fn validate_store(i: usize, s: &StoreConfig) -> Result<(), ConfigError> {
    let k = |name: &str| format!("stores[{i}].{name}");
    if !valid_store_id(&s.id) {
        return Err(ConfigError::invalid(
            k("id"),
            "use 1-64 characters a-z, 0-9, '-' or '_', starting with a letter or digit",
        ));
    }
    check_secret(&k("webhook_secret"), &s.webhook_secret)?;
    for (j, secret) in s.webhook_secrets.iter().enumerate() {
        check_secret(&k(&format!("webhook_secrets[{j}]")), secret)?;
    }
    for (class, t) in &s.tax_rates {
        let ok = t
            .rate
            .trim()
            .parse::<f64>()
            .is_ok_and(|r| (0.0..=100.0).contains(&r));
        if !ok {
            return Err(ConfigError::invalid(
                k(&format!("tax_rates.{class}.rate")),
                "must be a percentage between 0 and 100, e.g. \"20\"",
            ));
        }
    }
    if let Some(t) = &s.api_token {
        check_secret(&k("api_token"), t)?;
    }
    check_paid_statuses(&k, s)?;
    if let Some(u) = &s.woocommerce_url {
        check_url(&k("woocommerce_url"), u)?;
    }
    match (&s.woocommerce_consumer_key, &s.woocommerce_consumer_secret) {
        (Some(_), None) => {
            return Err(ConfigError::invalid(
                k("woocommerce_consumer_secret"),
                "required when woocommerce_consumer_key is set",
            ));
        }
        (None, Some(_)) => {
            return Err(ConfigError::invalid(
                k("woocommerce_consumer_key"),
                "required when woocommerce_consumer_secret is set",
            ));
        }
        (Some(key), Some(secret)) => {
            check_text(&k("woocommerce_consumer_key"), key)?;
            check_secret(&k("woocommerce_consumer_secret"), secret)?;
            if s.woocommerce_url.is_none() {
                return Err(ConfigError::invalid(
                    k("woocommerce_url"),
                    "required when REST keys are set",
                ));
            }
        }
        (None, None) => {}
    }
    validate_providers(&k, s)
}

/// `paid_statuses` and each list of `payment_methods` name at least one status.
fn check_paid_statuses(k: &dyn Fn(&str) -> String, s: &StoreConfig) -> Result<(), ConfigError> {
    if s.paid_statuses.is_empty() {
        return Err(ConfigError::invalid(
            k("paid_statuses"),
            "name at least one status",
        ));
    }
    if let Some((method, _)) = s.payment_methods.iter().find(|(_, v)| v.is_empty()) {
        return Err(ConfigError::invalid(
            k(&format!("payment_methods.{method}")),
            "name at least one status",
        ));
    }
    Ok(())
}

/// The checks of a store's provider sections; `k` turns a key into its TOML path.
fn validate_providers(k: &dyn Fn(&str) -> String, s: &StoreConfig) -> Result<(), ConfigError> {
    if let Some(sp) = &s.spiff {
        check_url(&k("spiff.base_url"), sp.api_base_url())?;
        if let Some(host_region) = SpiffRegion::of_api_host(sp.api_base_url())
            && host_region != sp.region
        {
            return Err(ConfigError::invalid(
                k("spiff.base_url"),
                format!(
                    "is Spiff's {} host but spiff.region is \"{}\": designs made in one Spiff \
                     system cannot be ordered in another; set spiff.region = \"{}\" or leave \
                     spiff.base_url out",
                    host_region.as_str(),
                    sp.region.as_str(),
                    host_region.as_str()
                ),
            ));
        }
        let required = |key: &str, api: &str| {
            ConfigError::invalid(k(key), format!("required when api = \"{api}\""))
        };
        match sp.api {
            SpiffApi::Graphql => match &sp.application_key {
                None => return Err(required("spiff.application_key", "graphql")),
                Some(key) => check_secret(&k("spiff.application_key"), key)?,
            },
            SpiffApi::Rest => {
                match &sp.access_key {
                    None => return Err(required("spiff.access_key", "rest")),
                    Some(key) => check_text(&k("spiff.access_key"), key)?,
                }
                match &sp.secret_key {
                    None => return Err(required("spiff.secret_key", "rest")),
                    Some(key) => check_secret(&k("spiff.secret_key"), key)?,
                }
            }
        }
    }
    if let Some(ap) = &s.apliiq {
        check_url(&k("apliiq.base_url"), &ap.base_url)?;
        check_text(&k("apliiq.app_id"), &ap.app_id)?;
        check_secret(&k("apliiq.shared_secret"), &ap.shared_secret)?;
    }
    if let Some(kp) = &s.key2print {
        check_url(&k("key2print.base_url"), &kp.base_url)?;
        check_text(&k("key2print.api_key"), &kp.api_key)?;
        check_secret(&k("key2print.api_secret"), &kp.api_secret)?;
    }
    validate_events(k, s)
}

/// The checks of a store's event endpoints: an https URL (http only to a loopback address),
/// each URL once, a Standard Webhooks secret, at least one type.
fn validate_events(k: &dyn Fn(&str) -> String, s: &StoreConfig) -> Result<(), ConfigError> {
    let mut seen = HashSet::new();
    for (j, e) in s.events.iter().enumerate() {
        let key = |name: &str| k(&format!("events[{j}].{name}"));
        check_url(&key("url"), &e.url)?;
        if !https_or_loopback(&e.url) {
            return Err(ConfigError::invalid(
                key("url"),
                "must be https (http only to a loopback address)",
            ));
        }
        if !seen.insert(e.url.as_str()) {
            return Err(ConfigError::invalid(key("url"), "is configured twice"));
        }
        if let Err(err) = crate::events::signing_key(&e.secret) {
            return Err(ConfigError::invalid(key("secret"), err.to_string()));
        }
        if e.types.is_empty() {
            return Err(ConfigError::invalid(
                key("types"),
                "name at least one event type, or leave types out for all",
            ));
        }
    }
    Ok(())
}

/// An https URL, or an http URL whose host is `localhost` or a loopback address.
fn https_or_loopback(url: &str) -> bool {
    let Ok(u) = reqwest::Url::parse(url) else {
        return false;
    };
    let host = u.host_str().unwrap_or_default();
    let loopback = host.eq_ignore_ascii_case("localhost")
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    match u.scheme() {
        "https" => !host.is_empty(),
        "http" => loopback,
        _ => false,
    }
}

/// Refuses an empty or whitespace-only secret: an HMAC under an empty key is one anybody
/// can compute, so such a secret would open what it guards.
fn check_secret(key: &str, secret: &Secret) -> Result<(), ConfigError> {
    check_text(key, secret.expose())
}

/// Refuses an empty or whitespace-only value (also when an `env:` or `file:` reference
/// resolved to one).
fn check_text(key: &str, value: &str) -> Result<(), ConfigError> {
    if value.is_empty() {
        return Err(ConfigError::invalid(key, "is empty"));
    }
    if value.trim().is_empty() {
        return Err(ConfigError::invalid(key, "is only whitespace"));
    }
    Ok(())
}

fn resolve(key: &str, value: &mut String, env: &dyn Environment) -> Result<(), ConfigError> {
    if let Some(name) = value.strip_prefix("env:") {
        let name = name.trim();
        match env.var(name) {
            Some(v) => *value = v,
            None => {
                return Err(ConfigError::invalid(
                    key,
                    format!("environment variable {name} is not set"),
                ));
            }
        }
    } else if let Some(path) = value.strip_prefix("file:") {
        let path = PathBuf::from(path.trim());
        match env.read_file(&path) {
            // A trailing newline is what editors and `echo` leave; it is never part of a secret.
            Ok(v) => *value = v.trim_end_matches(['\r', '\n']).to_owned(),
            Err(e) => {
                return Err(ConfigError::invalid(
                    key,
                    format!("cannot read {}: {e}", path.display()),
                ));
            }
        }
    }
    Ok(())
}

fn check_url(key: &str, value: &str) -> Result<(), ConfigError> {
    match reqwest::Url::parse(value) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => Ok(()),
        Ok(_) => Err(ConfigError::invalid(key, "must be an http(s) URL")),
        Err(e) => Err(ConfigError::invalid(key, format!("not a URL ({e})"))),
    }
}

pub fn valid_store_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
        && id.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    struct FakeEnv(HashMap<String, String>);
    impl Environment for FakeEnv {
        fn var(&self, name: &str) -> Option<String> {
            self.0.get(name).cloned()
        }
        fn read_file(&self, path: &Path) -> std::io::Result<String> {
            self.0
                .get(&format!("file:{}", path.display()))
                .cloned()
                .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::NotFound, "no such file"))
        }
    }

    fn env(pairs: &[(&str, &str)]) -> FakeEnv {
        FakeEnv(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }

    const FULL: &str = r#"
listen = "127.0.0.1:9090"
database_url = "sqlite://x.db"
public_url = "https://bridge.example.com"
admin_token = "env:PRINTBRIDGE_ADMIN_TOKEN"
data_dir = "./data"

[[stores]]
id = "shop"
woocommerce_url = "https://shop.example.com"
webhook_secret = "env:SHOP_WEBHOOK_SECRET"
api_token = "file:/run/secrets/shop_token"
paid_statuses = ["processing", "completed"]
hold_minutes = 15
approval = ["spiff"]
woocommerce_consumer_key = "ck_1"
woocommerce_consumer_secret = "cs_1"

[stores.payment_methods]
bacs = ["completed"]

[stores.spiff]
base_url = "https://api.us.spiffcommerce.com"
api = "rest"
access_key = "ak"
secret_key = "sk"
body_hash = "md5"

[stores.apliiq]
base_url = "https://api.apliiq.com"
app_id = "app"
shared_secret = "ss"
default_shipping_code = "standard"

[stores.key2print]
base_url = "https://editor-api.example.com"
api_key = "k"
api_secret = "s"

[[stores.events]]
url = "env:ERP_EVENTS_URL"
secret = "env:ERP_EVENTS_SECRET"
types = ["order.placed", "order.shipped"]
"#;

    /// A store's Spiff section with `lines`, parsed and validated.
    fn spiff_store(lines: &str) -> Result<SpiffConfig, ConfigError> {
        let text = format!(
            "[[stores]]\nid = \"shop\"\nwebhook_secret = \"whs\"\n[stores.spiff]\n\
             application_key = \"app\"\n{lines}"
        );
        let c = Config::parse(&text).expect("parses");
        c.validate()?;
        Ok(c.stores[0].spiff.clone().expect("spiff"))
    }

    #[test]
    fn spiff_region_decides_the_api_host_and_refuses_another_regions_host() {
        let us = spiff_store("").expect("valid");
        assert_eq!(us.region, SpiffRegion::Us);
        assert_eq!(us.api_base_url(), "https://api.us.spiffcommerce.com");
        let au = spiff_store("region = \"au\"\n").expect("valid");
        assert_eq!(au.api_base_url(), "https://api.au.spiffcommerce.com");
        let legacy = spiff_store("region = \"au-legacy\"\n").expect("valid");
        assert_eq!(legacy.api_base_url(), "https://api.spiff.com.au");
        // A sandbox or proxy is not a Spiff host: any region goes with it.
        let sandbox =
            spiff_store("region = \"au\"\nbase_url = \"http://127.0.0.1:9100\"\n").expect("valid");
        assert_eq!(sandbox.api_base_url(), "http://127.0.0.1:9100");
        let mismatch = spiff_store("base_url = \"https://api.au.spiffcommerce.com\"\n")
            .expect_err("another region's host");
        let text = mismatch.to_string();
        assert!(text.contains("spiff.base_url"), "{text}");
        assert!(text.contains("spiff.region = \"au\""), "{text}");
        assert!(
            Config::parse(
                "[[stores]]\nid = \"s\"\nwebhook_secret = \"w\"\n[stores.spiff]\nregion = \"eu\"\n"
            )
            .is_err()
        );
    }

    #[test]
    fn parses_every_documented_key_and_resolves_references() {
        let mut c = Config::parse(FULL).expect("parses");
        let e = env(&[
            ("PRINTBRIDGE_ADMIN_TOKEN", "admin-token-0123456789"),
            ("SHOP_WEBHOOK_SECRET", "whs"),
            ("file:/run/secrets/shop_token", "tok\n"),
            ("ERP_EVENTS_URL", "https://erp.example.com/hooks"),
            (
                "ERP_EVENTS_SECRET",
                "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            ),
        ]);
        c.resolve_references(&e).expect("resolves");
        c.validate().expect("valid");
        let s = c.store("shop").expect("store");
        assert_eq!(
            c.admin_token.as_ref().map(Secret::expose),
            Some("admin-token-0123456789")
        );
        assert_eq!(s.webhook_secret.expose(), "whs");
        assert_eq!(s.api_token.as_ref().map(Secret::expose), Some("tok"));
        let sp = s.spiff.as_ref().expect("spiff");
        assert_eq!(sp.api, SpiffApi::Rest);
        assert_eq!(sp.body_hash, SpiffBodyHash::Md5);
        assert!(s.has_rest_keys());
        assert!(s.is_paid_status("Processing"));
        assert!(!s.is_paid_status("pending"));
        let events = &s.events[0];
        assert_eq!(events.url, "https://erp.example.com/hooks");
        assert_eq!(
            events.secret.expose(),
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
        );
        assert_eq!(
            events.types,
            [
                crate::events::EventType::OrderPlaced,
                crate::events::EventType::OrderShipped
            ]
        );
        assert_eq!(s.hold_ms(), 15 * 60_000);
        assert!(s.needs_approval(crate::providers::Provider::Spiff));
        assert!(!s.needs_approval(crate::providers::Provider::Apliiq));
        assert!(s.holds_jobs());
        assert!(!s.is_paid("processing", "bacs"));
        assert!(s.is_paid("completed", "bacs"));
    }

    /// A store with `lines` after its id and secret, parsed and validated.
    fn store_with(lines: &str) -> Result<StoreConfig, String> {
        let text = format!("[[stores]]\nid = \"shop\"\nwebhook_secret = \"whs\"\n{lines}");
        let c = Config::parse(&text)?;
        c.validate().map_err(|e| e.to_string())?;
        Ok(c.stores[0].clone())
    }

    #[test]
    fn cash_on_delivery_waits_for_completed_unless_configured() {
        let s = store_with("").expect("valid");
        assert!(!s.is_paid("processing", "cod"));
        assert!(s.is_paid("completed", "cod"));
        assert!(s.is_paid("processing", "stripe"));
        assert!(!s.holds_jobs());
        assert_eq!(s.any_paid_statuses(), ["processing", "completed"]);
        let s = store_with(
            "[stores.payment_methods]\ncod = [\"processing\"]\ncheque = [\"on-hold\"]\n",
        )
        .expect("valid");
        assert!(s.is_paid("processing", "cod"));
        assert!(s.is_paid("on-hold", "cheque"));
        assert!(!s.is_paid("processing", "cheque"));
        assert_eq!(
            s.any_paid_statuses(),
            ["processing", "completed", "on-hold"]
        );
        let err = store_with("[stores.payment_methods]\ncod = []\n").expect_err("empty list");
        assert!(err.contains("stores[0].payment_methods.cod"), "{err}");
    }

    #[test]
    fn hold_and_approval_are_read_and_checked_naming_the_key() {
        let s = store_with("hold_minutes = 43200\napproval = true\n").expect("valid");
        assert_eq!(s.hold_minutes.get(), 43_200);
        for p in Approval::ALL {
            assert!(s.needs_approval(p));
        }
        let s = store_with("approval = false\n").expect("valid");
        assert!(s.approval.is_none());
        let s = store_with("approval = [\"key2print\", \"key2print\"]\n").expect("valid");
        assert_eq!(
            s.approval,
            Approval::of(&[crate::providers::Provider::Key2print])
        );
        let err = store_with("hold_minutes = 43201\n").expect_err("too long");
        assert!(
            err.contains("hold_minutes") && err.contains("43200"),
            "{err}"
        );
        let err = store_with("hold_minutes = -1\n").expect_err("negative");
        assert!(err.contains("hold_minutes"), "{err}");
        let err = store_with("approval = [\"printful\"]\n").expect_err("unknown provider");
        assert!(
            err.contains("approval") && err.contains("printful"),
            "{err}"
        );
        let err = store_with("approval = \"yes\"\n").expect_err("a string");
        assert!(
            err.contains("approval") && err.contains("list of providers"),
            "{err}"
        );
    }

    #[test]
    fn unknown_key_is_named() {
        let err = Config::parse("lisen = \"x\"\n").expect_err("unknown key");
        assert!(err.contains("lisen"), "{err}");
    }

    #[test]
    fn missing_env_reference_names_the_key() {
        let mut c = Config::parse(FULL).expect("parses");
        let err = c
            .resolve_references(&env(&[("PRINTBRIDGE_ADMIN_TOKEN", "a")]))
            .expect_err("missing");
        assert_eq!(err.key(), Some("stores[0].webhook_secret"));
        assert!(err.to_string().contains("SHOP_WEBHOOK_SECRET"));
    }

    #[test]
    fn validation_names_the_bad_key() {
        let cases = [
            ("listen = \"nope\"", "listen"),
            ("database_url = \"mysql://x\"", "database_url"),
            (
                "[[stores]]\nid = \"Bad Id\"\nwebhook_secret = \"s\"",
                "stores[0].id",
            ),
            (
                "[[stores]]\nid = \"a\"\nwebhook_secret = \"\"",
                "stores[0].webhook_secret",
            ),
            (
                "[[stores]]\nid = \"a\"\nwebhook_secret = \"s\"\n[stores.spiff]\napi = \"graphql\"",
                "stores[0].spiff.application_key",
            ),
            (
                "[[stores]]\nid = \"a\"\nwebhook_secret = \"s\"\n[[stores]]\nid = \"a\"\nwebhook_secret = \"t\"",
                "stores[1].id",
            ),
            (
                "[[stores]]\nid = \"a\"\nwebhook_secret = \"s\"\nwoocommerce_consumer_key = \"ck\"",
                "stores[0].woocommerce_consumer_secret",
            ),
        ];
        for (text, key) in cases {
            let c = Config::parse(text).expect(text);
            let err = c.validate().expect_err(text);
            assert_eq!(err.key(), Some(key), "{text}: {err}");
        }
    }

    /// An event endpoint needs https (plain http only to a loopback address), its URL once,
    /// a Standard Webhooks secret and at least one type; errors name the key and never
    /// quote the URL or the secret.
    #[test]
    fn event_endpoints_are_checked() {
        let endpoint = |url: &str, secret: &str, more: &str| {
            let text = format!(
                "[[stores]]\nid = \"a\"\nwebhook_secret = \"s\"\n[[stores.events]]\n\
                 url = {url:?}\nsecret = {secret:?}\n{more}"
            );
            Config::parse(&text).and_then(|c| c.validate().map_err(|e| e.to_string()).map(|()| c))
        };
        let good = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        for url in [
            "https://erp.example.com/hooks",
            "http://127.0.0.1:9000/hooks",
            "http://localhost/x",
            "http://[::1]:8080/",
        ] {
            let c = endpoint(url, good, "").unwrap_or_else(|e| panic!("{url}: {e}"));
            assert_eq!(c.stores[0].events[0].types, crate::events::EventType::all());
        }
        let only = endpoint(good.trim_start_matches("whsec_"), good, "");
        assert!(only.is_err());
        let cases = [
            (
                endpoint("http://erp.example.com/t0ken", good, ""),
                "stores[0].events[0].url: must be https (http only to a loopback address)",
            ),
            (
                endpoint(
                    "https://erp.example.com/",
                    "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
                    "",
                ),
                "stores[0].events[0].secret: must start with whsec_",
            ),
            (
                endpoint("https://erp.example.com/", "whsec_c2hvcnQ=", ""),
                "stores[0].events[0].secret: must hold 24 to 64 key bytes (the base64 of them \
                 after whsec_), not 5",
            ),
            (
                endpoint("https://erp.example.com/", good, "types = []"),
                "stores[0].events[0].types: name at least one event type, or leave types out \
                 for all",
            ),
        ];
        for (result, message) in cases {
            assert_eq!(result.err().as_deref(), Some(message));
        }
        let unknown = endpoint("https://erp.example.com/", good, "types = [\"order.paid\"]");
        let err = unknown.err().unwrap_or_default();
        assert!(
            err.contains("order.paid") && err.contains("order.placed"),
            "{err}"
        );
    }

    #[test]
    fn an_event_endpoint_is_configured_once() {
        let good = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let twice = Config::parse(&format!(
            "[[stores]]\nid = \"a\"\nwebhook_secret = \"s\"\n\
             [[stores.events]]\nurl = \"https://e.example/\"\nsecret = {good:?}\n\
             [[stores.events]]\nurl = \"https://e.example/\"\nsecret = {good:?}\n"
        ))
        .expect("parses");
        assert_eq!(
            twice.validate().map_err(|e| e.to_string()),
            Err("stores[0].events[1].url: is configured twice".to_owned())
        );
    }

    /// Secrets that would open what they guard, and limits beyond reason, are refused with
    /// the key and the reason, whether written in the file or resolved from the environment.
    #[test]
    fn open_doors_are_refused_with_the_exact_message() {
        let store = "[[stores]]\nid = \"a\"\nwebhook_secret = \"s\"\n";
        let cases = [
            (
                "[[stores]]\nid = \"a\"\nwebhook_secret = \"  \"".to_owned(),
                "stores[0].webhook_secret: is only whitespace",
            ),
            (
                format!("{store}webhook_secrets = [\"\"]"),
                "stores[0].webhook_secrets[0]: is empty",
            ),
            (
                format!("{store}webhook_secrets = [\"env:PB_EMPTY\"]"),
                "stores[0].webhook_secrets[0]: is empty",
            ),
            (
                "admin_token = \"x\"".to_owned(),
                "admin_token: must be at least 16 characters; use a long random token (openssl rand -hex 32)",
            ),
            (
                "admin_token = \"env:PB_EMPTY\"".to_owned(),
                "admin_token: is empty",
            ),
            (
                format!("{store}[stores.spiff]\napi = \"graphql\"\napplication_key = \"\""),
                "stores[0].spiff.application_key: is empty",
            ),
            (
                format!(
                    "{store}[stores.spiff]\napi = \"rest\"\naccess_key = \"ak\"\nsecret_key = \" \""
                ),
                "stores[0].spiff.secret_key: is only whitespace",
            ),
            (
                format!(
                    "{store}woocommerce_url = \"https://shop.example.com\"\n\
                     woocommerce_consumer_key = \"ck\"\nwoocommerce_consumer_secret = \"env:PB_EMPTY\""
                ),
                "stores[0].woocommerce_consumer_secret: is empty",
            ),
        ];
        let e = env(&[("PB_EMPTY", "")]);
        for (text, want) in cases {
            let mut c = Config::parse(&text).expect(&text);
            let err = c
                .resolve_references(&e)
                .and_then(|()| c.validate())
                .expect_err(&text);
            assert_eq!(err.to_string(), want, "{text}");
        }
    }

    /// Limits beyond reason are refused while the file is read, with the key and the reason.
    #[test]
    fn limits_out_of_range_are_refused_by_key() {
        for (text, want) in [
            (
                "shutdown_grace_secs = 0",
                "TOML parse error at line 1, column 23: shutdown_grace_secs: must be between 1 \
                 and 3600",
            ),
            (
                "max_body_bytes = 107374182400",
                "TOML parse error at line 1, column 18: max_body_bytes: must be between 1024 and \
                 67108864 (64 MiB)",
            ),
            (
                "idle_timeout_secs = 0",
                "TOML parse error at line 1, column 21: idle_timeout_secs: must be between 1 and \
                 3600",
            ),
        ] {
            assert_eq!(Config::parse(text).expect_err(text), want, "{text}");
        }
    }

    /// A TOML error names line and column but never shows the line: it may hold a secret.
    #[test]
    fn parse_errors_do_not_echo_the_text() {
        let text = "listen = \"127.0.0.1:8080\"\nadmin_token = \"hunter2-secret-token\n";
        let err = Config::parse(text).expect_err("unterminated string");
        assert!(!err.contains("hunter2"), "{err}");
        assert!(
            err.starts_with("TOML parse error at line 2, column "),
            "{err}"
        );
        let err = Config::parse("max_body_bytes = \"hunter2-secret-token\"\n").expect_err("type");
        assert!(!err.contains("hunter2"), "{err}");
        assert!(err.contains("line 1"), "{err}");
        assert!(err.contains("expected usize"), "{err}");
    }

    /// A count of 0 is refused while the file is read, naming the key with its table.
    #[test]
    fn zero_counts_are_refused_by_key() {
        for (text, want) in [
            (
                "[dispatch]\nmax_attempts = 0\n",
                "TOML parse error at line 2, column 16: dispatch.max_attempts: must be at least 1",
            ),
            (
                "[dispatch]\nconcurrency = 0\n",
                "TOML parse error at line 2, column 15: dispatch.concurrency: must be at least 1",
            ),
            (
                "dispatch.request_timeout_secs = 0\n",
                "TOML parse error at line 1, column 33: dispatch.request_timeout_secs: must be at \
                 least 1",
            ),
        ] {
            assert_eq!(Config::parse(text).expect_err(text), want, "{text}");
        }
        let err = Config::parse("[dispatch]\nconcurrency = \"hunter2\"\n").expect_err("type");
        assert!(!err.contains("hunter2"), "{err}");
        assert!(
            err.contains(": dispatch.concurrency: invalid type"),
            "{err}"
        );
    }

    #[test]
    fn env_overrides_win_over_the_file() {
        let mut c = Config::default();
        c.apply_env(&env(&[
            ("PRINTBRIDGE_LISTEN", "0.0.0.0:1234"),
            ("PRINTBRIDGE_DATABASE_URL", "postgres://u@h/db"),
        ]));
        c.validate().expect("valid");
        assert_eq!(c.listen, "0.0.0.0:1234");
        assert!(c.database_url.starts_with("postgres://"));
    }

    #[test]
    fn debug_output_hides_secrets() {
        let c = Config::parse(FULL).expect("parses");
        let dbg = format!("{c:?}");
        assert!(!dbg.contains("\"cs_1\""), "{dbg}");
        assert!(!dbg.contains("\"ss\""), "{dbg}");
    }
}

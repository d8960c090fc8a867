//! The real executor: turns a job into the provider call it stands for.
//!
//! - Spiff `place_order`: one `orderCreate` with all Spiff items. Spiff documents no way to
//!   ask whether an order exists, so an earlier attempt interrupted after its request was
//!   handed to the network parks the job for review (one interrupted before is sent again).
//! - Apliiq `place_order`: `POST /v1/Order`, preceded by a `GET /v1/Order` for the shop's
//!   order id unless this is the job's first claim (a replay, or an earlier attempt cut off
//!   or uncertain, may have placed it); an ambiguous answer is resolved by a lookup.
//! - Key2print `fetch_pdf`: the project PDF, fetched at once and kept under `data_dir`.
//! - WooCommerce `order_note`: a private order note (write-back); `fetch_order`: reads the
//!   order through REST for intake.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::{BoxFuture, Executor, Outcome, Report, SendMark};
use crate::clock::Clock;
use crate::config::{ApliiqConfig, Config};
use crate::events::send::EventSender;
use crate::outbox::job_types::{JobKind, JobQueue};
use crate::outbox::jobs::{ClaimedJob, FollowUp, NewFile};
use crate::providers::apliiq::{
    ApliiqAddress, ApliiqClient, ApliiqLineItem, ApliiqOrder, ApliiqPlacement, ApliiqShippingLine,
};
use crate::providers::key2print::Key2printClient;
use crate::providers::spiff::{SpiffClient, SpiffOrderItem, SpiffPlacement};
use crate::providers::{ErrorKind, FailureClass, ProviderError};
use crate::woo::model::{Address, Order};
use crate::woo::rest::{WooClient, WooError};

/// The clients of one store, built once.
struct StoreClients {
    spiff: Option<Result<SpiffClient, String>>,
    apliiq: Option<(Result<ApliiqClient, String>, ApliiqConfig)>,
    key2print: Option<Result<Key2printClient, String>>,
    woo: Option<WooClient>,
}

/// Executes jobs with the configured provider clients.
pub struct ProviderExecutor {
    stores: HashMap<String, StoreClients>,
    data_dir: PathBuf,
    events: EventSender,
}

impl ProviderExecutor {
    pub fn new(config: &Config, clock: Arc<dyn Clock>) -> Self {
        let timeout = config.dispatch.request_timeout();
        let stores = config
            .stores
            .iter()
            .map(|s| {
                let clients = StoreClients {
                    spiff: s.spiff.as_ref().map(|c| {
                        SpiffClient::new(c, timeout)
                            .map(|cl| cl.with_clock(clock.clone()))
                            .map_err(|e| e.to_string())
                    }),
                    apliiq: s.apliiq.as_ref().map(|c| {
                        (
                            ApliiqClient::new(c, timeout)
                                .map(|cl| cl.with_clock(clock.clone()))
                                .map_err(|e| e.to_string()),
                            c.clone(),
                        )
                    }),
                    key2print: s.key2print.as_ref().map(|c| {
                        Key2printClient::new(c, timeout)
                            .map(|cl| cl.with_clock(clock.clone()))
                            .map_err(|e| e.to_string())
                    }),
                    woo: WooClient::from_store(s, timeout).map(|w| w.with_clock(clock.clone())),
                };
                (s.id.clone(), clients)
            })
            .collect();
        ProviderExecutor {
            stores,
            data_dir: config.data_dir.clone(),
            events: EventSender::new(config, clock),
        }
    }

    async fn run(&self, job: &ClaimedJob, order: Option<&Value>, sent: &dyn SendMark) -> Report {
        let Some(clients) = self.stores.get(&job.store_id) else {
            return permanent(format!("store {} is no longer configured", job.store_id));
        };
        let kind = match &job.kind {
            Ok(kind) => *kind,
            Err(unknown) => {
                return permanent(format!("unknown job kind {}/{}", job.provider, unknown.got));
            }
        };
        match (job.provider, kind) {
            (JobQueue::Spiff, JobKind::PlaceOrder) => match &clients.spiff {
                Some(Ok(c)) => spiff_order(c, job, sent).await,
                Some(Err(e)) => permanent(e.clone()),
                None => not_configured("Spiff", "[stores.spiff]"),
            },
            (JobQueue::Apliiq, JobKind::PlaceOrder) => match &clients.apliiq {
                Some((Ok(c), cfg)) => apliiq_order(c, cfg, job, order, sent).await,
                Some((Err(e), _)) => permanent(e.clone()),
                None => not_configured("Apliiq", "[stores.apliiq]"),
            },
            (JobQueue::Key2print, JobKind::FetchPdf) => match &clients.key2print {
                Some(Ok(c)) => self.key2print_pdf(c, job).await,
                Some(Err(e)) => permanent(e.clone()),
                None => not_configured("Key2print", "[stores.key2print]"),
            },
            (JobQueue::Woocommerce, JobKind::OrderNote) => match &clients.woo {
                Some(w) => order_note(w, job).await,
                None => not_configured("WooCommerce REST", "woocommerce_consumer_key/secret"),
            },
            (JobQueue::Woocommerce, JobKind::FetchOrder) => match &clients.woo {
                Some(w) => fetch_order(w, job).await,
                None => not_configured("WooCommerce REST", "woocommerce_consumer_key/secret"),
            },
            (JobQueue::Events, JobKind::SendEvent) => self.events.send(job).await,
            (p, k) => permanent(format!("unknown job kind {p}/{k}")),
        }
    }

    async fn key2print_pdf(&self, client: &Key2printClient, job: &ClaimedJob) -> Report {
        let project = job.target.as_str();
        let pdf = match client.download_project(project).await {
            Ok(pdf) => pdf,
            Err(e) => return from_error(&e),
        };
        let dir = self
            .data_dir
            .join("key2print")
            .join(safe_segment(&job.store_id))
            .join(job.order_id.to_string());
        let name = format!("{}.pdf", safe_segment(project));
        let path = dir.join(&name);
        if let Err(e) = write_atomically(&dir, &path, &pdf.bytes).await {
            // Our disk, not the provider: try again later.
            return Report::new(Outcome::Retryable {
                retry_after: None,
                error: format!("cannot keep the PDF under data_dir: {e}"),
            });
        }
        let sha256 = hex::encode(Sha256::digest(&pdf.bytes));
        let size = i64::try_from(pdf.bytes.len()).unwrap_or(i64::MAX);
        let text = format!(
            "PrintBridge: Key2print PDF of project {project} fetched ({} KB). Open it from the PrintBridge box on this order.",
            pdf.bytes.len().div_ceil(1024)
        );
        Report {
            outcome: Outcome::Success {
                provider_ref: Some(project.to_owned()),
                result: json!({ "bytes": size, "sha256": sha256 }),
                follow_up: FollowUp {
                    notes: vec![(format!("placed:key2print:{project}"), text)],
                    file: Some(NewFile {
                        name: format!("order-{}-{}", job.order_id, name),
                        path: path.display().to_string(),
                        size,
                        sha256,
                    }),
                    attention: None,
                    events: Vec::new(),
                },
                resolved: false,
            },
            status_code: Some(200),
            excerpt: None,
        }
    }
}

impl Executor for ProviderExecutor {
    fn execute<'a>(
        &'a self,
        job: &'a ClaimedJob,
        order: Option<&'a Value>,
        sent: &'a dyn SendMark,
    ) -> BoxFuture<'a, Report> {
        Box::pin(self.run(job, order, sent))
    }
}

fn permanent(reason: String) -> Report {
    Report::new(Outcome::Permanent { reason })
}

fn not_configured(what: &str, key: &str) -> Report {
    permanent(format!(
        "{what} is not configured for this store ({key} missing); configure it and replay the job"
    ))
}

fn excerpt_of(e: &ProviderError) -> Option<String> {
    match &e.kind {
        ErrorKind::Status { excerpt, .. }
        | ErrorKind::SignatureSuspect { excerpt, .. }
        | ErrorKind::Unexpected { excerpt, .. } => Some(excerpt.clone()),
        ErrorKind::Rejected { message, .. } => Some(message.clone()),
        ErrorKind::GraphQl { messages } => Some(messages.clone()),
        _ => None,
    }
}

/// A failed provider call as a report, classified by the provider module.
fn from_error(e: &ProviderError) -> Report {
    let outcome = match e.class() {
        FailureClass::Retryable { retry_after } => Outcome::Retryable {
            retry_after,
            error: e.to_string(),
        },
        FailureClass::Ambiguous { reason } => Outcome::Ambiguous { reason },
        FailureClass::Permanent { reason } => Outcome::Permanent { reason },
    };
    Report {
        outcome,
        status_code: e.status(),
        excerpt: excerpt_of(e),
    }
}

fn placed(
    provider_ref: Option<String>,
    result: Value,
    note: (String, String),
    resolved: bool,
) -> Report {
    Report {
        outcome: Outcome::Success {
            provider_ref,
            result,
            follow_up: FollowUp {
                notes: vec![note],
                file: None,
                attention: None,
                events: Vec::new(),
            },
            resolved,
        },
        status_code: Some(200),
        excerpt: None,
    }
}

/// Records that a request is about to leave; when that cannot be recorded, nothing is sent
/// and the attempt is retried.
async fn mark_sent(sent: &dyn SendMark) -> Result<(), Report> {
    sent.mark().await.map_err(|error| {
        Report::new(Outcome::Retryable {
            retry_after: None,
            error,
        })
    })
}

/// The time of a millisecond timestamp, for reasons shown to the operator.
fn at(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
        .unwrap_or_else(|| ms.to_string())
}

async fn spiff_order(client: &SpiffClient, job: &ClaimedJob, sent: &dyn SendMark) -> Report {
    let items = spiff_items(job);
    if items.is_empty() {
        return permanent("the job holds no Spiff items".to_owned());
    }
    let transactions: Vec<&str> = items.iter().map(|i| i.transaction_id.as_str()).collect();
    let check = format!(
        "Spiff documents no way to ask whether it created the order: check the Spiff hub for \
         transactions {}, then replay only if no order exists",
        transactions.join(", ")
    );
    // An attempt interrupted before its request left sent nothing: it is simply sent now.
    if let Some(sent_at) = job.sent_unrecorded {
        return Report::new(Outcome::Ambiguous {
            reason: format!(
                "an earlier attempt was interrupted after its order request was handed to Spiff \
                 ({}), before its answer was recorded (the bridge stopped, or could not reach \
                 its database); {check}",
                at(sent_at)
            ),
        });
    }
    if let Err(report) = mark_sent(sent).await {
        return report;
    }
    match client.create_order(&items).await {
        Ok(placement) => spiff_placed(placement, &transactions),
        Err(e) => {
            let mut report = from_error(&e);
            if let Outcome::Ambiguous { reason } = &mut report.outcome {
                *reason = format!(
                    "{reason}; Spiff may have received the request and created the order. {check}"
                );
            }
            report
        }
    }
}

/// The Spiff items of a job's payload; entries without a quantity or a transaction are left out.
fn spiff_items(job: &ClaimedJob) -> Vec<SpiffOrderItem> {
    job.payload["items"]
        .as_array()
        .map(|items| {
            items
                .iter()
                .filter_map(|i| {
                    Some(SpiffOrderItem {
                        amount_to_order: u32::try_from(i["quantity"].as_i64()?).ok()?.max(1),
                        transaction_id: i["transaction_id"].as_str()?.to_owned(),
                    })
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The report of a placed Spiff order of `transactions` (one per design), with its note.
fn spiff_placed(placement: SpiffPlacement, transactions: &[&str]) -> Report {
    let id = placement.order_id;
    let order = id.as_deref().map_or_else(
        || "a Spiff order".to_owned(),
        |i| format!("Spiff order {i}"),
    );
    let designs = transactions.len();
    placed(
        id.clone(),
        json!({ "spiff_order_id": id, "transactions": transactions, "answer": placement.answer }),
        (
            "placed:spiff:order".to_owned(),
            format!(
                "PrintBridge: {order} placed ({designs} design{}).",
                if designs == 1 { "" } else { "s" }
            ),
        ),
        false,
    )
}

fn address(a: &Address) -> ApliiqAddress {
    let opt = |s: &str| (!s.trim().is_empty()).then(|| s.trim().to_owned());
    ApliiqAddress {
        first_name: a.first_name.clone(),
        last_name: a.last_name.clone(),
        company: opt(&a.company),
        address1: a.address_1.clone(),
        address2: opt(&a.address_2),
        city: a.city.clone(),
        zip: a.postcode.clone(),
        province: a.state.clone(),
        province_code: a.state.clone(),
        country: a.country.clone(),
        country_code: a.country.clone(),
        phone: opt(&a.phone),
    }
}

fn money(v: &Value) -> String {
    match v {
        Value::Number(n) => format!("{:.2}", n.as_f64().unwrap_or(0.0)),
        Value::String(s) => s.clone(),
        _ => "0.00".to_owned(),
    }
}

/// The `POST /v1/Order` body for a WooCommerce order: its APQ lines, the shipping address
/// (billing when the order has none) and the shipping method mapped to an Apliiq code.
pub fn apliiq_order_for(
    cfg: &ApliiqConfig,
    order: &Order,
    items: &[Value],
) -> Result<ApliiqOrder, String> {
    let line_items: Vec<ApliiqLineItem> = items
        .iter()
        .filter_map(|i| {
            Some(ApliiqLineItem {
                id: i["item_id"].as_i64()?.to_string(),
                title: i["name"].as_str().unwrap_or_default().to_owned(),
                quantity: u32::try_from(i["quantity"].as_i64()?).ok()?,
                price: money(&i["price"]),
                grams: 0,
                sku: i["sku"].as_str()?.to_owned(),
            })
        })
        .collect();
    if line_items.is_empty() {
        return Err("the job holds no Apliiq lines".to_owned());
    }
    let ship_to = if order.shipping.address_1.trim().is_empty() {
        &order.billing
    } else {
        &order.shipping
    };
    if ship_to.address_1.trim().is_empty() || ship_to.country.trim().is_empty() {
        return Err(format!(
            "order {} has neither a shipping nor a billing address",
            order.id
        ));
    }
    let code = order
        .shipping_lines
        .iter()
        .find_map(|l| {
            cfg.shipping_codes
                .get(&l.method_id)
                .or_else(|| cfg.shipping_codes.get(&l.method_title))
        })
        .cloned()
        .unwrap_or_else(|| cfg.default_shipping_code.clone());
    let number: u64 = order
        .number
        .trim()
        .parse()
        .ok()
        .or_else(|| u64::try_from(order.id).ok())
        .unwrap_or(0);
    Ok(ApliiqOrder {
        id: order.id.to_string(),
        number,
        name: format!("#{}", order.number.trim()),
        order_number: number,
        email: (!order.billing.email.trim().is_empty()).then(|| order.billing.email.clone()),
        line_items,
        shipping_address: address(ship_to),
        shipping_lines: vec![ApliiqShippingLine { code }],
    })
}

/// Asks Apliiq whether an earlier attempt placed order `shop_id`: a report when it did or
/// when the lookup failed (asked again later), `None` when it did not.
async fn look_up_first(client: &ApliiqClient, shop_id: &str) -> Option<Report> {
    match client.find_order(shop_id).await {
        Ok(Some(found)) => Some(placed(
            found.order_id.clone(),
            json!({ "apliiq_order_id": found.order_id, "found_by_lookup": true }),
            apliiq_placed_note(found.order_id.as_deref()),
            true,
        )),
        Ok(None) => None,
        Err(e) => Some(Report {
            outcome: Outcome::Unresolved {
                error: format!("{e}; looked up again later"),
                review: apliiq_review(shop_id, "an earlier attempt may have placed the order"),
            },
            ..from_error(&e)
        }),
    }
}

async fn apliiq_order(
    client: &ApliiqClient,
    cfg: &ApliiqConfig,
    job: &ClaimedJob,
    order: Option<&Value>,
    sent: &dyn SendMark,
) -> Report {
    let Some(order) = order.and_then(|o| serde_json::from_value::<Order>(o.clone()).ok()) else {
        return permanent("the order's current state cannot be read from the ledger".to_owned());
    };
    let items = job.payload["items"].as_array().cloned().unwrap_or_default();
    let body = match apliiq_order_for(cfg, &order, &items) {
        Ok(b) => b,
        Err(reason) => return permanent(reason),
    };
    let shop_id = order.id.to_string();
    // An earlier attempt (one cut off, an uncertain one, or one before a replay) may
    // already have placed it: ask first. A job's first claim follows no earlier call.
    if !job.first_claim
        && let Some(report) = look_up_first(client, &shop_id).await
    {
        return report;
    }
    if let Err(report) = mark_sent(sent).await {
        return report;
    }
    match client.create_order(&body).await {
        Ok(ApliiqPlacement::Placed { order_id }) => placed(
            order_id.clone(),
            json!({ "apliiq_order_id": order_id }),
            apliiq_placed_note(order_id.as_deref()),
            false,
        ),
        Ok(ApliiqPlacement::Held { reason }) => apliiq_held(reason),
        Err(e) => {
            let first = from_error(&e);
            if !matches!(first.outcome, Outcome::Ambiguous { .. }) {
                return first;
            }
            apliiq_resolve(client, &shop_id, &e, first).await
        }
    }
}

/// The order note of a placed Apliiq order.
fn apliiq_placed_note(order_id: Option<&str>) -> (String, String) {
    (
        "placed:apliiq:order".to_owned(),
        format!(
            "PrintBridge: Apliiq order {} placed.",
            order_id.unwrap_or("(id not given)")
        ),
    )
}

/// The review reason of an Apliiq order whose lookup kept failing after `what`.
fn apliiq_review(shop_id: &str, what: &str) -> String {
    format!(
        "{what}, and looking up Apliiq order {shop_id} kept failing: check Apliiq for order {shop_id} before replaying"
    )
}

/// Apliiq accepted the order but holds it: done, with a note and an attention line.
fn apliiq_held(reason: String) -> Report {
    let text = format!("PrintBridge: Apliiq accepted the order but holds it: {reason}");
    Report {
        outcome: Outcome::Success {
            provider_ref: None,
            result: json!({ "held": reason }),
            follow_up: FollowUp {
                notes: vec![("held:apliiq:order".to_owned(), text.clone())],
                file: None,
                attention: Some(text),
                events: Vec::new(),
            },
            resolved: false,
        },
        status_code: Some(202),
        excerpt: Some(reason),
    }
}

/// Resolves an order request whose outcome is uncertain (`e`, reported as `first`) by asking
/// Apliiq for order `shop_id`.
async fn apliiq_resolve(
    client: &ApliiqClient,
    shop_id: &str,
    e: &ProviderError,
    first: Report,
) -> Report {
    match client.find_order(shop_id).await {
        Ok(Some(found)) => placed(
            found.order_id.clone(),
            json!({ "apliiq_order_id": found.order_id, "found_by_lookup": true }),
            apliiq_placed_note(found.order_id.as_deref()),
            true,
        ),
        Ok(None) => Report {
            outcome: Outcome::Retryable {
                retry_after: None,
                error: format!("{e}; Apliiq has no order {shop_id}, so it is sent again"),
            },
            ..first
        },
        Err(lookup) => Report {
            outcome: Outcome::Unresolved {
                error: format!("{e}; the lookup failed too ({lookup}); looked up again later"),
                review: apliiq_review(shop_id, &format!("Apliiq answered {e}")),
            },
            ..first
        },
    }
}

fn from_woo_error(e: &WooError) -> Report {
    let outcome = if e.retryable() || e.may_have_taken_effect() {
        // A repeated note or read is harmless.
        Outcome::Retryable {
            retry_after: e.retry_after(),
            error: e.to_string(),
        }
    } else {
        Outcome::Permanent {
            reason: e.to_string(),
        }
    };
    Report {
        outcome,
        status_code: e.status(),
        excerpt: None,
    }
}

async fn order_note(client: &WooClient, job: &ClaimedJob) -> Report {
    let Some(note) = job.payload["note"].as_str() else {
        return permanent("the job holds no note".to_owned());
    };
    match client.add_order_note(job.order_id, note, false).await {
        Ok(id) => Report {
            outcome: Outcome::Success {
                provider_ref: Some(id.to_string()),
                result: json!({ "note_id": id }),
                follow_up: FollowUp::default(),
                resolved: false,
            },
            status_code: Some(201),
            excerpt: None,
        },
        Err(e) => from_woo_error(&e),
    }
}

async fn fetch_order(client: &WooClient, job: &ClaimedJob) -> Report {
    match client.get_order(job.order_id).await {
        Ok(fetched) => Report {
            outcome: Outcome::Success {
                provider_ref: None,
                result: json!({ "fetched_order": String::from_utf8_lossy(&fetched.raw) }),
                follow_up: FollowUp::default(),
                resolved: false,
            },
            status_code: Some(200),
            excerpt: None,
        },
        Err(e) => from_woo_error(&e),
    }
}

/// A path segment made of safe characters only.
fn safe_segment(s: &str) -> String {
    let cleaned: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if cleaned.is_empty() {
        "_".to_owned()
    } else {
        cleaned
    }
}

/// The directory holding `p`; a relative path's last parent is the working directory.
fn parent_dir(p: &Path) -> Option<PathBuf> {
    p.parent().map(|parent| {
        if parent.as_os_str().is_empty() {
            PathBuf::from(".")
        } else {
            parent.to_owned()
        }
    })
}

/// Whether `name` is a temporary file of [`write_atomically`]: `<stem>.tmp-<32 hex digits>`.
fn is_temporary(name: &str) -> bool {
    name.rsplit_once(".tmp-")
        .is_some_and(|(_, id)| id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// Removes the temporary files that downloads cut off by a crash left under
/// `data_dir/key2print` (a finished download is renamed into place, so none of them is ever
/// read); returns how many. Run at start, before any download.
pub fn remove_interrupted_downloads(data_dir: &Path) -> std::io::Result<usize> {
    let mut removed = 0;
    let mut dirs = vec![data_dir.join("key2print")];
    while let Some(dir) = dirs.pop() {
        let entries = match std::fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        for entry in entries {
            let entry = entry?;
            let kind = entry.file_type()?;
            if kind.is_dir() {
                dirs.push(entry.path());
            } else if kind.is_file() && entry.file_name().to_str().is_some_and(is_temporary) {
                std::fs::remove_file(entry.path())?;
                removed += 1;
            }
        }
    }
    Ok(removed)
}

/// Keeps `bytes` at `path` so that they survive a crash once this returns: written to a
/// temporary file and synced, renamed into place, then the directory synced, with every
/// directory created for it up to the one that already existed, so the name survives too.
/// One blocking task for the whole sequence.
async fn write_atomically(dir: &Path, path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let (dir, path, bytes) = (dir.to_owned(), path.to_owned(), bytes.to_vec());
    tokio::task::spawn_blocking(move || {
        use std::io::Write;
        let mut existing = dir.clone();
        while !existing.is_dir()
            && let Some(parent) = parent_dir(&existing)
        {
            existing = parent;
        }
        std::fs::create_dir_all(&dir)?;
        let tmp = path.with_extension(format!("tmp-{}", uuid::Uuid::new_v4().simple()));
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(&bytes)?;
        file.sync_all()?;
        std::fs::rename(&tmp, &path)?;
        let mut synced = dir;
        loop {
            std::fs::File::open(&synced)?.sync_all()?;
            match parent_dir(&synced) {
                Some(parent) if synced != existing => synced = parent,
                _ => break,
            }
        }
        Ok(())
    })
    .await
    .map_err(std::io::Error::other)?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_names_of_interrupted_downloads_are_temporary() {
        assert!(is_temporary("p.tmp-0123456789abcdef0123456789abcdef"));
        assert!(!is_temporary("p.pdf"));
        assert!(!is_temporary("p.tmp-notes"));
        assert!(!is_temporary("p.tmp-0123456789abcdef0123456789abcde"));
    }

    #[test]
    fn parent_of_a_relative_top_directory_is_the_working_directory() {
        assert_eq!(parent_dir(Path::new("data")), Some(PathBuf::from(".")));
        assert_eq!(parent_dir(Path::new("data/k")), Some(PathBuf::from("data")));
        assert_eq!(parent_dir(Path::new("/")), None);
    }

    #[tokio::test]
    async fn kept_files_land_whole_in_new_directories() {
        let root = tempfile::tempdir().expect("temp dir");
        let dir = root.path().join("key2print").join("shop").join("7");
        let path = dir.join("p.pdf");
        write_atomically(&dir, &path, b"%PDF-1.7 one")
            .await
            .expect("written");
        write_atomically(&dir, &path, b"%PDF-1.7 two")
            .await
            .expect("replaced");
        assert_eq!(std::fs::read(&path).expect("read"), b"%PDF-1.7 two");
        let names: Vec<_> = std::fs::read_dir(&dir)
            .expect("list")
            .map(|e| e.expect("entry").file_name())
            .collect();
        assert_eq!(names, ["p.pdf"], "no temporary file is left behind");
    }
}

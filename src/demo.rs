//! `printbridge demo`: the whole job in one command, with no provider account. The real
//! bridge on a fresh SQLite file, the provider sandboxes on loopback, one signed WooCommerce
//! order (the shape of a captured WooCommerce 11 delivery) with one item per provider, the
//! Key2print editor walking the bridge's product gateway, Apliiq's fulfilment callback written
//! back to the shop's order, and a table of what happened.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::app::Application;
use crate::config::Config;
use crate::outbox::job_types::{JobQueue, JobState};
use crate::reads::jobs::JobDetail;
use crate::sandbox::shop::DemoShop;
use crate::sandbox::{Sandbox, SandboxCredentials};
use crate::secret::Secret;

/// A real order.created delivery captured from WooCommerce 11.0.1 (checkout and payment in one
/// request); the demo keeps its shape and replaces the line items.
const CAPTURED: &str =
    include_str!("../tests/fixtures/woocommerce/wc-11.0.1_wp-7.1/26-G1-order.created.json");

const STORE: &str = "demo";
const WEBHOOK_SECRET: &str = "demo-webhook-secret";
const STORE_TOKEN: &str = "demo-store-token";

/// Options of `printbridge demo`.
#[derive(Debug, Clone)]
pub struct DemoOptions {
    /// Where the bridge listens (`127.0.0.1:0`: any free port).
    pub listen: String,
    /// Exit after the table: 0 only if every provider order went through.
    pub once: bool,
    /// Directory for the fresh database and kept files (default: a new temporary one).
    pub dir: Option<PathBuf>,
}

/// One row of the result table.
#[derive(Debug, Clone)]
pub struct DemoRow {
    pub provider: String,
    pub call: String,
    pub signature_verified: bool,
    pub state: String,
    pub result: String,
    pub took_ms: i64,
    /// The step did what it should (placed, answered as documented, written back).
    pub passed: bool,
}

/// The demo order: the captured delivery with a Spiff, an Apliiq and a Key2print item.
pub fn demo_order() -> Result<Value, String> {
    let capture: Value =
        serde_json::from_str(CAPTURED).map_err(|e| format!("embedded capture: {e}"))?;
    let mut order: Value = capture["body"]
        .as_str()
        .and_then(|b| serde_json::from_str(b).ok())
        .ok_or("embedded capture has no body")?;
    let item = |id: i64, name: &str, sku: &str, key: Option<(&str, &str)>| {
        let meta: Vec<Value> = key
            .map(|(k, v)| vec![json!({"id": id * 10, "key": k, "value": v, "display_key": k, "display_value": v})])
            .unwrap_or_default();
        json!({
            "id": id, "name": name, "product_id": 11, "variation_id": 0, "quantity": 1,
            "tax_class": "", "subtotal": "12.50", "subtotal_tax": "0.00", "total": "12.50",
            "total_tax": "0.00", "taxes": [], "meta_data": meta, "sku": sku,
            "global_unique_id": "", "price": 12.5, "image": {"id": "", "src": ""}, "parent_name": null
        })
    };
    order["line_items"] = json!([
        item(
            1,
            "Personalised mug",
            "MUG-SPIFF",
            Some((
                "_printbridge_spiff_transaction_id",
                "e3ac7f3a-a117-46d7-a5f0-232fbc7cfe38"
            ))
        ),
        item(2, "Organic tee - M", "APQ-1998244S7A1", None),
        item(
            3,
            "Business cards A5",
            "BC-A5",
            Some((
                "_printbridge_key2print_project_id",
                "4803155d-8ec4-11ea-ba23-0242ac120003"
            ))
        ),
    ]);
    // Paid by card: a cash on delivery order in `processing` is not paid yet, and waits
    // for `completed` (the store's payment method policy).
    order["payment_method"] = json!("stripe");
    order["payment_method_title"] = json!("Credit card");
    order["shipping_lines"] = json!([{
        "id": 9, "method_title": "Flat rate", "method_id": "flat_rate", "instance_id": "1",
        "total": "4.90", "total_tax": "0.00", "taxes": [], "meta_data": []
    }]);
    Ok(order)
}

fn call_name(job: &JobDetail) -> &'static str {
    match job.job.provider.parse() {
        Ok(JobQueue::Spiff) => "orderCreate (GraphQL, X-Application-Key)",
        Ok(JobQueue::Apliiq) => "POST /v1/Order (x-apliiq-auth)",
        Ok(JobQueue::Key2print) => "GET /api/v1/project/download (api-sign)",
        _ => "",
    }
}

/// Renders the result table.
pub fn render(rows: &[DemoRow]) -> String {
    let headers = [
        "provider",
        "call",
        "signature",
        "state",
        "provider order / PDF",
        "time",
    ];
    let cells: Vec<[String; 6]> = rows
        .iter()
        .map(|r| {
            [
                r.provider.clone(),
                r.call.clone(),
                if r.signature_verified {
                    "verified"
                } else {
                    "REFUSED"
                }
                .to_owned(),
                r.state.clone(),
                r.result.clone(),
                format!("{} ms", r.took_ms),
            ]
        })
        .collect();
    let mut widths = headers.map(str::len);
    for row in &cells {
        for (w, c) in widths.iter_mut().zip(row) {
            *w = (*w).max(c.chars().count());
        }
    }
    let mut out = String::new();
    let line = |out: &mut String, row: &[String]| {
        let parts: Vec<String> = row
            .iter()
            .zip(widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        let _ = writeln!(out, "| {} |", parts.join(" | "));
    };
    line(&mut out, &headers.map(str::to_owned));
    let _ = writeln!(
        out,
        "|{}|",
        widths
            .iter()
            .map(|w| "-".repeat(w + 2))
            .collect::<Vec<_>>()
            .join("|")
    );
    for row in &cells {
        line(&mut out, row);
    }
    out
}

/// The running bridge of the demo.
struct Bridge {
    addr: std::net::SocketAddr,
    state: std::sync::Arc<crate::http::AppState>,
    db: PathBuf,
    admin_token: String,
    stop_tx: tokio::sync::oneshot::Sender<()>,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
}

/// The demo store: the sandboxes as providers, the demo shop's catalog and notes.
fn demo_store(sb: &Sandbox, shop: &DemoShop) -> anyhow::Result<crate::config::StoreConfig> {
    let mut store = sb
        .store_config(STORE, WEBHOOK_SECRET, STORE_TOKEN)
        .map_err(anyhow::Error::msg)?;
    store.woocommerce_url = Some(shop.url());
    store.woocommerce_consumer_key = Some("ck_demo".to_owned());
    store.woocommerce_consumer_secret = Some(Secret::new("cs_demo"));
    store.tax_rates.insert(
        "standard".to_owned(),
        crate::config::TaxRateConfig {
            rate: "20".to_owned(),
            name: Some("VAT 20%".to_owned()),
        },
    );
    Ok(store)
}

async fn start_bridge(opts: &DemoOptions, sb: &Sandbox, shop: &DemoShop) -> anyhow::Result<Bridge> {
    let dir = match &opts.dir {
        Some(d) => {
            std::fs::create_dir_all(d)?;
            d.clone()
        }
        None => tempfile_dir()?,
    };
    let db = dir.join("printbridge-demo.db");
    let _ = std::fs::remove_file(&db);
    let admin_token = uuid::Uuid::new_v4().simple().to_string();
    // Installed before the port is bound (see `crate::app::shutdown_signal`).
    let signal = (!opts.once).then(crate::app::shutdown_signal);
    let listener = tokio::net::TcpListener::bind(&opts.listen).await?;
    let addr = listener.local_addr()?;
    let mut config = Config {
        listen: addr.to_string(),
        database_url: format!("sqlite://{}", db.display()),
        public_url: Some(format!("http://{addr}")),
        admin_token: Some(Secret::new(admin_token.clone())),
        data_dir: dir.join("data"),
        ..Config::default()
    };
    config.dispatch.request_timeout_secs = std::num::NonZeroU64::new(5).expect("5 is not 0");
    config.dispatch.backoff_base_secs = 1;
    config.dispatch.backoff_cap_secs = 2;
    config.dispatch.reconcile_interval_secs = 0;
    config.stores = vec![demo_store(sb, shop)?];
    config.validate()?;
    let app = Application::build(config, Some(listener), None).await?;
    let state = app.state();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until(async move {
        match signal {
            None => {
                let _ = stop_rx.await;
            }
            Some(signal) => {
                tokio::select! {
                    _ = stop_rx => {}
                    _ = signal => {}
                }
            }
        }
    }));
    Ok(Bridge {
        addr,
        state,
        db,
        admin_token,
        stop_tx,
        server,
    })
}

/// Sends the paid order as WooCommerce does; returns its id and the bridge's outcome.
async fn send_order(
    client: &reqwest::Client,
    addr: std::net::SocketAddr,
) -> anyhow::Result<(i64, String)> {
    let order = demo_order().map_err(anyhow::Error::msg)?;
    let order_id = order["id"].as_i64().unwrap_or(0);
    let body = serde_json::to_vec(&order)?;
    let resp = client
        .post(format!("http://{addr}/v1/webhooks/woocommerce/{STORE}"))
        .header("Content-Type", "application/json")
        .header("X-WC-Webhook-Topic", "order.created")
        .header(
            "X-WC-Webhook-Signature",
            crate::woo::signature::sign(WEBHOOK_SECRET, &body),
        )
        .body(body)
        .send()
        .await?;
    let ack: Value = resp.json().await.unwrap_or(Value::Null);
    let outcome = ack["outcome"].as_str().unwrap_or("not accepted").to_owned();
    Ok((order_id, outcome))
}

/// One row per provider job, once every job has settled (or a minute has passed).
async fn placement_rows(
    bridge: &Bridge,
    sb: &Sandbox,
    order_id: i64,
) -> anyhow::Result<Vec<DemoRow>> {
    let deadline = Instant::now() + Duration::from_secs(60);
    let jobs = loop {
        let jobs = bridge.state.store.order_jobs(STORE, order_id).await?;
        let settled = jobs
            .iter()
            .filter(|j| j.job.provider != JobQueue::Woocommerce)
            .count()
            == 3
            && jobs.iter().all(|j| {
                !matches!(
                    j.job.state.parse(),
                    Ok(JobState::Pending | JobState::Retrying | JobState::Running)
                )
            });
        if settled || Instant::now() > deadline {
            break jobs;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let calls = sb.state.calls();
    let mut rows = Vec::new();
    for j in jobs
        .iter()
        .filter(|j| j.job.provider != JobQueue::Woocommerce)
    {
        let own: Vec<_> = calls
            .iter()
            .filter(|c| c.provider == j.job.provider && !c.call.starts_with("gateway"))
            .collect();
        let verified = !own.is_empty() && own.iter().all(|c| c.signature_ok);
        let result = match (j.job.provider.parse(), j.file_id) {
            (Ok(JobQueue::Key2print), Some(id)) => match bridge.state.store.file(id).await? {
                Some(f) => f.path,
                None => String::new(),
            },
            _ => j
                .job
                .provider_ref
                .clone()
                .or_else(|| j.job.last_error.clone())
                .unwrap_or_default(),
        };
        rows.push(DemoRow {
            provider: j.job.provider.clone(),
            call: call_name(j).to_owned(),
            signature_verified: verified,
            state: j.job.state.clone(),
            passed: verified && j.job.state == JobState::Done,
            result,
            took_ms: j.attempts_log.iter().map(|a| a.duration_ms).sum(),
        });
    }
    Ok(rows)
}

/// The shop opens the editor with the product gateway: the bridge starts a Key2print work
/// session with its gateway URLs, and the sandbox calls them as the editor does.
async fn gateway_rows(
    client: &reqwest::Client,
    addr: std::net::SocketAddr,
    sb: &Sandbox,
) -> Vec<DemoRow> {
    let started = Instant::now();
    let session = client
        .post(format!("http://{addr}/v1/stores/{STORE}/key2print/sessions"))
        .bearer_auth(STORE_TOKEN)
        .json(&json!({
            "mode": "user", "product_id": crate::sandbox::shop::PRODUCT_ID, "gateway": true,
            "customer": { "id": 7, "email": "ada@example.test", "first_name": "Ada", "last_name": "Lovelace" }
        }))
        .send()
        .await;
    let status = session.as_ref().map_or(0, |r| r.status().as_u16());
    let verified = sb
        .state
        .calls()
        .iter()
        .any(|c| c.call == "session/start" && c.signature_ok && c.status == 200);
    let mut rows = vec![DemoRow {
        provider: "key2print".to_owned(),
        call: "POST /api/v1/session/start (api-sign, gateway URLs)".to_owned(),
        signature_verified: verified,
        state: if status == 200 { "started" } else { "FAILED" }.to_owned(),
        result: format!("bridge answered HTTP {status}"),
        took_ms: i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX),
        passed: verified && status == 200,
    }];
    let report = crate::sandbox::key2print_editor::open_editor(&sb.state, None).await;
    let steps = match report {
        Ok(r) => r.steps,
        Err(e) => {
            rows[0].result = e;
            rows[0].passed = false;
            return rows;
        }
    };
    for step in steps {
        rows.push(DemoRow {
            provider: "key2print".to_owned(),
            call: format!("gateway {} (sign, editor -> bridge)", step.method),
            signature_verified: step.ok,
            state: if step.ok { "answered" } else { "FAILED" }.to_owned(),
            result: step.summary.or(step.problem).unwrap_or_default(),
            took_ms: i64::try_from(step.took_ms).unwrap_or(i64::MAX),
            passed: step.ok,
        });
    }
    rows
}

/// Apliiq ships: the sandbox sends the signed fulfilment callback, and the bridge writes the
/// tracking number back to the shop's order as a note.
async fn fulfilment_row(bridge: &Bridge, sb: &Sandbox, shop: &DemoShop, order_id: i64) -> DemoRow {
    let started = Instant::now();
    let request = crate::sandbox::apliiq::FulfilRequest {
        callback_url: format!("http://{}/v1/callbacks/apliiq/{STORE}", bridge.addr),
        order_id: order_id.to_string(),
        tracking_number: None,
    };
    let mut row = DemoRow {
        provider: "apliiq".to_owned(),
        call: "fulfilment callback (x-apliiq-hmac, Apliiq -> bridge)".to_owned(),
        signature_verified: false,
        state: "FAILED".to_owned(),
        result: String::new(),
        took_ms: 0,
        passed: false,
    };
    match crate::sandbox::apliiq::send_fulfilment(&sb.state, &request).await {
        Err(e) => row.result = e,
        Ok(report) if report.status != 200 => {
            row.result = format!("bridge answered HTTP {}: {}", report.status, report.answer);
        }
        Ok(report) => {
            row.signature_verified = true;
            let deadline = Instant::now() + Duration::from_secs(30);
            let noted = loop {
                let noted = shop
                    .notes_of(order_id)
                    .into_iter()
                    .any(|n| n.contains(&report.tracking_number));
                if noted || Instant::now() > deadline {
                    break noted;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            };
            row.state = if noted {
                "written back"
            } else {
                "not written back"
            }
            .to_owned();
            row.result = format!("USPS {} (order note)", report.tracking_number);
            row.passed = noted;
        }
    }
    row.took_ms = i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
    row
}

/// The rows the demo needs, in order: the three placements, the work session, the four
/// gateway calls and the fulfilment callback.
pub const EXPECTED_ROWS: [(&str, &str); 9] = [
    ("spiff", "orderCreate"),
    ("apliiq", "POST /v1/Order"),
    ("key2print", "GET /api/v1/project/download"),
    ("key2print", "POST /api/v1/session/start"),
    ("key2print", "gateway product-details"),
    ("key2print", "gateway available-options"),
    ("key2print", "gateway price"),
    ("key2print", "gateway setup-data"),
    ("apliiq", "fulfilment callback"),
];

/// Every expected step is there, in order, and passed: the demo's exit code is 0 only then.
pub fn all_passed(rows: &[DemoRow]) -> bool {
    rows.len() == EXPECTED_ROWS.len()
        && rows.iter().zip(EXPECTED_ROWS).all(|(r, (provider, call))| {
            r.passed && r.signature_verified && r.provider == provider && r.call.starts_with(call)
        })
}

/// Runs the demo, writing to `out`; returns the exit code.
pub async fn run(opts: DemoOptions, out: &mut (dyn std::io::Write + Send)) -> anyhow::Result<i32> {
    let started = Instant::now();
    let sb = Sandbox::start(SandboxCredentials::default(), "127.0.0.1", 0).await?;
    let shop = DemoShop::start("127.0.0.1").await?;
    let bridge = start_bridge(&opts, &sb, &shop).await?;
    let addr = bridge.addr;
    writeln!(
        out,
        "PrintBridge demo: bridge on http://{addr} (SQLite {}), sandboxes for Spiff {}, Apliiq {}, Key2print {}, shop {}",
        bridge.db.display(),
        sb.spiff_url(),
        sb.apliiq_url(),
        sb.key2print_url(),
        shop.url()
    )?;
    crate::net::ensure_crypto_provider();
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()?;
    let (order_id, outcome) = send_order(&client, addr).await?;
    writeln!(
        out,
        "Sent WooCommerce order {order_id} (processing, 3 personalised items): {outcome}"
    )?;
    let mut rows = placement_rows(&bridge, &sb, order_id).await?;
    rows.extend(gateway_rows(&client, addr, &sb).await);
    rows.push(fulfilment_row(&bridge, &sb, &shop, order_id).await);
    write!(out, "\n{}", render(&rows))?;
    let ok = all_passed(&rows);
    writeln!(
        out,
        "\n{} in {} ms.",
        if ok {
            "Every provider order went through exactly once; the gateway and the fulfilment callback answered as documented"
        } else {
            "Not everything went through"
        },
        started.elapsed().as_millis()
    )?;
    if opts.once {
        let _ = bridge.stop_tx.send(());
        let _ = bridge.server.await;
    } else {
        writeln!(
            out,
            "API docs: http://{addr}/docs  (admin token: {}). Ctrl-C to stop.",
            bridge.admin_token
        )?;
        out.flush()?;
        // Serve until Ctrl-C or SIGTERM.
        let _ = bridge.server.await;
        drop(bridge.stop_tx);
    }
    sb.stop();
    shop.stop();
    Ok(if ok { 0 } else { 1 })
}

/// A fresh directory under the system's temporary directory.
fn tempfile_dir() -> std::io::Result<PathBuf> {
    let d = std::env::temp_dir().join(format!(
        "printbridge-demo-{}",
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::create_dir_all(&d)?;
    Ok(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows() -> Vec<DemoRow> {
        EXPECTED_ROWS
            .iter()
            .map(|(provider, call)| DemoRow {
                provider: (*provider).to_owned(),
                call: format!("{call} (…)"),
                signature_verified: true,
                state: "done".to_owned(),
                result: String::new(),
                took_ms: 1,
                passed: true,
            })
            .collect()
    }

    #[test]
    fn the_demo_passes_only_when_every_step_did() {
        assert!(all_passed(&rows()));
        for n in 0..EXPECTED_ROWS.len() {
            let mut failed = rows();
            failed[n].passed = false;
            assert!(!all_passed(&failed), "row {n} failed");
            let mut refused = rows();
            refused[n].signature_verified = false;
            assert!(!all_passed(&refused), "row {n} refused");
            let mut missing = rows();
            missing.remove(n);
            assert!(!all_passed(&missing), "row {n} missing");
        }
    }
}

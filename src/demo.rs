//! `printbridge demo`: the whole job in one command, with no provider account. The real
//! bridge on a fresh SQLite file, the provider sandboxes on loopback, one signed WooCommerce
//! order (the shape of a captured WooCommerce 11 delivery) with one item per provider, and a
//! table of what happened.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::app::Application;
use crate::config::Config;
use crate::sandbox::{Sandbox, SandboxCredentials};
use crate::secret::Secret;
use crate::store::job_reads::JobDetail;

/// A real order.created delivery captured from WooCommerce 11.0.1 (checkout and payment in one
/// request); the demo keeps its shape and replaces the line items.
const CAPTURED: &str =
    include_str!("../tests/fixtures/woocommerce/wc-11.0.1_wp-7.1/26-G1-order.created.json");

const STORE: &str = "demo";
const WEBHOOK_SECRET: &str = "demo-webhook-secret";

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
    order["shipping_lines"] = json!([{
        "id": 9, "method_title": "Flat rate", "method_id": "flat_rate", "instance_id": "1",
        "total": "4.90", "total_tax": "0.00", "taxes": [], "meta_data": []
    }]);
    Ok(order)
}

fn call_name(job: &JobDetail) -> &'static str {
    match job.job.provider.as_str() {
        "spiff" => "orderCreate (GraphQL, X-Application-Key)",
        "apliiq" => "POST /v1/Order (x-apliiq-auth)",
        "key2print" => "GET /api/v1/project/download (api-sign)",
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

/// Runs the demo, writing to `out`; returns the exit code.
pub async fn run(opts: DemoOptions, out: &mut (dyn std::io::Write + Send)) -> anyhow::Result<i32> {
    let started = Instant::now();
    let sb = Sandbox::start(SandboxCredentials::default(), "127.0.0.1", 0).await?;
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
    config.dispatch.request_timeout_secs = 5;
    config.dispatch.backoff_base_secs = 1;
    config.dispatch.backoff_cap_secs = 2;
    config.dispatch.reconcile_interval_secs = 0;
    config.stores = vec![
        sb.store_config(STORE, WEBHOOK_SECRET, "demo-store-token")
            .map_err(anyhow::Error::msg)?,
    ];
    config.validate()?;
    let app = Application::build(config, Some(listener), None).await?;
    let state = app.state();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let once = opts.once;
    let server = tokio::spawn(app.run_until(async move {
        if once {
            let _ = stop_rx.await;
        } else {
            tokio::select! {
                _ = stop_rx => {}
                _ = crate::app::shutdown_signal() => {}
            }
        }
    }));
    writeln!(
        out,
        "PrintBridge demo: bridge on http://{addr} (SQLite {}), sandboxes for Spiff {}, Apliiq {}, Key2print {}",
        db.display(),
        sb.spiff_url(),
        sb.apliiq_url(),
        sb.key2print_url()
    )?;

    // The shop's webhook: a paid order with one item per provider, signed like WooCommerce.
    let order = demo_order().map_err(anyhow::Error::msg)?;
    let order_id = order["id"].as_i64().unwrap_or(0);
    let body = serde_json::to_vec(&order)?;
    crate::net::ensure_crypto_provider();
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()?;
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
    writeln!(
        out,
        "Sent WooCommerce order {order_id} (processing, 3 personalised items): {}",
        ack["outcome"].as_str().unwrap_or("not accepted")
    )?;

    // Wait for dispatch.
    let deadline = Instant::now() + Duration::from_secs(60);
    let jobs = loop {
        let jobs = state.store.order_jobs(STORE, order_id).await?;
        let settled = !jobs.is_empty()
            && jobs
                .iter()
                .all(|j| !matches!(j.job.state.as_str(), "pending" | "retrying" | "running"));
        if settled || Instant::now() > deadline {
            break jobs;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let calls = sb.state.calls();
    let mut rows = Vec::new();
    for j in jobs.iter().filter(|j| j.job.provider != "woocommerce") {
        let verified = calls.iter().any(|c| c.provider == j.job.provider)
            && calls
                .iter()
                .filter(|c| c.provider == j.job.provider)
                .all(|c| c.signature_ok);
        let result = match (j.job.provider.as_str(), j.file_id) {
            ("key2print", Some(id)) => match state.store.file(id).await? {
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
            result,
            took_ms: j.attempts_log.iter().map(|a| a.duration_ms).sum(),
        });
    }
    write!(out, "\n{}", render(&rows))?;
    let ok = rows.len() == 3
        && rows
            .iter()
            .all(|r| r.signature_verified && r.state == "done");
    writeln!(
        out,
        "\n{} in {} ms.",
        if ok {
            "Every provider order went through exactly once"
        } else {
            "Not every provider order went through"
        },
        started.elapsed().as_millis()
    )?;
    if !once {
        writeln!(
            out,
            "API docs: http://{addr}/docs  (admin token: {admin_token}). Ctrl-C to stop."
        )?;
        out.flush()?;
    }
    if once {
        let _ = stop_tx.send(());
        let _ = server.await;
    } else {
        // Serve until Ctrl-C or SIGTERM.
        let _ = server.await;
        drop(stop_tx);
    }
    sb.stop();
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

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use printbridge::config::{Config, ProcessEnv};

#[derive(Parser)]
#[command(
    name = "printbridge",
    version,
    about = "WooCommerce orders to Spiff, Apliiq and Key2print, exactly once"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

const SANDBOX_HELP: &str = "\
Endpoints (the credentials are printed at start):
  Spiff (port):        POST /graphql          X-Application-Key; the documented orderCreate mutation,
                                              orderItems as [OrderItemInput] (transactionId, amountToOrder)
                       POST /api/v2/orders    SOA signature with the chosen body digest only, Date as
                                              `D, d M Y H:i:s GMT` within 15 minutes, application/json
  Apliiq (port+1):     POST /v1/Order, GET /v1/Order
                                              x-apliiq-auth RTS:SIG:APPID:STATE, RTS within 5 minutes,
                                              each STATE once
                       POST /_sandbox/apliiq/fulfil
                                              sends the signed fulfilment callback (x-apliiq-hmac) of an
                                              order placed here: {\"callback_url\": \"<public_url>/v1/
                                              callbacks/apliiq/<store>\", \"order_id\": \"1234\"}; answers
                                              the bridge's status and answer
  Key2print (port+2):  the 17 WEBAPI methods under /api/v1/ (api-key, api-sign; documented fields,
                                              required fields per session mode)
                       POST /_sandbox/key2print/editor
                                              plays the editor for the newest work session started with
                                              a productGatewaySetup ({\"session_id\": …} for another):
                                              calls its four gateway URLs signed as documented and
                                              answers a report of the answers' shapes
                       POST /_sandbox/key2print/templates
                                              adds a project template as the merchant-mode editor
                                              would: {\"format_name\": \"Page A5\", \"template_name\":
                                              \"Flyer\"} (the format is made when missing)
  Every port:          GET /_sandbox/stats    what each sandbox received
                       POST /_sandbox/faults  queue failures: {\"provider\": \"apliiq\", \"faults\":
                                              [{\"status\": 500, \"after_effect\": true}]}";

#[derive(Subcommand)]
enum Command {
    /// Run the bridge (HTTP API and dispatcher). Without a config file: embedded defaults.
    Serve {
        /// TOML configuration file (default: ./printbridge.toml if present).
        #[arg(long, short)]
        config: Option<PathBuf>,
    },
    /// Validate a configuration file; names the bad key.
    CheckConfig {
        #[arg(long, short)]
        config: Option<PathBuf>,
    },
    /// Print the OpenAPI document (YAML) of this version.
    Openapi,
    /// Print the signature headers the bridge would send, or verify an inbound signature.
    Sign(printbridge::providers::signcli::SignArgs),
    /// The whole job in one command: the bridge on a fresh SQLite file, provider sandboxes,
    /// one signed WooCommerce order with an item per provider, and a table of the result.
    Demo {
        /// Exit after the table: 0 only if every provider order went through.
        #[arg(long)]
        once: bool,
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: String,
        /// Directory for the demo database and kept PDFs (default: a new temporary one).
        #[arg(long)]
        dir: Option<PathBuf>,
    },
    /// Run the provider sandboxes (Spiff, Apliiq, Key2print): they check every request as the
    /// providers document it, with verification code of their own.
    #[command(after_long_help = SANDBOX_HELP)]
    Sandbox {
        #[arg(long, default_value = "127.0.0.1")]
        host: String,
        /// Spiff on this port, Apliiq on the next, Key2print on the one after.
        #[arg(long, default_value_t = 9101)]
        port: u16,
        /// The body digest Spiff REST signatures must use (the store's spiff.body_hash).
        #[arg(long, value_parser = ["sha512", "md5"], default_value = "sha512")]
        spiff_body_hash: String,
    },
    /// Put a stopped job (dead letter, needing review, cancelled) back in the queue.
    Replay {
        /// The job id (see GET /v1/admin/jobs).
        job_id: i64,
        #[arg(long, short)]
        config: Option<PathBuf>,
    },
    /// List, and unless --dry-run replay, the jobs waiting for review and the dead letters of
    /// one provider, store and time window (after an outage), oldest first.
    ReplayJobs(ReplayJobsArgs),
    /// Fetch a store's paid orders changed since a time from its REST API and take them in,
    /// as if their webhooks had arrived.
    Backfill {
        #[arg(long)]
        store: String,
        /// Naive UTC (`2026-11-20T00:00:00`) or RFC 3339.
        #[arg(long)]
        since: String,
        #[arg(long, short)]
        config: Option<PathBuf>,
    },
    /// One customer's personal data (by billing e-mail, and customer id if they have an
    /// account): export it as JSON, or erase it (redacted in place, jobs not yet placed
    /// cancelled), for shops without the plugin.
    Privacy(PrivacyArgs),
    /// Print the connection key to paste into the WordPress plugin's settings.
    ConnectionKey {
        #[arg(long)]
        store: String,
        #[arg(long, short)]
        config: Option<PathBuf>,
    },
}

#[derive(clap::Args)]
struct PrivacyArgs {
    /// export (JSON on standard output) or erase (a JSON report of what was done).
    #[arg(value_parser = ["export", "erase"])]
    action: String,
    #[arg(long)]
    store: String,
    /// The customer's billing e-mail.
    #[arg(long)]
    email: String,
    /// Their WooCommerce customer id, when they have an account.
    #[arg(long)]
    customer_id: Option<i64>,
    #[arg(long, short)]
    config: Option<PathBuf>,
}

#[derive(clap::Args)]
struct ReplayJobsArgs {
    /// needs-review or dead (default: both).
    #[arg(long)]
    state: Option<String>,
    /// spiff, apliiq, key2print or woocommerce.
    #[arg(long)]
    provider: Option<String>,
    #[arg(long)]
    store: Option<String>,
    /// Jobs stopped at or after this moment: naive UTC (`2026-11-20T00:00:00`) or RFC 3339.
    #[arg(long)]
    since: Option<String>,
    /// Jobs stopped before this moment.
    #[arg(long)]
    until: Option<String>,
    /// At most this many jobs.
    #[arg(long, default_value_t = 500)]
    limit: i64,
    /// List what would be sent; change nothing.
    #[arg(long)]
    dry_run: bool,
    #[arg(long, short)]
    config: Option<PathBuf>,
}

/// Logs at info (sqlx at warn) unless `RUST_LOG` or `PRINTBRIDGE_LOG` says otherwise.
fn init_tracing() {
    printbridge::logging::init("info,sqlx=warn");
}

/// Logs only warnings, so the demo's table stays readable.
fn init_tracing_quiet() {
    printbridge::logging::init("warn");
}

async fn serve(config: Option<PathBuf>) -> anyhow::Result<i32> {
    init_tracing();
    let config = Config::load(config.as_deref(), &ProcessEnv)?;
    // Installed before the listener is bound: a SIGTERM from then on stops the bridge
    // gracefully, also while it starts.
    let stop = printbridge::app::shutdown_signal();
    let app = printbridge::app::Application::build(config, None, None).await?;
    tracing::info!(addr = %app.addr(), "PrintBridge listening; API docs at /docs");
    app.run_until(stop).await?;
    tracing::info!("PrintBridge stopped");
    Ok(0)
}

fn check_config(config: Option<PathBuf>, out: &mut dyn Write) -> anyhow::Result<i32> {
    match Config::load(config.as_deref(), &ProcessEnv) {
        Ok(c) => {
            writeln!(
                out,
                "configuration is valid: {} store(s), listen {}, database {}",
                c.stores.len(),
                c.listen,
                printbridge::store::redact_url(&c.database_url)
            )?;
            Ok(0)
        }
        Err(e) => {
            writeln!(out, "configuration is invalid: {e}")?;
            Ok(2)
        }
    }
}

async fn open_store(config: &Config) -> anyhow::Result<printbridge::store::Store> {
    let store = printbridge::store::Store::connect(&config.database_url).await?;
    store.migrate().await?;
    Ok(store)
}

async fn replay(job_id: i64, config: Option<PathBuf>, out: &mut dyn Write) -> anyhow::Result<i32> {
    let config = Config::load(config.as_deref(), &ProcessEnv)?;
    let store = open_store(&config).await?;
    let now = chrono::Utc::now().timestamp_millis();
    let code = match store.replay_job(job_id, now).await? {
        None => {
            writeln!(out, "no job {job_id}")?;
            1
        }
        Some(false) => {
            writeln!(
                out,
                "job {job_id} is not dead, needing review or cancelled; nothing to replay"
            )?;
            1
        }
        Some(true) => {
            writeln!(
                out,
                "job {job_id} is queued again; a running bridge sends it within a second"
            )?;
            0
        }
    };
    store.close().await;
    Ok(code)
}

async fn replay_jobs(args: ReplayJobsArgs, out: &mut dyn Write) -> anyhow::Result<i32> {
    let filter = stopped_filter(&args)?;
    let config = Config::load(args.config.as_deref(), &ProcessEnv)?;
    let store = open_store(&config).await?;
    let jobs = if args.dry_run {
        store.stopped_jobs(&filter).await?
    } else {
        store
            .replay_stopped(&filter, chrono::Utc::now().timestamp_millis())
            .await?
    };
    store.close().await;
    for j in &jobs {
        writeln!(
            out,
            "job {}\t{}\torder {}\t{}\t{}\t{}",
            j.id,
            j.store,
            j.order_id,
            j.provider,
            if args.dry_run {
                j.state.as_str()
            } else {
                "queued"
            },
            j.last_error.as_deref().unwrap_or("")
        )?;
    }
    if args.dry_run {
        writeln!(
            out,
            "{} job(s) would be replayed (dry run: nothing changed)",
            jobs.len()
        )?;
    } else {
        writeln!(
            out,
            "{} job(s) queued again; a running bridge sends them within a second",
            jobs.len()
        )?;
    }
    Ok(0)
}

/// `printbridge privacy export|erase`: every page of the export, or every round of the
/// erasure, as one JSON document.
async fn privacy(args: PrivacyArgs, out: &mut dyn Write) -> anyhow::Result<i32> {
    let subject = printbridge::privacy::Subject::new(&args.email, args.customer_id)
        .map_err(|e| anyhow::anyhow!("--{}", e.to_string().replacen('_', "-", 1)))?;
    let config = Config::load(args.config.as_deref(), &ProcessEnv)?;
    anyhow::ensure!(
        config.store(&args.store).is_some(),
        "--store: no store {} in the configuration",
        args.store
    );
    let store = open_store(&config).await?;
    let doc = if args.action == "export" {
        export_all(&store, &args.store, &subject).await?
    } else {
        erase_all(&store, &args.store, &subject).await?
    };
    store.close().await;
    writeln!(out, "{}", serde_json::to_string_pretty(&doc)?)?;
    Ok(0)
}

/// Every page of a customer's export.
async fn export_all(
    store: &printbridge::store::Store,
    store_id: &str,
    subject: &printbridge::privacy::Subject,
) -> anyhow::Result<serde_json::Value> {
    let mut orders = Vec::new();
    let mut after = 0;
    loop {
        let page = store.export_subject(store_id, subject, after).await?;
        orders.extend(page.orders);
        match page.next_after {
            Some(next) => after = next,
            None => {
                return Ok(serde_json::json!({
                    "orders": orders, "key2print_user": page.key2print_user
                }));
            }
        }
    }
}

/// Every round of a customer's erasure, until none of their orders is left.
async fn erase_all(
    store: &printbridge::store::Store,
    store_id: &str,
    subject: &printbridge::privacy::Subject,
) -> anyhow::Result<serde_json::Value> {
    let mut orders = Vec::new();
    let mut forgotten = false;
    loop {
        let now = chrono::Utc::now().timestamp_millis();
        let page = store.erase_subject(store_id, subject, now).await?;
        forgotten |= page.key2print_user_forgotten;
        orders.extend(page.orders);
        if page.done {
            return Ok(serde_json::json!({
                "orders": orders, "key2print_user_forgotten": forgotten
            }));
        }
    }
}

/// The stopped jobs `printbridge replay-jobs` selects, its flags checked.
fn stopped_filter(
    args: &ReplayJobsArgs,
) -> anyhow::Result<printbridge::outbox::replay::StoppedFilter> {
    use printbridge::outbox::job_types::{JobQueue, JobState};
    use printbridge::outbox::replay::{StoppedFilter, parse_instant};
    let state = args
        .state
        .as_deref()
        .map(|s| {
            s.parse::<JobState>()
                .ok()
                .filter(|s| s.is_stopped())
                .ok_or_else(|| {
                    let names: Vec<_> = JobState::STOPPED.iter().map(|s| s.as_str()).collect();
                    anyhow::anyhow!("--state: expected {}, got {s}", names.join(" or "))
                })
        })
        .transpose()?;
    let provider = args
        .provider
        .as_deref()
        .map(|p| {
            p.parse::<JobQueue>().map_err(|_| {
                anyhow::anyhow!(
                    "--provider: expected one of {}, got {p}",
                    JobQueue::names().collect::<Vec<_>>().join(", ")
                )
            })
        })
        .transpose()?;
    anyhow::ensure!(args.limit >= 1, "--limit: at least 1");
    let instant = |text: Option<&str>, flag: &str| -> anyhow::Result<Option<i64>> {
        text.map(|t| {
            parse_instant(t).ok_or_else(|| {
                anyhow::anyhow!("{flag}: expected 2026-11-20T00:00:00 (UTC) or RFC 3339, got {t}")
            })
        })
        .transpose()
    };
    Ok(StoppedFilter {
        since: instant(args.since.as_deref(), "--since")?,
        until: instant(args.until.as_deref(), "--until")?,
        state,
        provider,
        store: args.store.clone(),
        limit: args.limit,
    })
}

fn parse_since(text: &str) -> anyhow::Result<chrono::DateTime<chrono::Utc>> {
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(text) {
        return Ok(t.with_timezone(&chrono::Utc));
    }
    chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S")
        .map(|n| n.and_utc())
        .map_err(|_| {
            anyhow::anyhow!("--since: expected 2026-11-20T00:00:00 (UTC) or RFC 3339, got {text}")
        })
}

async fn backfill(
    store_id: &str,
    since: &str,
    config: Option<PathBuf>,
    out: &mut dyn Write,
) -> anyhow::Result<i32> {
    init_tracing();
    let since = parse_since(since)?;
    let config = Config::load(config.as_deref(), &ProcessEnv)?;
    let Some(cfg) = config.store(store_id) else {
        anyhow::bail!("no store {store_id} in the configuration");
    };
    let Some(client) =
        printbridge::woo::rest::WooClient::from_store(cfg, config.dispatch.request_timeout())
    else {
        anyhow::bail!(
            "store {store_id} has no WooCommerce REST keys (woocommerce_url, woocommerce_consumer_key, woocommerce_consumer_secret)"
        );
    };
    let store = open_store(&config).await?;
    let pass = printbridge::outbox::reconcile::pass(
        &store,
        cfg,
        &client,
        since,
        printbridge::intake::parse::Source::Backfill,
        || chrono::Utc::now().timestamp_millis(),
    )
    .await?;
    writeln!(
        out,
        "store {store_id}: {} paid order(s) changed since {}, {} new state(s) taken in, {} provider job(s) planned",
        pass.fetched,
        since.format("%Y-%m-%dT%H:%M:%SZ"),
        pass.applied,
        pass.jobs_planned
    )?;
    store.close().await;
    Ok(0)
}

fn connection_key(
    store_id: &str,
    config: Option<PathBuf>,
    out: &mut dyn Write,
) -> anyhow::Result<i32> {
    let config = Config::load(config.as_deref(), &ProcessEnv)?;
    let Some(cfg) = config.store(store_id) else {
        anyhow::bail!("no store {store_id} in the configuration");
    };
    let Some(url) = config.public_url.as_deref() else {
        anyhow::bail!("set public_url (how the shop reaches the bridge) first");
    };
    let Some(token) = cfg.api_token.as_ref() else {
        anyhow::bail!("store {store_id} has no api_token");
    };
    let json = serde_json::json!({
        "url": url.trim_end_matches('/'),
        "store": cfg.id,
        "token": token.expose(),
        "webhook_secret": cfg.webhook_secret.expose(),
    });
    use base64::Engine as _;
    let key = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json.to_string());
    writeln!(out, "pbk1_{key}")?;
    Ok(0)
}

async fn sandbox(
    host: &str,
    port: u16,
    body_hash: &str,
    out: &mut dyn Write,
) -> anyhow::Result<i32> {
    let credentials = printbridge::sandbox::SandboxCredentials {
        spiff_body_hash: if body_hash == "md5" {
            printbridge::config::SpiffBodyHash::Md5
        } else {
            printbridge::config::SpiffBodyHash::Sha512
        },
        ..Default::default()
    };
    let stop = printbridge::app::shutdown_signal();
    let sb = printbridge::sandbox::Sandbox::start(credentials, host, port).await?;
    let c = &sb.state.credentials;
    writeln!(
        out,
        "PrintBridge provider sandboxes (requests checked as documented; `printbridge sandbox --help` lists the endpoints)\n\n\
         [stores.spiff]\nbase_url = \"{}\"\napi = \"graphql\"        # or \"rest\"\napplication_key = \"{}\"\naccess_key = \"{}\"\nsecret_key = \"{}\"\nbody_hash = \"{body_hash}\"\n\n\
         [stores.apliiq]\nbase_url = \"{}\"\napp_id = \"{}\"\nshared_secret = \"{}\"\n\n\
         [stores.key2print]\nbase_url = \"{}\"\napi_key = \"{}\"\napi_secret = \"{}\"\n\nCtrl-C to stop.",
        sb.spiff_url(),
        c.spiff_application_key,
        c.spiff_access_key,
        c.spiff_secret_key,
        sb.apliiq_url(),
        c.apliiq_app_id,
        c.apliiq_shared_secret,
        sb.key2print_url(),
        c.key2print_api_key,
        c.key2print_api_secret,
    )?;
    out.flush()?;
    stop.await;
    sb.stop();
    Ok(0)
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let mut stdout = std::io::stdout();
    let result = match cli.command {
        Command::Serve { config } => runtime().and_then(|rt| rt.block_on(serve(config))),
        Command::CheckConfig { config } => check_config(config, &mut stdout),
        Command::Openapi => write!(stdout, "{}", printbridge::http::openapi_yaml())
            .map(|_| 0)
            .map_err(Into::into),
        Command::Sign(args) => printbridge::providers::signcli::run(&args, &mut stdout),
        Command::Demo { once, listen, dir } => {
            if !once {
                init_tracing_quiet();
            }
            runtime().and_then(|rt| {
                rt.block_on(printbridge::demo::run(
                    printbridge::demo::DemoOptions { listen, once, dir },
                    &mut std::io::stdout(),
                ))
            })
        }
        Command::Sandbox {
            host,
            port,
            spiff_body_hash,
        } => runtime()
            .and_then(|rt| rt.block_on(sandbox(&host, port, &spiff_body_hash, &mut stdout))),
        Command::Replay { job_id, config } => {
            runtime().and_then(|rt| rt.block_on(replay(job_id, config, &mut stdout)))
        }
        Command::ReplayJobs(args) => {
            runtime().and_then(|rt| rt.block_on(replay_jobs(args, &mut stdout)))
        }
        Command::Backfill {
            store,
            since,
            config,
        } => runtime().and_then(|rt| rt.block_on(backfill(&store, &since, config, &mut stdout))),
        Command::Privacy(args) => runtime().and_then(|rt| rt.block_on(privacy(args, &mut stdout))),
        Command::ConnectionKey { store, config } => connection_key(&store, config, &mut stdout),
    };
    match result {
        Ok(code) => ExitCode::from(u8::try_from(code).unwrap_or(1)),
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "printbridge: {e:#}");
            ExitCode::FAILURE
        }
    }
}

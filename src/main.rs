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
}

fn init_tracing() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env("PRINTBRIDGE_LOG")
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

async fn serve(config: Option<PathBuf>) -> anyhow::Result<i32> {
    init_tracing();
    let config = Config::load(config.as_deref(), &ProcessEnv)?;
    let app = printbridge::app::Application::build(config, None, None).await?;
    tracing::info!(addr = %app.addr(), "PrintBridge listening; API docs at /docs");
    app.run_until(printbridge::app::shutdown_signal()).await?;
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

fn main() -> ExitCode {
    let cli = Cli::parse();
    let mut stdout = std::io::stdout();
    let result = match cli.command {
        Command::Serve { config } => tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .map_err(anyhow::Error::from)
            .and_then(|rt| rt.block_on(serve(config))),
        Command::CheckConfig { config } => check_config(config, &mut stdout),
        Command::Openapi => write!(stdout, "{}", printbridge::http::openapi_yaml())
            .map(|_| 0)
            .map_err(Into::into),
        Command::Sign(args) => printbridge::providers::signcli::run(&args, &mut stdout),
    };
    match result {
        Ok(code) => ExitCode::from(u8::try_from(code).unwrap_or(1)),
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "printbridge: {e:#}");
            ExitCode::FAILURE
        }
    }
}

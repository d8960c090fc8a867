use std::io::Write;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

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
    /// Print the signature headers the bridge would send, or verify an inbound signature.
    Sign(printbridge::providers::signcli::SignArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Sign(args) => printbridge::providers::signcli::run(&args, &mut std::io::stdout()),
    };
    match result {
        Ok(code) => ExitCode::from(u8::try_from(code).unwrap_or(1)),
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "printbridge: {e:#}");
            ExitCode::FAILURE
        }
    }
}

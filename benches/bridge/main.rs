//! PrintBridge's benchmark: intake and dispatch measured on this machine, printed as one
//! markdown table (see BENCHMARKS.md).
//!
//! ```sh
//! cargo bench --bench bridge                  # SQLite and PostgreSQL, the full run
//! cargo bench --bench bridge -- --quick       # the smoke run
//! cargo bench --bench bridge -- --db sqlite --rates 200,800 --duration-secs 20
//! ```
//!
//! `cargo bench` passes `--bench` to the program; `cargo test --all-targets` runs it without,
//! and then it only says how to run it, so the test suite does not run a benchmark.

mod backlog;
mod harness;
mod order;

use std::io::Write as _;
use std::process::ExitCode;

use clap::Parser;

use harness::{BenchDb, BenchOptions};

#[derive(Parser)]
#[command(
    name = "bridge",
    about = "Measure PrintBridge's intake and dispatch on this machine and print one markdown \
             table (BENCHMARKS.md). Real figures come from the bench profile (release)."
)]
struct BenchArgs {
    /// Set by `cargo bench`.
    #[arg(long = "bench", hide = true)]
    _cargo_bench: bool,
    /// The smoke run: rates 100,500, 2 s per run, a 2,000-job backlog.
    #[arg(long)]
    quick: bool,
    /// sqlite, postgres or both.
    #[arg(long, default_value = "both")]
    db: String,
    /// Offered rates of the latency runs, requests per second.
    #[arg(long, value_delimiter = ',')]
    rates: Option<Vec<u32>>,
    /// Seconds per intake run.
    #[arg(long)]
    duration_secs: Option<f64>,
    /// Jobs in the dispatch backlog.
    #[arg(long)]
    backlog: Option<u64>,
    /// Dispatch concurrency per provider.
    #[arg(long)]
    concurrency: Option<usize>,
    /// Connections of the closed-loop throughput runs.
    #[arg(long)]
    connections: Option<usize>,
    /// PostgreSQL server; each run creates a database of its own there and drops it after.
    #[arg(
        long,
        env = "PRINTBRIDGE_BENCH_POSTGRES_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/test"
    )]
    postgres_url: String,
}

fn bench_options(args: BenchArgs) -> anyhow::Result<BenchOptions> {
    let dbs = match args.db.as_str() {
        "sqlite" => vec![BenchDb::Sqlite],
        "postgres" => vec![BenchDb::Postgres],
        "both" => vec![BenchDb::Sqlite, BenchDb::Postgres],
        other => anyhow::bail!("--db: expected sqlite, postgres or both, got {other}"),
    };
    let mut opts = BenchOptions::quick(args.postgres_url, dbs);
    if !args.quick {
        opts.rates = vec![100, 500, 1000];
        opts.duration = std::time::Duration::from_secs(10);
        opts.backlog = 100_000;
    }
    if let Some(r) = args.rates {
        anyhow::ensure!(
            r.iter().all(|&x| x > 0),
            "--rates: every rate must be above 0"
        );
        opts.rates = r;
    }
    if let Some(d) = args.duration_secs {
        anyhow::ensure!(
            d > 0.0 && d <= 3600.0,
            "--duration-secs: between 0 and 3600"
        );
        opts.duration = std::time::Duration::from_secs_f64(d);
    }
    if let Some(b) = args.backlog {
        anyhow::ensure!(b > 0, "--backlog: at least 1");
        opts.backlog = b;
    }
    if let Some(c) = args.concurrency {
        opts.concurrency = c.max(1);
    }
    if let Some(c) = args.connections {
        opts.connections = c.max(1);
    }
    Ok(opts)
}

fn run(args: BenchArgs) -> anyhow::Result<i32> {
    // Warnings only, so the progress lines and the table stay readable.
    printbridge::logging::init("warn");
    let opts = bench_options(args)?;
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(harness::run(opts, &mut std::io::stdout()))
}

fn main() -> ExitCode {
    if !std::env::args().any(|a| a == "--bench") {
        println!("the benchmark runs under `cargo bench --bench bridge` (BENCHMARKS.md)");
        return ExitCode::SUCCESS;
    }
    match run(BenchArgs::parse()) {
        Ok(code) => ExitCode::from(u8::try_from(code).unwrap_or(1)),
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "bench: {e:#}");
            ExitCode::FAILURE
        }
    }
}

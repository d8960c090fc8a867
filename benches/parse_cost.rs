//! What reading a delivery costs: parses the bench's ~6 KB order, or every captured
//! WooCommerce order body, N times, the way intake reads each delivery before storing it.
//! Meant for instruction counts, which a busy machine does not change (BENCHMARKS.md):
//!
//! ```sh
//! cargo bench --bench parse_cost --no-run     # prints the executable's path
//! valgrind --tool=callgrind target/release/deps/parse_cost-<hash> --bench 20 captured
//! valgrind --tool=callgrind target/release/deps/parse_cost-<hash> --bench 70 captured
//! ```
//!
//! The difference of the two totals over 50 is the cost of one pass, start-up left out.
//! `cargo bench --bench parse_cost -- 20 captured` runs it without valgrind. Without `--bench`
//! (`cargo test --all-targets`) it makes one pass over the bench's order.

#[path = "bridge/order.rs"]
mod order;

use base64::Engine;
use printbridge::intake::parse::{Parsed, parse_delivery};

const CAPTURES: [&str; 2] = [
    "tests/fixtures/woocommerce/wc-11.0.1_wp-7.1",
    "tests/fixtures/woocommerce/wc-9.9.5_wp-6.8.8",
];

/// The body of every captured delivery under an order topic.
fn captured_order_bodies() -> Vec<Vec<u8>> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files: Vec<_> = CAPTURES
        .iter()
        .filter_map(|dir| std::fs::read_dir(root.join(dir)).ok())
        .flat_map(|entries| entries.flatten().map(|e| e.path()))
        .collect();
    files.sort();
    files
        .iter()
        .filter_map(|path| std::fs::read_to_string(path).ok())
        .filter_map(|text| serde_json::from_str::<serde_json::Value>(&text).ok())
        .filter(|capture| {
            capture["headers"]["X-WC-Webhook-Topic"]
                .as_str()
                .is_some_and(|topic| topic.starts_with("order."))
        })
        .filter_map(|capture| {
            let body = capture["body_base64"].as_str()?;
            base64::engine::general_purpose::STANDARD.decode(body).ok()
        })
        .collect()
}

fn main() -> Result<(), String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    // `cargo bench` adds `--bench`; `cargo test` runs the program without it, and then also
    // with its own arguments, which are not this program's.
    let benched = args.iter().any(|a| a == "--bench");
    let mut args = args.into_iter().filter(|a| a != "--bench");
    let (passes, kind) = if benched {
        let passes = args.next().and_then(|a| a.parse().ok()).unwrap_or(100);
        (passes, args.next())
    } else {
        (1, None)
    };
    let bodies = match kind.as_deref() {
        None | Some("bench") => vec![order::order_template(&[])?.into_bytes()],
        Some("captured") => captured_order_bodies(),
        Some(other) => return Err(format!("expected bench or captured, got {other}")),
    };
    let mut items = 0;
    for _ in 0..passes {
        for body in &bodies {
            if let Parsed::Order(snapshot) = parse_delivery(Some("order.updated"), body) {
                items += snapshot.items.len();
            }
        }
    }
    let bytes: usize = bodies.iter().map(Vec::len).sum();
    println!(
        "{passes} passes over {} bodies ({bytes} bytes): {items} line items read",
        bodies.len()
    );
    Ok(())
}

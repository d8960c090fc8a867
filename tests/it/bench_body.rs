//! The bench's order body against WooCommerce's own: what the bench measures of storing a
//! delivery (bytes written, compression) holds only if its body is like a real one.

#[path = "../../benches/bridge/order.rs"]
mod order;

use crate::support;
use printbridge::intake::body::Packed;

/// Compressed size over original size, as intake stores a body on SQLite.
fn stored_fraction(body: &[u8]) -> f64 {
    let stored = match Packed::compressed(body) {
        Packed::Lz4(bytes) => bytes.len(),
        Packed::AsItCame => body.len(),
    };
    stored as f64 / body.len() as f64
}

/// Every captured order body of 1 KB or more (not a deleted order's id), both stacks.
fn captured_order_bodies() -> Vec<Vec<u8>> {
    support::STACKS
        .iter()
        .flat_map(|stack| support::captured_deliveries(stack))
        .filter(|d| {
            d.header("X-WC-Webhook-Topic")
                .is_some_and(|t| t.starts_with("order."))
        })
        .map(|d| d.body)
        .filter(|b| b.len() >= 1024)
        .collect()
}

#[test]
fn the_bench_order_compresses_like_a_captured_one() {
    let mut captured: Vec<f64> = captured_order_bodies()
        .iter()
        .map(|b| stored_fraction(b))
        .collect();
    captured.sort_by(f64::total_cmp);
    assert!(
        captured.len() >= 20,
        "captured order bodies: {}",
        captured.len()
    );
    let median = captured[captured.len() / 2];
    let bench = order::order_template(&[]).expect("bench order");
    assert!(
        (6 * 1024 - 60..6 * 1024 + 400).contains(&bench.len()),
        "the bench body is {} bytes, not about 6 KB",
        bench.len()
    );
    let fraction = stored_fraction(bench.as_bytes());
    println!(
        "stored fraction: bench {fraction:.3}, captured {:.3} to {:.3} (median {median:.3})",
        captured[0],
        captured[captured.len() - 1]
    );
    // Like a typical real order: the bench must not flatter compression, nor hide it.
    assert!(
        (fraction - median).abs() <= 0.05,
        "the bench body stores {fraction:.3} of its size, WooCommerce's own {median:.3}"
    );
}

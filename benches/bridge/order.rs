//! The bench's ~6 KB WooCommerce order: the body of every intake request and of every order
//! in the dispatch backlog. `tests/it/bench_body.rs` includes this file to check that the body
//! compresses like WooCommerce's own.

use serde_json::json;
use sha2::{Digest, Sha256};

/// The text replaced by each order's id in the order template.
pub const ORDER_ID_MARKER: &str = "987654321";

/// The body size the benchmark measures.
const BODY_BYTES: usize = 6 * 1024;

/// The ~6 KB order every intake request carries: the captured WooCommerce shape with a Spiff,
/// an Apliiq and a Key2print item (less those whose SKU is in `drop_skus`), paid
/// (`processing`); its id is [`ORDER_ID_MARKER`].
pub fn order_template(drop_skus: &[&str]) -> Result<String, String> {
    let mut order = printbridge::demo::demo_order()?;
    order["id"] = json!(ORDER_ID_MARKER.parse::<i64>().unwrap_or(0));
    order["number"] = json!(ORDER_ID_MARKER);
    order["order_key"] = json!(format!("wc_order_{ORDER_ID_MARKER}"));
    order["status"] = json!("processing");
    if let Some(items) = order["line_items"].as_array_mut() {
        items.retain(|i| !drop_skus.iter().any(|s| i["sku"] == *s));
    }
    // Pad with order meta up to the size: what attribution, payment and shipping plugins
    // add, ids and tokens included, so the body compresses about as well as WooCommerce's
    // own (tests/it/bench_body.rs): a padding of one repeated value would flatter the figures
    // of storing it.
    let mut k = 0;
    loop {
        let text = serde_json::to_string(&order).map_err(|e| e.to_string())?;
        if text.len() >= BODY_BYTES - 60 {
            return Ok(text);
        }
        k += 1;
        let (key, value) = pad_meta(k);
        let meta = json!({"id": 9000 + k, "key": key, "value": value});
        match order["meta_data"].as_array_mut() {
            Some(m) => m.push(meta),
            None => order["meta_data"] = json!([meta]),
        }
    }
}

/// The `k`th meta of the bench order's padding: a key attribution, payment or shipping
/// plugins add, and the kind of value it holds, with its own ids.
fn pad_meta(k: usize) -> (&'static str, String) {
    let token = hex::encode(Sha256::digest(k.to_le_bytes()));
    match k % 6 {
        0 => (
            "_wc_order_attribution_session_entry",
            format!(
                "https://shop.example/product/poster-{k}/?utm_source=newsletter&utm_medium=email&fbclid={token}"
            ),
        ),
        1 => (
            "_stripe_intent_id",
            format!("pi_{}_secret_{}", &token[..24], &token[40..]),
        ),
        2 => (
            "_wc_order_attribution_user_agent",
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36".to_owned(),
        ),
        3 => ("_stripe_customer_id", format!("cus_{}", &token[..24])),
        4 => (
            "_wc_shipment_tracking_items",
            format!(
                "[{{\"tracking_provider\":\"dhl\",\"tracking_number\":\"{}\",\"date_shipped\":\"{}\"}}]",
                &token[..32],
                1_733_000_000 + k * 37
            ),
        ),
        _ => (
            "_wc_order_attribution_session_start_time",
            format!("2026-11-27 {:02}:{:02}:{:02}", k % 24, (k * 7) % 60, (k * 13) % 60),
        ),
    }
}

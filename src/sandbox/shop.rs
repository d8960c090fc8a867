//! A small WooCommerce REST v3 stand-in for `printbridge demo`: the catalog of one variable
//! product (business cards, product 29, as captured from WooCommerce 11) for the product
//! gateway, the shop's currency settings, and the order notes the bridge writes back. It is the
//! demo's shop, not a provider: it checks no signature and serves nothing else (404).

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use poem::{Endpoint, Request, Response};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

use super::json_response;

/// The product the demo's editor configures.
pub const PRODUCT_ID: i64 = 29;

const PRODUCT: &str =
    include_str!("../../tests/fixtures/woocommerce-rest/01-product-business-cards.json");
const VARIATIONS: &str =
    include_str!("../../tests/fixtures/woocommerce-rest/04-variations-business-cards.json");
const TERMS: &str =
    include_str!("../../tests/fixtures/woocommerce-rest/17-attribute-format-terms.json");

fn captured(text: &str) -> Value {
    serde_json::from_str::<Value>(text)
        .map(|v| v["body_json"].clone())
        .unwrap_or(Value::Null)
}

/// A note the bridge wrote on an order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShopNote {
    pub order_id: i64,
    pub note: String,
}

struct ShopEndpoint {
    product: Value,
    variations: Value,
    terms: Value,
    notes: Arc<Mutex<Vec<ShopNote>>>,
}

fn page(list: &Value, req: &Request) -> Response {
    let first = req
        .uri()
        .query()
        .unwrap_or("")
        .split('&')
        .all(|p| !p.starts_with("page=") || p == "page=1");
    let body = if first { list.clone() } else { json!([]) };
    let total = list.as_array().map_or(0, Vec::len);
    let mut resp = json_response(200, &body);
    for (name, value) in [("X-WP-Total", total), ("X-WP-TotalPages", 1)] {
        if let Ok(v) = poem::http::HeaderValue::from_str(&value.to_string()) {
            resp.headers_mut().insert(name, v);
        }
    }
    resp
}

impl ShopEndpoint {
    fn note(&self, order_id: i64, body: &[u8]) -> Response {
        let parsed: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
        let note = parsed["note"].as_str().unwrap_or_default().to_owned();
        let id = {
            let mut notes = match self.notes.lock() {
                Ok(g) => g,
                Err(p) => p.into_inner(),
            };
            notes.push(ShopNote {
                order_id,
                note: note.clone(),
            });
            notes.len()
        };
        let now = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S").to_string();
        json_response(
            201,
            &json!({ "id": id, "author": "WooCommerce", "date_created": now, "date_created_gmt": now,
                     "note": note, "customer_note": parsed["customer_note"].as_bool().unwrap_or(false) }),
        )
    }
}

impl Endpoint for ShopEndpoint {
    type Output = Response;

    async fn call(&self, mut req: Request) -> poem::Result<Response> {
        let path = req.uri().path().to_owned();
        let rest = path.strip_prefix("/wp-json/wc/v3/").unwrap_or("");
        let parts: Vec<&str> = rest.split('/').collect();
        let product = PRODUCT_ID.to_string();
        let resp = match (req.method().as_str(), parts.as_slice()) {
            ("GET", ["products", id]) if *id == product => json_response(200, &self.product),
            ("GET", ["products", id, "variations"]) if *id == product => {
                page(&self.variations, &req)
            }
            ("GET", ["products", "attributes", "2", "terms"]) => page(&self.terms, &req),
            ("GET", ["settings", "general"]) => json_response(
                200,
                &json!([
                    { "id": "woocommerce_currency", "label": "Currency", "type": "select", "value": "EUR" },
                    { "id": "woocommerce_price_num_decimals", "label": "Number of decimals", "type": "number", "value": "2" }
                ]),
            ),
            ("POST", ["orders", id, "notes"]) => match id.parse::<i64>() {
                Ok(order_id) => {
                    let body = req.take_body().into_vec().await.unwrap_or_default();
                    self.note(order_id, &body)
                }
                Err(_) => not_found(),
            },
            _ => not_found(),
        };
        Ok(resp)
    }
}

fn not_found() -> Response {
    json_response(
        404,
        &json!({ "code": "rest_no_route", "message": "No route was found matching the URL and request method.", "data": { "status": 404 } }),
    )
}

/// The running shop.
pub struct DemoShop {
    pub addr: SocketAddr,
    notes: Arc<Mutex<Vec<ShopNote>>>,
    stop: oneshot::Sender<()>,
}

impl DemoShop {
    /// Starts the shop on `host`, on a port the system chooses.
    pub async fn start(host: &str) -> std::io::Result<DemoShop> {
        let listener = TcpListener::bind((host, 0)).await?;
        let addr = listener.local_addr()?;
        let notes = Arc::new(Mutex::new(Vec::new()));
        let endpoint = ShopEndpoint {
            product: captured(PRODUCT),
            variations: captured(VARIATIONS),
            terms: captured(TERMS),
            notes: notes.clone(),
        };
        let stop = super::spawn_server(listener, endpoint)?;
        Ok(DemoShop { addr, notes, stop })
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The notes written on `order_id`, oldest first.
    pub fn notes_of(&self, order_id: i64) -> Vec<String> {
        let notes = match self.notes.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        notes
            .iter()
            .filter(|n| n.order_id == order_id)
            .map(|n| n.note.clone())
            .collect()
    }

    pub fn stop(self) {
        let _ = self.stop.send(());
    }
}

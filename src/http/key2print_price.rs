//! `POST /v1/stores/{store}/key2print/price`: the price of a saved Key2print editor setup,
//! for the plugin's cart. Computed like the product gateway's Get Price (same catalog cache,
//! same variation resolution), followed along the setup's price-tree choices to one leaf.

use std::sync::Arc;

use poem::web::Data;
use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};

use super::gateway::WOO_TIMEOUT;
use super::problem::{ApiError, Problem};
use super::stores::{StoreResponse, StoreToken, authorize};
use super::{ApiTags, AppState};
use crate::gateway::setup_price::{SetupPrice, SetupPriceError};
use crate::gateway::{Gateway, GatewayError, catalog};

/// Most option ids a setup may name.
const MAX_SETUP_ENTRIES: usize = 100;

/// A saved editor setup to price.
#[derive(Debug, Object)]
pub struct SetupPriceRequest {
    /// The WooCommerce product (the parent product of a variation).
    pub product_id: i64,
    /// The variation in the cart; when given it must be the variation the setup designates.
    pub variation_id: Option<i64>,
    /// The editor's setup: a JSON object of option id to value id, with the product options
    /// and the price-tree options.
    pub setup: serde_json::Value,
}

/// One choice along the price option tree.
#[derive(Debug, Object)]
pub struct PricePathStep {
    pub option_id: String,
    /// The option's name, e.g. `Production time`.
    pub option_name: String,
    pub value_id: String,
    /// The chosen value's name, e.g. `Express`.
    pub value_name: String,
}

/// The price of a setup.
#[derive(Debug, Object)]
pub struct SetupPriceAnswer {
    pub product_id: i64,
    /// The variation the setup designates (none for a simple product).
    pub variation_id: Option<i64>,
    pub net: f64,
    pub gross: f64,
    pub tax: f64,
    /// The tax rate's name, e.g. `VAT`.
    pub tax_rate: String,
    pub currency: String,
    /// The unit price the cart line is set to, as the shop enters prices.
    pub line_price: f64,
    /// The price-tree choices that lead to the price (empty without a tree).
    pub price_path: Vec<PricePathStep>,
    /// Always true: an unavailable setup is answered with 409.
    pub available: bool,
}

fn bad(error: &str, message: impl Into<String>, field: &str) -> ApiError {
    ApiError::bad_request(error, message, field)
}

/// Checks the request and reads its setup.
fn checked_setup(
    req: &SetupPriceRequest,
) -> Result<std::collections::BTreeMap<String, String>, ApiError> {
    if req.product_id <= 0 {
        return Err(bad(
            "invalid_product_id",
            "product_id must be a WooCommerce product id",
            "product_id",
        ));
    }
    if req.variation_id.is_some_and(|v| v <= 0) {
        return Err(bad(
            "invalid_variation_id",
            "variation_id must be a WooCommerce variation id",
            "variation_id",
        ));
    }
    if req
        .setup
        .as_object()
        .is_some_and(|o| o.len() > MAX_SETUP_ENTRIES)
    {
        return Err(bad(
            "invalid_setup",
            format!("setup names more than {MAX_SETUP_ENTRIES} options"),
            "setup",
        ));
    }
    catalog::setup_of_value(req.setup.clone())
        .map_err(|e| bad("invalid_setup", e.to_string(), "setup"))
}

/// The status, code and field of a catalog failure.
fn gateway_problem(e: &GatewayError) -> ApiError {
    let message = e.to_string();
    match e {
        GatewayError::NotConfigured(_) => {
            ApiError::conflict("key2print_not_configured", message, "store")
        }
        GatewayError::NoRestKeys(_) => ApiError::conflict("rest_keys_missing", message, "store"),
        GatewayError::Tax(_) => ApiError::conflict("tax_not_configured", message, "store"),
        GatewayError::Woo(_) => {
            ApiError::BadGateway(Json(Problem::new("woocommerce_error", message)))
        }
        GatewayError::ProductNotFound(_) => {
            ApiError::not_found("product_not_found", message, "product_id")
        }
        GatewayError::NotAProduct(_) => {
            ApiError::unprocessable("not_a_product", message, "product_id")
        }
        GatewayError::BadSetup(_) | GatewayError::NoVariation(_) => {
            ApiError::unprocessable("setup_not_priced", message, "setup")
        }
        GatewayError::NothingOrderable | GatewayError::NoPrice(_) => {
            ApiError::conflict("not_orderable", message, "setup")
        }
        GatewayError::PriceTree(_) => {
            ApiError::conflict("price_tree_invalid", message, "product_id")
        }
        GatewayError::Auth(_) | GatewayError::MissingSetup | GatewayError::SetupData(_) => {
            ApiError::internal(message)
        }
    }
}

/// The status, code and field of a setup without a price.
fn problem(e: &SetupPriceError) -> ApiError {
    let message = e.to_string();
    match e {
        SetupPriceError::Gateway(g) => gateway_problem(g),
        SetupPriceError::NoChoice { option_id, .. }
        | SetupPriceError::UnknownValue { option_id, .. } => ApiError::unprocessable(
            "price_path_incomplete",
            message,
            &format!("setup.{option_id}"),
        ),
        SetupPriceError::LeafUnavailable { option_id, .. } => {
            ApiError::conflict("unavailable", message, &format!("setup.{option_id}"))
        }
        SetupPriceError::ItemUnavailable { .. } => {
            ApiError::conflict("unavailable", message, "setup")
        }
        SetupPriceError::VariationMismatch { .. } => {
            ApiError::unprocessable("variation_mismatch", message, "variation_id")
        }
    }
}

fn answer(product_id: i64, p: SetupPrice) -> SetupPriceAnswer {
    SetupPriceAnswer {
        product_id,
        variation_id: p.variation_id,
        net: p.price.net_price,
        gross: p.price.gross_price,
        tax: p.price.tax,
        line_price: p.line_price,
        tax_rate: p.price.tax_rate,
        currency: p.price.currency,
        price_path: p
            .path
            .into_iter()
            .map(|s| PricePathStep {
                option_id: s.option_id,
                option_name: s.option_name,
                value_id: s.value_id,
                value_name: s.value_name,
            })
            .collect(),
        available: p.price.is_available,
    }
}

pub struct Key2printPriceApi;

#[OpenApi(prefix_path = "/v1/stores", tag = "ApiTags::Stores")]
impl Key2printPriceApi {
    /// Price a Key2print editor setup
    ///
    /// For the plugin's cart: the price of a saved editor setup, computed from the shop's
    /// catalog as the product gateway's Get Price computes it for the editor, followed along
    /// the setup's price-tree choices to one leaf. `line_price` is the unit price the cart
    /// line is set to. A setup that does not reach a leaf of the price tree, or does not
    /// designate the given variation, is answered 422; an unavailable variation or leaf 409.
    /// `field` names the setup entry (`setup.<option id>`) or request field at fault.
    #[oai(
        path = "/:store/key2print/price",
        method = "post",
        operation_id = "priceKey2printSetup"
    )]
    async fn price(
        &self,
        token: StoreToken,
        state: Data<&Arc<AppState>>,
        store: Path<String>,
        body: Json<SetupPriceRequest>,
    ) -> Result<StoreResponse<SetupPriceAnswer>, ApiError> {
        let cfg = authorize(&state, &store.0, &token)?;
        let req = body.0;
        let setup = checked_setup(&req)?;
        let gateway = Gateway {
            store: cfg,
            cache: &state.catalog,
            now_ms: state.clock.now_ms(),
            timeout: state.config.dispatch.request_timeout().min(WOO_TIMEOUT),
        };
        match gateway
            .setup_price(req.product_id, req.variation_id, &setup)
            .await
        {
            Ok(p) => Ok(StoreResponse::Ok(Json(answer(req.product_id, p)))),
            Err(e) => {
                tracing::warn!(
                    store = %cfg.id,
                    product_id = req.product_id,
                    error = %e,
                    "Key2print setup has no price"
                );
                Err(problem(&e))
            }
        }
    }
}

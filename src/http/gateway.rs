//! `GET /v1/key2print/{store}/gateway/{product-details,available-options,price,setup-data}`:
//! the Key2print Product Gateway callbacks, answered from the shop's WooCommerce catalog.

use poem_openapi::OpenApi;

/// The four Product Gateway callbacks.
pub struct GatewayApi;

#[OpenApi]
impl GatewayApi {}

//! WooCommerce: webhook signatures, order payload types, and (in `rest`) the REST client.

pub mod model;
pub mod signature;

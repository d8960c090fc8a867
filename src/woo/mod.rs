//! WooCommerce: webhook signatures, order payload types, and (in `rest`) the REST client.

pub mod catalog;
pub mod model;
pub mod oauth1;
pub mod rest;
pub mod signature;

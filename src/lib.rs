//! PrintBridge: WooCommerce order webhooks in, signed print-provider calls out, exactly once.

pub mod config;
pub mod net;
pub mod providers;
pub mod secret;
pub mod woo;

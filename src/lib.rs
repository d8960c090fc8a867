//! PrintBridge: WooCommerce order webhooks in, signed print-provider calls out, exactly once.

pub mod app;
pub mod clock;
pub mod config;
pub mod demo;
pub mod drain;
pub mod events;
pub mod gateway;
pub mod http;
pub mod intake;
pub mod logging;
pub mod metrics;
pub mod net;
pub mod outbox;
pub mod privacy;
pub mod providers;
pub mod reads;
pub mod sandbox;
pub mod secret;
pub mod store;
pub mod woo;

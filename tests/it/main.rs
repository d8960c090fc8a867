//! PrintBridge's integration tests, one module per area, linked into one test binary (one link
//! of the crate instead of one per file). Run one area with `cargo test --test it area::`,
//! e.g. `cargo test --test it intake::`.
//!
//! Tests that need a process of their own stay separate binaries in `tests/`:
//! `job_spans.rs` and `request_spans.rs` install the process-wide tracing subscriber and
//! read every line or event it captures. They use `support` from here by path.

#[macro_use]
mod support;
mod providers_support;

mod admin_lists;
mod bench_body;
mod cli;
mod crash;
mod demo;
mod dispatch;
mod events;
mod gateway;
mod hardening;
mod intake;
mod intake_order;
mod key2print_lists;
mod key2print_price;
mod leftovers;
mod openapi;
mod outcomes;
mod parser_properties;
mod print_policy;
mod privacy;
mod providers_apliiq;
mod providers_key2print;
mod providers_signcli;
mod providers_spiff;
mod providers_vectors;
mod replay_jobs;
mod sandbox;
mod sessions;
mod shipment;
mod shutdown;
mod store_status;
mod woo_rest;
mod writeback;

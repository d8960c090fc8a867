//! The read side: what operators (`/v1/admin/...`, the command line) and the plugin's order
//! screen see of the ledger and the outbox. [`orders`] reads orders, their snapshots, items
//! and deliveries; [`jobs`] reads jobs with their attempts, kept files and tracking, and
//! records a shipment's tracking numbers beside the tracking it reads (docs/ARCHITECTURE.md,
//! "One delivery's path").

pub mod jobs;
pub mod orders;

//! The order ledger's domain: which provider makes each line item, what a delivery means,
//! and which provider calls a paid order needs. No database and no HTTP in here.

pub mod classify;
pub mod intake;

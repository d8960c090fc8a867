//! Intake: one delivery from verified bytes to applied ledger rows.
//!
//! [`parse`] decides what a delivery means (with [`classify`] naming the provider of each
//! line item), without touching the database; [`queue`] is the writer that stores every
//! delivery and answers its caller once it is committed; [`apply`] is the intake transaction,
//! which applies stored deliveries to the ledger in order of arrival and plans the provider
//! jobs of a paid order; [`body`] is how a delivery's body is kept in the database.
//! docs/ARCHITECTURE.md draws one delivery's path through these files.

pub mod apply;
pub mod body;
pub mod classify;
pub mod parse;
pub mod queue;

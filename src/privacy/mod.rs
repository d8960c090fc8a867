//! Personal data: what the bridge holds of a customer, found by billing e-mail or
//! WooCommerce customer id, exported or erased on request (`subject`), and kept only as
//! long as each store's retention says (`retention`). Redaction keeps ids, states, times,
//! amounts and hashes and replaces personal fields with a marker (`redact`).

pub(crate) mod ops;
pub mod redact;
pub mod retention;
pub mod subject;

pub use subject::{
    ErasurePage, ExportPage, OrderErasure, OrderExport, Subject, SubjectError, normalise_email,
};

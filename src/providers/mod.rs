//! Print providers: Spiff, Apliiq and Key2print. Signing is pure; clients take their base URL.

pub mod signcli;

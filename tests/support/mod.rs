//! Shared test support: the real app on a random port, local stand-ins for the shop.
#![allow(dead_code)]

pub mod woo_standin;

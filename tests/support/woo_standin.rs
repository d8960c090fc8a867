//! A local WooCommerce REST stand-in for tests.

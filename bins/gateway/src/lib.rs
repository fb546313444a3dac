//! The Connections Gateway server's wiring, shared by the `gateway` binary and the test kit:
//! the settings ([`config`]), the one list of connectors ([`registry`]) and the one
//! composition root ([`app::App`]). Nothing else depends on this package.

pub mod app;
pub mod config;
pub mod registry;

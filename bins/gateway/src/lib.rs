//! The Connections Gateway server's wiring, shared by the `gateway` binary and the test kit:
//! the settings ([`config`]) and the one list of connectors ([`registry`]). Nothing else
//! depends on this package.

pub mod config;
pub mod registry;

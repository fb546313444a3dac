//! Warehouses: BigQuery, where customers keep their catalog and events. One module per
//! provider in the engagement family's shape (config, client, connector, error).

// Bytes and text from tenants and providers are never sliced or indexed unchecked (a panic
// would be one tenant stopping work for all): `.get()` and friends instead.
#![cfg_attr(not(test), deny(clippy::string_slice, clippy::indexing_slicing))]

mod bigquery;

pub use bigquery::BigQueryConnector;

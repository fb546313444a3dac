//! Warehouses: BigQuery, where customers keep their catalog and events. One module per
//! provider in the engagement family's shape (config, client, connector, error).

mod bigquery;

pub use bigquery::BigQueryConnector;

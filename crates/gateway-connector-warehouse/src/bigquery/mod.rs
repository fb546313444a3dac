//! BigQuery: a service-account key (Google's shared auth, as for GCS), the REST API v2.
//! References: <https://cloud.google.com/bigquery/docs/reference/rest/v2/datasets/get>,
//! <https://cloud.google.com/bigquery/docs/dry-run-queries>,
//! <https://cloud.google.com/bigquery/docs/reference/rest/v2/tables/get>,
//! <https://cloud.google.com/bigquery/docs/reference/rest/v2/tabledata/list>,
//! <https://cloud.google.com/bigquery/docs/reference/rest/v2/jobs/query>,
//! <https://cloud.google.com/bigquery/docs/reference/rest/v2/tables/testIamPermissions>,
//! <https://cloud.google.com/bigquery/docs/error-messages>.

mod client;
mod config;
mod connector;
pub(crate) mod error;
mod rows;
mod validate;

pub use connector::BigQueryConnector;

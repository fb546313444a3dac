//! Table validation and preview, the same for every provider: pure functions over the
//! domain's records and a connector's [`Inspection`](gateway_connector::Inspection).
//!
//! The flow of `POST .../tables/{name}/test/`: [`merge`] the body over the stored table ->
//! [`check`] it statically -> the connector inspects the remote resource -> [`apply`] fills
//! detected defaults, infers `columns_mapping`, checks the resource's required fields and
//! collects warnings. `GET .../test/` runs the same on the stored table and records
//! [`status_for`] the outcome.

mod apply;
mod check;
mod merge;

pub use apply::{Preview, SAMPLE_ROWS, apply, drift, required_fields, timestamp_unit};
pub use check::check;
pub use merge::merge;

use gateway_connector::{ConnectorError, ErrorKind};
use gateway_domain::{ErrorName, Problem, TableStatus};

/// The status a table gets from a failed test.
pub fn status_for(kind: ErrorKind) -> TableStatus {
    match kind {
        ErrorKind::WrongCredentials | ErrorKind::Forbidden => TableStatus::WrongCredentials,
        ErrorKind::ResourceNotFound => TableStatus::ResourceNotFound,
        ErrorKind::WrongSpecification => TableStatus::WrongSpecification,
        ErrorKind::RateLimited | ErrorKind::Timeout | ErrorKind::Unavailable | ErrorKind::Unknown => {
            TableStatus::UnknownError
        }
    }
}

/// The problem the caller sees for a provider failure: RESOURCE_NOT_FOUND for a missing
/// remote resource, WRONG_DATA_TYPE ("any problem with the connection") otherwise, with the
/// kind in `error_data.reason`.
pub fn problem_for(err: &ConnectorError) -> Problem {
    let name = match err.kind {
        ErrorKind::ResourceNotFound => ErrorName::ResourceNotFound,
        _ => ErrorName::WrongDataType,
    };
    Problem::new(name, err.message.clone()).with("reason", err.kind.as_str())
}

#[cfg(test)]
mod tests;

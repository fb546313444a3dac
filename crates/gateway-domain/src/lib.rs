//! The Connections Gateway's domain: what a connection and a table are, the closed sets the
//! contract names (`ConnectionKind`, `Resource`, `TableStatus`, ...), the request and response
//! bodies, the error names and paging.
//!
//! It depends on serde alone so that any Rust service can embed it: no I/O, no runtime.
//! Values are parsed once at the edge ("parse, don't validate"): a [`TableName`] that exists
//! is valid, a [`Paging`] that exists is in range.

mod body;
mod enums;
mod error;
mod names;
mod paging;
mod records;
mod sample;

pub use body::{ConnectionPut, CredentialsTest, TablePatch, expect_object, json_type_name};
pub use enums::{Compression, ConnectionKind, FileFormat, ParseEnumError, Resource, Role, TableStatus};
pub use error::{ErrorName, Problem};
pub use names::{OrganizationId, TableName};
pub use paging::{MAX_AMT, Paging};
pub use records::{
    CheckStep, Connection, ConnectionView, ConnectionsList, Credentials, CredentialsCheck, MASK, Table, TableSummary,
    TableView, TablesList, TablesPage, now_seconds,
};
pub use sample::{Column, ColumnType, Sample, TablePreview};

/// A JSON object, the shape of credentials, metadata and every table parameter.
pub type JsonObject = serde_json::Map<String, serde_json::Value>;

//! The Connections Gateway's domain: what a connection and a table are, the closed sets the
//! contract names (`ConnectionKind`, `Resource`, `TableStatus`, ...), the request and response
//! bodies, the error names and paging.
//!
//! It depends on serde alone so that any Rust service can embed it: no I/O, no runtime.
//! Values are parsed once at the edge ("parse, don't validate"): a [`TableName`] that exists
//! is valid, a [`Paging`] that exists is in range.
//!
//! Every refusal is a [`Problem`]: an [`ErrorName`] from the contract's stable set (sent as
//! `error_name`), a message for a person, and `error_data`, whose `field` names the offending
//! field as a dotted path ([`Problem::field`]). Timestamps are Unix seconds; secret credential
//! fields are answered as [`MASK`] to every role but `backend`.
//!
//! # Example
//!
//! A service parses the path and body of `PATCH /connections/S3/tables/{name}/` and the
//! `page`/`amt` query of `GET /tables/` at its edge, and answers a refusal with the
//! contract's error name and the offending field:
//!
//! ```rust
//! use gateway_domain::{ConnectionKind, ErrorName, Paging, Problem, Resource, TableName, TablePatch};
//!
//! fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     // `GET /tables/?page=2`: `amt` absent, so the default, 10.
//!     let paging = Paging::parse(Some("2"), None)?;
//!     assert_eq!((paging.page(), paging.amt(), paging.offset()), (2, 10, 10));
//!
//!     // The PATCH's `{name}` path segment, then its body as received (`name` may be echoed).
//!     let name = TableName::parse("table name_test.csv")?;
//!     let raw = r#"{
//!         "resource": "user",
//!         "connection_table_params": {"file_format": "CSV", "options": {"compression": "zip"}},
//!         "resource_params": {"columns_mapping": {"user_id": "test_field_user_id"}},
//!         "name": "table name_test.csv"
//!     }"#;
//!     let body: serde_json::Value = serde_json::from_str(raw)?;
//!     let patch = TablePatch::from_json(body, ConnectionKind::S3, &name)?;
//!     assert_eq!(patch.resource, Some(Resource::User));
//!     assert!(patch.status.is_none()); // absent: the stored status is kept
//!     assert!(patch.connection_table_metadata.is_none());
//!
//!     // A refused value: `status` is not one of the contract's table statuses.
//!     let body = serde_json::json!({"status": "ready"});
//!     let refused: Problem = match TablePatch::from_json(body, ConnectionKind::S3, &name) {
//!         Err(problem) => problem,
//!         Ok(patch) => return Err(format!("accepted: {patch:?}").into()),
//!     };
//!     assert_eq!(refused.name, ErrorName::WrongDataType);
//!     assert_eq!(refused.name.as_str(), "WRONG_DATA_TYPE");
//!     assert_eq!(refused.field(), Some("status"));
//!     assert_eq!(refused.data["allowed"][0], "available");
//!
//!     // Out-of-range paging is refused the same way, naming the parameter.
//!     let refused = Paging::parse(None, Some("65")).err().ok_or("amt=65 accepted")?;
//!     assert_eq!((refused.name, refused.field()), (ErrorName::WrongDataType, Some("amt")));
//!     Ok(())
//! }
//! ```

#![warn(missing_docs)]

mod body;
pub mod civil;
mod enums;
mod error;
mod names;
mod ops;
mod paging;
mod records;
mod sample;
mod validation;

pub use body::{ConnectionPut, CredentialsTest, TablePatch, expect_object, json_type_name};
pub use enums::{
    AuditAction, Compression, ConnectionKind, ConnectionStatus, EventName, FileFormat, ParseEnumError, Resource, Role,
    TableStatus, ValidationState,
};
pub use error::{ErrorName, Problem};
pub use names::{OrganizationId, TableName};
pub use ops::{
    Actor, AuditEntry, AuditPage, Event, Webhook, WebhookId, WebhookPut, WebhookView, WebhooksList, changed_fields,
    random_id,
};
pub use paging::{MAX_AMT, PageCursor, Paging};
pub use records::{
    CheckStep, Connection, ConnectionView, ConnectionsList, Credentials, CredentialsCheck, MASK, Table, TableSummary,
    TableView, TablesList, TablesPage, now_seconds,
};
pub use sample::{
    Column, ColumnChange, ColumnType, FileSet, FileStamp, Sample, SchemaCurrent, SchemaDiff, SchemaEntry,
    SchemaHistory, TablePreview, UnitChange, UploadedFile, UploadedFiles, epoch_unit,
};
pub use validation::{
    DEFAULT_MAX_ERRORS, DEFAULT_MAX_PAGED_ROWS, FieldCheck, FieldStats, FileRows, MAX_MAX_ERRORS, PlannedField, RULES,
    RowSplit, RowSplits, TimestampStats, ValidationPlan, ValidationProgress, ValidationReport, ValidationRequest,
    ValidationView, ValidationsPage, Violation, ViolationSample,
};

/// A JSON object, the shape of credentials, metadata and every table parameter.
pub type JsonObject = serde_json::Map<String, serde_json::Value>;

//! A whole-table validation: the job (`/validations/`) and the report it answers.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{ConnectionKind, TableName, ValidationState};

impl ValidationState {
    /// Whether the job has ended (a state it never leaves).
    pub fn is_final(self) -> bool {
        matches!(self, ValidationState::Succeeded | ValidationState::Failed | ValidationState::Cancelled)
    }
}

/// The rules a row is held to.
pub const RULES: &[&str] = &["missing", "type", "duplicate"];

/// How far a validation has read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ValidationProgress {
    /// Data rows read so far.
    pub rows: u64,
    /// Bytes read from the provider so far.
    pub bytes_read: u64,
    /// The table's size in bytes (every file), when known.
    pub bytes_total: u64,
}

/// A rule broken by some rows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Violation {
    /// `missing`, `type` or `duplicate`.
    pub rule: String,
    /// The platform field (a `columns_mapping` key; for `duplicate`, the key's fields joined by `+`).
    pub field: String,
    /// How many rows break it (exact).
    pub rows: u64,
}

/// One row breaking a rule, to find it in the source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ViolationSample {
    /// `missing`, `type` or `duplicate`.
    pub rule: String,
    /// The platform field.
    pub field: String,
    /// The file the row is in (its path in the bucket); the table's name for non-file kinds.
    pub file: String,
    /// The 1-based data row of that file (its header and skipped lines excluded).
    pub row: u64,
    /// The offending value, cut to 200 characters; `null` for a missing one.
    pub value: Option<String>,
}

/// What the values of one platform field look like.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FieldStats {
    /// The source column it is mapped to.
    pub column: String,
    /// What its values are: `integer`, `float`, `string`, `timestamp` (every value that is
    /// there parses so), as the platform will read it.
    #[serde(rename = "type")]
    pub ty: String,
    /// Rows where it is null, empty or absent.
    pub nulls: u64,
    /// Distinct values: exact up to 10,000, an estimate past it (HyperLogLog, within about 2%).
    pub distinct: u64,
    /// The smallest value (numbers as numbers, timestamps as RFC 3339, text by byte order).
    pub min: Option<Value>,
    /// The largest value.
    pub max: Option<Value>,
}

/// The timestamps found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimestampStats {
    /// The form most values have: `seconds`, `milliseconds`, `microseconds`, `nanoseconds`
    /// (epoch numbers, told apart by magnitude) or `iso8601` (RFC 3339 / ISO 8601 text).
    /// Epoch numbers of another unit than the most common one break `type`.
    pub unit: String,
    /// The earliest, RFC 3339 in UTC.
    pub min: Option<String>,
    /// The latest, RFC 3339 in UTC.
    pub max: Option<String>,
}

/// What a validation found, for the resource's platform fields through `columns_mapping`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ValidationReport {
    /// Data rows read.
    pub rows: u64,
    /// Rows breaking no rule.
    pub valid_rows: u64,
    /// Rows breaking at least one rule (`valid_rows + invalid_rows = rows`).
    pub invalid_rows: u64,
    /// Whether reading stopped at `max_rows` before the table's end.
    pub truncated: bool,
    /// Each rule broken, per field, with exact counts.
    pub violations: Vec<Violation>,
    /// The first rows breaking a rule (at most `max_errors`).
    pub samples: Vec<ViolationSample>,
    /// Each mapped platform field.
    pub fields: BTreeMap<String, FieldStats>,
    /// The `timestamp` field's values, when it is mapped and has any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<TimestampStats>,
    /// The rows of each file read, in the order read (file tables; a set's every file).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<FileRows>,
}

/// The rows one file of a table held.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileRows {
    /// Its path (as samples name it).
    pub file: String,
    /// Data rows read from it.
    pub rows: u64,
}

/// A validation as answered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ValidationView {
    /// Its id (`GET .../validations/{id}/`).
    pub id: String,
    /// The connection of the table.
    pub connection: ConnectionKind,
    /// The table validated.
    pub table: TableName,
    /// Where it is.
    pub state: ValidationState,
    /// When it was asked for, Unix seconds.
    pub created_timestamp: i64,
    /// When it ended, Unix seconds; `null` until then.
    pub finished_timestamp: Option<i64>,
    /// How far it has read.
    pub progress: ValidationProgress,
    /// Samples kept at most.
    pub max_errors: u32,
    /// Rows read at most (`null`: the whole table, up to the default for provider objects).
    pub max_rows: Option<u64>,
    /// What was found, once `succeeded`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub report: Option<ValidationReport>,
    /// Why it failed, once `failed`: the contract's error shape (`error_name`, `message`,
    /// `error_data`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<Value>,
}

/// A page of validations, newest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ValidationsPage {
    /// Whether another page holds more.
    pub has_next: bool,
    /// The page after this one.
    pub next_page: u32,
    /// At most `amt` validations.
    pub validations: Vec<ValidationView>,
}

/// The body of `POST .../validations/` (optional).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ValidationRequest {
    /// Samples kept (default 100, at most 1000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_errors: Option<u32>,
    /// Stop after this many rows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_rows: Option<u64>,
}

/// Samples kept by default.
pub const DEFAULT_MAX_ERRORS: u32 = 100;
/// Samples kept at most.
pub const MAX_MAX_ERRORS: u32 = 1000;
/// Rows a validation reads of a table served page by page (a SaaS object) when the request
/// names no `max_rows`; `truncated` says when rows were left.
pub const DEFAULT_MAX_PAGED_ROWS: u64 = 1_000_000;

/// What a validation holds a table to, as data: for sources that run it where the table
/// lives (a warehouse's SQL) rather than being read whole by the engine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidationPlan {
    /// The mapped platform fields, each with its source column.
    pub fields: Vec<PlannedField>,
    /// The key's platform fields, in order (empty: the resource has none).
    pub key: Vec<String>,
    /// Samples kept at most.
    pub max_errors: usize,
    /// Rows read at most.
    pub max_rows: Option<u64>,
    /// Bytes a provider that runs the rules in place may process for them (BigQuery: the dry
    /// run refuses past it; each query's `maximumBytesBilled`).
    pub max_bytes: u64,
}

/// One platform field of a [`ValidationPlan`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedField {
    /// The platform field (`user_id`, `rating`).
    pub field: String,
    /// The source column it is mapped to (dotted for a nested field).
    pub column: String,
    /// What `type` holds its values to.
    pub check: FieldCheck,
    /// Null, empty or absent breaks `missing`.
    pub required: bool,
}

/// What `type` holds a field's values to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldCheck {
    /// Any text (ids, labels, other fields).
    Text,
    /// A finite number (`rating`).
    Number,
    /// An instant: epoch seconds (or a finer unit) or RFC 3339 / ISO 8601 text.
    Timestamp,
}

/// One independent part of a table's rows (`GET .../rows/splits/`): a file of a set (or the
/// file), or the whole of a table read page by page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RowSplit {
    /// What `GET .../rows/?split=` takes.
    pub split: String,
    /// The file it reads (`None`: the table read page by page).
    pub file: Option<String>,
    /// Its size in bytes, where known before reading.
    pub bytes: Option<u64>,
}

/// A table's splits: reading each gives the rows of one read of all.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RowSplits {
    /// In the order a read of all reads them.
    pub splits: Vec<RowSplit>,
}

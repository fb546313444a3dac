//! What a preview shows of a source: its columns and a few rows.

use serde::Serialize;

use crate::{JsonObject, TableView};

/// A column's inferred type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ColumnType {
    String,
    Integer,
    Float,
    Boolean,
    Timestamp,
    Json,
}

/// A source column; nested fields are dotted paths (`customer.age`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Column {
    pub name: String,
    #[serde(rename = "type")]
    pub ty: ColumnType,
}

/// Columns and up to ten rows, each an object keyed by column name, and how many bytes of the
/// remote resource were read to get them.
#[derive(Debug, Clone, PartialEq, Default, Serialize, serde::Deserialize)]
pub struct Sample {
    pub columns: Vec<Column>,
    pub rows: Vec<JsonObject>,
    #[serde(default)]
    pub bytes_read: u64,
}

/// `POST|GET /connections/{connection}/tables/{name}/test/`: the merged table with defaults
/// filled and mappings inferred, the warnings, and a sample of the source.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct TablePreview {
    #[serde(flatten)]
    pub table: TableView,
    pub sample: Sample,
}

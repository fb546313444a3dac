//! What a preview shows of a source: its columns and a few rows.

use serde::Serialize;

use crate::{JsonObject, TableView};

/// A column's type, as declared by the source or inferred from the sampled values; on the
/// wire in lowercase (`"string"`, `"integer"`, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ColumnType {
    /// Text; also a column whose values disagree or are all empty.
    String,
    /// Whole numbers (also in text, e.g. CSV `"42"`).
    Integer,
    /// Numbers with a fraction or exponent, or a mix of those and whole numbers.
    Float,
    /// Booleans (`true`/`false` in any case).
    Boolean,
    /// Dates and date-times in ISO 8601 form (`2024-05-01`, `2024-05-01T10:20:30Z`).
    Timestamp,
    /// Arrays and objects, kept as JSON.
    Json,
}

/// A source column; nested fields are dotted paths (`customer.age`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Column {
    /// The column's name in the source, as `columns_mapping` refers to it.
    pub name: String,
    /// Its type, answered as `type`.
    #[serde(rename = "type")]
    pub ty: ColumnType,
}

/// Columns and up to ten rows, each an object keyed by column name, and how many bytes of the
/// remote resource were read to get them.
#[derive(Debug, Clone, PartialEq, Default, Serialize, serde::Deserialize)]
pub struct Sample {
    /// The source's columns (nested fields flattened to dotted paths).
    pub columns: Vec<Column>,
    /// Up to ten rows, each keyed by column name.
    pub rows: Vec<JsonObject>,
    /// Bytes read from the remote resource to get them (compressed bytes for a compressed
    /// file); `0` when absent.
    #[serde(default)]
    pub bytes_read: u64,
    /// For a table that is a set of files (a prefix or a glob): what matched.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub files: Option<FileSet>,
    /// When the source last changed (a file's modification, a set's newest), Unix seconds,
    /// where the provider says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub modified_timestamp: Option<i64>,
}

/// The files a file-set table's pattern matches (markers and hidden files left out).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct FileSet {
    /// Files matched.
    pub count: u64,
    /// Their sizes, summed.
    pub bytes: u64,
    /// The most recently modified: the sample comes from it.
    pub newest: FileStamp,
    /// The least recently modified.
    pub oldest: FileStamp,
    /// Hive partition keys (`dt` of `dt=2026-11-30/`), read as columns.
    pub partitions: Vec<String>,
}

/// One file of a set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct FileStamp {
    /// Its key (object path).
    pub path: String,
    /// Unix seconds.
    pub modified_timestamp: i64,
}

/// One uploaded file of a LOCAL table, as `GET .../tables/{name}/files/` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct UploadedFile {
    /// Its name in the table's set (`PUT <url>?file=`); `null` for the one file of a table
    /// uploaded without a name.
    pub file: Option<String>,
    /// Bytes.
    pub size: u64,
    /// When it was last written, Unix seconds.
    pub modified_timestamp: i64,
}

/// `GET .../tables/{name}/files/`: a LOCAL table's uploaded files by name, paged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct UploadedFiles {
    /// Files the table holds.
    pub count: u64,
    /// Their sizes, summed.
    pub bytes: u64,
    /// Whether another page holds more.
    pub has_next: bool,
    /// The page after this one.
    pub next_page: u32,
    /// At most `amt` files, by name.
    pub files: Vec<UploadedFile>,
}

/// `POST|GET /connections/{connection}/tables/{name}/test/`: the merged table with defaults
/// filled and mappings inferred, the warnings, and a sample of the source.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct TablePreview {
    /// The merged table with defaults filled, flattened into the answer's top level as in a
    /// GET. A table not stored yet shows its initial `status` and `0` timestamps.
    #[serde(flatten)]
    pub table: TableView,
    /// `sample`: the columns and a few rows. Read-only: ignored in a PATCH body.
    pub sample: Sample,
}

/// A column whose type changed between two observed schemas.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct ColumnChange {
    /// The column's name.
    pub name: String,
    /// Its type before.
    pub from: ColumnType,
    /// Its type now.
    pub to: ColumnType,
}

/// How a table's observed columns changed: by name, in the order the new schema has them
/// (removed ones in the old order).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct SchemaDiff {
    /// Columns the new schema has and the old had not.
    pub added: Vec<Column>,
    /// Columns the old schema had and the new has not.
    pub removed: Vec<Column>,
    /// Columns of both whose type changed.
    pub changed: Vec<ColumnChange>,
    /// The mapped timestamp's epoch unit, when the sample showed it change (seconds to
    /// milliseconds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp_unit: Option<UnitChange>,
}

/// A timestamp's epoch unit before and now (`seconds`, `milliseconds`, `microseconds`,
/// `nanoseconds`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct UnitChange {
    /// The unit before.
    pub from: String,
    /// The unit now.
    pub to: String,
}

/// The epoch unit of a number of a timestamp, by its magnitude as of this century: seconds
/// below 10^11, milliseconds below 10^14, microseconds below 10^17, else nanoseconds.
pub fn epoch_unit(v: f64) -> &'static str {
    match v.abs() {
        a if a < 1e11 => "seconds",
        a if a < 1e14 => "milliseconds",
        a if a < 1e17 => "microseconds",
        _ => "nanoseconds",
    }
}

impl SchemaDiff {
    /// The change from `old` to `new`.
    pub fn between(old: &[Column], new: &[Column]) -> SchemaDiff {
        let added = new.iter().filter(|c| !old.iter().any(|o| o.name == c.name)).cloned().collect();
        let removed = old.iter().filter(|o| !new.iter().any(|c| c.name == o.name)).cloned().collect();
        let changed = new
            .iter()
            .filter_map(|c| {
                let o = old.iter().find(|o| o.name == c.name)?;
                (o.ty != c.ty).then(|| ColumnChange { name: c.name.clone(), from: o.ty, to: c.ty })
            })
            .collect();
        SchemaDiff { added, removed, changed, timestamp_unit: None }
    }

    /// Whether nothing changed.
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty() && self.changed.is_empty() && self.timestamp_unit.is_none()
    }
}

/// One observed schema of a table, as `GET .../tables/{name}/schema/` lists it: when a
/// recorded test first saw it, its columns, and how it differs from the one before (empty for
/// the first one seen).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct SchemaEntry {
    /// When a recorded test first saw it, Unix seconds.
    pub at: i64,
    /// Its columns, as the test saw them.
    pub columns: Vec<Column>,
    /// The mapped timestamp's epoch unit, as the sample showed it (numbers only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
    /// How it differs from the schema before.
    #[serde(flatten)]
    pub diff: SchemaDiff,
}

/// `GET .../tables/{name}/schema/`: the current schema and the history, newest first, paged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct SchemaHistory {
    /// The newest observed schema (`null` before any recorded test saw columns).
    pub current: Option<SchemaCurrent>,
    /// Every observed schema, newest first (the current one leads page 1).
    pub history: Vec<SchemaEntry>,
    /// Whether another page holds more.
    pub has_next: bool,
    /// The page after this one.
    pub next_page: u32,
}

/// The newest observed schema.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct SchemaCurrent {
    /// When a recorded test first saw it, Unix seconds.
    pub at: i64,
    /// Its columns.
    pub columns: Vec<Column>,
}

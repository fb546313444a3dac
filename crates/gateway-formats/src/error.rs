//! What can be wrong with a file, each with a message a person can act on.

use gateway_domain::{Compression, FileFormat};

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FormatError {
    #[error("the file is empty")]
    Empty,
    #[error(
        "no whole data row within the first {0} bytes read: a row is longer than the read budget (a line that never ends?)"
    )]
    RowTooLong(u64),
    #[error("the file is truncated: {0}")]
    Truncated(String),
    #[error("compression is declared as {declared} but the file's bytes are {found}")]
    CompressionMismatch { declared: Compression, found: Compression },
    #[error(
        "the file is named {name} but its bytes are not {expected} (they look {found}); fix the name or the compression option"
    )]
    ExtensionMismatch { name: String, expected: Compression, found: String },
    #[error("the zip archive holds no data file")]
    ZipNoEntry,
    #[error("the zip archive holds {} files ({}); it must hold exactly one", .0.len(), .0.join(", "))]
    ZipManyEntries(Vec<String>),
    #[error("the zip entry uses a compression method ({0}) other than stored or deflate")]
    ZipMethod(u16),
    #[error("the file is declared {declared} but its content is {found}")]
    FormatMismatch { declared: FileFormat, found: String },
    #[error("the content is binary, not CSV, TSV, JSON lines, Parquet or Avro")]
    Unrecognized,
    #[error("the text is not UTF-8: {0}; re-encode the file as UTF-8")]
    Encoding(String),
    #[error("{0}")]
    Json(String),
    #[error("the Parquet footer is {size} bytes, over the {cap}-byte cap")]
    FooterTooLarge { size: u64, cap: u64 },
    #[error("{0} inside a compressed file cannot be sampled: store it uncompressed (it compresses its own pages)")]
    CompressedColumnar(FileFormat),
    #[error("the Parquet file cannot be read: {0}")]
    Parquet(String),
    #[error("the Avro file cannot be read: {0}")]
    Avro(String),
    #[error("the {0} stream is corrupt: {1}")]
    Corrupt(Compression, String),
    #[error("the option {option} is not usable: {why}")]
    BadOption { option: &'static str, why: String },
    /// The source could not be read (set by the source's implementation).
    #[error("{0}")]
    Source(String),
}

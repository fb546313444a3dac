//! Recognises and samples files by reading a bounded number of bytes: CSV and TSV (dialect
//! detected), JSON lines, Parquet and Avro, plain or compressed with gzip, zip, zstd or bz2.
//!
//! It reads through [`ByteSource`] (a size and ranged reads), so an object store, a local file
//! and bytes in memory all serve; it has no I/O of its own. Raw reads stay within
//! [`SniffOptions::budget`] (plus the Parquet footer, capped by
//! [`SniffOptions::footer_cap`]) whatever the file's size: a 1 GiB file costs what a 1 MiB one
//! does.

// Bytes and text from tenants and providers are never sliced or indexed unchecked (a panic
// would be one tenant stopping work for all): `.get()` and friends instead.
#![cfg_attr(not(test), deny(clippy::string_slice, clippy::indexing_slicing))]

mod avro;
mod avro_blocks;
mod budget;
mod compression;
#[cfg(test)]
mod corpus;
mod error;
mod pages;
mod params;
mod parquet;
mod source;
mod text;
mod values;
mod whole;
mod zip;

pub use error::FormatError;
pub use params::{FileOptions, FileParams, ParamsError};
pub use parquet::is_nested;
pub use parquet::row_groups as parquet_row_groups;
pub use source::{ByteSource, CountingSource, MemorySource};
/// A record from an API as a row: nested objects flattened to dotted paths, as
/// [`records_sample`] shows them (a whole read page by page keeps the preview's columns).
pub use values::flatten as record_row;
pub use values::infer as infer_column_type;
pub use whole::{BATCH_ROWS, Batches, Layout, MAX_RECORD, ROW_COLUMN, decode, parquet_batches, parquet_group_batches};

/// A sample of records from an API (a provider's objects): each flattened to dotted paths,
/// its columns in order of first appearance, typed by their values.
pub fn records_sample(records: impl IntoIterator<Item = JsonObject>) -> (Vec<Column>, Vec<JsonObject>) {
    let rows: Vec<JsonObject> = records.into_iter().map(values::flatten).collect();
    (values::columns_of(&rows), rows)
}

use std::sync::Arc;

use gateway_domain::{Column, Compression, FileFormat, JsonObject};
use serde_json::Value;

use budget::Budget;

/// What to read and what the caller already knows. Anything given is used instead of detected.
#[derive(Debug, Clone)]
pub struct SniffOptions {
    /// Raw bytes read at most (the Parquet footer comes on top).
    pub budget: u64,
    /// The largest Parquet footer read.
    pub footer_cap: u64,
    /// Decompressed bytes examined at most.
    pub max_decompressed: usize,
    pub sample_rows: usize,
    pub format: Option<FileFormat>,
    /// `None` or `Auto`: detect.
    pub compression: Option<Compression>,
    pub delimiter: Option<char>,
    /// `Some(None)`: fields are never quoted (`options.quote` `""`).
    pub quote: Option<Option<char>>,
    pub escape: Option<char>,
    pub header: Option<bool>,
    /// Lines before the table, skipped.
    pub skip_rows: Option<usize>,
    /// `Some(None)`: no comment lines.
    pub comment: Option<Option<char>>,
    pub encoding: Option<String>,
}

impl Default for SniffOptions {
    fn default() -> Self {
        SniffOptions {
            budget: 1024 * 1024,
            footer_cap: 16 * 1024 * 1024,
            max_decompressed: 2 * 1024 * 1024,
            sample_rows: 10,
            format: None,
            compression: None,
            delimiter: None,
            quote: None,
            escape: None,
            header: None,
            skip_rows: None,
            comment: None,
            encoding: None,
        }
    }
}

/// What a file is and what it holds.
#[derive(Debug, Clone, PartialEq)]
pub struct Sniffed {
    pub format: FileFormat,
    pub compression: Compression,
    /// Detected options under the keys of `connection_table_params.options`.
    pub options: JsonObject,
    pub columns: Vec<Column>,
    pub rows: Vec<JsonObject>,
    /// Raw bytes read from the source.
    pub bytes_read: u64,
    pub warnings: Vec<String>,
}

impl Sniffed {
    /// What was detected, under `connection_table_params` keys: `file_format` and `options`.
    pub fn detected_params(&self) -> JsonObject {
        let mut p = JsonObject::new();
        p.insert("file_format".into(), self.format.as_str().into());
        p.insert("options".into(), Value::Object(self.options.clone()));
        p
    }
}

fn format_from_name(name: &str) -> Option<FileFormat> {
    let lower = name.to_ascii_lowercase();
    let mut parts = lower.rsplit('.');
    let mut ext = parts.next()?;
    if compression::from_name(&lower).is_some() {
        ext = parts.next()?;
    }
    match ext {
        "csv" => Some(FileFormat::Csv),
        "tsv" | "tab" => Some(FileFormat::Tsv),
        "jsonl" | "ndjson" | "json" => Some(FileFormat::JsonLines),
        "parquet" | "pq" => Some(FileFormat::Parquet),
        "avro" => Some(FileFormat::Avro),
        _ => None,
    }
}

const PARQUET_MAGIC: &[u8] = b"PAR1";
/// An encrypted Parquet file (encrypted footer) starts and ends with this.
const ENCRYPTED_PARQUET_MAGIC: &[u8] = b"PARE";
/// The first raw read: the magic bytes and the start of the data.
const FIRST_READ: u64 = 64 * 1024;
const AVRO_MAGIC: &[u8] = b"Obj\x01";

/// Recognises and samples a file within the budget.
pub async fn sniff(source: Arc<dyn ByteSource>, opts: &SniffOptions) -> Result<Sniffed, FormatError> {
    let len = source.size().await?;
    if len == 0 {
        return Err(FormatError::Empty);
    }
    let name = source.name().map(str::to_owned);
    let mut budget = Budget::new(source, opts.budget);
    // One read serves the magic bytes and the start of the data (each request costs a round
    // trip to an object store).
    let head = budget.read(0, len.min(FIRST_READ)).await?;
    let found = compression::from_magic(&head);
    match opts.compression {
        Some(declared) if declared != Compression::Auto && declared != found => {
            return Err(FormatError::CompressionMismatch { declared, found });
        }
        Some(Compression::Auto) | None => {
            if let Some(by_name) = name.as_deref().and_then(compression::from_name)
                && by_name != found
            {
                return Err(FormatError::ExtensionMismatch {
                    name: name.clone().unwrap_or_default(),
                    expected: by_name,
                    found: compression::describe(&head),
                });
            }
        }
        Some(_) => {}
    }

    if found == Compression::None && head.starts_with(ENCRYPTED_PARQUET_MAGIC) {
        return Err(FormatError::Parquet(
            "it is encrypted Parquet (its footer is encrypted, magic PARE): the gateway holds no key to read it; write the table without Parquet modular encryption".into(),
        ));
    }
    // Parquet: the footer, by ranged reads from the end.
    if found == Compression::None && (head.starts_with(PARQUET_MAGIC) || opts.format == Some(FileFormat::Parquet)) {
        if !head.starts_with(PARQUET_MAGIC) {
            return Err(FormatError::FormatMismatch { declared: FileFormat::Parquet, found: content_kind(&head) });
        }
        let p = parquet::sniff(&mut budget, len, opts).await?;
        return Ok(Sniffed {
            format: FileFormat::Parquet,
            compression: Compression::None,
            options: JsonObject::from_iter([("compression".to_owned(), "none".into())]),
            columns: p.columns,
            rows: p.rows,
            bytes_read: budget.used(),
            warnings: p.warnings,
        });
    }

    // Everything else is read from its start: raw prefix, then decompressed.
    let (content, complete, entry_name) = match found {
        Compression::Zip => {
            let entry = zip::open(&mut budget, len).await?;
            let kind = if entry.method == 0 { Compression::None } else { Compression::Zip };
            let (bytes, end) = compression::decompress(kind, &entry.data, entry.whole, opts.max_decompressed)?;
            (bytes, end && entry.whole, Some(entry.name))
        }
        Compression::None | Compression::Auto => {
            let mut raw = head.to_vec();
            raw.extend_from_slice(&budget.read(raw.len() as u64, len).await?);
            let whole = raw.len() as u64 == len;
            let (bytes, end) = compression::decompress(found, &raw, whole, opts.max_decompressed)?;
            (bytes, end && whole, None)
        }
        _ => {
            // Streamed from the start: read more raw bytes (4x each time) only while the
            // output has not filled the decompressed cap, so a well-compressed file costs less.
            let mut raw = head.to_vec();
            loop {
                let whole = raw.len() as u64 == len;
                let (bytes, end) = compression::decompress(found, &raw, whole, opts.max_decompressed)?;
                if whole || bytes.len() >= opts.max_decompressed || budget.remaining() == 0 {
                    break (bytes, end && whole, None);
                }
                let chunk = budget.read(raw.len() as u64, len.min(raw.len() as u64 * 4)).await?;
                if chunk.is_empty() {
                    break (bytes, false, None);
                }
                raw.extend_from_slice(&chunk);
            }
        }
    };
    if content.is_empty() {
        return Err(FormatError::Empty);
    }
    let hint = entry_name.as_deref().or(name.as_deref()).and_then(format_from_name);
    if content.starts_with(PARQUET_MAGIC) {
        return Err(FormatError::CompressedColumnar(FileFormat::Parquet));
    }
    if content.starts_with(AVRO_MAGIC) || opts.format == Some(FileFormat::Avro) {
        if !content.starts_with(AVRO_MAGIC) {
            return Err(FormatError::FormatMismatch { declared: FileFormat::Avro, found: content_kind(&content) });
        }
        let a = avro::sniff(&content, complete, opts.sample_rows)?;
        let mut options = JsonObject::new();
        options.insert("compression".into(), found.as_str().into());
        return Ok(Sniffed {
            format: FileFormat::Avro,
            compression: found,
            options,
            columns: a.columns,
            rows: a.rows,
            bytes_read: budget.used(),
            warnings: a.warnings,
        });
    }
    let mut t = text::sniff(&content, complete, hint, opts)?;
    t.options.insert("compression".into(), found.as_str().into());
    Ok(Sniffed {
        format: t.format,
        compression: found,
        options: t.options,
        columns: t.columns,
        rows: t.rows,
        bytes_read: budget.used(),
        warnings: t.warnings,
    })
}

fn content_kind(head: &[u8]) -> String {
    if head.starts_with(PARQUET_MAGIC) {
        "Parquet".into()
    } else if head.starts_with(AVRO_MAGIC) {
        "Avro".into()
    } else if text::looks_binary(head) {
        "binary data".into()
    } else if head.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{') {
        "JSON lines".into()
    } else {
        "text".into()
    }
}

#[cfg(test)]
mod tests;

/// What the fuzz targets (`gateway-fuzz`) reach beside [`sniff`]: the Parquet page walk and
/// the Avro block re-framing.
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing {
    /// Walks fuzzed bytes as the pages of a column chunk, under each codec's rule.
    pub fn page_headers(data: &[u8]) {
        use parquet::basic::{Compression, GzipLevel, ZstdLevel};
        for codec in
            [Compression::SNAPPY, Compression::GZIP(GzipLevel::default()), Compression::ZSTD(ZstdLevel::default())]
        {
            let _ = crate::pages::check(data, codec, 1 << 20);
        }
    }

    /// Reads fuzzed bytes as an Avro container re-framed block by block under a 64 KiB bound.
    pub fn avro_blocks(data: &[u8]) {
        use std::io::Read;
        let mut out = Vec::new();
        let _ = crate::avro_blocks::Bounded::new(data, 64 * 1024).take(8 << 20).read_to_end(&mut out);
    }
}

//! A whole file decoded, as a stream of Arrow record batches in bounded memory: the data plane's
//! input (whole-table validation). The file is read the way a sniff of it described it
//! ([`Layout`]: format, compression and dialect), so a whole read and a preview never disagree
//! on a delimiter or a header.
//!
//! Every batch has the column `_row` (the 1-based data row of the file, its header and skipped
//! lines excluded) and the columns asked for, in that order. Text formats and Avro answer their
//! values as text (`Utf8`): whether a value is of a field's type is the engine's rule, not a
//! reason to stop reading. Parquet answers its own types. A column asked for that the file
//! lacks is all nulls (the engine counts it missing).
//!
//! Memory stays bounded whatever the file's size: [`BATCH_ROWS`] rows at a time, a row at
//! most [`MAX_RECORD`] bytes (longer is an error naming the row), decompression streamed, a
//! Parquet row group's projected column chunks at a time (their pages checked before they are
//! decompressed, as for a sniff).

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use arrow_array::builder::StringBuilder;
use arrow_array::{ArrayRef, RecordBatch, UInt64Array, new_null_array};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use futures_util::stream::BoxStream;
use gateway_domain::{Compression, FileFormat, JsonObject};
use serde_json::Value;

use crate::{ByteSource, FormatError, Sniffed};

/// Rows per batch.
pub const BATCH_ROWS: usize = 8192;
/// The longest row (a delimited record, a JSON line) read, in bytes.
pub const MAX_RECORD: u64 = 16 * 1024 * 1024;
/// The column holding each row's 1-based data row number in its file.
pub const ROW_COLUMN: &str = "_row";

/// How a file is laid out, as its sniff found it: what a whole read follows.
#[derive(Debug, Clone, PartialEq)]
pub struct Layout {
    pub format: FileFormat,
    pub compression: Compression,
    /// The detected options (`connection_table_params.options` keys).
    pub options: JsonObject,
    /// The file's columns in file order (a delimited file's header names).
    pub columns: Vec<String>,
}

impl Sniffed {
    /// What a whole read of the file follows.
    pub fn layout(&self) -> Layout {
        Layout {
            format: self.format,
            compression: self.compression,
            options: self.options.clone(),
            columns: self.columns.iter().map(|c| c.name.clone()).collect(),
        }
    }
}

/// A whole file's batches, pulled one at a time (blocking reads: run it off the async workers).
pub struct Batches {
    schema: SchemaRef,
    next: Box<dyn FnMut() -> Option<Result<RecordBatch, FormatError>> + Send>,
}

impl std::fmt::Debug for Batches {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Batches").field("schema", &self.schema).finish_non_exhaustive()
    }
}

impl Batches {
    pub fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }
}

impl Iterator for Batches {
    type Item = Result<RecordBatch, FormatError>;

    fn next(&mut self) -> Option<Self::Item> {
        (self.next)()
    }
}

/// The schema of a text or Avro read: `_row`, then every column asked for as text.
fn text_schema(wanted: &[String]) -> SchemaRef {
    let mut fields = vec![Field::new(ROW_COLUMN, DataType::UInt64, false)];
    fields.extend(wanted.iter().map(|w| Field::new(w, DataType::Utf8, true)));
    Arc::new(Schema::new(fields))
}

/// Counts the bytes read since the last whole record, failing past [`MAX_RECORD`]: a row that
/// never ends cannot make the reader's buffer grow without bound.
struct RecordGuard<R> {
    inner: R,
    since: Arc<AtomicU64>,
}

impl<R: Read> Read for RecordGuard<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.since.load(Ordering::Relaxed) > MAX_RECORD {
            return Err(std::io::Error::other(format!("a row is longer than {MAX_RECORD} bytes")));
        }
        let n = self.inner.read(buf)?;
        self.since.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// The raw bytes decompressed as they stream.
fn decompressed(raw: Box<dyn Read + Send>, compression: Compression) -> Result<Box<dyn Read + Send>, FormatError> {
    Ok(match compression {
        Compression::None | Compression::Auto => raw,
        Compression::Gzip => Box::new(flate2::read::MultiGzDecoder::new(raw)),
        Compression::Zstd => Box::new(
            zstd::stream::read::Decoder::new(raw)
                .map_err(|e| FormatError::Corrupt(Compression::Zstd, e.to_string()))?,
        ),
        Compression::Bz2 => Box::new(bzip2::read::MultiBzDecoder::new(raw)),
        Compression::Zip => {
            return Err(FormatError::BadOption {
                option: "compression",
                why: "a zip archive cannot be read whole as a stream yet: store the file plain or gzip-compressed"
                    .into(),
            });
        }
    })
}

fn opt_char(options: &JsonObject, key: &str) -> Option<Option<char>> {
    options.get(key).and_then(Value::as_str).map(|s| s.chars().next())
}

fn io_error(compression: Compression, e: &std::io::Error, row: u64) -> FormatError {
    let why = e.to_string();
    if why.contains("longer than") {
        FormatError::Truncated(format!(
            "data row {} is longer than {MAX_RECORD} bytes (a line that never ends?)",
            row + 1
        ))
    } else if compression != Compression::None {
        FormatError::Corrupt(compression, why)
    } else {
        FormatError::Source(why)
    }
}

/// Decodes a whole text or Avro file from its stored bytes; Parquet is [`parquet_batches`].
pub fn decode(raw: Box<dyn Read + Send>, layout: &Layout, wanted: &[String]) -> Result<Batches, FormatError> {
    let compression = layout.compression;
    let reader = decompressed(raw, compression)?;
    let schema = text_schema(wanted);
    // The guard counts decompressed bytes: a row is bounded in what it holds, not in what it
    // weighs compressed.
    let since = Arc::new(AtomicU64::new(0));
    let guarded = |inner| -> Box<dyn Read + Send> { Box::new(RecordGuard { inner, since: since.clone() }) };
    // The encoding the sniff found (or the table declares): fields and lines are split on
    // single bytes, then decoded.
    let encoding = match layout.options.get("encoding").and_then(Value::as_str) {
        Some(e) => crate::text::encoding_of(e)?,
        None => None,
    };
    match layout.format {
        FileFormat::Csv | FileFormat::Tsv => {
            delimited(guarded(reader), layout, wanted, schema, since.clone(), compression, encoding)
        }
        FileFormat::JsonLines => {
            let lines = BufReader::with_capacity(64 * 1024, guarded(reader));
            Ok(json_lines(lines, wanted, schema, since.clone(), compression, encoding))
        }
        // Avro: each block is inflated under a bound before apache-avro decodes it, and every
        // length it decodes (a block, a string) is capped by the same bound.
        FileFormat::Avro => avro(reader, wanted, schema),
        FileFormat::Parquet => Err(FormatError::CompressedColumnar(FileFormat::Parquet)),
    }
}

/// Column builders for a batch of text values.
struct TextBatch {
    schema: SchemaRef,
    rows: Vec<u64>,
    columns: Vec<StringBuilder>,
}

impl TextBatch {
    fn new(schema: SchemaRef, width: usize) -> Self {
        TextBatch {
            schema,
            rows: Vec::with_capacity(BATCH_ROWS),
            columns: (0..width).map(|_| StringBuilder::with_capacity(BATCH_ROWS, BATCH_ROWS * 8)).collect(),
        }
    }

    fn full(&self) -> bool {
        self.rows.len() >= BATCH_ROWS
    }

    /// A row whose value of each asked-for column `value_of` answers (`None`: null).
    fn push_row(&mut self, row: u64, wanted: &[String], value_of: impl Fn(&str) -> Option<String>) {
        self.rows.push(row);
        for (builder, w) in self.columns.iter_mut().zip(wanted) {
            match value_of(w) {
                Some(s) => builder.append_value(s),
                None => builder.append_null(),
            }
        }
    }

    fn finish(&mut self) -> Option<Result<RecordBatch, FormatError>> {
        if self.rows.is_empty() {
            return None;
        }
        let mut arrays: Vec<ArrayRef> = vec![Arc::new(UInt64Array::from(std::mem::take(&mut self.rows)))];
        arrays.extend(self.columns.iter_mut().map(|b| Arc::new(b.finish()) as ArrayRef));
        Some(RecordBatch::try_new(self.schema.clone(), arrays).map_err(|e| FormatError::Source(e.to_string())))
    }
}

fn delimited(
    reader: Box<dyn Read + Send>,
    layout: &Layout,
    wanted: &[String],
    schema: SchemaRef,
    since: Arc<AtomicU64>,
    compression: Compression,
    encoding: Option<&'static encoding_rs::Encoding>,
) -> Result<Batches, FormatError> {
    let o = &layout.options;
    let delimiter =
        opt_char(o, "delimiter").flatten().unwrap_or(if layout.format == FileFormat::Tsv { '\t' } else { ',' });
    let quote = opt_char(o, "quote").unwrap_or(Some('"'));
    let escape = opt_char(o, "escape").flatten();
    let comment = opt_char(o, "comment").flatten();
    let header = o.get("header").and_then(Value::as_bool).unwrap_or(true);
    let skip = o.get("skip_rows").and_then(Value::as_u64).unwrap_or(0);
    for c in [Some(delimiter), quote, escape, comment].into_iter().flatten() {
        if !c.is_ascii() {
            return Err(FormatError::BadOption {
                option: "delimiter",
                why: format!("'{c}' is not a single-byte character"),
            });
        }
    }
    let mut buffered = BufReader::with_capacity(64 * 1024, reader);
    // Lines before the table, as the sniff skipped them.
    let mut line = Vec::new();
    for _ in 0..skip {
        line.clear();
        (&mut buffered).take(MAX_RECORD).read_until(b'\n', &mut line).map_err(|e| io_error(compression, &e, 0))?;
    }
    let mut csv =
        crate::text::csv_builder(delimiter, quote, escape, comment).buffer_capacity(64 * 1024).from_reader(buffered);
    let out_schema = schema.clone();
    // Where each asked-for column sits in a record.
    let positions: Vec<Option<usize>> = wanted.iter().map(|w| layout.columns.iter().position(|c| c == w)).collect();
    let mut record = csv::ByteRecord::new();
    let mut skip_header = header;
    let mut row: u64 = 0;
    let mut done = false;
    let width = wanted.len();
    let next = move || -> Option<Result<RecordBatch, FormatError>> {
        if done {
            return None;
        }
        let mut batch = TextBatch::new(schema.clone(), width);
        while !batch.full() {
            since.store(0, Ordering::Relaxed);
            match csv.read_byte_record(&mut record) {
                Ok(false) => {
                    done = true;
                    break;
                }
                Ok(true) => {}
                Err(e) => {
                    done = true;
                    let err = match e.into_kind() {
                        csv::ErrorKind::Io(io) => io_error(compression, &io, row),
                        other => FormatError::Truncated(format!("data row {} cannot be parsed: {other:?}", row + 1)),
                    };
                    return Some(Err(err));
                }
            }
            // Blank lines are no rows (as in a sniff).
            if record.len() == 1 && record.get(0).is_some_and(|f| f.iter().all(u8::is_ascii_whitespace)) {
                continue;
            }
            if std::mem::take(&mut skip_header) {
                continue;
            }
            row += 1;
            batch.rows.push(row);
            for (builder, pos) in batch.columns.iter_mut().zip(&positions) {
                match pos.and_then(|p| record.get(p)) {
                    Some(bytes) if let Some(enc) = encoding => {
                        builder.append_value(enc.decode_without_bom_handling(bytes).0);
                    }
                    Some(bytes) => match std::str::from_utf8(bytes) {
                        Ok(s) => builder.append_value(s),
                        Err(e) => {
                            done = true;
                            return Some(Err(FormatError::Encoding(format!(
                                "data row {row} holds a byte that is not UTF-8 ({e})"
                            ))));
                        }
                    },
                    None => builder.append_null(),
                }
            }
        }
        batch.finish()
    };
    Ok(Batches { schema: out_schema, next: Box::new(next) })
}

/// A JSON value as the text the engine reads: strings as they are, other scalars as JSON.
fn text_of(v: &Value) -> Option<String> {
    match v {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

fn json_lines(
    mut lines: BufReader<Box<dyn Read + Send>>,
    wanted: &[String],
    schema: SchemaRef,
    since: Arc<AtomicU64>,
    compression: Compression,
    encoding: Option<&'static encoding_rs::Encoding>,
) -> Batches {
    let wanted_set: std::collections::HashSet<String> = wanted.iter().cloned().collect();
    let wanted = wanted.to_vec();
    let out_schema = schema.clone();
    let (mut row, mut done, mut buf) = (0u64, false, Vec::new());
    let next = move || -> Option<Result<RecordBatch, FormatError>> {
        if done {
            return None;
        }
        let mut batch = TextBatch::new(schema.clone(), wanted.len());
        while !batch.full() {
            since.store(0, Ordering::Relaxed);
            buf.clear();
            match (&mut lines).take(MAX_RECORD + 1).read_until(b'\n', &mut buf) {
                Ok(0) => {
                    done = true;
                    break;
                }
                Ok(n) if n as u64 > MAX_RECORD => {
                    done = true;
                    return Some(Err(FormatError::Truncated(format!(
                        "data row {} is longer than {MAX_RECORD} bytes",
                        row + 1
                    ))));
                }
                Ok(_) => {}
                Err(e) => {
                    done = true;
                    return Some(Err(io_error(compression, &e, row)));
                }
            }
            let text = match encoding {
                Some(enc) => enc.decode_without_bom_handling(&buf).0,
                None => String::from_utf8_lossy(&buf),
            };
            let line = text.trim();
            if line.is_empty() {
                continue;
            }
            row += 1;
            batch.rows.push(row);
            // A line that is no JSON object is a row with every field absent: counted by
            // the rules (missing), never a reason to stop.
            let values: HashMap<String, Value> = match serde_json::from_str::<Value>(line) {
                Ok(Value::Object(o)) => {
                    crate::values::flatten(o).into_iter().filter(|(k, _)| wanted_set.contains(k)).collect()
                }
                _ => HashMap::new(),
            };
            for (builder, w) in batch.columns.iter_mut().zip(&wanted) {
                match values.get(w).and_then(text_of) {
                    Some(s) => builder.append_value(s),
                    None => builder.append_null(),
                }
            }
        }
        batch.finish()
    };
    Batches { schema: out_schema, next: Box::new(next) }
}

fn avro(reader: Box<dyn Read + Send>, wanted: &[String], schema: SchemaRef) -> Result<Batches, FormatError> {
    apache_avro::util::max_allocation_bytes(crate::avro::MAX_AVRO_ALLOCATION);
    let avro = apache_avro::Reader::new(crate::avro_blocks::Bounded::new(reader, crate::avro_blocks::MAX_BLOCK_BYTES))
        .map_err(|e| FormatError::Avro(format!("its header cannot be read: {e}")))?;
    let wanted_owned = wanted.to_vec();
    let mut records = avro.into_iter();
    let (mut row, mut done) = (0u64, false);
    let out_schema = schema.clone();
    let next = move || -> Option<Result<RecordBatch, FormatError>> {
        if done {
            return None;
        }
        let mut batch = TextBatch::new(schema.clone(), wanted_owned.len());
        let names: std::collections::HashSet<&str> = wanted_owned.iter().map(String::as_str).collect();
        while !batch.full() {
            let Some(value) = records.next() else {
                done = true;
                break;
            };
            let value = match value.and_then(|v| Value::try_from(crate::avro::hex_bytes(v))) {
                Ok(v) => v,
                Err(e) => {
                    done = true;
                    return Some(Err(FormatError::Avro(format!("data row {} cannot be read: {e}", row + 1))));
                }
            };
            row += 1;
            let obj = match value {
                Value::Object(o) => crate::values::flatten_columns(o, &names),
                _ => JsonObject::new(),
            };
            batch.push_row(row, &wanted_owned, |w| obj.get(w).and_then(text_of));
        }
        batch.finish()
    };
    Ok(Batches { schema: out_schema, next: Box::new(next) })
}

/// A whole Parquet file's batches: `_row`, then the columns asked for (their own types; one
/// the file lacks all nulls). Only top-level columns are read.
pub async fn parquet_batches(
    source: Arc<dyn ByteSource>,
    wanted: &[String],
) -> Result<(SchemaRef, BoxStream<'static, Result<RecordBatch, FormatError>>), FormatError> {
    crate::parquet::whole(source, wanted, None).await
}

/// [`parquet_batches`] of a range of the file's row groups only (a split of a read of rows):
/// its rows numbered as in the whole file.
pub async fn parquet_group_batches(
    source: Arc<dyn ByteSource>,
    wanted: &[String],
    groups: std::ops::Range<usize>,
) -> Result<(SchemaRef, BoxStream<'static, Result<RecordBatch, FormatError>>), FormatError> {
    crate::parquet::whole(source, wanted, Some(groups)).await
}

/// The batch that adds `_row` (counting from `first`) and null columns for absent ones.
pub(crate) fn with_rows(batch: &RecordBatch, schema: &SchemaRef, first: u64) -> Result<RecordBatch, FormatError> {
    let n = batch.num_rows();
    let mut arrays: Vec<ArrayRef> = Vec::with_capacity(schema.fields().len());
    arrays.push(Arc::new(UInt64Array::from_iter_values(first..first.saturating_add(n as u64))));
    for field in schema.fields().iter().skip(1) {
        match batch.column_by_name(field.name()) {
            Some(a) => arrays.push(a.clone()),
            None => arrays.push(new_null_array(field.data_type(), n)),
        }
    }
    RecordBatch::try_new(schema.clone(), arrays).map_err(|e| FormatError::Parquet(e.to_string()))
}

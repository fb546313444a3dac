//! Rows through the gateway: a whole table read as the platform ingests it, its platform
//! fields first and typed per resource (ids and labels as text, `rating` a 64-bit float,
//! `timestamp` epoch seconds as a 64-bit integer whatever form the source wrote), other
//! columns after them as text under their own names. Each row is held to the validation's
//! rules as it goes by (`missing`, `type`, `duplicate` with the first occurrence valid); a row
//! that breaks one is skipped, stops the read, or is served with an `_error` column, as asked.
//!
//! The read runs on a blocking thread, two batches ahead of whoever takes them: a slow reader
//! slows the source read, and one that goes away stops it. Memory stays bounded: the files'
//! batches as for a validation, plus the keys seen so far (16 bytes each, at most
//! [`RowsJob::max_keys`]).

use std::collections::HashSet;
use std::hash::{BuildHasher, RandomState};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use arrow_array::builder::{Float64Builder, Int64Builder, StringBuilder};
use arrow_array::{Array, ArrayRef, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use bytes::Bytes;
use gateway_domain::JsonObject;
use gateway_formats::ByteSource;

use crate::read::{Counted, format_error, with_partitions};
use crate::{EngineError, FieldKind, Progress, Rules, parse_timestamp};

/// The column naming the rules a row breaks (`invalid=include`).
pub const ERROR_COLUMN: &str = "_error";

/// Which columns a read serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Columns {
    /// The platform fields, then the table's other columns (as its first file has them).
    All,
    /// The platform fields only.
    Mapped,
}

/// What becomes of a row that breaks a rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Invalid {
    /// Left out, and counted.
    Skip,
    /// The read stops, naming the row.
    Fail,
    /// Served, with the rules it breaks in [`ERROR_COLUMN`] (null on a valid row).
    Include,
}

/// What to read.
pub struct RowsJob {
    /// The table's files, in order.
    pub files: Vec<Arc<dyn ByteSource>>,
    /// The table's `connection_table_params` (format and options, as stored).
    pub params: JsonObject,
    pub rules: Rules,
    pub columns: Columns,
    pub invalid: Invalid,
    /// Rows served at most (`None`: all).
    pub max_rows: Option<u64>,
    /// Keys remembered at most to find duplicates; a table with more keyed rows stops with
    /// [`EngineError::Keys`].
    pub max_keys: usize,
    /// The memory cap `max_keys` came from, for the refusal's message (MiB).
    pub memory_mb: u64,
    /// Read only the file of this index (a split): the others are not read, but the first
    /// one's columns still make the schema, so every split of a table has the same one.
    pub only: Option<usize>,
    /// The form the rows are encoded in.
    pub format: Format,
    /// Source bytes one read may take ([`EngineError::ReadCap`] past them).
    pub byte_cap: Option<u64>,
    /// Kept until the read stops reading the source (the caller's slot, say).
    pub hold: Option<Box<dyn std::any::Any + Send>>,
}

impl std::fmt::Debug for RowsJob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RowsJob").field("files", &self.files.len()).field("rules", &self.rules).finish_non_exhaustive()
    }
}

/// What a read served so far: rows served and rows skipped.
#[derive(Debug, Default)]
pub struct RowCounts {
    pub served: AtomicU64,
    pub skipped: AtomicU64,
}

/// A read under way: its schema, and its bytes as they come.
pub struct Rows {
    pub schema: SchemaRef,
    chunks: tokio::sync::mpsc::Receiver<Chunk>,
    ended: bool,
}

impl Rows {
    /// The read's next bytes in its format, or `None` once it ended whole (after the format's
    /// end: the Arrow end marker, the Parquet footer). An error ends it: a row under
    /// `invalid=fail`, the source's failure, a cap, or the reading thread stopping before the
    /// table's end (a panic), which is never taken for the end.
    pub async fn next(&mut self) -> Result<Option<Bytes>, EngineError> {
        if self.ended {
            return Ok(None);
        }
        let next = self.chunks.recv().await;
        self.ended = !matches!(next, Some(Chunk::Bytes(_)));
        match next {
            Some(Chunk::Bytes(b)) => Ok(Some(b)),
            Some(Chunk::End) => Ok(None),
            Some(Chunk::Failed(e)) => Err(e),
            None => Err(EngineError::Internal("the row reader stopped before the end of the table".into())),
        }
    }
}

impl std::fmt::Debug for Rows {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rows").field("schema", &self.schema).finish_non_exhaustive()
    }
}

/// The Arrow type a platform field is served as.
fn type_of(kind: FieldKind) -> DataType {
    match kind {
        FieldKind::Number => DataType::Float64,
        FieldKind::Timestamp => DataType::Int64,
        FieldKind::Id | FieldKind::Text => DataType::Utf8,
    }
}

/// Starts reading a table's rows, encoded in its [`RowsJob::format`]. Answers once the first
/// row is ready (or the read ended with none), so the schema, and any failure before a row
/// (the file, a cap, a first row under `invalid=fail`), comes before any byte is served.
///
/// The read and the encoding run on a blocking thread, never on the caller's runtime workers
/// (an HTTP worker's, for the API), and [`RowsJob::hold`] is kept there until the thread stops
/// reading the source.
pub async fn rows(mut job: RowsJob, progress: Arc<Progress>, counts: Arc<RowCounts>) -> Result<Rows, EngineError> {
    let opts = crate::prepare(&job.params, &job.files, &progress).await?;
    let (schema_tx, schema_rx) = tokio::sync::oneshot::channel::<Result<SchemaRef, EngineError>>();
    let (tx, chunks) = tokio::sync::mpsc::channel(2);
    let handle = tokio::runtime::Handle::current();
    let hold = job.hold.take();
    tokio::task::spawn_blocking(move || {
        let mut schema_tx = Some(schema_tx);
        let cap = job.byte_cap;
        let read = read_all(job, &opts, &handle, &progress, counts, &tx, &mut schema_tx);
        match read.map_err(|e| crate::read::capped(e, &progress, cap)) {
            Ok(()) => {
                let _ = tx.blocking_send(Chunk::End);
            }
            Err(e) => match schema_tx.take() {
                Some(t) => {
                    let _ = t.send(Err(e));
                }
                None => {
                    let _ = tx.blocking_send(Chunk::Failed(e));
                }
            },
        }
        // Whatever the caller holds for the read (its slot) is let go once the source is not
        // read any more, not when its reader let go of the answer.
        drop(hold);
    });
    let schema = schema_rx.await.map_err(|_| EngineError::Internal("the row reader stopped".into()))??;
    Ok(Rows { schema, chunks, ended: false })
}

/// What the reading thread hands on.
enum Chunk {
    Bytes(Bytes),
    /// The read ended whole: nothing of the table was left out.
    End,
    Failed(EngineError),
}

/// Reads the job's files, shaping and encoding their rows as they come; the schema is sent as
/// soon as the first file read is open.
fn read_all(
    job: RowsJob,
    opts: &gateway_formats::SniffOptions,
    handle: &tokio::runtime::Handle,
    progress: &Arc<Progress>,
    counts: Arc<RowCounts>,
    tx: &tokio::sync::mpsc::Sender<Chunk>,
    schema_tx: &mut Option<SchemaSender>,
) -> Result<(), EngineError> {
    let mut reader = Reader::new(&job, counts);
    let mapped = job.rules.columns();
    let send = |bytes: Bytes| {
        if bytes.is_empty() {
            return Ok(());
        }
        // Refused: the reader went away.
        tx.blocking_send(Chunk::Bytes(bytes)).map_err(|_| EngineError::Cancelled)
    };
    let mut encoder: Option<Encoder> = None;
    'files: for (index, raw) in job.files.into_iter().enumerate() {
        let path = raw.name().unwrap_or("").to_owned();
        if job.only.is_some_and(|o| o != index) {
            if index == 0 && job.columns == Columns::All {
                // Not read: only sniffed, for the columns every split is served with.
                let sniffed = handle.block_on(gateway_formats::sniff(raw, opts)).map_err(|e| format_error(&path, e))?;
                reader.others = others(sniffed.columns.iter().map(|c| c.name.clone()), &path, &job.rules);
            }
            continue;
        }
        let first = index == 0;
        let source: Arc<dyn ByteSource> =
            Arc::new(Counted { inner: raw, progress: progress.clone(), cap: job.byte_cap });
        let columns = |layout: &gateway_formats::Layout| {
            if first && job.columns == Columns::All {
                reader.others = others(layout.columns.iter().cloned(), &path, &job.rules);
            }
            mapped.iter().chain(reader.others.iter()).cloned().collect()
        };
        let opened = crate::read::open(handle, source, &path, opts, columns)?;
        for batch in opened.batches {
            if progress.cancelled.load(Ordering::Relaxed) {
                return Err(EngineError::Cancelled);
            }
            let (shaped, stop) = reader.shape(&with_partitions(batch?, &opened.absent)?, &path)?;
            if shaped.num_rows() > 0 {
                // Answered at the first row: what fails before it (a cap, a rule under
                // `fail`, the source) is the answer itself, not a body cut short.
                let out = match &mut encoder {
                    Some(out) => out,
                    None => encoder.insert(begin(&reader, job.format, schema_tx, &send)?),
                };
                send(out.batch(&shaped)?)?;
            }
            if stop {
                break 'files;
            }
        }
    }
    let out = match encoder {
        Some(e) => e,
        None => begin(&reader, job.format, schema_tx, &send)?,
    };
    send(out.finish(&reader.schema())?)
}

/// Announces the schema and starts its encoding (the Arrow schema message first).
fn begin(
    reader: &Reader,
    format: Format,
    schema_tx: &mut Option<SchemaSender>,
    send: &impl Fn(Bytes) -> Result<(), EngineError>,
) -> Result<Encoder, EngineError> {
    let schema = reader.schema();
    let mut encoder = Encoder::new(format, &schema)?;
    if let Some(t) = schema_tx.take() {
        let _ = t.send(Ok(schema));
    }
    send(encoder.start())?;
    Ok(encoder)
}

/// The columns served after the platform fields: a file's, then its partitions', each once,
/// leaving out those mapped and any named like a platform field or [`ERROR_COLUMN`] (so a
/// served name is never repeated).
fn others(columns: impl Iterator<Item = String>, path: &str, rules: &Rules) -> Vec<String> {
    let mapped = rules.columns();
    let mut seen: HashSet<String> = rules.fields.iter().map(|f| f.field.clone()).collect();
    seen.insert(ERROR_COLUMN.to_owned());
    let parts = crate::read::partitions(path).into_iter().map(|(k, _)| k);
    columns.chain(parts).filter(|c| !mapped.contains(c) && seen.insert(c.clone())).collect()
}

type SchemaSender = tokio::sync::oneshot::Sender<Result<SchemaRef, EngineError>>;

/// A row's value of a platform field, as served.
enum Cell<'a> {
    Null,
    Text(&'a str),
    Number(f64),
    Seconds(i64),
}

/// The state of a read across its files: the columns served and the keys seen.
struct Reader {
    rules: Rules,
    others: Vec<String>,
    invalid: Invalid,
    include: bool,
    max_rows: Option<u64>,
    max_keys: usize,
    memory_mb: u64,
    seen: HashSet<u128>,
    hashers: (RandomState, RandomState),
    counts: Arc<RowCounts>,
    key_name: String,
}

impl Reader {
    fn new(job: &RowsJob, counts: Arc<RowCounts>) -> Reader {
        Reader {
            rules: job.rules.clone(),
            others: Vec::new(),
            invalid: job.invalid,
            include: job.invalid == Invalid::Include,
            max_rows: job.max_rows,
            max_keys: job.max_keys,
            memory_mb: job.memory_mb,
            seen: HashSet::new(),
            hashers: (RandomState::new(), RandomState::new()),
            counts,
            key_name: job.rules.key_name(),
        }
    }

    fn schema(&self) -> SchemaRef {
        let mut fields: Vec<Field> =
            self.rules.fields.iter().map(|f| Field::new(&f.field, type_of(f.kind), true)).collect();
        fields.extend(self.others.iter().map(|c| Field::new(c, DataType::Utf8, true)));
        if self.include {
            fields.push(Field::new(ERROR_COLUMN, DataType::Utf8, true));
        }
        Arc::new(Schema::new(fields))
    }

    /// A batch of the file's columns as served, and whether the read is done (`max_rows`).
    fn shape(&mut self, batch: &RecordBatch, path: &str) -> Result<(RecordBatch, bool), EngineError> {
        let text = |name: &str| -> Result<Option<StringArray>, EngineError> {
            batch.column_by_name(name).map(|c| crate::read::as_text(c, name)).transpose()
        };
        let fields: Vec<Option<StringArray>> =
            self.rules.fields.iter().map(|f| text(&f.column)).collect::<Result<_, _>>()?;
        let others: Vec<Option<StringArray>> = self.others.iter().map(|c| text(c)).collect::<Result<_, _>>()?;
        let rows = batch
            .column_by_name(gateway_formats::ROW_COLUMN)
            .and_then(|c| c.as_any().downcast_ref::<arrow_array::UInt64Array>().cloned());
        enum Out {
            Text(StringBuilder),
            Number(Float64Builder),
            Seconds(Int64Builder),
        }
        let mut outs: Vec<Out> = self
            .rules
            .fields
            .iter()
            .map(|f| match f.kind {
                FieldKind::Number => Out::Number(Float64Builder::new()),
                FieldKind::Timestamp => Out::Seconds(Int64Builder::new()),
                FieldKind::Id | FieldKind::Text => Out::Text(StringBuilder::new()),
            })
            .collect();
        let mut rest: Vec<StringBuilder> = self.others.iter().map(|_| StringBuilder::new()).collect();
        let mut errors = StringBuilder::new();
        let mut cells: Vec<Cell<'_>> = Vec::with_capacity(self.rules.fields.len());
        let mut broken: Vec<String> = Vec::new();
        let mut key = String::new();
        let mut done = false;
        for i in 0..batch.num_rows() {
            if self.max_rows.is_some_and(|m| self.counts.served.load(Ordering::Relaxed) >= m) {
                done = true;
                break;
            }
            cells.clear();
            broken.clear();
            key.clear();
            let mut key_ok = !self.rules.key.is_empty();
            for (fi, f) in self.rules.fields.iter().enumerate() {
                let in_key = self.rules.key.contains(&fi);
                let value = fields.get(fi).and_then(Option::as_ref).filter(|a| !a.is_null(i)).map(|a| a.value(i));
                let Some(v) = value.filter(|v| !v.trim().is_empty()) else {
                    if f.required {
                        broken.push(format!("missing {}", f.field));
                    }
                    key_ok &= !in_key;
                    cells.push(Cell::Null);
                    continue;
                };
                let (cell, part) = match f.kind {
                    FieldKind::Number => match v.trim().parse::<f64>().ok().filter(|x| x.is_finite()) {
                        Some(x) => (Cell::Number(x), None),
                        None => (Cell::Null, Some(None)),
                    },
                    FieldKind::Timestamp => match parse_timestamp(v) {
                        Some((nanos, _)) => (
                            Cell::Seconds(i64::try_from(nanos.div_euclid(1_000_000_000)).unwrap_or(i64::MAX)),
                            Some(Some(nanos.to_string())),
                        ),
                        None => (Cell::Null, Some(None)),
                    },
                    FieldKind::Id | FieldKind::Text => (Cell::Text(v), None),
                };
                if matches!(part, Some(None)) {
                    broken.push(format!("type {}", f.field));
                    key_ok &= !in_key;
                }
                if in_key && key_ok {
                    if !key.is_empty() {
                        key.push('\u{1f}');
                    }
                    match &part {
                        Some(Some(normal)) => key.push_str(normal),
                        _ => key.push_str(v),
                    }
                }
                cells.push(cell);
            }
            if key_ok {
                // A key is claimed by its first valid row only: a row left out for another rule
                // does not make a later valid one a duplicate.
                let h = (u128::from(self.hashers.0.hash_one(&key)) << 64) | u128::from(self.hashers.1.hash_one(&key));
                if self.seen.contains(&h) {
                    broken.push(format!("duplicate {}", self.key_name));
                } else if broken.is_empty() {
                    self.seen.insert(h);
                    if self.seen.len() > self.max_keys {
                        return Err(EngineError::Keys { limit_mb: self.memory_mb, keys: self.max_keys });
                    }
                }
            }
            if !broken.is_empty() {
                match self.invalid {
                    Invalid::Skip => {
                        self.counts.skipped.fetch_add(1, Ordering::Relaxed);
                        continue;
                    }
                    Invalid::Fail => {
                        let row = rows.as_ref().map_or(0, |r| r.value(i));
                        return Err(EngineError::Format {
                            file: path.to_owned(),
                            message: format!(
                                "data row {row} breaks the rules ({}): read with invalid=skip or invalid=include to pass it",
                                broken.join(", ")
                            ),
                        });
                    }
                    Invalid::Include => {}
                }
            }
            for (out, cell) in outs.iter_mut().zip(&cells) {
                match (out, cell) {
                    (Out::Text(b), Cell::Text(s)) => b.append_value(s),
                    (Out::Number(b), Cell::Number(x)) => b.append_value(*x),
                    (Out::Seconds(b), Cell::Seconds(s)) => b.append_value(*s),
                    (Out::Text(b), _) => b.append_null(),
                    (Out::Number(b), _) => b.append_null(),
                    (Out::Seconds(b), _) => b.append_null(),
                }
            }
            for (b, a) in rest.iter_mut().zip(&others) {
                match a.as_ref().filter(|a| !a.is_null(i)) {
                    Some(a) => b.append_value(a.value(i)),
                    None => b.append_null(),
                }
            }
            if self.include {
                if broken.is_empty() {
                    errors.append_null();
                } else {
                    errors.append_value(broken.join(", "));
                }
            }
            self.counts.served.fetch_add(1, Ordering::Relaxed);
        }
        let mut arrays: Vec<ArrayRef> = outs
            .into_iter()
            .map(|o| match o {
                Out::Text(mut b) => Arc::new(b.finish()) as ArrayRef,
                Out::Number(mut b) => Arc::new(b.finish()) as ArrayRef,
                Out::Seconds(mut b) => Arc::new(b.finish()) as ArrayRef,
            })
            .collect();
        arrays.extend(rest.iter_mut().map(|b| Arc::new(b.finish()) as ArrayRef));
        if self.include {
            arrays.push(Arc::new(errors.finish()));
        }
        let out = RecordBatch::try_new(self.schema(), arrays).map_err(|e| EngineError::Internal(e.to_string()))?;
        let done = done || self.max_rows.is_some_and(|m| self.counts.served.load(Ordering::Relaxed) >= m);
        Ok((out, done))
    }
}

/// The forms rows are served in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Arrow IPC stream (`application/vnd.apache.arrow.stream`).
    Arrow,
    /// A JSON object a line, every field present (`application/x-ndjson`).
    NdJson,
    /// CSV with a header line (`text/csv`).
    Csv,
    /// A Parquet file, a row group per 65,536 rows, snappy (`application/vnd.apache.parquet`).
    Parquet,
}

impl Format {
    pub const ALL: [Format; 4] = [Format::Arrow, Format::NdJson, Format::Csv, Format::Parquet];

    pub fn content_type(self) -> &'static str {
        match self {
            Format::Arrow => "application/vnd.apache.arrow.stream",
            Format::NdJson => "application/x-ndjson",
            Format::Csv => "text/csv; charset=utf-8",
            Format::Parquet => "application/vnd.apache.parquet",
        }
    }

    /// The `?format=` name.
    pub fn name(self) -> &'static str {
        match self {
            Format::Arrow => "arrow",
            Format::NdJson => "ndjson",
            Format::Csv => "csv",
            Format::Parquet => "parquet",
        }
    }

    /// A `?format=` name, or a media type of `Accept`.
    pub fn parse(s: &str) -> Option<Format> {
        let s = s.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
        Format::ALL.into_iter().find(|f| f.name() == s || f.content_type().split(';').next() == Some(s.as_str()))
    }
}

/// A buffer a writer appends to, drained after each batch.
#[derive(Clone, Default)]
struct Shared(Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Shared {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().map_err(|_| std::io::Error::other("poisoned"))?.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Shared {
    fn take(&self) -> Bytes {
        self.0.lock().map(|mut b| Bytes::from(std::mem::take(&mut *b))).unwrap_or_default()
    }
}

/// Rows into bytes of a [`Format`], a batch at a time.
pub struct Encoder {
    buf: Shared,
    state: State,
}

enum State {
    Arrow(Box<arrow_ipc::writer::StreamWriter<Shared>>),
    NdJson,
    Csv { header: bool },
    Parquet(Box<parquet::arrow::ArrowWriter<Shared>>),
}

impl std::fmt::Debug for Encoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Encoder").finish_non_exhaustive()
    }
}

fn encoding(e: impl std::fmt::Display) -> EngineError {
    EngineError::Internal(format!("rows cannot be encoded: {e}"))
}

impl Encoder {
    pub fn new(format: Format, schema: &SchemaRef) -> Result<Encoder, EngineError> {
        let buf = Shared::default();
        let state = match format {
            Format::Arrow => {
                State::Arrow(Box::new(arrow_ipc::writer::StreamWriter::try_new(buf.clone(), schema).map_err(encoding)?))
            }
            Format::NdJson => State::NdJson,
            Format::Csv => State::Csv { header: true },
            Format::Parquet => {
                let props = parquet::file::properties::WriterProperties::builder()
                    .set_max_row_group_row_count(Some(65_536))
                    .set_compression(parquet::basic::Compression::SNAPPY)
                    .build();
                State::Parquet(Box::new(
                    parquet::arrow::ArrowWriter::try_new(buf.clone(), schema.clone(), Some(props)).map_err(encoding)?,
                ))
            }
        };
        Ok(Encoder { buf, state })
    }

    /// What the format writes before any row (the Arrow schema message), if anything.
    pub fn start(&mut self) -> Bytes {
        self.buf.take()
    }

    pub fn batch(&mut self, batch: &RecordBatch) -> Result<Bytes, EngineError> {
        match &mut self.state {
            State::Arrow(w) => w.write(batch).map_err(encoding)?,
            State::NdJson => {
                let mut w = arrow_json::WriterBuilder::new()
                    .with_explicit_nulls(true)
                    .build::<_, arrow_json::writer::LineDelimited>(self.buf.clone());
                w.write(batch).map_err(encoding)?;
                w.finish().map_err(encoding)?;
            }
            State::Csv { header } => {
                let mut w = arrow_csv::WriterBuilder::new().with_header(*header).build(self.buf.clone());
                w.write(batch).map_err(encoding)?;
                *header = false;
            }
            State::Parquet(w) => w.write(batch).map_err(encoding)?,
        }
        Ok(self.buf.take())
    }

    /// What the format writes after the last row (the Arrow end marker, the Parquet footer).
    pub fn finish(mut self, schema: &SchemaRef) -> Result<Bytes, EngineError> {
        match self.state {
            State::Arrow(mut w) => w.finish().map_err(encoding)?,
            State::Csv { header: true } => {
                // No row: the header alone.
                let empty = RecordBatch::new_empty(schema.clone());
                let mut w = arrow_csv::WriterBuilder::new().with_header(true).build(self.buf.clone());
                w.write(&empty).map_err(encoding)?;
            }
            State::NdJson | State::Csv { .. } => {}
            State::Parquet(ref mut w) => {
                w.finish().map_err(encoding)?;
            }
        }
        Ok(self.buf.take())
    }
}

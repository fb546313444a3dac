//! Rows through the gateway: a whole table read as the platform ingests it, its platform
//! fields first and typed per resource (ids and labels as text, `rating` a 64-bit float,
//! `timestamp` epoch seconds as a 64-bit integer whatever form the source wrote), other
//! columns after them as text under their own names. Each row is held to the validation's
//! rules as it goes by (`missing`, `type`, `duplicate` with the first occurrence valid); a row
//! that breaks one is skipped, stops the read, or is served with an `_error` column, as asked.
//!
//! Three stages overlap on the blocking pool: the file decoded two batches ahead, each batch
//! shaped a column at a time ([`crate::shape`]), and encoded on a thread of its own two
//! batches behind, ahead of whoever takes the bytes: a slow reader slows the source read, and
//! one that goes away stops it. Memory stays bounded: the files'
//! batches as for a validation, plus the keys seen so far ([`crate::keys`]: the newest in
//! memory, the rest spilled to the read's folder with 2 bytes of filter each in memory).

use std::collections::HashSet;
use std::hash::{BuildHasher, Hasher};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use arrow_array::builder::StringBuilder;
use arrow_array::{Array, ArrayRef, BooleanArray, RecordBatch};
use arrow_buffer::BooleanBuffer;
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use bytes::Bytes;
use gateway_domain::JsonObject;
use gateway_formats::ByteSource;

use crate::keys::{KeySet, KeySpill};
use crate::read::{Counted, format_error, with_partitions};
use crate::shape::{KeyPart, Shaped, shape};
use crate::{EngineError, FieldKind, Progress, Rules};

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
    /// Keys held in memory to find duplicates: without [`RowsJob::spill`], at most (a table
    /// with more keyed rows stops with [`EngineError::Keys`]); with it, a third of them before
    /// they are spilled to [`RowsJob::spill`] (the spill sorts a copy of them).
    pub max_keys: usize,
    /// The memory cap `max_keys` came from (MiB): the spilled keys' filters take at most 3/8
    /// of it, and a refusal names it.
    pub memory_mb: u64,
    /// Where keys past memory go, if anywhere.
    pub spill: Option<KeySpill>,
    /// Read only the file of this index (a split): the others are not read, but the first
    /// one's columns still make the schema, so every split of a table has the same one.
    pub only: Option<usize>,
    /// Of that file, read only these row groups (a split of a Parquet file).
    pub groups: Option<std::ops::Range<usize>>,
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
pub(crate) fn type_of(kind: FieldKind) -> DataType {
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
/// The read runs on a blocking thread, its decoding and its encoding on threads of their own,
/// never on the caller's runtime workers (an HTTP worker's, for the API); [`RowsJob::hold`] is
/// kept until the source is no longer read (the decoder waited for).
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

/// Reads the job's files, shaping their rows as they come, and encodes them on a thread of
/// its own (two batches behind), so reading and shaping a batch overlaps encoding the one
/// before (both cores; measured by `make bench`). The schema is sent at the first row.
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
    std::thread::scope(|scope| {
        // The encoding thread, once a row is there: it answers its encoder when its batches
        // end, or why it stopped (its reader went away, an encoding failed).
        let mut encoding: Option<(std::sync::mpsc::SyncSender<RecordBatch>, Encoding<'_>)> = None;
        'files: for (index, raw) in job.files.into_iter().enumerate() {
            let path = raw.name().unwrap_or("").to_owned();
            if job.only.is_some_and(|o| o != index) {
                if index == 0 && job.columns == Columns::All {
                    // Not read: only sniffed, for the columns every split is served with.
                    let sniffed =
                        handle.block_on(gateway_formats::sniff(raw, opts)).map_err(|e| format_error(&path, e))?;
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
            let groups = job.groups.clone().filter(|_| job.only == Some(index));
            let opened = crate::read::open(handle, source, &path, opts, columns, groups)?;
            for batch in opened.batches {
                if progress.cancelled.load(Ordering::Relaxed) {
                    return Err(EngineError::Cancelled);
                }
                let (shaped, stop) = reader.shape(&with_partitions(batch?, &opened.absent)?, &path)?;
                if shaped.num_rows() > 0 {
                    // Answered at the first row: what fails before it (a cap, a rule under
                    // `fail`, the source) is the answer itself, not a body cut short.
                    if encoding.is_none() {
                        let mut out = begin(&reader, job.format, schema_tx, &send)?;
                        let (batches, rx) = std::sync::mpsc::sync_channel::<RecordBatch>(2);
                        let send = &send;
                        let thread = scope.spawn(move || {
                            for b in rx {
                                send(out.batch(&b)?)?;
                            }
                            Ok(out)
                        });
                        encoding = Some((batches, thread));
                    }
                    if let Some((batches, _)) = &encoding
                        && batches.send(shaped).is_err()
                    {
                        // The encoder stopped: its answer says why.
                        let (_, thread) = encoding.take().ok_or(EngineError::Cancelled)?;
                        return Err(joined(thread).err().unwrap_or(EngineError::Cancelled));
                    }
                }
                if stop {
                    break 'files;
                }
            }
        }
        let out = match encoding {
            Some((batches, thread)) => {
                drop(batches);
                joined(thread)?
            }
            None => begin(&reader, job.format, schema_tx, &send)?,
        };
        send(out.finish(&reader.schema())?)
    })
}

/// The thread encoding a read's batches.
type Encoding<'s> = std::thread::ScopedJoinHandle<'s, Result<Encoder, EngineError>>;

/// What the encoding thread ended with (a panic is an error, never the table's end).
fn joined(thread: Encoding<'_>) -> Result<Encoder, EngineError> {
    thread.join().map_err(|_| EngineError::Internal("the rows encoder stopped".into()))?
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

/// The state of a read across its files: the columns served and the keys seen.
struct Reader {
    rules: Rules,
    others: Vec<String>,
    invalid: Invalid,
    include: bool,
    max_rows: Option<u64>,
    seen: KeySet,
    hashers: (ahash::RandomState, ahash::RandomState),
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
            seen: {
                // With a spill: a third in the set, as much again while a spill sorts a copy.
                let per_run = if job.spill.is_some() { job.max_keys / 3 } else { job.max_keys };
                let filters = (job.memory_mb << 20) as usize / 8 * 3;
                KeySet::new(per_run, filters, job.spill.clone(), job.memory_mb)
            },
            hashers: (ahash::RandomState::new(), ahash::RandomState::new()),
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
    /// Each platform field is shaped a column at a time ([`crate::shape`]); only the rules
    /// that depend on the rows before (the key, `max_rows`) and the messages of broken rows
    /// go row by row, and rows are left out by one mask at the end.
    fn shape(&mut self, batch: &RecordBatch, path: &str) -> Result<(RecordBatch, bool), EngineError> {
        let n = batch.num_rows();
        let fields: Vec<Shaped> = self
            .rules
            .fields
            .iter()
            .enumerate()
            .map(|(fi, f)| shape(batch.column_by_name(&f.column), f.kind, &f.column, n, self.rules.key.contains(&fi)))
            .collect::<Result<_, _>>()?;
        // Rows breaking `missing` or `type`, and rows whose key can be compared.
        let mut broken = BooleanBuffer::new_unset(n);
        for (f, s) in self.rules.fields.iter().zip(&fields) {
            broken = &broken | &s.wrong;
            if f.required {
                broken = &broken | &s.missing;
            }
        }
        let keyed = (!self.rules.key.is_empty()).then(|| {
            self.rules
                .key
                .iter()
                .filter_map(|k| fields.get(*k))
                .fold(BooleanBuffer::new_set(n), |ok, s| &(&ok & &!&s.missing) & &!&s.wrong)
        });
        let served_before = self.counts.served.load(Ordering::Relaxed);
        let left = self.max_rows.map(|m| m.saturating_sub(served_before));
        let mut served = 0u64;
        let mut skipped = 0u64;
        let mut done = false;
        // Rows read of this batch (after `max_rows`, the rest is not looked at), which of them
        // are served, and the rules each served one breaks (`invalid=include`).
        let mut end = n;
        let mut keep: Vec<bool> = Vec::new();
        let mut errors = self.include.then(StringBuilder::new);
        let simple = keyed.is_none() && left.is_none() && self.invalid != Invalid::Fail;
        if simple {
            // No row depends on another: what is kept is what breaks nothing (or every row).
            let bad = broken.count_set_bits() as u64;
            if let Some(out) = errors.as_mut() {
                for i in 0..n {
                    match broken.value(i) {
                        true => out.append_value(self.broken_rules(&fields, i, false).join(", ")),
                        false => out.append_null(),
                    }
                }
                served = n as u64;
            } else {
                served = n as u64 - bad;
                skipped = bad;
            }
        } else {
            keep.reserve(n);
            for i in 0..n {
                if left.is_some_and(|l| served >= l) {
                    done = true;
                    end = i;
                    break;
                }
                let mut duplicate = false;
                if keyed.as_ref().is_some_and(|k| k.value(i)) {
                    // A key is claimed by its first valid row only: a row left out for another
                    // rule does not make a later valid one a duplicate.
                    let h = self.key_hash(&fields, i);
                    duplicate = match broken.value(i) {
                        true => self.seen.contains(h)?,
                        false => !self.seen.claim(h)?,
                    };
                }
                let bad = duplicate || broken.value(i);
                if bad {
                    match self.invalid {
                        Invalid::Skip => {
                            skipped += 1;
                            keep.push(false);
                            continue;
                        }
                        Invalid::Fail => {
                            let row = batch
                                .column_by_name(gateway_formats::ROW_COLUMN)
                                .and_then(|c| c.as_any().downcast_ref::<arrow_array::UInt64Array>())
                                .map_or(0, |r| r.value(i));
                            return Err(EngineError::Format {
                                file: path.to_owned(),
                                message: format!(
                                    "data row {row} breaks the rules ({}): read with invalid=skip or invalid=include to pass it",
                                    self.broken_rules(&fields, i, duplicate).join(", ")
                                ),
                            });
                        }
                        Invalid::Include => {}
                    }
                }
                if let Some(out) = errors.as_mut() {
                    match bad {
                        true => out.append_value(self.broken_rules(&fields, i, duplicate).join(", ")),
                        false => out.append_null(),
                    }
                }
                keep.push(true);
                served += 1;
            }
        }
        self.counts.served.fetch_add(served, Ordering::Relaxed);
        self.counts.skipped.fetch_add(skipped, Ordering::Relaxed);
        let mut arrays: Vec<ArrayRef> = fields.into_iter().map(|s| s.array).collect();
        for c in &self.others {
            arrays.push(match batch.column_by_name(c) {
                Some(a) => Arc::new(crate::read::as_text(a, c)?),
                None => arrow_array::new_null_array(&DataType::Utf8, n),
            });
        }
        // Every column of this batch's length, then the rows kept: a mask where rows are left
        // out, a slice where only `max_rows` ends the batch.
        let full = RecordBatch::try_new(
            Arc::new(Schema::new(self.schema().fields().iter().take(arrays.len()).cloned().collect::<Vec<_>>())),
            arrays,
        )
        .map_err(|e| EngineError::Internal(e.to_string()))?;
        let mask = if simple && !self.include {
            (skipped > 0).then(|| BooleanArray::new(!&broken, None))
        } else if keep.iter().all(|k| *k) {
            None
        } else {
            Some(BooleanArray::from(keep))
        };
        let kept = match mask {
            Some(mask) => {
                let head = full.slice(0, mask.len());
                arrow_select::filter::filter_record_batch(&head, &mask)
                    .map_err(|e| EngineError::Internal(e.to_string()))?
            }
            None => full.slice(0, end),
        };
        let mut columns = kept.columns().to_vec();
        if let Some(mut out) = errors {
            columns.push(Arc::new(out.finish()));
        }
        let out = RecordBatch::try_new(self.schema(), columns).map_err(|e| EngineError::Internal(e.to_string()))?;
        let done = done || self.max_rows.is_some_and(|m| self.counts.served.load(Ordering::Relaxed) >= m);
        Ok((out, done))
    }

    /// The rules row `i` breaks, in the fields' order (`missing`, `type`), then `duplicate`.
    fn broken_rules(&self, fields: &[Shaped], i: usize, duplicate: bool) -> Vec<String> {
        let mut out = Vec::new();
        for (f, s) in self.rules.fields.iter().zip(fields) {
            if f.required && s.missing.value(i) {
                out.push(format!("missing {}", f.field));
            }
            if s.wrong.value(i) {
                out.push(format!("type {}", f.field));
            }
        }
        if duplicate {
            out.push(format!("duplicate {}", self.key_name));
        }
        out
    }

    /// Row `i`'s key, hashed to 128 bits (two hashers seeded apart; the parts separated so
    /// `a|bc` and `ab|c` differ).
    fn key_hash(&self, fields: &[Shaped], i: usize) -> u128 {
        let (mut a, mut b) = (self.hashers.0.build_hasher(), self.hashers.1.build_hasher());
        for s in self.rules.key.iter().filter_map(|k| fields.get(*k)) {
            match &s.key {
                Some(KeyPart::Text(t)) => {
                    let v = t.value(i).as_bytes();
                    a.write(v);
                    b.write(v);
                }
                Some(KeyPart::Nanos(n)) => {
                    let v = n.get(i).copied().unwrap_or(0);
                    a.write_i128(v);
                    b.write_i128(v);
                }
                None => {}
            }
            a.write_u8(0x1f);
            b.write_u8(0x1f);
        }
        (u128::from(a.finish()) << 64) | u128::from(b.finish())
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

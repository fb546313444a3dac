//! The table's bytes as batches: ranged reads counted into the job's progress, a blocking
//! reader over them for the text formats, and Hive partition values for the columns a file
//! set's files lack.

use std::io::Read;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use arrow_array::{ArrayRef, RecordBatch, StringArray};
use arrow_schema::DataType;
use bytes::Bytes;
use futures_util::StreamExt;
use gateway_domain::FileFormat;
use gateway_formats::{ByteSource, FormatError, Layout, SniffOptions};

use crate::{EngineError, Progress};

/// Counts bytes read into the job's progress, and stops a read past `cap` bytes (a ranged
/// read that would end past it is refused before it is asked; see [`capped`]).
pub(crate) struct Counted {
    pub(crate) inner: Arc<dyn ByteSource>,
    pub(crate) progress: Arc<Progress>,
    pub(crate) cap: Option<u64>,
}

/// What a ranged read past [`Counted::cap`] answers (told apart by [`capped`]).
const OVER_CAP: &str = "the read passed its cap on source bytes";

/// The error a read ended in, as the cap's when it passed its cap on source bytes.
pub(crate) fn capped(e: EngineError, progress: &Progress, cap: Option<u64>) -> EngineError {
    match cap {
        Some(c) if progress.over_cap.load(Ordering::Relaxed) => EngineError::ReadCap { limit_mb: c >> 20 },
        _ => e,
    }
}

#[async_trait::async_trait]
impl ByteSource for Counted {
    async fn size(&self) -> Result<u64, FormatError> {
        self.inner.size().await
    }

    async fn read(&self, start: u64, end: u64) -> Result<Bytes, FormatError> {
        if let Some(cap) = self.cap
            && self.progress.bytes_read.load(Ordering::Relaxed).saturating_add(end.saturating_sub(start)) > cap
        {
            self.progress.over_cap.store(true, Ordering::Relaxed);
            return Err(FormatError::Source(OVER_CAP.into()));
        }
        let b = self.inner.read(start, end).await?;
        self.progress.bytes_read.fetch_add(b.len() as u64, Ordering::Relaxed);
        Ok(b)
    }

    fn name(&self) -> Option<&str> {
        self.inner.name()
    }
}

/// A blocking reader over ranged reads, a chunk at a time (run on a blocking thread).
pub(crate) struct SyncReader {
    pub(crate) source: Arc<dyn ByteSource>,
    pub(crate) handle: tokio::runtime::Handle,
    pub(crate) pos: u64,
    pub(crate) len: u64,
    pub(crate) chunk: Bytes,
}

/// Bytes asked of the provider per read of a text file.
const READ_CHUNK: u64 = 4 * 1024 * 1024;

impl Read for SyncReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.chunk.is_empty() {
            if self.pos >= self.len {
                return Ok(0);
            }
            let end = self.len.min(self.pos + READ_CHUNK);
            let bytes = self
                .handle
                .block_on(self.source.read(self.pos, end))
                .map_err(|e| std::io::Error::other(e.to_string()))?;
            if bytes.is_empty() {
                return Err(std::io::Error::other(format!("the object ended at byte {} of {}", self.pos, self.len)));
            }
            self.pos += bytes.len() as u64;
            self.chunk = bytes;
        }
        let n = buf.len().min(self.chunk.len());
        let head = self.chunk.split_to(n);
        buf.get_mut(..n).unwrap_or_default().copy_from_slice(&head);
        Ok(n)
    }
}

/// `key=value` segments of a path (Hive partitions): columns a file set's files do not hold.
pub(crate) fn partitions(path: &str) -> Vec<(String, String)> {
    let dir = path.rsplit_once('/').map_or("", |(d, _)| d);
    dir.split('/').filter_map(|seg| seg.split_once('=')).map(|(k, v)| (k.to_owned(), v.to_owned())).collect()
}

/// The batch with a file's partition values in the columns it lacks.
pub(crate) fn with_partitions(batch: RecordBatch, absent: &[(String, String)]) -> Result<RecordBatch, EngineError> {
    if absent.is_empty() {
        return Ok(batch);
    }
    let schema = batch.schema();
    let mut fields = Vec::new();
    let mut columns: Vec<ArrayRef> = Vec::new();
    for (i, f) in schema.fields().iter().enumerate() {
        match absent.iter().find(|(k, _)| k == f.name()) {
            Some((_, v)) => {
                fields.push(arrow_schema::Field::new(f.name(), DataType::Utf8, true));
                columns
                    .push(Arc::new(StringArray::from_iter_values(std::iter::repeat_n(v.as_str(), batch.num_rows()))));
            }
            None => {
                fields.push(f.as_ref().clone());
                columns.push(batch.column(i).clone());
            }
        }
    }
    RecordBatch::try_new(Arc::new(arrow_schema::Schema::new(fields)), columns)
        .map_err(|e| EngineError::Internal(e.to_string()))
}

pub(crate) fn format_error(file: &str, e: FormatError) -> EngineError {
    match e {
        FormatError::Source(message) => EngineError::Source { file: file.to_owned(), message },
        other => EngineError::Format { file: file.to_owned(), message: other.to_string() },
    }
}

/// A file opened for a whole read (by the layout its sniff found): the partition values its
/// rows take for the columns it lacks, and its batches.
pub(crate) struct Opened {
    pub(crate) absent: Vec<(String, String)>,
    pub(crate) batches: Box<dyn Iterator<Item = Result<RecordBatch, EngineError>>>,
}

/// Sniffs a file and opens its batches of the columns `columns` names for its layout (of a
/// Parquet file, of the row groups `groups` names, if any), on a blocking thread (`handle`
/// runs the ranged reads). Every format is decoded on a thread of its own, two batches ahead,
/// while the caller's thread works on the last: decoding and checking (or shaping) overlap on
/// both cores (measured: `make bench`), and neither runs on the runtime's workers (an HTTP worker's, for a read of rows). A decoder that dies (a
/// panic) ends the batches with an error, never as the file's end.
pub(crate) fn open(
    handle: &tokio::runtime::Handle,
    source: Arc<dyn ByteSource>,
    path: &str,
    opts: &SniffOptions,
    columns: impl FnOnce(&Layout) -> Vec<String>,
    groups: Option<std::ops::Range<usize>>,
) -> Result<Opened, EngineError> {
    let sniffed = handle.block_on(gateway_formats::sniff(source.clone(), opts)).map_err(|e| format_error(path, e))?;
    let layout = sniffed.layout();
    let columns = columns(&layout);
    let absent: Vec<(String, String)> =
        partitions(path).into_iter().filter(|(k, _)| !layout.columns.contains(k) && columns.contains(k)).collect();
    let decoded: Box<dyn Iterator<Item = Result<RecordBatch, FormatError>> + Send> = if layout.format
        == FileFormat::Parquet
    {
        let opened = match groups {
            Some(g) => handle.block_on(gateway_formats::parquet_group_batches(source, &columns, g)),
            None => handle.block_on(gateway_formats::parquet_batches(source, &columns)),
        };
        let (_, mut stream) = opened.map_err(|e| format_error(path, e))?;
        let on = handle.clone();
        Box::new(std::iter::from_fn(move || on.block_on(stream.next())))
    } else if groups.is_some() {
        return Err(EngineError::Format {
            file: path.to_owned(),
            message: "the split names row groups of a file that is not Parquet: only Parquet files are split within (list the splits again)".into(),
        });
    } else {
        let len = handle.block_on(source.size()).map_err(|e| format_error(path, e))?;
        let reader = SyncReader { source, handle: handle.clone(), pos: 0, len, chunk: Bytes::new() };
        Box::new(gateway_formats::decode(Box::new(reader), &layout, &columns).map_err(|e| format_error(path, e))?)
    };
    Ok(Opened { absent, batches: ahead(decoded, path)? })
}

/// A file's batches decoded on a thread of their own, two ahead of their reader. An OS thread,
/// not one of the runtime's blocking pool: its reader already holds one of those and waits on
/// it, so a full pool would wait on itself (reads at once are bounded by their slots). Once its
/// reader lets go of the batches, the decoder stops at its next batch and is waited for: the
/// source is no longer read when the batches are dropped.
fn ahead(
    mut decoded: Box<dyn Iterator<Item = Result<RecordBatch, FormatError>> + Send>,
    path: &str,
) -> Result<Box<dyn Iterator<Item = Result<RecordBatch, EngineError>>>, EngineError> {
    let (ahead, next) = std::sync::mpsc::sync_channel(2);
    // Its ranged reads run on the runtime by the handle they hold (`block_on`).
    let decoder = std::thread::Builder::new()
        .name("gateway-decoder".into())
        .spawn(move || {
            for batch in decoded.by_ref() {
                if ahead.send(batch).is_err() {
                    break;
                }
            }
        })
        .map_err(|e| EngineError::Internal(format!("{path}: no thread to decode it ({e})")))?;
    Ok(Box::new(Ahead { next: Some(next), decoder: Some(decoder), file: path.to_owned() }))
}

/// The batches [`ahead`] decodes, and its thread.
struct Ahead {
    next: Option<std::sync::mpsc::Receiver<Result<RecordBatch, FormatError>>>,
    decoder: Option<std::thread::JoinHandle<()>>,
    file: String,
}

impl Iterator for Ahead {
    type Item = Result<RecordBatch, EngineError>;

    fn next(&mut self) -> Option<Self::Item> {
        match self.next.as_ref()?.recv() {
            Ok(batch) => Some(batch.map_err(|e| format_error(&self.file, e))),
            // Closed: the file's end, unless the decoder died.
            Err(_) => {
                self.next = None;
                match self.decoder.take()?.join() {
                    Ok(()) => None,
                    Err(_) => Some(Err(EngineError::Internal(format!("{}: the decoder stopped", self.file)))),
                }
            }
        }
    }
}

impl Drop for Ahead {
    fn drop(&mut self) {
        // The channel closed first, so a decoder waiting to hand a batch over stops.
        drop(self.next.take());
        if let Some(d) = self.decoder.take() {
            let _ = d.join();
        }
    }
}

/// A column's values as text, as the rules judge them and a read of rows serves them:
/// text as it is, scalars as Arrow casts them, nested values (lists, maps, structs) as JSON
/// (as a preview shows them), anything else as Arrow displays it.
pub(crate) fn as_text(column: &ArrayRef, name: &str) -> Result<StringArray, EngineError> {
    use arrow_array::Array;
    if let Some(s) = column.as_any().downcast_ref::<StringArray>() {
        return Ok(s.clone());
    }
    let failed = |e: arrow_schema::ArrowError| EngineError::Internal(format!("column '{name}' as text: {e}"));
    let nested = gateway_formats::is_nested(column.data_type());
    if !nested && arrow_cast::can_cast_types(column.data_type(), &DataType::Utf8) {
        let cast = arrow_cast::cast(column, &DataType::Utf8).map_err(failed)?;
        return cast
            .as_any()
            .downcast_ref::<StringArray>()
            .cloned()
            .ok_or_else(|| EngineError::Internal(format!("column '{name}' as text: not a string array")));
    }
    let mut out = arrow_array::builder::StringBuilder::new();
    let field = Arc::new(arrow_schema::Field::new(name, column.data_type().clone(), true));
    let options = arrow_json::writer::EncoderOptions::default();
    match arrow_json::writer::make_encoder(&field, column.as_ref(), &options) {
        Ok(mut json) => {
            let mut buf = Vec::new();
            for i in 0..column.len() {
                if column.is_null(i) {
                    out.append_null();
                } else {
                    buf.clear();
                    json.encode(i, &mut buf);
                    out.append_value(String::from_utf8_lossy(&buf));
                }
            }
        }
        Err(_) => {
            let shown =
                arrow_cast::display::ArrayFormatter::try_new(column.as_ref(), &Default::default()).map_err(failed)?;
            for i in 0..column.len() {
                if column.is_null(i) {
                    out.append_null();
                } else {
                    out.append_value(shown.value(i).to_string());
                }
            }
        }
    }
    Ok(out.finish())
}

//! Parquet: the footer by ranged reads from the end (the last 8 bytes, then the metadata),
//! columns from the schema, and sample rows from the first row group reading only the pages
//! the sample needs (located by the offset index). A file without an offset index whose
//! first row group would not fit the budget gives its columns and no rows, with a warning.

use std::ops::Range;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use arrow_array::RecordBatch;
use arrow_schema::{DataType, Field};
use bytes::Bytes;
use futures_util::StreamExt;
use futures_util::future::{BoxFuture, FutureExt};
use gateway_domain::{Column, ColumnType, JsonObject};
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::{ArrowReaderMetadata, ArrowReaderOptions, RowSelection, RowSelector};
use parquet::arrow::async_reader::{AsyncFileReader, ParquetRecordBatchStreamBuilder};
use parquet::errors::ParquetError;
use parquet::file::metadata::{PageIndexPolicy, ParquetMetaData, ParquetMetaDataReader};
use serde_json::Value;

use crate::budget::Budget;
use crate::values::flatten_columns;
use crate::{ByteSource, FormatError, SniffOptions};

pub struct ParquetSniff {
    pub columns: Vec<Column>,
    pub rows: Vec<JsonObject>,
    pub warnings: Vec<String>,
}

fn err(e: impl std::fmt::Display) -> FormatError {
    let text = e.to_string();
    // A page refused before decompression keeps its own words.
    match text.find(PAGE_REFUSED) {
        Some(at) => FormatError::Parquet(
            text.get(at + PAGE_REFUSED.len()..).unwrap_or_default().trim_start_matches("Parquet: ").to_owned(),
        ),
        None if text.to_ascii_lowercase().contains("encrypt") => FormatError::Parquet(format!(
            "it is encrypted Parquet (its columns are encrypted): the gateway holds no key to read it; write the table without Parquet modular encryption ({text})"
        )),
        None => FormatError::Parquet(text),
    }
}

/// Ranged reads for the parquet crate, counted and held to a limit.
struct Reader {
    source: Arc<dyn ByteSource>,
    used: Arc<AtomicU64>,
    limit: u64,
    metadata: Option<Arc<ParquetMetaData>>,
}

/// Marks a page refused by [`crate::pages::check`] inside the parquet crate's error.
const PAGE_REFUSED: &str = "page refused: ";

impl Reader {
    /// The codec of the column chunk whose bytes start at or contain `offset`, once the
    /// metadata is known (page reads; the footer and page index are read before).
    fn codec_at(&self, offset: u64) -> Option<parquet::basic::Compression> {
        let md = self.metadata.as_ref()?;
        md.row_groups().iter().flat_map(|rg| rg.columns()).find_map(|c| {
            let (start, len) = c.byte_range();
            (offset >= start && offset < start + len).then(|| c.compression())
        })
    }
}

impl AsyncFileReader for Reader {
    fn get_bytes(&mut self, range: Range<u64>) -> BoxFuture<'_, parquet::errors::Result<Bytes>> {
        async move {
            let want = range.end.saturating_sub(range.start);
            if self.used.load(Ordering::Relaxed) + want > self.limit {
                return Err(ParquetError::General("over the read budget".into()));
            }
            let bytes =
                self.source.read(range.start, range.end).await.map_err(|e| ParquetError::General(e.to_string()))?;
            self.used.fetch_add(bytes.len() as u64, Ordering::Relaxed);
            // Pages of a column chunk are checked before the parquet crate decompresses them.
            if let Some(codec) = self.codec_at(range.start) {
                crate::pages::check(&bytes, codec, crate::pages::MAX_PAGE).map_err(|e| {
                    let why = match e {
                        FormatError::Parquet(why) => why,
                        other => other.to_string(),
                    };
                    ParquetError::General(format!("{PAGE_REFUSED}{why}"))
                })?;
            }
            Ok(bytes)
        }
        .boxed()
    }

    fn get_metadata<'a>(
        &'a mut self,
        _options: Option<&'a ArrowReaderOptions>,
    ) -> BoxFuture<'a, parquet::errors::Result<Arc<ParquetMetaData>>> {
        let md = self.metadata.clone();
        async move { md.ok_or_else(|| ParquetError::General("metadata not loaded".into())) }.boxed()
    }
}

fn column_type(dt: &DataType) -> ColumnType {
    match dt {
        DataType::Boolean => ColumnType::Boolean,
        DataType::Int8
        | DataType::Int16
        | DataType::Int32
        | DataType::Int64
        | DataType::UInt8
        | DataType::UInt16
        | DataType::UInt32
        | DataType::UInt64 => ColumnType::Integer,
        DataType::Float16
        | DataType::Float32
        | DataType::Float64
        | DataType::Decimal32(..)
        | DataType::Decimal64(..)
        | DataType::Decimal128(..)
        | DataType::Decimal256(..) => ColumnType::Float,
        DataType::Date32 | DataType::Date64 | DataType::Timestamp(..) | DataType::Time32(_) | DataType::Time64(_) => {
            ColumnType::Timestamp
        }
        dt if is_nested(dt) => ColumnType::Json,
        _ => ColumnType::String,
    }
}

/// Whether an Arrow type holds values of its own (lists, maps, structs): what a preview shows
/// as JSON, and a read of rows serves as JSON text.
pub fn is_nested(dt: &DataType) -> bool {
    matches!(
        dt,
        DataType::List(_)
            | DataType::LargeList(_)
            | DataType::FixedSizeList(..)
            | DataType::ListView(_)
            | DataType::LargeListView(_)
            | DataType::Map(..)
            | DataType::Struct(_)
    )
}

fn columns(prefix: &str, field: &Field, out: &mut Vec<Column>) {
    let name = if prefix.is_empty() { field.name().clone() } else { format!("{prefix}.{}", field.name()) };
    match field.data_type() {
        DataType::Struct(children) if !children.is_empty() => {
            for c in children {
                columns(&name, c, out);
            }
        }
        dt => out.push(Column { name, ty: column_type(dt) }),
    }
}

/// Refuses a row group whose column chunks a footer places outside the file or sizes
/// negatively, before any of their bytes are read (the footer is the file's word, not ours).
fn check_chunks(rg: &parquet::file::metadata::RowGroupMetaData, len: u64) -> Result<(), FormatError> {
    for c in rg.columns() {
        let (start, size) = c.byte_range();
        let inside = start.checked_add(size).is_some_and(|end| end <= len);
        if !inside || c.compressed_size() < 0 || c.uncompressed_size() < 0 {
            return Err(FormatError::Parquet(format!(
                "the footer places column '{}' outside the {len}-byte file: it is corrupt",
                c.column_path().string()
            )));
        }
    }
    Ok(())
}

/// The type with every map's keys as text, wherever maps nest (in lists, structs, map
/// values); `None` when no map needs it.
fn text_keyed(dt: &DataType) -> Option<DataType> {
    let field = |f: &Arc<Field>, dt: DataType| Arc::new(f.as_ref().clone().with_data_type(dt));
    match dt {
        DataType::Map(entries, sorted) => {
            let DataType::Struct(kv) = entries.data_type() else { return None };
            let (k, v) = (kv.first()?, kv.get(1)?);
            let key_text = matches!(k.data_type(), DataType::Utf8 | DataType::LargeUtf8);
            let value = text_keyed(v.data_type());
            if key_text && value.is_none() {
                return None;
            }
            let k = if key_text { k.clone() } else { field(k, DataType::Utf8) };
            let v = value.map_or_else(|| v.clone(), |t| field(v, t));
            Some(DataType::Map(field(entries, DataType::Struct(vec![k, v].into())), *sorted))
        }
        DataType::List(f) => text_keyed(f.data_type()).map(|t| DataType::List(field(f, t))),
        DataType::LargeList(f) => text_keyed(f.data_type()).map(|t| DataType::LargeList(field(f, t))),
        DataType::Struct(children) => {
            let changed: Vec<Option<DataType>> = children.iter().map(|c| text_keyed(c.data_type())).collect();
            if changed.iter().all(Option::is_none) {
                return None;
            }
            let fields: Vec<Arc<Field>> =
                children.iter().zip(changed).map(|(c, t)| t.map_or_else(|| c.clone(), |t| field(c, t))).collect();
            Some(DataType::Struct(fields.into()))
        }
        _ => None,
    }
}

/// Maps keyed by integers (or anything but text) with their keys as text, however deep:
/// JSON objects are keyed by strings.
fn string_keys(batch: arrow_array::RecordBatch) -> Result<arrow_array::RecordBatch, FormatError> {
    let schema = batch.schema();
    let mut fields = Vec::new();
    let mut arrays = Vec::new();
    let mut changed = false;
    for (f, array) in schema.fields().iter().zip(batch.columns()) {
        match text_keyed(f.data_type()) {
            Some(to) => {
                arrays.push(arrow_cast::cast(array.as_ref(), &to).map_err(err)?);
                fields.push(f.as_ref().clone().with_data_type(to));
                changed = true;
            }
            None => {
                fields.push(f.as_ref().clone());
                arrays.push(array.clone());
            }
        }
    }
    if !changed {
        return Ok(batch);
    }
    arrow_array::RecordBatch::try_new(Arc::new(arrow_schema::Schema::new(fields)), arrays).map_err(err)
}

/// The metadata with the footer's row count made the row groups' sum when the two disagree
/// (a writer that left the file's `num_rows` 0: the reader trusts it and yields no rows), with
/// the warning that says so.
fn rows_by_row_groups(metadata: ParquetMetaData) -> (ParquetMetaData, Option<String>) {
    let file = metadata.file_metadata();
    let held = metadata.row_groups().iter().map(|g| g.num_rows().max(0)).fold(0i64, i64::saturating_add);
    if file.num_rows() == held {
        return (metadata, None);
    }
    let warning = format!(
        "the file's footer says it holds {} rows where its row groups hold {held}: read by its row groups (rewrite the file with a current Parquet writer)",
        file.num_rows()
    );
    let fixed = parquet::file::metadata::FileMetaData::new(
        file.version(),
        held,
        file.created_by().map(str::to_owned),
        file.key_value_metadata().cloned(),
        file.schema_descr_ptr(),
        file.column_orders().cloned(),
    );
    (ParquetMetaData::new(fixed, metadata.row_groups().to_vec()), Some(warning))
}

pub async fn sniff(budget: &mut Budget, len: u64, opts: &SniffOptions) -> Result<ParquetSniff, FormatError> {
    if len < 12 {
        return Err(FormatError::Truncated("a Parquet file is at least 12 bytes".into()));
    }
    // The footer: its length and magic, then the metadata. Outside the budget, capped alone.
    let tail = budget.read_extra(len - 8, len).await?;
    if tail.get(4..8) == Some(b"PARE") {
        return Err(FormatError::Parquet(
            "it is encrypted Parquet (its footer is encrypted, magic PARE): the gateway holds no key to read it; write the table without Parquet modular encryption".into(),
        ));
    }
    let (Some(len_bytes), Some(b"PAR1")) = (tail.get(..4), tail.get(4..8)) else {
        return Err(FormatError::Truncated("the Parquet footer's magic is missing: the file is cut short".into()));
    };
    let footer = u64::from(u32::from_le_bytes(len_bytes.try_into().unwrap_or_default()));
    if footer > opts.footer_cap {
        return Err(FormatError::FooterTooLarge { size: footer, cap: opts.footer_cap });
    }
    if footer + 12 > len {
        return Err(FormatError::Truncated(format!("the footer claims {footer} bytes of a {len}-byte file")));
    }
    let raw = budget.read_extra(len - 8 - footer, len - 8).await?;
    let (metadata, footer_rows) = rows_by_row_groups(ParquetMetaDataReader::decode_metadata(&raw).map_err(err)?);

    let used = Arc::new(AtomicU64::new(0));
    let mut reader = Reader { source: budget.source(), used: used.clone(), limit: budget.remaining(), metadata: None };
    let mut warnings: Vec<String> = footer_rows.into_iter().collect();

    // The offset index of the first row group, to fetch only the pages the sample needs.
    let mut md_reader = ParquetMetaDataReader::new_with_metadata(metadata.clone())
        .with_column_index_policy(PageIndexPolicy::Skip)
        .with_offset_index_policy(PageIndexPolicy::Optional);
    let metadata = match md_reader.load_page_index(&mut reader).await.and_then(|()| md_reader.finish()) {
        Ok(md) => md,
        Err(_) => metadata,
    };
    let metadata = Arc::new(metadata);
    let arrow = ArrowReaderMetadata::try_new(metadata.clone(), ArrowReaderOptions::new()).map_err(err)?;
    let mut cols = Vec::new();
    for f in arrow.schema().fields() {
        columns("", f, &mut cols);
    }

    let mut rows = Vec::new();
    // The first row group holding rows (a writer may leave empty ones before it).
    let first_index = metadata.row_groups().iter().position(|rg| rg.num_rows() > 0);
    let first = first_index.and_then(|i| metadata.row_groups().get(i));
    if let Some(rg) = first {
        check_chunks(rg, len)?;
    }
    if let Some(rg) = first {
        let want = opts.sample_rows.min(rg.num_rows() as usize);
        let start = first_index.unwrap_or(0);
        let index = metadata.offset_index().and_then(|o| o.get(start));
        let has_offsets = index.is_some_and(|i| !i.is_empty());
        // Bytes each leaf column needs for the sample: from its chunk's start (the dictionary)
        // to the end of the last page holding a sampled row; the whole chunk without an index.
        let needed: Vec<u64> = rg
            .columns()
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let (start, chunk_len) = c.byte_range();
                match index.and_then(|ix| ix.get(i)).map(|o| o.page_locations()) {
                    Some(pages) if has_offsets => {
                        let last = pages.iter().rfind(|p| (p.first_row_index as usize) < want);
                        last.map_or(chunk_len, |p| {
                            (p.offset as u64 + p.compressed_page_size as u64).saturating_sub(start)
                        })
                    }
                    _ => chunk_len,
                }
            })
            .collect();
        // The leaves that fit the budget, in schema order; the others are left out of the rows.
        let mut left = budget.remaining().saturating_sub(used.load(Ordering::Relaxed));
        let mut keep = Vec::new();
        let mut dropped = Vec::new();
        let leaves = metadata.file_metadata().schema_descr();
        for (i, n) in needed.iter().enumerate() {
            if *n <= left {
                left -= n;
                keep.push(i);
            } else {
                dropped.push(leaves.column(i).path().string());
            }
        }
        if !dropped.is_empty() {
            warnings.push(format!(
                "sample rows leave out {} (their first {} need more than the {}-byte read budget)",
                dropped.join(", "),
                if has_offsets { "pages" } else { "row group, with no page index," },
                opts.budget
            ));
        }
        // A first row group with fewer rows than the sample: the next ones, while their
        // chunks of the kept columns fit what is left of the budget.
        let mut groups = vec![start];
        let mut rows_in = rg.num_rows().max(0) as usize;
        let total_rows: usize =
            metadata.row_groups().iter().map(|g| g.num_rows().max(0) as usize).fold(0, usize::saturating_add);
        let want = opts.sample_rows.min(total_rows);
        for (i, g) in metadata.row_groups().iter().enumerate().skip(start + 1) {
            if rows_in >= want {
                break;
            }
            if check_chunks(g, len).is_err() {
                break;
            }
            let cost: u64 =
                keep.iter().filter_map(|&c| g.columns().get(c)).map(|c| c.byte_range().1).fold(0, u64::saturating_add);
            if cost > left {
                break;
            }
            left -= cost;
            groups.push(i);
            rows_in = rows_in.saturating_add(g.num_rows().max(0) as usize);
        }
        let want = want.min(rows_in);
        if !keep.is_empty() {
            reader.metadata = Some(metadata.clone());
            reader.limit = budget.remaining();
            let policy = if has_offsets { PageIndexPolicy::Optional } else { PageIndexPolicy::Skip };
            let options = ArrowReaderOptions::new()
                .with_column_index_policy(PageIndexPolicy::Skip)
                .with_offset_index_policy(policy);
            let arrow = ArrowReaderMetadata::try_new(metadata.clone(), options).map_err(err)?;
            let mask = ProjectionMask::leaves(leaves, keep);
            let mut stream = ParquetRecordBatchStreamBuilder::new_with_metadata(reader, arrow)
                .with_projection(mask)
                .with_row_groups(groups)
                .with_row_selection(RowSelection::from(vec![RowSelector::select(want)]))
                .with_batch_size(want)
                .with_limit(want)
                .build()
                .map_err(err)?;
            // Nulls kept as nulls; binary as hex (as Avro's bytes are shown).
            let mut writer = arrow_json::WriterBuilder::new()
                .with_explicit_nulls(true)
                .build::<_, arrow_json::writer::LineDelimited>(Vec::new());
            while let Some(batch) = stream.next().await {
                let batch = string_keys(batch.map_err(err)?)?;
                writer.write(&batch).map_err(err)?;
            }
            writer.finish().map_err(err)?;
            let out = writer.into_inner();
            let names: std::collections::HashSet<&str> = cols.iter().map(|c| c.name.as_str()).collect();
            for line in out.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
                if let Ok(Value::Object(o)) = serde_json::from_slice::<Value>(line) {
                    rows.push(flatten_columns(o, &names));
                }
            }
        }
    } else {
        warnings.push(if metadata.file_metadata().num_rows() == 0 {
            "no data rows: the file's footer says it holds 0 rows".to_owned()
        } else {
            "no data rows: the file's row groups hold none".to_owned()
        });
    }
    budget.charge(used.load(Ordering::Relaxed));
    Ok(ParquetSniff { columns: cols, rows, warnings })
}

/// The most compressed bytes of one row group's projected columns a whole read fetches.
pub const MAX_ROW_GROUP_READ: u64 = 512 * 1024 * 1024;

/// A whole file's batches for `crate::whole`: the footer as a sniff reads it (capped), every
/// row group's chunks checked against the file and its projected size against
/// [`MAX_ROW_GROUP_READ`], the top-level columns asked for projected, their pages checked
/// before they are decompressed.
pub async fn whole(
    source: Arc<dyn ByteSource>,
    wanted: &[String],
    groups: Option<std::ops::Range<usize>>,
) -> Result<
    (arrow_schema::SchemaRef, futures_util::stream::BoxStream<'static, Result<RecordBatch, FormatError>>),
    FormatError,
> {
    let (metadata, len) = footer(source.as_ref()).await?;
    let metadata = Arc::new(metadata);
    whole_of(source, wanted, groups, metadata, len)
}

/// A Parquet file's row groups, in order: the rows and the compressed bytes of each (what a
/// read of rows splits a large file by).
pub async fn row_groups(source: &dyn ByteSource) -> Result<Vec<(u64, u64)>, FormatError> {
    let (metadata, _) = footer(source).await?;
    Ok(metadata
        .row_groups()
        .iter()
        .map(|g| (u64::try_from(g.num_rows()).unwrap_or(0), u64::try_from(g.compressed_size()).unwrap_or(0)))
        .collect())
}

/// A Parquet file's footer (bounded before it is read), its rows as its row groups count
/// them, and the file's length.
async fn footer(source: &dyn ByteSource) -> Result<(ParquetMetaData, u64), FormatError> {
    let len = source.size().await?;
    if len < 12 {
        return Err(FormatError::Truncated("a Parquet file is at least 12 bytes".into()));
    }
    let tail = source.read(len - 8, len).await?;
    let (Some(len_bytes), Some(b"PAR1")) = (tail.get(..4), tail.get(4..8)) else {
        return Err(FormatError::Truncated("the Parquet footer's magic is missing: the file is cut short".into()));
    };
    let footer = u64::from(u32::from_le_bytes(len_bytes.try_into().unwrap_or_default()));
    let cap = SniffOptions::default().footer_cap;
    if footer > cap {
        return Err(FormatError::FooterTooLarge { size: footer, cap });
    }
    if footer + 12 > len {
        return Err(FormatError::Truncated(format!("the footer claims {footer} bytes of a {len}-byte file")));
    }
    let raw = source.read(len - 8 - footer, len - 8).await?;
    Ok((rows_by_row_groups(ParquetMetaDataReader::decode_metadata(&raw).map_err(err)?).0, len))
}

/// [`whole`] once its footer is read.
fn whole_of(
    source: Arc<dyn ByteSource>,
    wanted: &[String],
    groups: Option<std::ops::Range<usize>>,
    metadata: Arc<ParquetMetaData>,
    len: u64,
) -> Result<
    (arrow_schema::SchemaRef, futures_util::stream::BoxStream<'static, Result<RecordBatch, FormatError>>),
    FormatError,
> {
    let all = metadata.num_row_groups();
    if let Some(g) = &groups
        && (g.start >= g.end || g.end > all)
    {
        return Err(FormatError::Parquet(format!(
            "the file has {all} row groups: row groups {}..{} are not among them (it changed since its splits were listed?)",
            g.start, g.end
        )));
    }
    let arrow = ArrowReaderMetadata::try_new(metadata.clone(), ArrowReaderOptions::new()).map_err(err)?;
    let file_schema = arrow.schema().clone();
    // A column wanted is a top-level field or a struct's field by its dotted name (as the
    // sniff lists them): its root is read and the field taken out of it.
    let places: Vec<Option<(Vec<usize>, arrow_schema::FieldRef)>> =
        wanted.iter().map(|w| place_of(file_schema.fields(), w)).collect();
    let roots: Vec<usize> = places.iter().flatten().filter_map(|(path, _)| path.first().copied()).collect();
    // A row group's projected chunks are fetched whole: bounded before any is read.
    let descr = metadata.file_metadata().schema_descr();
    for (i, rg) in metadata.row_groups().iter().enumerate() {
        check_chunks(rg, len)?;
        let projected: u64 = (0..rg.num_columns())
            .filter(|c| roots.contains(&descr.get_column_root_idx(*c)))
            .filter_map(|c| rg.columns().get(c))
            .map(|c| u64::try_from(c.compressed_size()).unwrap_or(0))
            .fold(0u64, u64::saturating_add);
        if projected > MAX_ROW_GROUP_READ {
            return Err(FormatError::Parquet(format!(
                "row group {i} holds {projected} bytes of the columns read, more than the {MAX_ROW_GROUP_READ} read at once: write the file with smaller row groups (e.g. 128 MiB)"
            )));
        }
    }
    let mut fields = vec![Field::new(crate::whole::ROW_COLUMN, DataType::UInt64, false)];
    for (w, place) in wanted.iter().zip(&places) {
        match place {
            Some((_, f)) => fields.push(f.as_ref().clone().with_name(w).with_nullable(true)),
            None => fields.push(Field::new(w, DataType::Utf8, true)),
        }
    }
    let schema = Arc::new(arrow_schema::Schema::new(fields));
    let reader =
        Reader { source, used: Arc::new(AtomicU64::new(0)), limit: u64::MAX, metadata: Some(metadata.clone()) };
    let mask = ProjectionMask::roots(metadata.file_metadata().schema_descr(), roots);
    let mut builder = ParquetRecordBatchStreamBuilder::new_with_metadata(reader, arrow)
        .with_projection(mask)
        .with_batch_size(crate::whole::BATCH_ROWS);
    // Rows are numbered in the file: a range of row groups starts after the rows before it.
    let mut next_row = 1u64;
    if let Some(g) = groups {
        // The footer's counts of the groups before (not decoded, so not checked by a read):
        // refused past what a file can hold rather than wrapped.
        let before = metadata
            .row_groups()
            .iter()
            .take(g.start)
            .try_fold(0i64, |sum, r| sum.checked_add(r.num_rows().max(0)))
            .ok_or_else(|| FormatError::Parquet("the footer's row counts add up past 2^63 rows".into()))?;
        next_row += before.unsigned_abs();
        builder = builder.with_row_groups(g.collect());
    }
    let stream = builder.build().map_err(err)?;
    let out = schema.clone();
    let roots_of: Vec<Option<(String, Vec<usize>)>> = places
        .iter()
        .map(|p| {
            p.as_ref().and_then(|(path, _)| {
                let (root, rest) = path.split_first()?;
                Some((file_schema.fields().get(*root)?.name().clone(), rest.to_vec()))
            })
        })
        .collect();
    let wanted = wanted.to_vec();
    let batches = stream.map(move |b| {
        let batch = picked(&b.map_err(err)?, &wanted, &roots_of)?;
        let first = next_row;
        next_row = next_row.saturating_add(batch.num_rows() as u64);
        crate::whole::with_rows(&batch, &out, first)
    });
    Ok((schema, Box::pin(batches)))
}

/// Where a column named as the sniff names them is: its path of field indexes from the
/// schema's top (a top-level name first, else a struct's field by `struct.field`), and its
/// field.
fn place_of(fields: &arrow_schema::Fields, name: &str) -> Option<(Vec<usize>, arrow_schema::FieldRef)> {
    if let Some(i) = fields.iter().position(|f| f.name() == name) {
        return fields.get(i).map(|f| (vec![i], f.clone()));
    }
    fields.iter().enumerate().find_map(|(i, f)| {
        let DataType::Struct(children) = f.data_type() else { return None };
        let rest = name.strip_prefix(f.name().as_str())?.strip_prefix('.')?;
        let (mut path, leaf) = place_of(children, rest)?;
        path.insert(0, i);
        Some((path, leaf))
    })
}

/// The wanted columns of a decoded batch by name, a struct's field taken out of it (null where
/// the struct is).
fn picked(
    batch: &RecordBatch,
    wanted: &[String],
    roots: &[Option<(String, Vec<usize>)>],
) -> Result<RecordBatch, FormatError> {
    let mut fields = Vec::new();
    let mut columns = Vec::new();
    for (name, root) in wanted.iter().zip(roots) {
        let Some((root, path)) = root else { continue };
        let Some(mut column) = batch.column_by_name(root).cloned() else { continue };
        use arrow_array::Array;
        for &i in path {
            let parent = column
                .as_any()
                .downcast_ref::<arrow_array::StructArray>()
                .ok_or_else(|| FormatError::Parquet(format!("'{name}' is not a struct's field")))?;
            let child = parent
                .columns()
                .get(i)
                .cloned()
                .ok_or_else(|| FormatError::Parquet(format!("'{name}' is not a struct's field")))?;
            let nulls = arrow_buffer::NullBuffer::union(parent.nulls(), child.nulls());
            let data = child.to_data().into_builder().nulls(nulls).build().map_err(err)?;
            column = arrow_array::make_array(data);
        }
        fields.push(Field::new(name, column.data_type().clone(), true));
        columns.push(column);
    }
    let options = arrow_array::RecordBatchOptions::new().with_row_count(Some(batch.num_rows()));
    RecordBatch::try_new_with_options(Arc::new(arrow_schema::Schema::new(fields)), columns, &options)
        .map_err(|e| FormatError::Parquet(e.to_string()))
}

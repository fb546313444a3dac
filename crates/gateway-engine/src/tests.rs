//! Generated tables with known defects, counted exactly; the same table in other formats and
//! compressions; a table larger than the memory cap validated by spilling.

use std::io::Write;
use std::sync::Arc;

use gateway_domain::{JsonObject, Resource};
use serde_json::{Value, json};

use super::*;
use arrow_array::{Array, RecordBatch};

fn obj(v: Value) -> JsonObject {
    v.as_object().cloned().unwrap_or_default()
}

fn limits(dir: &tempfile::TempDir, memory_bytes: usize) -> Limits {
    Limits { memory_bytes, spill_dir: dir.path().join("spill"), spill_bytes: 1 << 30 }
}

fn gzip(b: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(b).unwrap();
    e.finish().unwrap()
}

async fn run(
    files: Vec<(Vec<u8>, &str)>,
    resource: Resource,
    mapping: Value,
    required: &[&str],
    limits: Limits,
) -> Result<ValidationReport, EngineError> {
    let job = Job {
        files: files.into_iter().map(|(b, n)| Arc::new(MemorySource::named(b, n)) as Arc<dyn ByteSource>).collect(),
        params: JsonObject::new(),
        rules: Rules::new(resource, &obj(mapping), required),
        max_errors: 100,
        max_rows: None,
        limits,
    };
    validate(job, Arc::new(Progress::default())).await
}

/// 1000 ratings with: 2 missing users, 2 ratings that are no number, 2 repeats of row 5's
/// key, a row of one column (item and rating missing), a row with a missing user and a bad
/// rating: 8 invalid rows.
fn ratings_csv() -> String {
    let mut s = String::from("uid,sku,score\n");
    for i in 1..=1000u32 {
        let line = match i {
            10 | 20 => format!(",i{i},4\n"),
            30 | 31 => format!("u{i},i{i},abc\n"),
            40 | 41 => "u5,i5,3\n".to_owned(),
            50 => "u50\n".to_owned(),
            60 => ",i60,x\n".to_owned(),
            _ => format!("u{i},i{i},{}\n", i % 5),
        };
        s.push_str(&line);
    }
    s
}

/// The same ratings as Parquet (score a double: NaN where the CSV has no number).
fn ratings_parquet() -> Vec<u8> {
    use arrow_array::{ArrayRef, Float64Array, StringArray};
    let (mut uid, mut sku, mut score) = (Vec::new(), Vec::new(), Vec::new());
    for line in ratings_csv().lines().skip(1) {
        let mut parts = line.split(',');
        let (u, s, r) = (parts.next(), parts.next(), parts.next());
        uid.push(u.filter(|u| !u.is_empty()).map(str::to_owned));
        sku.push(s.map(str::to_owned));
        score.push(r.map(|r| r.parse::<f64>().unwrap_or(f64::NAN)));
    }
    let batch = RecordBatch::try_from_iter([
        ("uid", Arc::new(StringArray::from(uid)) as ArrayRef),
        ("sku", Arc::new(StringArray::from(sku)) as ArrayRef),
        ("score", Arc::new(Float64Array::from(score)) as ArrayRef),
    ])
    .unwrap();
    let props = parquet::file::properties::WriterProperties::builder().set_max_row_group_row_count(Some(300)).build();
    let mut w = parquet::arrow::ArrowWriter::try_new(Vec::new(), batch.schema(), Some(props)).unwrap();
    w.write(&batch).unwrap();
    w.into_inner().unwrap()
}

fn count(r: &ValidationReport, rule: &str, field: &str) -> u64 {
    r.violations.iter().find(|v| v.rule == rule && v.field == field).map_or(0, |v| v.rows)
}

#[tokio::test]
async fn known_defects_are_counted_exactly_in_every_form() {
    let dir = tempfile::tempdir().unwrap();
    let csv = ratings_csv();
    let mapping = json!({"user_id": "uid", "item_id": "sku", "rating": "score"});
    for (bytes, name) in
        [(csv.clone().into_bytes(), "r.csv"), (gzip(csv.as_bytes()), "r.csv.gz"), (ratings_parquet(), "r.parquet")]
    {
        let r = run(
            vec![(bytes, name)],
            Resource::Rating,
            mapping.clone(),
            &["user_id", "item_id", "rating"],
            limits(&dir, 64 << 20),
        )
        .await
        .unwrap();
        assert_eq!((r.rows, r.invalid_rows, r.valid_rows), (1000, 8, 992), "{name}: {:?}", r.violations);
        assert_eq!(count(&r, "missing", "user_id"), 3);
        assert_eq!(count(&r, "missing", "item_id"), 1);
        assert_eq!(count(&r, "missing", "rating"), 1);
        assert_eq!(count(&r, "type", "rating"), 3);
        assert_eq!(count(&r, "duplicate", "user_id+item_id"), 2);
        let dup: Vec<_> =
            r.samples.iter().filter(|s| s.rule == "duplicate").map(|s| (s.row, s.value.clone())).collect();
        assert_eq!(dup, [(40, Some("u5 + i5".to_owned())), (41, Some("u5 + i5".to_owned()))]);
        let first = &r.samples[0];
        assert_eq!(
            (first.rule.as_str(), first.field.as_str(), first.file.as_str(), first.row),
            ("missing", "user_id", name, 10)
        );
        let rating = &r.fields["rating"];
        assert_eq!((rating.column.as_str(), rating.ty.as_str(), rating.nulls), ("score", "string", 1));
        assert_eq!((rating.min.clone(), rating.max.clone()), (Some(json!(0.0)), Some(json!(4.0))));
        assert_eq!(r.fields["user_id"].distinct, 995, "exact below 10,000 values");
    }
}

#[tokio::test]
async fn timestamps_of_a_minority_unit_break_type_and_the_unit_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = String::from("user_id,item_id,interaction_type,timestamp\n");
    for i in 1..=100u64 {
        let ts = match i {
            7 | 8 => format!("{}", 1_700_000_000_000u64 + i),
            9 => "2024-05-01T10:00:00Z".to_owned(),
            10 => "yesterday".to_owned(),
            _ => format!("{}", 1_700_000_000u64 + i),
        };
        s.push_str(&format!("u{i},i{},view,{ts}\n", i % 10));
    }
    // The same interaction twice (same instant, other form): a duplicate.
    s.push_str("u1,i1,view,1700000001\n");
    let mapping = json!({"user_id": "user_id", "item_id": "item_id", "interaction_type": "interaction_type", "timestamp": "timestamp"});
    let r = run(
        vec![(s.into_bytes(), "e.csv")],
        Resource::Interaction,
        mapping,
        &["user_id", "item_id", "interaction_type"],
        limits(&dir, 64 << 20),
    )
    .await
    .unwrap();
    assert_eq!(r.rows, 101);
    assert_eq!(count(&r, "type", "timestamp"), 3, "{:?}", r.violations);
    assert_eq!(count(&r, "duplicate", "user_id+item_id+interaction_type+timestamp"), 1);
    assert_eq!(r.invalid_rows, 4);
    let ts = r.timestamp.unwrap();
    assert_eq!(ts.unit, "seconds");
    // The milliseconds read as milliseconds (1700000000.007 s) are the earliest.
    assert_eq!(ts.min.as_deref(), Some("2023-11-14T22:13:20Z"));
    assert_eq!(ts.max.as_deref(), Some("2024-05-01T10:00:00Z"));
}

#[tokio::test]
async fn a_table_larger_than_the_memory_cap_is_counted_by_spilling() {
    let dir = tempfile::tempdir().unwrap();
    // 300,000 items, every 1000th repeating an earlier id, keys long enough that the sort
    // holds far more than the 4 MiB pool.
    let mut s = String::from("item_id,title\n");
    for i in 0..300_000u32 {
        let id = if i % 1000 == 999 { i - 500 } else { i };
        s.push_str(&format!("item-{id:0>40},t\n"));
    }
    let l = limits(&dir, 4 << 20);
    let r = run(
        vec![(s.clone().into_bytes(), "items.csv")],
        Resource::Item,
        json!({"item_id": "item_id"}),
        &["item_id"],
        l,
    )
    .await
    .unwrap();
    assert_eq!((r.rows, r.invalid_rows), (300_000, 300));
    assert_eq!(count(&r, "duplicate", "item_id"), 300);
    let d = r.fields["item_id"].distinct as f64;
    assert!((d - 299_700.0).abs() < 299_700.0 * 0.03, "distinct past 10,000 is an estimate within 3%: {d}");
    // With no room to spill, the cap is a refusal naming its setting.
    let l = Limits { spill_bytes: 0, ..limits(&dir, 4 << 20) };
    let e = run(vec![(s.into_bytes(), "items.csv")], Resource::Item, json!({"item_id": "item_id"}), &["item_id"], l)
        .await
        .unwrap_err();
    assert!(matches!(e, EngineError::Spill { .. } | EngineError::Memory { .. }), "{e:?}");
    assert!(e.to_string().contains("GATEWAY_VALIDATION_"), "{e}");
}

#[tokio::test]
async fn files_of_a_set_partitions_and_max_rows() {
    let dir = tempfile::tempdir().unwrap();
    let a = "user_id,sku\nu1,i1\nu2,i2\n".to_owned();
    let b = "user_id,sku\nu3,i3\nu1,i1\n".to_owned();
    let files = vec![(a.into_bytes(), "x/dt=2024-01-01/a.csv"), (b.into_bytes(), "x/dt=2024-01-02/b.csv")];
    let mapping = json!({"user_id": "user_id", "item_id": "sku", "rating": "score", "timestamp": "dt"});
    let r = run(
        files.clone(),
        Resource::Rating,
        mapping.clone(),
        &["user_id", "item_id", "rating"],
        limits(&dir, 64 << 20),
    )
    .await
    .unwrap();
    assert_eq!(r.rows, 4);
    assert_eq!(count(&r, "missing", "rating"), 4, "no score column: every rating missing");
    assert_eq!(count(&r, "duplicate", "user_id+item_id"), 1);
    let dup = r.samples.iter().find(|s| s.rule == "duplicate").unwrap();
    assert_eq!((dup.file.as_str(), dup.row), ("x/dt=2024-01-02/b.csv", 2));
    assert_eq!(r.fields["timestamp"].nulls, 0, "the partition value fills the column");
    assert_eq!(r.timestamp.unwrap().unit, "iso8601");

    let job = Job {
        files: files.into_iter().map(|(b, n)| Arc::new(MemorySource::named(b, n)) as Arc<dyn ByteSource>).collect(),
        params: JsonObject::new(),
        rules: Rules::new(Resource::Rating, &obj(mapping), &["user_id"]),
        max_errors: 1,
        max_rows: Some(3),
        limits: limits(&dir, 64 << 20),
    };
    let progress = Arc::new(Progress::default());
    let r = validate(job, progress.clone()).await.unwrap();
    assert_eq!((r.rows, r.truncated, r.samples.len()), (3, true, 0));
    assert_eq!(progress.rows.load(Ordering::Relaxed), 3);
    assert!(progress.bytes_read.load(Ordering::Relaxed) > 0);
}

#[test]
fn timestamps_parse_by_magnitude_and_form() {
    assert_eq!(parse_timestamp("1700000000"), Some((1_700_000_000_000_000_000, Unit::Seconds)));
    assert_eq!(parse_timestamp("1700000000000").map(|t| t.1), Some(Unit::Milliseconds));
    assert_eq!(parse_timestamp("1700000000000000").map(|t| t.1), Some(Unit::Microseconds));
    assert_eq!(parse_timestamp("1700000000000000000").map(|t| t.1), Some(Unit::Nanoseconds));
    assert_eq!(parse_timestamp("2024-05-01").map(|t| t.1), Some(Unit::Iso8601));
    assert_eq!(parse_timestamp("2024-05-01 10:00:00+02:00").map(|t| rfc3339(t.0)), Some("2024-05-01T08:00:00Z".into()));
    assert_eq!(parse_timestamp("soon"), None);
    assert_eq!(parse_timestamp("1e400"), None);
}

async fn read_rows(
    files: Vec<(Vec<u8>, &str)>,
    resource: Resource,
    mapping: Value,
    columns: Columns,
    invalid: Invalid,
) -> (Result<Vec<arrow_array::RecordBatch>, EngineError>, SchemaRefOf, Arc<RowCounts>) {
    let files = files.into_iter().map(|(b, n)| Arc::new(MemorySource::named(b, n)) as Arc<dyn ByteSource>).collect();
    read_job(rows_job(files, resource, mapping, columns, invalid)).await
}

fn rows_job(
    files: Vec<Arc<dyn ByteSource>>,
    resource: Resource,
    mapping: Value,
    columns: Columns,
    invalid: Invalid,
) -> RowsJob {
    RowsJob {
        files,
        params: JsonObject::new(),
        rules: Rules::new(resource, &obj(mapping), gateway_preview_required(resource)),
        columns,
        invalid,
        max_rows: None,
        max_keys: 1 << 20,
        memory_mb: 256,
        spill: None,
        only: None,
        groups: None,
        format: Format::Arrow,
        byte_cap: None,
        hold: None,
    }
}

/// Reads a job (served as Arrow IPC) and reads back what it served: its batches, or the error
/// it ended in.
async fn read_job(job: RowsJob) -> (Result<Vec<arrow_array::RecordBatch>, EngineError>, SchemaRefOf, Arc<RowCounts>) {
    let counts = Arc::new(RowCounts::default());
    let mut rows = match rows(job, Arc::new(Progress::default()), counts.clone()).await {
        Ok(r) => r,
        Err(e) => return (Err(e), Arc::new(arrow_schema::Schema::empty()), counts),
    };
    let mut out = Vec::new();
    loop {
        match rows.next().await {
            Ok(Some(b)) => out.extend_from_slice(&b),
            Ok(None) => break,
            Err(e) => return (Err(e), rows.schema, counts),
        }
    }
    let reader = arrow_ipc::reader::StreamReader::try_new(std::io::Cursor::new(out), None).unwrap();
    (Ok(reader.map(Result::unwrap).collect()), rows.schema, counts)
}

type SchemaRefOf = arrow_schema::SchemaRef;

/// What each resource requires (as gateway-preview says; the engine does not depend on it).
fn gateway_preview_required(resource: Resource) -> &'static [&'static str] {
    match resource {
        Resource::Rating => &["user_id", "item_id", "rating"],
        Resource::Interaction => &["user_id", "item_id", "interaction_type", "timestamp"],
        _ => &[],
    }
}

fn texts(b: &arrow_array::RecordBatch, col: &str) -> Vec<Option<String>> {
    let c = arrow_cast::cast(b.column_by_name(col).unwrap(), &arrow_schema::DataType::Utf8).unwrap();
    let s = c.as_any().downcast_ref::<arrow_array::StringArray>().unwrap();
    (0..s.len()).map(|i| (!s.is_null(i)).then(|| s.value(i).to_owned())).collect()
}

/// Rows served as the platform ingests them: mapped fields first and typed, other columns
/// after; the validation's 8 invalid rows skipped (and counted), included with their rules
/// named, or stopping the read at the first, row 10.
#[tokio::test]
async fn rows_are_served_typed_with_invalid_rows_skipped_included_or_failing() {
    let csv = ratings_csv().into_bytes();
    let mapping = json!({"user_id": "uid", "item_id": "sku", "rating": "score"});
    let (batches, schema, counts) =
        read_rows(vec![(csv.clone(), "r.csv")], Resource::Rating, mapping.clone(), Columns::All, Invalid::Skip).await;
    let batches = batches.unwrap();
    let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
    assert_eq!(names, ["user_id", "item_id", "rating"]);
    assert_eq!(schema.field(2).data_type(), &arrow_schema::DataType::Float64);
    let served: usize = batches.iter().map(|b| b.num_rows()).sum();
    assert_eq!((served, counts.skipped.load(Ordering::Relaxed)), (992, 8));
    assert_eq!(texts(&batches[0], "user_id")[0].as_deref(), Some("u1"));
    assert_eq!(texts(&batches[0], "rating")[0].as_deref(), Some("1.0"));

    let (batches, schema, _) =
        read_rows(vec![(csv.clone(), "r.csv")], Resource::Rating, mapping.clone(), Columns::All, Invalid::Include)
            .await;
    let b = arrow_select_concat(&schema, &batches.unwrap());
    assert_eq!(b.num_rows(), 1000);
    let errors = texts(&b, ERROR_COLUMN);
    assert_eq!(errors.iter().filter(|e| e.is_some()).count(), 8);
    assert_eq!(errors[9].as_deref(), Some("missing user_id"));
    assert_eq!(errors[29].as_deref(), Some("type rating"));
    assert_eq!(errors[39].as_deref(), Some("duplicate user_id+item_id"), "row 5's key again");
    assert_eq!(errors[49].as_deref(), Some("missing item_id, missing rating"));
    assert_eq!(errors[59].as_deref(), Some("missing user_id, type rating"));
    assert!(b.column_by_name("rating").unwrap().is_null(29), "a rating that is no number is served null");

    let (failed, _, _) = read_rows(vec![(csv, "r.csv")], Resource::Rating, mapping, Columns::All, Invalid::Fail).await;
    let e = failed.unwrap_err().to_string();
    assert!(e.starts_with("r.csv: data row 10 breaks the rules (missing user_id)"), "{e}");
}

/// Other columns come after the mapped ones unless only mapped ones are asked for; epoch
/// milliseconds, seconds and RFC 3339 all served as epoch seconds, and the same instant in two
/// forms is the same key.
#[tokio::test]
async fn timestamps_are_served_as_epoch_seconds_and_keyed_by_instant() {
    let csv = "u,i,kind,at,note\n\
               a,x,view,1700000000,first\n\
               a,x,view,1700000000000,same instant in ms\n\
               b,y,buy,2023-11-14T22:13:21Z,iso\n"
        .as_bytes()
        .to_vec();
    let mapping = json!({"user_id": "u", "item_id": "i", "interaction_type": "kind", "timestamp": "at"});
    let (batches, schema, _) =
        read_rows(vec![(csv.clone(), "e.csv")], Resource::Interaction, mapping.clone(), Columns::All, Invalid::Include)
            .await;
    let b = arrow_select_concat(&schema, &batches.unwrap());
    let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
    assert_eq!(names, ["user_id", "item_id", "interaction_type", "timestamp", "note", ERROR_COLUMN]);
    assert_eq!(schema.field(3).data_type(), &arrow_schema::DataType::Int64);
    assert_eq!(
        texts(&b, "timestamp"),
        [Some("1700000000".into()), Some("1700000000".into()), Some("1700000001".into())]
    );
    assert_eq!(texts(&b, ERROR_COLUMN)[1].as_deref(), Some("duplicate user_id+item_id+interaction_type+timestamp"));
    let (batches, schema, _) =
        read_rows(vec![(csv, "e.csv")], Resource::Interaction, mapping, Columns::Mapped, Invalid::Skip).await;
    assert_eq!(schema.fields().len(), 4, "{schema:?}");
    assert_eq!(batches.unwrap().iter().map(|b| b.num_rows()).sum::<usize>(), 2);
}

fn arrow_select_concat(
    schema: &arrow_schema::SchemaRef,
    batches: &[arrow_array::RecordBatch],
) -> arrow_array::RecordBatch {
    datafusion::arrow::compute::concat_batches(schema, batches).unwrap()
}

/// Each format read back by its reference reader gives the rows served.
#[tokio::test]
async fn each_format_reads_back_as_the_rows_served() {
    let csv = ratings_csv().into_bytes();
    let mapping = json!({"user_id": "uid", "item_id": "sku", "rating": "score"});
    let (batches, schema, _) =
        read_rows(vec![(csv, "r.csv")], Resource::Rating, mapping, Columns::All, Invalid::Skip).await;
    let batches = batches.unwrap();
    let encode = |format: Format| -> Vec<u8> {
        let mut e = Encoder::new(format, &schema).unwrap();
        let mut out = e.start().to_vec();
        for b in &batches {
            out.extend_from_slice(&e.batch(b).unwrap());
        }
        out.extend_from_slice(&e.finish(&schema).unwrap());
        out
    };
    let arrow = encode(Format::Arrow);
    let reader = arrow_ipc::reader::StreamReader::try_new(std::io::Cursor::new(arrow), None).unwrap();
    let read: Vec<_> = reader.map(Result::unwrap).collect();
    assert_eq!(read.iter().map(|b| b.num_rows()).sum::<usize>(), 992);
    assert_eq!(read[0].schema(), schema);

    let pq = bytes::Bytes::from(encode(Format::Parquet));
    let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(pq).unwrap().build().unwrap();
    let read: Vec<_> = reader.map(Result::unwrap).collect();
    assert_eq!(read.iter().map(|b| b.num_rows()).sum::<usize>(), 992);
    assert_eq!(texts(&read[0], "user_id")[0].as_deref(), Some("u1"));

    let nd = String::from_utf8(encode(Format::NdJson)).unwrap();
    let lines: Vec<Value> = nd.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 992);
    assert_eq!(lines[0], json!({"user_id": "u1", "item_id": "i1", "rating": 1.0}));

    let csv = String::from_utf8(encode(Format::Csv)).unwrap();
    let mut lines = csv.lines();
    assert_eq!(lines.next(), Some("user_id,item_id,rating"));
    assert_eq!(lines.count(), 992);
    assert_eq!(Format::parse("application/vnd.apache.arrow.stream"), Some(Format::Arrow));
    assert_eq!(Format::parse("text/csv; charset=utf-8"), Some(Format::Csv));
}

/// A key is claimed by its first valid row: a row left out for a missing rating does not make
/// the next row with its key a duplicate.
#[tokio::test]
async fn a_row_left_out_for_another_rule_does_not_claim_its_key() {
    let csv = b"uid,sku,score\na,x,\na,x,4\na,x,5\n".to_vec();
    let mapping = json!({"user_id": "uid", "item_id": "sku", "rating": "score"});
    let (batches, schema, counts) =
        read_rows(vec![(csv, "r.csv")], Resource::Rating, mapping, Columns::All, Invalid::Include).await;
    let b = arrow_select_concat(&schema, &batches.unwrap());
    assert_eq!(
        texts(&b, ERROR_COLUMN),
        [Some("missing rating".into()), None, Some("duplicate user_id+item_id".into())]
    );
    assert_eq!(counts.served.load(Ordering::Relaxed), 3);
}

/// Unmapped nested Parquet columns (a map with integer keys, a list) are served as JSON text,
/// as a preview shows them, under `columns=all`; a struct's fields by their dotted names.
#[tokio::test]
async fn nested_parquet_columns_are_served_as_json_text() {
    use arrow_array::builder::{Int32Builder, ListBuilder, MapBuilder, StringBuilder};
    use arrow_array::{ArrayRef, StringArray, StructArray};
    use arrow_schema::{DataType, Field};
    let ids: ArrayRef = Arc::new(StringArray::from(vec!["i1", "i2"]));
    let mut tags = ListBuilder::new(StringBuilder::new());
    tags.values().append_value("red");
    tags.values().append_value("big");
    tags.append(true);
    tags.append(false);
    let mut attrs = MapBuilder::new(None, Int32Builder::new(), StringBuilder::new());
    attrs.keys().append_value(7);
    attrs.values().append_value("seven");
    attrs.append(true).unwrap();
    attrs.append(true).unwrap();
    let price = StructArray::from(vec![(
        Arc::new(Field::new("amount", DataType::Utf8, true)),
        Arc::new(StringArray::from(vec!["9.5", "3"])) as ArrayRef,
    )]);
    let batch = RecordBatch::try_from_iter(vec![
        ("sku", ids),
        ("tags", Arc::new(tags.finish()) as ArrayRef),
        ("attrs", Arc::new(attrs.finish()) as ArrayRef),
        ("price", Arc::new(price) as ArrayRef),
    ])
    .unwrap();
    let mut w = parquet::arrow::ArrowWriter::try_new(Vec::new(), batch.schema(), None).unwrap();
    w.write(&batch).unwrap();
    let pq = w.into_inner().unwrap();
    let (batches, schema, _) =
        read_rows(vec![(pq, "items.parquet")], Resource::Item, json!({"item_id": "sku"}), Columns::All, Invalid::Skip)
            .await;
    let b = arrow_select_concat(&schema, &batches.unwrap());
    let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
    // A struct's fields are columns of their own, dotted, as a preview names them.
    assert_eq!(names, ["item_id", "tags", "attrs", "price.amount"]);
    assert_eq!(texts(&b, "tags"), [Some(r#"["red","big"]"#.into()), None]);
    assert_eq!(texts(&b, "price.amount"), [Some("9.5".into()), Some("3".into())]);
    let attrs = texts(&b, "attrs");
    assert!(attrs[0].as_deref().is_some_and(|a| a.contains("seven")), "{attrs:?}");
}

/// A byte source that serves its bytes `reads` times, then panics (a decoder's bug, say).
struct PanicsAfter {
    inner: MemorySource,
    reads: std::sync::atomic::AtomicUsize,
}

#[async_trait::async_trait]
impl ByteSource for PanicsAfter {
    async fn size(&self) -> Result<u64, FormatError> {
        self.inner.size().await
    }

    async fn read(&self, start: u64, end: u64) -> Result<bytes::Bytes, FormatError> {
        if self.reads.fetch_sub(1, Ordering::Relaxed) == 0 {
            panic!("a reader's bug");
        }
        self.inner.read(start, end).await
    }

    fn name(&self) -> Option<&str> {
        self.inner.name()
    }
}

/// A read whose reader dies mid-way ends in an error, never in a complete answer: neither a
/// CSV read on the reading thread nor a Parquet file's decoder.
#[tokio::test]
async fn a_reader_that_dies_is_never_taken_for_the_end_of_the_table() {
    let mapping = json!({"user_id": "uid", "item_id": "sku", "rating": "score"});
    for (bytes, name) in [(ratings_csv().into_bytes(), "r.csv"), (ratings_parquet(), "r.parquet")] {
        // Enough reads for the sniffs: the first of the whole read panics.
        let mut first = None;
        for allowed in 1..40 {
            let source = PanicsAfter { inner: MemorySource::named(bytes.clone(), name), reads: allowed.into() };
            let files = vec![Arc::new(source) as Arc<dyn ByteSource>];
            let (read, _, _) =
                read_job(rows_job(files, Resource::Rating, mapping.clone(), Columns::All, Invalid::Include)).await;
            match read {
                Ok(b) => {
                    assert_eq!(b.iter().map(|b| b.num_rows()).sum::<usize>(), 1000, "{name}: whole, or an error");
                    first.get_or_insert(allowed);
                }
                Err(e) => assert!(!e.to_string().is_empty()),
            }
        }
        assert!(first.is_some(), "{name}: read whole once it may read enough");
    }
}

/// A read that would take more source bytes than its cap stops with the cap's error.
#[tokio::test]
async fn a_read_past_its_byte_cap_stops_with_the_cap_named() {
    let mapping = json!({"user_id": "uid", "item_id": "sku", "rating": "score"});
    let csv: String = std::iter::once("uid,sku,score\n".to_owned())
        .chain((0..500_000).map(|i| format!("u{i},i{i},{}\n", i % 5)))
        .collect();
    assert!(csv.len() > 5 << 20);
    let files = vec![Arc::new(MemorySource::named(csv.into_bytes(), "r.csv")) as Arc<dyn ByteSource>];
    let mut job = rows_job(files, Resource::Rating, mapping, Columns::All, Invalid::Skip);
    job.byte_cap = Some(2 << 20);
    let (read, _, counts) = read_job(job).await;
    let e = read.unwrap_err();
    assert!(matches!(e, EngineError::ReadCap { limit_mb: 2 }), "{e:?}");
    assert_eq!(e.problem().data.get("setting"), Some(&json!("GATEWAY_ROW_READ_MB")));
    assert!(counts.served.load(Ordering::Relaxed) < 500_000);
}

/// A keyed read that meets more keys than it may remember stops naming the setting to raise.
#[tokio::test]
async fn a_read_past_its_key_budget_stops_naming_the_setting() {
    let csv: String =
        std::iter::once("uid,sku,score\n".to_owned()).chain((0..50).map(|i| format!("u{i},i{i},1\n"))).collect();
    let files = vec![Arc::new(MemorySource::named(csv.into_bytes(), "r.csv")) as Arc<dyn ByteSource>];
    let mapping = json!({"user_id": "uid", "item_id": "sku", "rating": "score"});
    let mut job = rows_job(files, Resource::Rating, mapping, Columns::All, Invalid::Skip);
    job.max_keys = 10;
    let (read, _, _) = read_job(job).await;
    let e = read.unwrap_err();
    assert!(matches!(e, EngineError::Keys { keys: 10, .. }), "{e:?}");
    assert_eq!(e.problem().data.get("setting"), Some(&json!("GATEWAY_VALIDATION_MEMORY_MB")));
}

/// A typed column is shaped as its text would be: the same values served, the same rows
/// missing or of the wrong type, the same keys (the typed paths skip the text, never change
/// the answer). Each column here goes both ways: as it is, and cast to text first.
#[test]
fn typed_columns_are_shaped_as_their_text_would_be() {
    use arrow_array::types::{TimestampMicrosecondType, TimestampMillisecondType, TimestampNanosecondType};
    use arrow_array::{
        ArrayRef, Date32Array, Float32Array, Float64Array, Int32Array, Int64Array, PrimitiveArray,
        TimestampSecondArray, UInt64Array,
    };
    let stamps = vec![Some(0), Some(-1), Some(1_700_000_000), None, Some(-2_208_988_800), Some(10_413_792_000)];
    let columns: Vec<(FieldKind, ArrayRef)> = vec![
        (
            FieldKind::Number,
            Arc::new(Float64Array::from(vec![
                Some(1.5),
                Some(f64::NAN),
                Some(f64::INFINITY),
                None,
                Some(-0.0),
                Some(1e300),
                Some(0.1),
            ])),
        ),
        (
            FieldKind::Number,
            Arc::new(Int64Array::from(vec![Some(1), None, Some(i64::MAX), Some(-9_007_199_254_740_993)])),
        ),
        (FieldKind::Number, Arc::new(UInt64Array::from(vec![Some(u64::MAX), None, Some(3)]))),
        (FieldKind::Number, Arc::new(Float32Array::from(vec![Some(0.1f32), None, Some(f32::NAN)]))),
        (FieldKind::Timestamp, Arc::new(TimestampSecondArray::from(stamps.clone()))),
        (
            FieldKind::Timestamp,
            Arc::new(TimestampSecondArray::from(stamps[..4].to_vec()).with_timezone("Europe/Paris")),
        ),
        (
            FieldKind::Timestamp,
            Arc::new(
                PrimitiveArray::<TimestampMillisecondType>::from(vec![Some(1_700_000_000_123), Some(-1), None])
                    .with_timezone("+05:30"),
            ),
        ),
        (
            FieldKind::Timestamp,
            Arc::new(PrimitiveArray::<TimestampMicrosecondType>::from(vec![Some(-1_500_000), Some(1), None])),
        ),
        (
            FieldKind::Timestamp,
            Arc::new(
                PrimitiveArray::<TimestampNanosecondType>::from(vec![Some(i64::MIN + 1), Some(1_999_999_999), None])
                    .with_timezone("UTC"),
            ),
        ),
        (
            FieldKind::Timestamp,
            Arc::new(Int64Array::from(vec![
                Some(1_700_000_000),
                Some(1_700_000_000_000),
                Some(1_700_000_000_000_000),
                Some(1_700_000_000_000_000_000),
                Some(-86_400),
                None,
                Some(i64::MAX),
            ])),
        ),
        (FieldKind::Timestamp, Arc::new(Int32Array::from(vec![Some(-5), Some(i32::MAX), None]))),
        (FieldKind::Timestamp, Arc::new(Date32Array::from(vec![Some(0), Some(19_000), None]))),
        (FieldKind::Id, Arc::new(Int64Array::from(vec![Some(7), None, Some(-3)]))),
    ];
    let texts_of = |a: &ArrayRef| -> Vec<Option<String>> {
        let t = crate::read::as_text(a, "c").unwrap();
        (0..t.len()).map(|i| t.is_valid(i).then(|| t.value(i).to_owned())).collect()
    };
    let bits = |b: &arrow_buffer::BooleanBuffer| b.iter().collect::<Vec<bool>>();
    for (kind, typed) in columns {
        let text: ArrayRef = Arc::new(crate::read::as_text(&typed, "c").unwrap());
        let n = typed.len();
        let a = crate::shape::shape(Some(&typed), kind, "c", n, true).unwrap();
        let b = crate::shape::shape(Some(&text), kind, "c", n, true).unwrap();
        let what = format!("{kind:?} from {}", typed.data_type());
        assert_eq!(a.array.data_type(), b.array.data_type(), "{what}");
        assert_eq!(texts_of(&a.array), texts_of(&b.array), "{what}: values served");
        assert_eq!(bits(&a.missing), bits(&b.missing), "{what}: missing");
        assert_eq!(bits(&a.wrong), bits(&b.wrong), "{what}: type");
        // Keys: the same rows share a key either way.
        let key = |s: &crate::shape::Shaped| -> Vec<String> {
            (0..n)
                .map(|i| match &s.key {
                    Some(crate::shape::KeyPart::Text(t)) => t.value(i).to_owned(),
                    Some(crate::shape::KeyPart::Nanos(v)) => v[i].to_string(),
                    None => String::new(),
                })
                .collect()
        };
        let (ka, kb) = (key(&a), key(&b));
        assert_eq!(ka.len(), n);
        for i in 0..n {
            for j in 0..n {
                let ok = |s: &crate::shape::Shaped, i: usize| !s.missing.value(i) && !s.wrong.value(i);
                if ok(&a, i) && ok(&a, j) {
                    assert_eq!(ka[i] == ka[j], kb[i] == kb[j], "{what}: rows {i} and {j} as keys");
                }
            }
        }
    }
}

/// Where the text of a value loses what its type holds, the typed path keeps it: Paris in 1900
/// ran on local mean time (+00:09:21), which Arrow writes as `+00:09`, 21 seconds off.
#[test]
fn a_named_zone_s_old_offset_keeps_its_seconds() {
    let paris: arrow_array::ArrayRef =
        Arc::new(arrow_array::TimestampSecondArray::from(vec![-2_208_988_800]).with_timezone("Europe/Paris"));
    let s = crate::shape::shape(Some(&paris), FieldKind::Timestamp, "t", 1, false).unwrap();
    let seconds = s.array.as_any().downcast_ref::<arrow_array::Int64Array>().unwrap();
    assert_eq!(seconds.value(0), -2_208_988_800);
}

/// A keyed read that meets more keys than memory holds spills them to its folder and serves
/// exactly what a read with memory to spare serves: every duplicate found, wherever its first
/// occurrence's key went.
#[tokio::test]
async fn a_read_past_its_key_memory_spills_and_finds_every_duplicate() {
    // 5,000 keys; every 7th row repeats a key seen far earlier (so most first occurrences are
    // in a spilled run by then).
    let mut csv = String::from("uid,sku,score\n");
    for i in 0..5_000u32 {
        csv.push_str(&format!("u{i},i{},1\n", i % 13));
        if i % 7 == 6 {
            csv.push_str(&format!("u{},i{},2\n", i / 3, (i / 3) % 13));
        }
    }
    let read = |max_keys: usize, spill: Option<KeySpill>| {
        let files = vec![Arc::new(MemorySource::named(csv.clone().into_bytes(), "r.csv")) as Arc<dyn ByteSource>];
        let mapping = json!({"user_id": "uid", "item_id": "sku", "rating": "score"});
        let mut job = rows_job(files, Resource::Rating, mapping, Columns::All, Invalid::Include);
        job.max_keys = max_keys;
        job.spill = spill;
        read_job(job)
    };
    let (whole, schema, _) = read(1 << 20, None).await;
    let whole = arrow_select_concat(&schema, &whole.unwrap());
    let dir = tempfile::tempdir().unwrap();
    let spill = KeySpill { dir: dir.path().join("read"), bytes: 1 << 20 };
    let (spilled, schema, _) = read(200, Some(spill)).await;
    let spilled = arrow_select_concat(&schema, &spilled.unwrap());
    assert_eq!(texts(&spilled, ERROR_COLUMN), texts(&whole, ERROR_COLUMN));
    let duplicates = texts(&whole, ERROR_COLUMN).iter().filter(|e| e.is_some()).count();
    assert_eq!(duplicates, 5_000 / 7, "every repeated key is a duplicate");
    let runs = std::fs::read_dir(dir.path().join("read")).map(|d| d.count()).unwrap_or(0);
    assert!(runs >= 40, "the keys went to {runs} runs");

    // Without a folder, the same read stops naming the setting.
    let (stopped, _, _) = read(200, None).await;
    assert!(matches!(stopped, Err(EngineError::Keys { keys: 200, .. })), "{stopped:?}");
}

//! Generated tables with known defects, counted exactly; the same table in other formats and
//! compressions; a table larger than the memory cap validated by spilling.

use std::io::Write;
use std::sync::Arc;

use gateway_domain::{JsonObject, Resource};
use serde_json::{Value, json};

use super::*;

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

//! Files the tests generate: each format with each compression, dialects, nested data, the
//! errors a person must be told, the read budget, and fuzzing for panics.

use std::io::Write;
use std::sync::Arc;

use gateway_domain::{ColumnType, Compression, FileFormat};
use proptest::prelude::*;
use serde_json::{Value, json};

use crate::{CountingSource, FormatError, MemorySource, SniffOptions, Sniffed, sniff};
use gateway_testkit::files::{gzip, zip};

pub(crate) fn zstd(b: &[u8]) -> Vec<u8> {
    zstd::encode_all(b, 1).unwrap()
}

pub(crate) fn bz2(b: &[u8]) -> Vec<u8> {
    let mut e = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::fast());
    e.write_all(b).unwrap();
    e.finish().unwrap()
}

pub(crate) fn compress(c: Compression, name: &str, b: &[u8]) -> Vec<u8> {
    match c {
        Compression::Gzip => gzip(b),
        Compression::Zstd => zstd(b),
        Compression::Bz2 => bz2(b),
        Compression::Zip => zip(&[(name, b)], true),
        _ => b.to_vec(),
    }
}

async fn run(bytes: Vec<u8>, name: &str, opts: &SniffOptions) -> Result<Sniffed, FormatError> {
    sniff(Arc::new(MemorySource::named(bytes, name)), opts).await
}

async fn ok(bytes: Vec<u8>, name: &str) -> Sniffed {
    run(bytes, name, &SniffOptions::default()).await.unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn names(s: &Sniffed) -> Vec<&str> {
    s.columns.iter().map(|c| c.name.as_str()).collect()
}

fn types(s: &Sniffed) -> Vec<ColumnType> {
    s.columns.iter().map(|c| c.ty).collect()
}

const CSV: &str = "item_id,title,price,updated\n1,\"Hat, red\",9.5,2024-05-01\n2,\"Scarf\nwith a newline\",10,2024-05-02T10:00:00Z\n3,Plain,11.25,2024-05-03\n";
const COMPRESSIONS: [Compression; 5] =
    [Compression::None, Compression::Gzip, Compression::Zip, Compression::Zstd, Compression::Bz2];

#[tokio::test]
async fn csv_with_each_compression() {
    for c in COMPRESSIONS {
        let s = ok(compress(c, "items.csv", CSV.as_bytes()), &format!("items.csv{}", ext(c))).await;
        assert_eq!((s.format, s.compression), (FileFormat::Csv, c), "{c}");
        assert_eq!(names(&s), ["item_id", "title", "price", "updated"]);
        assert_eq!(types(&s), [ColumnType::Integer, ColumnType::String, ColumnType::Float, ColumnType::Timestamp]);
        assert_eq!(s.options["delimiter"], ",");
        assert_eq!(s.options["quote"], "\"");
        assert_eq!(s.options["escape"], "\\");
        assert_eq!(s.options["header"], true);
        assert_eq!(s.options["encoding"], "utf-8");
        assert_eq!(s.options["compression"], c.as_str());
        assert_eq!(s.rows.len(), 3);
        assert_eq!(
            Value::Object(s.rows[0].clone()),
            json!({"item_id": "1", "title": "Hat, red", "price": "9.5", "updated": "2024-05-01"})
        );
        assert_eq!(s.rows[1]["title"], "Scarf\nwith a newline", "quoted newline kept");
        assert!(s.warnings.is_empty(), "{c}: {:?}", s.warnings);
    }
}

fn ext(c: Compression) -> &'static str {
    match c {
        Compression::Gzip => ".gz",
        Compression::Zip => ".zip",
        Compression::Zstd => ".zst",
        Compression::Bz2 => ".bz2",
        _ => "",
    }
}

#[tokio::test]
async fn stored_zip_entries_too() {
    let s = ok(zip(&[("items.csv", CSV.as_bytes())], false), "x.zip").await;
    assert_eq!((s.format, s.compression, s.rows.len()), (FileFormat::Csv, Compression::Zip, 3));
    // Directories and macOS metadata are not data entries.
    let s = ok(
        zip(&[("data/", b""), ("data/items.csv", CSV.as_bytes()), ("__MACOSX/data/._items.csv", b"x")], true),
        "x.zip",
    )
    .await;
    assert_eq!(s.rows.len(), 3);
}

#[tokio::test]
async fn dialects_tab_semicolon_pipe() {
    for (d, name) in [('\t', "t.tsv"), (';', "t.csv"), ('|', "t.txt")] {
        let text = format!("user_id{d}name{d}score\nu1{d}Ann, Smith{d}3\nu2{d}Bob{d}4\nu3{d}Cy{d}5\n");
        let s = ok(text.into_bytes(), name).await;
        assert_eq!(s.options["delimiter"], d.to_string(), "{name}");
        assert_eq!(names(&s), ["user_id", "name", "score"]);
        assert_eq!(s.rows[0]["name"], "Ann, Smith");
        assert_eq!(s.format, if d == '\t' { FileFormat::Tsv } else { FileFormat::Csv });
    }
}

#[tokio::test]
async fn header_or_not() {
    let s = ok(b"1,2.5,abc\n2,3.5,def\n3,4,ghi\n".to_vec(), "n.csv").await;
    assert_eq!(s.options["header"], false);
    assert_eq!(names(&s), ["column_1", "column_2", "column_3"]);
    assert_eq!(s.rows.len(), 3);
    let s = ok(b"a,b\nx,y\nz,w\n".to_vec(), "n.csv").await;
    assert_eq!(s.options["header"], true, "short distinct names over other text");
    // A name that is also one value of its column, once, is still a name (the language-codes
    // header's `English`); a first row whose values recur as its column's do is data.
    let mut named = String::from("code,English\n");
    let mut unnamed = String::from("red,apple\n");
    for i in 0..20 {
        named.push_str(&format!("c{i},{}\n", if i == 7 { "English" } else { "Other" }));
        unnamed.push_str(&format!("{},fruit{i}\n", ["red", "blue", "green"][i % 3]));
    }
    let s = ok(named.into_bytes(), "n.csv").await;
    assert_eq!((s.options["header"].clone(), names(&s)), (serde_json::json!(true), vec!["code", "English"]));
    let s = ok(unnamed.into_bytes(), "n.csv").await;
    assert_eq!(s.options["header"], false, "'red' is one of its column's values");
    // The caller decides when they say so.
    let opts = SniffOptions { header: Some(false), ..SniffOptions::default() };
    let s = run(CSV.as_bytes().to_vec(), "i.csv", &opts).await.unwrap();
    assert_eq!(s.rows[0]["column_1"], "item_id");
}

#[tokio::test]
async fn bom_crlf_and_escapes() {
    let mut b = vec![0xef, 0xbb, 0xbf];
    b.extend(b"id,name\r\n1,\"say \"\"hi\"\"\"\r\n2,x\r\n");
    let s = ok(b, "b.csv").await;
    assert_eq!(s.options["encoding"], "utf-8-sig");
    assert_eq!(s.options["line_terminator"], "\r\n");
    assert_eq!(s.options["escape"], "\"", "doubled quotes");
    assert_eq!(names(&s), ["id", "name"], "no BOM in the first name");
    assert_eq!(s.rows[0]["name"], "say \"hi\"");
    let s = ok(b"id,name\n1,\"say \\\"hi\\\"\"\n2,x\n".to_vec(), "e.csv").await;
    assert_eq!(s.options["escape"], "\\");
    assert_eq!(s.rows[0]["name"], "say \"hi\"");
}

#[tokio::test]
async fn caller_options_win() {
    let opts = SniffOptions { delimiter: Some(';'), ..SniffOptions::default() };
    let s = run(b"a;b,c\n1;2,3\n4;5,6\n".to_vec(), "x.csv", &opts).await.unwrap();
    assert_eq!(names(&s), ["a", "b,c"]);
    // Read with `;`, the cells are numbers with a decimal comma; with `,`, `1;2` is no type.
    let s = ok(b"a;b,c\n1;2,3\n4;5,6\n".to_vec(), "x.csv").await;
    assert_eq!(s.options["delimiter"], ";", "the more consistent candidate");
    let s = ok(b"a;b,c\nx;y,z\n".to_vec(), "x.csv").await;
    assert_eq!(s.options["delimiter"], ",", "equally consistent: the earlier candidate");
    let opts = SniffOptions { format: Some(FileFormat::Tsv), ..SniffOptions::default() };
    let s = run(b"a\tb,c\n1\t2,3\n".to_vec(), "x", &opts).await.unwrap();
    assert_eq!((s.format, names(&s)), (FileFormat::Tsv, vec!["a", "b,c"]));
}

#[tokio::test]
async fn ragged_rows_are_warned() {
    let s = ok(b"a,b,c\n1,2,3\n4,5\n6,7,8,9\n10,11,12\n".to_vec(), "r.csv").await;
    assert!(s.warnings.iter().any(|w| w.contains("2 row(s) have a different number of fields")), "{:?}", s.warnings);
    assert_eq!(s.rows[1]["c"], Value::Null);
}

const JSONL: &str = "{\"id\": 1, \"customer\": {\"age\": 30, \"city\": \"Oslo\"}, \"tags\": [\"a\"]}\n{\"id\": 2, \"customer\": {\"age\": 41}, \"vip\": true}\n";

#[tokio::test]
async fn json_lines_with_each_compression() {
    for c in COMPRESSIONS {
        let s = ok(compress(c, "u.jsonl", JSONL.as_bytes()), &format!("u.jsonl{}", ext(c))).await;
        assert_eq!((s.format, s.compression), (FileFormat::JsonLines, c));
        assert_eq!(
            names(&s),
            ["id", "customer.age", "customer.city", "tags", "vip"],
            "union of keys, nested as dotted paths"
        );
        assert_eq!(
            types(&s),
            [ColumnType::Integer, ColumnType::Integer, ColumnType::String, ColumnType::Json, ColumnType::Boolean]
        );
        assert_eq!(Value::Object(s.rows[1].clone()), json!({"id": 2, "customer.age": 41, "vip": true}));
    }
}

fn parquet_file(rows: usize, row_group: usize) -> Vec<u8> {
    parquet_file_with(rows, row_group, 64 * 1024)
}

fn parquet_file_with(rows: usize, row_group: usize, dictionary_limit: usize) -> Vec<u8> {
    use arrow_array::{Array, ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray, StructArray};
    use arrow_schema::{DataType, Field, Schema};
    let age = Arc::new(Int64Array::from_iter_values((0..rows).map(|i| 20 + (i % 50) as i64))) as ArrayRef;
    let city = Arc::new(StringArray::from_iter_values((0..rows).map(|i| format!("city-{}", i % 7)))) as ArrayRef;
    let customer = StructArray::from(vec![
        (Arc::new(Field::new("age", DataType::Int64, false)), age),
        (Arc::new(Field::new("city", DataType::Utf8, false)), city),
    ]);
    let schema = Arc::new(Schema::new(vec![
        Field::new("user_id", DataType::Utf8, false),
        Field::new("score", DataType::Float64, true),
        Field::new("customer", customer.data_type().clone(), false),
    ]));
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(StringArray::from_iter_values((0..rows).map(|i| format!("u{i}")))),
            Arc::new(Float64Array::from_iter_values((0..rows).map(|i| i as f64 / 2.0))),
            Arc::new(customer),
        ],
    )
    .unwrap();
    let props = parquet::file::properties::WriterProperties::builder()
        .set_max_row_group_row_count(Some(row_group))
        .set_data_page_row_count_limit(1000)
        .set_write_batch_size(1000)
        .set_dictionary_page_size_limit(dictionary_limit)
        .build();
    let mut w = parquet::arrow::ArrowWriter::try_new(Vec::new(), schema, Some(props)).unwrap();
    w.write(&batch).unwrap();
    w.into_inner().unwrap()
}

#[tokio::test]
async fn parquet_nested_and_bounded() {
    let file = parquet_file(300_000, 100_000);
    assert!(file.len() > 1_500_000, "bigger than the budget: {}", file.len());
    let src = Arc::new(CountingSource::new(MemorySource::named(file, "u.parquet")));
    let s = sniff(src.clone(), &SniffOptions::default()).await.unwrap();
    assert_eq!(s.format, FileFormat::Parquet);
    assert!(s.warnings.is_empty(), "{:?}", s.warnings);
    assert_eq!(names(&s), ["user_id", "score", "customer.age", "customer.city"]);
    assert_eq!(types(&s), [ColumnType::String, ColumnType::Float, ColumnType::Integer, ColumnType::String]);
    assert_eq!(s.rows.len(), 10);
    assert_eq!(
        Value::Object(s.rows[3].clone()),
        json!({"user_id": "u3", "score": 1.5, "customer.age": 23, "customer.city": "city-3"})
    );
    assert!(src.bytes_read() < 256 * 1024, "only the footer and the first pages: {} bytes", src.bytes_read());
    assert_eq!(s.bytes_read, src.bytes_read());
}

/// A column whose first pages need more than the budget (a 4 MiB dictionary of unique ids)
/// is left out of the rows, named; the others are sampled; the budget holds.
#[tokio::test]
async fn parquet_columns_over_the_budget_are_left_out() {
    let file = parquet_file_with(300_000, 300_000, 4 << 20);
    let src = Arc::new(CountingSource::new(MemorySource::named(file, "u.parquet")));
    let s = sniff(src.clone(), &SniffOptions::default()).await.unwrap();
    assert_eq!(names(&s), ["user_id", "score", "customer.age", "customer.city"], "every column from the schema");
    assert_eq!(s.rows.len(), 10);
    assert_eq!(s.rows[0].get("user_id"), None);
    assert_eq!(s.rows[0]["customer.city"], "city-0");
    assert!(s.warnings.iter().any(|w| w.contains("leave out user_id")), "{:?}", s.warnings);
    let footer = 64 * 1024;
    assert!(src.bytes_read() <= 1024 * 1024 + footer, "{}", src.bytes_read());
}

#[tokio::test]
async fn avro_header_and_first_block() {
    let schema = apache_avro::Schema::parse_str(
        r#"{"type": "record", "name": "r", "fields": [
            {"name": "item_id", "type": "string"},
            {"name": "price", "type": ["null", "double"]},
            {"name": "meta", "type": {"type": "record", "name": "m", "fields": [{"name": "color", "type": "string"}]}}
        ]}"#,
    )
    .unwrap();
    let mut w = apache_avro::Writer::with_codec(&schema, Vec::new(), apache_avro::Codec::Deflate(Default::default()));
    for i in 0..25 {
        let mut r = apache_avro::types::Record::new(w.schema()).unwrap();
        r.put("item_id", format!("i{i}"));
        r.put("price", apache_avro::types::Value::Union(1, Box::new(apache_avro::types::Value::Double(i as f64))));
        r.put(
            "meta",
            apache_avro::types::Value::Record(vec![("color".into(), apache_avro::types::Value::String("red".into()))]),
        );
        w.append(r).unwrap();
    }
    let bytes = w.into_inner().unwrap();
    for (c, name) in [(Compression::None, "i.avro"), (Compression::Gzip, "i.avro.gz")] {
        let s = ok(compress(c, "i.avro", &bytes), name).await;
        assert_eq!((s.format, s.compression), (FileFormat::Avro, c));
        assert_eq!(names(&s), ["item_id", "price", "meta.color"]);
        assert_eq!(types(&s), [ColumnType::String, ColumnType::Float, ColumnType::String]);
        assert_eq!(s.rows.len(), 10);
        assert_eq!(Value::Object(s.rows[2].clone()), json!({"item_id": "i2", "price": 2.0, "meta.color": "red"}));
    }
}

async fn err(bytes: Vec<u8>, name: &str, opts: SniffOptions) -> FormatError {
    match run(bytes, name, &opts).await {
        Ok(s) => panic!("{name}: expected an error, got {:?}", s.format),
        Err(e) => e,
    }
}

#[tokio::test]
async fn bad_input_gets_a_specific_error() {
    let d = SniffOptions::default;
    assert_eq!(err(vec![], "e.csv", d()).await, FormatError::Empty);
    assert_eq!(err(b"\n\n  \n".to_vec(), "e.csv", d()).await, FormatError::Empty);
    // A header and no rows: its columns, and a warning (as DuckDB's sniffer answers).
    for opts in [SniffOptions { header: Some(true), ..d() }, d()] {
        let s = run(b"item_id,title\n".to_vec(), "h.csv", &opts).await.unwrap();
        assert_eq!((names(&s), s.rows.len()), (vec!["item_id", "title"], 0));
        assert!(s.warnings.iter().any(|w| w.contains("no data rows")), "{:?}", s.warnings);
    }
    assert!(matches!(
        err(CSV.as_bytes().to_vec(), "items.csv.gz", d()).await,
        FormatError::ExtensionMismatch { expected: Compression::Gzip, .. }
    ));
    let declared_zip = SniffOptions { compression: Some(Compression::Zip), ..d() };
    assert_eq!(
        err(gzip(CSV.as_bytes()), "x", declared_zip).await,
        FormatError::CompressionMismatch { declared: Compression::Zip, found: Compression::Gzip }
    );
    let declared_none = SniffOptions { compression: Some(Compression::None), ..d() };
    assert!(matches!(err(gzip(CSV.as_bytes()), "x", declared_none).await, FormatError::CompressionMismatch { .. }));
    assert_eq!(err(zip(&[("dir/", b"")], true), "x.zip", d()).await, FormatError::ZipNoEntry);
    assert_eq!(
        err(zip(&[("a.csv", b"a\n1\n"), ("b.csv", b"b\n2\n")], true), "x.zip", d()).await,
        FormatError::ZipManyEntries(vec!["a.csv".into(), "b.csv".into()])
    );
    let garbage: Vec<u8> = (0..4096u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    assert_eq!(err(garbage, "g.bin", d()).await, FormatError::Unrecognized);
    let gz = gzip(CSV.as_bytes());
    assert!(matches!(err(gz[..gz.len() - 12].to_vec(), "t.csv.gz", d()).await, FormatError::Truncated(_)));
    let as_parquet = SniffOptions { format: Some(FileFormat::Parquet), ..d() };
    assert!(matches!(
        err(CSV.as_bytes().to_vec(), "x", as_parquet).await,
        FormatError::FormatMismatch { declared: FileFormat::Parquet, .. }
    ));
    let as_csv = SniffOptions { format: Some(FileFormat::Csv), ..d() };
    assert!(matches!(
        err(JSONL.as_bytes().to_vec(), "x", as_csv).await,
        FormatError::FormatMismatch { declared: FileFormat::Csv, .. }
    ));
    let as_jsonl = SniffOptions { format: Some(FileFormat::JsonLines), ..d() };
    assert!(matches!(
        err(CSV.as_bytes().to_vec(), "x", as_jsonl).await,
        FormatError::FormatMismatch { declared: FileFormat::JsonLines, .. }
    ));
    let latin1 = b"id,name\n1,Jos\xe9\n2,Zo\xeb\n".to_vec();
    let declared_utf8 = SniffOptions { encoding: Some("utf-8".into()), ..d() };
    assert!(matches!(err(latin1, "l.csv", declared_utf8).await, FormatError::Encoding(m) if m.contains("offset")));
    assert!(matches!(
        err(vec![0xff, 0xfe, b'a', 0, b'\n', 0], "w.csv", d()).await,
        FormatError::Encoding(_) | FormatError::Unrecognized
    ));
    // Shift_JIS, Big5, GBK: a character's second byte can be `\` or `|` (a delimiter split).
    for unread in ["utf-16", "x-no-such-thing", "shift_jis", "big5", "gbk"] {
        let o = SniffOptions { encoding: Some(unread.into()), ..d() };
        assert!(
            matches!(err(CSV.as_bytes().to_vec(), "x.csv", o).await, FormatError::BadOption { option: "encoding", .. }),
            "{unread}"
        );
    }
    assert!(matches!(err(b"[{\"a\": 1}]".to_vec(), "a.json", d()).await, FormatError::Json(m) if m.contains("array")));
    assert!(matches!(err(b"{\"a\": 1\n".to_vec(), "a.jsonl", d()).await, FormatError::Json(_)));

    let pq = parquet_file(100, 100);
    assert!(matches!(err(pq[..pq.len() - 3].to_vec(), "t.parquet", d()).await, FormatError::Truncated(_)));
    let mut huge_footer = pq.clone();
    let n = huge_footer.len();
    huge_footer[n - 8..n - 4].copy_from_slice(&(64u32 << 20).to_le_bytes());
    assert!(matches!(
        err(huge_footer, "f.parquet", d()).await,
        FormatError::FooterTooLarge { .. } | FormatError::Truncated(_)
    ));
    let small_cap = SniffOptions { footer_cap: 16, ..d() };
    assert!(matches!(err(pq, "f.parquet", small_cap).await, FormatError::FooterTooLarge { .. }));
    assert_eq!(
        err(gzip(&parquet_file(10, 10)), "p.parquet.gz", d()).await,
        FormatError::CompressedColumnar(FileFormat::Parquet)
    );
}

fn big_csv(bytes: usize) -> Vec<u8> {
    let mut s = String::from("user_id,item_id,rating,comment\n");
    let mut i = 0;
    while s.len() < bytes {
        s.push_str(&format!("u{i},i{},{}.5,\"row {i}, with a comma\"\n", i * 7 % 1000, i % 5));
        i += 1;
    }
    s.into_bytes()
}

#[tokio::test]
async fn the_budget_holds_whatever_the_size() {
    let text = big_csv(6 << 20);
    for c in COMPRESSIONS {
        let bytes = compress(c, "r.csv", &text);
        let src = Arc::new(CountingSource::new(MemorySource::named(bytes, &format!("r.csv{}", ext(c)))));
        let opts = SniffOptions { budget: 256 * 1024, ..SniffOptions::default() };
        let s = sniff(src.clone(), &opts).await.unwrap();
        assert!(src.bytes_read() <= 256 * 1024, "{c}: read {}", src.bytes_read());
        assert_eq!(names(&s), ["user_id", "item_id", "rating", "comment"], "{c}");
        assert_eq!(s.rows.len(), 10);
        if c == Compression::None || c == Compression::Zip {
            assert!(
                s.warnings.iter().any(|w| w.contains("cut at the 262144-byte read budget")),
                "{c}: {:?}",
                s.warnings
            );
        }
    }
}

#[tokio::test]
async fn options_from_table_params() {
    let params = json!({"file_format": "tsv", "options": {"compression": "GZIP", "delimiter": ";", "header": true, "encoding": "utf-8"}});
    let o = crate::FileParams::parse(params.as_object().unwrap()).unwrap().sniff_options().unwrap();
    assert_eq!(
        (o.format, o.compression, o.delimiter, o.header),
        (Some(FileFormat::Tsv), Some(Compression::Gzip), Some(';'), Some(true))
    );
    let bad = json!({"file_format": "xls"});
    assert!(crate::FileParams::parse(bad.as_object().unwrap()).unwrap().sniff_options().is_err());
}

/// Found by the fuzzer: a header whose metadata map claims 400 million entries made the Avro
/// decoder reserve 43 GB and abort the process. And a recursive schema could nest as deep as
/// the file has bytes.
#[tokio::test]
async fn crafted_avro_cannot_exhaust_memory_or_stack() {
    let mut huge_count = b"Obj\x01".to_vec();
    let mut n: u64 = 400_000_000 << 1; // zigzag of a positive count
    while n >= 0x80 {
        huge_count.push((n as u8) | 0x80);
        n >>= 7;
    }
    huge_count.push(n as u8);
    huge_count.extend([0u8; 32]);
    assert!(matches!(err(huge_count, "x.avro", SniffOptions::default()).await, FormatError::Avro(_)));

    let schema = apache_avro::Schema::parse_str(
        r#"{"type": "record", "name": "node", "fields": [{"name": "id", "type": "long"}, {"name": "next", "type": ["null", "node"]}]}"#,
    )
    .unwrap();
    let w = apache_avro::Writer::new(&schema, Vec::new());
    let bytes = w.into_inner().unwrap();
    let e = err(bytes, "list.avro", SniffOptions::default()).await;
    assert!(matches!(&e, FormatError::Avro(m) if m.contains("recursive")), "{e}");
}

fn samples() -> Vec<(Vec<u8>, &'static str)> {
    vec![
        (CSV.as_bytes().to_vec(), "a.csv"),
        (gzip(CSV.as_bytes()), "a.csv.gz"),
        (zip(&[("a.csv", CSV.as_bytes())], true), "a.zip"),
        (zstd(JSONL.as_bytes()), "a.jsonl.zst"),
        (bz2(JSONL.as_bytes()), "a.jsonl.bz2"),
        (parquet_file(50, 20), "a.parquet"),
    ]
}

proptest! {
    // 128 cases per run; PROPTEST_CASES raises it for a longer hunt.
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(128),
        ..ProptestConfig::default()
    })]

    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..2048), magic in 0usize..6) {
        let prefixes: [&[u8]; 6] = [b"", b"PAR1", b"Obj\x01", &[0x1f, 0x8b], b"PK\x03\x04", &[0x28, 0xb5, 0x2f, 0xfd]];
        let mut b = prefixes[magic].to_vec();
        b.extend(bytes);
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let _ = rt.block_on(run(b, "f", &SniffOptions::default()));
    }

    #[test]
    fn truncated_and_flipped_files_never_panic(which in 0usize..6, cut in 0.0f64..1.0, flip in prop::option::of((0.0f64..1.0, any::<u8>()))) {
        let (mut bytes, name) = samples().swap_remove(which);
        let n = ((bytes.len() as f64) * cut) as usize;
        bytes.truncate(n.max(1));
        if let Some((at, v)) = flip {
            let i = ((bytes.len() as f64) * at) as usize;
            if let Some(b) = bytes.get_mut(i) { *b ^= v; }
        }
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let _ = rt.block_on(run(bytes, name, &SniffOptions::default()));
    }
}

/// A crafted Parquet file: one GZIP page holding 48 MiB of zeros (about 50 KB on disk). The
/// parquet crate would decompress it whole; the page is refused before it does.
#[tokio::test]
async fn a_page_bomb_is_refused_before_decompression() {
    use arrow_array::{BinaryArray, RecordBatch};
    use arrow_schema::{DataType, Field, Schema};
    let zeros = vec![0u8; 48 << 20];
    let schema = Arc::new(Schema::new(vec![Field::new("blob", DataType::Binary, false)]));
    let batch =
        RecordBatch::try_new(schema.clone(), vec![Arc::new(BinaryArray::from(vec![zeros.as_slice()]))]).unwrap();
    let props = parquet::file::properties::WriterProperties::builder()
        .set_compression(parquet::basic::Compression::GZIP(Default::default()))
        .set_dictionary_enabled(false)
        .set_data_page_size_limit(1 << 30)
        .build();
    let mut w = parquet::arrow::ArrowWriter::try_new(Vec::new(), schema, Some(props)).unwrap();
    w.write(&batch).unwrap();
    let file = w.into_inner().unwrap();
    drop(zeros);
    assert!(file.len() < 1 << 20, "the bomb is small on disk: {}", file.len());
    let e = err(file, "bomb.parquet", SniffOptions::default()).await;
    assert!(e.to_string().contains("bytes uncompressed, more than"), "{e}");
}

/// The review's 119-byte bypass (N2): a 2 GiB page hidden behind a UUID-typed field the
/// format does not define. Refused, before the parquet crate allocates what it declares.
#[tokio::test]
async fn a_page_hidden_behind_an_unknown_field_is_refused() {
    let file = gateway_testkit::files::parquet_hidden_page_bomb();
    assert_eq!(file.len(), 119, "the review's file, byte for byte in size");
    let e = err(file, "hidden.parquet", SniffOptions::default()).await;
    assert!(e.to_string().contains("a page header is not one Parquet writes"), "{e}");
}

/// The answered options, fed back as a saved table's: the same columns and rows.
async fn answered_options_read_the_same(bytes: Vec<u8>, name: &str, first: &Sniffed) {
    let saved = crate::FileParams::parse(&first.detected_params()).unwrap();
    let again = run(bytes, name, &saved.sniff_options().unwrap()).await.unwrap();
    assert_eq!((names(&again), &again.rows), (names(first), &first.rows), "{name}: {:?}", first.options);
}

#[tokio::test]
async fn a_stray_quote_does_not_swallow_the_file() {
    let mut tsv = String::from("id\ttitle\tyear\n1\t\"Weird title\t1999\n");
    for i in 2..40_000 {
        tsv.push_str(&format!("{i}\tTitle number {i}\t{}\n", 1900 + i % 100));
    }
    assert!(tsv.len() > 1_000_000);
    let s = ok(tsv.clone().into_bytes(), "titles.tsv").await;
    assert_eq!(names(&s), ["id", "title", "year"]);
    assert_eq!(s.options["quote"], "", "read without quoting");
    assert_eq!(s.rows[0]["title"], "\"Weird title");
    assert_eq!(s.rows[1]["title"], "Title number 2");
    assert!(s.warnings.iter().any(|w| w.contains("a quote at line 2, column 3 never closes")), "{:?}", s.warnings);
    answered_options_read_the_same(tsv.into_bytes(), "titles.tsv", &s).await;
    // Small, and on the first line.
    let small = b"a,\"b,c\n1,2,3\n4,5,6\n".to_vec();
    let s = ok(small.clone(), "s.csv").await;
    assert_eq!((names(&s), s.rows.len()), (vec!["a", "\"b", "c"], 2));
}

#[tokio::test]
async fn headers_with_blank_or_repeated_names_are_headers() {
    // pandas' index column.
    let s = ok(b",item_id,title\n0,i1,Hat\n1,i2,Scarf\n".to_vec(), "p.csv").await;
    assert_eq!(s.options["header"], true);
    assert_eq!(names(&s), ["column_1", "item_id", "title"]);
    assert!(s.warnings.iter().any(|w| w.contains("names no column at position(s) 1")), "{:?}", s.warnings);
    // A trailing comma.
    let s = ok(b"user_id,item_id,\nu1,i1,\nu2,i2,\n".to_vec(), "t.csv").await;
    assert_eq!(names(&s), ["user_id", "item_id", "column_3"]);
    // A repeated name.
    let s = ok(b"a,b,a\nx,y,z\nu,v,w\n".to_vec(), "r.csv").await;
    assert_eq!(names(&s), ["a", "b", "a_2"]);
    assert!(s.warnings.iter().any(|w| w.contains("'a' as 'a_2'")), "{:?}", s.warnings);
}

#[tokio::test]
async fn apostrophes_are_not_quotes_unless_they_quote() {
    let tsv = b"title\tyear\n'Til We Meet Again\t1998\n'Round Midnight\t1986\nHeat\t1995\n".to_vec();
    let s = ok(tsv, "m.tsv").await;
    assert_eq!(s.options["quote"], "\"");
    assert_eq!(s.rows[0]["title"], "'Til We Meet Again");
    assert_eq!(s.rows.len(), 3);
    let quoted = b"id,name,city\n1,'Smith, John',Oslo\n2,'Doe, Jane',Rome\n3,Plain,Nice\n".to_vec();
    let s = ok(quoted.clone(), "q.csv").await;
    assert_eq!(s.options["quote"], "'");
    assert_eq!(s.rows[0]["name"], "Smith, John");
    answered_options_read_the_same(quoted, "q.csv", &s).await;
}

#[tokio::test]
async fn preambles_and_comments_are_skipped_and_answered() {
    let commented = b"# A few comments\n# about the export\nid,name\n1,a\n2,b\n".to_vec();
    let s = ok(commented.clone(), "c.csv").await;
    assert_eq!((s.options["comment"].as_str(), names(&s)), (Some("#"), vec!["id", "name"]));
    assert_eq!(s.rows.len(), 2);
    answered_options_read_the_same(commented, "c.csv", &s).await;
    // A header written `#id,...` is a header, not a comment.
    let s = ok(b"#id,name\n1,a\n2,b\n".to_vec(), "h.csv").await;
    assert_eq!(names(&s), ["#id", "name"]);
    let noted = b"Exported 2024-05-01 by ShopTool\n\nid,name,score\n1,a,3\n2,b,4\n3,c,5\n".to_vec();
    let s = ok(noted.clone(), "n.csv").await;
    assert_eq!(s.options["skip_rows"], 2, "{:?}", s.options);
    assert_eq!(names(&s), ["id", "name", "score"]);
    assert!(s.warnings.iter().any(|w| w.contains("skip_rows")), "{:?}", s.warnings);
    answered_options_read_the_same(noted, "n.csv", &s).await;
    // A header one field short of its rows (R's write.table, row names first) is the header.
    let s = ok(b"x,y\n1,a,b\n2,c,d\n3,e,f\n".to_vec(), "r.csv").await;
    assert_eq!((s.options.get("skip_rows"), s.options["header"].as_bool()), (None, Some(true)), "{:?}", s.options);
    // A first row longer than the read budget: named, not "empty".
    let long = [b"item_id,title\n".to_vec(), vec![b'x'; 3 << 20]].concat();
    let e = err(long, "long.csv", SniffOptions::default()).await;
    assert!(matches!(e, FormatError::RowTooLong(_)), "{e}");
    let e = err(vec![b'y'; 3 << 20], "one.csv", SniffOptions::default()).await;
    assert!(matches!(e, FormatError::RowTooLong(_)), "a first row cut by the budget: {e}");
    let titled = b"Sales report\nid;amount\n1;2,5\n2;3,75\n".to_vec();
    let s = ok(titled, "t.csv").await;
    assert_eq!((s.options["delimiter"].as_str(), names(&s)), (Some(";"), vec!["id", "amount"]));
}

#[tokio::test]
async fn the_name_is_weighed_against_the_content() {
    // Lines in brackets in a .csv: text, not a JSON array.
    let s = ok(b"[248.128.0.120]\n[10.0.0.1]\n[192.168.1.1]\n".to_vec(), "ips.csv").await;
    assert_eq!((s.format, s.rows.len()), (FileFormat::Csv, 3));
    // A .tsv holding commas is CSV.
    let s = ok(b"a,b\n1,2\n3,4\n".to_vec(), "x.tsv").await;
    assert_eq!((s.format, s.options["delimiter"].as_str()), (FileFormat::Csv, Some(",")));
}

/// What pandas and Spark write: timestamps in a named zone, nulls, maps keyed by integers,
/// binary; each shown, one way across formats (nulls as null, binary as hex).
#[tokio::test]
async fn parquet_zones_nulls_maps_and_binary() {
    use arrow_array::Array;
    use arrow_array::builder::{Int32Builder, MapBuilder, StringBuilder};
    use arrow_array::{ArrayRef, BinaryArray, RecordBatch, StringArray, TimestampMicrosecondArray};
    use arrow_schema::{DataType, Field, Schema, TimeUnit};
    let ts = TimestampMicrosecondArray::from(vec![1_714_557_600_000_000i64, 1_714_644_000_000_000])
        .with_timezone("Europe/Paris");
    let mut map = MapBuilder::new(None, Int32Builder::new(), StringBuilder::new());
    map.keys().append_value(7);
    map.values().append_value("seven");
    map.append(true).unwrap();
    map.append(true).unwrap();
    let map = map.finish();
    let schema = Arc::new(Schema::new(vec![
        Field::new("ts", DataType::Timestamp(TimeUnit::Microsecond, Some("Europe/Paris".into())), false),
        Field::new("title", DataType::Utf8, true),
        Field::new("attrs", map.data_type().clone(), true),
        Field::new("blob", DataType::Binary, true),
    ]));
    let columns: Vec<ArrayRef> = vec![
        Arc::new(ts),
        Arc::new(StringArray::from(vec![Some("Hat"), None])),
        Arc::new(map),
        Arc::new(BinaryArray::from(vec![Some(&b"\x01\xff"[..]), None])),
    ];
    let batch = RecordBatch::try_new(schema.clone(), columns).unwrap();
    let mut w = parquet::arrow::ArrowWriter::try_new(Vec::new(), schema, None).unwrap();
    w.write(&batch).unwrap();
    let s = ok(w.into_inner().unwrap(), "z.parquet").await;
    assert_eq!(types(&s)[0], ColumnType::Timestamp);
    assert!(s.rows[0]["ts"].as_str().unwrap().starts_with("2024-05-01T12:00:00"), "{:?}", s.rows[0]);
    assert_eq!(s.rows[1]["title"], Value::Null, "nulls kept");
    assert_eq!(s.rows[0]["attrs"], json!({"7": "seven"}));
    assert_eq!(s.rows[0]["blob"], "01ff");
}

#[tokio::test]
async fn avro_zstandard_and_bytes_as_hex() {
    let schema = apache_avro::Schema::parse_str(
        r#"{"type": "record", "name": "r", "fields": [
            {"name": "item_id", "type": "string"}, {"name": "blob", "type": "bytes"},
            {"name": "note", "type": ["null", "string"]}]}"#,
    )
    .unwrap();
    let codec = apache_avro::Codec::Zstandard(Default::default());
    let mut w = apache_avro::Writer::with_codec(&schema, Vec::new(), codec);
    let mut r = apache_avro::types::Record::new(w.schema()).unwrap();
    r.put("item_id", "i1");
    r.put("blob", apache_avro::types::Value::Bytes(vec![1, 255]));
    r.put("note", apache_avro::types::Value::Union(0, Box::new(apache_avro::types::Value::Null)));
    w.append(r).unwrap();
    let s = ok(w.into_inner().unwrap(), "z.avro").await;
    assert_eq!(Value::Object(s.rows[0].clone()), json!({"item_id": "i1", "blob": "01ff", "note": null}));
}

#[tokio::test]
async fn encrypted_parquet_is_named() {
    let mut file = b"PARE".to_vec();
    file.extend([0u8; 32]);
    file.extend(16u32.to_le_bytes());
    file.extend(b"PARE");
    let e = err(file, "secret.parquet", SniffOptions::default()).await;
    assert!(e.to_string().contains("encrypted Parquet"), "{e}");
}

/// Every value of a whole read: `(row, [column values])`.
fn whole_rows(
    batches: impl Iterator<Item = Result<arrow_array::RecordBatch, FormatError>>,
) -> Vec<(u64, Vec<Option<String>>)> {
    use arrow_array::Array;
    let mut out = Vec::new();
    for b in batches {
        let b = b.unwrap();
        let rows = b.column(0).as_any().downcast_ref::<arrow_array::UInt64Array>().unwrap();
        let cols: Vec<_> = (1..b.num_columns())
            .map(|i| arrow_cast::cast(b.column(i), &arrow_schema::DataType::Utf8).unwrap())
            .collect();
        for r in 0..b.num_rows() {
            let vals = cols
                .iter()
                .map(|c| {
                    let s = c.as_any().downcast_ref::<arrow_array::StringArray>().unwrap();
                    (!s.is_null(r)).then(|| s.value(r).to_owned())
                })
                .collect();
            out.push((rows.value(r), vals));
        }
    }
    out
}

fn wanted(names: &[&str]) -> Vec<String> {
    names.iter().map(|s| (*s).to_owned()).collect()
}

#[tokio::test]
async fn a_whole_read_follows_the_sniffed_layout() {
    // A preamble line, a header, a quoted delimiter and newline, a blank line, a short row
    // and more rows than one batch: every row read, numbered from the first data row.
    let mut text =
        String::from("Exported by tool\nitem_id;title;price\n1;\"Hat; red\";9.5\n\n2;\"Two\nlines\";10\n3\n");
    for i in 4..=crate::BATCH_ROWS as u64 + 10 {
        text.push_str(&format!("{i};t{i};{i}.5\n"));
    }
    for c in [Compression::None, Compression::Gzip, Compression::Zstd, Compression::Bz2] {
        let name = format!("items.csv{}", ext(c));
        let bytes = compress(c, "items.csv", text.as_bytes());
        let layout = ok(bytes.clone(), &name).await.layout();
        assert_eq!((layout.format, layout.compression), (FileFormat::Csv, c), "{name}");
        let rows = whole_rows(
            crate::decode(Box::new(std::io::Cursor::new(bytes)), &layout, &wanted(&["price", "item_id", "absent"]))
                .unwrap(),
        );
        assert_eq!(rows.len(), crate::BATCH_ROWS + 10, "{name}");
        assert_eq!(rows[0], (1, vec![Some("9.5".into()), Some("1".into()), None]));
        assert_eq!(rows[1].1[1].as_deref(), Some("2"));
        assert_eq!(rows[2], (3, vec![None, Some("3".into()), None]), "a short row's absent fields are null");
        assert_eq!(rows.last().unwrap().0, crate::BATCH_ROWS as u64 + 10);
    }
}

#[tokio::test]
async fn a_whole_read_of_json_lines_avro_and_parquet() {
    let jl = "{\"item_id\": 1, \"meta\": {\"color\": \"red\"}}\nnot json\n\n{\"item_id\": \"x\", \"price\": 2.5}\n";
    let layout = ok(jl.as_bytes().to_vec(), "i.jsonl").await.layout();
    let rows = whole_rows(
        crate::decode(
            Box::new(std::io::Cursor::new(jl.as_bytes().to_vec())),
            &layout,
            &wanted(&["item_id", "meta.color", "price"]),
        )
        .unwrap(),
    );
    assert_eq!(
        rows,
        vec![
            (1, vec![Some("1".into()), Some("red".into()), None]),
            (2, vec![None, None, None]),
            (3, vec![Some("x".into()), None, Some("2.5".into())]),
        ]
    );

    let bytes = parquet_file(20_000, 3000);
    let (schema, stream) = crate::parquet_batches(
        Arc::new(MemorySource::named(bytes, "u.parquet")),
        &wanted(&["score", "user_id", "nope"]),
    )
    .await
    .unwrap();
    assert_eq!(schema.field(1).data_type(), &arrow_schema::DataType::Float64, "Parquet keeps its types");
    let batches: Vec<_> = futures_util::StreamExt::collect::<Vec<_>>(stream).await;
    let rows = whole_rows(batches.into_iter());
    assert_eq!(rows.len(), 20_000);
    assert_eq!(rows[19_999], (20_000, vec![Some("9999.5".into()), Some("u19999".into()), None]));

    let schema = apache_avro::Schema::parse_str(r#"{"type": "record", "name": "r", "fields": [{"name": "item_id", "type": "string"}, {"name": "price", "type": ["null", "double"]}]}"#).unwrap();
    let mut w = apache_avro::Writer::with_codec(&schema, Vec::new(), apache_avro::Codec::Zstandard(Default::default()));
    for i in 0..10_000 {
        let mut r = apache_avro::types::Record::new(w.schema()).unwrap();
        r.put("item_id", format!("i{i}"));
        r.put("price", apache_avro::types::Value::Union(0, Box::new(apache_avro::types::Value::Null)));
        w.append(r).unwrap();
    }
    let bytes = w.into_inner().unwrap();
    let layout = ok(bytes.clone(), "i.avro").await.layout();
    let rows = whole_rows(
        crate::decode(Box::new(std::io::Cursor::new(bytes)), &layout, &wanted(&["item_id", "price"])).unwrap(),
    );
    assert_eq!(rows.len(), 10_000);
    assert_eq!(rows[9_999], (10_000, vec![Some("i9999".into()), None]));
}

/// One record holding a string of `len` bytes, in a container of that codec.
fn avro_one_long_string(codec: apache_avro::Codec, len: usize) -> Vec<u8> {
    let schema = apache_avro::Schema::parse_str(
        r#"{"type": "record", "name": "r", "fields": [{"name": "item_id", "type": "string"}, {"name": "text", "type": "string"}]}"#,
    )
    .unwrap();
    let mut w = apache_avro::Writer::with_codec(&schema, Vec::new(), codec);
    let mut r = apache_avro::types::Record::new(w.schema()).unwrap();
    r.put("item_id", "i1");
    r.put("text", "a".repeat(len));
    w.append(r).unwrap();
    w.into_inner().unwrap()
}

#[tokio::test]
async fn avro_blocks_inflate_under_a_bound_and_past_a_mebibyte() {
    use apache_avro::Codec;
    // A block of 3 MiB inflated (one long value) reads with every codec: apache-avro alone caps
    // a block at its allocation limit, which had been 1 MiB.
    for codec in [
        Codec::Null,
        Codec::Deflate(Default::default()),
        Codec::Snappy,
        Codec::Zstandard(Default::default()),
        Codec::Bzip2(Default::default()),
    ] {
        let bytes = avro_one_long_string(codec, 3 << 20);
        let layout = match codec {
            // 3 MiB uncompressed is past the preview's budget: the whole read alone is shown.
            Codec::Null => crate::Layout {
                format: FileFormat::Avro,
                compression: Compression::None,
                options: serde_json::Map::new(),
                columns: wanted(&["item_id", "text"]),
            },
            _ => ok(bytes.clone(), "big.avro").await.layout(),
        };
        let rows = whole_rows(
            crate::decode(Box::new(std::io::Cursor::new(bytes)), &layout, &wanted(&["item_id", "text"])).unwrap(),
        );
        assert_eq!(rows.len(), 1, "{codec:?}");
        assert_eq!(rows[0].1[1].as_deref().map(str::len), Some(3 << 20), "{codec:?}");
    }
    // A deflate block of ~20 KB inflating to 20 MiB is refused by name, in a preview and a
    // whole read, before it is held.
    let bomb = avro_one_long_string(Codec::Deflate(Default::default()), 20 << 20);
    assert!(bomb.len() < 100_000, "{}", bomb.len());
    let e = err(bomb.clone(), "bomb.avro", SniffOptions::default()).await.to_string();
    assert!(e.contains("inflates to more than 8388608 bytes"), "{e}");
    let layout = crate::Layout {
        format: FileFormat::Avro,
        compression: Compression::None,
        options: serde_json::Map::new(),
        columns: wanted(&["item_id", "text"]),
    };
    let e = match crate::decode(Box::new(std::io::Cursor::new(bomb)), &layout, &wanted(&["text"])) {
        Err(e) => e.to_string(),
        Ok(mut batches) => batches.next().unwrap().unwrap_err().to_string(),
    };
    assert!(e.contains("inflates to more than 16777216 bytes"), "{e}");
    // A snappy block whose checksum is wrong is corrupt, not silently read.
    let mut bytes = avro_one_long_string(Codec::Snappy, 1000);
    let at = bytes.len() - 17; // the checksum's last byte, before the sync marker
    bytes[at] ^= 0xff;
    let e = err(bytes, "crc.avro", SniffOptions::default()).await.to_string();
    assert!(e.contains("checksum"), "{e}");
}

#[tokio::test]
async fn a_whole_read_names_the_row_it_cannot_read() {
    let mut text = b"item_id,title\n1,a\n2,".to_vec();
    text.extend_from_slice(&[0xff, 0xfe]);
    text.extend_from_slice(b"\n");
    let layout = crate::Layout {
        format: FileFormat::Csv,
        compression: Compression::None,
        options: serde_json::Map::new(),
        columns: wanted(&["item_id", "title"]),
    };
    let mut batches = crate::decode(Box::new(std::io::Cursor::new(text)), &layout, &wanted(&["title"])).unwrap();
    let e = batches.next().unwrap().unwrap_err().to_string();
    assert!(e.contains("data row 2"), "{e}");
    // A gzip stream cut short is named as such.
    let gz = gzip(CSV.repeat(1000).as_bytes());
    let cut = gz[..gz.len() / 2].to_vec();
    let layout = crate::Layout { compression: Compression::Gzip, ..layout };
    let err =
        crate::decode(Box::new(std::io::Cursor::new(cut)), &layout, &wanted(&["title"])).unwrap().find_map(Result::err);
    assert!(err.is_some(), "a truncated gzip stream is an error");
    // A row bounded by what it holds, not what it weighs compressed: 20 MiB of one line in
    // a gzip of a few KiB.
    let mut bomb = b"item_id,title\n1,".to_vec();
    bomb.extend(std::iter::repeat_n(b'a', 20 << 20));
    let e = crate::decode(Box::new(std::io::Cursor::new(gzip(&bomb))), &layout, &wanted(&["title"]))
        .unwrap()
        .find_map(Result::err)
        .unwrap()
        .to_string();
    assert!(e.contains("data row 1 is longer than"), "{e}");
}

#[tokio::test]
async fn a_parquet_footer_of_zero_rows_answers_its_columns_and_says_so() {
    use arrow_schema::{DataType, Field, Schema};
    let schema = Arc::new(Schema::new(vec![Field::new("item_id", DataType::Utf8, false)]));
    let w = parquet::arrow::ArrowWriter::try_new(Vec::new(), schema, None).unwrap();
    let s = ok(w.into_inner().unwrap(), "empty.parquet").await;
    assert_eq!(s.columns.iter().map(|c| c.name.as_str()).collect::<Vec<_>>(), ["item_id"]);
    assert!(s.rows.is_empty());
    assert!(s.warnings.iter().any(|w| w == "no data rows: the file's footer says it holds 0 rows"), "{:?}", s.warnings);
}

/// A footer whose row count (0) disagrees with its row groups' (6), as an old writer left
/// apache/parquet-testing's repeated_no_annotation.parquet: read by its row groups, in a
/// preview and a whole read, and said so (the reader had trusted the footer and yielded none).
#[tokio::test]
async fn a_footer_row_count_that_disagrees_with_the_row_groups_is_read_by_them() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/corpus/files/parquet-testing/data_repeated_no_annotation.parquet");
    let bytes = std::fs::read(path).unwrap();
    let s = ok(bytes.clone(), "phones.parquet").await;
    assert_eq!(s.rows.len(), 6, "{:?}", s.rows);
    assert!(
        s.warnings.iter().any(|w| w.contains("the file's footer says it holds 0 rows where its row groups hold 6")),
        "{:?}",
        s.warnings
    );
    let (_, stream) =
        crate::parquet_batches(Arc::new(MemorySource::named(bytes, "phones.parquet")), &wanted(&["id"])).await.unwrap();
    let batches: Vec<_> = futures_util::StreamExt::collect::<Vec<_>>(stream).await;
    let rows = whole_rows(batches.into_iter());
    assert_eq!(rows.iter().map(|r| r.0).collect::<Vec<_>>(), [1, 2, 3, 4, 5, 6]);
}

/// Text that is not UTF-8 (a spreadsheet's Windows export) is read as Windows-1252 with a
/// warning, or in the encoding declared; the whole read follows the encoding the preview found,
/// so a name with an accent is the same text in both.
#[tokio::test]
async fn text_in_another_encoding_reads_the_same_in_a_preview_and_a_whole_read() {
    let latin1 = b"id,name\n1,Jos\xe9\n2,Zo\xeb\n".to_vec();
    let s = ok(latin1.clone(), "l.csv").await;
    assert_eq!(s.options["encoding"], "windows-1252");
    assert!(s.warnings.iter().any(|w| w.contains("not UTF-8") && w.contains("options.encoding")), "{:?}", s.warnings);
    assert_eq!(s.rows[0]["name"], "José");
    let mut batches =
        crate::decode(Box::new(std::io::Cursor::new(latin1.clone())), &s.layout(), &wanted(&["name"])).unwrap();
    let batch = batches.next().unwrap().unwrap();
    let names = batch.column(1).as_any().downcast_ref::<arrow_array::StringArray>().unwrap();
    assert_eq!((names.value(0), names.value(1)), ("José", "Zoë"));
    // Declared in Python's spelling: no warning; ISO-8859-15 has the euro sign where Latin-1
    // has the currency sign.
    let declared = SniffOptions { encoding: Some("latin-1".into()), ..SniffOptions::default() };
    let s = run(latin1, "l.csv", &declared).await.unwrap();
    assert_eq!((s.options["encoding"].as_str(), s.warnings.len()), (Some("windows-1252"), 0), "{:?}", s.warnings);
    let euro = SniffOptions { encoding: Some("iso-8859-15".into()), ..SniffOptions::default() };
    let s = run(b"id,price\n1,5\xa4\n".to_vec(), "p.csv", &euro).await.unwrap();
    assert_eq!(s.rows[0]["price"], "5€");
    // A UTF-8 byte-order mark before text that is not UTF-8 is no part of its header.
    let s = ok(b"\xef\xbb\xbfid,name\n1,Jos\xe9\n".to_vec(), "b.csv").await;
    assert_eq!(s.columns[0].name, "id", "{:?}", s.columns);
    let eucjp = SniffOptions { encoding: Some("euc-jp".into()), ..SniffOptions::default() };
    let s = run(b"id|name\n1|\xc6\xfc\xcb\xdc\n".to_vec(), "j.csv", &eucjp).await.unwrap();
    assert_eq!(s.rows[0]["name"], "日本");
    // JSON lines too.
    let layout = crate::Layout {
        format: FileFormat::JsonLines,
        compression: Compression::None,
        options: serde_json::json!({"encoding": "windows-1252"}).as_object().unwrap().clone(),
        columns: wanted(&["name"]),
    };
    let lines = b"{\"name\": \"Jos\xe9\"}\n".to_vec();
    let batch = crate::decode(Box::new(std::io::Cursor::new(lines)), &layout, &wanted(&["name"])).unwrap().next();
    let batch = batch.unwrap().unwrap();
    let names = batch.column(1).as_any().downcast_ref::<arrow_array::StringArray>().unwrap();
    assert_eq!(names.value(0), "José");
}

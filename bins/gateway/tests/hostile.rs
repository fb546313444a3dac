//! Hostile files: a corpus of crafted files (generated here, deterministically: gzip, zstd and
//! zip bombs, a Parquet page bomb, deeply nested JSON, an Avro schema nested 14,000 deep, a
//! 10 MB line) uploaded to LOCAL tables of the built server. Each answers WRONG_DATA_TYPE with the table
//! `wrong_specification`, and eight previews of them at once keep the server's peak memory
//! under 256 MiB.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

mod common;

use common::{Server, free_port, peak_rss_kib, wait_healthy};

use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_gateway");
const SECRET: &str = "hostile-test-secret-0123456789abcdef-01234";

fn zeros_line_csv(mib: usize) -> Vec<u8> {
    let mut v = b"item_id,title\n".to_vec();
    v.resize(mib << 20, b'0');
    v
}

/// The corpus: (table name, bytes).
fn corpus() -> Vec<(&'static str, Vec<u8>)> {
    let big = 256usize << 20;
    let gz = {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        let chunk = vec![b'0'; 1 << 20];
        e.write_all(b"item_id,title\n").unwrap();
        for _ in 0..(big >> 20) {
            e.write_all(&chunk).unwrap();
        }
        e.finish().unwrap()
    };
    let zst = {
        let mut e = zstd::stream::write::Encoder::new(Vec::new(), 19).unwrap();
        let chunk = vec![b'0'; 1 << 20];
        e.write_all(b"item_id,title\n").unwrap();
        for _ in 0..(big >> 20) {
            e.write_all(&chunk).unwrap();
        }
        e.finish().unwrap()
    };
    let zip = gateway_testkit::files::zip(&[("items.csv", &zeros_line_csv(64))], true);
    let deep = {
        let mut v = b"{\"item_id\": ".to_vec();
        v.extend(std::iter::repeat_n(b'[', 200_000));
        v.extend(std::iter::repeat_n(b']', 200_000));
        v.extend(b"}\n");
        v
    };
    // An Avro container whose schema nests 14,000 records (900 kB of header).
    let deep_avro = {
        let mut schema = String::from("\"string\"");
        for i in 0..14_000 {
            schema = format!(r#"{{"type":"record","name":"r{i}","fields":[{{"name":"f","type":{schema}}}]}}"#);
        }
        let long = |n: usize| {
            let mut z = (n as u64) << 1;
            let mut out = Vec::new();
            loop {
                let b = (z & 0x7f) as u8;
                z >>= 7;
                if z == 0 {
                    out.push(b);
                    return out;
                }
                out.push(b | 0x80);
            }
        };
        let bytes = |b: &[u8]| [long(b.len()), b.to_vec()].concat();
        let mut v = b"Obj\x01".to_vec();
        v.extend(long(2));
        v.extend(bytes(b"avro.schema"));
        v.extend(bytes(schema.as_bytes()));
        v.extend(bytes(b"avro.codec"));
        v.extend(bytes(b"null"));
        v.extend(long(0));
        v.extend([7u8; 16]);
        v
    };
    let parquet = {
        use arrow_array::{BinaryArray, RecordBatch};
        use arrow_schema::{DataType, Field, Schema};
        let zeros = vec![0u8; 48 << 20];
        let schema = Arc::new(Schema::new(vec![Field::new("item_id", DataType::Binary, false)]));
        let batch =
            RecordBatch::try_new(schema.clone(), vec![Arc::new(BinaryArray::from(vec![zeros.as_slice()]))]).unwrap();
        let props = parquet::file::properties::WriterProperties::builder()
            .set_compression(parquet::basic::Compression::GZIP(Default::default()))
            .set_dictionary_enabled(false)
            .set_data_page_size_limit(1 << 30)
            .build();
        let mut w = parquet::arrow::ArrowWriter::try_new(Vec::new(), schema, Some(props)).unwrap();
        w.write(&batch).unwrap();
        w.into_inner().unwrap()
    };
    vec![
        ("gzip-bomb.csv.gz", gz),
        ("zstd-bomb.csv.zst", zst),
        ("zip-bomb.zip", zip),
        ("deep.jsonl", deep),
        ("deep-schema.avro", deep_avro),
        ("long-line.csv", zeros_line_csv(10)),
        ("page-bomb.parquet", parquet),
        ("hidden-page-bomb.parquet", gateway_testkit::files::parquet_hidden_page_bomb()),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crafted_files_are_refused_within_bounded_memory() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let server = Server(
        Command::new(BIN)
            .env_clear()
            .env("GATEWAY_DATA_DIR", &data)
            .env("GATEWAY_JWT_SECRET", SECRET)
            .env("GATEWAY_LOG", "warn")
            .env("GATEWAY_BIND", format!("127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_healthy(&base).await;
    let out = Command::new(BIN)
        .env_clear()
        .env("GATEWAY_JWT_SECRET", SECRET)
        .args(["token", "--org", "acme", "--role", "backend"])
        .output()
        .unwrap();
    let token = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    let client = reqwest::Client::builder().timeout(Duration::from_secs(60)).build().unwrap();

    let files = corpus();
    for (name, bytes) in &files {
        let table: serde_json::Value = client
            .patch(format!("{base}/connections/LOCAL/tables/{name}/"))
            .bearer_auth(&token)
            .json(&serde_json::json!({"resource": "item"}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let url = table["connection_table_params"]["url"].as_str().unwrap().to_owned();
        let r = client.put(url).body(bytes.clone()).send().await.unwrap();
        let status = r.status().as_u16();
        let body: serde_json::Value = r.json().await.unwrap();
        println!("{name} ({} bytes): {status} {}", bytes.len(), body["message"]);
        assert_eq!(
            (status, body["error_data"]["status"].as_str()),
            (400, Some("wrong_specification")),
            "{name}: {body}"
        );
    }
    drop(files);

    // Eight previews of the bombs at once.
    let before = peak_rss_kib(server.0.id());
    let names =
        ["gzip-bomb.csv.gz", "zstd-bomb.csv.zst", "zip-bomb.zip", "page-bomb.parquet", "hidden-page-bomb.parquet"];
    let mut tasks = Vec::new();
    for i in 0..8 {
        let (client, token, base) = (client.clone(), token.clone(), base.clone());
        let name = names[i % names.len()];
        tasks.push(tokio::spawn(async move {
            client
                .get(format!("{base}/connections/LOCAL/tables/{name}/test/"))
                .bearer_auth(&token)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), 400);
    }
    let peak_mib = peak_rss_kib(server.0.id()) / 1024;
    println!("peak RSS {peak_mib} MiB (before the eight previews: {} MiB)", before / 1024);
    assert!(peak_mib < 256, "the server's peak memory reached {peak_mib} MiB");
}

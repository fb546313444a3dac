//! `make bench` (second part): previews of a 1 MiB and a 1 GiB gzip CSV stored in the S3 peer
//! (moto), through the HTTP API and the S3 connector, as a user would ask for them. Reports
//! the bytes the connector read (the sample's `bytes_read`) and the median time of 5 previews.
//! Then the 1 GiB object's rows read whole through `GET .../rows/` (issue 27: every row served,
//! as Arrow IPC, the body taken as it comes and dropped): rows/s, and the peak RSS the read
//! added to this process (the gateway's, its HTTP client's), which must stay flat: under
//! 128 MiB however large the table.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::io::Write;
use std::time::{Duration, Instant};

use gateway_testkit::{S3Peer, TestApp};
use serde_json::json;

/// Gzip-compressed CSV of at least `size` compressed bytes, written to `path` in parts.
async fn write_gzip_csv(op: &opendal::Operator, path: &str, size: usize) -> usize {
    let mut writer = op.writer_with(path).chunk(16 << 20).await.unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(b"user_id,item_id,rating,timestamp,comment\n").unwrap();
    let (mut written, mut i) = (0usize, 0u64);
    while written < size {
        let mut block = String::with_capacity(1 << 20);
        while block.len() < (1 << 20) {
            let x = i.wrapping_mul(2_654_435_761) % 1_000_003;
            block.push_str(&format!(
                "u{x},i{},{}.{},2024-05-{:02}T10:00:00Z,\"comment {x} {}\"\n",
                x % 9973,
                x % 5,
                x % 10,
                1 + x % 28,
                x.wrapping_mul(31) % 977
            ));
            i += 1;
        }
        gz.write_all(block.as_bytes()).unwrap();
        let out = std::mem::take(gz.get_mut());
        written += out.len();
        if !out.is_empty() {
            writer.write(out).await.unwrap();
        }
    }
    let tail = gz.finish().unwrap();
    written += tail.len();
    writer.write(tail).await.unwrap();
    writer.close().await.unwrap();
    written
}

#[tokio::main]
async fn main() {
    let Some(peer) = S3Peer::get() else {
        println!("the S3 peer is not running: run `make bench`, which starts it");
        std::process::exit(1);
    };
    let op = peer.operator();

    let app = TestApp::builder().allow_private().provider_url("S3", &peer.endpoint).spawn().await.unwrap();
    let api = app.api("bench", "root");
    let creds = json!({"aws_access_key_id": peer.key_id, "aws_secret_access_key": peer.secret, "bucket": peer.bucket});
    assert_eq!(api.put("/connections/S3/", json!({"credentials": creds})).await.status, 200);

    println!("| object | size (bytes) | bytes read | rows | median preview (ms) | the peer's 8-byte ranged GET (ms) |");
    println!("|---|---|---|---|---|---|");
    let mut first: Option<Duration> = None;
    for (label, size) in [("events-1MiB.csv.gz", 1usize << 20), ("events-1GiB.csv.gz", 1usize << 30)] {
        let path = format!("bench/{label}");
        let t = Instant::now();
        let actual = write_gzip_csv(&op, &path, size).await;
        eprintln!("wrote {path} ({actual} bytes) in {:.1} s", t.elapsed().as_secs_f64());
        let mut times = Vec::new();
        let mut last = serde_json::Value::Null;
        for _ in 0..5 {
            let t = Instant::now();
            let r = api
                .post(
                    "/connections/S3/tables/events/test/",
                    json!({"resource": "rating", "connection_table_params": {"path": path}}),
                )
                .await;
            times.push(t.elapsed());
            assert_eq!(r.status, 200, "{:?}", r.body);
            last = r.body;
        }
        times.sort();
        let median = times[2];
        // What one request costs at the peer itself, whatever the gateway does.
        let mut gets = Vec::new();
        for _ in 0..5 {
            let t = Instant::now();
            op.read_with(&path).range(0..8).await.unwrap();
            gets.push(t.elapsed());
        }
        gets.sort();
        let bytes = last["sample"]["bytes_read"].as_u64().unwrap();
        let rows = last["sample"]["rows"].as_array().map_or(0, Vec::len);
        println!(
            "| {label} | {actual} | {bytes} | {rows} | {:.1} | {:.1} |",
            median.as_secs_f64() * 1000.0,
            gets[2].as_secs_f64() * 1000.0
        );
        assert!(bytes < 2 << 20, "read {bytes} bytes");
        if let Some(f) = first {
            println!("\n1 GiB / 1 MiB preview time: {:.2}", median.as_secs_f64() / f.as_secs_f64());
        } else {
            first = Some(median);
        }
        if size == 1 << 30 {
            read_whole(&app, &api, &path, last).await;
        }
        op.delete(&path).await.unwrap();
    }
}

/// A line of `/proc/self/status` in KiB (`VmRSS`, `VmHWM`).
fn status_kb(line: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(line))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// Saves the table as its preview answered and reads its rows whole, every row served (the
/// invalid and repeated ones with `_error`), as Arrow IPC.
async fn read_whole(app: &TestApp, api: &gateway_testkit::Api<'_>, path: &str, preview: serde_json::Value) {
    let table = "/connections/S3/tables/events/";
    assert_eq!(api.patch(table, preview).await.status, 200);
    assert_eq!(path, api.get(table).await.body["connection_table_params"]["path"]);
    // The high-water mark from here on (Linux: 5 in clear_refs resets it).
    let reset = std::fs::write("/proc/self/clear_refs", "5").is_ok();
    let base = status_kb("VmRSS:");
    let t = Instant::now();
    // A client of its own without the test kit's request timeout: the read takes minutes at
    // this peer (each ranged GET of a 1 GiB object costs it most of a second).
    let client = reqwest::Client::new();
    let mut r = client
        .get(format!("{}{table}rows/?format=arrow&invalid=include", app.address))
        .bearer_auth(app.token("bench", "root"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let mut bytes = 0u64;
    while let Some(chunk) = r.chunk().await.unwrap() {
        bytes += chunk.len() as u64;
    }
    let secs = t.elapsed().as_secs_f64();
    let peak = status_kb("VmHWM:");
    let entry = app.api("bench", "root").audited("table.rows_read", 1).await;
    let fields = entry.first().map(gateway_testkit::fields_of).unwrap_or_default();
    let rows: u64 = fields.iter().find_map(|f| f.strip_prefix("rows ")?.parse().ok()).unwrap_or(0);
    assert!(fields.iter().any(|f| f == "completed"), "{fields:?}");
    let added = peak.saturating_sub(base) >> 10;
    println!(
        "\nRows of the 1 GiB object read whole through the API (Arrow IPC, every row): {rows} rows, {:.0} MB served, \
         {:.0} rows/s, {:.0} MB/s; peak RSS {} MiB, {added} MiB over the {} MiB before the read{}",
        bytes as f64 / 1e6,
        rows as f64 / secs,
        bytes as f64 / secs / 1e6,
        peak >> 10,
        base >> 10,
        if reset { "" } else { " (the high-water mark could not be reset: the figure includes the upload)" }
    );
    assert!(rows > 10_000_000, "the whole object was read: {rows} rows");
    assert!(!reset || added < 128, "the read added {added} MiB: memory is not flat");
}

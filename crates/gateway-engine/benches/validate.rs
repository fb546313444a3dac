//! `make bench`: rows/s and peak RSS validating a whole ratings file (CSV, the same gzip'd,
//! and Parquet) with the gateway's engine, side by side in one run with DuckDB computing the
//! same counts on the same file. The two answers must agree, or the bench fails.
//!
//! Files are made once under `target/bench-data/validate-<MB>` (`BENCH_VALIDATE_MB`, default
//! 1024): `user_id,item_id,rating,timestamp`, with a blank user every 100,000 rows, a rating
//! that is no number every 100,001 and a repeated key every 1,000,000. Each measurement runs in
//! a process of its own (this binary with `--one`, DuckDB from the venv's Python), so each
//! peak RSS is its own; the engine runs with the default memory cap (256 MiB), DuckDB with
//! `memory_limit = '256MB'` and 2 threads. For looking into a figure, `--one <file>` runs
//! the engine alone, `BENCH_MEMORY_MB` changes its cap and `BENCH_NO_KEY` leaves the
//! duplicate stage out.
//!
//! Then reads of rows (issue 27): the same files read whole by `gateway_engine::rows` into
//! Arrow IPC and NDJSON (the bytes counted and dropped, as a client would take them), beside
//! DuckDB reading each file into Arrow record batches; without the duplicate rule, then to
//! Arrow with it (its keys spilled past memory as the API's reads spill them: the rows served
//! must be the validation's valid rows). `--rows <file> <format> [keyed]` runs one read alone.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use gateway_domain::{JsonObject, Resource};
use gateway_engine::{
    ByteSource, Columns, Format, FormatError, Invalid, Job, Limits, Progress, RowCounts, RowsJob, Rules,
};

const MEMORY_MB: u64 = 256;

fn row(i: u64) -> (String, String, String, i64) {
    // Every millionth row repeats the key of the row before it; the user is a bijection of
    // the key (mod a prime), so no two other rows share a key.
    let key = if i % 1_000_000 == 999_999 { i - 1 } else { i };
    let user = if i % 100_000 == 99_999 && key == i {
        String::new()
    } else {
        format!("u{}", key.wrapping_mul(2_654_435_761) % 10_000_019)
    };
    let item = format!("i{}", key % 100_003);
    let rating = if i % 100_001 == 100_000 { "x".to_owned() } else { format!("{}", (i % 5) + 1) };
    (user, item, rating, 1_700_000_000 + (i % 86_400) as i64)
}

/// The rows of the first `rows` breaking neither `missing` nor `type`: what a read of rows
/// without the duplicate rule serves (see [`row`]).
fn valid_without_key(rows: u64) -> u64 {
    rows - (0..rows).filter(|i| (i % 100_000 == 99_999 && i % 1_000_000 != 999_999) || i % 100_001 == 100_000).count()
        as u64
}

/// Writes the CSV until it holds `mb` MiB; answers its rows.
fn make_csv(path: &Path, mb: u64) -> u64 {
    let mut w = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(path).unwrap());
    w.write_all(b"user_id,item_id,rating,timestamp\n").unwrap();
    let (mut bytes, mut i) = (0u64, 0u64);
    while bytes < mb << 20 {
        let (u, it, r, ts) = row(i);
        let line = format!("{u},{it},{r},{ts}\n");
        bytes += line.len() as u64;
        w.write_all(line.as_bytes()).unwrap();
        i += 1;
    }
    w.flush().unwrap();
    i
}

fn make_gzip(csv: &Path, path: &Path) {
    let mut input = std::io::BufReader::new(std::fs::File::open(csv).unwrap());
    let out = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    let mut gz = flate2::write::GzEncoder::new(out, flate2::Compression::fast());
    std::io::copy(&mut input, &mut gz).unwrap();
    gz.finish().unwrap().flush().unwrap();
}

fn make_parquet(path: &Path, rows: u64) {
    use arrow_array::{ArrayRef, Int64Array, RecordBatch, StringArray};
    let file = std::fs::File::create(path).unwrap();
    let mut writer: Option<parquet::arrow::ArrowWriter<std::fs::File>> = None;
    let mut file = Some(file);
    let mut start = 0u64;
    while start < rows {
        let end = (start + 1_048_576).min(rows);
        let (mut u, mut it, mut r, mut ts) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for i in start..end {
            let (a, b, c, d) = row(i);
            u.push(a);
            it.push(b);
            r.push(c);
            ts.push(d);
        }
        let batch = RecordBatch::try_from_iter([
            ("user_id", Arc::new(StringArray::from(u)) as ArrayRef),
            ("item_id", Arc::new(StringArray::from(it)) as ArrayRef),
            ("rating", Arc::new(StringArray::from(r)) as ArrayRef),
            ("timestamp", Arc::new(Int64Array::from(ts)) as ArrayRef),
        ])
        .unwrap();
        let w = writer.get_or_insert_with(|| {
            parquet::arrow::ArrowWriter::try_new(file.take().unwrap(), batch.schema(), None).unwrap()
        });
        w.write(&batch).unwrap();
        start = end;
    }
    writer.unwrap().close().unwrap();
}

/// A local file read by range, as a connector's object is.
struct FileSource {
    file: std::fs::File,
    size: u64,
    name: String,
}

#[async_trait::async_trait]
impl ByteSource for FileSource {
    async fn size(&self) -> Result<u64, FormatError> {
        Ok(self.size)
    }

    async fn read(&self, start: u64, end: u64) -> Result<Bytes, FormatError> {
        let end = end.min(self.size);
        let mut buf = vec![0u8; end.saturating_sub(start) as usize];
        self.file.read_exact_at(&mut buf, start).map_err(|e| FormatError::Source(e.to_string()))?;
        Ok(Bytes::from(buf))
    }

    fn name(&self) -> Option<&str> {
        Some(&self.name)
    }
}

fn peak_rss_kb() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// The ratings file at `path` and the rating resource's rules for its columns.
fn ratings(path: &str) -> (Arc<dyn ByteSource>, Rules) {
    let file = std::fs::File::open(path).unwrap();
    let size = file.metadata().unwrap().len();
    let source = FileSource { file, size, name: path.to_owned() };
    let mapping: JsonObject = serde_json::from_value(serde_json::json!({
        "user_id": "user_id", "item_id": "item_id", "rating": "rating", "timestamp": "timestamp"
    }))
    .unwrap();
    (Arc::new(source), Rules::new(Resource::Rating, &mapping, &["user_id", "item_id", "rating"]))
}

/// One validation, in this process: prints `rows invalid seconds peak_kb`.
fn one(path: &str) {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let spill = tempfile::tempdir_in(Path::new(path).parent().unwrap()).unwrap();
    let (source, mut rules) = ratings(path);
    if std::env::var_os("BENCH_NO_KEY").is_some() {
        rules.key.clear();
    }
    let job = Job {
        files: vec![source],
        params: JsonObject::new(),
        rules,
        max_errors: 100,
        max_rows: None,
        limits: Limits {
            memory_bytes: (std::env::var("BENCH_MEMORY_MB").ok().and_then(|v| v.parse().ok()).unwrap_or(MEMORY_MB)
                << 20) as usize,
            spill_dir: spill.path().to_owned(),
            spill_bytes: 64 << 30,
        },
    };
    let started = Instant::now();
    let report = rt.block_on(gateway_engine::validate(job, Arc::new(Progress::default()))).unwrap();
    let secs = started.elapsed().as_secs_f64();
    println!("{} {} {secs:.3} {}", report.rows, report.invalid_rows, peak_rss_kb());
}

/// One read of rows, in this process: prints `rows bytes seconds peak_kb`. `keyed`: with the
/// duplicate rule, its keys spilled past memory as the API's reads spill them.
fn one_read(path: &str, format: &str, keyed: bool) {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let (source, mut rules) = ratings(path);
    let spill = Path::new(path).with_extension("keys");
    let _ = std::fs::remove_dir_all(&spill);
    if !keyed {
        rules.key.clear();
    }
    let job = RowsJob {
        files: vec![source],
        params: JsonObject::new(),
        rules,
        columns: Columns::All,
        invalid: Invalid::Skip,
        max_rows: None,
        // As the API sets it: 16 bytes a key, about as much again for the set's own table.
        max_keys: ((MEMORY_MB << 20) / 40) as usize,
        memory_mb: MEMORY_MB,
        spill: keyed.then(|| gateway_engine::KeySpill { dir: spill.clone(), bytes: 10 << 30 }),
        only: None,
        groups: None,
        format: Format::parse(format).unwrap(),
        byte_cap: None,
        hold: None,
    };
    let counts = Arc::new(RowCounts::default());
    let started = Instant::now();
    let bytes = rt.block_on(async {
        let mut rows = gateway_engine::rows(job, Arc::new(Progress::default()), counts.clone()).await.unwrap();
        let mut bytes = 0u64;
        while let Some(b) = rows.next().await.unwrap() {
            bytes += b.len() as u64;
        }
        bytes
    });
    let secs = started.elapsed().as_secs_f64();
    let _ = std::fs::remove_dir_all(&spill);
    let served = counts.served.load(std::sync::atomic::Ordering::Relaxed);
    println!("{served} {bytes} {secs:.3} {}", peak_rss_kb());
}

/// What each DuckDB script starts with: a connection held to the gateway's budget (256 MiB,
/// both cores) and `src`, the file as DuckDB reads it (CSV as text, as the gateway does).
const DUCKDB_PROLOGUE: &str = r#"
import resource, sys, time, duckdb
path = sys.argv[1]
con = duckdb.connect()
con.execute("SET memory_limit = '256MB'; SET threads = 2; SET enable_progress_bar = false")
src = f"read_parquet('{path}')" if path.endswith(".parquet") else f"read_csv('{path}', header = true, all_varchar = true)"
"#;

/// DuckDB reading a file whole into Arrow record batches: `rows batches seconds peak_kb`.
const DUCKDB_READ: &str = r#"
started = time.time()
reader = con.sql(f"SELECT * FROM {src}").to_arrow_reader(8192)
rows = batches = 0
for batch in reader:
    rows += batch.num_rows
    batches += 1
secs = time.time() - started
print(rows, batches, f"{secs:.3f}", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"#;

const DUCKDB: &str = r#"
con.execute("SET preserve_insertion_order = false")
started = time.time()
rows, invalid = con.execute(f"""
  WITH t AS (SELECT user_id, item_id, CAST(rating AS VARCHAR) AS rating,
                    row_number() OVER (PARTITION BY user_id, item_id) AS k FROM {src})
  SELECT count(*), count(*) FILTER (WHERE coalesce(user_id, '') = '' OR coalesce(item_id, '') = ''
      OR try_cast(rating AS DOUBLE) IS NULL OR NOT isfinite(try_cast(rating AS DOUBLE)) OR k > 1) FROM t
""").fetchone()
secs = time.time() - started
print(rows, invalid, f"{secs:.3f}", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"#;

fn measure(cmd: &mut Command) -> Option<(u64, u64, f64, u64)> {
    let out = match cmd.output() {
        Ok(o) => o,
        Err(e) => {
            println!("  failed to start: {e}");
            return None;
        }
    };
    let text = String::from_utf8_lossy(&out.stdout);
    // The last four fields of the last line that has them (a progress bar may share it).
    let parsed = text.lines().rev().find_map(|line| {
        let f: Vec<&str> = line.split_whitespace().rev().take(4).collect();
        Some((f.get(3)?.parse().ok()?, f.get(2)?.parse().ok()?, f.get(1)?.parse().ok()?, f.first()?.parse().ok()?))
    });
    if !out.status.success() || parsed.is_none() {
        let err = String::from_utf8_lossy(&out.stderr);
        println!("  failed ({}): {}", out.status, err.lines().last().unwrap_or(text.lines().last().unwrap_or("")));
        return None;
    }
    parsed
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--one") {
        return one(&args[i + 1]);
    }
    if let Some(i) = args.iter().position(|a| a == "--rows") {
        return one_read(&args[i + 1], &args[i + 2], args.get(i + 3).is_some_and(|a| a == "keyed"));
    }
    let mb: u64 = std::env::var("BENCH_VALIDATE_MB").ok().and_then(|v| v.parse().ok()).unwrap_or(1024);
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/bench-data").join(format!("validate-{mb}"));
    std::fs::create_dir_all(&root).unwrap();
    let (csv, gz, pq) = (root.join("ratings.csv"), root.join("ratings.csv.gz"), root.join("ratings.parquet"));
    let rows_file = root.join("rows");
    let rows: u64 = match std::fs::read_to_string(&rows_file).ok().and_then(|s| s.trim().parse().ok()) {
        Some(n) if csv.exists() && gz.exists() && pq.exists() => n,
        _ => {
            println!("making {mb} MiB of ratings under {}", root.display());
            let n = make_csv(&csv, mb);
            make_gzip(&csv, &gz);
            make_parquet(&pq, n);
            std::fs::write(&rows_file, n.to_string()).unwrap();
            n
        }
    };
    let python = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.venv/bin/python");
    let duckdb =
        python.exists() && Command::new(&python).args(["-c", "import duckdb"]).status().is_ok_and(|s| s.success());
    if !duckdb {
        println!("SKIPPED: DuckDB is not in .venv (make bench installs it): the comparison is left out");
    }
    let me = std::env::current_exe().unwrap();
    println!("\nValidating {rows} ratings ({mb} MiB as CSV); engine memory cap {MEMORY_MB} MiB\n");
    println!(
        "| file | size (MiB) | engine rows/s | engine peak RSS (MiB) | DuckDB rows/s | DuckDB peak RSS (MiB) | engine / DuckDB rows/s |"
    );
    println!("|---|---|---|---|---|---|---|");
    let mut failed = false;
    // Each file's rows and invalid rows, as the validation counted them.
    let mut counted = std::collections::HashMap::new();
    for path in [&csv, &gz, &pq] {
        let size = std::fs::metadata(path).unwrap().len() >> 20;
        let ours = measure(Command::new(&me).args(["--one", path.to_str().unwrap()]));
        let theirs = if duckdb {
            measure(Command::new(&python).args(["-c", &format!("{DUCKDB_PROLOGUE}{DUCKDB}"), path.to_str().unwrap()]))
        } else {
            None
        };
        let name = path.file_name().unwrap().to_string_lossy();
        let Some((r, invalid, secs, kb)) = ours else {
            println!("| {name} | {size} | failed | | | | |");
            failed = true;
            continue;
        };
        counted.insert(path.to_path_buf(), (r, invalid));
        let ours_rate = r as f64 / secs;
        match theirs {
            Some((dr, dinvalid, dsecs, dkb)) => {
                if (dr, dinvalid) != (r, invalid) {
                    println!(
                        "  MISMATCH on {name}: the engine counted {r} rows, {invalid} invalid; DuckDB {dr}, {dinvalid}"
                    );
                    failed = true;
                }
                let theirs_rate = dr as f64 / dsecs;
                println!(
                    "| {name} | {size} | {ours_rate:.0} | {} | {theirs_rate:.0} | {} | {:.2} |",
                    kb >> 10,
                    dkb >> 10,
                    ours_rate / theirs_rate
                );
            }
            None => println!("| {name} | {size} | {ours_rate:.0} | {} | | | |", kb >> 10),
        }
        if kb >> 10 > MEMORY_MB + 64 {
            println!("  over target: {name} peaked at {} MiB, above the cap plus 64 MiB", kb >> 10);
        }
    }
    println!("\nReading {rows} ratings whole as rows (issue 27): the bytes served, counted and dropped\n");
    println!(
        "| file | served as | rows/s | MB/s served | peak RSS (MiB) | DuckDB to Arrow rows/s | DuckDB peak RSS (MiB) | rows/s / DuckDB's |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for path in [&csv, &gz, &pq] {
        let name = path.file_name().unwrap().to_string_lossy();
        let theirs = if duckdb {
            measure(Command::new(&python).args([
                "-c",
                &format!("{DUCKDB_PROLOGUE}{DUCKDB_READ}"),
                path.to_str().unwrap(),
            ]))
        } else {
            None
        };
        for (format, keyed) in [("arrow", false), ("ndjson", false), ("arrow", true)] {
            let key = if keyed { "keyed" } else { "" };
            let Some((r, bytes, secs, kb)) =
                measure(Command::new(&me).args(["--rows", path.to_str().unwrap(), format, key]))
            else {
                println!("| {name} | {format} {key} | failed | | | | | |");
                failed = true;
                continue;
            };
            let valid = match (keyed, counted.get(path.as_path())) {
                (false, _) => Some(valid_without_key(rows)),
                (true, Some((all, invalid))) => Some(all - invalid),
                (true, None) => None,
            };
            if valid.is_some_and(|v| v != r) {
                println!("  MISMATCH on {name} as {format} {key}: {r} rows served, {valid:?} valid");
                failed = true;
            }
            let format = if keyed { "arrow, keyed" } else { format };
            let rate = r as f64 / secs;
            let mbs = bytes as f64 / secs / 1e6;
            match theirs {
                Some((dr, _, dsecs, dkb)) => {
                    let theirs_rate = dr as f64 / dsecs;
                    println!(
                        "| {name} | {format} | {rate:.0} | {mbs:.0} | {} | {theirs_rate:.0} | {} | {:.2} |",
                        kb >> 10,
                        dkb >> 10,
                        rate / theirs_rate
                    );
                }
                None => println!("| {name} | {format} | {rate:.0} | {mbs:.0} | {} | | | |", kb >> 10),
            }
            // A keyed read holds its keys within the memory setting; the others stay flat.
            let target = if keyed { MEMORY_MB } else { 128 };
            if kb >> 10 > target {
                println!("  over target: {name} as {format} peaked at {} MiB, above {target} MiB", kb >> 10);
            }
        }
    }
    assert!(!failed, "a measurement failed or the counts disagree");
}

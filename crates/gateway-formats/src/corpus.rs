//! The corpus test: real-world files from public repositories (`corpus/`, built by
//! `scripts/corpus.py`, each with its source commit and licence) read as a preview reads
//! them, each held to the answer written down for it in `corpus/manifest.json`: for CSV the
//! dialect (the one DuckDB's `sniff_csv` answers, unless `expect` corrects it with a reason),
//! for Parquet and Avro what pyarrow and fastavro open. It prints the agreement with DuckDB's
//! sniffer and fails on any file that is read otherwise than written down.

use std::sync::Arc;

use serde_json::Value;

use crate::{MemorySource, SniffOptions, sniff};

fn corpus() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus")
}

/// Two quotes agree when they read the file alike: equal, or the file holds neither.
fn same_quote(a: &str, b: &str, text: &[u8]) -> bool {
    let holds = |q: &str| q.bytes().next().is_some_and(|c| text.contains(&c));
    a == b || (!holds(a) && !holds(b))
}

#[tokio::test]
async fn real_world_files_are_read_as_written_down() {
    let manifest: Vec<Value> = serde_json::from_slice(&std::fs::read(corpus().join("manifest.json")).unwrap()).unwrap();
    let (mut csv, mut agree_duckdb, mut binary, mut opened) = (0, 0, 0, 0);
    let mut wrong = Vec::new();
    for e in &manifest {
        let file = e["file"].as_str().unwrap();
        let bytes = std::fs::read(corpus().join("files").join(file)).unwrap();
        let name = file.rsplit('/').next().unwrap();
        let got = sniff(Arc::new(MemorySource::named(bytes.clone(), name)), &SniffOptions::default()).await;
        match e["format"].as_str().unwrap() {
            "CSV" => {
                csv += 1;
                let duckdb = &e["duckdb"];
                let expect = e.get("expect").unwrap_or(duckdb);
                let Ok(s) = got else {
                    let x = got.err().map(|x| x.to_string()).unwrap_or_default();
                    if duckdb["opens"] == false {
                        agree_duckdb += 1;
                    }
                    // A refusal written down (`"opens": false`) holds when the gateway says what it was to say.
                    let says = expect["says"].as_str().unwrap_or("");
                    if expect["opens"] != false || !x.contains(says) {
                        wrong.push(format!("{file}: refused: {x}"));
                    }
                    continue;
                };
                if expect["opens"] == false {
                    wrong.push(format!("{file}: read, though written down as refused"));
                    continue;
                }
                let answer = |d: &Value| {
                    let o = &s.options;
                    o["delimiter"] == d["delimiter"]
                        && same_quote(o["quote"].as_str().unwrap_or(""), d["quote"].as_str().unwrap_or(""), &bytes)
                        && o["header"] == d["header"]
                        && o.get("skip_rows").and_then(Value::as_u64).unwrap_or(0)
                            == d["skip_rows"].as_u64().unwrap_or(0)
                        && s.columns.len() as u64 == d["columns"].as_u64().unwrap_or(0)
                };
                if answer(duckdb) {
                    agree_duckdb += 1;
                }
                if !answer(expect) {
                    wrong.push(format!(
                        "{file}: expected {expect}, answered {:?} with {} columns",
                        s.options,
                        s.columns.len()
                    ));
                }
            }
            format => {
                binary += 1;
                let reference = if format == "PARQUET" { &e["pyarrow"] } else { &e["fastavro"] };
                let expect = e.get("expect").unwrap_or(reference);
                match (&got, expect["opens"].as_bool().unwrap_or(false)) {
                    (Ok(s), true) => {
                        opened += 1;
                        let rows = expect["rows"].as_u64().unwrap_or(0).min(10) as usize;
                        if s.rows.len() != rows {
                            wrong.push(format!(
                                "{file}: {} sample rows, expected {rows} ({:?})",
                                s.rows.len(),
                                s.warnings
                            ));
                        }
                        if let Some(cols) = expect["columns"].as_array() {
                            let names: Vec<&str> = s.columns.iter().map(|c| c.name.as_str()).collect();
                            let want: Vec<&str> = cols.iter().filter_map(Value::as_str).collect();
                            if names != want {
                                wrong.push(format!("{file}: columns {names:?}, expected {want:?}"));
                            }
                        }
                    }
                    (Err(x), false) => {
                        let says = expect["says"].as_str().unwrap_or("");
                        if !x.to_string().contains(says) {
                            wrong.push(format!("{file}: refused with '{x}', expected it to say '{says}'"));
                        }
                    }
                    (Ok(_), false) => wrong.push(format!("{file}: read, though the reference reader refuses it")),
                    (Err(x), true) => wrong.push(format!("{file}: refused: {x}")),
                }
            }
        }
    }
    println!(
        "corpus: {} files; CSV dialect (delimiter, quote, header, skipped lines, columns) as DuckDB's sniff_csv on {agree_duckdb}/{csv}; Parquet and Avro: {opened} of {binary} opened, the others refused as written down",
        manifest.len()
    );
    assert!(wrong.is_empty(), "{} file(s) read otherwise than written down:\n{}", wrong.len(), wrong.join("\n"));
}

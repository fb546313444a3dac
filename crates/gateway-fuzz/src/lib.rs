//! Every parser of bytes a tenant or a provider sends, as fuzz targets: files (the sniffers of
//! every format and compression, a whole read by the sniffed layout, the zip directory, the
//! Parquet page walk), providers' answers (each provider's error mapping, S3's errors and
//! XML), and what arrives with a request (bearer tokens, upload tokens, cursors, JSON bodies).
//!
//! One list, [`TARGETS`]: `fuzz/` (cargo-fuzz, `make fuzz`) runs each for a bounded time, and
//! this crate's test replays the corpus kept under `fuzz/corpus/<target>/` (seeds and every
//! crash found, which stays as a regression test) plus random inputs, in `make test`. A
//! target only has to answer: any panic, hang or runaway allocation is the finding.

use std::sync::Arc;

/// A fuzz target: its name (the folder of its corpus) and what it runs on one input.
#[derive(Debug, Clone, Copy)]
pub struct Target {
    pub name: &'static str,
    pub run: fn(&[u8]),
}

/// Every target.
pub const TARGETS: &[Target] = &[
    Target { name: "sniff", run: sniff },
    Target { name: "whole", run: whole },
    Target { name: "parquet_pages", run: gateway_formats::fuzzing::page_headers },
    Target { name: "avro_blocks", run: gateway_formats::fuzzing::avro_blocks },
    Target { name: "s3_answers", run: gateway_connector_object_store::fuzzing::s3_answers },
    Target { name: "provider_answers", run: provider_answers },
    Target { name: "tokens", run: tokens },
    Target { name: "bodies", run: bodies },
];

/// The target of that name.
pub fn target(name: &str) -> Option<&'static Target> {
    TARGETS.iter().find(|t| t.name == name)
}

/// The names a file may have: the sniffers pick format and compression by name and content.
const NAMES: &[&str] =
    &["t.csv", "t.tsv", "t.jsonl", "t.parquet", "t.avro", "t.csv.gz", "t.zip", "t.csv.zst", "t.csv.bz2", "t"];

/// A file: the first byte picks its name, the rest is its content.
fn named_file(data: &[u8]) -> (Arc<gateway_formats::MemorySource>, &[u8]) {
    let (name, bytes) = match data.split_first() {
        Some((b, rest)) => (NAMES.get(usize::from(*b) % NAMES.len()).copied().unwrap_or("t"), rest),
        None => ("t", data),
    };
    (Arc::new(gateway_formats::MemorySource::named(bytes.to_vec(), name)), bytes)
}

/// Runs `f` on this thread's runtime (one per fuzzing thread).
fn on_runtime(f: impl FnOnce(&tokio::runtime::Runtime)) {
    thread_local! {
        static RUNTIME: Option<tokio::runtime::Runtime> =
            tokio::runtime::Builder::new_current_thread().enable_time().build().ok();
    }
    RUNTIME.with(|rt| {
        if let Some(rt) = rt {
            f(rt);
        }
    });
}

/// The sniff's bounds, smaller than the defaults so each input runs fast.
fn fuzz_sniff_options() -> gateway_formats::SniffOptions {
    gateway_formats::SniffOptions { budget: 256 * 1024, max_decompressed: 512 * 1024, ..Default::default() }
}

fn sniff(data: &[u8]) {
    let (source, _) = named_file(data);
    on_runtime(|rt| {
        let _ = rt.block_on(gateway_formats::sniff(source, &fuzz_sniff_options()));
    });
}

/// A file read whole (the data plane's input): sniffed, then every batch decoded by the
/// layout the sniff found, every column asked for plus one the file lacks.
fn whole(data: &[u8]) {
    let (source, bytes) = named_file(data);
    on_runtime(|rt| {
        let Ok(sniffed) = rt.block_on(gateway_formats::sniff(source.clone(), &fuzz_sniff_options())) else { return };
        let layout = sniffed.layout();
        let mut wanted = layout.columns.clone();
        wanted.push("absent".into());
        if layout.format == gateway_domain::FileFormat::Parquet {
            if let Ok((_, mut stream)) = rt.block_on(gateway_formats::parquet_batches(source, &wanted)) {
                while rt.block_on(futures_util::StreamExt::next(&mut stream)).is_some() {}
            }
        } else if let Ok(batches) =
            gateway_formats::decode(Box::new(std::io::Cursor::new(bytes.to_vec())), &layout, &wanted)
        {
            batches.for_each(drop);
        }
    });
}

/// One answer, through every provider's error mapping.
fn provider_answers(data: &[u8]) {
    gateway_connector_engagement::fuzzing::provider_answers(data);
    gateway_connector_cdp::fuzzing::provider_answers(data);
    gateway_connector_crm::fuzzing::provider_answers(data);
    gateway_connector_commerce::fuzzing::provider_answers(data);
    gateway_connector_warehouse::fuzzing::provider_answers(data);
}

/// What a request carries as text: a bearer token, an upload URL's token, a page cursor; and
/// what a provider's paging answers as text: a next link, a streamed body's lines.
fn tokens(data: &[u8]) {
    gateway_http::fuzzing::bearer(data);
    let text = String::from_utf8_lossy(data);
    static KEY: std::sync::OnceLock<gateway_service::UploadKey> = std::sync::OnceLock::new();
    let key = KEY.get_or_init(|| gateway_service::UploadKey::derive(b"fuzzing-upload-key-0123456789abcdef"));
    let _ = gateway_service::verify_upload_token(key, &text);
    let _ = gateway_domain::PageCursor::parse(&text);
    // A provider's next-page link and a streamed body's lines (split where the first byte says).
    let _ = gateway_connector::paging::cursor_of(&text, "/api/lists/x/profiles", "page[cursor]", "fuzz");
    let _ = gateway_connector::paging::link_next(&text);
    let cut = data.first().map_or(0, |b| usize::from(*b) % data.len().max(1));
    let (a, b) = data.split_at(cut);
    let mut lines = gateway_connector::paging::Lines::new(64, "fuzz");
    let mut take = |l: &[u8]| Ok(!l.starts_with(b"stop"));
    if lines.push(a, &mut take).unwrap_or(false) && lines.push(b, &mut take).unwrap_or(false) {
        let _ = lines.finish(&mut take);
    }
}

/// A JSON body, as each write endpoint parses it.
fn bodies(data: &[u8]) {
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(data) else { return };
    let kind = gateway_domain::ConnectionKind::S3;
    if let Ok(name) = gateway_domain::TableName::parse("t.csv") {
        let _ = gateway_domain::TablePatch::from_json(value.clone(), kind, &name);
    }
    let _ = gateway_domain::ConnectionPut::from_json(value.clone(), kind);
    if let Ok(id) = gateway_domain::WebhookId::parse("ops") {
        let _ = gateway_domain::WebhookPut::from_json(value.clone(), &id);
    }
    let _ = gateway_domain::CredentialsTest::from_json(value);
}

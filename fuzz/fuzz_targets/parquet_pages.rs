#![no_main]
//! `gateway_fuzz::TARGETS`' parquet_pages.

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Some(t) = gateway_fuzz::target("parquet_pages") {
        (t.run)(data);
    }
});

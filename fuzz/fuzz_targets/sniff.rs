#![no_main]
//! `gateway_fuzz::TARGETS`' sniff.

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Some(t) = gateway_fuzz::target("sniff") {
        (t.run)(data);
    }
});

#![no_main]
//! `gateway_fuzz::TARGETS`' tokens.

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Some(t) = gateway_fuzz::target("tokens") {
        (t.run)(data);
    }
});

#![no_main]
//! `gateway_fuzz::TARGETS`' bodies.

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Some(t) = gateway_fuzz::target("bodies") {
        (t.run)(data);
    }
});

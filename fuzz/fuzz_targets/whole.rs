#![no_main]
//! `gateway_fuzz::TARGETS`' whole.

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Some(t) = gateway_fuzz::target("whole") {
        (t.run)(data);
    }
});

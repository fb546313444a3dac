#![no_main]
//! `gateway_fuzz::TARGETS`' provider_answers.

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Some(t) = gateway_fuzz::target("provider_answers") {
        (t.run)(data);
    }
});

#![no_main]
//! `gateway_fuzz::TARGETS`' s3_answers.

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Some(t) = gateway_fuzz::target("s3_answers") {
        (t.run)(data);
    }
});

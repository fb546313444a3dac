#![no_main]
//! `gateway_fuzz::TARGETS`' avro_blocks.

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Some(t) = gateway_fuzz::target("avro_blocks") {
        (t.run)(data);
    }
});

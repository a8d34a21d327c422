#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| dynamic_byoa::fuzzing::elevated_token(data));

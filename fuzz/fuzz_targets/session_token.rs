#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| dynamic_byoa::fuzzing::session_token(data));

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| dynamic_byoa::fuzzing::external_jwt(data));

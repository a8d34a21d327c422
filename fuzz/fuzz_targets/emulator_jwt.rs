#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| dynamic_byoa_emulator::fuzzing::external_jwt(data));

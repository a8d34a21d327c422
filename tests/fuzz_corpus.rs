//! Replays every committed fuzz corpus file (`fuzz/corpus/<target>/`) through the same entry
//! points the libFuzzer targets call, on stable Rust: CI keeps the ground the fuzzer gained
//! without running a fuzzer. A crash the fuzzer finds is fixed and its input added here.

use std::path::Path;

use dynamic_byoa::fuzzing;

fn replay(target: &str, run: fn(&[u8])) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.expect("readable corpus entry").path())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "the {target} corpus is empty");
    for file in files {
        let data = std::fs::read(&file).expect("readable corpus file");
        run(&data);
    }
}

#[test]
fn the_external_jwt_corpus_replays() {
    replay("external_jwt", fuzzing::external_jwt);
}

#[test]
fn the_stored_record_corpus_replays() {
    replay("stored_record", fuzzing::stored_record);
}

#[test]
fn the_der_signature_corpus_replays() {
    replay("der_signature", fuzzing::der_signature);
}

#[test]
fn the_client_urls_corpus_replays() {
    replay("client_urls", fuzzing::client_urls);
}

#[test]
fn the_response_corpus_replays() {
    replay("response", fuzzing::response);
}

#[test]
fn the_step_up_assertion_corpus_replays() {
    replay("step_up_assertion", fuzzing::step_up_assertion);
}

#[test]
fn the_session_token_corpus_replays() {
    replay("session_token", fuzzing::session_token);
}

#[test]
fn the_elevated_token_corpus_replays() {
    replay("elevated_token", fuzzing::elevated_token);
}

#[test]
fn the_software_key_record_corpus_replays() {
    replay("software_key_record", fuzzing::software_key_record);
}

#[test]
fn the_emulator_jwt_corpus_replays() {
    replay("emulator_jwt", dynamic_byoa_emulator::fuzzing::external_jwt);
}

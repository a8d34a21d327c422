#!/usr/bin/env bash
# Fuzzes every parser the network or the disk can reach (fuzz/fuzz_targets), each for the given
# seconds (default 60), starting from the committed corpora (fuzz/corpus/<target>), and prints
# executions, coverage and crashes per target. New corpus entries stay in fuzz/corpus; a crash
# is left in fuzz/artifacts/<target>/ and fails the script.
#   scripts/fuzz.sh [seconds per target]
# Needs the nightly toolchain (rustup) and cargo-fuzz (installed when absent). Not part of
# scripts/test.sh: the corpora are replayed on stable by tests/fuzz_corpus.rs.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-60}
command -v cargo-fuzz >/dev/null 2>&1 || cargo install --locked cargo-fuzz
rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal

targets=$(sed -n 's/^name = "\(.*\)"$/\1/p' fuzz/Cargo.toml | grep -v '^dynamic-byoa-fuzz$')
cargo +nightly fuzz build --release >&2
printf '| target | seconds | executions | exec/s | coverage | corpus | crashes |\n'
printf '| --- | --- | --- | --- | --- | --- | --- |\n'
failed=0
for target in $targets; do
  log=$(mktemp)
  status=0
  cargo +nightly fuzz run --release "$target" "fuzz/corpus/$target" -- \
    -max_total_time="$seconds" -print_final_stats=1 -max_len=16384 >"$log" 2>&1 || status=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
  corpus=$(find "fuzz/corpus/$target" -type f | wc -l)
  crashes=$(find "fuzz/artifacts/$target" -type f 2>/dev/null | wc -l)
  printf '| %s | %s | %s | %s | %s | %s | %s |\n' "$target" "$seconds" "${execs:-?}" \
    "${rate:-?}" "${cov:-?}" "$corpus" "$crashes"
  if [[ $status -ne 0 || $crashes -gt 0 ]]; then
    failed=1
    tail -30 "$log" >&2
  fi
  rm -f "$log"
done
exit "$failed"

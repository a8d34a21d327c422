#!/usr/bin/env bash
# Per-call cost from Kotlin (bindings/kotlin CallBenchmark through JNA) against the release
# library, printed as a markdown table for scripts/bench.sh. With a byoa-bench table (the same
# bench.sh run), the async call is set against the same call from Rust ("the hop onto the
# library runtime and back": auth().restore() once settled, median).
#   scripts/kotlin-bench.sh [<library dir, default target/release>] [<byoa-bench table.md>]
# Needs JDK 17+ and Maven (downloads into ~/.m2 on the first run). BYOA_KOTLIN_BENCH_CALLS (2000).
set -euo pipefail
cd "$(dirname "$0")/.."
library_dir="${1:-target/release}"
table="${2:-}"
[[ "$library_dir" = /* ]] || library_dir="$PWD/$library_dir"
[[ -e "$library_dir/libdynamic_byoa.so" ]] || { echo "kotlin-bench: no $library_dir/libdynamic_byoa.so" >&2; exit 1; }
export MAVEN_OPTS="${MAVEN_OPTS:--XX:TieredStopAtLevel=1 -XX:+UseParallelGC}"
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
if ! mvn -B -f bindings/kotlin/pom.xml test -Dtest=CallBenchmark -Dbyoa.bench=true -Dsurefire.failIfNoSpecifiedTests=false \
    -Dbyoa.bench.calls="${BYOA_KOTLIN_BENCH_CALLS:-2000}" -Dkotlin.compiler.daemon=false \
    -Dbyoa.library.dir="$library_dir" >"$log" 2>&1; then
  tail -40 "$log" >&2
  echo "kotlin-bench: the Kotlin benchmark failed" >&2
  exit 1
fi
line="$(grep -o 'KOTLIN-BENCH .*' "$log" | tail -1)"
[[ -n "$line" ]] || { echo "kotlin-bench: no result line" >&2; exit 1; }
field() { sed -E "s/.* $1=([^ ]+).*/\1/" <<<"$line"; }

rust_hop=""
if [[ -n "$table" && -f "$table" ]]; then
  # The native column of row 2's "hop" line, e.g. "101.1 µs".
  rust_hop="$(grep 'the hop onto the library runtime' "$table" | head -1 | awk -F'|' '{print $4}' | sed -E 's/^ *([0-9.]+) *µs.*/\1/')"
fi
ratio="—"
rust_cell="— (run by scripts/bench.sh for the Rust figure)"
if [[ "$rust_hop" =~ ^[0-9.]+$ ]]; then
  rust_cell="$rust_hop µs (Rust, row 2's hop, same run)"
  ratio="Kotlin ÷ Rust ×$(echo "scale=2; $(field async_median_us) / $rust_hop" | bc)"
fi

echo "| # | measurement | Kotlin (JNA, JVM $(field jvm)) | Rust | ratio | spread, notes |"
echo "| --- | --- | --- | --- | --- | --- |"
echo "| K1 | K1. Exported async call with no I/O (\`auth().restore()\` once settled), median of $(field calls) | $(field async_median_us) µs | $rust_cell | $ratio | p90 $(field async_p90_us) µs; $(field async_alloc_bytes) B allocated per call (all JVM threads) |"
echo "| K2 | K2. Exported async call making one storage callback from a library thread (\`auth().signOut()\` while signed out), median of $(field calls) | $(field callback_median_us) µs | — | — | p90 $(field callback_p90_us) µs; $(field callback_alloc_bytes) B per call; $(field storage_callbacks) callbacks ran on $(field callback_threads) distinct threads |"
echo "| K3 | K3. Exported sync call (\`auth().state()\`), median of $(field calls) | $(field sync_median_us) µs | — | — | p90 $(field sync_p90_us) µs; $(field sync_alloc_bytes) B allocated per call |"
echo "| K4 | K4. JVM threads over the three loops | $(field jvm_threads_started) started; $(field attached_callback_threads) attached dynamic-byoa-callback threads | — | — | JNA keeps each Rust thread attached (scripts/kotlin-postgen.sh); without it (measured 2026-12-01) K2 ran 2000 callbacks on 2000 threads, started 4130 JVM threads and took 509 µs per call instead of 235 µs |"

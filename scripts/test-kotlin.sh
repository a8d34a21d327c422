#!/usr/bin/env bash
# The Kotlin bindings on the JVM: compiles the generated Kotlin, the hand-written layer and the
# Android adapters (against android-all) with Maven, and runs the JUnit suite through the real
# host library against the real `byoa emulator` binary, with the built-in reqwest transport
# and with the OkHttp transport (both in one surefire run: DefaultTransportTest, OkHttpTransportTest).
# `mvn install`: a green run also puts the bindings jar and its test-jar (the test support) into
# ~/.m2, where the React Native module's JVM tests (scripts/test-react-native-android.sh) take them.
# Needs JDK 17+ and Maven 3.8+; downloads go to the usual ~/.m2 (about 300 MB the first time).
# Prerequisite: `cargo build -q --workspace --all-targets` (the library and the CLI).
#   scripts/test-kotlin.sh                 the suite
#   scripts/test-kotlin.sh -Dtest=Name     extra Maven arguments are passed through
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"
target_dir="${CARGO_TARGET_DIR:-$root/target}"
[[ "$target_dir" = /* ]] || target_dir="$root/$target_dir"

for built in "$target_dir/debug/libdynamic_byoa.so" "$target_dir/debug/byoa"; do
  if [[ ! -e "$built" ]]; then
    echo "test-kotlin: $built is missing: run cargo build -q --workspace --all-targets first" >&2
    exit 1
  fi
done
command -v mvn >/dev/null || { echo "test-kotlin: mvn (Maven 3.8+) is not on PATH" >&2; exit 1; }

# A quick JVM for Maven itself; the compiler daemon off (it would outlive Maven for hours).
export MAVEN_OPTS="${MAVEN_OPTS:--XX:TieredStopAtLevel=1 -XX:+UseParallelGC}"
reports=bindings/kotlin/target/surefire-reports
rm -rf "$reports"
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
# Maven's own output goes to the log; what CI needs to see (each class's "Tests run:" line, the
# summary, failures, the callback-thread count) is printed as it comes.
set +e
mvn -B -f bindings/kotlin/pom.xml install \
  -Dkotlin.compiler.daemon=false \
  -Dbyoa.library.dir="$target_dir/debug" \
  -Dbyoa.cli="$target_dir/debug/byoa" \
  "$@" 2>&1 | tee "$log" | grep --line-buffered -E 'Tests run:|FAIL|BUILD|\[ERROR\]|^callback threads|Total time'
status=${PIPESTATUS[0]}
set -e

# Count what ran from the reports: a misconfigured surefire runs zero tests and passes.
count() { cat "$reports"/TEST-*"$1"*.xml 2>/dev/null | grep -o '<testsuite [^>]*' | sed -E 's/.* tests="([0-9]+)".*/\1/' | paste -sd+ - | bc; }
total="$(count '' || true)"; total="${total:-0}"
echo "test-kotlin: $total Kotlin tests ran (default transport: $(count DefaultTransportTest || echo 0), OkHttp transport: $(count OkHttpTransportTest || echo 0))"
if [[ "$status" -ne 0 ]]; then
  echo "test-kotlin: FAILED (mvn exit $status)" >&2
  exit "$status"
fi
if [[ "$total" -eq 0 ]]; then
  echo "test-kotlin: no Kotlin test ran" >&2
  exit 1
fi
if [[ $# -eq 0 ]] && { [[ "$(count DefaultTransportTest || echo 0)" -eq 0 ]] || [[ "$(count OkHttpTransportTest || echo 0)" -eq 0 ]]; }; then
  echo "test-kotlin: the suite did not run with both transports" >&2
  exit 1
fi

#!/usr/bin/env bash
# The React Native package's Android module on the JVM: generates the Java spec from the package's
# own spec with the pinned @react-native/codegen (react-native/scripts/codegen-android.mjs), then
# Maven (react-native/android-tests) compiles the Kotlin module against react-android 0.86's classes
# and android-all, and runs its Robolectric tests through the real host library against the real
# `byoa emulator` binary: the scenario table (react-native/scenarios/native-module.json) and the
# module's own rules. Prints each class's "Tests run:" line and a closing count from the reports.
# Needs JDK 17+, Maven 3.8+, Node.js 20.19+; the first run downloads ~850 MB into ~/.m2.
# Prerequisites: `cargo build -q --workspace --all-targets` (the library and the CLI) and
# `bash scripts/test-kotlin.sh` (it installs the Kotlin bindings jar and test-jar into ~/.m2).
#   scripts/test-react-native-android.sh                  the suite
#   scripts/test-react-native-android.sh -Dtest=Name      extra Maven arguments are passed through
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"
target_dir="${CARGO_TARGET_DIR:-$root/target}"
[[ "$target_dir" = /* ]] || target_dir="$root/$target_dir"
name=test-react-native-android

for built in "$target_dir/debug/libdynamic_byoa.so" "$target_dir/debug/byoa"; do
  if [[ ! -e "$built" ]]; then
    echo "$name: $built is missing: run cargo build -q --workspace --all-targets first" >&2
    exit 1
  fi
done
command -v mvn >/dev/null || { echo "$name: mvn (Maven 3.8+) is not on PATH" >&2; exit 1; }
command -v node >/dev/null || { echo "$name: node (Node.js 20.19+) is not on PATH" >&2; exit 1; }
m2="${MAVEN_REPO_LOCAL:-$HOME/.m2/repository}"
if [[ ! -e "$m2/xyz/dynamic/dynamic-byoa/0.1.0-SNAPSHOT/dynamic-byoa-0.1.0-SNAPSHOT-tests.jar" ]]; then
  echo "$name: the Kotlin bindings jar is not in $m2: run bash scripts/test-kotlin.sh first (it installs it)" >&2
  exit 1
fi

# The package ships the bindings as sources, so it carries their consumer R8 rules itself: the rule
# lines must be the bindings' own.
rules() { grep -v '^#' "$1" | grep -v '^[[:space:]]*$'; }
if ! diff <(rules bindings/kotlin/consumer-rules.pro) <(rules react-native/android/consumer-rules.pro) >/dev/null; then
  echo "$name: react-native/android/consumer-rules.pro differs from bindings/kotlin/consumer-rules.pro: copy the rules over" >&2
  exit 1
fi

if [[ ! -d react-native/node_modules/@react-native/codegen ]]; then
  (cd react-native && npm ci --ignore-scripts --no-audit --no-fund >/dev/null)
fi
node react-native/scripts/codegen-android.mjs

export MAVEN_OPTS="${MAVEN_OPTS:--XX:TieredStopAtLevel=1 -XX:+UseParallelGC}"
tests=react-native/android-tests/module-tests
rm -rf "$tests/target/surefire-reports"
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
# failIfNoTests (the repackaging modules' surefire 2.12) and surefire.failIfNoSpecifiedTests
# (module-tests' surefire 3): a -Dtest=Name names no test in the other modules.
run_maven() {
  mvn -B "$@" -f react-native/android-tests/pom.xml test \
    -Dkotlin.compiler.daemon=false -DfailIfNoTests=false -Dsurefire.failIfNoSpecifiedTests=false \
    -Dbyoa.library.dir="$target_dir/debug" \
    -Dbyoa.cli.binary="$target_dir/debug/byoa" >"$log" 2>&1
}
# Offline first (everything is in ~/.m2 after the first run: no repository round trips); online
# again only when something was missing from ~/.m2.
set +e
run_maven -o "$@"
status=$?
if [[ "$status" -ne 0 ]] && grep -q 'offline mode' "$log"; then
  run_maven "$@"
  status=$?
fi
set -e
grep -E 'Tests run:|FAIL' "$log" || true

# Count from the reports: a misconfigured surefire runs zero tests and passes.
attr() { cat "$tests"/target/surefire-reports/TEST-*.xml 2>/dev/null | grep -o '<testsuite [^>]*' | sed -E "s/.* $1=\"([0-9]+)\".*/\\1/" | paste -sd+ - | bc; }
total="$(attr tests || true)"; total="${total:-0}"
failures="$(attr failures || true)"; errors="$(attr errors || true)"; skipped="$(attr skipped || true)"
failed=$(( ${failures:-0} + ${errors:-0} ))
passed=$(( total - failed - ${skipped:-0} ))
if [[ "$status" -ne 0 ]]; then
  # Maven's own output only when it matters: the failed tests' assertion texts (they name no
  # token: the tests redact anything token-shaped), else the compile or resolution errors.
  if grep -q 'T E S T S' "$log"; then
    sed -n '/T E S T S/,/^\[INFO\] Results:/p' "$log" | grep -vE '^\[(INFO|WARNING)\]|^\[Robolectric\]|Tests run:' | head -n 150 >&2
  else
    grep -E '^\[ERROR\]' "$log" | head -n 60 >&2
  fi
fi
echo "react-native android: $passed passed, $failed failed"
if [[ "$status" -ne 0 ]]; then
  echo "$name: FAILED (mvn exit $status)" >&2
  exit "$status"
fi
if [[ "$total" -eq 0 ]]; then
  echo "$name: no test ran" >&2
  exit 1
fi

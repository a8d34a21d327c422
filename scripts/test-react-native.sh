#!/usr/bin/env bash
# The React Native package's checks (react-native/), after `cargo build -q --workspace --all-targets`:
#   1. the generated code list and the bridge fixtures match the Rust core (drift check);
#   2. npm ci (package-lock.json), tsc --noEmit (the package, the tests and the example screen),
#      eslint;
#   3. jest: unit (the spec mocked with the bridge's own payloads) and end to end (the spec
#      implemented by byoa-rn-test-host over real clients, against the emulator it starts);
#   4. bob build, the codegen schema check with the oldest supported codegen (0.80.x) and the
#      pinned one (0.86.x), the pack-time folders filled (scripts/package-react-native.sh
#      --sources-only), npm pack --dry-run with its contents asserted.
# Prints each step's time and the test counts.
#
#   bash scripts/test-react-native.sh            # everything
#   bash scripts/test-react-native.sh --update   # rewrite the generated file and fixtures from Rust
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
package="$root/react-native"
bin_dir="${BYOA_BIN_DIR:-$root/target/debug}"
host="$bin_dir/byoa-rn-test-host"
generated="$package/src/generated/rustErrorCodes.ts"
fixtures="$package/src/__fixtures__/bridge-samples.json"

for binary in "$host" "$bin_dir/byoa"; do
  if [[ ! -x "$binary" ]]; then
    echo "test-react-native: $binary is missing; run \`cargo build -q --workspace --all-targets\` first" >&2
    exit 1
  fi
done

if [[ "${1:-}" == "--update" ]]; then
  "$host" --generated-ts >"$generated"
  "$host" --bridge-samples >"$fixtures"
  echo "rewrote ${generated#"$root"/} and ${fixtures#"$root"/} from the Rust core"
  exit 0
fi

export BYOA_BIN_DIR="$bin_dir"
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
started=$(date +%s%N)
step_started=$started

step() {
  local now
  now=$(date +%s%N)
  printf '  %-44s %6.1f s\n' "$1" "$(((now - step_started) / 1000000))e-3"
  step_started=$now
}

echo "== react-native: TypeScript package"

# 1. Drift: a new Rust code (or payload shape) fails here until the TypeScript side is updated.
if ! "$host" --generated-ts | diff -u "$generated" - >"$scratch/drift"; then
  cat "$scratch/drift"
  echo "test-react-native: ${generated#"$root"/} differs from dynamic_byoa::ERROR_CODES;" \
    "run \`bash scripts/test-react-native.sh --update\`, then map the new code in src/errors.ts" >&2
  exit 1
fi
if ! "$host" --bridge-samples | diff -u "$fixtures" - >"$scratch/drift"; then
  cat "$scratch/drift"
  echo "test-react-native: ${fixtures#"$root"/} differs from the Rust bridge's payloads;" \
    "run \`bash scripts/test-react-native.sh --update\`" >&2
  exit 1
fi
step "generated code list and fixtures match Rust"

cd "$package"
# Scripts off: `prepare` (bob build) runs below as its own step; no dependency needs an
# install script.
npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >"$scratch/npm-ci.log" 2>&1 ||
  { cat "$scratch/npm-ci.log"; exit 1; }
step "npm ci"

npx tsc --noEmit
step "tsc --noEmit (package, tests, example)"

npx eslint .
step "eslint"

# "passed failed skipped" from jest's JSON report; a suite that could not run counts as a
# failure, and no report at all fails the script.
count() {
  if [[ ! -s "$1" ]]; then
    echo "test-react-native: jest wrote no report ($1)" >&2
    exit 1
  fi
  node -e '
    const r = require(process.argv[1]);
    const failed = r.numFailedTests + r.numFailedTestSuites;
    console.log(`${r.numPassedTests} ${failed} ${r.numPendingTests}`);
  ' "$1"
}

npx jest --selectProjects unit --json --outputFile="$scratch/unit.json" 2>&1 | grep -v '^\s*✓' || true
counts="$(count "$scratch/unit.json")"
read -r unit_passed unit_failed unit_skipped <<<"$counts"
step "jest unit (spec mocked)"

npx jest --selectProjects e2e --json --outputFile="$scratch/e2e.json" 2>&1 | grep -v '^\s*✓' || true
counts="$(count "$scratch/e2e.json")"
read -r e2e_passed e2e_failed e2e_skipped <<<"$counts"
step "jest e2e (real core, emulator)"

npx bob build >"$scratch/bob.log" 2>&1 || { cat "$scratch/bob.log"; exit 1; }
step "bob build"

node scripts/check-codegen.mjs
step "codegen schema check (0.80.x, 0.86.x)"

# The pack-time folders (the bindings' sources; binaries where built) as a release fills them.
bash "$root/scripts/package-react-native.sh" --sources-only >"$scratch/package.log" 2>&1 ||
  { cat "$scratch/package.log"; exit 1; }
grep 'not built' "$scratch/package.log" | sed 's/^/  /' || true
node scripts/check-pack.mjs
step "npm pack --dry-run"

total=$((unit_passed + e2e_passed))
failed=$((unit_failed + e2e_failed))
echo "  jest unit: $unit_passed passed, $unit_failed failed, $unit_skipped skipped"
echo "  jest e2e:  $e2e_passed passed, $e2e_failed failed, $e2e_skipped skipped"
printf '  TypeScript part took %.1f s\n' "$((($(date +%s%N) - started) / 1000000))e-3"
echo "react-native: $total passed, $failed failed"
[[ "$failed" -eq 0 && "$unit_passed" -gt 0 && "$e2e_passed" -gt 0 ]]

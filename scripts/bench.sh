#!/usr/bin/env bash
# The benchmarks, side by side in one run, printed as one markdown table (`docs/benchmarks.md`):
#   1. preflight cost per external JWT (criterion, benches/preflight.rs)
#   2. steady-state sign-in latency: DynamicClient (built-in reqwest, and an HttpTransport of the
#      bench's own) vs a raw reqwest POST, same loopback emulator; the client's own work and the
#      runtime hop per call
#   3. cold start to a signed-in session: native program vs Dynamic's JS SDK in Node
#   4. peak RSS of both programs of 3
#   5. size of the stripped library, default and mobile (--no-default-features) builds, and the
#      largest contributors of each (cargo-bloat)
#   6. restore from storage to a signed-in state, without the network
#   7. access_token() with a fresh bearer, and a step-up over loopback
#   K. Kotlin through JNA: the async call of 2 and a sync call, per call, with callback threads
#      and allocation (scripts/kotlin-bench.sh; needs Maven and a JDK, skipped without them)
# Not part of scripts/test.sh: benchmarks print, humans judge.
#
# Needs cargo, Node.js 20+ with npm; installs cargo-bloat (crates.io) when absent and the JS
# side from benches/js/package-lock.json. Knobs: BYOA_BENCH_SIGNINS (1000),
# BYOA_BENCH_COLD_RUNS (10), CARGO_BUILD_JOBS (set it to 1 on a busy machine).
# The report is also written to target/bench/report.md.
set -euo pipefail
cd "$(dirname "$0")/.."

signins=${BYOA_BENCH_SIGNINS:-1000}
cold_runs=${BYOA_BENCH_COLD_RUNS:-10}
out=target/bench
mkdir -p "$out"

need() {
  command -v "$1" >/dev/null 2>&1 || { echo "bench.sh: '$1' is required: $2" >&2; exit 1; }
}
need cargo "install Rust with rustup"
need node "install Node.js 20 or later"
need npm "it comes with Node.js"
need size "binutils (apt-get install binutils)"
if ! command -v cargo-bloat >/dev/null 2>&1; then
  echo "bench.sh: installing cargo-bloat (size contributors, item 5)" >&2
  cargo install --locked cargo-bloat
fi

step() { echo "bench.sh: $*" >&2; }

step "JS side: npm ci (pinned by benches/js/package-lock.json, scripts skipped)"
if [[ ! -f benches/js/node_modules/.package-lock.json \
   || benches/js/package-lock.json -nt benches/js/node_modules/.package-lock.json ]]; then
  (cd benches/js && npm ci --ignore-scripts --no-audit --no-fund >&2)
fi

step "building the mobile library and the bench programs (release profile)"
cargo build --release -p dynamic-byoa --lib >&2
# Measured as built alone, as an app build would: building the bench crate next unifies the
# features of shared dependencies with the emulator's.
cp target/release/libdynamic_byoa.so "$out/libdynamic_byoa.so"
# The mobile build: no HTTP/TLS stack of its own. Its own target dir, so that neither build's
# features leak into the other's.
cargo build --release -p dynamic-byoa --lib --no-default-features --target-dir target/mobile >&2
cp target/mobile/release/libdynamic_byoa.so "$out/libdynamic_byoa-mobile.so"
cargo build --release -p dynamic-byoa-bench --bins >&2

step "item 1: criterion (cargo bench --bench preflight)"
cargo bench -p dynamic-byoa --bench preflight >&2

# cargo-bloat needs symbols: an unstripped twin of the release profile, in its own directory.
step "item 5: cargo bloat on an unstripped build of the same profile"
export CARGO_PROFILE_BLOAT_INHERITS=release CARGO_PROFILE_BLOAT_STRIP=false
cargo bloat --profile bloat -p dynamic-byoa --lib --crates -n 12 >"$out/bloat-crates.txt"
cargo bloat --profile bloat -p dynamic-byoa --lib -n 12 >"$out/bloat-functions.txt"
cargo bloat --profile bloat -p dynamic-byoa --lib --no-default-features --target-dir target/mobile \
  --crates -n 12 >"$out/bloat-crates-mobile.txt"
cargo bloat --profile bloat -p dynamic-byoa --lib --no-default-features --target-dir target/mobile \
  -n 12 >"$out/bloat-functions-mobile.txt"

cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
header="Measured $(date -u '+%Y-%m-%d %H:%M UTC') on $(nproc) cores of ${cpu:-an unknown CPU}, \
$(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo) RAM, Linux $(uname -r), \
load average $(cut -d' ' -f1-3 /proc/loadavg) at the start; $(rustc --version | cut -d' ' -f1-2), \
Node $(node --version)."

step "items 2-4: emulator, latency, cold starts (this takes a minute or two)"
./target/release/byoa-bench run \
  --signins "$signins" --cold-runs "$cold_runs" \
  --js-dir benches/js --cold-start target/release/byoa-cold-start \
  --criterion-dir target/criterion --library "$out/libdynamic_byoa.so" \
  --bloat-crates "$out/bloat-crates.txt" \
  --mobile-library "$out/libdynamic_byoa-mobile.so" \
  --mobile-bloat-crates "$out/bloat-crates-mobile.txt" --header "$header" >"$out/table.md"

# Kotlin: the same exported async call through JNA, a sync call, callback threads and allocation
# (scripts/kotlin-bench.sh; skipped without Maven).
if command -v mvn >/dev/null 2>&1; then
  step "Kotlin per-call cost (scripts/kotlin-bench.sh, against the release library just built)"
  bash scripts/kotlin-bench.sh "$out" "$out/table.md" >"$out/kotlin.md"
else
  echo "Kotlin per-call rows skipped: Maven is not installed." >"$out/kotlin.md"
fi

{
  cat "$out/table.md"
  echo
  echo "Kotlin on the JVM (bindings/kotlin, CallBenchmark):"
  echo
  cat "$out/kotlin.md"
  echo
  echo "Largest contributors to the library (cargo bloat, unstripped twin of the release build):"
  echo
  echo '```text'
  grep -v '^ *Analyzing\|^$' "$out/bloat-crates.txt"
  echo
  grep -v '^ *Analyzing\|^$' "$out/bloat-functions.txt"
  echo
  echo "Largest sections of the stripped library (size -A, bytes):"
  size -A "$out/libdynamic_byoa.so" | awk 'NR > 2 && $1 ~ /^\./ {print $2, $1}' | sort -rn | head -8
  echo '```'
  echo
  echo "The mobile build (--no-default-features), the same way:"
  echo
  echo '```text'
  grep -v '^ *Analyzing\|^$' "$out/bloat-crates-mobile.txt"
  echo
  grep -v '^ *Analyzing\|^$' "$out/bloat-functions-mobile.txt"
  echo
  size -A "$out/libdynamic_byoa-mobile.so" | awk 'NR > 2 && $1 ~ /^\./ {print $2, $1}' | sort -rn | head -8
  echo '```'
} >"$out/report.md"
cat "$out/report.md"

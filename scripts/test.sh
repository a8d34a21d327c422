#!/usr/bin/env bash
# Every test: formatting, lints, unit and integration tests of the whole workspace, the drift
# check of the generated bindings, a short soak, and the platform layers: the Swift checks, the
# Kotlin suite on the JVM (both transports), the React Native package (unit and end to end) and
# its native modules (iOS checks; Android under Robolectric).
# `.ci/run` runs exactly this. Needs cargo, a JDK 17+ with Maven, Node 20.19+ with npm, Python 3,
# a C compiler, clang and Ruby; downloads go to the usual caches (~/.cargo, ~/.m2, ~/.npm, ~/.cache/pip).
set -euo pipefail
cd "$(dirname "$0")/.."

# The mobile library must never link the emulator, an HTTP server framework, a CLI parser, or
# aws-lc (C build; rustls runs on ring here).
forbidden=$(cargo tree -p dynamic-byoa -e normal --prefix none | sed 's/ .*//' | sort -u \
  | grep -xE 'axum|clap|dynamic-byoa-emulator|aws-lc-rs|aws-lc-sys|openssl|native-tls' || true)
if [[ -n "$forbidden" ]]; then
  echo "the mobile library depends on: $forbidden" >&2
  exit 1
fi
# The mobile build (no default features) has no HTTP or TLS stack of its own: the platform's
# goes through the HttpTransport port.
tls_stack=$(cargo tree -p dynamic-byoa --no-default-features -e normal --prefix none | sed 's/ .*//' \
  | sort -u | grep -xE 'reqwest|hyper|hyper-util|rustls|webpki-roots|url|idna|h2|native-tls' || true)
if [[ -n "$tls_stack" ]]; then
  echo "the mobile build (--no-default-features) depends on: $tls_stack" >&2
  exit 1
fi

python3 scripts/check-module-cycles.py
cargo fmt --all --check
# uniffi-bindgen is one line calling uniffi; linting it would compile all of uniffi_bindgen.
cargo clippy --workspace --exclude uniffi-bindgen --all-targets -q -- -D warnings
cargo test --workspace
# The mobile variant builds, and runs its unit tests and the HTTP-port suite through a transport
# written outside the crate (as the platform layers provide one).
cargo clippy -p dynamic-byoa --no-default-features --lib --test http_port -q -- -D warnings
cargo test -p dynamic-byoa --no-default-features --lib --test http_port
bash scripts/bindings.sh --check
# Everything below runs on the workspace build that `bindings.sh --check` just made.
cargo build -q --workspace --all-targets
# The soak's invariants on a short run (the long one is scripts/soak.sh, not a test).
"${CARGO_TARGET_DIR:-target}/debug/byoa-soak" --ops 400 | tail -4
bash scripts/test-swift.sh
bash scripts/test-kotlin.sh
bash scripts/test-react-native.sh
# The React Native native modules: iOS (the Swift and Objective-C++ checked, the podspec
# evaluated) and Android (the Kotlin TurboModule compiled against react-android and run under
# Robolectric through the real library; needs the bindings jar test-kotlin.sh installed).
bash scripts/test-react-native-ios.sh
bash scripts/test-react-native-android.sh

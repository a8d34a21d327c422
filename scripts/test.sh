#!/usr/bin/env bash
# Every test: formatting, lints, unit and integration tests of the whole workspace, and the
# drift check of the generated bindings. `.ci/run` runs exactly this.
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

cargo fmt --all --check
# uniffi-bindgen is one line calling uniffi; linting it would compile all of uniffi_bindgen.
cargo clippy --workspace --exclude uniffi-bindgen --all-targets -q -- -D warnings
cargo test --workspace
bash scripts/bindings.sh --check

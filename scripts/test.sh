#!/usr/bin/env bash
# Every test: formatting, lints, unit and integration tests of the whole workspace, and the
# drift check of the generated bindings. `.ci/run` runs exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo fmt --all --check
cargo clippy --workspace --all-targets -q -- -D warnings
cargo test --workspace
bash scripts/bindings.sh --check

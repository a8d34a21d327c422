#!/usr/bin/env bash
# The soak (issue 21): thousands of seeded random operations against the in-process emulator,
# with faults on every route, invariants checked after each step (crates/bench/src/bin/soak.rs).
#   scripts/soak.sh [operations (20000)] [seed (1)]
# Exits non-zero on any invariant violation. Built with the release profile, as an app ships it.
set -euo pipefail
cd "$(dirname "$0")/.."
ops="${1:-20000}"
seed="${2:-1}"
cargo build -q --release -p dynamic-byoa-bench --bin byoa-soak
"${CARGO_TARGET_DIR:-target}/release/byoa-soak" --ops "$ops" --seed "$seed"

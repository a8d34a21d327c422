#!/usr/bin/env bash
# Generates the Swift and Kotlin bindings from the host build of the library (library mode).
#   scripts/bindings.sh          regenerate bindings/ in place
#   scripts/bindings.sh --check  regenerate into a temp dir and fail if bindings/ differs (drift)
set -euo pipefail
cd "$(dirname "$0")/.."

target_dir="${CARGO_TARGET_DIR:-target}"
# The workspace build (the one `cargo test --workspace` already made) has both the cdylib and
# the bindgen binary; building packages one by one would recompile dependencies with other
# feature sets.
cargo build -q --workspace --all-targets
library="$target_dir/debug/libdynamic_byoa.so"
bindgen="$target_dir/debug/uniffi-bindgen"

generate() {
  local out="$1" tmp
  tmp="$(mktemp -d)"
  "$bindgen" generate "$library" --language kotlin --out-dir "$out/kotlin/src/main/kotlin" --no-format >/dev/null
  "$bindgen" generate "$library" --language swift --out-dir "$tmp" --no-format >/dev/null
  mkdir -p "$out/swift/Sources/DynamicByoa" "$out/swift/Sources/DynamicByoaFFI/include"
  mv "$tmp/DynamicByoa.swift" "$out/swift/Sources/DynamicByoa/DynamicByoa.swift"
  mv "$tmp/DynamicByoaFFI.h" "$out/swift/Sources/DynamicByoaFFI/include/DynamicByoaFFI.h"
  mv "$tmp/DynamicByoaFFI.modulemap" "$out/swift/Sources/DynamicByoaFFI/include/module.modulemap"
  rm -rf "$tmp"
}

if [[ "${1:-}" == "--check" ]]; then
  fresh="$(mktemp -d)"
  generate "$fresh"
  for dir in kotlin/src/main/kotlin swift/Sources; do
    if ! diff -r "bindings/$dir" "$fresh/$dir" >/dev/null; then
      echo "bindings/$dir is out of date with the exported API: run scripts/bindings.sh and commit" >&2
      diff -r "bindings/$dir" "$fresh/$dir" | head -40 >&2
      exit 1
    fi
  done
  rm -rf "$fresh"
  echo "bindings: up to date"
else
  rm -rf bindings/kotlin/src/main/kotlin bindings/swift/Sources
  generate bindings
  echo "bindings: regenerated"
fi

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

# The generated files, as paths under bindings/. Everything else under bindings/ is hand-written
# (the platform layers beside them) and is never touched or compared here.
generated=(
  kotlin/src/main/kotlin/xyz/dynamic/byoa/dynamic_byoa.kt
  swift/Sources/DynamicByoa/DynamicByoa.swift
  swift/Sources/DynamicByoaFFI/include/DynamicByoaFFI.h
  swift/Sources/DynamicByoaFFI/include/module.modulemap
)

# Writes the generated files into the tree rooted at $1 (same layout as bindings/).
generate() {
  local out="$1" tmp
  tmp="$(mktemp -d)"
  "$bindgen" generate "$library" --language kotlin --out-dir "$tmp/kotlin" --no-format >/dev/null
  # The one documented post-generation step (message = Display text, toString never throws,
  # callback threads kept attached, ...): see the header of scripts/kotlin-postgen.sh.
  bash scripts/kotlin-postgen.sh "$tmp/kotlin/xyz/dynamic/byoa/dynamic_byoa.kt"
  "$bindgen" generate "$library" --language swift --out-dir "$tmp/swift" --no-format >/dev/null
  mkdir -p "$out/kotlin/src/main/kotlin/xyz/dynamic/byoa" "$out/swift/Sources/DynamicByoa" \
    "$out/swift/Sources/DynamicByoaFFI/include"
  mv "$tmp/kotlin/xyz/dynamic/byoa/dynamic_byoa.kt" "$out/kotlin/src/main/kotlin/xyz/dynamic/byoa/dynamic_byoa.kt"
  mv "$tmp/swift/DynamicByoa.swift" "$out/swift/Sources/DynamicByoa/DynamicByoa.swift"
  mv "$tmp/swift/DynamicByoaFFI.h" "$out/swift/Sources/DynamicByoaFFI/include/DynamicByoaFFI.h"
  mv "$tmp/swift/DynamicByoaFFI.modulemap" "$out/swift/Sources/DynamicByoaFFI/include/module.modulemap"
  rm -rf "$tmp"
}

if [[ "${1:-}" == "--check" ]]; then
  fresh="$(mktemp -d)"
  generate "$fresh"
  for file in "${generated[@]}"; do
    if ! cmp -s "bindings/$file" "$fresh/$file"; then
      echo "bindings/$file is out of date with the exported API: run scripts/bindings.sh and commit" >&2
      diff "bindings/$file" "$fresh/$file" | head -40 >&2
      exit 1
    fi
  done
  rm -rf "$fresh"
  echo "bindings: up to date"
else
  generate bindings
  echo "bindings: regenerated"
fi

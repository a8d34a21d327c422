#!/usr/bin/env bash
# Builds bindings/swift/DynamicByoaFFI.xcframework: the Rust core as a static library for iOS
# devices (aarch64-apple-ios) and the simulator (aarch64-apple-ios-sim + x86_64-apple-ios, one
# lipo'd library), with the C header and module map of `DynamicByoaFFI` in every slice.
#
#   bash scripts/build-xcframework.sh               build (macOS with Xcode and rustup)
#   bash scripts/build-xcframework.sh --macos       also a macOS slice (arm64 + x86_64), for `swift test` on a Mac
#   bash scripts/build-xcframework.sh --flat-headers  module map at Headers/ instead of Headers/DynamicByoaFFI/
#   bash scripts/build-xcframework.sh --dry-run     print every command instead of running it (any OS)
#
# The library is the mobile build (`--no-default-features`: no HTTP stack of its own; the Swift
# layer passes URLSessionHttpTransport) on the size-optimised release profile of Cargo.toml
# (opt-level "z", fat LTO, one codegen unit, panic = "unwind"). The crate's `crate-type` has no
# staticlib (a debug staticlib is ~200 MB on every build), so it is asked for here with
# `cargo rustc --crate-type staticlib`.
#
# Headers live in Headers/DynamicByoaFFI/ in each slice, not at Headers/ itself: Xcode copies
# every static xcframework's Headers/ into one shared include/ directory, so two xcframeworks that
# each put a module.modulemap at the root ("Multiple commands produce .../include/module.modulemap")
# cannot be in one app. Clang finds the module in the subdirectory named after it.
# `--flat-headers` is the fallback if a toolchain's module scanner wants the map at the root.
set -euo pipefail
cd "$(dirname "$0")/.."

dry_run=false
macos=false
flat_headers=false
for arg in "$@"; do
  case "$arg" in
    --dry-run) dry_run=true ;;
    --macos) macos=true ;;
    --flat-headers) flat_headers=true ;;
    -h | --help)
      sed -n '2,10p' "$0"
      exit 0
      ;;
    *)
      echo "unknown argument: $arg (see --help)" >&2
      exit 2
      ;;
  esac
done

target_dir="${CARGO_TARGET_DIR:-target}"
work="$target_dir/xcframework"
out="bindings/swift/DynamicByoaFFI.xcframework"
include="bindings/swift/Sources/DynamicByoaFFI/include"
lib="libdynamic_byoa.a"

# Prints a command, then runs it unless this is a dry run.
run() {
  printf '+'
  printf ' %q' "$@"
  printf '\n'
  if ! "$dry_run"; then
    "$@"
  fi
}

if ! "$dry_run"; then
  if [[ "$(uname -s)" != "Darwin" ]]; then
    echo "build-xcframework: needs macOS with Xcode (xcodebuild, lipo); --dry-run prints the commands anywhere" >&2
    exit 1
  fi
  for tool in cargo rustup xcodebuild lipo; do
    command -v "$tool" >/dev/null || {
      echo "build-xcframework: $tool not found" >&2
      exit 1
    }
  done
fi

ios_targets=(aarch64-apple-ios aarch64-apple-ios-sim x86_64-apple-ios)
macos_targets=(aarch64-apple-darwin x86_64-apple-darwin)
targets=("${ios_targets[@]}")
if "$macos"; then
  targets+=("${macos_targets[@]}")
fi

run rustup target add "${targets[@]}"

# One static library per target. The deployment targets match Package.swift (iOS 15.1, macOS 12).
# `--print native-static-libs` makes rustc list the system libraries the archive needs; Package.swift
# links the Security framework (getrandom on iOS) besides libSystem, which Xcode always links.
for target in "${targets[@]}"; do
  case "$target" in
    *-apple-darwin) deployment=(MACOSX_DEPLOYMENT_TARGET=12.0) ;;
    *) deployment=(IPHONEOS_DEPLOYMENT_TARGET=15.1) ;;
  esac
  run env "${deployment[@]}" cargo rustc -p dynamic-byoa --lib --crate-type staticlib \
    --release --no-default-features --locked --target "$target" -- --print native-static-libs
done

run rm -rf "$work" "$out"
run mkdir -p "$work/ios" "$work/ios-simulator"
run cp "$target_dir/aarch64-apple-ios/release/$lib" "$work/ios/$lib"
run lipo -create "$target_dir/aarch64-apple-ios-sim/release/$lib" \
  "$target_dir/x86_64-apple-ios/release/$lib" -output "$work/ios-simulator/$lib"
if "$macos"; then
  run mkdir -p "$work/macos"
  run lipo -create "$target_dir/aarch64-apple-darwin/release/$lib" \
    "$target_dir/x86_64-apple-darwin/release/$lib" -output "$work/macos/$lib"
fi

# The header and module map scripts/bindings.sh generated, in a directory of their own.
if "$flat_headers"; then
  headers="$work/headers"
else
  headers="$work/headers/DynamicByoaFFI"
fi
run mkdir -p "$headers"
run cp "$include/DynamicByoaFFI.h" "$include/module.modulemap" "$headers/"

slices=(-library "$work/ios/$lib" -headers "$work/headers"
  -library "$work/ios-simulator/$lib" -headers "$work/headers")
if "$macos"; then
  slices+=(-library "$work/macos/$lib" -headers "$work/headers")
fi
run xcodebuild -create-xcframework "${slices[@]}" -output "$out"

if "$dry_run"; then
  echo "build-xcframework: dry run, nothing built (${#targets[@]} targets)"
else
  run lipo -info "$work/ios/$lib" "$work/ios-simulator/$lib"
  echo "build-xcframework: wrote $out"
fi

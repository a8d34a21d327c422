#!/usr/bin/env bash
# Android packaging: the mobile library (--no-default-features: HTTP through OkHttp, no reqwest or
# rustls) for arm64-v8a, armeabi-v7a, x86_64 and x86 with cargo-ndk, size-optimised release
# profile (opt-level z, LTO, stripped), linked with 16 KB page alignment (Google Play requires it
# for Android 15+ devices), laid out as jniLibs/<abi>/libdynamic_byoa.so, and an AAR of it with the
# Kotlin classes (generated bindings + hand-written layer + Android adapters) and consumer R8 rules.
#
#   scripts/android-build.sh            build into target/android/{jniLibs,aar,dynamic-byoa.aar}
#   scripts/android-build.sh --dry-run  print the commands and check what can be checked here
#
# Prerequisites (not on this project's CI machine): the Android NDK r27+ (ANDROID_NDK_HOME),
# `cargo install cargo-ndk`, `rustup target add aarch64-linux-android armv7-linux-androideabi
# x86_64-linux-android i686-linux-android`, a JDK 17 and Maven (for classes.jar), zip, and
# llvm-readelf from the NDK (the alignment check). The app adds
# `net.java.dev.jna:jna:5.19.1@aar` and `org.jetbrains.kotlinx:kotlinx-coroutines-android`,
# `com.squareup.okhttp3:okhttp` (see bindings/kotlin/README.md).
set -euo pipefail
cd "$(dirname "$0")/.."

dry=false
[[ "${1:-}" == "--dry-run" ]] && dry=true
out=target/android
abis=(arm64-v8a armeabi-v7a x86_64 x86)
triples=(aarch64-linux-android armv7-linux-androideabi x86_64-linux-android i686-linux-android)
min_sdk=24
page_flags="-C link-arg=-Wl,-z,max-page-size=16384 -C link-arg=-Wl,-z,common-page-size=16384"

run() {
  printf '+'; printf ' %q' "$@"; printf '\n'
  if ! $dry; then "$@"; fi
}

# What is checked even in a dry run: the files the package is made of.
rules=bindings/kotlin/consumer-rules.pro
manifest=bindings/kotlin/android/AndroidManifest.xml
for needed in "$rules" "$manifest" bindings/kotlin/pom.xml; do
  [[ -f "$needed" ]] || { echo "android-build: $needed is missing" >&2; exit 1; }
done
grep -q -- '-keep class com.sun.jna.\*\* { \*; }' "$rules" || { echo "android-build: $rules does not keep JNA" >&2; exit 1; }
grep -q -- '-keep class xyz.dynamic.byoa.\*\* { \*; }' "$rules" || { echo "android-build: $rules does not keep xyz.dynamic.byoa" >&2; exit 1; }
grep -q 'minSdkVersion="24"' "$manifest" || { echo "android-build: $manifest must say minSdk 24" >&2; exit 1; }

if ! $dry; then
  command -v cargo-ndk >/dev/null || { echo "android-build: cargo-ndk is missing (cargo install cargo-ndk)" >&2; exit 1; }
  [[ -n "${ANDROID_NDK_HOME:-}" ]] || { echo "android-build: set ANDROID_NDK_HOME to the NDK (r27 or later)" >&2; exit 1; }
fi

echo "# 1. the .so of each ABI (16 KB pages; release profile: opt-level z, LTO, stripped)"
env_args=()
for triple in "${triples[@]}"; do
  var="CARGO_TARGET_$(tr 'a-z-' 'A-Z_' <<<"$triple")_RUSTFLAGS"
  env_args+=("$var=$page_flags")
done
ndk_targets=()
for abi in "${abis[@]}"; do ndk_targets+=(-t "$abi"); done
run env "${env_args[@]}" cargo ndk "${ndk_targets[@]}" --platform "$min_sdk" -o "$out/jniLibs" \
  build --release -p dynamic-byoa --lib --no-default-features --target-dir target/android/cargo

echo "# 2. check: every LOAD segment aligned to 16 KB (2**14)"
for abi in "${abis[@]}"; do
  so="$out/jniLibs/$abi/libdynamic_byoa.so"
  printf '+ llvm-readelf -lW %q | awk ...\n' "$so"
  if ! $dry; then
    readelf_bin="$(command -v llvm-readelf || find "$ANDROID_NDK_HOME" -name llvm-readelf -type f | head -1)"
    if "$readelf_bin" -lW "$so" | awk '$1 == "LOAD" && $NF != "0x4000" { bad = 1 } END { exit bad }'; then
      echo "  $abi: 16 KB aligned, $(stat -c %s "$so") bytes"
    else
      echo "android-build: $so has a LOAD segment not aligned to 16 KB" >&2; exit 1
    fi
  fi
done

echo "# 3. classes.jar: the generated bindings, the Kotlin layer and the Android adapters"
run mvn -B -q -f bindings/kotlin/pom.xml package -DskipTests -Dkotlin.compiler.daemon=false

echo "# 4. the AAR: manifest, classes.jar, jni/<abi>/, consumer R8 rules (proguard.txt), R.txt"
run rm -rf "$out/aar"
run mkdir -p "$out/aar"
run cp "$manifest" "$out/aar/AndroidManifest.xml"
run cp bindings/kotlin/target/dynamic-byoa-0.1.0-SNAPSHOT.jar "$out/aar/classes.jar"
run cp "$rules" "$out/aar/proguard.txt"
run touch "$out/aar/R.txt"
run cp -R "$out/jniLibs" "$out/aar/jni"
run rm -f "$out/dynamic-byoa.aar"
run sh -c "cd $out/aar && zip -qr ../dynamic-byoa.aar ."
if ! $dry; then
  unzip -l "$out/dynamic-byoa.aar" | grep -q 'proguard.txt' || { echo "android-build: proguard.txt is not in the AAR" >&2; exit 1; }
  for abi in "${abis[@]}"; do
    unzip -l "$out/dynamic-byoa.aar" | grep -q "jni/$abi/libdynamic_byoa.so" || { echo "android-build: jni/$abi missing from the AAR" >&2; exit 1; }
  done
  echo "android-build: $out/dynamic-byoa.aar ($(stat -c %s "$out/dynamic-byoa.aar") bytes) and $out/jniLibs/"
else
  echo "android-build: dry run; the rules file, the manifest and the pom are in place"
fi

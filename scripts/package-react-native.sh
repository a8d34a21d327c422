#!/usr/bin/env bash
# Fills the React Native package's pack-time folders from this repository (they are gitignored,
# and shipped in the npm tarball), then optionally packs it:
#   react-native/android/src/main/byoa-kotlin/     the Kotlin bindings: generated file, the Kotlin
#                                                  layer, the Android adapters
#   react-native/android/src/main/jniLibs/<abi>/   libdynamic_byoa.so per ABI, from
#                                                  scripts/android-build.sh (target/android/jniLibs)
#   react-native/ios/vendor/DynamicByoa/           the generated Swift
#   react-native/ios/vendor/DynamicByoaPlatform/   the Swift package's iOS adapters
#   react-native/ios/DynamicByoaFFI.xcframework/   from scripts/build-xcframework.sh
#
#   scripts/package-react-native.sh                  sources and binaries; fails when a binary is missing
#   scripts/package-react-native.sh --sources-only   sources; binaries too where built (what CI runs)
#   scripts/package-react-native.sh --pack           then `npm pack` into target/npm/
#
# The binaries need the Android NDK and a Mac (see bindings/kotlin/README.md and
# bindings/swift/README.md); everything else works anywhere.
set -euo pipefail
cd "$(dirname "$0")/.."

sources_only=false
pack=false
for arg in "$@"; do
  case "$arg" in
    --sources-only) sources_only=true ;;
    --pack) pack=true ;;
    *) echo "package-react-native: unknown argument $arg" >&2; exit 2 ;;
  esac
done

package=react-native
abis=(arm64-v8a armeabi-v7a x86_64 x86)
jni_built=target/android/jniLibs
xcframework_built=bindings/swift/DynamicByoaFFI.xcframework

# Replaces `dest` with a copy of `src` (a directory), so a file removed upstream is removed here.
mirror() {
  local src="$1" dest="$2"
  rm -rf "$dest"
  mkdir -p "$dest"
  cp -R "$src/." "$dest/"
}

kotlin="$package/android/src/main/byoa-kotlin"
rm -rf "$kotlin"
for part in main layer android; do
  mkdir -p "$kotlin"
  cp -R "bindings/kotlin/src/$part/kotlin/." "$kotlin/"
done
echo "package-react-native: Kotlin bindings → $kotlin ($(find "$kotlin" -name '*.kt' | wc -l) files)"

swift="$package/ios/vendor"
rm -rf "$swift"
mkdir -p "$swift/DynamicByoa"
cp bindings/swift/Sources/DynamicByoa/DynamicByoa.swift "$swift/DynamicByoa/"
mirror bindings/swift/Sources/DynamicByoaPlatform "$swift/DynamicByoaPlatform"
echo "package-react-native: Swift sources → $swift ($(find "$swift" -name '*.swift' | wc -l) files)"

missing=()
if [[ -d "$jni_built" ]]; then
  for abi in "${abis[@]}"; do
    [[ -f "$jni_built/$abi/libdynamic_byoa.so" ]] || missing+=("$jni_built/$abi/libdynamic_byoa.so")
  done
  mirror "$jni_built" "$package/android/src/main/jniLibs"
  echo "package-react-native: native libraries → $package/android/src/main/jniLibs"
else
  missing+=("$jni_built/<abi>/libdynamic_byoa.so (scripts/android-build.sh, needs the Android NDK)")
fi
if [[ -d "$xcframework_built" ]]; then
  mirror "$xcframework_built" "$package/ios/DynamicByoaFFI.xcframework"
  echo "package-react-native: xcframework → $package/ios/DynamicByoaFFI.xcframework"
else
  missing+=("$xcframework_built (scripts/build-xcframework.sh, needs macOS with Xcode)")
fi

if [[ ${#missing[@]} -gt 0 ]]; then
  for m in "${missing[@]}"; do echo "package-react-native: not built: $m"; done
  if ! $sources_only; then
    echo "package-react-native: a package without its native binaries cannot be published" >&2
    exit 1
  fi
fi

if $pack; then
  mkdir -p target/npm
  (cd "$package" && npm pack --pack-destination ../target/npm)
fi

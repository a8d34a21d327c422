// Generates the Android Java spec (`NativeDynamicByoaSpec.java`) from the package's own spec with
// the pinned @react-native/codegen, as an app's Gradle build does (the `com.facebook.react`
// plugin), for the JVM build of the Kotlin module in android-tests/. The output is a build
// product: never committed, never hand-written.
//
//   node scripts/codegen-android.mjs [output dir]   (default: android-tests/target/generated-codegen)
//
// Writes <output dir>/java/<package path>/NativeDynamicByoaSpec.java (and the JNI files the
// generator also writes, unused on the JVM); the folder is emptied first so a renamed spec leaves
// nothing stale behind.
import { readFileSync, readdirSync, rmSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

const require = createRequire(import.meta.url);
const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const output = path.resolve(process.argv[2] ?? path.join(root, 'android-tests', 'target', 'generated-codegen'));

const { codegenConfig } = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8'));
const packageName = codegenConfig.android.javaPackageName;
const specFiles = readdirSync(path.join(root, codegenConfig.jsSrcsDir))
  .filter((name) => /^Native\w+\.ts$/.test(name))
  .map((name) => path.join(root, codegenConfig.jsSrcsDir, name));

const combine = require('@react-native/codegen/lib/cli/combine/combine-js-to-schema.js');
const RNCodegen = require('@react-native/codegen/lib/generators/RNCodegen.js');
const version = require('@react-native/codegen/package.json').version;

const schema = combine.combineSchemasInFileList(specFiles, 'android', undefined);
rmSync(output, { recursive: true, force: true });
mkdirSync(output, { recursive: true });
const ok = RNCodegen.generate(
  { libraryName: codegenConfig.name, schema, outputDirectory: output, packageName },
  { generators: ['modulesAndroid'], test: false },
);
const javaDir = path.join(output, 'java', ...packageName.split('.'));
const written = readdirSync(javaDir).filter((name) => name.endsWith('.java'));
if (!ok || written.length === 0) {
  console.error(`codegen-android: @react-native/codegen ${version} wrote no Java spec into ${javaDir}`);
  process.exit(1);
}
console.log(`codegen-android: @react-native/codegen ${version}: ${written.join(', ')} in ${path.relative(root, javaDir)}`);

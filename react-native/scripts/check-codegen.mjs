// The React Native codegen over the spec, with the oldest supported codegen (0.80.x, installed
// as `codegen-oldest`) and the pinned one (0.86.x): parse src/ to a schema (exits non-zero on any
// type the codegen cannot handle), check that the module, every method and both event emitters
// made it into the schema, then run the Android (Java, JNI) and iOS (ObjC++) module generators
// into a scratch folder, as an app build would.
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';

const require = createRequire(import.meta.url);
const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const METHODS = [
  'createClient',
  'disposeClient',
  'startAuthStateEvents',
  'stopAuthStateEvents',
  'signInWithExternalJwt',
  'verifyWithExternalJwt',
  'restore',
  'refresh',
  'getAccessToken',
  'getElevatedAccessToken',
  'logout',
  'setLogLevel',
];
const EMITTERS = ['onAuthStateChanged', 'onLog'];

function listFiles(dir) {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => path.relative(dir, path.join(entry.parentPath, entry.name)));
}

let failed = false;
for (const pkg of ['codegen-oldest', '@react-native/codegen']) {
  const version = require(`${pkg}/package.json`).version;
  const combine = require(`${pkg}/lib/cli/combine/combine-js-to-schema.js`);
  const RNCodegen = require(`${pkg}/lib/generators/RNCodegen.js`);
  const problems = [];
  let schema;
  try {
    schema = combine.combineSchemasInFileList([path.join(root, 'src', 'NativeDynamicByoa.ts')], 'android', undefined);
  } catch (error) {
    problems.push(`schema: ${error.message}`);
  }
  const module = schema?.modules?.NativeDynamicByoa;
  if (schema && !module) problems.push('schema: no NativeDynamicByoa module');
  if (module) {
    if (module.moduleName !== 'DynamicByoa') problems.push(`module name ${module.moduleName}`);
    const methods = module.spec.methods.map((m) => m.name);
    const emitters = (module.spec.eventEmitters ?? []).map((e) => e.name);
    for (const m of METHODS) if (!methods.includes(m)) problems.push(`method ${m} missing`);
    for (const e of EMITTERS) if (!emitters.includes(e)) problems.push(`event emitter ${e} missing`);
    const out = mkdtempSync(path.join(tmpdir(), 'byoa-codegen-'));
    try {
      RNCodegen.generate(
        { libraryName: 'DynamicByoaSpec', schema, outputDirectory: out, packageName: 'xyz.dynamic.byoa.reactnative' },
        { generators: ['modulesAndroid', 'modulesCxx', 'modulesIOS'], test: false },
      );
      const files = listFiles(out);
      const want = ['NativeDynamicByoaSpec.java', 'DynamicByoaSpec.h', 'DynamicByoaSpec-generated.mm'];
      for (const name of want) {
        if (!files.some((f) => f.endsWith(name))) problems.push(`generator did not write ${name} (wrote ${files.join(', ')})`);
      }
    } catch (error) {
      problems.push(`generators: ${error.message}`);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  }
  if (problems.length > 0) {
    failed = true;
    console.log(`codegen ${version}: FAILED\n  ${problems.join('\n  ')}`);
  } else {
    console.log(`codegen ${version}: ok (${METHODS.length} methods, ${EMITTERS.length} event emitters; Android and iOS module specs generated)`);
  }
}
process.exit(failed ? 1 : 0);

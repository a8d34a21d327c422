// `npm pack --dry-run`: the tarball has the spec (codegen runs in the app's build over it), the
// sources, lib/ (both builds) and the README; no tests, fixtures, examples, scripts or build
// folders.
import { execFileSync } from 'node:child_process';

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
];
const forbidden = [
  /(^|\/)__tests__\//,
  /(^|\/)__fixtures__\//,
  /(^|\/)__mocks__\//,
  /^e2e\//,
  /^example\//,
  /^scripts\//,
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
console.log(`npm pack: ok (${files.length} files, ${pack.size} bytes packed; spec, sources, lib/ and README present; no tests, fixtures, examples or build folders)`);

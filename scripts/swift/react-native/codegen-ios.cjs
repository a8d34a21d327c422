// Runs React Native's iOS module generator (GenerateModuleObjCpp, as an app build's codegen
// does) over react-native/src/NativeDynamicByoa.ts, writing OUT/DynamicByoaSpec/DynamicByoaSpec.h
// and DynamicByoaSpec-generated.mm: the header DynamicByoa.mm is compiled against.
//   node codegen-ios.cjs PACKAGE_DIR OUT_DIR CODEGEN_PACKAGE   (@react-native/codegen, codegen-oldest)
const path = require('node:path');
const { createRequire } = require('node:module');

const [root, out, codegen] = process.argv.slice(2);
const load = createRequire(path.join(path.resolve(root), 'package.json'));
const version = load(`${codegen}/package.json`).version;
const combine = load(`${codegen}/lib/cli/combine/combine-js-to-schema.js`);
const RNCodegen = load(`${codegen}/lib/generators/RNCodegen.js`);
const schema = combine.combineSchemasInFileList([path.join(root, 'src', 'NativeDynamicByoa.ts')], 'ios', undefined);
// The library name is package.json's codegenConfig.name; the generator writes into OUT/<name>/,
// the folder the .h imports from.
const { name } = load('./package.json').codegenConfig;
RNCodegen.generate(
  { libraryName: name, schema, outputDirectory: out, packageName: '' },
  { generators: ['modulesIOS'], test: false },
);
console.log(`codegen ${version}: ${name}/${name}.h generated`);

// Makes the hashing Worker's code a string literal in a built snippet
// (argument: the snippet's path; scripts/entry.sh runs it on each build).
//
// In the sources (src/glue.js) the Worker's code is a function,
// `workerMain`, run in the Worker from its source text (`${workerMain}`):
// readable, and checked like the rest. But an app whose bundler transpiles
// node_modules for old browsers (Babel to a browser without async functions)
// would rewrite that function to call helpers it puts at the top of the
// module, which do not exist in the Worker: the Worker would fail and every
// part would be hashed on the page. As a string, minified here, nothing an
// app's build does can reach it.
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const file = process.argv[2];
const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
const { minify } = createRequire(path.join(root, 'package.json'))('terser');

const LINE = 'const WORKER = `(${workerMain})(${readChunks})`;';
const text = readFileSync(file, 'utf8');
if (/^const WORKER = "/m.test(text)) process.exit(0);   // made already
if (text.split(LINE).length !== 2) {
  console.error(`worker-literal: ${file} must hold exactly one line\n  ${LINE}`);
  process.exit(1);
}
// The functions' source, as the module itself would make it.
const mod = await import(`data:text/javascript;base64,${Buffer.from(`${text}\nexport { WORKER as __worker };`).toString('base64')}`);
const { code } = await minify(mod.__worker, { compress: { passes: 3 }, mangle: true });
if (!code || !code.includes('onmessage')) {
  console.error(`worker-literal: minifying the Worker's code of ${file} gave nothing usable`);
  process.exit(1);
}
writeFileSync(file, text.replace(LINE, () => `const WORKER = ${JSON.stringify(code)};`));

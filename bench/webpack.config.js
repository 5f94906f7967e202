// One page per contender, each with only its own bundle (so bundle size and
// memory are each contender's own). Uppy 5 and 6 and the AWS SDK come from
// bench/contenders/<name>/node_modules; this client from the repo's pkg/.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import HtmlWebpackPlugin from 'html-webpack-plugin';

const here = path.dirname(fileURLToPath(import.meta.url));
export const CONTENDERS = ['ours', 'ours-worker', 'ours-noresume', 'ours-nochecksum', 'raw', 'raw-ahead', 'raw-xhr', 'uppy6', 'uppy5', 'libstorage', 'libstorage-crc', 'x-mem', 'x-read2', 'x-slice', 'ours-nobatch', 'raw-ahead-xhr', 'x-buf', 'x-sync', 'x-lazy', 'x-pagehash'];
// A/B against an earlier build: its pkg/ copied to pkg-prev/ (gitignored)
// adds the contenders `ours-prev` and `ours-prev-nochecksum`, the same
// pages on that build.
// Its hashing Worker's module must be there: without it every part is hashed
// on the page, and the A/B would measure that, not the change.
if (existsSync(path.resolve(here, '../pkg-prev/index.js'))) {
  if (!/HASHER = '[A-Za-z0-9+/]/.test(readFileSync(path.resolve(here, '../pkg-prev/hasher.js'), 'utf8'))) {
    throw new Error('pkg-prev/hasher.js has no hashing Worker module: rebuild that pkg/ with scripts/build.sh in its own checkout');
  }
  CONTENDERS.push('ours-prev', 'ours-prev-nochecksum');
}
// Contenders that share another's node_modules.
const ENTRIES = { 'libstorage-crc': './bench/contenders/libstorage/crc.js' };

export default {
  mode: 'production',
  entry: Object.fromEntries(CONTENDERS.map((c) => [c, ENTRIES[c] ?? `./bench/contenders/${c}/entry.js`])),
  output: { path: path.resolve(here, 'dist'), filename: '[name].js', clean: true },
  experiments: { asyncWebAssembly: true },
  resolve: {
    alias: {
      // The entry point an app imports (with the hashing Worker's module).
      's3-multipart-wasm$': path.resolve(here, '../pkg/index.js'),
      's3-multipart-wasm-prev$': path.resolve(here, '../pkg-prev/index.js'),
      // The package's web build (scripts/package.sh), with its hashing Worker.
      's3-multipart-wasm/web$': path.resolve(here, '../target/npm-package/web/index.js'),
    },
  },
  performance: { hints: false },
  // Each page self-contained, so each bundle's size is its own.
  optimization: { splitChunks: false },
  plugins: CONTENDERS.flatMap((c) => [
    new HtmlWebpackPlugin({ template: './bench/page.html', filename: `${c}.html`, chunks: [c] }),
    // The cold start page: the same bundle, and an upload that starts as
    // soon as the contender's code is ready (bench/cold.html).
    new HtmlWebpackPlugin({ template: './bench/cold.html', filename: `cold-${c}.html`, chunks: [c], inject: 'head' }),
  ]),
};

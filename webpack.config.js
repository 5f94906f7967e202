// Builds the demo page (www/index.*, the widget) and the one-file harness the
// resilience tests drive (www/harness.*), against the wasm-pack output in pkg/.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import HtmlWebpackPlugin from 'html-webpack-plugin';

const here = path.dirname(fileURLToPath(import.meta.url));

export default {
  entry: { demo: './www/index.js', harness: './www/harness.js' },
  output: { path: path.resolve(here, 'www/dist'), filename: '[name].[contenthash].js', clean: true },
  experiments: { asyncWebAssembly: true },
  resolve: {
    alias: {
      's3-multipart-wasm/widget$': path.resolve(here, 'www/widget-local.js'),
      's3-multipart-wasm$': path.resolve(here, 'pkg/index.js'),
    },
  },
  performance: { hints: false },
  plugins: [
    new HtmlWebpackPlugin({ template: './www/index.html', chunks: ['demo'] }),
    new HtmlWebpackPlugin({ template: './www/harness.html', filename: 'harness.html', chunks: ['harness'] }),
    // The seed's own browser example, served as written, to prove the backend speaks its protocol.
    new HtmlWebpackPlugin({ template: './www/seed-example.html', filename: 'seed-example.html', chunks: [] }),
  ],
};

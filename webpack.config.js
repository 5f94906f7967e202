// Builds the demo page (www/) against the wasm-pack output in pkg/ (bundler target).
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import HtmlWebpackPlugin from 'html-webpack-plugin';

const here = path.dirname(fileURLToPath(import.meta.url));

export default {
  entry: './www/index.js',
  output: { path: path.resolve(here, 'www/dist'), filename: 'demo.[contenthash].js', clean: true },
  experiments: { asyncWebAssembly: true },
  resolve: { alias: { 's3-multipart-wasm': path.resolve(here, 'pkg') } },
  performance: { hints: false },
  plugins: [
    new HtmlWebpackPlugin({ template: './www/index.html' }),
    // The seed's own browser example, served as written, to prove the backend speaks its protocol.
    new HtmlWebpackPlugin({ template: './www/seed-example.html', filename: 'seed-example.html', chunks: [] }),
  ],
};

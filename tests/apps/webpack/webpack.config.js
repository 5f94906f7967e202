// A fresh webpack 5 app: the package's README setup, nothing more.
import HtmlWebpackPlugin from 'html-webpack-plugin';

export default {
  entry: './src/index.js',
  experiments: { asyncWebAssembly: true },
  plugins: [new HtmlWebpackPlugin({ template: './src/index.html' })],
};

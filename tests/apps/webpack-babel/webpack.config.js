// The webpack app (tests/apps/webpack, whose src/ the test copies beside this
// file), as apps that support older browsers build it: every module,
// node_modules included, through Babel down to a browser without async
// functions (they become generators driven by a helper Babel puts at the
// top of each module). The package's code must survive that: the hashing
// Worker's code runs in a Worker, where no such helper exists.
import HtmlWebpackPlugin from 'html-webpack-plugin';

export default {
  entry: { main: './src/index.js', widget: './src/widget.js' },
  experiments: { asyncWebAssembly: true },
  module: {
    rules: [{
      test: /\.m?js$/,
      use: { loader: 'babel-loader', options: { babelrc: false, configFile: false, presets: [['@babel/preset-env', { targets: 'chrome 54', modules: false }]] } },
    }],
  },
  plugins: [
    new HtmlWebpackPlugin({ template: './src/index.html', chunks: ['main'] }),
    new HtmlWebpackPlugin({ template: './src/widget.html', filename: 'widget.html', chunks: ['widget'] }),
  ],
};

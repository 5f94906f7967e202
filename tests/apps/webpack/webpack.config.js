// A fresh webpack 5 app: the package's README setup, nothing more. Two
// pages: the API and the widget (index), and the widget alone (widget.html).
import HtmlWebpackPlugin from 'html-webpack-plugin';

export default {
  entry: { main: './src/index.js', widget: './src/widget.js' },
  experiments: { asyncWebAssembly: true },
  plugins: [
    new HtmlWebpackPlugin({ template: './src/index.html', chunks: ['main'] }),
    new HtmlWebpackPlugin({ template: './src/widget.html', filename: 'widget.html', chunks: ['widget'] }),
  ],
};

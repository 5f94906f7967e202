// A page with only the widget: it renders at once; the WASM module comes in
// a chunk of its own, afterwards.
import { attach } from 's3-multipart-wasm/widget';

const input = document.getElementById('files');
attach(input, { endpoint: '/api', keyPrefix: 'webpack-app/' });
input.addEventListener('upload-complete', (e) => {
  const li = document.createElement('li');
  li.textContent = e.detail.result.key;
  document.getElementById('done').append(li);
});

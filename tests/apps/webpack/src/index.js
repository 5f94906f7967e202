import { Uploader } from 's3-multipart-wasm';
import { attach } from 's3-multipart-wasm/widget';

const input = document.getElementById('files');
attach(input, { endpoint: '/api', keyPrefix: 'webpack-app/' });
input.addEventListener('upload-complete', (e) => {
  const li = document.createElement('li');
  li.textContent = e.detail.result.key;
  document.getElementById('done').append(li);
});
// The API directly, too.
window.uploadDirect = (file, key) => new Uploader({ endpoint: '/api' }).upload(file, { key });

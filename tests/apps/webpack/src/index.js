import { Uploader, UploadError } from 's3-multipart-wasm';
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
// An error the client throws is an instance of the exported class.
window.errorIsUploadError = async () => {
  try {
    new Uploader({ endpoint: '/api', concurrency: 99 });
  } catch (e) {
    return { instance: e instanceof UploadError, error: e instanceof Error, code: e.code, field: e.field };
  }
  return null;
};

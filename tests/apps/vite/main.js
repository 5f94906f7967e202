import init, { Uploader, UploadError } from 's3-multipart-wasm/web';
import { defineElement } from 's3-multipart-wasm/web/widget';

defineElement();
document.querySelector('s3-upload').addEventListener('upload-complete', (e) => {
  const li = document.createElement('li');
  li.textContent = e.detail.result.key;
  document.getElementById('done').append(li);
});
window.uploadDirect = async (file, key) => {
  await init();
  return new Uploader({ endpoint: '/api' }).upload(file, { key });
};
// An error the client throws is an instance of the exported class.
window.errorIsUploadError = async () => {
  await init();
  try {
    new Uploader({ endpoint: '/api', concurrency: 99 });
  } catch (e) {
    return { instance: e instanceof UploadError, error: e instanceof Error, code: e.code, field: e.field };
  }
  return null;
};

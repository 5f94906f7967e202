import init, { Uploader } from 's3-multipart-wasm/web';
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

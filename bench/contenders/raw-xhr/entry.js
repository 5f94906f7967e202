// The raw ceiling with XMLHttpRequest instead of fetch, listening to upload
// progress as every client that shows progress must (fetch has none): what
// progress costs in this browser.
import { rawMany, rawUpload } from '../common.js';

export const put = (url, body, part, headers = {}) => new Promise((resolve, reject) => {
  const xhr = new XMLHttpRequest();
  xhr.open('PUT', url);
  for (const [k, v] of Object.entries(headers)) xhr.setRequestHeader(k, v);
  xhr.upload.onprogress = () => {};
  xhr.onload = () => (xhr.status < 300 ? resolve(xhr.getResponseHeader('ETag')) : reject(new Error(`PUT part ${part}: HTTP ${xhr.status}`)));
  xhr.onerror = () => reject(new Error(`PUT part ${part}: network error`));
  xhr.send(body);
});

window.benchUpload = (file, opts) => rawUpload(file, opts, put);
window.benchUploadMany = (files, opts) => rawMany(files, opts, rawUpload, put);

// The raw ceiling with XMLHttpRequest instead of fetch, listening to upload
// progress as every client that shows progress must (fetch has none): what
// progress costs in this browser.
import { rawUpload } from '../common.js';

const put = (url, body, part) => new Promise((resolve, reject) => {
  const xhr = new XMLHttpRequest();
  xhr.open('PUT', url);
  xhr.upload.onprogress = () => {};
  xhr.onload = () => (xhr.status < 300 ? resolve(xhr.getResponseHeader('ETag')) : reject(new Error(`PUT part ${part}: HTTP ${xhr.status}`)));
  xhr.onerror = () => reject(new Error(`PUT part ${part}: network error`));
  xhr.send(body);
});

window.benchUpload = (file, opts) => rawUpload(file, opts, put);

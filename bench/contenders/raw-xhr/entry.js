// The raw ceiling with XMLHttpRequest instead of fetch, listening to upload
// progress as every client that shows progress must (fetch has none): what
// progress costs in this browser. Not in the default run (`--contenders` to
// add it).
import { backend } from '../common.js';

const put = (url, body) => new Promise((resolve, reject) => {
  const xhr = new XMLHttpRequest();
  xhr.open('PUT', url);
  xhr.upload.onprogress = () => {};
  xhr.onload = () => (xhr.status < 300 ? resolve(xhr.getResponseHeader('ETag')) : reject(new Error(`PUT: HTTP ${xhr.status}`)));
  xhr.onerror = () => reject(new Error('PUT: network error'));
  xhr.send(body);
});

window.benchUpload = async (file, { api, key, partSize, concurrency }) => {
  const b = backend(api);
  const { upload_id: uploadId } = await b.init(key);
  const count = Math.ceil(file.size / partSize);
  const parts = new Array(count);
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const i = next++;
      const { url } = await b.partUrl(key, uploadId, i + 1);
      parts[i] = { PartNumber: i + 1, ETag: await put(url, file.slice(i * partSize, Math.min(file.size, (i + 1) * partSize))) };
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  await b.complete(key, uploadId, parts);
};

// The raw ceiling: the least a browser can do to upload the file in parts —
// presign, PUT Blob slices with fetch, N at a time, complete. No retry, no progress.
import { backend } from '../common.js';

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
      const r = await fetch(url, { method: 'PUT', body: file.slice(i * partSize, Math.min(file.size, (i + 1) * partSize)) });
      if (!r.ok) throw new Error(`PUT part ${i + 1}: HTTP ${r.status}`);
      parts[i] = { PartNumber: i + 1, ETag: r.headers.get('ETag') };
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  await b.complete(key, uploadId, parts);
};

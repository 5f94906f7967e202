// The raw ceiling: the least a browser can do to upload the file in parts —
// presign, PUT Blob slices with fetch, N at a time, complete. No retry, no progress.
import { rawMany, rawUpload } from '../common.js';

const put = async (url, body, part, headers) => {
  const r = await fetch(url, { method: 'PUT', body, headers });
  if (!r.ok) throw new Error(`PUT part ${part}: HTTP ${r.status}`);
  return r.headers.get('ETag');
};

window.benchUpload = (file, opts) => rawUpload(file, opts, put);
window.benchUploadMany = (files, opts) => rawMany(files, opts, rawUpload, put);

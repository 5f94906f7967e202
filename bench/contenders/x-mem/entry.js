// Experiment: each part read into memory once (arrayBuffer), PUT from memory.
import { rawAheadUpload, rawMany } from '../common.js';

const put = async (url, body, part, headers) => {
  const bytes = body instanceof Blob ? await body.arrayBuffer() : body;
  const r = await fetch(url, { method: 'PUT', body: bytes, headers });
  if (!r.ok) throw new Error(`PUT part ${part}: HTTP ${r.status}`);
  return r.headers.get('ETag');
};

window.benchUpload = (file, opts) => rawAheadUpload(file, opts, put);
window.benchUploadMany = (files, opts) => rawMany(files, opts, rawAheadUpload, put);

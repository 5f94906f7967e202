// Experiment: each part read once in a Worker (BYOB, 1 MiB buffer, bytes
// dropped), then PUT as the Blob: what hashing ahead costs without the hash.
import { rawAheadUpload, rawMany } from '../common.js';

const src = `onmessage = async ({ data: { id, blob } }) => {
  const r = blob.stream().getReader({ mode: 'byob' });
  let buf = new ArrayBuffer(1 << 20), n = 0;
  for (;;) { const { value, done } = await r.read(new Uint8Array(buf)); if (done) break; n += value.length; buf = value.buffer; }
  postMessage({ id, n });
};`;
const w = new Worker(URL.createObjectURL(new Blob([src], { type: 'text/javascript' })));
const waiting = new Map();
let seq = 0;
w.onmessage = ({ data }) => { waiting.get(data.id)(data.n); waiting.delete(data.id); };
const read = (blob) => new Promise((resolve) => { const id = ++seq; waiting.set(id, resolve); w.postMessage({ id, blob }); });

const put = async (url, body, part, headers) => {
  await read(body);
  const r = await fetch(url, { method: 'PUT', body, headers });
  if (!r.ok) throw new Error(`PUT part ${part}: HTTP ${r.status}`);
  return r.headers.get('ETag');
};

window.benchUpload = (file, opts) => rawAheadUpload(file, opts, put);
window.benchUploadMany = (files, opts) => rawMany(files, opts, rawAheadUpload, put);

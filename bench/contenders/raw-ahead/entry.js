// The stronger raw ceiling: the raw fetch loop with its part URLs signed
// ahead, so no PUT waits on a signing round trip.
import { rawAheadUpload, rawMany } from '../common.js';

const put = async (url, body, part, headers) => {
  const r = await fetch(url, { method: 'PUT', body, headers });
  if (!r.ok) throw new Error(`PUT part ${part}: HTTP ${r.status}`);
  return r.headers.get('ETag');
};

window.benchUpload = (file, opts) => rawAheadUpload(file, opts, put);
window.benchUploadMany = (files, opts) => rawMany(files, opts, rawAheadUpload, put);

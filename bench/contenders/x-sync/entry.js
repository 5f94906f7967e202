// Experiment: each small file read once in a Worker (FileReaderSync, bytes
// dropped), then sent as the File: what ours does for a small file's CRC,
// without the CRC.
import { rawAheadUpload, rawMany, xhrPut } from '../common.js';
import { reader } from './reader.js';

const read = reader(false);
const put = async (url, body, part, headers) => {
  if (body.size <= (1 << 20)) await read(body);
  return xhrPut(url, body, part, headers);
};
window.benchUpload = (file, opts) => rawAheadUpload(file, opts, put);
window.benchUploadMany = (files, opts) => rawMany(files, opts, rawAheadUpload, put);

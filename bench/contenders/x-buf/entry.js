// Experiment: each small file read once in a Worker (FileReaderSync), its
// bytes handed back (transferred) and sent as the PUT's body: a file read
// once, against x-sync (read in the Worker, then sent as the File: read
// twice) and raw-ahead-xhr (sent as the File, never read by the page).
import { rawAheadUpload, rawMany, xhrPut } from '../common.js';
import { reader } from '../x-sync/reader.js';

const read = reader(true);
const put = async (url, body, part, headers) => xhrPut(url, body.size <= (1 << 20) ? await read(body) : body, part, headers);
window.benchUpload = (file, opts) => rawAheadUpload(file, opts, put);
window.benchUploadMany = (files, opts) => rawMany(files, opts, rawAheadUpload, put);

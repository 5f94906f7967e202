// Experiment: the XHR loop (raw-xhr) with every body sent as a slice of the
// File (as this client once sent whole files) instead of the File itself.
import { rawMany, rawUpload, xhrPut } from '../common.js';

const put = (url, body, part, headers) => xhrPut(url, body.slice(0, body.size), part, headers);

window.benchUpload = (file, opts) => rawUpload(file, opts, put);
window.benchUploadMany = (files, opts) => rawMany(files, opts, rawUpload, put);

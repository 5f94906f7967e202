// The raw ceiling with XMLHttpRequest instead of fetch, listening to upload
// progress as every client that shows progress must (fetch has none): what
// progress costs in this browser.
import { rawMany, rawUpload, xhrPut as put } from '../common.js';

window.benchUpload = (file, opts) => rawUpload(file, opts, put);
window.benchUploadMany = (files, opts) => rawMany(files, opts, rawUpload, put);

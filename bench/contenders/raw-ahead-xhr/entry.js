// The loop signing ahead, its PUTs sent with XMLHttpRequest: with many whole
// files Chromium sends them faster than fetch does (a ceiling must be the
// strongest loop there is).
import { rawAheadUpload, rawMany, xhrPut as put } from '../common.js';

window.benchUpload = (file, opts) => rawAheadUpload(file, opts, put);
window.benchUploadMany = (files, opts) => rawMany(files, opts, rawAheadUpload, put);

// Experiment: this client with no hashing Worker (as on a page whose CSP
// refuses blob: workers): every part hashed on the page, by the glue's CRC.
import { Uploader } from 's3-multipart-wasm';
import { install } from '../ours/install.js';

window.Worker = undefined;
install(Uploader);

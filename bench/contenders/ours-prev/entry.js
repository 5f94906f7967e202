// An earlier build of this client (its pkg/ copied to pkg-prev/), for A/B runs.
import { Uploader } from 's3-multipart-wasm-prev';
import { install } from '../ours/install.js';

install(Uploader);

// An earlier build of this client (pkg-prev/) with checksums off, for A/B runs.
import { Uploader } from 's3-multipart-wasm-prev';
import { install } from '../ours/install.js';

install(Uploader, { checksum: 'none' });

// This client with checksums off (`checksum: 'none'`): what hashing every part
// (CRC32 in WASM, in the hashing Worker) and the store's verification cost.
import { Uploader } from 's3-multipart-wasm';
import { install } from '../ours/install.js';

install(Uploader, { checksum: 'none' });

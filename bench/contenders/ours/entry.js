// This client, as an application uses it.
import { Uploader } from 's3-multipart-wasm';
import { install } from './install.js';

install(Uploader);

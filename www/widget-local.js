// The widget as the npm package ships it (npm/widget-core.js), over this
// checkout's bundler build: what `import ... from 's3-multipart-wasm/widget'` gives.
import { Uploader } from 's3-multipart-wasm';
import { makeWidget } from '../npm/widget-core.js';

export const { attach, defineElement } = makeWidget(async () => Uploader);

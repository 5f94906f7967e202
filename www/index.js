// The demo page: the drop-in widget on a file input, against the reference backend at /api.
import { attach, defineElement } from 's3-multipart-wasm/widget';

const input = document.getElementById('files');
const log = document.getElementById('log');
attach(input, { endpoint: '/api', keyPrefix: 'demo/' });

defineElement();
// For the end-to-end tests, which attach widgets of their own.
window.s3mpWidget = { attach };

function logStored(e) {
  const { result } = e.detail;
  const item = document.createElement('li');
  item.dataset.key = result.key;
  item.textContent = `${result.key} (${result.size} bytes) `;
  log.append(item);
}
input.addEventListener('upload-complete', logStored);
document.getElementById('element').addEventListener('upload-complete', logStored);

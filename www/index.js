// The demo page: the drop-in widget on a file input, against the reference backend at /api.
import { Uploader } from 's3-multipart-wasm';
import { attach, defineElement } from 's3-multipart-wasm/widget';

const input = document.getElementById('files');
const log = document.getElementById('log');
attach(input, { endpoint: '/api', keyPrefix: 'demo/' });

defineElement();
// For the end-to-end tests, which attach widgets of their own.
window.s3mpWidget = { attach };

let downloads;
function logStored(e) {
  const { result } = e.detail;
  const item = document.createElement('li');
  item.dataset.key = result.key;
  item.textContent = `${result.key} (${result.size} bytes) `;
  // A presigned GET from the backend, asked for when the link is followed
  // (it expires, so it is not made in advance).
  const link = document.createElement('a');
  link.className = 'download';
  link.href = '#';
  link.textContent = 'download';
  link.setAttribute('aria-label', `download ${result.key}`);
  link.addEventListener('click', async (ev) => {
    ev.preventDefault();
    downloads ||= new Uploader({ endpoint: '/api' });
    const url = await downloads.downloadUrl(result.key);
    link.href = url;
    link.dataset.url = url;
    window.open(url, '_blank', 'noopener');
  });
  item.append(link);
  log.append(item);
}
input.addEventListener('upload-complete', logStored);
document.getElementById('element').addEventListener('upload-complete', logStored);

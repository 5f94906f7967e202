// The one-file harness: one Uploader against the reference backend at /api, driven by the resilience tests.
// Options can be set in the query string, e.g. ?partSize=5242880&concurrency=2&partTimeout=10000&retryDelays=0,500,1000
import { Uploader } from 's3-multipart-wasm';

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
const options = { endpoint: '/api' };
for (const name of ['partSize', 'concurrency', 'partTimeout', 'multipartThreshold']) {
  if (params.has(name)) options[name] = Number(params.get(name));
}
if (params.has('checksum')) options.checksum = params.get('checksum');
if (params.has('retryDelays')) options.retryDelays = params.get('retryDelays').split(',').map(Number);
const uploader = new Uploader(options);
let current = null;
let retries = 0;

const mib = (n) => `${(n / 1048576).toFixed(1)} MiB`;

function setState(state) {
  $('state').textContent = state;
  $('state').dataset.state = state;
  const running = state === 'uploading' || state === 'paused';
  $('pause').disabled = state !== 'uploading';
  $('resume').disabled = state !== 'paused';
  $('abort').disabled = !running;
}

function onProgress(p) {
  $('bar').value = p.percent;
  $('percent').textContent = `${p.percent.toFixed(1)} %`;
  $('bytes').textContent = `${mib(p.bytesSent)} of ${mib(p.bytesTotal)} · parts ${p.partsDone}/${p.partsTotal}`;
  $('speed').textContent = p.speed > 0 ? `${mib(p.speed)}/s` : '';
  $('eta').textContent = p.eta == null ? '' : `ETA ${Math.ceil(p.eta)} s`;
}

const retryDelays = [];
function onRetry(r) {
  retries += 1;
  retryDelays.push(r.delay);
  $('retries').textContent = String(retries);
  $('retries').title = r.error.message;
  // For the tests: the delay before each retry, in ms.
  $('retries').dataset.delays = retryDelays.join(',');
}

function onResume(info) {
  $('resumed').textContent = `resumed upload ${info.uploadId}: ${info.partsDone} parts (${mib(info.bytesDone)}) were already stored`;
}

async function listResumable() {
  const list = await uploader.resumableUploads();
  $('resumable').textContent = list.length
    ? `Interrupted uploads you can resume by choosing the same file again: ${list.map((u) => `${u.name} (${u.partsDone} parts stored)`).join(', ')}`
    : '';
}

$('file').addEventListener('change', async () => {
  const file = $('file').files[0];
  if (!file) return;
  $('error').textContent = '';
  $('result-key').textContent = '';
  $('resumed').textContent = '';
  $('download').hidden = true;
  // A key that stays the same for the same file, so that a reload can resume it.
  const key = `${$('prefix').value}${file.name}`;
  setState('uploading');
  current = uploader.upload(file, { key, onProgress, onRetry, onResume });
  try {
    const result = await current;
    $('result-key').textContent = result.key;
    $('download').href = await uploader.downloadUrl(result.key);
    $('download').hidden = false;
    setState('done');
  } catch (e) {
    $('error').textContent = `${e.code}: ${e.message}`;
    setState(e.code === 'Aborted' ? 'aborted' : 'error');
  } finally {
    current = null;
    listResumable();
  }
});

$('pause').addEventListener('click', () => { current?.pause(); setState('paused'); });
$('resume').addEventListener('click', () => { current?.resume(); setState('uploading'); });
$('abort').addEventListener('click', () => current?.abort());
listResumable();
// For tests that drive the page from outside: the file input is listened to now.
document.body.dataset.ready = 'true';

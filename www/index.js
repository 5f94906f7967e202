// The demo page: one Uploader against the reference backend at /api.
import { Uploader } from 's3-multipart-wasm';

const $ = (id) => document.getElementById(id);
const uploader = new Uploader({ endpoint: '/api' });
let current = null;

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

$('file').addEventListener('change', async () => {
  const file = $('file').files[0];
  if (!file) return;
  $('error').textContent = '';
  $('result-key').textContent = '';
  $('download').hidden = true;
  const key = `${$('prefix').value}${Date.now()}-${file.name}`;
  setState('uploading');
  current = uploader.upload(file, { key, onProgress });
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
  }
});

$('pause').addEventListener('click', () => { current?.pause(); setState('paused'); });
$('resume').addEventListener('click', () => { current?.resume(); setState('uploading'); });
$('abort').addEventListener('click', () => current?.abort());

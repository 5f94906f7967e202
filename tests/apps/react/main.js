// A React app as a user writes one, with the package's hook and input
// component (createElement rather than JSX: nothing to configure).
import { createElement as h, StrictMode, useState } from 'react';
import { createRoot } from 'react-dom/client';
import { UploadInput, useUpload } from 's3-multipart-wasm/react';

function OneFile() {
  const u = useUpload({ endpoint: '/api', partSize: 5 * 1024 * 1024, concurrency: 2 });
  const choose = (e) => {
    const file = e.target.files[0];
    if (file) u.upload(file, { key: `react-app/${file.name}` });
  };
  return h('section', null,
    h('label', { htmlFor: 'file' }, 'One file'),
    h('input', { id: 'file', type: 'file', onChange: choose }),
    h('button', { id: 'pause', onClick: u.pause, disabled: u.state !== 'uploading' }, 'Pause'),
    h('button', { id: 'resume', onClick: u.resume, disabled: u.state !== 'paused' }, 'Resume'),
    h('button', { id: 'abort', onClick: u.abort }, 'Abort'),
    h('output', { id: 'state', 'data-state': u.state }, u.state),
    h('progress', { id: 'bar', max: 100, value: u.progress ? u.progress.percent : 0 }),
    u.result && h('p', { id: 'result' }, u.result.key),
    u.error && h('p', { id: 'error' }, `${u.error.code}: ${u.error.message}`));
}

function App() {
  const [shown, setShown] = useState(true);
  const [stored, setStored] = useState([]);
  return h('main', null,
    h('button', { id: 'unmount', onClick: () => setShown(false) }, 'Unmount the uploader'),
    shown && h(OneFile),
    h('label', { htmlFor: 'files' }, 'Many files'),
    h(UploadInput, { id: 'files', endpoint: '/api', keyPrefix: 'react-input/', onComplete: (r) => setStored((s) => [...s, r.key]) }),
    h('ul', { id: 'done' }, stored.map((k) => h('li', { key: k }, k))));
}

createRoot(document.getElementById('root')).render(h(StrictMode, null, h(App)));

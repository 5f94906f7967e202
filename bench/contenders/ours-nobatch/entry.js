// This client against a backend without the batched part-urls call (the
// page answers it 404, as an older backend would): each part is signed by a
// call of its own. Beside `ours`, an A/B of batched signing alone.
import { Uploader } from 's3-multipart-wasm';

const fetch0 = window.fetch.bind(window);
window.fetch = (input, init) => {
  const url = typeof input === 'string' ? input : input.url;
  if (url.endsWith('/part-urls')) return Promise.resolve(new Response('{"error":{"code":"NotFound","message":"no such route"}}', { status: 404 }));
  return fetch0(input, init);
};

window.benchUpload = async (file, { api, key, partSize, concurrency }) => {
  const uploader = new Uploader({ endpoint: `${api}/api`, partSize, concurrency, multipartThreshold: 0 });
  await uploader.upload(file, { key });
};

window.benchUploadMany = async (files, { api, key, partSize, concurrency }) => {
  const uploader = new Uploader({ endpoint: `${api}/api`, partSize, concurrency });
  await Promise.all(files.map((file, i) => uploader.upload(file, { key: `${key}/${i}` })));
};

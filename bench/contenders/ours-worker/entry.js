// This client from its `web` build (as Vite apps and the React bindings load
// it): the same client, with the parts hashed in a dedicated Worker.
import init, { Uploader } from 's3-multipart-wasm/web';

window.benchUpload = async (file, { api, key, partSize, concurrency }) => {
  await init();
  const uploader = new Uploader({ endpoint: `${api}/api`, partSize, concurrency, multipartThreshold: 0 });
  await uploader.upload(file, { key });
};

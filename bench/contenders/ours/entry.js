// This client, as an application uses it.
import { Uploader } from 's3-multipart-wasm';

window.benchUpload = async (file, { api, key, partSize, concurrency }) => {
  const uploader = new Uploader({ endpoint: `${api}/api`, partSize, concurrency, multipartThreshold: 0 });
  await uploader.upload(file, { key });
};

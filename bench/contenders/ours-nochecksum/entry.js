// This client with checksums off (`checksum: 'none'`): what hashing every part
// (CRC32 in WASM, on the page's thread) and the store's verification cost.
import { Uploader } from 's3-multipart-wasm';

window.benchUpload = async (file, { api, key, partSize, concurrency }) => {
  const uploader = new Uploader({ endpoint: `${api}/api`, partSize, concurrency, multipartThreshold: 0, checksum: 'none' });
  await uploader.upload(file, { key });
};

window.benchUploadMany = async (files, { api, key, partSize, concurrency }) => {
  const uploader = new Uploader({ endpoint: `${api}/api`, partSize, concurrency, checksum: 'none' });
  await Promise.all(files.map((file, i) => uploader.upload(file, { key: `${key}/${i}` })));
};

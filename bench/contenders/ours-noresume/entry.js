// This client with the resume journal off (`resume: false`): what the journal's
// look-up before init costs. Not in the default run (`--contenders` to add it).
import { Uploader } from 's3-multipart-wasm';

window.benchUpload = async (file, { api, key, partSize, concurrency }) => {
  const uploader = new Uploader({ endpoint: `${api}/api`, partSize, concurrency, multipartThreshold: 0 });
  await uploader.upload(file, { key, resume: false });
};

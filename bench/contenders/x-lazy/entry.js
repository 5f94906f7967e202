// Experiment (cold start): this client as an app that imports it lazily. The
// module's chunk starts loading as the page's script runs, and the page's
// own code is ready without waiting for it; the upload waits for it.
const client = import('s3-multipart-wasm');

window.benchUpload = async (file, { api, key, partSize, concurrency }) => {
  const { Uploader } = await client;
  const uploader = new Uploader({ endpoint: `${api}/api`, partSize, concurrency, multipartThreshold: 0 });
  await uploader.upload(file, { key });
};

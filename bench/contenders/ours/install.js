// This client, as an application uses it: the bench's two entry points on
// `Uploader` (the build under test, or an earlier one: ../ours-prev), with
// `extra` options (`{ checksum: 'none' }`: ../ours-nochecksum).
export function install(Uploader, extra = {}) {
  window.benchUpload = async (file, { api, key, partSize, concurrency }) => {
    const uploader = new Uploader({ endpoint: `${api}/api`, partSize, concurrency, multipartThreshold: 0, ...extra });
    await uploader.upload(file, { key });
  };

  // Many files: one Uploader (its PUTs share one budget of `concurrency`),
  // every file handed to it at once, as an app does with a multi-file input.
  window.benchUploadMany = async (files, { api, key, partSize, concurrency }) => {
    const uploader = new Uploader({ endpoint: `${api}/api`, partSize, concurrency, ...extra });
    await Promise.all(files.map((file, i) => uploader.upload(file, { key: `${key}/${i}` })));
  };
}

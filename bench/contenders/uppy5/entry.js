// Uppy's @uppy/aws-s3 (multipart), its hooks calling the reference backend.
import Uppy from '@uppy/core';
import AwsS3 from '@uppy/aws-s3';
import { backend } from '../common.js';

window.benchUpload = (file, { api, key, partSize, concurrency }) => new Promise((resolve, reject) => {
  const b = backend(api);
  const uppy = new Uppy({ autoProceed: false });
  uppy.use(AwsS3, {
    shouldUseMultipart: () => true,
    limit: concurrency,
    getChunkSize: () => partSize,
    createMultipartUpload: async () => {
      const r = await b.init(key);
      return { uploadId: r.upload_id, key: r.key };
    },
    signPart: async (_file, { uploadId, key: k, partNumber, signal }) => ({ url: (await b.partUrl(k, uploadId, partNumber, signal)).url }),
    completeMultipartUpload: async (_file, { uploadId, key: k, parts }) => ({ location: (await b.complete(k, uploadId, parts)).location }),
    abortMultipartUpload: async (_file, { uploadId, key: k }) => { await b.abort(k, uploadId); },
    listParts: async (_file, { uploadId, key: k }) => (await b.listParts(k, uploadId)).parts,
  });
  uppy.addFile({ name: key.split('/').pop(), type: 'application/octet-stream', data: file });
  uppy.upload().then((result) => {
    if (result && result.failed && result.failed.length) reject(new Error(String(result.failed[0].error)));
    else resolve();
  }, reject);
});

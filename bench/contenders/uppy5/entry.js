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

// Many files: all added to one Uppy, `limit` requests at a time; a file up
// to one part goes as one presigned PUT.
window.benchUploadMany = (files, { api, key, partSize, concurrency }) => new Promise((resolve, reject) => {
  const b = backend(api);
  const uppy = new Uppy({ autoProceed: false });
  const keys = new Map();
  uppy.use(AwsS3, {
    shouldUseMultipart: (file) => file.size > partSize,
    limit: concurrency,
    getChunkSize: () => partSize,
    getUploadParameters: async (file) => ({
      method: 'PUT', url: (await b.url(keys.get(file.id))).url, headers: { 'content-type': 'application/octet-stream' },
    }),
    createMultipartUpload: async (file) => {
      const r = await b.init(keys.get(file.id));
      return { uploadId: r.upload_id, key: r.key };
    },
    signPart: async (_file, { uploadId, key: k, partNumber, signal }) => ({ url: (await b.partUrl(k, uploadId, partNumber, signal)).url }),
    completeMultipartUpload: async (_file, { uploadId, key: k, parts }) => ({ location: (await b.complete(k, uploadId, parts)).location }),
    abortMultipartUpload: async (_file, { uploadId, key: k }) => { await b.abort(k, uploadId); },
    listParts: async (_file, { uploadId, key: k }) => (await b.listParts(k, uploadId)).parts,
  });
  files.forEach((data, i) => {
    const id = uppy.addFile({ name: `f${i}`, type: 'application/octet-stream', data });
    keys.set(id, `${key}/${i}`);
  });
  uppy.upload().then((result) => {
    if (result && result.failed && result.failed.length) reject(new Error(String(result.failed[0].error)));
    else if (!result || result.successful.length !== files.length) reject(new Error(`uploaded ${result && result.successful.length} of ${files.length}`));
    else resolve();
  }, reject);
});

// Uppy's @uppy/aws-s3 6.x. It has no multipart hooks any more: it sends every
// S3 request itself, each presigned either by `signRequest` (a backend that
// presigns arbitrary S3 requests) or, as here, in the browser with credentials
// from `getCredentials` (the store's keys, as lib-storage gets them).
import Uppy from '@uppy/core';
import AwsS3 from '@uppy/aws-s3';

window.benchUpload = (file, { s3, bucket, accessKey, secretKey, key, partSize, concurrency }) => new Promise((resolve, reject) => {
  const uppy = new Uppy({ autoProceed: false });
  uppy.use(AwsS3, {
    s3Endpoint: `${s3}/${bucket}`,
    region: 'us-east-1',
    getCredentials: async () => ({
      credentials: { accessKeyId: accessKey, secretAccessKey: secretKey, sessionToken: '' },
      region: 'us-east-1',
    }),
    shouldUseMultipart: () => true,
    limit: concurrency,
    getChunkSize: () => partSize,
    generateObjectKey: () => key,
  });
  uppy.addFile({ name: key.split('/').pop(), type: 'application/octet-stream', data: file });
  uppy.upload().then((result) => {
    if (result && result.failed && result.failed.length) reject(new Error(String(result.failed[0].error)));
    else resolve();
  }, reject);
});

// AWS SDK v3 lib-storage's Upload, signing in the browser with the store's credentials.
import { S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';

window.benchUpload = async (file, { s3, bucket, accessKey, secretKey, key, partSize, concurrency }) => {
  const client = new S3Client({
    endpoint: s3,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: accessKey, secretAccessKey: secretKey },
    // No flexible checksums: the others send none either, and the store ignores them.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
  const upload = new Upload({ client, params: { Bucket: bucket, Key: key, Body: file }, partSize, queueSize: concurrency });
  await upload.done();
};

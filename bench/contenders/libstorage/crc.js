// AWS SDK v3 lib-storage's Upload with its flexible checksums on (CRC32 of
// every part, sent for the store to verify), signing in the browser: the
// peer that verifies what it stores, as this client does by default.
import { S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';

window.benchUpload = async (file, { s3, bucket, accessKey, secretKey, key, partSize, concurrency }) => {
  const client = new S3Client({
    endpoint: s3,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: accessKey, secretAccessKey: secretKey },
    requestChecksumCalculation: 'WHEN_SUPPORTED',
    responseChecksumValidation: 'WHEN_SUPPORTED',
  });
  const upload = new Upload({
    client,
    params: { Bucket: bucket, Key: key, Body: file, ChecksumAlgorithm: 'CRC32' },
    partSize,
    queueSize: concurrency,
  });
  await upload.done();
};

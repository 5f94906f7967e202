// What every contender's page shares: JSON calls to the reference backend's REST protocol.
export function backend(api) {
  const call = async (method, path, body, signal) => {
    const r = await fetch(`${api}/api${path}`, { method, body: body && JSON.stringify(body), signal });
    if (!r.ok) throw new Error(`${path}: HTTP ${r.status} ${await r.text()}`);
    return r.json();
  };
  return {
    init: (key) => call('POST', '/uploads/multipart/init', { key, content_type: 'application/octet-stream' }),
    // One presigned PUT (the content type is signed into it).
    url: (key) => call('POST', '/uploads/url', { key, content_type: 'application/octet-stream' }),
    partUrl: (key, uploadId, partNumber, signal) =>
      call('POST', '/uploads/multipart/part-url', { key, upload_id: uploadId, part_number: partNumber }, signal),
    complete: (key, uploadId, parts) => call('POST', '/uploads/multipart/complete', { key, upload_id: uploadId, parts }),
    abort: (key, uploadId) => call('DELETE', '/uploads/multipart/abort', { key, upload_id: uploadId }),
    listParts: (key, uploadId) =>
      call('GET', `/uploads/multipart/parts?key=${encodeURIComponent(key)}&upload_id=${encodeURIComponent(uploadId)}`),
  };
}

/**
 * A PUT with XMLHttpRequest, listening to upload progress as every client
 * that shows progress must (fetch has none); resolves to the ETag.
 */
export const xhrPut = (url, body, part, headers = {}) => new Promise((resolve, reject) => {
  const xhr = new XMLHttpRequest();
  xhr.open('PUT', url);
  for (const [k, v] of Object.entries(headers)) xhr.setRequestHeader(k, v);
  xhr.upload.onprogress = () => {};
  xhr.onload = () => (xhr.status < 300 ? resolve(xhr.getResponseHeader('ETag')) : reject(new Error(`PUT part ${part}: HTTP ${xhr.status}`)));
  xhr.onerror = () => reject(new Error(`PUT part ${part}: network error`));
  xhr.send(body);
});

/**
 * The raw loops: init, then `concurrency` workers that each sign a part and
 * PUT its Blob slice with `put(url, body)` (which resolves to the ETag), then
 * complete. No retry, no progress reported.
 */
export async function rawUpload(file, { api, key, partSize, concurrency }, put) {
  const b = backend(api);
  const { upload_id: uploadId } = await b.init(key);
  const count = Math.ceil(file.size / partSize);
  const parts = new Array(count);
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const i = next++;
      const { url } = await b.partUrl(key, uploadId, i + 1);
      parts[i] = { PartNumber: i + 1, ETag: await put(url, file.slice(i * partSize, Math.min(file.size, (i + 1) * partSize)), i + 1) };
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  await b.complete(key, uploadId, parts);
}

/**
 * The stronger raw loop: like rawUpload, but the part URLs are signed ahead
 * (2 × `concurrency` at the start, then one `concurrency` parts ahead of each
 * PUT), so no PUT waits on a signing round trip.
 */
export async function rawAheadUpload(file, { api, key, partSize, concurrency }, put) {
  const b = backend(api);
  const { upload_id: uploadId } = await b.init(key);
  const count = Math.ceil(file.size / partSize);
  const signed = new Array(count);
  const sign = (i) => (signed[i] ||= b.partUrl(key, uploadId, i + 1));
  for (let i = 0; i < Math.min(count, 2 * concurrency); i++) sign(i);
  const parts = new Array(count);
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const i = next++;
      const { url } = await sign(i);
      if (i + concurrency < count) sign(i + concurrency);
      parts[i] = { PartNumber: i + 1, ETag: await put(url, file.slice(i * partSize, Math.min(file.size, (i + 1) * partSize)), i + 1) };
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  await b.complete(key, uploadId, parts);
}

/**
 * Many files with a raw loop: `concurrency` files at a time; a file up to
 * one part goes as one presigned PUT of its `File`, a larger one through
 * `upload` (one of the loops above) with its own `concurrency` streams.
 * With the loop that signs ahead, single PUTs are signed ahead too (2 ×
 * `concurrency` at the start, then `concurrency` files ahead of each PUT),
 * so that no PUT waits on a signing round trip: the ceiling for many files.
 */
export async function rawMany(files, opts, upload, put) {
  const b = backend(opts.api);
  const keyOf = (i) => `${opts.key}/${i}`;
  const single = (i) => files[i].size <= opts.partSize;
  const ahead = upload === rawAheadUpload;
  const signed = new Array(files.length);
  const sign = (i) => (signed[i] ||= b.url(keyOf(i)));
  if (ahead) for (let i = 0; i < Math.min(files.length, 2 * opts.concurrency); i++) if (single(i)) sign(i);
  let next = 0;
  const worker = async () => {
    while (next < files.length) {
      const i = next++;
      const later = i + opts.concurrency;
      if (ahead && later < files.length && single(later)) sign(later);
      if (single(i)) {
        const { url } = await sign(i);
        await put(url, files[i], 1, { 'Content-Type': 'application/octet-stream' });
      } else {
        await upload(files[i], { ...opts, key: keyOf(i) }, put);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(opts.concurrency, files.length) }, worker));
}

// What every contender's page shares: JSON calls to the reference backend's REST protocol.
export function backend(api) {
  const call = async (method, path, body, signal) => {
    const r = await fetch(`${api}/api${path}`, { method, body: body && JSON.stringify(body), signal });
    if (!r.ok) throw new Error(`${path}: HTTP ${r.status} ${await r.text()}`);
    return r.json();
  };
  return {
    init: (key) => call('POST', '/uploads/multipart/init', { key, content_type: 'application/octet-stream' }),
    partUrl: (key, uploadId, partNumber, signal) =>
      call('POST', '/uploads/multipart/part-url', { key, upload_id: uploadId, part_number: partNumber }, signal),
    complete: (key, uploadId, parts) => call('POST', '/uploads/multipart/complete', { key, upload_id: uploadId, parts }),
    abort: (key, uploadId) => call('DELETE', '/uploads/multipart/abort', { key, upload_id: uploadId }),
    listParts: (key, uploadId) =>
      call('GET', `/uploads/multipart/parts?key=${encodeURIComponent(key)}&upload_id=${encodeURIComponent(uploadId)}`),
  };
}

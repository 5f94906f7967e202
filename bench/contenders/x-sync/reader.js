// A Worker that reads a Blob at once (FileReaderSync) and answers its bytes
// (transferred) or only their count.
export function reader(keep) {
  const src = `onmessage = ({ data: { id, blob, keep } }) => {
    const buf = new FileReaderSync().readAsArrayBuffer(blob);
    if (keep) postMessage({ id, buf }, [buf]); else postMessage({ id, n: buf.byteLength });
  };`;
  const w = new Worker(URL.createObjectURL(new Blob([src], { type: 'text/javascript' })));
  const waiting = new Map();
  let seq = 0;
  w.onmessage = ({ data }) => { waiting.get(data.id)(data.buf); waiting.delete(data.id); };
  return (blob) => new Promise((resolve) => { const id = ++seq; waiting.set(id, resolve); w.postMessage({ id, blob, keep }); });
}

// React bindings, independent of how the WASM module is loaded:
// `makeReact(loadUploader)` takes an async function that resolves to the
// `Uploader` class. React is a peer dependency (optional for the rest of the
// package); no JSX, so nothing needs compiling.
import { createElement, useCallback, useEffect, useRef, useState } from 'react';
import { makeWidget } from './widget-core.js';

export function makeReact(loadUploader) {
  const widget = makeWidget(loadUploader);

  /**
   * One upload at a time, as React state. `upload(file, options)` starts one
   * (and resolves to its result, or null when it failed or was aborted: the
   * hook's `error` says why); `pause`, `resume`, `abort` control it; `reset`
   * forgets a finished one. On unmount a running upload is aborted (its
   * multipart upload deleted), unless `keepOnUnmount` is set: then it is
   * paused, and stays resumable by uploading the same file again.
   */
  function useUpload(options = {}) {
    const { keepOnUnmount = false, ...uploaderOptions } = options;
    const optionsRef = useRef(uploaderOptions);
    optionsRef.current = uploaderOptions;
    const keepRef = useRef(keepOnUnmount);
    keepRef.current = keepOnUnmount;
    const uploaderRef = useRef(null);
    const handleRef = useRef(null);
    const mounted = useRef(true);
    const [state, setState] = useState('idle');
    const [progress, setProgress] = useState(null);
    const [result, setResult] = useState(null);
    const [error, setError] = useState(null);

    useEffect(() => {
      mounted.current = true;
      return () => {
        mounted.current = false;
        const h = handleRef.current;
        if (h) {
          if (keepRef.current) h.pause();
          else h.abort();
        }
        handleRef.current = null;
      };
    }, []);

    const upload = useCallback(async (file, uploadOptions) => {
      if (handleRef.current) throw new Error('useUpload: an upload is running; abort() it or wait for it first');
      const Uploader = await loadUploader();
      uploaderRef.current ||= new Uploader(optionsRef.current);
      const set = (f) => { if (mounted.current) f(); };
      set(() => { setState('uploading'); setProgress(null); setResult(null); setError(null); });
      const user = uploadOptions || {};
      const handle = uploaderRef.current.upload(file, {
        ...user,
        onProgress: (p) => { set(() => setProgress(p)); user.onProgress?.(p); },
      });
      handleRef.current = handle;
      try {
        const r = await handle;
        set(() => { setResult(r); setState('done'); });
        return r;
      } catch (e) {
        set(() => { setError(e); setState(e && e.code === 'Aborted' ? 'aborted' : 'error'); });
        return null;
      } finally {
        if (handleRef.current === handle) handleRef.current = null;
      }
    }, []);

    const pause = useCallback(() => {
      if (handleRef.current) { handleRef.current.pause(); setState('paused'); }
    }, []);
    const resume = useCallback(() => {
      if (handleRef.current) { handleRef.current.resume(); setState('uploading'); }
    }, []);
    const abort = useCallback(() => { handleRef.current?.abort(); }, []);
    const reset = useCallback(() => {
      if (handleRef.current) return;
      setState('idle'); setProgress(null); setResult(null); setError(null);
    }, []);

    return { state, progress, result, error, upload, pause, resume, abort, reset };
  }

  /**
   * A file input with the drop-in widget (list, progress, pause/resume/cancel,
   * drag and drop). Props: the widget's options, plus `onComplete(result,
   * file)`, `onError(error, file)`, `multiple`, `accept`, `id`. On unmount the
   * widget is detached: its running uploads are cancelled (deleted).
   */
  function UploadInput(props) {
    const { onComplete, onError, multiple = true, accept, id, ...widgetOptions } = props;
    const inputRef = useRef(null);
    const callbacks = useRef({ onComplete, onError });
    callbacks.current = { onComplete, onError };
    const optionsRef = useRef(widgetOptions);
    useEffect(() => {
      const input = inputRef.current;
      const w = widget.attach(input, optionsRef.current);
      const done = (e) => callbacks.current.onComplete?.(e.detail.result, e.detail.file);
      const failed = (e) => callbacks.current.onError?.(e.detail.error, e.detail.file);
      input.addEventListener('upload-complete', done);
      input.addEventListener('upload-error', failed);
      return () => {
        input.removeEventListener('upload-complete', done);
        input.removeEventListener('upload-error', failed);
        w.detach();
      };
    }, []);
    return createElement('input', { ref: inputRef, type: 'file', multiple, accept, id });
  }

  return { useUpload, UploadInput };
}

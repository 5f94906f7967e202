// The drop-in upload widget, independent of how the WASM module is loaded:
// `makeWidget(loadUploader)` takes an async function that resolves to the
// `Uploader` class (the bundler build imports its module then; the `web`
// build runs `init()`), called once the widget has rendered. Everything is rendered in a shadow root: no global CSS, and file
// names only ever go in as text.

const STYLE = `
:host { all: initial; display: block; font: var(--s3u-font, 14px/1.4 system-ui, sans-serif); color: var(--s3u-fg, #1d2230); }
.zone { border: 2px dashed var(--s3u-border, #b8bfd0); border-radius: var(--s3u-radius, 8px); padding: 12px;
        background: var(--s3u-bg, #fafbfd); }
.zone.over { border-color: var(--s3u-accent, #3b5bdb); background: var(--s3u-bg-over, #eef2ff); }
.hint { margin: 0 0 8px; color: var(--s3u-muted, #5c6370); }
button { font: inherit; padding: 4px 10px; border-radius: var(--s3u-radius, 8px); border: 1px solid var(--s3u-border, #b8bfd0);
         background: var(--s3u-button-bg, #fff); color: inherit; cursor: pointer; }
button:focus-visible { outline: 3px solid var(--s3u-focus, #3b5bdb); outline-offset: 2px; }
button[hidden] { display: none; }
ul { list-style: none; margin: 8px 0 0; padding: 0; }
li { padding: 8px 0; border-top: 1px solid var(--s3u-border, #e3e6ee); }
.row { display: flex; gap: 8px; align-items: baseline; flex-wrap: wrap; }
.name { font-weight: 600; overflow-wrap: anywhere; }
.meta { color: var(--s3u-muted, #5c6370); font-variant-numeric: tabular-nums; }
.bar { height: 8px; border-radius: 4px; background: var(--s3u-track, #e3e6ee); overflow: hidden; margin: 6px 0; }
.fill { height: 100%; width: 0; background: var(--s3u-accent, #3b5bdb); transition: width .2s; }
li[data-state="done"] .fill { background: var(--s3u-success, #2b8a3e); }
li[data-state="error"] .fill, li[data-state="cancelled"] .fill { background: var(--s3u-danger, #c92a2a); }
.error { color: var(--s3u-danger, #c92a2a); }
.sr { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }
`;

const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
export function formatBytes(n) {
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i += 1; }
  return `${n.toFixed(i === 0 ? 0 : 1)} ${units[i]}`;
}

function el(tag, props = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (k === 'text') e.textContent = v;
    else if (k.startsWith('aria-') || k === 'role' || k.startsWith('data-')) e.setAttribute(k, v);
    else e[k] = v;
  }
  e.append(...children);
  return e;
}

/** One file in the list: its row, its upload, its buttons. */
class FileRow {
  constructor(widget, file) {
    this.widget = widget;
    this.file = file;
    this.name = el('span', { className: 'name', text: file.name || 'unnamed file' });
    this.size = el('span', { className: 'meta', text: formatBytes(file.size) });
    this.state = el('span', { className: 'meta state', text: 'waiting' });
    this.percent = el('span', { className: 'meta percent', text: '0 %' });
    this.speed = el('span', { className: 'meta speed' });
    this.eta = el('span', { className: 'meta eta' });
    this.fill = el('div', { className: 'fill' });
    this.bar = el('div', {
      className: 'bar', role: 'progressbar', 'aria-valuemin': '0', 'aria-valuemax': '100', 'aria-valuenow': '0',
      'aria-valuetext': '0 %', 'aria-label': `Upload of ${file.name || 'unnamed file'}`,
    }, this.fill);
    this.error = el('div', { className: 'error', role: 'alert' });
    const button = (label, action) => {
      const b = el('button', { type: 'button', text: label, className: action });
      b.setAttribute('aria-label', `${label} ${file.name || 'unnamed file'}`);
      b.addEventListener('click', () => this[action]());
      return b;
    };
    this.buttons = {
      pause: button('Pause', 'pause'),
      resume: button('Resume', 'resume'),
      cancel: button('Cancel', 'cancel'),
      retry: button('Retry', 'retry'),
    };
    this.li = el('li', { 'data-state': 'waiting' },
      el('div', { className: 'row' }, this.name, this.size, this.state, this.percent, this.speed, this.eta),
      this.bar,
      el('div', { className: 'row' }, ...Object.values(this.buttons)),
      this.error);
    this.setState('waiting');
  }

  setState(state, message = '') {
    this.li.dataset.state = state;
    this.state.textContent = state;
    const b = this.buttons;
    b.pause.hidden = state !== 'uploading';
    b.resume.hidden = state !== 'paused';
    b.cancel.hidden = !['waiting', 'uploading', 'paused'].includes(state);
    b.retry.hidden = !['error', 'cancelled'].includes(state);
    this.error.textContent = message;
    if (state !== 'uploading') {
      this.speed.textContent = '';
      this.eta.textContent = '';
    }
    this.widget.announce(`${this.file.name || 'unnamed file'}: ${state}${message ? `, ${message}` : ''}`);
  }

  progress(p) {
    const pct = Math.floor(p.percent * 10) / 10;
    this.fill.style.width = `${p.percent}%`;
    this.bar.setAttribute('aria-valuenow', String(Math.round(p.percent)));
    this.bar.setAttribute('aria-valuetext', `${pct} %, ${formatBytes(p.bytesSent)} of ${formatBytes(p.bytesTotal)}`);
    this.percent.textContent = `${pct} %`;
    this.speed.textContent = p.speed > 0 ? `${formatBytes(p.speed)}/s` : '';
    this.eta.textContent = p.eta == null ? '' : `${Math.ceil(p.eta)} s left`;
    this.widget.emit('upload-progress', { file: this.file, progress: p });
  }

  async start() {
    this.setState('uploading');
    try {
      const uploader = await this.widget.uploader();
      this.handle = uploader.upload(this.file, {
        key: this.widget.keyFor(this.file),
        onProgress: (p) => this.progress(p),
      });
      const result = await this.handle;
      this.result = result;
      this.setState('done');
      this.widget.emit('upload-complete', { file: this.file, result });
    } catch (error) {
      if (error && error.code === 'Aborted') {
        this.setState('cancelled');
      } else {
        this.setState('error', error && error.message ? error.message : String(error));
        this.widget.emit('upload-error', { file: this.file, error });
      }
    } finally {
      this.handle = null;
    }
  }

  pause() { if (this.handle) { this.handle.pause(); this.setState('paused'); this.buttons.resume.focus(); } }
  resume() { if (this.handle) { this.handle.resume(); this.setState('uploading'); this.buttons.pause.focus(); } }
  cancel() { if (this.handle) this.handle.abort(); }
  retry() { this.start(); this.buttons.pause.focus(); }
}

/** Builds `attach` and `defineElement` around a loader of the `Uploader` class. */
export function makeWidget(loadUploader) {
  // The module is loaded once for every widget, and again after a failure.
  let loading = null;
  const load = () => (loading ||= loadUploader().catch((e) => { loading = null; throw e; }));
  // Once a widget has rendered, the module loads in the background (when
  // the page is idle), so that the first file does not wait for it.
  const preload = () => {
    const soon = globalThis.requestIdleCallback || ((f) => setTimeout(f, 1));
    soon(() => load().catch(() => {}));
  };

  class Widget {
    constructor(host, options, input) {
      this.host = host;
      this.options = options;
      this.rows = [];
      this.root = host.shadowRoot || host.attachShadow({ mode: 'open' });
      this.input = input;
      const choose = el('button', { type: 'button', text: options.buttonLabel || 'Choose files', className: 'choose' });
      choose.addEventListener('click', () => this.input.click());
      this.list = el('ul', { 'aria-label': 'Uploads' });
      this.live = el('div', { className: 'sr', 'aria-live': 'polite' });
      this.zone = el('div', { className: 'zone' },
        el('p', { className: 'hint', text: options.hint || 'Drop files here, or' }), choose, this.list, this.live);
      this.root.replaceChildren(el('style', { text: STYLE }), this.zone);
      this.onChange = () => {
        this.add(this.input.files);
        this.input.value = '';
      };
      this.input.addEventListener('change', this.onChange);
      for (const ev of ['dragenter', 'dragover']) {
        this.zone.addEventListener(ev, (e) => { e.preventDefault(); this.zone.classList.add('over'); });
      }
      this.zone.addEventListener('dragleave', () => this.zone.classList.remove('over'));
      this.zone.addEventListener('drop', (e) => {
        e.preventDefault();
        this.zone.classList.remove('over');
        if (e.dataTransfer) this.add(e.dataTransfer.files);
      });
      preload();
    }

    uploader() {
      this.pending ||= load().then((Uploader) => {
        const { keyPrefix, key, buttonLabel, hint, eventTarget, ...uploaderOptions } = this.options;
        return new Uploader(uploaderOptions);
      }, (e) => {
        // The module did not load (offline?): the next file tries again.
        this.pending = null;
        throw e;
      });
      return this.pending;
    }

    keyFor(file) {
      if (typeof this.options.key === 'function') return this.options.key(file);
      return `${this.options.keyPrefix || ''}${file.name}`;
    }

    add(files) {
      for (const file of Array.from(files || [])) {
        const row = new FileRow(this, file);
        this.rows.push(row);
        this.list.append(row.li);
        row.start();
      }
    }

    /** Forgets the rows of finished uploads (done, cancelled, failed): list and memory. */
    clear() {
      this.rows = this.rows.filter((row) => {
        const over = ['done', 'cancelled', 'error'].includes(row.li.dataset.state);
        if (over) row.li.remove();
        return !over;
      });
    }

    /** Cancels the uploads still running and removes the widget's listener from the input. */
    destroy() {
      this.input.removeEventListener('change', this.onChange);
      for (const row of this.rows) row.cancel();
      this.rows = [];
      this.list.replaceChildren();
    }

    announce(text) { this.live.textContent = text; }

    emit(type, detail) {
      const target = this.options.eventTarget || this.host;
      target.dispatchEvent(new CustomEvent(type, { detail, bubbles: true, composed: true }));
    }
  }

  /**
   * Turns `<input type=file>` into an uploader: a panel after it lists each
   * file with its progress and buttons, and takes dropped files. Options: those
   * of `new Uploader()`, plus `keyPrefix` (or `key(file)`), `buttonLabel`, `hint`.
   * Events (`upload-progress`, `upload-complete`, `upload-error`) fire on the input.
   */
  function attach(input, options) {
    if (!(input instanceof HTMLInputElement) || input.type !== 'file') {
      throw new TypeError('attach() needs an <input type="file"> element');
    }
    const host = document.createElement('div');
    host.className = 's3-upload-panel';
    input.after(host);
    input.hidden = true;
    const widget = new Widget(host, { ...options, eventTarget: input }, input);
    return {
      element: host,
      get uploads() { return widget.rows.map((r) => ({ file: r.file, state: r.li.dataset.state, result: r.result })); },
      clear() { widget.clear(); },
      detach() { widget.destroy(); host.remove(); input.hidden = false; },
    };
  }

  /** Registers `<s3-upload endpoint="/api" key-prefix="uploads/" multiple>` (or another tag name). */
  function defineElement(tag = 's3-upload') {
    if (customElements.get(tag)) return customElements.get(tag);
    class S3Upload extends HTMLElement {
      connectedCallback() {
        if (this.widget) return;
        const input = document.createElement('input');
        input.type = 'file';
        input.hidden = true;
        input.multiple = this.hasAttribute('multiple');
        if (this.getAttribute('accept')) input.accept = this.getAttribute('accept');
        const options = { endpoint: this.getAttribute('endpoint') || '/api' };
        if (this.getAttribute('protocol')) options.protocol = this.getAttribute('protocol');
        if (this.getAttribute('key-prefix')) options.keyPrefix = this.getAttribute('key-prefix');
        for (const [attr, opt] of [['concurrency', 'concurrency'], ['part-size', 'partSize']]) {
          if (this.hasAttribute(attr)) options[opt] = Number(this.getAttribute(attr));
        }
        this.widget = new Widget(this, options, input);
        this.shadowRoot.append(input);
      }
    }
    customElements.define(tag, S3Upload);
    return S3Upload;
  }

  return { attach, defineElement };
}

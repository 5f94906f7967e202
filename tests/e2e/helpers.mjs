// Shared pieces of the end-to-end tests: the real reference server (with its
// embedded S3 store), real headless Chromium through playwright-core, real
// files on disk compared by SHA-256.
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const MIB = 1024 * 1024;

/** Chromium flags that work on these machines (no network but loopback, root user). */
export const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-quic',
  '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run',
];

/** Starts the reference server on free ports; resolves to { api, s3, dataDir, stop() }. */
export async function startServer(extraArgs = []) {
  const bin = process.env.S3MP_SERVER_BIN || path.join(root, 'target/debug/s3-multipart-server');
  const dataDir = mkdtempSync(path.join(tmpdir(), 's3mp-e2e-'));
  const child = spawn(bin, [
    '--listen', '127.0.0.1:0', '--s3-listen', '127.0.0.1:0', '--data-dir', path.join(dataDir, 'data'),
    '--www-dir', path.join(root, 'www/dist'), ...extraArgs,
  ], { stdio: ['ignore', 'pipe', 'inherit'] });
  const urls = await new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`server did not start: ${out}`)), 20000);
    child.on('exit', (code) => reject(new Error(`server exited with ${code}: ${out}`)));
    child.stdout.on('data', (d) => {
      out += d;
      const api = out.match(/api and demo: (http:\/\/\S+)/);
      const s3 = out.match(/s3 store: (http:\/\/\S+)/);
      if (api && s3) { clearTimeout(timer); resolve({ api: api[1], s3: s3[1] }); }
    });
  });
  return {
    ...urls,
    dataDir,
    async stop() {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export async function launchBrowser() {
  return chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium', args: CHROMIUM_ARGS });
}

/** Writes `size` random bytes to a file named `name` in a fresh folder; returns { file, sha256, cleanup }. */
export function randomFile(name, size) {
  const dir = mkdtempSync(path.join(tmpdir(), 's3mp-file-'));
  const file = path.join(dir, name);
  const hash = createHash('sha256');
  const chunk = 4 * MIB;
  const buf = Buffer.alloc(size);
  for (let off = 0; off < size; off += chunk) {
    const piece = randomBytes(Math.min(chunk, size - off));
    piece.copy(buf, off);
  }
  hash.update(buf);
  writeFileSync(file, buf);
  return { file, sha256: hash.digest('hex'), size, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Reads an object back from the store through the backend's presigned GET; returns its SHA-256 and size. */
export async function storedObject(api, key) {
  const res = await fetch(`${api}/api/uploads/download/${key.split('/').map(encodeURIComponent).join('/')}`);
  if (!res.ok) throw new Error(`download URL for ${key}: HTTP ${res.status} ${await res.text()}`);
  const { url } = await res.json();
  const obj = await fetch(url);
  if (!obj.ok) throw new Error(`GET ${key}: HTTP ${obj.status} ${await obj.text()}`);
  const bytes = Buffer.from(await obj.arrayBuffer());
  return { sha256: createHash('sha256').update(bytes).digest('hex'), size: bytes.length };
}

// The TypeScript a user writes, checked as they would check it: the packed
// tarball installed into a fresh project, the README's ```ts examples (as
// they are in the README, so docs and types cannot drift) and a file of
// expected errors, compiled with `tsc --strict` in every configuration a
// project may have: module resolution `bundler` and `node16`, lib es2022 and
// esnext, with and without skipLibCheck.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { root } from './helpers.mjs';

const tsc = path.join(root, 'node_modules/typescript/bin/tsc');
let dir;

before(() => {
  const tarball = process.env.S3MP_NPM_TARBALL
    || execFileSync('bash', ['scripts/package.sh'], { cwd: root, encoding: 'utf8' }).trim().split('\n').pop();
  dir = mkdtempSync(path.join(tmpdir(), 's3mp-ts-'));
  writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'ts-consumer', private: true, type: 'module' }));
  // @types/react for the React bindings' types (React itself is an optional peer).
  execFileSync('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error', tarball, '@types/react@19.2.7'], { cwd: dir, stdio: 'inherit' });
});
after(() => { if (dir) rmSync(dir, { recursive: true, force: true }); });

/** The ```ts blocks of the README. */
function readmeExamples() {
  const md = readFileSync(path.join(root, 'README.md'), 'utf8');
  return [...md.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]);
}

// What must NOT compile: each line is an error the types must catch (tsc
// fails on an unused @ts-expect-error, so each is a check that can fail).
const EXPECTED_ERRORS = `
import { Uploader, UploadError } from 's3-multipart-wasm';
import type { UploadErrorCode, UploaderOptions } from 's3-multipart-wasm';
// @ts-expect-error concurrency is a number
new Uploader({ endpoint: '/api', concurrency: '4' });
// @ts-expect-error an unknown option
new Uploader({ endpoint: '/api', partsize: 5 });
// @ts-expect-error partSize bounds are min and max
new Uploader({ endpoint: '/api', partSize: { minimum: 5242880 } });
// @ts-expect-error endpoint or hooks, not neither
const none: UploaderOptions = { concurrency: 2 };
// @ts-expect-error checksum is 'crc32' or 'none'
new Uploader({ endpoint: '/api', checksum: 'md5' });
// @ts-expect-error not an error code
const code: UploadErrorCode = 'Timeout';
// @ts-expect-error key is required
new Uploader({ endpoint: '/api' }).upload(new Blob([]), {});
// @ts-expect-error the headers function must return headers
new Uploader({ endpoint: '/api', headers: () => 42 });
const hooks = {
  createMultipartUpload: async () => ({ uploadId: 'u' }),
  signPart: async () => 'https://s/p',
  completeMultipartUpload: async () => ({}),
  abortMultipartUpload: async () => ({}),
};
// Small files signed together: a signed URL or an Error for each file given.
new Uploader({ protocol: { ...hooks, signPut: async () => 'https://s/1', signPuts: async ({ files }) => files.map((f) => (f.key ? { url: 'https://s/' + f.key, headers: { 'content-type': f.contentType } } : new Error('refused'))) } });
// @ts-expect-error signPuts answers signed URLs or Errors, not numbers
new Uploader({ protocol: { ...hooks, signPut: async () => 'https://s/1', signPuts: async () => [1] } });
export function check(e: unknown): string | null {
  // A class: instanceof narrows.
  return e instanceof UploadError ? e.code : null;
}
export { none, code };
`;

const configs = [];
for (const resolution of ['bundler', 'node16']) {
  for (const lib of ['es2022', 'esnext']) {
    for (const skipLibCheck of [false, true]) configs.push({ resolution, lib, skipLibCheck });
  }
}

test('the README examples compile with tsc --strict against the packed tarball, in every configuration', () => {
  const examples = readmeExamples();
  assert.ok(examples.length >= 2, 'the README has TypeScript examples');
  const files = examples.map((src, i) => {
    const f = `readme-${i + 1}.ts`;
    writeFileSync(path.join(dir, f), src);
    return f;
  });
  writeFileSync(path.join(dir, 'expected-errors.ts'), EXPECTED_ERRORS);
  files.push('expected-errors.ts');
  // The widget, as the README's widget section uses it.
  writeFileSync(path.join(dir, 'widget.ts'), `
import { attach, defineElement } from 's3-multipart-wasm/widget';
const input = document.querySelector<HTMLInputElement>('#files');
if (input) {
  const w = attach(input, { endpoint: '/api', keyPrefix: 'uploads/', concurrency: 3, partSize: { max: 16 * 1024 * 1024 } });
  input.addEventListener('upload-complete', (e) => console.log(e.detail.result.key, w.uploads.length));
  w.clear();
}
defineElement('my-upload');
`);
  files.push('widget.ts');
  // The React bindings, as the README's React section uses them.
  writeFileSync(path.join(dir, 'react.ts'), `
import { createElement } from 'react';
import { UploadInput, useUpload } from 's3-multipart-wasm/react';
import type { UploadState } from 's3-multipart-wasm/react';
export function OneFile(props: { file: File }) {
  const u = useUpload({ endpoint: '/api', keepOnUnmount: true });
  const state: UploadState = u.state;
  const start = async () => {
    const r = await u.upload(props.file, { key: 'uploads/' + props.file.name });
    return r ? r.key : u.error?.code;
  };
  return createElement('button', { onClick: start, title: state }, u.progress ? u.progress.percent + ' %' : 'upload');
}
export const input = createElement(UploadInput, { endpoint: '/api', keyPrefix: 'u/', onComplete: (r) => console.log(r.key) });
`);
  files.push('react.ts');
  const failures = [];
  for (const c of configs) {
    const name = `tsconfig-${c.resolution}-${c.lib}-${c.skipLibCheck ? 'skip' : 'check'}.json`;
    writeFileSync(path.join(dir, name), JSON.stringify({
      compilerOptions: {
        strict: true,
        noEmit: true,
        target: 'es2022',
        lib: [c.lib, 'dom'],
        module: c.resolution === 'bundler' ? 'esnext' : 'node16',
        moduleResolution: c.resolution,
        skipLibCheck: c.skipLibCheck,
        types: [],
        jsx: 'react-jsx',
      },
      files,
    }));
    const r = spawnSync(process.execPath, [tsc, '-p', name], { cwd: dir, encoding: 'utf8' });
    if (r.status !== 0) failures.push(`${name}:\n${r.stdout}${r.stderr}`);
  }
  assert.deepEqual(failures, [], failures.join('\n'));
});

test('the types are not `any`: a wrong option fails to compile', () => {
  writeFileSync(path.join(dir, 'wrong.ts'), `import { Uploader } from 's3-multipart-wasm';\nnew Uploader({ endpoint: 5 });\n`);
  writeFileSync(path.join(dir, 'tsconfig-wrong.json'), JSON.stringify({
    compilerOptions: { strict: true, noEmit: true, target: 'es2022', lib: ['es2022', 'dom'], module: 'esnext', moduleResolution: 'bundler' },
    files: ['wrong.ts'],
  }));
  const r = spawnSync(process.execPath, [tsc, '-p', 'tsconfig-wrong.json'], { cwd: dir, encoding: 'utf8' });
  assert.notEqual(r.status, 0, 'tsc must refuse endpoint: 5');
  assert.match(r.stdout, /wrong\.ts\(2,\d+\): error TS2322/);
});

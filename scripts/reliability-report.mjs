// Renders the figures of a resilience run (JSON from tests/e2e/resilience.test.mjs) as docs/RELIABILITY.md.
import { readFileSync, writeFileSync } from 'node:fs';

const [input, output] = process.argv.slice(2);
const run = JSON.parse(readFileSync(input, 'utf8'));
const mib = (n) => (n / 1048576).toFixed(1);
const rows = run.figures.map((f) =>
  `| ${f.scenario} | ${f.tried} | ${f.intact} | ${f.faultsInjected} | ${f.retries} | ${mib(f.bytesSent)} | ${mib(f.bytesResent)} | ${f.seconds} |`);
const sum = (k) => run.figures.reduce((a, f) => a + f[k], 0);
const reload = run.figures.find((f) => f.bytesSentAfterReload !== undefined);
const md = `# Reliability

Figures of one full run of the resilience scenarios, ${run.date.slice(0, 10)}, on
one machine (2 cores): the demo page in headless Chromium uploads a
${mib(run.size)} MiB file per scenario through the fault proxy
(\`fault-proxy/\`) in front of the reference server's embedded store, or with
the server's own fault injection. Each stored object is read back and its
SHA-256 compared with the source; after each scenario the store is checked for
multipart uploads left open (there must be none).

Reproduce with:

\`\`\`sh
./scripts/reliability.sh
\`\`\`

(It builds what it needs, runs \`tests/e2e/resilience.test.mjs\` with
\`RELIABILITY_OUT\` set, and rewrites this file. \`./scripts/test.sh\` runs the
same scenarios, without writing the figures.)

| scenario | uploads tried | finished intact | faults injected | retries spent | MiB sent | MiB re-sent | seconds |
|---|---|---|---|---|---|---|---|
${rows.join('\n')}

In all: ${sum('tried')} uploads tried, ${sum('intact')} finished intact (the
fatal-error, every-PUT-corrupted and abort scenarios are meant not to finish: they check that
nothing is left behind), ${sum('retries')} retries spent,
${mib(sum('bytesResent'))} MiB re-sent.

How to read it:

- *MiB sent* counts request-body bytes of part PUTs that reached the proxy,
  including attempts that failed; *re-sent* is what went beyond the file size.
- *faults injected* counts what the proxy did (errors, resets, stalls, bytes
  flipped in a body, ETags altered on the way back); *retries spent* what the client
  reported (\`onRetry\`). They differ where Chromium itself silently re-sent a
  PUT whose reused connection was reset (it does so for idempotent requests),
  and where faults hit the backend rather than the store (part-url, complete).
  An altered ETag costs no retry: complete is refused, the stored parts are
  listed and complete is sent again with the store's ETag.
- A part whose PUT fails is sent again whole (S3 has no partial part upload),
  so a fault costs up to one part (5 to 16 MiB by default: up to 16 MiB for a medium file that goes in one round and for a large one cut in whole rounds; up to 64 MiB once a far link's parts grew).${reload ? `
- Page reload: ${mib(reload.bytesSentAfterReload)} MiB were sent after the reload
  for a ${mib(run.size)} MiB file — the parts stored before it were not sent again
  (the parts in flight at the moment of the reload were).` : ''}
- Offline: while the browser is offline, failed requests cost no retry; the
  upload waits for the \`online\` event.
- Reload while init is on its way: init's client token is journaled before
  init goes out; after the reload the same file asks init with it and the
  backend answers with the upload the first init created, which gets the file
  (nothing is left open; before, that upload was).
- The fatal 403: the proxy answers before reading the body, and Chromium may
  report that as a network error (retried, with a fresh URL) rather than the
  403 (which fails at once): how many retries it costs varies from run to run.
`;
writeFileSync(output, md);
console.log(`wrote ${output}`);

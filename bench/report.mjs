// Renders bench/results.json as BENCHMARKS.md and bench/chart.svg.
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..');
const NOTES_MARKER = '<!-- notes: kept by bench/report.mjs -->';
const SCEN = { loopback: 'loopback', wan: '40 ms RTT, 200 Mbit/s' };

function chart(results) {
  const groups = [];
  for (const r of results.rows) {
    const g = `${SCEN[r.scenario]}, ${r.size >= 1024 ? `${r.size / 1024} GiB` : `${r.size} MiB`}`;
    if (!groups.includes(g)) groups.push(g);
  }
  const contenders = [...new Set(results.rows.map((r) => r.contender))];
  const colors = { ours: '#3b5bdb', 'ours-worker': '#5c7cfa', 'ours-nochecksum': '#91a7ff', raw: '#868e96', 'raw-xhr': '#ced4da', uppy6: '#e8590c', uppy5: '#f59f00', libstorage: '#2b8a3e', 'libstorage-crc': '#69db7c' };
  const max = Math.max(...results.rows.map((r) => r.mbps));
  const barW = 18;
  const gap = 30;
  const groupW = contenders.length * barW + gap;
  const h = 260;
  const left = 50;
  const width = left + groups.length * groupW + 220;
  let svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${h + 70}" font-family="sans-serif" font-size="11">\n`;
  svg += `<text x="${left}" y="14" font-size="13">Throughput, MB/s (median of ${results.runs} runs; part 8 MiB, concurrency 4)</text>\n`;
  for (let t = 0; t <= 4; t++) {
    const y = 30 + h - (h * t) / 4;
    svg += `<line x1="${left}" x2="${left + groups.length * groupW}" y1="${y}" y2="${y}" stroke="#e9ecef"/><text x="${left - 6}" y="${y + 4}" text-anchor="end">${((max * t) / 4).toFixed(0)}</text>\n`;
  }
  groups.forEach((g, gi) => {
    const x0 = left + gi * groupW + gap / 2;
    contenders.forEach((c, ci) => {
      const r = results.rows.find((x) => `${SCEN[x.scenario]}, ${x.size >= 1024 ? `${x.size / 1024} GiB` : `${x.size} MiB`}` === g && x.contender === c);
      if (!r) return;
      const bh = (h * r.mbps) / max;
      svg += `<rect x="${x0 + ci * barW}" y="${30 + h - bh}" width="${barW - 3}" height="${bh}" fill="${colors[c]}"><title>${r.name}: ${r.mbps.toFixed(1)} MB/s</title></rect>\n`;
    });
    svg += `<text x="${x0 + (contenders.length * barW) / 2}" y="${h + 46}" text-anchor="middle">${g}</text>\n`;
  });
  contenders.forEach((c, ci) => {
    const x = left + groups.length * groupW + 10;
    const y = 40 + ci * 18;
    const name = results.rows.find((r) => r.contender === c).name;
    svg += `<rect x="${x}" y="${y - 10}" width="12" height="12" fill="${colors[c]}"/><text x="${x + 18}" y="${y}">${name}</text>\n`;
  });
  return `${svg}</svg>\n`;
}

/** "7 runs at 64 MiB, 3 at 1 GiB" (or "3 runs" when every size had as many). */
function runsText(results) {
  const by = results.runsBySize;
  if (!by || new Set(Object.values(by)).size === 1) return `${by ? Object.values(by)[0] : results.runs} runs`;
  const size = (s) => (s >= 1024 ? `${s / 1024} GiB` : `${s} MiB`);
  return Object.entries(by).map(([s, n], i) => `${n}${i ? '' : ' runs'} at ${size(Number(s))}`).join(', ');
}

export function render(results) {
  writeFileSync(path.join(here, 'chart.svg'), chart(results));
  const fmt = (n, d = 1) => (Number.isFinite(n) ? n.toFixed(d) : '—');
  const lines = results.rows.map((r) => `| ${SCEN[r.scenario]} | ${r.size >= 1024 ? `${r.size / 1024} GiB` : `${r.size} MiB`} | ${r.name} | ${fmt(r.mbps)} | ${fmt(r.ratioToRaw, 2)} | ${fmt(r.memAboveIdleMiB)} | ${fmt(r.jsHeapAboveIdleMiB)} | ${fmt(r.rendererCpuPerGiB, 2)} / ${fmt(r.browserCpuPerGiB, 2)} | ${fmt(r.longTasks, 0)} (${fmt(r.longTaskMs, 0)} ms) | ${fmt(r.backendPerPart, 2)} | ${fmt(r.bundleGzipBytes / 1024)} |${r.failedRuns ? ` ${r.failedRuns} failed` : ''}`);
  const md = `# Benchmarks

One run of \`npm run bench\` (\`node bench/run.mjs\`), ${results.date.slice(0, 10)}, on one
machine of 2 cores shared with other work: take the ratios, measured side by
side in the same run, rather than the absolute figures.

Every contender uploads the same file (random bytes, chosen through a real
\`<input type=file>\`) in headless Chromium, part size 8 MiB, ${results.concurrency} parts at once,
to the reference server's embedded store (release build). Each figure is the
median of ${runsText(results)}; each run visits every contender, in an order that rotates
from run to run; every contender runs in a fresh browser.

- **Contenders**: this client (resume journal on, as shipped); \`@uppy/aws-s3\`
  5.1.0 with its multipart hooks calling the reference backend; \`@uppy/aws-s3\`
  6.3.1, which has no multipart hooks any more (it presigns every S3 request
  itself, here with the store's credentials from \`getCredentials\`);
  \`@aws-sdk/lib-storage\` \`Upload\` signing in the browser with the store's
  credentials (flexible checksums off, as the others send none); the raw
  ceiling, a minimal loop that presigns each part and \`fetch\`-PUTs its Blob
  slice, 4 at a time, with no retry and no progress; beside it, as a
  reference rather than a peer, the same loop on \`XMLHttpRequest\` with an
  upload progress listener (fetch has no upload progress, so every client
  that shows progress pays what separates these two). Every contender
  creates its uploader inside the timed call.
- **The file** is read once before the runs of each size, so that it is in
  the page cache and no contender pays for the disk.
- **Scenarios**: loopback; and "40 ms RTT, 200 Mbit/s" through \`fault-proxy\`
  instances in front of the API and of the store, which add 40 ms before every
  request and cap the store traffic at 200 Mbit/s (shared by all connections).
- **Memory**: resident memory of the renderer processes (from \`/proc\`: it
  covers WASM memory, Blob and network buffers, which CDP's heap figures
  miss), peak during the upload minus idle before it; beside it the page's JS
  heap (CDP \`Performance.getMetrics\`, \`JSHeapTotalSize\`), peak minus idle.
- **CPU**: seconds of CPU (user + system, from \`/proc\`) per GiB uploaded,
  of the page's renderer and of the whole browser (renderer, network service,
  browser process). On loopback the store and the backend share the same
  2 cores, so CPU spent by a client is throughput lost.
- **Long tasks**: \`PerformanceObserver\` \`longtask\` entries during the upload.
- **Backend calls per part**: requests to the backend's \`/uploads/...\`
  (lib-storage signs itself: none).
- **Bundle**: gzipped JS (and WASM) of the contender's own page bundle.

![Throughput chart](bench/chart.svg)

| scenario | size | contender | MB/s | × raw | memory above idle, MiB | JS heap above idle (CDP), MiB | CPU, s/GiB (renderer / whole browser) | long tasks | backend calls / part | bundle, KiB gz | |
|---|---|---|---|---|---|---|---|---|---|---|---|
${lines.join('\n')}

Raw samples: \`bench/results.json\`.
`;
  // Hand-written notes below the marker survive a new run.
  const target = path.join(root, 'BENCHMARKS.md');
  let notes = '';
  try {
    const old = readFileSync(target, 'utf8');
    const at = old.indexOf(NOTES_MARKER);
    if (at >= 0) notes = `\n${old.slice(at)}`;
  } catch { /* first run */ }
  writeFileSync(target, md + notes);
  console.log('wrote BENCHMARKS.md and bench/chart.svg');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  render(JSON.parse(readFileSync(path.join(here, 'results.json'), 'utf8')));
}

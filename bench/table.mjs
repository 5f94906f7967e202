// Markdown tables from the JSON of `node bench/run.mjs --out file.json`: one
// row per scenario, size (or workload) and contender, with the median and the
// runs' range, the ratio to the ceiling and to the best peer with their 95 %
// bootstrap intervals, memory (renderer peak, every browser process at peak
// and after a forced collection), CPU, long tasks and main-thread lag.
//
//   node bench/table.mjs results-a.json [results-b.json ...]
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

/**
 * A 95 % bootstrap interval of median(a) / median(b): both resampled with
 * replacement, 4,000 times; null with fewer than 3 runs on either side.
 */
export function bootstrapRatio(a, b, iterations = 4000, rng = Math.random) {
  if (a.length < 3 || b.length < 3) return null;
  const resample = (xs) => median(Array.from(xs, () => xs[Math.floor(rng() * xs.length)]));
  const ratios = Array.from({ length: iterations }, () => resample(a) / resample(b)).sort((x, y) => x - y);
  return [ratios[Math.floor(iterations * 0.025)], ratios[Math.ceil(iterations * 0.975) - 1]];
}

const f1 = (x) => (Number.isFinite(x) ? x.toFixed(1) : '–');
const f2 = (x) => (Number.isFinite(x) ? x.toFixed(2) : '–');
const ci = (r, v) => (Number.isFinite(v) ? `${f2(v)}${r ? ` [${f2(r[0])}–${f2(r[1])}]` : ''}` : '–');
const sizeText = (s) => (typeof s === 'number' ? (s >= 1024 ? `${s / 1024} GiB` : `${s} MiB`) : s);

/**
 * The table of a cold-start results file: per contender, when its code was
 * ready, its first PUT and its end (ms from the navigation's start, median
 * and range), and the first PUT's ratio to Uppy 5's with its 95 % bootstrap
 * interval.
 */
export function coldTable(results) {
  const firstPuts = (c) => results.samples.filter((s) => s.contender === c && !s.failed).map((s) => s.firstPutMs);
  const ms = (m, r) => `${m.toFixed(0)} (${r[0].toFixed(0)}–${r[1].toFixed(0)})`;
  const ref = results.rows.some((r) => r.contender === 'uppy5') ? 'uppy5' : null;
  const lines = [
    '| contender | runs | bundle, KiB gz | code ready, ms | first PUT, ms | done, ms | first PUT × Uppy 5 [95 % CI] |',
    '|---|---|---|---|---|---|---|',
  ];
  for (const r of results.rows) {
    const ratio = ref ? median(firstPuts(r.contender)) / median(firstPuts(ref)) : NaN;
    const interval = ref ? bootstrapRatio(firstPuts(r.contender), firstPuts(ref)) : null;
    lines.push(`| ${r.name} | ${r.runs}${r.failedRuns ? ` (+${r.failedRuns} failed)` : ''} | ${f1(r.bundleGzipBytes / 1024)} | ${ms(r.readyMs, r.readyRangeMs)} | ${ms(r.firstPutMs, r.firstPutRangeMs)} | ${ms(r.doneMs, r.doneRangeMs)} | ${ci(interval, ratio)} |`);
  }
  return lines.join('\n');
}

/** The table of one results file. */
export function table(results) {
  if (results.rows[0] && 'firstPutMs' in results.rows[0]) return coldTable(results);
  const runs = (r) => results.samples.filter((s) => s.scenario === r.scenario && s.size === r.size && s.contender === r.contender && !s.failed).length;
  const lines = [
    '| scenario | size | contender | runs | MB/s median (range) | × ceiling [95 % CI] | × best peer [95 % CI] | memory above idle, MiB: renderer / all processes / all after GC | CPU s/GiB renderer / browser | long tasks | lag p99, ms |',
    '|---|---|---|---|---|---|---|---|---|---|---|',
  ];
  for (const r of results.rows) {
    const range = r.mbpsRange ? ` (${f1(r.mbpsRange[0])}–${f1(r.mbpsRange[1])})` : '';
    const isCeiling = r.contender === r.ceiling ? ' **(ceiling)**' : '';
    const isPeer = r.contender === r.bestPeer ? ' *(best peer)*' : '';
    lines.push(`| ${r.scenario} | ${sizeText(r.size)} | ${r.name}${isCeiling}${isPeer} | ${runs(r)}${r.failedRuns ? ` (+${r.failedRuns} failed)` : ''} | ${f1(r.mbps)}${range} | ${ci(r.ratioToCeilingCI95, r.ratioToCeiling)} | ${r.bestPeer ? ci(r.ratioToBestPeerCI95, r.ratioToBestPeer) : '–'} | ${f1(r.memAboveIdleMiB)} / ${f1(r.allMemAboveIdleMiB)} / ${f1(r.allMemAfterGcAboveIdleMiB)} | ${f2(r.rendererCpuPerGiB)} / ${f2(r.browserCpuPerGiB)} | ${f1(r.longTasks)} | ${f1(r.lagP99Ms)} |`);
  }
  if (results.sweeps?.length) {
    lines.push('', 'The sweep of the loop signing ahead (median MB/s of its runs; the best is the ceiling):', '');
    lines.push('| scenario | size | plans, best first |', '|---|---|---|');
    for (const s of results.sweeps) {
      lines.push(`| ${s.scenario} | ${sizeText(s.size)} | ${s.plans.map((p) => `${p.plan.split('@')[1]}: ${f1(p.mbps)}`).join(', ')} |`);
    }
  }
  return lines.join('\n');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  for (const file of process.argv.slice(2)) {
    const results = JSON.parse(readFileSync(file, 'utf8'));
    console.log(`\n${file} (${results.date}${results.cpuThrottle > 1 ? `, CPU throttled ${results.cpuThrottle}×` : ''})\n`);
    console.log(table(results));
  }
}

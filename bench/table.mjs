// Markdown tables from the JSON of `node bench/run.mjs --out file.json`: one
// row per scenario, size (or workload) and contender, with the median and the
// runs' range, the ratio to the ceiling and to the best peer with their 95 %
// bootstrap intervals, memory (renderer peak, every browser process at peak
// and after a forced collection), CPU, long tasks and main-thread lag.
//
//   node bench/table.mjs results-a.json [results-b.json ...]
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const f1 = (x) => (Number.isFinite(x) ? x.toFixed(1) : '–');
const f2 = (x) => (Number.isFinite(x) ? x.toFixed(2) : '–');
const ci = (r, v) => (Number.isFinite(v) ? `${f2(v)}${r ? ` [${f2(r[0])}–${f2(r[1])}]` : ''}` : '–');
const sizeText = (s) => (typeof s === 'number' ? (s >= 1024 ? `${s / 1024} GiB` : `${s} MiB`) : s);

/** The table of one results file. */
export function table(results) {
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

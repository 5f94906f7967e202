// A contender's page and plan, as the benchmarks name them (bench/run.mjs,
// bench/webdriver.mjs): `raw-ahead@6x16` is the loop signing ahead with 6
// streams of 16 MiB parts; no plan, the bench's 4 streams of 8 MiB.
const MIB = 1024 * 1024;
export const PART_SIZE = 8 * MIB;
export const CONCURRENCY = 4;

/** The page of contender `c` and its plan: `raw-ahead@6x16` → raw-ahead, 6 streams, 16 MiB parts. */
export function planOf(c) {
  const [page, plan] = c.split('@');
  if (!plan) return { page, partSize: PART_SIZE, concurrency: CONCURRENCY };
  // `ours@auto`: no concurrency given, so the window adapts (src/engine/adapt.rs).
  if (plan === 'auto') return { page, partSize: PART_SIZE, concurrency: undefined };
  // `ours@defaults`: neither given, so the part size is picked per file too (src/engine/plan.rs).
  if (plan === 'defaults') return { page, partSize: undefined, concurrency: undefined };
  // `ours@max16`: the defaults, with parts of up to 16 MiB (`partSize: { max }`).
  const max = /^max(\d+)$/.exec(plan);
  if (max) return { page, partSize: { max: Number(max[1]) * MIB }, concurrency: undefined };
  // Either side may be `auto` (this client's own choice): `ours@6xauto`
  // fixes 6 streams and lets the engine pick the parts, `ours@autox16` the
  // reverse.
  const m = /^(\d+|auto)x(\d+|auto)$/.exec(plan);
  if (!m) throw new Error(`contender ${c}: a plan is STREAMSxMIB, like raw-ahead@6x16 (either may be auto)`);
  const num = (v, unit) => (v === 'auto' ? undefined : Number(v) * unit);
  return { page, concurrency: num(m[1], 1), partSize: num(m[2], MIB) };
}

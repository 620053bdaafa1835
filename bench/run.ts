/**
 * `npm run bench`: runs every benchmark beside its baselines, prints one table of ratios
 * and writes bench/results.json (each figure, its baseline, its ratio and goal). It runs
 * the whole suite twice by default and checks that the two runs agree within 15 % on
 * every ratio (the figures are meant to carry from run to run; absolute times do not).
 *
 *   npm run bench [-- --quick] [-- --runs N] [-- NAME...]     NAME: embedded serve proxy watch watch-live pg exports
 *
 * Each bench file prints its figures as JSON with --json (and its table on stderr).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { printFigures, round } from './stats.js';
import type { Figure } from './stats.js';

const here = new URL('.', import.meta.url).pathname;
const BENCHES = ['embedded', 'serve', 'proxy', 'watch', 'watch-live', 'pg', 'exports'];
const args = process.argv.slice(2);
const only = args.filter((a, i) => !a.startsWith('--') && args[i - 1] !== '--runs');
const quick = args.includes('--quick');
const runsIdx = args.indexOf('--runs');
const RUNS = runsIdx === -1 ? (quick ? 1 : 2) : Number(args[runsIdx + 1]);
const AGREE = 0.15;

interface BenchResult {
  bench: string;
  title: string;
  figures: Figure[];
  /** 1-minute load average before and after (the machine is shared). */
  load: [number, number];
  seconds: number;
}

function runOnce(n: number): BenchResult[] {
  const out: BenchResult[] = [];
  for (const name of BENCHES) {
    if (only.length > 0 && !only.includes(name)) continue;
    const file = join(here, `${name}.ts`);
    if (!existsSync(file)) continue;
    process.stderr.write(`\n[run ${n}] bench/${name}.ts (load ${loadavg()[0]?.toFixed(2)}) ...\n`);
    const load0 = loadavg()[0] ?? 0;
    const t0 = performance.now();
    const r = spawnSync(process.execPath, ['--import', 'tsx', file, '--json', ...(quick ? ['--quick'] : [])], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
      timeout: 20 * 60_000,
      env: { ...process.env, NODE_ENV: 'production' },
    });
    const seconds = round((performance.now() - t0) / 1000, 1);
    const load: [number, number] = [round(load0, 2), round(loadavg()[0] ?? 0, 2)];
    const line = r.stdout.trim().split('\n').filter((l) => l.startsWith('{')).pop();
    if (r.status !== 0 || !line) {
      process.stderr.write(`bench/${name}.ts failed (exit ${r.status}${r.signal ? `, ${r.signal}` : ''})\n`);
      out.push({ bench: name, title: name, figures: [{ name: `${name} failed`, value: Number.NaN, unit: '', goal: '-', met: false }], load, seconds });
      continue;
    }
    const parsed = JSON.parse(line) as { title: string; figures: Figure[] };
    out.push({ bench: name, ...parsed, load, seconds });
  }
  return out;
}

const flat = (rs: BenchResult[]) => rs.flatMap((r) => r.figures.map((f) => ({ ...f, name: `${r.bench}: ${f.name}` })));

const runs: { started: string; results: BenchResult[] }[] = [];
for (let n = 1; n <= RUNS; n++) {
  const started = new Date().toISOString();
  const results = runOnce(n);
  runs.push({ started, results });
  printFigures(`run ${n} of ${RUNS}: medians, each ratio against its baseline measured in the same run`, flat(results));
}

/** Ratio by ratio, how far the runs are apart: (max - min) / min. */
const agreement = flat(runs[0]?.results ?? [])
  .filter((f) => f.ratio !== undefined)
  .map((f) => {
    const ratios = runs.map((r) => flat(r.results).find((g) => g.name === f.name && g.baseline?.name === f.baseline?.name)?.ratio ?? Number.NaN);
    const spread = (Math.max(...ratios) - Math.min(...ratios)) / Math.min(...ratios);
    return { name: f.name, baseline: f.baseline?.name ?? '', goal: f.goal, ratios: ratios.map((x) => round(x, 3)), spread: round(spread, 3), agree: spread <= AGREE };
  });

if (RUNS > 1) {
  const rows = agreement.map((a) => `  ${a.agree ? 'ok  ' : 'OFF '} ${(a.spread * 100).toFixed(1).padStart(5)} %  ${a.ratios.map((r) => `${r}x`).join(' / ')}  ${a.name} (vs ${a.baseline})`);
  const off = agreement.filter((a) => !a.agree).length;
  process.stderr.write(`\nagreement of the ${RUNS} runs, ratio by ratio (within ${AGREE * 100} %: ${agreement.length - off} of ${agreement.length}):\n${rows.join('\n')}\n`);
}
const met = flat(runs[runs.length - 1]?.results ?? []).filter((f) => f.goalRatio !== undefined);
process.stderr.write(`\ngoals met in the last run: ${met.filter((f) => f.met).length} of ${met.length}\n`);

const out = {
  date: new Date().toISOString(),
  node: process.version,
  cpus: cpus().length,
  cpuModel: cpus()[0]?.model ?? null,
  quick,
  runs,
  agreement: RUNS > 1 ? agreement : null,
};
writeFileSync(join(here, 'results.json'), JSON.stringify(out, null, 2) + '\n');
process.stderr.write(`wrote bench/results.json\n`);

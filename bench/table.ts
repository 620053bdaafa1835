/**
 * Prints bench/results.json (written by `npm run bench`) as the Markdown table that
 * docs/performance.md shows: each figure of the last run with its baseline, its ratio in
 * every run, the goal and whether the runs agree. Reads only; runs nothing.
 *
 *   npx tsx bench/table.ts [--all]      (--all: also the figures that have no goal)
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Figure } from './stats.js';

interface Results {
  date: string;
  node: string;
  cpus: number;
  cpuModel: string | null;
  quick: boolean;
  runs: { started: string; results: { bench: string; figures: Figure[]; load: [number, number]; seconds: number }[] }[];
}

const here = new URL('.', import.meta.url).pathname;
const all = process.argv.includes('--all');
const res = JSON.parse(readFileSync(join(here, 'results.json'), 'utf8')) as Results;

const fmt = (n: number): string => {
  if (!Number.isFinite(n)) return String(n);
  const a = Math.abs(n);
  return a >= 1000 ? Math.round(n).toLocaleString('en-US') : a >= 10 ? n.toFixed(1) : a >= 1 ? n.toFixed(2) : n.toFixed(3);
};
const key = (bench: string, f: Figure) => `${bench}\u0000${f.name}\u0000${f.baseline?.name ?? ''}`;

/** Ratio of one figure in each run, by its bench, name and baseline. */
const ratios = new Map<string, number[]>();
/** Whether each run met the goal: a goal is met only when every run met it. */
const mets = new Map<string, boolean[]>();
for (const run of res.runs) {
  for (const r of run.results) {
    for (const f of r.figures) {
      if (f.ratio !== undefined) ratios.set(key(r.bench, f), [...(ratios.get(key(r.bench, f)) ?? []), f.ratio]);
      if (f.met !== null) mets.set(key(r.bench, f), [...(mets.get(key(r.bench, f)) ?? []), f.met]);
    }
  }
}

const last = res.runs[res.runs.length - 1];
const rows: string[] = [];
for (const r of last?.results ?? []) {
  for (const f of r.figures) {
    if (!all && f.goalRatio === undefined && !f.goal.includes('ms') && f.goal !== 'measured') continue;
    const rs = ratios.get(key(r.bench, f)) ?? [];
    const spread = rs.length > 1 ? (Math.max(...rs) - Math.min(...rs)) / Math.min(...rs) : null;
    const base = f.baseline ? `${f.baseline.name}: ${fmt(f.baseline.value)} ${f.unit}` : '–';
    const ratio = rs.length > 0 ? rs.map((x) => `${x.toFixed(2)}×`).join(' / ') : '–';
    const ms = mets.get(key(r.bench, f)) ?? [];
    const yes = ms.filter(Boolean).length;
    const met = ms.length === 0 ? '–' : yes === ms.length ? 'yes' : yes === 0 ? '**no**' : `**in ${yes} of ${ms.length} runs**`;
    rows.push(`| ${r.bench}: ${f.name.trim()} | ${fmt(f.value)} ${f.unit} | ${base} | ${ratio} | ${spread === null ? '–' : `${(spread * 100).toFixed(0)} %`} | ${f.goal.replace('x', '×')} | ${met} |`);
  }
}
const loads = res.runs.map((run) => run.results.map((r) => r.load[0]).join('/')).join('; ');
process.stdout.write(
  `${res.date.slice(0, 10)}, Node ${res.node}, ${res.cpus} vCPU (${res.cpuModel ?? '?'}), ${res.runs.length} run(s)${res.quick ? ' (--quick)' : ''}; 1-min load at each bench's start: ${loads}\n\n` +
    `| figure (last run) | value | baseline, same run | ratio, run by run | spread | goal | met |\n| --- | --- | --- | --- | --- | --- | --- |\n${rows.join('\n')}\n`,
);

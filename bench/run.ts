/**
 * `npm run bench`: runs every benchmark beside its baseline, prints one table and writes
 * bench/results.json. Each bench file prints its figures as JSON with --json.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { printFigures } from './stats.js';
import type { Figure } from './stats.js';

const here = new URL('.', import.meta.url).pathname;
const BENCHES = ['embedded', 'serve', 'proxy', 'watch', 'watch-live', 'pg'];
const only = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const quick = process.argv.includes('--quick');

const results: { title: string; figures: Figure[] }[] = [];
for (const name of BENCHES) {
  if (only.length > 0 && !only.includes(name)) continue;
  const file = join(here, `${name}.ts`);
  if (!existsSync(file)) continue;
  process.stderr.write(`running bench/${name}.ts ...\n`);
  const r = spawnSync(process.execPath, ['--import', 'tsx', file, '--json', ...(quick ? ['--quick'] : [])], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    timeout: 15 * 60_000,
    env: { ...process.env, NODE_ENV: 'production' },
  });
  const line = r.stdout.trim().split('\n').filter((l) => l.startsWith('{')).pop();
  if (r.status !== 0 || !line) {
    process.stderr.write(`bench/${name}.ts failed (exit ${r.status})\n`);
    results.push({ title: name, figures: [{ name: `${name} failed`, value: Number.NaN, unit: '', goal: '-', met: false }] });
    continue;
  }
  results.push(JSON.parse(line) as { title: string; figures: Figure[] });
}

const all = results.flatMap((r) => r.figures.map((f) => ({ ...f, name: `${r.title}: ${f.name}` })));
printFigures('all figures (medians; ratios against the baseline measured in the same run)', all);
const out = {
  date: new Date().toISOString(),
  node: process.version,
  cpus: cpus().length,
  cpuModel: cpus()[0]?.model ?? null,
  results,
};
writeFileSync(join(here, 'results.json'), JSON.stringify(out, null, 2) + '\n');
process.stderr.write(`\nwrote bench/results.json\n`);

/**
 * The bench's own helper processes (the proxy's client, the fake upstream) run as plain
 * JavaScript, not under tsx: tsx's loader thread and its esbuild service keep working
 * after start-up, and on a 2-core machine that work lands on the calls being timed (first
 * proxied calls stalled 15-50 ms in about half the runs under tsx, none past 15 ms as
 * plain JS). Each entry is bundled once per bench run with esbuild; packages stay
 * external and resolve from this repository's node_modules.
 */
import { buildSync } from 'esbuild';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';

const ROOT = new URL('..', import.meta.url).pathname;
const OUT = join(ROOT, 'node_modules', '.cache', 'noburn-bench');

/** Bundles `entry` (a path under the repository) to an .mjs file; returns its path. */
export function plainJs(entry: string, name: string): string {
  mkdirSync(OUT, { recursive: true });
  const outfile = join(OUT, `${name}.mjs`);
  buildSync({ entryPoints: [join(ROOT, entry)], outfile, bundle: true, packages: 'external', platform: 'node', format: 'esm', target: 'node20', logLevel: 'warning' });
  return outfile;
}

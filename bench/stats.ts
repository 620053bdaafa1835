/** Small statistics helpers shared by the benchmarks (medians and percentiles of samples). */
export function percentile(samples: readonly number[], p: number): number {
  if (samples.length === 0) return Number.NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  const idx = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[idx] as number;
}

export const median = (samples: readonly number[]): number => percentile(samples, 50);

export function round(n: number, digits = 3): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

export interface Figure {
  name: string;
  value: number;
  unit: string;
  baseline?: { name: string; value: number };
  /** value / baseline.value, or for rates baseline-relative throughput */
  ratio?: number;
  goal: string;
  met: boolean | null;
}

export function printFigures(title: string, figures: readonly Figure[]): void {
  const rows = figures.map((f) => [
    f.name,
    `${round(f.value)} ${f.unit}`,
    f.baseline ? `${f.baseline.name}: ${round(f.baseline.value)} ${f.unit}` : '-',
    f.ratio === undefined ? '-' : `${round(f.ratio, 2)}x`,
    f.goal,
    f.met === null ? '-' : f.met ? 'yes' : 'NO',
  ]);
  const head = ['figure', 'value', 'baseline', 'ratio', 'goal', 'met'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (c: readonly string[]) => c.map((x, i) => x.padEnd(widths[i] ?? 0)).join('  ');
  process.stderr.write(`\n${title}\n${line(head)}\n${rows.map(line).join('\n')}\n`);
}

/** `--json` prints figures as JSON on stdout (for bench/run.ts); the table always goes to stderr. */
export function emit(title: string, figures: readonly Figure[]): void {
  printFigures(title, figures);
  if (process.argv.includes('--json')) process.stdout.write(JSON.stringify({ title, figures }) + '\n');
}

/**
 * Shared by the benchmarks: medians and percentiles, figures read as a ratio to a baseline
 * measured in the same run (absolute times do not carry from machine to machine; ratios
 * measured side by side do), interleaved rounds, and the printed table.
 */
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

/** A goal on the ratio: `<= 1.4` (lower is better) or `>= 0.6` (higher is better). */
export interface RatioGoal {
  op: '<=' | '>=';
  ratio: number;
}

export interface Figure {
  name: string;
  value: number;
  unit: string;
  baseline?: { name: string; value: number };
  /** value / baseline.value */
  ratio?: number;
  goal: string;
  /** The goal as a ratio, when it is one. */
  goalRatio?: RatioGoal;
  met: boolean | null;
  /** How it was measured, in a few words (load generator, bound in time...). */
  note?: string;
}

/** A figure beside its baseline, with its goal on the ratio (none: shown for reference). */
export function ratioFigure(name: string, value: number, unit: string, baselineName: string, baseline: number, goal?: RatioGoal, note?: string): Figure {
  const ratio = value / baseline;
  const f: Figure = {
    name,
    value,
    unit,
    baseline: { name: baselineName, value: baseline },
    ratio,
    goal: goal ? `${goal.op} ${goal.ratio}x` : '-',
    met: goal ? (Number.isFinite(ratio) ? (goal.op === '<=' ? ratio <= goal.ratio : ratio >= goal.ratio) : false) : null,
  };
  if (goal) f.goalRatio = goal;
  if (note !== undefined) f.note = note;
  return f;
}

/** A figure without a baseline (context for the ratios: absolute values, counts). */
export function plainFigure(name: string, value: number, unit: string, note?: string): Figure {
  return note === undefined ? { name, value, unit, goal: '-', met: null } : { name, value, unit, goal: '-', met: null, note };
}

/**
 * Runs the sides in alternating order, A B then B A, round after round, so that drift
 * (other work on the machine, CPU frequency, heap growth) hits every side alike.
 */
export async function interleave<K extends string>(rounds: number, sides: Record<K, (round: number) => unknown>): Promise<void> {
  const keys = Object.keys(sides) as K[];
  for (let r = 0; r < rounds; r++) {
    const order = r % 2 === 0 ? keys : [...keys].reverse();
    for (const k of order) await sides[k](r);
  }
}

export function printFigures(title: string, figures: readonly Figure[]): void {
  const rows = figures.map((f) => [
    f.name,
    `${fmt(f.value)} ${f.unit}`,
    f.baseline ? `${f.baseline.name}: ${fmt(f.baseline.value)} ${f.unit}` : '-',
    f.ratio === undefined ? '-' : `${round(f.ratio, 2)}x`,
    f.goal,
    f.met === null ? '-' : f.met ? 'yes' : 'NO',
  ]);
  const head = ['figure', 'value', 'baseline (same run)', 'ratio', 'goal', 'met'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (c: readonly string[]) => c.map((x, i) => x.padEnd(widths[i] ?? 0)).join('  ');
  const notes = figures.filter((f) => f.note !== undefined).map((f) => `  * ${f.name}: ${f.note}`);
  process.stderr.write(`\n${title}\n${line(head)}\n${rows.map(line).join('\n')}\n${notes.length > 0 ? notes.join('\n') + '\n' : ''}`);
}

function fmt(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  const a = Math.abs(n);
  return String(a >= 1000 ? Math.round(n) : a >= 10 ? round(n, 1) : a >= 1 ? round(n, 2) : round(n, 3));
}

/** `--json` prints figures as JSON on stdout (for bench/run.ts); the table always goes to stderr. */
export function emit(title: string, figures: readonly Figure[]): void {
  printFigures(title, figures);
  if (process.argv.includes('--json')) process.stdout.write(JSON.stringify({ title, figures }) + '\n');
}

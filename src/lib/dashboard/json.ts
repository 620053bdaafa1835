/**
 * The public shape of a dashboard snapshot (`noburn watch --once --json`): like every other
 * `--json`, money in USD numbers and times as ISO strings (UTC). The snapshot itself keeps
 * nano-dollars and epoch milliseconds (exact sums, cheap comparisons); this is the one place
 * the dashboard converts them. USD numbers are derived from the integer sums, never summed.
 */
import { nanoToUsd } from '../money.js';
import type { DashboardSnapshot } from './snapshot.js';

/** Fields that hold an epoch-millisecond time (null: never). */
const TIMES = new Set(['generatedAt', 'windowStart', 'windowEnd', 'lastAt', 'startedAt', 'endedAt', 'ts']);
/** Fields renamed besides `...Nano` → `...Usd`: a rate, the sparkline, the exhaustion time. */
const RENAMED: Readonly<Record<string, string>> = { rateNanoPerMin: 'rateUsdPerMin', buckets: 'bucketsUsd', atMs: 'at' };

const iso = (ms: number): string => new Date(ms).toISOString();

function convert(key: string, value: unknown): [string, unknown] {
  if (key.endsWith('Nano')) return [`${key.slice(0, -4)}Usd`, typeof value === 'number' ? nanoToUsd(value) : value];
  if (key === 'rateNanoPerMin') return [RENAMED[key]!, nanoToUsd(value as number)];
  if (key === 'buckets') return [RENAMED[key]!, (value as number[]).map(nanoToUsd)];
  if (key === 'atMs') return [RENAMED[key]!, typeof value === 'number' ? iso(value) : value];
  if (TIMES.has(key)) return [key, typeof value === 'number' ? iso(value) : value];
  return [key, walk(value)];
}

function walk(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(walk);
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(Object.entries(value).map(([k, v]) => convert(k, v)));
}

/**
 * The snapshot in USD and ISO times. The project's `windowStart` is null when there is no
 * project cap (the figures are then all time, not "since 1970").
 */
export function snapshotJson(s: DashboardSnapshot): Record<string, unknown> {
  const out = walk(s) as Record<string, unknown>;
  if (s.project.period === null) (out['project'] as Record<string, unknown>)['windowStart'] = null;
  return out;
}

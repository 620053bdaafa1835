import { Gauge } from 'prom-client';
import type { Registry } from 'prom-client';
import type { Alert, Budget, RunInfo } from '../lib/types.js';

/**
 * Spend gauges of GET /metrics (docs/operations.md "Metrics"): for each project, every
 * capped scope in its current window (what `budget show` prints) and every open run. One
 * snapshot of the ledger serves every gauge of a scrape and is kept `cacheMs` (default
 * 1 s), so a scrape costs one read per project, not one per series, and scrapes closer
 * together than that read nothing. Cardinality is bounded: capped scopes and open runs
 * only, at most `seriesLimit` (default 1000) of them in all, in a stable order (projects by
 * name, caps as `budget show` lists them, then runs, newest first); the rest are counted in
 * noburn_gauge_series_dropped.
 */
export interface GaugeSource {
  /** The projects to report (the server's: those with an API key). */
  projects(): Promise<string[]>;
  budgets(projectId: string): Promise<Budget[]>;
  /** Open runs, at most `limit`. */
  openRuns(projectId: string, limit: number): Promise<RunInfo[]>;
  /** Alerts of every project fired after `afterSeq`, in firing order, at most `limit`. */
  alerts?(afterSeq: number, limit: number): Promise<Alert[]>;
}

export interface GaugeOptions {
  now: () => number;
  cacheMs?: number;
  seriesLimit?: number;
}

export const DEFAULT_GAUGE_CACHE_MS = 1000;
export const DEFAULT_GAUGE_SERIES_LIMIT = 1000;

const SCOPE_LABELS = ['project', 'scope', 'user', 'model', 'tag', 'period'] as const;
const RUN_LABELS = ['project', 'run', 'label'] as const;

interface Snapshot {
  budgets: Array<{ projectId: string; b: Budget }>;
  runs: Array<{ projectId: string; r: RunInfo }>;
  dropped: number;
}

/** Spent over cap; a cap of 0 is used up from the start (1), whatever was spent. */
export function usedRatio(spentUsd: number, capUsd: number | null): number | null {
  if (capUsd === null) return null;
  return capUsd === 0 ? 1 : spentUsd / capUsd;
}

async function takeSnapshot(src: GaugeSource, limit: number): Promise<Snapshot> {
  const snap: Snapshot = { budgets: [], runs: [], dropped: 0 };
  let room = limit;
  const projects = [...new Set(await src.projects())].sort();
  for (const projectId of projects) {
    // default_user is a rule for users without a cap, not a scope with spend of its own.
    const capped = (await src.budgets(projectId)).filter((b) => b.scope !== 'default_user');
    const kept = capped.slice(0, Math.max(0, room));
    snap.dropped += capped.length - kept.length;
    room -= kept.length;
    for (const b of kept) snap.budgets.push({ projectId, b });
  }
  for (const projectId of projects) {
    // One more than room tells "some were left out" without reading every open run.
    const open = await src.openRuns(projectId, Math.max(1, room + 1));
    const kept = open.slice(0, Math.max(0, room));
    snap.dropped += open.length - kept.length;
    room -= kept.length;
    for (const r of kept) snap.runs.push({ projectId, r });
  }
  return snap;
}

export function registerSpendGauges(registry: Registry, src: GaugeSource, opts: GaugeOptions): void {
  const cacheMs = opts.cacheMs ?? DEFAULT_GAUGE_CACHE_MS;
  const limit = opts.seriesLimit ?? DEFAULT_GAUGE_SERIES_LIMIT;
  let cached: { at: number; snap: Promise<Snapshot> } | null = null;
  const snapshot = (): Promise<Snapshot> => {
    const now = opts.now();
    if (cached === null || now - cached.at >= cacheMs || now < cached.at) {
      // A failed read (the store closing, an outage) leaves the gauges empty for this
      // scrape rather than failing it, and is not kept: the next scrape reads again.
      const p = takeSnapshot(src, limit).catch((): Snapshot => {
        cached = null;
        return { budgets: [], runs: [], dropped: 0 };
      });
      cached = { at: now, snap: p };
    }
    return cached.snap;
  };
  const scopeLabels = (projectId: string, b: Budget) => ({ project: projectId, scope: b.scope, user: b.userId ?? '', model: b.model ?? '', tag: b.tag ?? '', period: b.period });
  const runLabels = (projectId: string, r: RunInfo) => ({ project: projectId, run: r.runId, label: r.label ?? '' });

  const scopeGauge = (name: string, help: string, value: (b: Budget) => number | null) =>
    new Gauge({
      name,
      help,
      labelNames: SCOPE_LABELS,
      registers: [registry],
      async collect() {
        const s = await snapshot();
        this.reset();
        for (const { projectId, b } of s.budgets) {
          const v = value(b);
          if (v !== null) this.set(scopeLabels(projectId, b), v);
        }
      },
    });
  const runGauge = (name: string, help: string, value: (r: RunInfo) => number | null) =>
    new Gauge({
      name,
      help,
      labelNames: RUN_LABELS,
      registers: [registry],
      async collect() {
        const s = await snapshot();
        this.reset();
        for (const { projectId, r } of s.runs) {
          const v = value(r);
          if (v !== null) this.set(runLabels(projectId, r), v);
        }
      },
    });

  scopeGauge('noburn_budget_spend_usd', 'spend (USD) of each capped scope in its current window, as budget show', (b) => b.spentUsd);
  scopeGauge('noburn_budget_held_usd', 'unsettled holds (USD) of each capped scope', (b) => b.heldUsd);
  scopeGauge('noburn_budget_cap_usd', 'the cap (USD) of each capped scope', (b) => b.capUsd);
  scopeGauge('noburn_budget_used_ratio', 'spend / cap of each capped scope in its current window (a cap of 0: 1)', (b) => usedRatio(b.spentUsd, b.capUsd));
  runGauge('noburn_run_spend_usd', 'spend (USD) of each open run, nested runs included', (r) => r.spendUsd);
  runGauge('noburn_run_cap_usd', 'the cap (USD) of each open run that has one', (r) => r.budgetCapUsd);
  runGauge('noburn_run_used_ratio', 'spend / cap of each open run that has a cap', (r) => usedRatio(r.spendUsd, r.budgetCapUsd));
  runGauge('noburn_run_clamped_calls', 'checks of each open run allowed with a lowered output bound (clamped)', (r) => r.clampedCalls);
  runGauge('noburn_run_over_holds', 'calls of each open run whose answer reported more output than was held', (r) => r.overHolds);
  if (src.alerts) registerAlertsFired(registry, src.alerts.bind(src));
  new Gauge({
    name: 'noburn_gauge_series_dropped',
    help: `capped scopes and open runs left out of the spend gauges at the last read (beyond the limit of ${limit} series sets)`,
    registers: [registry],
    async collect() {
      this.set((await snapshot()).dropped);
    },
  });
}

const ALERT_PAGE = 1000;

/**
 * noburn_alerts_fired{project, scope, threshold}: alerts the ledger has fired. Read
 * incrementally by firing order (only alerts newer than the last scrape's), so a scrape
 * costs one short query; series are bounded by projects x scopes x the thresholds in use.
 */
function registerAlertsFired(registry: Registry, read: (afterSeq: number, limit: number) => Promise<Alert[]>): void {
  const fired = new Map<string, { project: string; scope: string; threshold: string; n: number }>();
  let seq = 0;
  let reading: Promise<void> | null = null;
  const catchUp = async (): Promise<void> => {
    for (;;) {
      const page = await read(seq, ALERT_PAGE);
      for (const a of page) {
        const labels = { project: a.projectId, scope: a.scope, threshold: String(a.threshold) };
        const key = JSON.stringify(labels);
        const c = fired.get(key) ?? { ...labels, n: 0 };
        c.n++;
        fired.set(key, c);
        seq = Math.max(seq, a.seq);
      }
      if (page.length < ALERT_PAGE) return;
    }
  };
  new Gauge({
    name: 'noburn_alerts_fired',
    help: 'threshold alerts fired (each at most once per scope, threshold and window), by project, scope and threshold (percent)',
    labelNames: ['project', 'scope', 'threshold'],
    registers: [registry],
    async collect() {
      // Concurrent scrapes share one read; a failed read keeps what was counted so far.
      reading ??= catchUp()
        .catch(() => undefined)
        .finally(() => {
          reading = null;
        });
      await reading;
      this.reset();
      for (const c of fired.values()) this.set({ project: c.project, scope: c.scope, threshold: c.threshold }, c.n);
    },
  });
}

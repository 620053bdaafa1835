/**
 * The summary rows (usage, runs) recomputed from the ledger's own detail: the records
 * table and the blocked-check events. After a crash they must still agree exactly, or a
 * record was counted twice (or half-written) in the summaries.
 */
import type { Database } from 'better-sqlite3';
import { PERIODS, windowKey } from '../../../src/lib/periods.js';
import { userModelSubject } from '../../../src/lib/model-glob.js';
import { tagsOfStored } from '../../../src/lib/tags.js';

interface Detail {
  ts: number;
  user_id: string | null;
  model: string | null;
  run_id: string | null;
  cost: number;
  calls: number;
  blocked: number;
  unpriced: number;
  tokens_in: number;
  tokens_out: number;
  /** Stored form (src/lib/tags.ts): sorted key=value joined with ','; null when none. */
  tags: string | null;
}

function details(db: Database, project: string): Detail[] {
  const records = db
    .prepare(`SELECT ts, user_id, model, run_id, cost_nano AS cost, 1 - was_blocked AS calls, was_blocked AS blocked, unpriced * (1 - was_blocked) AS unpriced,
        tokens_in * (1 - was_blocked) AS tokens_in, tokens_out * (1 - was_blocked) AS tokens_out, tags FROM records WHERE project_id = ?`)
    .all(project) as Detail[];
  const blockedChecks = db
    .prepare(`SELECT ts, user_id, model, run_id, 0 AS cost, 0 AS calls, 1 AS blocked, 0 AS unpriced, 0 AS tokens_in, 0 AS tokens_out, tags FROM events
        WHERE project_id = ? AND kind = 'check' AND blocked = 1`)
    .all(project) as Detail[];
  return [...records, ...blockedChecks];
}

const order = (a: unknown, b: unknown) => (JSON.stringify(a) < JSON.stringify(b) ? -1 : 1);

/** [scope, subject, window, spent, calls, blocked, unpriced, tokensIn, tokensOut] rows, as the usage table should hold them. */
export function usageFromDetail(db: Database, project: string): unknown[][] {
  const acc = new Map<string, number[]>();
  for (const d of details(db, project)) {
    const subjects: [string, string][] = [['project', '']];
    if (d.user_id !== null) subjects.push(['user', d.user_id]);
    // Spend is also kept per model (and per user and model), the rows model caps read.
    if (d.model !== null) {
      subjects.push(['model', d.model]);
      if (d.user_id !== null) subjects.push(['user_model', userModelSubject(d.user_id, d.model)]);
    }
    // And per tag (scope 'tag', subject key=value), only for the calls that carry tags.
    for (const t of tagsOfStored(d.tags)) subjects.push(['tag', t]);
    for (const [scope, subject] of subjects) {
      for (const p of PERIODS) {
        const k = JSON.stringify([scope, subject, windowKey(p, d.ts)]);
        const v = acc.get(k) ?? [0, 0, 0, 0, 0, 0];
        const add = [d.cost, d.calls, d.blocked, d.unpriced, d.tokens_in, d.tokens_out];
        acc.set(k, v.map((x, i) => x + (add[i] ?? 0)));
      }
    }
  }
  return [...acc].map(([k, v]) => [...(JSON.parse(k) as unknown[]), ...v]).sort(order);
}

export function usageRows(db: Database, project: string): unknown[][] {
  return (
    db
      .prepare('SELECT scope, subject, window, spent_nano, calls, blocked_calls, unpriced_calls, tokens_in, tokens_out FROM usage WHERE project_id = ?')
      .raw()
      .all(project) as unknown[][]
  ).sort(order);
}

/** A run's counters recomputed from its records and its blocked checks. */
export function runFromDetail(db: Database, project: string, runId: string): { spent: number; calls: number; blocked: number; unpriced: number } {
  const out = { spent: 0, calls: 0, blocked: 0, unpriced: 0 };
  for (const d of details(db, project)) {
    if (d.run_id !== runId) continue;
    out.spent += d.cost;
    out.blocked += d.blocked;
    out.unpriced += d.unpriced;
    out.calls += d.calls;
  }
  return out;
}

export function runRow(db: Database, runId: string): { spent: number; calls: number; blocked: number; unpriced: number } | undefined {
  return db.prepare('SELECT spent_nano AS spent, calls, blocked_calls AS blocked, unpriced_calls AS unpriced FROM runs WHERE id = ?').get(runId) as
    | { spent: number; calls: number; blocked: number; unpriced: number }
    | undefined;
}

import { nanoToUsd } from '../money.js';
import type { SpendReport, SpendRow } from '../types.js';
import type { StoreSpendQuery } from './store.js';

/** One group of the records table, summed by a store (integer nano-dollars and counts). */
export interface SpendAgg {
  key: string | null;
  spent: number | null;
  calls: number | null;
  blocked: number | null;
  unpriced: number | null;
  tin: number | null;
  tout: number | null;
}

/**
 * Builds the spend report from the stores' two aggregate queries: records grouped by key,
 * and blocked checks (which never reach the records table) counted from the event log.
 * Shared by the SQLite and PostgreSQL stores so both report alike.
 */
export function assembleSpendReport(q: StoreSpendQuery, rows: readonly SpendAgg[], blockedChecks: readonly { key: string | null; n: number }[]): SpendReport {
  const out: SpendRow[] = rows
    .filter((r) => r.spent !== null)
    .map((r) => ({
      key: r.key,
      spendUsd: nanoToUsd(r.spent ?? 0),
      calls: r.calls ?? 0,
      blockedCalls: r.blocked ?? 0,
      unpricedCalls: r.unpriced ?? 0,
      tokensIn: r.tin ?? 0,
      tokensOut: r.tout ?? 0,
    }));
  const byKey = new Map(out.map((r) => [r.key, r]));
  let total = 0;
  let calls = 0;
  let blocked = 0;
  let unpriced = 0;
  for (const r of rows) {
    total += r.spent ?? 0;
    calls += r.calls ?? 0;
    blocked += r.blocked ?? 0;
    unpriced += r.unpriced ?? 0;
  }
  for (const b of blockedChecks) {
    const n = Number(b.n);
    if (n === 0) continue;
    blocked += n;
    let row = byKey.get(b.key);
    if (!row) {
      row = { key: b.key, spendUsd: 0, calls: 0, blockedCalls: 0, unpricedCalls: 0, tokensIn: 0, tokensOut: 0 };
      out.push(row);
      byKey.set(b.key, row);
    }
    row.blockedCalls += n;
  }
  return {
    by: q.by,
    since: q.sinceMs === null ? null : new Date(q.sinceMs).toISOString(),
    until: q.untilMs === null ? null : new Date(q.untilMs).toISOString(),
    totalUsd: nanoToUsd(total),
    calls,
    blockedCalls: blocked,
    unpricedCalls: unpriced,
    rows: q.by ? out : [],
  };
}

import type { SpendGroup, SpendTotals } from './store.js';

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
 * Sums the stores' two aggregate queries: records grouped by key, and blocked checks (which
 * never reach the records table) counted from the event log. Shared by the SQLite and
 * PostgreSQL stores so both report alike; `grouped` false keeps the totals only.
 */
export function sumSpend(grouped: boolean, rows: readonly SpendAgg[], blockedChecks: readonly { key: string | null; n: number }[]): SpendTotals {
  const groups: SpendGroup[] = rows
    .filter((r) => r.spent !== null)
    .map((r) => ({
      key: r.key,
      spentNano: r.spent ?? 0,
      calls: r.calls ?? 0,
      blockedCalls: r.blocked ?? 0,
      unpricedCalls: r.unpriced ?? 0,
      tokensIn: r.tin ?? 0,
      tokensOut: r.tout ?? 0,
    }));
  const byKey = new Map(groups.map((r) => [r.key, r]));
  const totals: SpendTotals = { spentNano: 0, calls: 0, blockedCalls: 0, unpricedCalls: 0, groups: [] };
  for (const r of rows) {
    totals.spentNano += r.spent ?? 0;
    totals.calls += r.calls ?? 0;
    totals.blockedCalls += r.blocked ?? 0;
    totals.unpricedCalls += r.unpriced ?? 0;
  }
  for (const b of blockedChecks) {
    const n = Number(b.n);
    if (n === 0) continue;
    totals.blockedCalls += n;
    let row = byKey.get(b.key);
    if (!row) {
      row = { key: b.key, spentNano: 0, calls: 0, blockedCalls: 0, unpricedCalls: 0, tokensIn: 0, tokensOut: 0 };
      groups.push(row);
      byKey.set(b.key, row);
    }
    row.blockedCalls += n;
  }
  if (grouped) totals.groups = groups;
  return totals;
}

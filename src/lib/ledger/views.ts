import { nanoToUsd } from '../money.js';
import { tagsObject } from '../tags.js';
import type { Alert, Budget, EndRunResult, LedgerEvent, RunInfo, SpendReport, UserSummary } from '../types.js';
import type { AlertRecord, BudgetRecord, EventRecord, RunRecord, SpendTotals, StoreSpendQuery, UserRecord } from './store.js';

/**
 * The public shapes (USD numbers, ISO times) of the store's records (integer nano-dollars,
 * epoch ms): the one place where reads are converted. USD numbers are derived from the
 * integer sums, never summed themselves.
 */
const iso = (ms: number): string => new Date(ms).toISOString();
const isoOrNull = (ms: number | null): string | null => (ms === null ? null : iso(ms));
const usdOrNull = (nano: number | null): number | null => (nano === null ? null : nanoToUsd(nano));

export function runInfo(r: RunRecord): RunInfo {
  return {
    runId: r.runId,
    label: r.label,
    parentRunId: r.parentRunId,
    status: r.status,
    exhausted: r.exhausted,
    budgetCapUsd: usdOrNull(r.capNano),
    spendUsd: nanoToUsd(r.spentNano),
    heldUsd: nanoToUsd(r.heldNano),
    calls: r.calls,
    blockedCalls: r.blockedCalls,
    unpricedCalls: r.unpricedCalls,
    clampedCalls: r.clampedCalls,
    overHolds: r.overHolds,
    startedAt: iso(r.startedAt),
    endedAt: isoOrNull(r.endedAt),
    ...(r.alertAt ? { alertAt: r.alertAt } : {}),
  };
}

export function endRunResult(r: RunInfo): EndRunResult {
  return {
    runId: r.runId,
    status: r.exhausted ? 'exhausted' : 'completed',
    spendUsd: r.spendUsd,
    budgetCapUsd: r.budgetCapUsd,
    calls: r.calls,
    blockedCalls: r.blockedCalls,
    startedAt: r.startedAt,
    endedAt: r.endedAt ?? r.startedAt,
  };
}

export function budgetOf(b: BudgetRecord): Budget {
  return {
    scope: b.scope,
    userId: b.userId,
    ...(b.model !== undefined ? { model: b.model } : {}),
    ...(b.tag !== undefined ? { tag: b.tag } : {}),
    capUsd: nanoToUsd(b.capNano),
    period: b.period,
    spentUsd: nanoToUsd(b.spentNano),
    heldUsd: nanoToUsd(b.heldNano),
    unpricedCalls: b.unpricedCalls,
    windowStart: iso(b.windowStart),
    ...(b.alertAt ? { alertAt: b.alertAt } : {}),
  };
}

export function alertOf(a: AlertRecord): Alert {
  return {
    seq: a.seq,
    id: a.id,
    projectId: a.projectId,
    scope: a.scope,
    subject: a.subject,
    userId: a.userId,
    threshold: a.threshold,
    spentUsd: nanoToUsd(a.spentNano),
    capUsd: nanoToUsd(a.capNano),
    period: a.period,
    window: a.window,
    firedAt: iso(a.firedAt),
    deliveredAt: isoOrNull(a.deliveredAt),
    attempts: a.attempts,
    lastError: a.lastError,
  };
}

export function userSummaryOf(u: UserRecord): UserSummary {
  return {
    userId: u.userId,
    spentUsd: nanoToUsd(u.spentNano),
    heldUsd: nanoToUsd(u.heldNano),
    capUsd: usdOrNull(u.capNano),
    period: u.period,
    calls: u.calls,
    blockedCalls: u.blockedCalls,
    unpricedCalls: u.unpricedCalls,
    lastAt: isoOrNull(u.lastAt),
  };
}

export function eventOf(e: EventRecord): LedgerEvent {
  return {
    seq: e.seq,
    ts: iso(e.ts),
    kind: e.kind,
    projectId: e.projectId,
    userId: e.userId,
    runId: e.runId,
    model: e.model,
    amountUsd: nanoToUsd(e.amountNano),
    blocked: e.blocked,
    reason: e.reason,
    unpriced: e.unpriced,
    tokensIn: e.tokensIn,
    tokensOut: e.tokensOut,
    ref: e.ref,
    ...(e.tags !== undefined && e.tags.length > 0 ? { tags: tagsObject(e.tags) } : {}),
  };
}

export function spendReportOf(q: StoreSpendQuery, t: SpendTotals): SpendReport {
  return {
    by: q.by,
    since: isoOrNull(q.sinceMs),
    until: isoOrNull(q.untilMs),
    totalUsd: nanoToUsd(t.spentNano),
    calls: t.calls,
    blockedCalls: t.blockedCalls,
    unpricedCalls: t.unpricedCalls,
    rows: t.groups.map((g) => ({
      key: g.key,
      spendUsd: nanoToUsd(g.spentNano),
      calls: g.calls,
      blockedCalls: g.blockedCalls,
      unpricedCalls: g.unpricedCalls,
      tokensIn: g.tokensIn,
      tokensOut: g.tokensOut,
    })),
  };
}

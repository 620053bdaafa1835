import { newId } from '../../ids.js';
import { PERIODS, windowKey } from '../../periods.js';
import type { Period } from '../../periods.js';
import type { BlockReason } from '../../types.js';
import type { StoreCheck, StoreDecision, StoreRecord } from '../store.js';
import type { RunRow, Statements } from './statements.js';

/**
 * The decision and settlement logic, run inside one BEGIN IMMEDIATE transaction by the
 * caller. Everything here is synchronous: SQLite holds the write lock for the whole
 * evaluate-then-hold step, which is what makes N concurrent checks approve exactly
 * floor(cap / estimate) across processes.
 */
interface CapState {
  cap: number;
  used: number; // spent in window + held
}

function budgetState(st: Statements, projectId: string, scope: 'project' | 'user', subject: string, budget: { cap_nano: number; period: Period }, now: number): CapState {
  const spentRow = st.getSpent.get(projectId, scope, subject, windowKey(budget.period, now)) as { spent_nano: number } | undefined;
  const held =
    scope === 'project'
      ? (st.heldProject.get(projectId, now) as { held: number }).held
      : (st.heldUser.get(projectId, subject, now) as { held: number }).held;
  return { cap: budget.cap_nano, used: (spentRow?.spent_nano ?? 0) + held };
}

function userBudget(st: Statements, projectId: string, userId: string) {
  return (st.getBudget.get(projectId, 'user', userId) ?? st.getBudget.get(projectId, 'default_user', '')) as
    | { cap_nano: number; period: Period }
    | undefined;
}

/** Adds one row per period window for a scope: the summary rows reads use. */
export function addUsage(
  st: Statements,
  projectId: string,
  scope: 'project' | 'user',
  subject: string,
  ts: number,
  d: { spent: number; calls: number; blocked: number; unpriced: number; tokensIn: number; tokensOut: number },
): void {
  for (const p of PERIODS) {
    st.addUsage.run(projectId, scope, subject, windowKey(p, ts), d.spent, d.calls, d.blocked, d.unpriced, d.tokensIn, d.tokensOut, ts);
  }
}

function countBlocked(st: Statements, c: StoreCheck, reason: BlockReason, run: RunRow | undefined): void {
  const zero = { spent: 0, calls: 0, blocked: 1, unpriced: 0, tokensIn: 0, tokensOut: 0 };
  addUsage(st, c.projectId, 'project', '', c.now, zero);
  if (c.userId !== null) addUsage(st, c.projectId, 'user', c.userId, c.now, zero);
  if (run) st.runBlocked.run(reason === 'run_budget_exceeded' ? 1 : 0, c.now, run.id);
  st.insertEvent.run(c.projectId, c.now, 'check', c.userId, c.runId, c.model, c.estimateNano, 1, reason, c.unpriced ? 1 : 0, c.tokensIn, c.tokensOut, newId('dec'));
}

export function decide(st: Statements, c: StoreCheck): StoreDecision {
  st.sweepHolds.run(c.now);
  const remaining: StoreDecision['remainingNano'] = {};
  const block = (reason: BlockReason, run?: RunRow): StoreDecision => {
    countBlocked(st, c, reason, run);
    return { blocked: true, blockReason: reason, reservationId: null, remainingNano: remaining };
  };

  let run: RunRow | undefined;
  if (c.runId !== null) {
    run = st.getRun.get(c.runId, c.projectId) as RunRow | undefined;
    if (!run) return block('run_not_found');
    if (run.status !== 'open') return block('run_ended', run);
  }
  if (c.forceBlock) return block(c.forceBlock, run);

  const e = c.estimateNano;
  let reason: BlockReason | null = null;

  const pb = st.getBudget.get(c.projectId, 'project', '') as { cap_nano: number; period: Period } | undefined;
  if (pb) {
    const s = budgetState(st, c.projectId, 'project', '', pb, c.now);
    remaining.project = s.cap - s.used - e;
    if (s.used + e > s.cap) reason ??= 'project_budget_exceeded';
  }
  if (c.userId !== null) {
    const ub = userBudget(st, c.projectId, c.userId);
    if (ub) {
      const s = budgetState(st, c.projectId, 'user', c.userId, ub, c.now);
      remaining.user = s.cap - s.used - e;
      if (s.used + e > s.cap) reason ??= 'user_budget_exceeded';
    }
  }
  if (run && run.cap_nano !== null) {
    const held = (st.heldRun.get(run.id, c.now) as { held: number }).held;
    remaining.run = run.cap_nano - run.spent_nano - held - e;
    if (run.spent_nano + held + e > run.cap_nano) reason ??= 'run_budget_exceeded';
  }
  if (reason !== null) {
    // A blocked call takes no hold: report what is left without it.
    for (const k of ['project', 'user', 'run'] as const) {
      const v = remaining[k];
      if (v !== undefined) remaining[k] = Math.max(0, v + e);
    }
    return block(reason, run);
  }
  const reservationId = newId('res');
  st.insertHold.run(reservationId, c.projectId, c.userId, c.runId, c.model, e, c.now, c.now + c.holdTtlMs);
  return { blocked: false, blockReason: null, reservationId, remainingNano: remaining };
}

/** Settles one record. Returns false when its idempotency key was already recorded. */
export function settle(st: Statements, r: StoreRecord): boolean {
  const ins = st.insertRecord.run(
    r.projectId, r.idempotencyKey, r.ts, r.userId, r.runId, r.model, r.tokensIn, r.tokensOut,
    r.cachedTokensIn, r.cacheWriteTokensIn, r.wasBlocked ? 0 : r.costNano, r.unpriced ? 1 : 0, r.wasBlocked ? 1 : 0, r.reservationId,
  );
  if (ins.changes === 0) return false;

  // Release the hold: the one named, else the oldest open one for the same call shape.
  if (r.reservationId !== null) {
    st.deleteHold.run(r.reservationId, r.projectId);
  } else {
    const h = st.oldestHold.get(r.projectId, r.userId, r.runId, r.model, r.ts) as { id: string } | undefined;
    if (h) st.deleteHold.run(h.id, r.projectId);
  }

  const cost = r.wasBlocked ? 0 : r.costNano;
  const d = {
    spent: cost,
    calls: r.wasBlocked ? 0 : 1,
    blocked: r.wasBlocked ? 1 : 0,
    unpriced: r.unpriced && !r.wasBlocked ? 1 : 0,
    tokensIn: r.wasBlocked ? 0 : r.tokensIn,
    tokensOut: r.wasBlocked ? 0 : r.tokensOut,
  };
  addUsage(st, r.projectId, 'project', '', r.ts, d);
  if (r.userId !== null) addUsage(st, r.projectId, 'user', r.userId, r.ts, d);
  if (r.runId !== null) st.runRecord.run(cost, d.calls, d.blocked, d.unpriced, r.ts, r.runId, r.projectId);
  st.insertEvent.run(r.projectId, r.ts, 'record', r.userId, r.runId, r.model, cost, r.wasBlocked ? 1 : 0, null, d.unpriced, d.tokensIn, d.tokensOut, r.idempotencyKey);
  return true;
}

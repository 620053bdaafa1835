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

/** Open holds of a scope; exact inside a decision because decide() sweeps expired holds first. */
function heldIn(st: Statements, projectId: string, scope: 'project' | 'user' | 'run', subject: string): number {
  return (st.heldSum.get(projectId, scope, subject) as { held: number } | undefined)?.held ?? 0;
}

function budgetState(st: Statements, projectId: string, scope: 'project' | 'user', subject: string, budget: { cap_nano: number; period: Period }, now: number): CapState {
  const spentRow = st.getSpent.get(projectId, scope, subject, windowKey(budget.period, now)) as { spent_nano: number } | undefined;
  return { cap: budget.cap_nano, used: (spentRow?.spent_nano ?? 0) + heldIn(st, projectId, scope, subject) };
}

function userBudget(st: Statements, projectId: string, userId: string) {
  return (st.getBudget.get(projectId, 'user', userId) ?? st.getBudget.get(projectId, 'default_user', '')) as
    | { cap_nano: number; period: Period }
    | undefined;
}

export interface UsageDelta {
  spent: number;
  calls: number;
  blocked: number;
  unpriced: number;
  tokensIn: number;
  tokensOut: number;
}

/** Adds one row per period window for a scope: the summary rows reads use. */
export function addUsage(st: Statements, projectId: string, scope: 'project' | 'user', subject: string, ts: number, d: UsageDelta): void {
  for (const p of PERIODS) {
    st.addUsage.run(projectId, scope, subject, windowKey(p, ts), d.spent, d.calls, d.blocked, d.unpriced, d.tokensIn, d.tokensOut, ts);
  }
}

/**
 * Sums a batch's usage per (scope, window) row before writing it: a batch of records for a
 * few users then costs a few upserts instead of eight per record.
 */
export class UsageBatch {
  private readonly rows = new Map<string, { projectId: string; scope: 'project' | 'user'; subject: string; window: string; d: UsageDelta; last: number }>();

  add(projectId: string, scope: 'project' | 'user', subject: string, ts: number, d: UsageDelta): void {
    for (const p of PERIODS) {
      const window = windowKey(p, ts);
      const key = `${projectId}\u0000${scope}\u0000${subject}\u0000${window}`;
      const row = this.rows.get(key);
      if (!row) {
        this.rows.set(key, { projectId, scope, subject, window, d: { ...d }, last: ts });
        continue;
      }
      row.d.spent += d.spent;
      row.d.calls += d.calls;
      row.d.blocked += d.blocked;
      row.d.unpriced += d.unpriced;
      row.d.tokensIn += d.tokensIn;
      row.d.tokensOut += d.tokensOut;
      row.last = Math.max(row.last, ts);
    }
  }

  write(st: Statements): void {
    for (const r of this.rows.values()) {
      st.addUsage.run(r.projectId, r.scope, r.subject, r.window, r.d.spent, r.d.calls, r.d.blocked, r.d.unpriced, r.d.tokensIn, r.d.tokensOut, r.last);
    }
    this.rows.clear();
  }
}

/** A refused check, as it is counted and logged (by decide, and by the mirror for the server's). */
export interface BlockedCheck {
  projectId: string;
  ts: number;
  userId: string | null;
  /** Logged on the event; counted on the run only with `countOnRun`. */
  runId: string | null;
  model: string | null;
  amountNano: number;
  reason: string | null;
  unpriced: boolean;
  tokensIn: number;
  tokensOut: number;
  /**
   * Which runs of the chain become exhausted: those up to this depth (0 = the run itself, 1 =
   * its parent...) when an ancestor's cap blocked the call; -1 = none. Default: the run itself
   * when the reason is run_budget_exceeded.
   */
  exhaustDepth?: number | undefined;
}

/**
 * Counts a block in the project's and user's usage and, when `countOnRun` (a run row
 * exists for b.runId), in the run's blocked calls; logs the check event under `ref`.
 */
export function countBlocked(st: Statements, b: BlockedCheck, ref: string, countOnRun: boolean): void {
  const one = { spent: 0, calls: 0, blocked: 1, unpriced: 0, tokensIn: 0, tokensOut: 0 };
  addUsage(st, b.projectId, 'project', '', b.ts, one);
  if (b.userId !== null) addUsage(st, b.projectId, 'user', b.userId, b.ts, one);
  if (countOnRun && b.runId !== null) {
    st.runBlocked.run({ run: b.runId, depth: b.exhaustDepth ?? (b.reason === 'run_budget_exceeded' ? 0 : -1), ts: b.ts });
  }
  st.insertEvent.run(b.projectId, b.ts, 'check', b.userId, b.runId, b.model, b.amountNano, 1, b.reason, b.unpriced ? 1 : 0, b.tokensIn, b.tokensOut, ref);
}

/** A run of the chain checked (the run itself, then its ancestors, nearest first). */
type ChainRow = RunRow & { depth: number };

export function decide(st: Statements, c: StoreCheck): StoreDecision {
  st.sweepHolds.run(c.now);
  const remaining: StoreDecision['remainingNano'] = {};
  let exhaustDepth: number | undefined;
  const block = (reason: BlockReason, run?: RunRow): StoreDecision => {
    const decisionId = newId('dec');
    const b = { projectId: c.projectId, ts: c.now, userId: c.userId, runId: c.runId, model: c.model, amountNano: c.estimateNano, reason, unpriced: c.unpriced, tokensIn: c.tokensIn, tokensOut: c.tokensOut, exhaustDepth };
    countBlocked(st, b, decisionId, run !== undefined);
    return { blocked: true, blockReason: reason, reservationId: null, remainingNano: remaining, decisionId };
  };

  let run: RunRow | undefined;
  let chain: ChainRow[] = [];
  if (c.runId !== null) {
    if (c.runIdleTtlMs !== undefined) abandonIdleRuns(st, c.projectId, c.now, c.runIdleTtlMs, c.runId);
    run = st.getRun.get(c.runId, c.projectId) as RunRow | undefined;
    if (!run) return block('run_not_found');
    chain = st.runChain.all(run.id) as ChainRow[];
    // A run is usable only while it and every ancestor are open.
    if (run.status !== 'open' || chain.some((r) => r.status !== 'open')) return block('run_ended', run);
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
  // The run's cap and every ancestor's: a child's holds and spend count in each of them.
  // `remaining.run` is the least room among them.
  for (const r of chain) {
    if (r.cap_nano === null) continue;
    const held = heldIn(st, c.projectId, 'run', r.id);
    const left = r.cap_nano - r.spent_nano - held - e;
    remaining.run = remaining.run === undefined ? left : Math.min(remaining.run, left);
    if (left < 0 && reason === null) {
      reason = 'run_budget_exceeded';
      exhaustDepth = r.depth;
    }
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
  if (run) st.touchRuns.run(c.now, run.id);
  return { blocked: false, blockReason: null, reservationId, remainingNano: remaining };
}

/**
 * Ends, as `abandoned`, the open runs of a project (or of one run's chain, when `runId` is
 * given) with no activity for `ttlMs` and nothing in flight (no open hold of theirs or of a
 * descendant's). A run ends at the moment it became idle past the TTL (last activity + TTL),
 * whenever the ledger notices. Returns how many ended.
 */
export function abandonIdleRuns(st: Statements, projectId: string, now: number, ttlMs: number, runId: string | null = null): number {
  const idle = st.idleRuns.all({ project: projectId, before: now - ttlMs, now, run: runId }) as { id: string; last: number }[];
  let n = 0;
  for (const r of idle) {
    const at = r.last + ttlMs;
    const row = st.abandonRun.get(at, r.id) as { spent_nano: number; exhausted: number } | undefined;
    if (!row) continue;
    st.insertEvent.run(projectId, at, 'run_end', null, r.id, null, row.spent_nano, row.exhausted, null, 0, 0, 0, r.id);
    n++;
  }
  return n;
}

/**
 * Settles one record. Returns false when its idempotency key was already recorded.
 * With `usage`, the summary rows are summed into the batch (written by the caller before
 * commit); without it they are written at once.
 */
export function settle(st: Statements, r: StoreRecord, usage?: UsageBatch): boolean {
  const ins = st.insertRecord.run(
    r.projectId, r.idempotencyKey, r.ts, r.userId, r.runId, r.model, r.tokensIn, r.tokensOut,
    r.cachedTokensIn, r.cacheWriteTokensIn, r.wasBlocked ? 0 : r.costNano, r.unpriced ? 1 : 0, r.wasBlocked ? 1 : 0, r.reservationId,
    r.calledAt ?? null,
  );
  if (ins.changes === 0) {
    // A duplicate counts nothing, but the hold it names is its own (a retry that checked
    // again): free it now rather than let it block others until the TTL. The original's hold
    // was released when the original settled, so this is a no-op when they name the same one.
    if (r.reservationId !== null) st.deleteHold.run(r.reservationId, r.projectId);
    return false;
  }

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
  if (usage) {
    usage.add(r.projectId, 'project', '', r.ts, d);
    if (r.userId !== null) usage.add(r.projectId, 'user', r.userId, r.ts, d);
  } else {
    addUsage(st, r.projectId, 'project', '', r.ts, d);
    if (r.userId !== null) addUsage(st, r.projectId, 'user', r.userId, r.ts, d);
  }
  if (r.runId !== null) st.runRecord.run(cost, d.calls, d.blocked, d.unpriced, r.ts, r.runId, r.projectId);
  st.insertEvent.run(r.projectId, r.ts, 'record', r.userId, r.runId, r.model, cost, r.wasBlocked ? 1 : 0, null, d.unpriced, d.tokensIn, d.tokensOut, r.idempotencyKey);
  return true;
}

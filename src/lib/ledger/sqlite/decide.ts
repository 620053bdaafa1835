import { newId, newOrderedId } from '../../ids.js';
import { PERIODS, windowKey } from '../../periods.js';
import type { Period } from '../../periods.js';
import type { BlockReason } from '../../types.js';
import { chooseOutput, tightest } from '../clamp.js';
import type { OutputChoice } from '../clamp.js';
import type { StoreCheck, StoreDecision, StoreLimit, StoreRecord } from '../store.js';
import { isOverHold, learntRatio } from '../calibration.js';
import type { RunRow } from '../rows.js';
import { modelLimits, modelScopes } from './model-caps.js';
import { storedTags } from '../../tags.js';
import { logEvent } from './statements.js';
import { isLeasedId, settleLeased } from './lease-settle.js';
import type { HoldRow, Statements } from './statements.js';
import { BatchBudgets } from './batch-budgets.js';
import type { CapRow } from './batch-budgets.js';

/**
 * The decision and settlement logic, run inside one BEGIN IMMEDIATE transaction by the
 * caller. Everything here is synchronous: SQLite holds the write lock for the whole
 * evaluate-then-hold step, which is what makes N concurrent checks approve exactly
 * floor(cap / estimate) across processes.
 */
/** Open holds of a scope; exact inside a decision because decide() sweeps expired holds first. */
function heldIn(st: Statements, projectId: string, scope: 'project' | 'user' | 'run', subject: string): number {
  return (st.heldSum.get(projectId, scope, subject) as { held: number } | undefined)?.held ?? 0;
}

function budgetLimit(st: Statements, projectId: string, scope: 'project' | 'user', subject: string, budget: { cap_nano: number; period: Period }, now: number): StoreLimit {
  const spentRow = st.getSpent.get(projectId, scope, subject, windowKey(budget.period, now)) as { spent_nano: number } | undefined;
  return { scope, capNano: budget.cap_nano, spentNano: spentRow?.spent_nano ?? 0, heldNano: heldIn(st, projectId, scope, subject) };
}

function userBudget(budgets: BatchBudgets, projectId: string, userId: string): CapRow | undefined {
  return budgets.cap(projectId, 'user', userId) ?? budgets.cap(projectId, 'default_user', '');
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
export function addUsage(st: Statements, projectId: string, scope: string, subject: string, ts: number, d: UsageDelta): void {
  for (const p of PERIODS) {
    st.addUsage.run(projectId, scope, subject, windowKey(p, ts), d.spent, d.calls, d.blocked, d.unpriced, d.tokensIn, d.tokensOut, ts);
  }
}

/**
 * Sums a batch's usage per scope and UTC minute before writing it: a batch of records for a
 * few users then costs a few upserts instead of one per period per scope per record. Every
 * period's window holds whole minutes, so one minute's sum lands in one row per period.
 * A run's totals are summed per run the same way: one update of the run and its ancestors
 * per batch, not one per record (the update walks the chain through a temporary b-tree).
 */
export class UsageBatch {
  private readonly rows = new Map<string, { projectId: string; scope: string; subject: string; d: UsageDelta; last: number }>();
  private readonly runs = new Map<string, { projectId: string; runId: string; d: UsageDelta; last: number }>();

  addRun(projectId: string, runId: string, ts: number, d: UsageDelta): void {
    sumRow(this.runs, `${projectId}\u0000${runId}`, ts, d, (sum, last) => ({ projectId, runId, d: sum, last }));
  }

  add(projectId: string, scope: string, subject: string, ts: number, d: UsageDelta): void {
    const key = `${projectId}\u0000${scope}\u0000${subject}\u0000${Math.floor(ts / 60_000)}`;
    sumRow(this.rows, key, ts, d, (sum, last) => ({ projectId, scope, subject, d: sum, last }));
  }

  write(st: Statements): void {
    for (const r of this.rows.values()) addUsage(st, r.projectId, r.scope, r.subject, r.last, r.d);
    for (const r of this.runs.values()) addRunUsage(st, r.projectId, r.runId, r.last, r.d);
    this.rows.clear();
    this.runs.clear();
  }
}

/** Adds `d` (at `ts`) to the row under `key`, made by `make` from a copy of `d` on first use. */
function sumRow<R extends { d: UsageDelta; last: number }>(rows: Map<string, R>, key: string, ts: number, d: UsageDelta, make: (sum: UsageDelta, last: number) => R): void {
  const row = rows.get(key);
  if (!row) {
    rows.set(key, make({ ...d }, ts));
    return;
  }
  const sum = row.d;
  sum.spent += d.spent;
  sum.calls += d.calls;
  sum.blocked += d.blocked;
  sum.unpriced += d.unpriced;
  sum.tokensIn += d.tokensIn;
  sum.tokensOut += d.tokensOut;
  row.last = Math.max(row.last, ts);
}

/** A run's and its ancestors' totals (spend, calls, blocked, unpriced, last activity). */
function addRunUsage(st: Statements, projectId: string, runId: string, ts: number, d: UsageDelta): void {
  st.runRecord.run(d.spent, d.calls, d.blocked, d.unpriced, ts, runId, projectId);
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
  /** The check's sorted tags: counted in each tag's usage rows, kept on the event. */
  tags?: readonly string[] | undefined;
}

/**
 * Counts a block in the project's and user's usage and, when `countOnRun` (a run row
 * exists for b.runId), in the run's blocked calls; logs the check event under `ref`.
 */
export function countBlocked(st: Statements, b: BlockedCheck, ref: string, countOnRun: boolean): void {
  const one = { spent: 0, calls: 0, blocked: 1, unpriced: 0, tokensIn: 0, tokensOut: 0 };
  addUsage(st, b.projectId, 'project', '', b.ts, one);
  if (b.userId !== null) addUsage(st, b.projectId, 'user', b.userId, b.ts, one);
  if (b.model !== null) for (const [scope, subject] of modelScopes(b.userId, b.model)) addUsage(st, b.projectId, scope, subject, b.ts, one);
  for (const t of b.tags ?? []) addUsage(st, b.projectId, 'tag', t, b.ts, one);
  if (countOnRun && b.runId !== null) {
    st.runBlocked.run({ run: b.runId, depth: b.exhaustDepth ?? (b.reason === 'run_budget_exceeded' ? 0 : -1), ts: b.ts });
  }
  logEvent(st, { projectId: b.projectId, ts: b.ts, kind: 'check', userId: b.userId, runId: b.runId, model: b.model, amountNano: b.amountNano, blocked: true, reason: b.reason, unpriced: b.unpriced, tokensIn: b.tokensIn, tokensOut: b.tokensOut, ref, tags: b.tags });
}

/** A run of the chain checked (the run itself, then its ancestors, nearest first). */
export type ChainRow = RunRow & { depth: number };

/** Every cap that applies to `c` (its run chain given), with what is spent and held under each; run caps nearest first. */
export function capsOf(st: Statements, c: StoreCheck, chain: readonly ChainRow[], budgets = new BatchBudgets(st)): { caps: StoreLimit[]; runDepth: number[] } {
  const caps: StoreLimit[] = [];
  const pb = budgets.cap(c.projectId, 'project', '');
  if (pb) caps.push(budgetLimit(st, c.projectId, 'project', '', pb, c.now));
  if (c.userId !== null) {
    const ub = userBudget(budgets, c.projectId, c.userId);
    if (ub) caps.push(budgetLimit(st, c.projectId, 'user', c.userId, ub, c.now));
  }
  // The model caps whose glob matches (the project's and this user's).
  caps.push(...modelLimits(st, budgets, c.projectId, c.userId, c.model, c.now));
  // The caps on the call's tags (one budgets row per tag, looked up by key=value).
  for (const t of c.tags ?? []) {
    const tb = budgets.cap(c.projectId, 'tag', t);
    if (!tb) continue;
    const spentRow = st.getSpent.get(c.projectId, 'tag', t, windowKey(tb.period, c.now)) as { spent_nano: number } | undefined;
    const held = st.tagHeld.get({ project: c.projectId, now: c.now, tag: `,${t},` }) as { held: number };
    caps.push({ scope: 'tag', capNano: tb.cap_nano, spentNano: spentRow?.spent_nano ?? 0, heldNano: held.held });
  }
  // The run's cap and every ancestor's (nearest first): a nested run's holds and spend count
  // in each of them. `remaining.run` is the least room among them.
  const runDepth: number[] = [];
  for (const r of chain) {
    if (r.cap_nano === null) continue;
    caps.push({ scope: 'run', capNano: r.cap_nano, spentNano: r.spent_nano, heldNano: heldIn(st, c.projectId, 'run', r.id) });
    runDepth[caps.length - 1] = r.depth;
  }
  return { caps, runDepth };
}

/**
 * Decides checks one after another in one transaction. The expired holds are swept once
 * per distinct `now`, not once per check: no other writer runs inside the transaction, so
 * a second sweep at the same time finds nothing unless a hold taken since has already
 * expired (a hold TTL of 0), which `soonest` tracks.
 */
export function decideBatch(st: Statements, cs: readonly StoreCheck[]): StoreDecision[] {
  let sweptAt = -Infinity;
  let soonest = Infinity;
  const budgets = new BatchBudgets(st);
  return cs.map((c) => {
    const sweep = c.now > sweptAt || soonest <= c.now;
    if (sweep) {
      sweptAt = c.now;
      soonest = Infinity;
    }
    const d = decide(st, c, sweep, budgets);
    if (d.reservationId !== null) soonest = Math.min(soonest, c.now + c.holdTtlMs);
    return d;
  });
}

/**
 * One check's decision; `sweep` false only when decideBatch knows no hold has expired since
 * its last sweep; `budgets`: the batch's budgets rows (read once per batch).
 */
export function decide(st: Statements, c: StoreCheck, sweep = true, budgets = new BatchBudgets(st)): StoreDecision {
  if (sweep) st.sweepHolds.run(c.now);
  const remaining: StoreDecision['remainingNano'] = {};
  let out: OutputChoice = { tokensOut: c.tokensOut, clamped: false, estimateNano: c.estimateNano, maxTokensOut: null };
  let limit: StoreLimit | null = null;
  let exhaustDepth: number | undefined;
  const block = (reason: BlockReason, run?: RunRow): StoreDecision => {
    const decisionId = newId('dec');
    const b = { projectId: c.projectId, ts: c.now, userId: c.userId, runId: c.runId, model: c.model, amountNano: out.estimateNano, reason, unpriced: c.unpriced, tokensIn: c.tokensIn, tokensOut: out.tokensOut, exhaustDepth, tags: c.tags };
    countBlocked(st, b, decisionId, run !== undefined);
    return { blocked: true, blockReason: reason, reservationId: null, remainingNano: remaining, decisionId, estimateNano: out.estimateNano, tokensOut: out.tokensOut, clamped: false, maxTokensOut: out.maxTokensOut, limit };
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

  // Every cap that applies, read once inside the write lock: the room, the clamp and the
  // decision below all see the same figures.
  const { caps, runDepth } = capsOf(st, c, chain, budgets);
  limit = tightest(caps);
  out = chooseOutput(c.unpriced ? null : (c.prices ?? null), c.tokensIn, c.tokensOut, c.estimateNano, limit, c.clamp === true, c.minTokensOut ?? 256);

  const e = out.estimateNano;
  let reason: BlockReason | null = null;
  let blocker: StoreLimit | null = null;
  for (let i = 0; i < caps.length; i++) {
    const k = caps[i] as StoreLimit;
    const left = k.capNano - k.spentNano - k.heldNano - e;
    const prev = remaining[k.scope];
    remaining[k.scope] = prev === undefined ? left : Math.min(prev, left);
    if (left < 0 && reason === null) {
      reason = REASON[k.scope];
      blocker = k;
      exhaustDepth = runDepth[i];
    }
  }
  // Before refusing: other leases' unapprovable room (row U) returns to the pool, and the check is decided again.
  if (reason !== null && st.leaseSteal.run(c.projectId, c.now).changes > 0) return decide(st, c, true, budgets);
  if (reason !== null) {
    // A blocked call takes no hold: report what is left without it; the limit is the cap that blocked.
    for (const k of ['project', 'user', 'run', 'model', 'tag'] as const) {
      const v = remaining[k];
      if (v !== undefined) remaining[k] = Math.max(0, v + e);
    }
    limit = blocker ?? limit;
    return block(reason, run);
  }
  // Time-ordered: the holds' primary-key index grows at its end (ids.ts).
  const reservationId = newOrderedId('res', c.now);
  st.insertHold.run(reservationId, c.projectId, c.userId, c.runId, c.model, e, c.now, c.now + c.holdTtlMs, c.provider ?? null, c.tokensInRaw ?? null, storedTags(c.tags));
  if (run) st.touchRuns.run(c.now, run.id);
  if (out.clamped && run) st.runClamped.run(c.now, run.id);
  return { blocked: false, blockReason: null, reservationId, remainingNano: remaining, estimateNano: e, tokensOut: out.tokensOut, clamped: out.clamped, maxTokensOut: out.maxTokensOut, limit };
}

const REASON = { project: 'project_budget_exceeded', user: 'user_budget_exceeded', run: 'run_budget_exceeded', model: 'model_budget_exceeded', tag: 'tag_budget_exceeded' } as const;

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
    logEvent(st, { projectId, ts: at, kind: 'run_end', runId: r.id, amountNano: row.spent_nano, blocked: row.exhausted === 1, ref: r.id });
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
    r.calledAt ?? null, storedTags(r.tags),
  );
  const leased = r.reservationId !== null && isLeasedId(r.reservationId);
  if (ins.changes === 0) {
    // A duplicate counts nothing, but the hold it names is its own (a retry that checked
    // again): free it now rather than let it block others until the TTL. The original's hold
    // was released when the original settled, so this is a no-op when they name the same one.
    if (r.reservationId !== null && !leased) st.deleteHold.run(r.reservationId, r.projectId);
    return false;
  }

  // Release the hold: the one named, else the oldest open one for the same call shape.
  // A leased approval (L_...) settles once out of its lease's row C; never a lease row itself.
  const h = leased ? settleLeased(st, r.projectId, r.reservationId as string) : (r.reservationId !== null
    ? st.getHold.get(r.reservationId, r.projectId)
    : st.oldestHold.get(r.projectId, r.userId, r.runId, r.model, r.ts)) as HoldRow | undefined;
  if (h && !leased) st.deleteHold.run(h.id, r.projectId);

  const cost = r.wasBlocked ? 0 : r.costNano;
  const d = {
    spent: cost,
    calls: r.wasBlocked ? 0 : 1,
    blocked: r.wasBlocked ? 1 : 0,
    unpriced: r.unpriced && !r.wasBlocked ? 1 : 0,
    tokensIn: r.wasBlocked ? 0 : r.tokensIn,
    tokensOut: r.wasBlocked ? 0 : r.tokensOut,
  };
  // Tag rows only for the calls that carry tags: an untagged call adds none.
  const scopes: [string, string][] = [['project', ''], ...(r.userId !== null ? [['user', r.userId] as [string, string]] : []), ...modelScopes(r.userId, r.model), ...(r.tags ?? []).map((t): [string, string] => ['tag', t])];
  for (const [scope, subject] of scopes) {
    if (usage) usage.add(r.projectId, scope, subject, r.ts, d);
    else addUsage(st, r.projectId, scope, subject, r.ts, d);
  }
  if (r.runId !== null) {
    if (usage) usage.addRun(r.projectId, r.runId, r.ts, d);
    else addRunUsage(st, r.projectId, r.runId, r.ts, d);
  }
  if (h && !r.wasBlocked) {
    const over = isOverHold(h.amount_nano, cost);
    if (over && r.runId !== null) st.runOverHold.run(r.runId, r.projectId);
    const ratio = learntRatio(h.est_in_raw, r.tokensIn);
    if (ratio !== null) st.learnCalibration.run(h.provider ?? '', r.model, ratio, ratio, r.ts);
  }
  logEvent(st, { projectId: r.projectId, ts: r.ts, kind: 'record', userId: r.userId, runId: r.runId, model: r.model, amountNano: cost, blocked: r.wasBlocked, unpriced: d.unpriced === 1, tokensIn: d.tokensIn, tokensOut: d.tokensOut, ref: r.idempotencyKey, tags: r.tags });
  return true;
}

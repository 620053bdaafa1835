import { newId } from './ids.js';
import { nanoToUsd, usdToNano } from './money.js';
import type { StoreLimit } from './ledger/store.js';
import type { BlockReason, Decision, Remaining, RunInfo } from './types.js';

/**
 * What a guard knows about caps without asking the authority, so that an outage never
 * lifts a cap it knows (docs/contract.md, "Outages"):
 *
 * - the fallback cap (`budgetCapUsd`): spend recorded through this guard plus every hold
 *   it has open (server holds still in flight and its own fallback holds);
 * - the cap of each run this guard started or read (`noburn run` starts its run): what this
 *   guard recorded for the run, its open holds on it, and the largest spend by others the
 *   server has shown (the server's used amount minus ours, never below 0).
 *
 * Every decision here is synchronous: compare and hold happen in one step, so N concurrent
 * fallback checks of $e against a cap C approve exactly floor(C / e).
 */
interface Hold {
  nano: number;
  runId: string | null;
  expiresAt: number;
  /** Taken by the fallback (not known to the authority). */
  local: boolean;
}

interface RunView {
  /** Null: the run has no cap (tracked for its figures only). */
  capNano: number | null;
  startedAt: string;
  /** What this guard recorded for the run (priced locally when a record has no cost). */
  spentNano: number;
  /** Records whose local price is still being looked up: counted at their hold meanwhile. */
  pricingNano: number;
  /** Spend and holds on the run that are not this guard's, as last shown by the server (max seen). */
  othersNano: number;
  calls: number;
  blockedCalls: number;
  /** A call was blocked by this run's cap (server or local). */
  exhausted: boolean;
}

export interface LocalDecision {
  blocked: boolean;
  blockReason: BlockReason | null;
  reservationId: string | null;
  remaining: Remaining;
}

/** A run as this guard saw it: for a summary when the authority cannot be asked. */
export interface LocalRunView {
  runId: string;
  budgetCapUsd: number | null;
  startedAt: string;
  spendUsd: number;
  heldUsd: number;
  calls: number;
  blockedCalls: number;
  exhausted: boolean;
}

/**
 * A server hold this guard settled whose record the server may not have yet: until it is
 * delivered (or the server's hold expires) the server may still count it at its estimate.
 */
interface InTransit {
  runId: string;
  holdNano: number;
  /** What this guard counts for the call (null while its price is looked up: counted at the hold). */
  costNano: number | null;
  expiresAt: number;
}

export class LocalCaps {
  private readonly holds = new Map<string, Hold>();
  private readonly transit = new Map<string, InTransit>();
  private readonly runs = new Map<string, RunView>();
  /** Spend with a known cost recorded through this guard (the fallback cap's own scope). */
  spentNano = 0;
  private inserts = 0;

  constructor(
    private readonly now: () => number,
    private readonly holdTtlMs: number,
    /** The fallback cap (`budgetCapUsd`), or null. */
    private readonly fallbackCapNano: number | null,
  ) {}

  /** Holds only matter to a cap this guard knows: without one, nothing is kept. */
  private get keepsHolds(): boolean {
    if (this.fallbackCapNano !== null) return true;
    for (const v of this.runs.values()) if (v.capNano !== null) return true;
    return false;
  }

  /** Remembers a run's cap (startRun, getRun); the server's figures update the estimate of others' spend. */
  trackRun(run: RunInfo): void {
    const capNano = run.budgetCapUsd === null ? null : usdToNano(run.budgetCapUsd);
    let v = this.runs.get(run.runId);
    if (!v) {
      v = { capNano, startedAt: run.startedAt, spentNano: 0, pricingNano: 0, othersNano: 0, calls: 0, blockedCalls: 0, exhausted: false };
      this.runs.set(run.runId, v);
    }
    v.capNano = capNano;
    if (run.exhausted) v.exhausted = true;
    this.noteServerUsed(run.runId, usdToNano(run.spendUsd) + usdToNano(run.heldUsd));
  }

  isTracked(runId: string | null): boolean {
    return runId !== null && this.runs.has(runId);
  }

  /** The server decided: keep its hold (it becomes spend when recorded) and learn from its figures. */
  noteServerDecision(runId: string | null, d: Decision): void {
    if (!d.blocked && d.reservationId !== null && this.keepsHolds) this.hold(d.reservationId, usdToNano(d.estimatedCostUsd), runId, false);
    if (runId === null) return;
    const v = this.runs.get(runId);
    if (!v) return;
    if (d.blocked) {
      v.blockedCalls++;
      if (d.blockReason === 'run_budget_exceeded') v.exhausted = true;
    }
    if (d.remaining.runUsd !== undefined && v.capNano !== null) this.noteServerUsed(runId, Math.max(0, v.capNano - usdToNano(Math.max(0, d.remaining.runUsd))));
  }

  private noteServerUsed(runId: string, usedNano: number): void {
    const v = this.runs.get(runId);
    if (!v) return;
    // The server's used amount includes this guard's holds and records; what is left is
    // others'. A record still on its way is counted by the server at its hold, by us at its
    // cost: that difference is ours too, not spend by others.
    v.othersNano = Math.max(v.othersNano, usedNano - this.ours(runId, v) - this.transitSlack(runId));
  }

  private hold(id: string, nano: number, runId: string | null, local: boolean): void {
    this.holds.set(id, { nano, runId, expiresAt: this.now() + this.holdTtlMs, local });
    // Holds of records that never name their reservation run out with the TTL.
    if (++this.inserts % 1024 === 0) this.sweep();
  }

  private sweep(): void {
    const now = this.now();
    for (const [id, h] of this.holds) if (h.expiresAt <= now) this.holds.delete(id);
    for (const [id, t] of this.transit) if (t.expiresAt <= now) this.transit.delete(id);
  }

  private transitSlack(runId: string): number {
    const now = this.now();
    let sum = 0;
    for (const t of this.transit.values()) if (t.runId === runId && t.costNano !== null && t.expiresAt > now) sum += Math.max(0, t.holdNano - t.costNano);
    return sum;
  }

  /** The authority has these records: it counts them at their cost now. */
  delivered(reservationIds: readonly (string | null)[]): void {
    for (const id of reservationIds) if (id !== null) this.transit.delete(id);
  }

  private heldNano(runId?: string): number {
    let sum = 0;
    for (const h of this.holds.values()) if (runId === undefined || h.runId === runId) sum += h.nano;
    return sum;
  }

  private ours(runId: string, v: RunView): number {
    return v.spentNano + v.pricingNano + this.heldNano(runId);
  }

  /** Fallback holds not settled yet: while there are any, the authority does not know all that is in flight. */
  localHolds(): number {
    this.sweep();
    let n = 0;
    for (const h of this.holds.values()) if (h.local) n++;
    return n;
  }

  /**
   * The caps this guard knows, with what is used under each (for the clamp and the
   * refusal figures: docs/semantics.md). Same figures as decide() reads.
   */
  limits(runId: string | null, extraSpentNano: number): StoreLimit[] {
    this.sweep();
    const out: StoreLimit[] = [];
    const v = runId === null ? undefined : this.runs.get(runId);
    if (runId !== null && v && v.capNano !== null) {
      const held = this.heldNano(runId);
      out.push({ scope: 'run', capNano: v.capNano, spentNano: v.othersNano + this.ours(runId, v) - held, heldNano: held });
    }
    if (this.fallbackCapNano !== null) out.push({ scope: 'project', capNano: this.fallbackCapNano, spentNano: this.spentNano + extraSpentNano, heldNano: this.heldNano() });
    return out;
  }

  /**
   * Decides a call locally and holds its estimate when it fits: the run cap of a tracked
   * run, and the fallback cap (with `extraSpentNano` = token-only spend priced by the
   * caller). `gate` is applied last: the reason to block a call that fits.
   */
  decide(runId: string | null, estNano: number, extraSpentNano: number, gate: BlockReason | null): LocalDecision {
    const fallbackCapNano = this.fallbackCapNano;
    this.sweep();
    const remaining: Remaining = {};
    let reason: BlockReason | null = null;
    const v = runId === null ? undefined : this.runs.get(runId);
    if (v && v.capNano !== null) {
      const used = v.othersNano + this.ours(runId as string, v);
      remaining.runUsd = nanoToUsd(Math.max(0, v.capNano - used - estNano));
      if (used + estNano > v.capNano) reason = 'run_budget_exceeded';
    }
    if (fallbackCapNano !== null) {
      const used = this.spentNano + extraSpentNano + this.heldNano();
      remaining.projectUsd = nanoToUsd(Math.max(0, fallbackCapNano - used - estNano));
      if (used + estNano > fallbackCapNano) reason ??= 'local_budget_exceeded';
    }
    reason ??= gate;
    if (reason !== null) {
      if (v) {
        v.blockedCalls++;
        if (reason === 'run_budget_exceeded') v.exhausted = true;
      }
      return { blocked: true, blockReason: reason, reservationId: null, remaining };
    }
    if ((!v || v.capNano === null) && fallbackCapNano === null) return { blocked: false, blockReason: null, reservationId: null, remaining };
    // A local id: the authority settles no hold of its own for it when the record arrives.
    const reservationId = newId('fbk');
    this.hold(reservationId, estNano, runId, true);
    return { blocked: false, blockReason: null, reservationId, remaining };
  }

  /**
   * A record settles its hold. `costNano` is its cost when known; otherwise `price` is a
   * promise of it (looked up locally) and, for a tracked run, the hold keeps counting until it resolves.
   */
  settle(reservationId: string | null, runId: string | null, wasBlocked: boolean, costNano: number | null, price?: () => Promise<number>): void {
    const h = reservationId === null ? undefined : this.holds.get(reservationId);
    if (reservationId !== null) this.holds.delete(reservationId);
    if (costNano !== null && !wasBlocked) this.spentNano += costNano;
    const v = runId === null ? undefined : this.runs.get(runId);
    if (!v || runId === null) return;
    if (wasBlocked) {
      v.blockedCalls++;
      return;
    }
    v.calls++;
    const t: InTransit | null = h && !h.local && reservationId !== null ? { runId, holdNano: h.nano, costNano, expiresAt: h.expiresAt } : null;
    if (t && reservationId !== null) this.transit.set(reservationId, t);
    if (costNano !== null) {
      v.spentNano += costNano;
      return;
    }
    const pending = h?.nano ?? 0;
    v.pricingNano += pending;
    const done = (nano: number): void => {
      v.pricingNano -= pending;
      v.spentNano += nano;
      if (t) t.costNano = nano;
    };
    // No price to be had: keep counting the hold (the safe side).
    (price ? price() : Promise.resolve(pending)).then(done, () => done(pending));
  }

  /** guard.release(): the call was not made; its hold stops counting, nothing is counted. */
  release(reservationId: string): void {
    this.holds.delete(reservationId);
  }

  runView(runId: string): LocalRunView | null {
    const v = this.runs.get(runId);
    if (!v) return null;
    this.sweep();
    return {
      runId,
      budgetCapUsd: v.capNano === null ? null : nanoToUsd(v.capNano),
      startedAt: v.startedAt,
      spendUsd: nanoToUsd(v.spentNano + v.pricingNano + v.othersNano),
      heldUsd: nanoToUsd(this.heldNano(runId)),
      calls: v.calls,
      blockedCalls: v.blockedCalls,
      exhausted: v.exhausted,
    };
  }
}

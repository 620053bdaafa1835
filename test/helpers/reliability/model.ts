/**
 * A reference model of contract §3 in plain integers (nano-dollars): caps, holds, records,
 * runs. It is deliberately naive (lists and sums, no summary rows, no SQL) so that it can
 * be read against the design and trusted as the oracle of the property tests.
 */
import type { Period } from '../../../src/lib/periods.js';
import type { BlockReason } from '../../../src/lib/types.js';
import { FALLBACK, PRICED, modelCost } from './prices.js';
import type { NanoPrice } from './prices.js';
import { sameWindow } from './windows.js';

export interface MCap {
  cap: number;
  period: Period;
}

/** A per-model cap: the calls whose model the glob matches, project-wide (user null) or one user's. */
export interface MModelCap extends MCap {
  user: string | null;
  glob: string;
}

/** Glob match written apart from src/lib/model-glob.ts: `*` any run of characters, `?` one, the rest literal. */
export function globMatch(glob: string, s: string): boolean {
  // ok[j]: glob[0, i) matches s[0, j), row by row over the glob.
  let ok = [true, ...Array<boolean>(s.length).fill(false)];
  for (const g of glob) {
    const next = Array<boolean>(s.length + 1).fill(false);
    for (let j = 0; j <= s.length; j++) {
      if (g === '*') next[j] = ok[j] === true || (j > 0 && next[j - 1] === true);
      else next[j] = j > 0 && ok[j - 1] === true && (g === '?' || g === s[j - 1]);
    }
    ok = next;
  }
  return ok[s.length] === true;
}

export interface MHold {
  id: string;
  project: string;
  user: string | null;
  run: string | null;
  model: string;
  amount: number;
  createdAt: number;
  expiresAt: number;
  /** The check's sorted key=value tags. */
  tags: readonly string[];
}

export interface MRun {
  id: string;
  project: string;
  cap: number | null;
  open: boolean;
  exhausted: boolean;
  spent: number;
  calls: number;
  blocked: number;
  unpriced: number;
  startedAt: number;
  endedAt: number | null;
}

export interface MRecord {
  project: string;
  key: string;
  ts: number;
  user: string | null;
  run: string | null;
  model: string;
  tokensIn: number;
  tokensOut: number;
  cached: number;
  cacheWrite: number;
  cost: number;
  unpriced: boolean;
  wasBlocked: boolean;
  reservationId: string | null;
}

/** What a settled record or a blocked check adds to the counters of its scopes. */
export interface MContribution {
  project: string;
  kind: 'record' | 'check';
  ts: number;
  user: string | null;
  run: string | null;
  model: string;
  spent: number;
  calls: number;
  blocked: number;
  unpriced: number;
  tokensIn: number;
  tokensOut: number;
  /** The call's sorted key=value tags ([] when none). */
  tags: readonly string[];
}

export interface MCheck {
  model: string;
  tokensIn: number;
  tokensOut: number;
  user: string | null;
  run: string | null;
  /** Sorted key=value tags ([] when none). */
  tags: readonly string[];
}

export interface MRecordIn extends MCheck {
  cached: number;
  cacheWrite: number;
  /** Given cost (costUsd), or null to price from tokens. */
  costNano: number | null;
  wasBlocked: boolean;
  reservationId: string | null;
  key: string;
}

export interface MDecision {
  blocked: boolean;
  reason: BlockReason | null;
  estimate: number;
  unpriced: boolean;
  remaining: { project?: number; user?: number; run?: number; model?: number; tag?: number };
}

/** One entry of the event feed, as far as the contract pins it (ids of blocked checks are random). */
export interface MEvent {
  kind: 'check' | 'record' | 'run_start' | 'run_end' | 'budget';
  ts: number;
  user: string | null;
  run: string | null;
  model: string | null;
  amount: number;
  blocked: boolean;
  reason: BlockReason | null;
  /** The idempotency key of a record, the id of a run; null where not pinned. */
  ref: string | null;
}

export class ProjectState {
  readonly events: MEvent[] = [];
  projectCap: MCap | null = null;
  defaultUserCap: MCap | null = null;
  readonly userCaps = new Map<string, MCap>();
  /** Keyed by the stores' order (project-wide first, then by user; by glob), which names the reason when several block. */
  readonly modelCaps = new Map<string, MModelCap>();
  /** Per-tag caps by key=value tag. */
  readonly tagCaps = new Map<string, MCap>();
  readonly records = new Map<string, MRecord>();
  readonly contributions: MContribution[] = [];
}

export class LedgerModel {
  readonly projects = new Map<string, ProjectState>();
  readonly runs = new Map<string, MRun>();
  /** Holds in creation order (the order "oldest open hold" follows). Released holds are removed. */
  holds: MHold[] = [];

  constructor(
    public now: number,
    readonly holdTtlMs: number,
    /** contract §3 for a model with no price: block it, allow it unpriced, or price it at the configured fallback. */
    readonly unknownModel: 'block' | 'allow' | 'fallback',
  ) {}

  priceOf(model: string): NanoPrice | undefined {
    return PRICED[model] ?? (this.unknownModel === 'fallback' ? FALLBACK : undefined);
  }

  project(p: string): ProjectState {
    let s = this.projects.get(p);
    if (!s) {
      s = new ProjectState();
      this.projects.set(p, s);
    }
    return s;
  }

  live(h: MHold): boolean {
    return h.expiresAt > this.now;
  }

  held(filter: (h: MHold) => boolean): number {
    return this.holds.filter((h) => this.live(h) && filter(h)).reduce((a, h) => a + h.amount, 0);
  }

  /** Settled spend of a scope in the window of `period` that contains now (of the models a glob matches, with `glob`). */
  spentInWindow(p: string, user: string | null, period: Period, glob: string | null = null): number {
    return this.project(p)
      .contributions.filter((c) => (user === null || c.user === user) && (glob === null || globMatch(glob, c.model)) && sameWindow(period, c.ts, this.now))
      .reduce((a, c) => a + c.spent, 0);
  }

  /** Unpriced calls of a scope in the window of `period` that contains now. */
  unpricedInWindow(p: string, user: string | null, period: Period, glob: string | null = null): number {
    return this.project(p)
      .contributions.filter((c) => (user === null || c.user === user) && (glob === null || globMatch(glob, c.model)) && sameWindow(period, c.ts, this.now))
      .reduce((a, c) => a + c.unpriced, 0);
  }

  /** Settled spend (and unpriced calls) of the calls carrying `tag` in the window of `period` that contains now. */
  tagInWindow(p: string, tag: string, period: Period): { spent: number; unpriced: number } {
    const cs = this.project(p).contributions.filter((c) => c.tags.includes(tag) && sameWindow(period, c.ts, this.now));
    return { spent: cs.reduce((a, c) => a + c.spent, 0), unpriced: cs.reduce((a, c) => a + c.unpriced, 0) };
  }

  /** Live holds of the calls carrying `tag`. */
  tagHeld(p: string, tag: string): number {
    return this.held((h) => h.project === p && h.tags.includes(tag));
  }

  /** The model caps of a project in the stores' order. */
  modelCapList(p: string): MModelCap[] {
    return [...this.project(p).modelCaps.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, v]) => v);
  }

  /** Spend in the window plus the live holds of the calls a model cap covers. */
  modelCapUsed(p: string, m: MModelCap): number {
    return this.spentInWindow(p, m.user, m.period, m.glob) + this.held((h) => h.project === p && globMatch(m.glob, h.model) && (m.user === null || h.user === m.user));
  }

  userCap(p: string, user: string): MCap | null {
    const s = this.project(p);
    return s.userCaps.get(user) ?? s.defaultUserCap;
  }

  /** The run a check or record names, if it exists in this project. */
  runOf(p: string, runId: string | null): MRun | undefined {
    if (runId === null) return undefined;
    const r = this.runs.get(runId);
    return r && r.project === p ? r : undefined;
  }

  estimate(model: string, tokensIn: number, tokensOut: number): { estimate: number; unpriced: boolean } {
    const price = this.priceOf(model);
    return price ? { estimate: modelCost(price, { tokensIn, tokensOut }), unpriced: false } : { estimate: 0, unpriced: true };
  }

  /** The decision contract §3 prescribes. Call takeHold() with the ledger's id when it allows. */
  check(p: string, c: MCheck): MDecision {
    const { estimate: e, unpriced } = this.estimate(c.model, c.tokensIn, c.tokensOut);
    const remaining: MDecision['remaining'] = {};
    const out = (reason: BlockReason | null): MDecision => ({ blocked: reason !== null, reason, estimate: e, unpriced, remaining });
    const run = this.runOf(p, c.run);
    const block = (reason: BlockReason): MDecision => {
      this.countBlocked(p, c, e, reason, run);
      return out(reason);
    };
    if (c.run !== null && !run) return block('run_not_found');
    if (run && !run.open) return block('run_ended');
    if (unpriced && this.unknownModel === 'block') return block('unknown_model_price');

    const caps: { k: 'project' | 'user' | 'run' | 'model' | 'tag'; cap: number; used: number; reason: BlockReason }[] = [];
    const s = this.project(p);
    if (s.projectCap) {
      const used = this.spentInWindow(p, null, s.projectCap.period) + this.held((h) => h.project === p);
      caps.push({ k: 'project', cap: s.projectCap.cap, used, reason: 'project_budget_exceeded' });
    }
    const ucap = c.user === null ? null : this.userCap(p, c.user);
    if (ucap && c.user !== null) {
      const used = this.spentInWindow(p, c.user, ucap.period) + this.held((h) => h.project === p && h.user === c.user);
      caps.push({ k: 'user', cap: ucap.cap, used, reason: 'user_budget_exceeded' });
    }
    for (const m of this.modelCapList(p)) {
      if ((m.user === null || m.user === c.user) && globMatch(m.glob, c.model)) caps.push({ k: 'model', cap: m.cap, used: this.modelCapUsed(p, m), reason: 'model_budget_exceeded' });
    }
    // Each of the call's tags with a cap, in code-point order (the tags are sorted).
    for (const t of c.tags) {
      const tc = s.tagCaps.get(t);
      if (tc) caps.push({ k: 'tag', cap: tc.cap, used: this.tagInWindow(p, t, tc.period).spent + this.tagHeld(p, t), reason: 'tag_budget_exceeded' });
    }
    if (run && run.cap !== null) {
      caps.push({ k: 'run', cap: run.cap, used: run.spent + this.held((h) => h.run === run.id), reason: 'run_budget_exceeded' });
    }
    // Blocked when spent + held + estimate > cap for any cap; the first one exceeded names the
    // reason (project, user, model, run). A blocked call takes no hold: what remains is shown
    // without it. Several model caps: the least room.
    const over = caps.find((x) => x.used + e > x.cap);
    for (const x of caps) {
      const left = over ? Math.max(0, x.cap - x.used) : x.cap - x.used - e;
      remaining[x.k] = Math.min(remaining[x.k] ?? left, left);
    }
    return over ? block(over.reason) : out(null);
  }

  takeHold(p: string, c: MCheck, d: MDecision, id: string): void {
    this.holds.push({ id, project: p, user: c.user, run: c.run, model: c.model, amount: d.estimate, createdAt: this.now, expiresAt: this.now + this.holdTtlMs, tags: c.tags });
  }

  /** A blocked check counts as a blocked call of its project, user and run; it takes no hold and costs nothing. */
  private countBlocked(p: string, c: MCheck, e: number, reason: BlockReason, run: MRun | undefined): void {
    this.event(p, { kind: 'check', user: c.user, run: c.run, model: c.model, amount: e, blocked: true, reason, ref: null });
    this.project(p).contributions.push({
      project: p, kind: 'check', ts: this.now, user: c.user, run: c.run, model: c.model,
      spent: 0, calls: 0, blocked: 1, unpriced: 0, tokensIn: 0, tokensOut: 0, tags: c.tags,
    });
    if (run) {
      run.blocked++;
      if (reason === 'run_budget_exceeded') run.exhausted = true;
    }
  }

  /** Settles a batch in order; returns what the ledger must answer. */
  record(p: string, rs: readonly MRecordIn[]): { accepted: number; duplicates: number } {
    let accepted = 0;
    let duplicates = 0;
    for (const r of rs) {
      if (this.settle(p, r)) accepted++;
      else duplicates++;
    }
    return { accepted, duplicates };
  }

  private settle(p: string, r: MRecordIn): boolean {
    const s = this.project(p);
    if (s.records.has(r.key)) {
      // A duplicate counts nothing but frees the hold it names (its own, from a retry that checked again).
      if (r.reservationId !== null) this.holds = this.holds.filter((h) => !(h.id === r.reservationId && h.project === p));
      return false;
    }
    const price = this.priceOf(r.model);
    let cost = 0;
    let unpriced = false;
    if (r.costNano !== null) cost = r.costNano;
    else if (!r.wasBlocked) {
      if (price) cost = modelCost(price, { tokensIn: r.tokensIn, tokensOut: r.tokensOut, cached: r.cached, cacheWrite: r.cacheWrite });
      else unpriced = true;
    }
    if (r.wasBlocked) cost = 0;
    s.records.set(r.key, {
      project: p, key: r.key, ts: this.now, user: r.user, run: r.run, model: r.model, tokensIn: r.tokensIn, tokensOut: r.tokensOut,
      cached: r.cached, cacheWrite: r.cacheWrite, cost, unpriced, wasBlocked: r.wasBlocked, reservationId: r.reservationId,
    });

    // Release: the named hold, else the oldest open hold of the same call shape.
    const release =
      r.reservationId !== null
        ? this.holds.find((h) => h.id === r.reservationId && h.project === p)
        : this.holds.find((h) => this.live(h) && h.project === p && h.user === r.user && h.run === r.run && h.model === r.model);
    if (release) this.holds = this.holds.filter((h) => h !== release);

    const made = !r.wasBlocked;
    s.contributions.push({
      project: p, kind: 'record', ts: this.now, user: r.user, run: r.run, model: r.model,
      spent: cost, calls: made ? 1 : 0, blocked: made ? 0 : 1, unpriced: made && unpriced ? 1 : 0,
      tokensIn: made ? r.tokensIn : 0, tokensOut: made ? r.tokensOut : 0, tags: r.tags,
    });
    this.event(p, { kind: 'record', user: r.user, run: r.run, model: r.model, amount: cost, blocked: r.wasBlocked, reason: null, ref: r.key });
    const run = this.runOf(p, r.run);
    if (run) {
      run.spent += cost;
      run.calls += made ? 1 : 0;
      run.blocked += made ? 0 : 1;
      run.unpriced += made && unpriced ? 1 : 0;
    }
    return true;
  }

  startRun(p: string, id: string, cap: number | null): MRun {
    const r: MRun = { id, project: p, cap, open: true, exhausted: false, spent: 0, calls: 0, blocked: 0, unpriced: 0, startedAt: this.now, endedAt: null };
    this.runs.set(id, r);
    this.event(p, { kind: 'run_start', user: null, run: id, model: null, amount: cap ?? 0, blocked: false, reason: null, ref: id });
    return r;
  }

  /** 'not_found' / 'conflict' when the ledger must refuse. */
  endRun(p: string, id: string): MRun | 'not_found' | 'conflict' {
    const r = this.runOf(p, id);
    if (!r) return 'not_found';
    if (!r.open) return 'conflict';
    r.open = false;
    r.endedAt = this.now;
    this.event(p, { kind: 'run_end', user: null, run: id, model: null, amount: r.spent, blocked: r.exhausted, reason: null, ref: id });
    return r;
  }

  setCap(p: string, scope: 'project' | 'user' | 'default_user', user: string, cap: MCap | null): void {
    const s = this.project(p);
    this.event(p, { kind: 'budget', user: scope === 'user' ? user : null, run: null, model: null, amount: cap?.cap ?? 0, blocked: false, reason: null, ref: null });
    if (scope === 'project') s.projectCap = cap;
    else if (scope === 'default_user') s.defaultUserCap = cap;
    else if (cap) s.userCaps.set(user, cap);
    else s.userCaps.delete(user);
  }

  setModelCap(p: string, user: string | null, glob: string, cap: MCap | null): void {
    const s = this.project(p);
    this.event(p, { kind: 'budget', user, run: null, model: glob, amount: cap?.cap ?? 0, blocked: false, reason: null, ref: null });
    // The stores' key order: scope 'model' < 'user_model', then subject (user U+001F glob).
    const key = user === null ? `0${glob}` : `1${user}\u001f${glob}`;
    if (cap) s.modelCaps.set(key, { ...cap, user, glob });
    else s.modelCaps.delete(key);
  }

  setTagCap(p: string, tag: string, cap: MCap | null): void {
    const s = this.project(p);
    this.event(p, { kind: 'budget', user: null, run: null, model: null, amount: cap?.cap ?? 0, blocked: false, reason: null, ref: null });
    if (cap) s.tagCaps.set(tag, cap);
    else s.tagCaps.delete(tag);
  }

  private event(p: string, e: Omit<MEvent, 'ts'>): void {
    this.project(p).events.push({ ...e, ts: this.now });
  }
}

/**
 * Drives one ledger (a real SQLite file or PostgreSQL schema, a Ledger with an injected clock) and the
 * reference model through the same steps, asserting after each operation that the ledger
 * answered what the model prescribes. State-wide comparisons live in the test file.
 */
import { expect } from 'vitest';
import { NoburnConflictError, NoburnNotFoundError } from '../../../src/lib/errors.js';
import { Ledger } from '../../../src/lib/ledger/ledger.js';
import { nanoToUsd } from '../../../src/lib/money.js';
import type { Period } from '../../../src/lib/periods.js';
import type { NormalizedRecord } from '../../../src/lib/validate.js';
import type { LedgerUnderTest } from './backend.js';
import { LedgerModel } from './model.js';
import type { MCheck, MDecision, MRecordIn } from './model.js';
import { FALLBACK, MODELS, priceOverrides } from './prices.js';
import { GLOBS, HOLD_TTL_MS, PROJECTS, TAGS, TAG_SETS, USERS, pickFrom } from './steps.js';
import type { Advance, RecordItem, RunRef, Step } from './steps.js';
import { dayIndex, nextWindowStart } from './windows.js';

export class Harness {
  readonly model: LedgerModel;
  readonly ledger: Ledger;
  readonly clock: { now: number };
  /** Every reservation the ledger handed out, with the check that took it. */
  readonly reservations: { id: string; project: string; check: MCheck }[] = [];
  /** Every idempotency key recorded so far, with its project. */
  readonly keys: { project: string; key: string }[] = [];
  private nextKey = 0;
  /** What the sequence exercised, so the test can prove its generators reach every case. */
  readonly stats = { approvals: 0, reasons: {} as Record<string, number>, duplicates: 0, expiredHoldsAtCheck: 0, dayRollovers: 0 };

  constructor(
    readonly db: LedgerUnderTest,
    start: number,
    unknownModel: 'block' | 'allow' | 'fallback',
  ) {
    this.clock = { now: start };
    this.model = new LedgerModel(start, HOLD_TTL_MS, unknownModel);
    const fallbackPrice = unknownModel === 'fallback' ? { inputPerMTok: FALLBACK.input / 1e9, outputPerMTok: FALLBACK.output / 1e9 } : null;
    this.ledger = new Ledger(
      db.store,
      // The reference model has no idle TTL for runs (abandoned runs are proven in the semantic suite): a year.
      { prices: priceOverrides(), fallbackPrice, unknownModel: unknownModel === 'allow' ? 'allow' : 'block', holdTtlMs: HOLD_TTL_MS, runIdleTtlMs: 366 * 24 * 3600 * 1000 },
      { now: () => this.clock.now },
    );
  }

  dispose(): Promise<void> {
    return this.db.dispose();
  }

  runId(ref: RunRef): string | null {
    if (ref.kind === 'none') return null;
    if (ref.kind === 'missing') return 'run_never_started';
    return pickFrom([...this.model.runs.keys()], ref.n) ?? null;
  }

  /** Runs one step; returns the decision of a check step (for the cap-safety assertion). */
  async apply(s: Step): Promise<{ project: string; check: MCheck; decision: MDecision } | null> {
    switch (s.t) {
      case 'advance':
        this.advance(s.by);
        return null;
      case 'cap':
        await this.setCap(PROJECTS[s.project] as string, s.scope, USERS[s.user] as string, s.cap, s.period);
        return null;
      case 'modelCap':
        await this.setModelCap(PROJECTS[s.project] as string, s.user === null ? null : (USERS[s.user] as string), GLOBS[s.glob] as string, s.cap, s.period);
        return null;
      case 'tagCap':
        await this.setTagCap(PROJECTS[s.project] as string, TAGS[s.tag] as string, s.cap, s.period);
        return null;
      case 'check':
        return this.check(PROJECTS[s.project] as string, {
          model: MODELS[s.model] as string, tokensIn: s.tokensIn, tokensOut: s.tokensOut,
          user: s.user === null ? null : (USERS[s.user] as string), run: this.runId(s.run), tags: TAG_SETS[s.tags] ?? [],
        });
      case 'record':
        await this.record(PROJECTS[s.project] as string, s.items);
        return null;
      case 'startRun':
        await this.startRun(PROJECTS[s.project] as string, s.cap);
        return null;
      case 'endRun':
        await this.endRun(PROJECTS[s.project] as string, this.runId(s.run) ?? 'run_never_started');
        return null;
    }
  }

  advance(a: Advance): void {
    const now = this.clock.now;
    let next: number;
    if (a.kind === 'ms') next = now + a.ms;
    else if (a.kind === 'hours') next = now + a.h * 3_600_000;
    else if (a.kind === 'ttl') next = now + HOLD_TTL_MS + a.delta;
    else next = nextWindowStart(a.period, now) + a.offset;
    this.clock.now = Math.max(now + 1, next);
    this.model.now = this.clock.now;
    if (dayIndex(now) !== dayIndex(this.clock.now)) this.stats.dayRollovers++;
  }

  async setCap(p: string, scope: 'project' | 'user' | 'default_user', user: string, cap: number | null, period: Period): Promise<void> {
    await this.ledger.setBudget(p, { scope, userId: scope === 'user' ? user : undefined, capUsd: cap === null ? null : cap / 1e9, period });
    this.model.setCap(p, scope, user, cap === null ? null : { cap, period });
  }

  async setModelCap(p: string, user: string | null, glob: string, cap: number | null, period: Period): Promise<void> {
    await this.ledger.setBudget(p, { scope: 'model', model: glob, userId: user ?? undefined, capUsd: cap === null ? null : cap / 1e9, period });
    this.model.setModelCap(p, user, glob, cap === null ? null : { cap, period });
  }

  async setTagCap(p: string, tag: string, cap: number | null, period: Period): Promise<void> {
    await this.ledger.setBudget(p, { scope: 'tag', tag, capUsd: cap === null ? null : cap / 1e9, period });
    this.model.setTagCap(p, tag, cap === null ? null : { cap, period });
  }

  async check(p: string, c: MCheck): Promise<{ project: string; check: MCheck; decision: MDecision }> {
    if (this.model.holds.some((x) => !this.model.live(x))) this.stats.expiredHoldsAtCheck++;
    const exp = this.model.check(p, c);
    this.stats.reasons[exp.reason ?? 'approved'] = (this.stats.reasons[exp.reason ?? 'approved'] ?? 0) + 1;
    const d = await this.ledger.check(p, { model: c.model, tokensIn: c.tokensIn, tokensOut: c.tokensOut, userId: c.user, runId: c.run, tags: [...c.tags] });
    const rem: Record<string, number> = {};
    for (const k of ['project', 'user', 'run', 'model', 'tag'] as const) {
      const v = exp.remaining[k];
      if (v !== undefined) rem[`${k}Usd`] = nanoToUsd(v);
    }
    expect({ blocked: d.blocked, reason: d.blockReason, estimate: d.estimatedCostUsd, unpriced: d.unpriced, remaining: d.remaining, source: d.source }).toEqual({
      blocked: exp.blocked, reason: exp.reason, estimate: nanoToUsd(exp.estimate), unpriced: exp.unpriced, remaining: rem, source: 'ledger',
    });
    if (exp.blocked) {
      expect(d.reservationId).toBeNull();
    } else {
      expect(d.reservationId).toEqual(expect.any(String));
      const id = d.reservationId as string;
      expect(this.reservations.some((r) => r.id === id)).toBe(false);
      this.model.takeHold(p, c, exp, id);
      this.reservations.push({ id, project: p, check: c });
      this.stats.approvals++;
    }
    return { project: p, check: c, decision: exp };
  }

  async record(p: string, items: readonly RecordItem[]): Promise<void> {
    const ins: MRecordIn[] = [];
    const seen = new Set([...this.model.project(p).records.keys()]);
    let allDuplicates = true;
    for (const it of items) {
      const dup = it.dup === null ? undefined : pickFrom(this.keys, it.dup);
      const key = dup ? dup.key : `key-${this.nextKey++}`;
      const res = it.reservation === null ? undefined : pickFrom(this.reservations, it.reservation);
      const own: MCheck = { model: MODELS[it.model] as string, tokensIn: it.tokensIn, tokensOut: it.tokensOut, user: it.user === null ? null : (USERS[it.user] as string), run: this.runId(it.run), tags: TAG_SETS[it.tags] ?? [] };
      const shape = it.likeHold && res ? { ...res.check, tokensIn: it.tokensIn, tokensOut: it.tokensOut } : own;
      const cached = Math.floor(shape.tokensIn * it.cachedFrac);
      const cacheWrite = Math.floor((shape.tokensIn - cached) * it.writeFrac);
      ins.push({ ...shape, cached, cacheWrite, costNano: it.costNano, wasBlocked: it.wasBlocked, reservationId: res?.id ?? null, key });
      if (!seen.has(key)) allDuplicates = false;
      seen.add(key);
      this.keys.push({ project: p, key });
    }
    const normalized: NormalizedRecord[] = ins.map((r) => ({
      model: r.model, tokensIn: r.tokensIn, tokensOut: r.tokensOut, cachedTokensIn: r.cached, cacheWriteTokensIn: r.cacheWrite,
      costUsd: r.costNano === null ? null : r.costNano / 1e9, wasBlocked: r.wasBlocked, userId: r.user, runId: r.run,
      reservationId: r.reservationId, idempotencyKey: r.key, tags: [...r.tags],
    }));
    // contract §3: recording a key again counts once, so a batch of only known keys changes
    // nothing but the holds it names (a duplicate frees its own hold instead of waiting for the TTL).
    const named = new Set(ins.map((r) => r.reservationId).filter((x) => x !== null));
    const withoutHolds = (d: Record<string, unknown[]>) => {
      const { holds, held: _held, ...rest } = d;
      return { ...rest, holds: holds?.filter((h) => !named.has((h as unknown[])[0] as string)) };
    };
    const before = allDuplicates ? withoutHolds(await this.db.dump()) : null;
    const exp = this.model.record(p, ins);
    const got = await this.ledger.record(p, normalized);
    expect(got).toEqual(exp);
    this.stats.duplicates += exp.duplicates;
    if (before) expect(withoutHolds(await this.db.dump())).toEqual(before);
  }

  async startRun(p: string, cap: number | null): Promise<void> {
    const r = await this.ledger.startRun(p, { budgetCapUsd: cap === null ? null : cap / 1e9 });
    expect(this.model.runs.has(r.runId)).toBe(false);
    this.model.startRun(p, r.runId, cap);
    expect(r).toMatchObject({ status: 'open', exhausted: false, budgetCapUsd: cap === null ? null : nanoToUsd(cap), spendUsd: 0, heldUsd: 0, calls: 0, blockedCalls: 0 });
  }

  async endRun(p: string, id: string): Promise<void> {
    const exp = this.model.endRun(p, id);
    if (exp === 'not_found') return void (await expect(this.ledger.endRun(p, id)).rejects.toBeInstanceOf(NoburnNotFoundError));
    if (exp === 'conflict') return void (await expect(this.ledger.endRun(p, id)).rejects.toBeInstanceOf(NoburnConflictError));
    const got = await this.ledger.endRun(p, id);
    expect(got).toEqual({
      runId: id, status: exp.exhausted ? 'exhausted' : 'completed', spendUsd: nanoToUsd(exp.spent), budgetCapUsd: exp.cap === null ? null : nanoToUsd(exp.cap),
      calls: exp.calls, blockedCalls: exp.blocked, startedAt: new Date(exp.startedAt).toISOString(), endedAt: new Date(this.clock.now).toISOString(),
    });
  }
}

import { describe, expect, it } from 'vitest';
import { NoburnConflictError } from '../../src/lib/errors.js';
import { P, T0, UNKNOWN_MODEL, cap, check, projectBudget, rec, record, useEnv, utc } from './harness.js';
import type { StoreFactory } from './harness.js';

const DAY = 24 * 3600 * 1000;

/** release, duplicate keys freeing their hold, spend dated by the ledger's clock, unpriced counts, abandoned runs. */
export function defineHoldAndClockTests(factory: StoreFactory): void {
  const env = useEnv(factory);

  describe('release', () => {
    it('frees the hold and counts no call (neither a call nor a blocked call)', async () => {
      const { ledger } = await env();
      await cap(ledger, 0.01, { period: 'day' });
      await cap(ledger, 0.01, { user: 'u1' });
      const run = await ledger.startRun(P, { budgetCapUsd: 0.01 });
      const d = await check(ledger, 6, { user: 'u1', run: run.runId });
      expect(await projectBudget(ledger)).toEqual({ spentUsd: 0, heldUsd: 0.006 });
      expect(await ledger.release(P, [d.reservationId as string])).toBe(1);
      expect(await projectBudget(ledger)).toEqual({ spentUsd: 0, heldUsd: 0 });
      expect((await ledger.getBudgets(P)).find((b) => b.scope === 'user')?.heldUsd).toBe(0);
      expect(await ledger.getRun(P, run.runId)).toMatchObject({ heldUsd: 0, spendUsd: 0, calls: 0, blockedCalls: 0 });
      expect(await ledger.spend(P, {})).toMatchObject({ totalUsd: 0, calls: 0, blockedCalls: 0 });
      expect((await ledger.listUsers(P)).find((u) => u.userId === 'u1')).toBeUndefined();
      // The room is back: the full cap fits again.
      expect((await check(ledger, 10, { user: 'u1', run: run.runId })).blocked).toBe(false);
    });

    it('is idempotent and skips unknown, settled and other projects\' reservations', async () => {
      const { ledger } = await env();
      await cap(ledger, 1);
      const a = await check(ledger, 2);
      const b = await check(ledger, 3);
      const other = await check(ledger, 4, { project: 'proj_b' });
      await record(ledger, rec({ usd: 0.001, reservationId: b.reservationId }));
      expect(await ledger.release(P, [a.reservationId as string, a.reservationId as string, b.reservationId as string, 'res_nope', other.reservationId as string])).toBe(1);
      expect(await ledger.release(P, [a.reservationId as string])).toBe(0);
      expect(await projectBudget(ledger)).toEqual({ spentUsd: 0.001, heldUsd: 0 });
      expect(await ledger.spend('proj_b', {})).toMatchObject({ calls: 0 });
      expect((await ledger.release('proj_b', [other.reservationId as string]))).toBe(1);
    });
  });

  describe('duplicate idempotency keys', () => {
    it('a duplicate counts once and frees its own hold instead of waiting for the TTL', async () => {
      const { ledger } = await env();
      await cap(ledger, 0.01);
      const first = await check(ledger, 4);
      await record(ledger, rec({ usd: 0.004, reservationId: first.reservationId, idempotencyKey: 'k-dup' }));
      const retry = await check(ledger, 4); // a client retried the whole call and checked again
      expect(await projectBudget(ledger)).toEqual({ spentUsd: 0.004, heldUsd: 0.004 });
      expect(await record(ledger, rec({ usd: 0.004, reservationId: retry.reservationId, idempotencyKey: 'k-dup' }))).toEqual({ accepted: 0, duplicates: 1 });
      expect(await projectBudget(ledger)).toEqual({ spentUsd: 0.004, heldUsd: 0 });
      expect(await ledger.spend(P, {})).toMatchObject({ totalUsd: 0.004, calls: 1 });
      // Within one batch too: the second of the same key frees the hold it names.
      const h1 = await check(ledger, 1);
      const h2 = await check(ledger, 1);
      expect(await record(ledger, rec({ usd: 0.001, reservationId: h1.reservationId, idempotencyKey: 'k-b' }), rec({ usd: 0.001, reservationId: h2.reservationId, idempotencyKey: 'k-b' }))).toEqual({ accepted: 1, duplicates: 1 });
      expect(await projectBudget(ledger)).toEqual({ spentUsd: 0.005, heldUsd: 0 });
    });
  });

  describe('spend is dated by the ledger clock', () => {
    it('the client time of a record never moves its cost into another window', async () => {
      const { ledger, clock } = await env();
      await cap(ledger, 0.01, { period: 'day' });
      clock.t = utc('2026-11-25T10:00:00Z');
      const yesterday = utc('2026-11-24T10:00:00Z');
      for (let i = 0; i < 3; i++) {
        const d = await check(ledger, 10);
        if (i === 0) expect(d.blocked).toBe(false);
        else expect(d).toMatchObject({ blocked: true, blockReason: 'project_budget_exceeded' });
        if (!d.blocked) await ledger.record(P, [rec({ usd: 0.01, reservationId: d.reservationId })], [yesterday]);
      }
      expect(await projectBudget(ledger)).toEqual({ spentUsd: 0.01, heldUsd: 0 });
      expect((await ledger.spend(P, { by: 'day' })).rows.map((r) => r.key)).toEqual(['2026-11-25']);
    });

    it('a record settled after midnight counts in the new day, once (late delivery after an outage)', async () => {
      const { ledger, clock } = await env();
      await cap(ledger, 0.01, { period: 'day' });
      clock.t = utc('2026-11-24T23:59:00Z');
      const d = await check(ledger, 4);
      const calledAt = clock.t;
      clock.t = utc('2026-11-25T00:30:00Z'); // the outbox delivers it now
      const r = rec({ usd: 0.004, reservationId: d.reservationId, idempotencyKey: 'k-late' });
      await ledger.record(P, [r], [calledAt]);
      await ledger.record(P, [r], [calledAt]); // delivered twice: counted once
      expect(await projectBudget(ledger)).toEqual({ spentUsd: 0.004, heldUsd: 0 });
      expect(await ledger.spend(P, {})).toMatchObject({ totalUsd: 0.004, calls: 1 });
      const ev = (await ledger.events(P, 0)).filter((e) => e.kind === 'record');
      expect(ev.map((e) => e.ts)).toEqual(['2026-11-25T00:30:00.000Z']);
    });
  });

  describe('unpriced counts in every report', () => {
    it('budgets show the unpriced calls of their window', async () => {
      const { ledger, clock } = await env();
      await cap(ledger, 1, { period: 'day' });
      await cap(ledger, 1, { user: 'u1', period: 'total' });
      await cap(ledger, 1, { defaultUser: true });
      await record(ledger, rec({ model: UNKNOWN_MODEL, tokensIn: 5, userId: 'u1' }));
      await record(ledger, rec({ model: UNKNOWN_MODEL, tokensIn: 5, wasBlocked: true })); // not made: not an unpriced call
      clock.t += DAY;
      await record(ledger, rec({ model: UNKNOWN_MODEL, tokensIn: 5, userId: 'u1' }));
      const b = await ledger.getBudgets(P);
      expect(b.find((x) => x.scope === 'project')?.unpricedCalls).toBe(1); // today only
      expect(b.find((x) => x.scope === 'user')?.unpricedCalls).toBe(2); // all time
      expect(b.find((x) => x.scope === 'default_user')?.unpricedCalls).toBe(0);
      const run = await ledger.startRun(P, {});
      await record(ledger, rec({ model: UNKNOWN_MODEL, tokensIn: 5, runId: run.runId }));
      expect((await ledger.listRuns(P)).find((r) => r.runId === run.runId)?.unpricedCalls).toBe(1);
    });
  });

  describe('abandoned runs', () => {
    it('an open run idle past runIdleTtlMs ends as abandoned; its checks are then run_ended', async () => {
      const { ledger, clock } = await env(); // the default TTL: 24 h
      const idle = await ledger.startRun(P, { budgetCapUsd: 1 });
      const busy = await ledger.startRun(P, {});
      const d = await check(ledger, 1, { run: idle.runId });
      await record(ledger, rec({ usd: 0.001, runId: idle.runId, reservationId: d.reservationId }));
      const lastActivity = clock.t;
      clock.t += DAY - 1000;
      expect((await check(ledger, 1, { run: busy.runId })).blocked).toBe(false); // activity on busy
      expect((await ledger.getRun(P, idle.runId)).status).toBe('open');
      clock.t = lastActivity + DAY + 5000;
      const got = await ledger.getRun(P, idle.runId);
      expect(got).toMatchObject({ status: 'abandoned', endedAt: new Date(lastActivity + DAY).toISOString(), spendUsd: 0.001 });
      expect(await check(ledger, 1, { run: idle.runId })).toMatchObject({ blocked: true, blockReason: 'run_ended' });
      // busy was checked seconds ago (its hold has expired since, but the check was activity).
      expect((await ledger.getRun(P, busy.runId)).status).toBe('open');
      await expect(ledger.endRun(P, idle.runId)).rejects.toBeInstanceOf(NoburnConflictError);
      expect((await ledger.listRuns(P, 'abandoned')).map((r) => r.runId)).toEqual([idle.runId]);
      expect((await ledger.listRuns(P, 'ended')).map((r) => r.runId)).toEqual([idle.runId]);
      const ends = (await ledger.events(P, 0)).filter((e) => e.kind === 'run_end');
      expect(ends).toHaveLength(1);
      expect(ends[0]).toMatchObject({ runId: idle.runId, ts: new Date(lastActivity + DAY).toISOString() });
    });

    it('the TTL is configurable; activity on a child keeps its ancestors alive; an open hold keeps a run alive', async () => {
      const { withSettings, clock } = await env();
      const ledger = withSettings({ runIdleTtlMs: 3_600_000, holdTtlMs: 7_200_000 });
      const top = await ledger.startRun(P, {});
      const kid = await ledger.startRun(P, { parentRunId: top.runId });
      const lone = await ledger.startRun(P, {});
      clock.t += 3_000_000;
      await check(ledger, 1, { run: kid.runId }); // a call in flight on the child (held for 2 h)
      clock.t = T0 + 3_600_000 + 1;
      expect((await ledger.getRun(P, lone.runId)).status).toBe('abandoned');
      expect((await ledger.getRun(P, top.runId)).status).toBe('open');
      clock.t = T0 + 3_000_000 + 3_600_000 + 1; // idle an hour since the check, but its hold is still open
      expect((await ledger.listRuns(P, 'open')).map((r) => r.runId).sort()).toEqual([top.runId, kid.runId].sort());
      clock.t = T0 + 3_000_000 + 7_200_000 + 1; // the hold has expired: both end
      expect((await ledger.listRuns(P, 'abandoned')).map((r) => r.runId).sort()).toEqual([top.runId, kid.runId, lone.runId].sort());
      await expect(ledger.startRun(P, { parentRunId: top.runId })).rejects.toBeInstanceOf(NoburnConflictError);
    });
  });
}

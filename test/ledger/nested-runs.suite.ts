/** Nested runs: a child's checks meet every ancestor's cap; its spend counts once, in each. */
import { describe, expect, it } from 'vitest';
import { NoburnConflictError, NoburnNotFoundError } from '../../src/lib/errors.js';
import { P, T0, cap, check, projectBudget, rec, record, useEnv } from './harness.js';
import type { StoreFactory } from './harness.js';

export function defineNestedRunTests(factory: StoreFactory): void {
  const env = useEnv(factory);

  describe('nested runs', () => {
    it('a child run names its parent; run lists filter by parent; an unknown parent is not found', async () => {
      const { ledger } = await env();
      const parent = await ledger.startRun(P, { budgetCapUsd: 1, label: 'outer' });
      const child = await ledger.startRun(P, { budgetCapUsd: 0.5, label: 'inner', parentRunId: parent.runId });
      const other = await ledger.startRun(P, {});
      expect(parent.parentRunId).toBeNull();
      expect(child).toMatchObject({ parentRunId: parent.runId, status: 'open', budgetCapUsd: 0.5 });
      expect((await ledger.getRun(P, child.runId)).parentRunId).toBe(parent.runId);
      expect((await ledger.listRuns(P, undefined, undefined, parent.runId)).map((r) => r.runId)).toEqual([child.runId]);
      expect(await ledger.listRuns(P, undefined, undefined, other.runId)).toEqual([]);
      await expect(ledger.startRun(P, { parentRunId: 'run_nope' })).rejects.toBeInstanceOf(NoburnNotFoundError);
      // A parent is found only in its own project.
      await expect(ledger.startRun('proj_b', { parentRunId: parent.runId })).rejects.toBeInstanceOf(NoburnNotFoundError);
    });

    it("a check on a child is checked against the parent's cap too, and the child's holds count in the parent's held", async () => {
      const { ledger } = await env();
      const parent = await ledger.startRun(P, { budgetCapUsd: 0.005 });
      const a = await ledger.startRun(P, { budgetCapUsd: 0.004, parentRunId: parent.runId });
      const b = await ledger.startRun(P, { parentRunId: parent.runId }); // no cap of its own
      const d1 = await check(ledger, 3, { run: a.runId });
      expect(d1).toMatchObject({ blocked: false, remaining: { runUsd: 0.001 } }); // least room: a's 0.004 - 0.003
      expect((await ledger.getRun(P, parent.runId)).heldUsd).toBe(0.003);
      expect((await ledger.getRun(P, a.runId)).heldUsd).toBe(0.003);
      // b has no cap, but its parent's 0.005 holds 0.003 already.
      const d2 = await check(ledger, 3, { run: b.runId });
      expect(d2).toMatchObject({ blocked: true, blockReason: 'run_budget_exceeded', remaining: { runUsd: 0.002 } });
      expect((await check(ledger, 2, { run: b.runId })).blocked).toBe(false);
      expect((await ledger.getRun(P, parent.runId)).heldUsd).toBe(0.005);
      // The parent's cap blocked b's call: b and the parent are exhausted, a is not.
      expect((await ledger.getRun(P, b.runId)).exhausted).toBe(true);
      expect((await ledger.getRun(P, parent.runId)).exhausted).toBe(true);
      expect((await ledger.getRun(P, a.runId)).exhausted).toBe(false);
    });

    it('a grandchild meets every ancestor; concurrent checks never overshoot the tightest cap', async () => {
      const { ledger } = await env();
      const top = await ledger.startRun(P, { budgetCapUsd: 0.01 });
      const mid = await ledger.startRun(P, { budgetCapUsd: 0.05, parentRunId: top.runId });
      const leaf = await ledger.startRun(P, { parentRunId: mid.runId });
      const ds = await Promise.all(Array.from({ length: 25 }, () => check(ledger, 1, { run: leaf.runId })));
      expect(ds.filter((d) => !d.blocked)).toHaveLength(10);
      expect((await ledger.getRun(P, top.runId)).heldUsd).toBe(0.01);
      expect((await ledger.getRun(P, mid.runId)).heldUsd).toBe(0.01);
    });

    it('a record on a child counts once in the project and in the spend of the child and every ancestor', async () => {
      const { ledger } = await env();
      await cap(ledger, 10);
      const top = await ledger.startRun(P, { budgetCapUsd: 1 });
      const mid = await ledger.startRun(P, { parentRunId: top.runId });
      const leaf = await ledger.startRun(P, { parentRunId: mid.runId }); // only the top cap applies to it
      const d = await check(ledger, 4, { run: leaf.runId });
      await record(ledger, rec({ usd: 0.003, runId: leaf.runId, reservationId: d.reservationId, tokensIn: 10 }));
      await record(ledger, rec({ usd: 0.002, runId: mid.runId }));
      await record(ledger, rec({ runId: leaf.runId, wasBlocked: true }));
      expect(await projectBudget(ledger)).toEqual({ spentUsd: 0.005, heldUsd: 0 });
      expect(await ledger.getRun(P, leaf.runId)).toMatchObject({ spendUsd: 0.003, calls: 1, blockedCalls: 1, heldUsd: 0 });
      expect(await ledger.getRun(P, mid.runId)).toMatchObject({ spendUsd: 0.005, calls: 2, blockedCalls: 1, heldUsd: 0 });
      expect(await ledger.getRun(P, top.runId)).toMatchObject({ spendUsd: 0.005, calls: 2, blockedCalls: 1, heldUsd: 0 });
      const report = await ledger.spend(P, {});
      expect(report).toMatchObject({ totalUsd: 0.005, calls: 2, blockedCalls: 1 });
      // What the runs below the top spent counts against the top's cap on the next check.
      expect(await check(ledger, 996, { run: leaf.runId })).toMatchObject({ blocked: true, blockReason: 'run_budget_exceeded' });
      expect((await check(ledger, 995, { run: leaf.runId })).blocked).toBe(false);
    });

    it('ending a parent ends its open children (their checks are run_ended); a child of an ended run cannot start', async () => {
      const { ledger, clock } = await env();
      const top = await ledger.startRun(P, {});
      const kid = await ledger.startRun(P, { parentRunId: top.runId });
      const grandkid = await ledger.startRun(P, { parentRunId: kid.runId });
      const done = await ledger.startRun(P, { parentRunId: top.runId });
      await ledger.endRun(P, done.runId);
      clock.t += 1000;
      await ledger.endRun(P, top.runId);
      for (const r of [kid, grandkid]) {
        expect(await ledger.getRun(P, r.runId)).toMatchObject({ status: 'ended', endedAt: new Date(T0 + 1000).toISOString() });
        expect(await check(ledger, 1, { run: r.runId })).toMatchObject({ blocked: true, blockReason: 'run_ended' });
      }
      expect((await ledger.getRun(P, done.runId)).endedAt).toBe(new Date(T0).toISOString());
      await expect(ledger.endRun(P, kid.runId)).rejects.toBeInstanceOf(NoburnConflictError);
      await expect(ledger.startRun(P, { parentRunId: top.runId })).rejects.toBeInstanceOf(NoburnConflictError);
      const ends = (await ledger.events(P, 0)).filter((e) => e.kind === 'run_end').map((e) => e.runId);
      expect(ends.sort()).toEqual([top.runId, kid.runId, grandkid.runId, done.runId].sort());
    });
  });
}

/**
 * Budget leases near the cap (docs/operations-postgres.md "Near the cap"): headroom (W minus
 * what was approved) is the one room a database decision cannot take back, so a lease keeps as
 * little of it as it can. A raise that gets less than asked ends the lease at once; a key's first
 * grant starts W at what waits for it; a grant cut short by the cap, and the key's grants after
 * it, are tight: W starts at what the waiting checks need and is raised by what checks wait
 * for, never ahead of need. A fake port records every grant, raise and end the manager sends.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { LeaseManager } from '../../src/lib/ledger/leases/manager.js';
import type { LeaseGrant, LeaseGrantRequest, LeasePort } from '../../src/lib/ledger/leases/port.js';
import type { StoreCheck } from '../../src/lib/ledger/store.js';

const E = 1_000_000;

class Port implements LeasePort {
  readonly holder = 'replica-1';
  readonly ttlMs = 60_000;
  /** Estimates granted per grant (the first entries apply in order; then `grantAll`). */
  cuts: number[] = [];
  grantAll = true;
  /** How much of each raise is given (1: all of it). */
  raiseShare = 1;
  readonly grants: { want: number; w0: number; granted: number; w: number }[] = [];
  readonly raises: { leaseId: string; want: number; got: number }[] = [];
  readonly ends: { leaseId: string; unused: number }[] = [];

  grant(req: LeaseGrantRequest): Promise<LeaseGrant | null> {
    const cut = this.cuts.shift();
    const granted = cut !== undefined ? cut * E : this.grantAll ? req.want : 0;
    if (granted === 0) return Promise.resolve(null);
    const w = Math.min(granted, req.w0);
    this.grants.push({ want: req.want, w0: req.w0, granted, w });
    return Promise.resolve({ leaseId: `L_${this.grants.length}`, secret: 's', granted, w, remainingNano: {}, limit: null });
  }
  raise(leaseId: string, want: number): Promise<number> {
    const got = Math.floor((want * this.raiseShare) / E) * E;
    this.raises.push({ leaseId, want, got });
    return Promise.resolve(got);
  }
  end(leaseId: string, unused: number): Promise<void> {
    this.ends.push({ leaseId, unused });
    return Promise.resolve();
  }
}

function check(): StoreCheck {
  return {
    projectId: 'p', userId: null, runId: null, model: 'm', estimateNano: E, tokensIn: 1000, tokensOut: 0, unpriced: false,
    now: Date.now(), holdTtlMs: 600_000, prices: { inNanoPerMTok: 1000, outNanoPerMTok: 0 },
  };
}

const flush = () => new Promise((r) => setImmediate(r));

describe('leases near the cap', () => {
  const managers: LeaseManager[] = [];
  afterEach(async () => {
    for (const m of managers.splice(0)) await m.close();
  });

  it('a raise that gets less than asked ends the lease at once, giving back its headroom', async () => {
    const port = new Port();
    port.raiseShare = 0.5;
    const m = new LeaseManager(port);
    managers.push(m);
    // A key's first grant starts W at what waits for it (one estimate); granted in full (8 of 8).
    expect((await m.decide(check()))?.blocked).toBe(false);
    expect(port.grants[0]).toMatchObject({ want: 8 * E, granted: 8 * E, w: 1 * E });
    // Not tight: a raise ahead of need (a step, 2), which gets half (row U was taken back).
    await flush();
    expect(port.raises).toEqual([{ leaseId: 'L_1', want: 2 * E, got: 1 * E }]);
    // Ended at once, with W (2) minus the 1 approved as unused: that estimate is back in the pool.
    expect(port.ends).toEqual([{ leaseId: 'L_1', unused: 1 * E }]);
  });

  it('a grant cut short is tight: no raise ahead of need, and each raise asks for what waits', async () => {
    const port = new Port();
    // Granted 6 of 8, and every renewal after it refused (the room is too close to the cap).
    port.cuts = [6];
    port.grantAll = false;
    const m = new LeaseManager(port);
    managers.push(m);
    expect((await m.decide(check()))?.blocked).toBe(false);
    expect(port.grants[0]).toMatchObject({ want: 8 * E, granted: 6 * E, w: 1 * E });
    // W is used up, yet no raise ahead of need.
    await flush();
    expect(port.raises).toEqual([]);
    // Three checks at once past W: one raise, for exactly their three estimates.
    const ds = await Promise.all([m.decide(check()), m.decide(check()), m.decide(check())]);
    expect(ds.map((d) => d?.blocked)).toEqual([false, false, false]);
    expect(port.raises).toEqual([{ leaseId: 'L_1', want: 3 * E, got: 3 * E }]);
    // And one more, alone: a raise of one estimate; W never ran ahead of what was approved.
    expect((await m.decide(check()))?.blocked).toBe(false);
    expect(port.raises[1]).toEqual({ leaseId: 'L_1', want: 1 * E, got: 1 * E });
    expect(port.ends).toEqual([]);
  });

  it('after a grant cut short, the key\'s next grant starts W at what the waiting checks need', async () => {
    const port = new Port();
    port.cuts = [3];
    const m = new LeaseManager(port);
    managers.push(m);
    for (let i = 0; i < 3; i++) expect((await m.decide(check()))?.blocked).toBe(false);
    // The first lease (3, cut short) is used up: the next check asks for a new one, which starts
    // at one estimate (the one check waiting) instead of a raise step.
    expect((await m.decide(check()))?.blocked).toBe(false);
    expect(port.grants.length).toBe(2);
    expect(port.grants[1]?.w0).toBe(1 * E);
    expect(port.grants[1]?.granted).toBe(port.grants[1]?.want);
    // Granted in full (8 of 8): the key leaves tight mode, and raises ahead of need again (a
    // step of the new grant, though no check waits).
    await flush();
    const step = Math.max(E, Math.ceil((port.grants[1]?.granted ?? 0) / 4 / E) * E);
    expect(port.raises.filter((r) => r.leaseId === 'L_2')).toEqual([{ leaseId: 'L_2', want: step, got: step }]);
  });
});

describe('grantBehind (a store in the same process: noburn run on the ledger file)', () => {
  it("a key with no live lease is decided in the store, and its grant is asked for two turns later, off that check's path", async () => {
    const port = new Port();
    const m = new LeaseManager(port, Date.now, { runs: 'none', grantBehind: true });
    try {
      expect(await m.decide(check())).toBeNull();
      // The store decides the check in the next turn (its group commit); the grant waits one more.
      await flush();
      expect(port.grants).toHaveLength(0);
      await flush();
      await flush();
      expect(port.grants).toHaveLength(1);
      // From then on the key is decided from the lease.
      expect((await m.decide(check()))?.reservationId).toMatch(/^L_1\./);
    } finally {
      await m.close();
    }
  });

  it('without it the first check waits for the grant and is decided from the lease', async () => {
    const port = new Port();
    const m = new LeaseManager(port);
    try {
      expect((await m.decide(check()))?.reservationId).toMatch(/^L_1\./);
    } finally {
      await m.close();
    }
  });
});

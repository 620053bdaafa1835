/**
 * Budget leases (docs/operations-postgres.md "Rotation"): the next lease of a key is asked for
 * ahead of need, when less than a raise step of the grant is left to approve, so a key in
 * steady use never waits for a grant after its first one. A fake port answers grants after a
 * delay and raises at once, so every wait the manager counts is a wait for a grant. A
 * renewal refused near the cap leaves the live lease deciding: its room is not refused.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { LeaseManager } from '../../src/lib/ledger/leases/manager.js';
import type { LeaseGrant, LeaseGrantRequest, LeasePort } from '../../src/lib/ledger/leases/port.js';
import type { StoreCheck } from '../../src/lib/ledger/store.js';

const E = 1_000_000;

class SlowGrants implements LeasePort {
  readonly holder = 'replica-1';
  readonly ttlMs = 60_000;
  grants = 0;
  /** Nano-dollars granted in all. */
  granted = 0;
  /** Grants after the first are refused (the room left is too close to the cap). */
  onlyOne = false;
  async grant(req: LeaseGrantRequest): Promise<LeaseGrant | null> {
    // Refused at once: the refusal arrives while the live lease still has room.
    if (this.onlyOne && this.grants > 0) return null;
    await sleep(15);
    this.grants++;
    this.granted += req.want;
    return { leaseId: `L_${this.grants}`, secret: 's', granted: req.want, w: req.w0, remainingNano: {}, limit: null };
  }
  raise(_leaseId: string, want: number): Promise<number> {
    return Promise.resolve(want);
  }
  end(): Promise<void> {
    return Promise.resolve();
  }
}

function check(): StoreCheck {
  return {
    projectId: 'p', userId: null, runId: null, model: 'm', estimateNano: E, tokensIn: 1000, tokensOut: 0, unpriced: false,
    now: Date.now(), holdTtlMs: 600_000, prices: { inNanoPerMTok: 1000, outNanoPerMTok: 0 },
  };
}

describe('lease renewal', () => {
  const managers: LeaseManager[] = [];
  afterEach(async () => {
    for (const m of managers.splice(0)) await m.close();
  });

  it('a key in steady use gets its next lease before the current one runs out: no check waits for a grant after the first', async () => {
    const port = new SlowGrants();
    const m = new LeaseManager(port);
    managers.push(m);
    // Four checks in flight, for about two seconds: several grants' worth of estimates.
    const run = async (n: number) => {
      for (let i = 0; i < n; i++) {
        const d = await m.decide(check());
        expect(d?.blocked).toBe(false);
        await sleep(4);
      }
    };
    await Promise.all([run(50), run(50), run(50), run(50)]);
    const warm = { waits: m.stats.waits, grants: port.grants };
    await Promise.all([run(500), run(500), run(500), run(500)]);
    expect(port.grants - warm.grants).toBeGreaterThan(1);
    expect(m.stats.waits - warm.waits).toBe(0);
  });

  it('a renewal refused near the cap leaves the live lease deciding: every estimate its grant holds is approved from it', async () => {
    const port = new SlowGrants();
    port.onlyOne = true;
    const m = new LeaseManager(port);
    managers.push(m);
    // Sequential checks until the manager sends one to the database (null): the first grant
    // (a whole number of estimates) must have been used up by then.
    let fromLease = 0;
    for (let i = 0; i < 10_000; i++) {
      const d = await m.decide(check());
      if (d === null) break;
      expect(d.blocked).toBe(false);
      fromLease++;
      await sleep(1);
    }
    expect(port.grants).toBe(1);
    expect(fromLease).toBeGreaterThan(0);
    expect(fromLease * E).toBe(port.granted);
  });
});

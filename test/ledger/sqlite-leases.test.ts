/**
 * Budget leases in the SQLite store (serve's /v1/leases for remote runs; docs/api.md
 * "Budget leases", docs/operations-postgres.md "Budget leases"): real ledger files, two
 * connections where a second client is needed, the lease manager as `noburn run` uses it.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { NoburnConflictError } from '../../src/lib/errors.js';
import { LeaseManager } from '../../src/lib/ledger/leases/manager.js';
import { holderPort } from '../../src/lib/ledger/leases/port.js';
import { SqliteStore } from '../../src/lib/ledger/sqlite/sqlite-store.js';
import type { StoreCheck, StoreDecision, StoreRecord } from '../../src/lib/ledger/store.js';

const E = 1_000_000; // one check's estimate
const CAP = 100 * E; // room for exactly 100 checks
const T0 = 1_764_650_000_000;
const PRICES = { inNanoPerMTok: 1e9, outNanoPerMTok: 1e9 };

let dir = '';
const open: SqliteStore[] = [];
const managers: LeaseManager[] = [];
afterEach(async () => {
  for (const m of managers.splice(0)) await m.close();
  for (const s of open.splice(0)) await s.close();
  rmSync(dir, { recursive: true, force: true });
});

function store(opts: { leaseTtlMs?: number } = {}): SqliteStore {
  const s = new SqliteStore(join(dir, 'noburn.db'), opts);
  open.push(s);
  return s;
}

function check(runId: string | null, now: number, holdTtlMs = 600_000): StoreCheck {
  return { projectId: 'p', userId: null, runId, model: 'm', estimateNano: E, tokensIn: 1000, tokensOut: 0, unpriced: false, now, holdTtlMs, prices: PRICES, provider: null, tags: [] };
}

function rec(reservationId: string | null, key: string, runId: string, ts: number): StoreRecord {
  return { projectId: 'p', userId: null, runId, model: 'm', tokensIn: 0, tokensOut: 0, cachedTokensIn: 0, cacheWriteTokensIn: 0, costNano: 0, unpriced: false, wasBlocked: false, reservationId, idempotencyKey: key, ts };
}

async function withRun(s: SqliteStore, runId = 'run_1', capNano: number | null = CAP): Promise<string> {
  await s.startRun({ projectId: 'p', runId, capNano, label: null, now: T0 });
  return runId;
}

function manager(s: SqliteStore, runId: string, now: () => number = Date.now): LeaseManager {
  const m = new LeaseManager(holderPort(s.runLeases, 'p', `hld_${managers.length}`), now, { runs: 'owned' });
  m.ownRun(runId);
  managers.push(m);
  return m;
}

const heldOf = async (s: SqliteStore, runId: string, now: number) => (await s.getRun('p', runId, now)).heldNano;

describe('SQLite budget leases', () => {
  // Rule: leased + held + spent <= cap at all times: approvals from a lease and direct checks
  // of another client on the same file approve exactly floor(cap / e) together.
  it('approvals through a lease and direct checks of another client never exceed floor(cap / e), concurrently', async () => {
    dir = mkdtempSync(join(tmpdir(), 'noburn-leases-'));
    const a = store();
    const b = store();
    const runId = await withRun(a);
    const m = manager(a, runId);
    const decideA = async (): Promise<StoreDecision> => (await m.decide(check(runId, Date.now()))) ?? (await a.check(check(runId, Date.now())));
    const decideB = (): Promise<StoreDecision> => b.check(check(runId, Date.now()));
    const all = await Promise.all(Array.from({ length: 300 }, (_, i) => (i % 3 === 0 ? decideB() : decideA())));
    const allowed = all.filter((d) => !d.blocked);
    expect(allowed.length).toBe(100);
    expect(allowed.some((d) => d.reservationId?.startsWith('L_'))).toBe(true); // some came from the lease
    expect(allowed.some((d) => d.reservationId?.startsWith('res_'))).toBe(true); // and some from the file
    await m.endRun(runId);
    expect(await heldOf(a, runId, Date.now())).toBe(100 * E); // the lease keeps only what it approved
  });

  // Rule: ending a lease returns its unused room (G - approved) at once.
  it("a lease's unused room returns when it ends", async () => {
    dir = mkdtempSync(join(tmpdir(), 'noburn-leases-'));
    const s = store();
    const runId = await withRun(s);
    const m = manager(s, runId);
    const d = await m.decide(check(runId, Date.now()));
    expect(d?.reservationId).toMatch(/^L_/);
    expect(await heldOf(s, runId, Date.now())).toBeGreaterThan(E); // the whole slice is held
    await m.endRun(runId);
    expect(await heldOf(s, runId, Date.now())).toBe(E);
    // After the end the run's checks are not leased any more.
    expect(await m.decide(check(runId, Date.now()))).toBeNull();
    // Decisions read the trigger-kept sums (held): they see the returned room too, 99 checks of it.
    let fit = 0;
    while (!(await s.check(check(runId, Date.now()))).blocked) fit++;
    expect(fit).toBe(99);
  });

  // Rule: a holder that never ends its lease (kill -9) loses nothing for good: row U comes
  // back at the lease's end, row C at the end + the hold TTL.
  it('after the holder disappears the slice comes back after the lease TTL', async () => {
    dir = mkdtempSync(join(tmpdir(), 'noburn-leases-'));
    const s = store({ leaseTtlMs: 1000 });
    const runId = await withRun(s);
    // A slice is at most room / (4 holders' worth + 1): 20 of the 100.
    const g = await s.runLeases.grant({ check: check(runId, T0, 500), want: 40 * E, min: E, w0: 10 * E }, 'hld_gone');
    expect(g).toMatchObject({ granted: 20 * E, w: 10 * E });
    const fits = async (now: number) => {
      const ids: string[] = [];
      for (;;) {
        const d = await s.check(check(runId, now, 500));
        if (d.blocked) break;
        ids.push(d.reservationId as string);
      }
      await s.release('p', ids, now);
      return ids.length;
    };
    expect(await heldOf(s, runId, T0 + 1)).toBe(20 * E);
    // Before the end, a refusal takes back U (10 E) but never C (10 E, approvable by the holder): 90 fit.
    expect(await fits(T0 + 999)).toBe(90);
    // At the end + hold TTL, C has expired too: the whole cap is back.
    expect(await fits(T0 + 1500)).toBe(100);
  });

  it('after the holder disappears, U alone comes back at the lease end (no refusal needed)', async () => {
    dir = mkdtempSync(join(tmpdir(), 'noburn-leases-'));
    const s = store({ leaseTtlMs: 1000 });
    const runId = await withRun(s);
    await s.runLeases.grant({ check: check(runId, T0, 500), want: 20 * E, min: E, w0: 10 * E }, 'hld_gone');
    expect(await heldOf(s, runId, T0 + 999)).toBe(20 * E);
    expect(await heldOf(s, runId, T0 + 1000)).toBe(10 * E);
    expect(await heldOf(s, runId, T0 + 1500)).toBe(0);
  });

  // Rule: a leased reservation id settles once (a replayed record, under another idempotency key, counts its room once).
  it('a leased reservation id settles once; lease rows are never freed by release or by records without a reservation', async () => {
    dir = mkdtempSync(join(tmpdir(), 'noburn-leases-'));
    const s = store();
    const runId = await withRun(s);
    const m = manager(s, runId);
    const d = (await m.decide(check(runId, Date.now()))) as StoreDecision;
    const d2 = (await m.decide(check(runId, Date.now()))) as StoreDecision;
    await m.endRun(runId);
    expect(await heldOf(s, runId, Date.now())).toBe(2 * E);
    const leaseId = (d.reservationId as string).split('.')[0] as string;
    // Neither the lease's rows by name nor a forged approval free anything.
    expect(await s.release('p', [`${leaseId}.c`, `${leaseId}.u`, (d.reservationId as string).replace(/.$/, (c) => (c === '0' ? '1' : '0'))], Date.now())).toBe(0);
    await s.record([rec(null, 'no-res', runId, Date.now())]);
    expect(await heldOf(s, runId, Date.now())).toBe(2 * E);
    await s.record([rec(d.reservationId, 'k1', runId, Date.now())]);
    expect(await heldOf(s, runId, Date.now())).toBe(E);
    await s.record([rec(d.reservationId, 'k2', runId, Date.now())]);
    expect(await heldOf(s, runId, Date.now())).toBe(E);
    expect(await s.release('p', [d.reservationId as string], Date.now())).toBe(0);
    expect(await s.release('p', [d2.reservationId as string], Date.now())).toBe(1);
    expect(await s.release('p', [d2.reservationId as string], Date.now())).toBe(0);
    expect(await heldOf(s, runId, Date.now())).toBe(0);
  });

  // Rule: run_ended stays exact: no grant and no raise for a run that has ended.
  it('refuses a grant and a raise for an ended run', async () => {
    dir = mkdtempSync(join(tmpdir(), 'noburn-leases-'));
    const s = store();
    const runId = await withRun(s);
    const g = await s.runLeases.grant({ check: check(runId, Date.now()), want: 40 * E, min: E, w0: 10 * E }, 'hld_x');
    expect(g).not.toBeNull();
    await s.endRun('p', runId, Date.now());
    await expect(s.runLeases.grant({ check: check(runId, Date.now()), want: 40 * E, min: E, w0: 10 * E }, 'hld_x')).rejects.toBeInstanceOf(NoburnConflictError);
    await expect(s.runLeases.raise('p', g?.leaseId as string, 10 * E, Date.now())).rejects.toBeInstanceOf(NoburnConflictError);
    // Another project cannot touch the lease.
    await expect(s.runLeases.end('q', g?.leaseId as string, 0, Date.now())).rejects.toThrow(/lease not found/);
  });
});

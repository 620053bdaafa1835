/**
 * Run leases on PostgreSQL (serve's /v1/leases for remote runs; docs/api.md "Budget leases
 * (remote runs)", docs/operations-postgres.md "Limits"): the store's runLeases port, the
 * lease manager as a remote `noburn run` uses it, and a second pool on the same schema for
 * another client's direct checks. The rules are those of the SQLite store's run leases.
 */
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { NoburnConflictError, NoburnNotFoundError } from '../../src/lib/errors.js';
import { LeaseManager } from '../../src/lib/ledger/leases/manager.js';
import { holderPort } from '../../src/lib/ledger/leases/port.js';
import type { PostgresStore } from '../../src/lib/ledger/postgres/postgres-store.js';
import type { StoreCheck, StoreDecision, StoreRecord } from '../../src/lib/ledger/store.js';
import { PG_URL, SKIP_TITLE, admin, dropDisposedSchemas, freshStore } from './pg-env.js';

const E = 10_000_000; // one check's estimate: $0.01
const CAP = 100 * E; // a run cap of $1.00: room for exactly 100 checks
const T0 = 1_764_650_000_000;
const PRICES = { inNanoPerMTok: 1e9, outNanoPerMTok: 1e9 };

function check(runId: string | null, now: number, opts: { holdTtlMs?: number; runIdleTtlMs?: number; projectId?: string } = {}): StoreCheck {
  return {
    projectId: opts.projectId ?? 'p', userId: null, runId, model: 'm', estimateNano: E, tokensIn: 10_000, tokensOut: 0, unpriced: false, now,
    holdTtlMs: opts.holdTtlMs ?? 600_000, runIdleTtlMs: opts.runIdleTtlMs, prices: PRICES, provider: null, tags: [],
  };
}

function rec(reservationId: string | null, key: string, runId: string, costNano: number, ts = Date.now()): StoreRecord {
  return { projectId: 'p', userId: null, runId, model: 'm', tokensIn: 0, tokensOut: 0, cachedTokensIn: 0, cacheWriteTokensIn: 0, costNano, unpriced: false, wasBlocked: false, reservationId, idempotencyKey: key, ts };
}

if (PG_URL === '') {
  console.warn(SKIP_TITLE);
  describe('PostgreSQL run leases', () => {
    it.skip(SKIP_TITLE, () => undefined);
  });
} else {
  describe('PostgreSQL run leases', () => {
    const disposers: Array<() => Promise<void>> = [];
    const managers: LeaseManager[] = [];
    afterEach(async () => {
      for (const m of managers.splice(0)) await m.close();
      for (const d of disposers.splice(0).reverse()) await d();
    });
    afterAll(() => dropDisposedSchemas());

    async function store(schema?: string): Promise<{ s: PostgresStore; schema: string }> {
      const f = await freshStore(schema === undefined ? {} : { schema });
      disposers.push(f.dispose);
      return { s: f.store, schema: f.schema };
    }

    async function withRun(s: PostgresStore, runId = 'run_1', capNano: number | null = CAP, parentRunId: string | null = null, now = T0): Promise<string> {
      await s.startRun({ projectId: 'p', runId, capNano, label: null, now, parentRunId });
      return runId;
    }

    function manager(s: PostgresStore, runId: string): LeaseManager {
      const m = new LeaseManager(holderPort(s.runLeases, 'p', `hld_${managers.length}`), Date.now, { runs: 'owned' });
      m.ownRun(runId);
      managers.push(m);
      return m;
    }

    const heldOf = async (s: PostgresStore, runId: string, now = Date.now()) => (await s.getRun('p', runId, now)).heldNano;

    // Rule: leased + held + spent <= cap for a run's lease: its grants are bounded by the run cap, so approvals
    // from the lease and direct checks of another client, concurrently, approve exactly floor(cap / e).
    it('run cap $1.00, estimate $0.01: leased approvals and direct checks together approve exactly 100, concurrently', async () => {
      const { s: a, schema } = await store();
      const { s: b } = await store(schema);
      const runId = await withRun(a, 'run_1', CAP, null, Date.now());
      const m = manager(a, runId);
      const decideA = async (): Promise<StoreDecision> => (await m.decide(check(runId, Date.now()))) ?? (await a.check(check(runId, Date.now())));
      const decideB = (): Promise<StoreDecision> => b.check(check(runId, Date.now()));
      const all = await Promise.all(Array.from({ length: 300 }, (_, i) => (i % 3 === 0 ? decideB() : decideA())));
      const allowed = all.filter((d) => !d.blocked);
      expect(allowed.length).toBe(Math.floor(CAP / E));
      expect(allowed.some((d) => d.reservationId?.startsWith('L_'))).toBe(true); // some came from the run's lease
      expect(allowed.some((d) => d.reservationId?.startsWith('res_'))).toBe(true); // and some from the database
      expect([...new Set(all.filter((d) => d.blocked).map((d) => d.blockReason))]).toEqual(['run_budget_exceeded']);
      expect(m.stats.grants).toBeGreaterThan(0);
      await m.endRun(runId);
      // The lease rows carry the run: the run's held is what was approved, the lease keeps nothing more.
      expect(await heldOf(a, runId)).toBe(100 * E);
    });

    // Rule: a run lease's grant is a slice of the run cap's room (at most room / (4 holders + 1)).
    it("a grant is bounded by the run's cap and by its ancestors' caps", async () => {
      const { s } = await store();
      const parent = await withRun(s, 'run_parent', 50 * E);
      const child = await withRun(s, 'run_child', CAP, parent);
      const g = await s.runLeases.grant({ check: check(child, T0 + 1), want: 400 * E, min: E, w0: 5 * E }, 'hld_a');
      // The parent's $0.50 is the tightest: floor(50 / 5) = 10 estimates.
      expect(g).toMatchObject({ granted: 10 * E, w: 5 * E, limit: { scope: 'run', capNano: 50 * E, heldNano: 10 * E } });
      expect(await heldOf(s, parent, T0 + 2)).toBe(10 * E);
      expect(await heldOf(s, child, T0 + 2)).toBe(10 * E);
    });

    // Rule (docs/api.md "Budget leases (remote runs)"): unknown run (or another project's) 404; ended run or ancestor 409.
    it('refuses a grant for an unknown run, another project\'s run, an ended run and a run whose ancestor has ended', async () => {
      const { s, schema } = await store();
      const grant = (runId: string, projectId = 'p') => s.runLeases.grant({ check: check(runId, Date.now(), { projectId }), want: 20 * E, min: E, w0: 5 * E }, 'hld_x');
      await expect(grant('run_nope')).rejects.toBeInstanceOf(NoburnNotFoundError);
      const runId = await withRun(s);
      await expect(grant(runId, 'q')).rejects.toBeInstanceOf(NoburnNotFoundError);
      const parent = await withRun(s, 'run_p2');
      const child = await withRun(s, 'run_c2', CAP, parent);
      await s.endRun('p', runId, Date.now());
      await expect(grant(runId)).rejects.toBeInstanceOf(NoburnConflictError);
      // The parent ends by itself (abandoned), not through endRun: the child's chain is not open.
      await admin((c) => c.query(`UPDATE "${schema}".runs SET status = 'abandoned', ended_at = $1 WHERE id = $2`, [Date.now(), parent]));
      await expect(grant(child)).rejects.toBeInstanceOf(NoburnConflictError);
      // Nothing was written by the refusals.
      const n = await admin(async (c) => Number((await c.query<{ n: string }>(`SELECT count(*) AS n FROM "${schema}".leases`)).rows[0]?.n));
      expect(n).toBe(0);
    });

    // Rule: the run's idle TTL is applied first (as a check does): an idle run is abandoned, then refused.
    it('a grant with the idle TTL abandons an idle run first and is refused', async () => {
      const { s } = await store();
      const runId = await withRun(s, 'run_idle', CAP, null, T0);
      await expect(s.runLeases.grant({ check: check(runId, T0 + 5000, { runIdleTtlMs: 1000 }), want: 20 * E, min: E, w0: 5 * E }, 'hld_x')).rejects.toBeInstanceOf(NoburnConflictError);
      expect((await s.getRun('p', runId, T0 + 5000)).status).toBe('abandoned');
    });

    // Rule: no raise for a run that has ended (409), and the end takes back the leases' unapprovable room (U).
    it('refuses a raise after the run ends; the end returns row U at once and keeps row C; other projects see no lease', async () => {
      const { s } = await store();
      const runId = await withRun(s);
      const now = Date.now();
      const g = await s.runLeases.grant({ check: check(runId, now), want: 20 * E, min: E, w0: 5 * E }, 'hld_x');
      expect(g).toMatchObject({ granted: 20 * E, w: 5 * E });
      const id = g?.leaseId as string;
      expect(await s.runLeases.raise('p', id, 3 * E, now)).toBe(3 * E);
      await expect(s.runLeases.raise('q', id, 3 * E, now)).rejects.toBeInstanceOf(NoburnNotFoundError);
      await expect(s.runLeases.end('q', id, 0, now)).rejects.toBeInstanceOf(NoburnNotFoundError);
      await expect(s.runLeases.raise('p', 'L_nope', 3 * E, now)).rejects.toBeInstanceOf(NoburnNotFoundError);
      expect(await heldOf(s, runId)).toBe(20 * E);
      await s.endRun('p', runId, Date.now());
      await expect(s.runLeases.raise('p', id, 3 * E, Date.now())).rejects.toBeInstanceOf(NoburnConflictError);
      // A run's end ends its nested runs' leases too: here, U (12 E) is gone, C (W = 8 E) stays held.
      const rows = await s.pool.query<{ id: string; amount_nano: string }>('SELECT id, amount_nano FROM holds WHERE lease_id = $1 ORDER BY id', [id]);
      expect(rows.rows.map((r) => [r.id.slice(-2), Number(r.amount_nano)])).toEqual([['.c', 8 * E], ['.s', 0]]);
      // Ending the lease after the run's end is allowed: C comes down to what was approved (none here).
      await s.runLeases.end('p', id, 8 * E, Date.now());
      expect(await heldOf(s, runId)).toBe(0);
    });

    it("the end of a parent run takes back its nested runs' leases' row U", async () => {
      const { s } = await store();
      const parent = await withRun(s, 'run_p');
      const child = await withRun(s, 'run_c', CAP, parent);
      const g = await s.runLeases.grant({ check: check(child, Date.now()), want: 20 * E, min: E, w0: 5 * E }, 'hld_x');
      expect(g?.granted).toBe(20 * E);
      await s.endRun('p', parent, Date.now());
      expect((await s.getRun('p', child, Date.now())).status).toBe('ended');
      const left = await s.pool.query<{ n: string }>('SELECT coalesce(sum(amount_nano), 0) AS n FROM holds WHERE run_id = $1', [child]);
      expect(Number(left.rows[0]?.n)).toBe(5 * E);
      await expect(s.runLeases.raise('p', g?.leaseId as string, E, Date.now())).rejects.toBeInstanceOf(NoburnConflictError);
    });

    // Rule: a leased approval settles once (docs/operations-postgres.md "Settlement"); its record adds to the run's spend.
    it("a record settles a run-leased approval exactly once and adds its cost to the run's spend", async () => {
      const { s } = await store();
      const runId = await withRun(s);
      const m = manager(s, runId);
      const d1 = (await m.decide(check(runId, Date.now()))) as StoreDecision;
      const d2 = (await m.decide(check(runId, Date.now()))) as StoreDecision;
      expect(d1.reservationId).toMatch(/^L_/);
      expect(d2.reservationId).toMatch(/^L_/);
      await m.endRun(runId); // the lease ends: C = the two approvals
      expect(await heldOf(s, runId)).toBe(2 * E);
      expect(await s.record([rec(d1.reservationId, 'k1', runId, 7 * E)])).toEqual({ accepted: 1, duplicates: 0 });
      expect(await heldOf(s, runId)).toBe(E);
      // The same key again: a duplicate; another key naming the same approval: a record, but no room twice.
      expect(await s.record([rec(d1.reservationId, 'k1', runId, 7 * E)])).toEqual({ accepted: 0, duplicates: 1 });
      expect(await s.record([rec(d1.reservationId, 'k2', runId, 0)])).toEqual({ accepted: 1, duplicates: 0 });
      expect(await heldOf(s, runId)).toBe(E);
      const run = await s.getRun('p', runId, Date.now());
      expect(run).toMatchObject({ spentNano: 7 * E, calls: 2, heldNano: E });
      // A lease's own rows are never freed by name, nor by a record naming no hold.
      const leaseId = (d2.reservationId as string).split('.')[0] as string;
      expect(await s.release('p', [`${leaseId}.c`, `${leaseId}.u`], Date.now())).toBe(0);
      await s.record([rec(null, 'k3', runId, 0)]);
      expect(await heldOf(s, runId)).toBe(E);
      expect(await s.release('p', [d2.reservationId as string], Date.now())).toBe(1);
      expect(await heldOf(s, runId)).toBe(0);
    });

    // Rule (docs/operations-postgres.md "Near the cap"): a refusal takes back other leases' row U first;
    // near a run cap that is a run lease's U: a holder that disappears withholds only its C (W).
    it('near the run cap a direct check takes back a run lease\'s row U, never its row C', async () => {
      const { s } = await store();
      const runId = await withRun(s, 'run_1', CAP, null, Date.now());
      // A slice is at most room / (4 holders' worth + 1): 20 of the 100.
      const g = await s.runLeases.grant({ check: check(runId, Date.now()), want: 40 * E, min: E, w0: 10 * E }, 'hld_gone');
      expect(g).toMatchObject({ granted: 20 * E, w: 10 * E });
      let fit = 0;
      for (let i = 0; i < 150; i++) if (!(await s.check(check(runId, Date.now()))).blocked) fit++;
      expect(fit).toBe(90);
    });
  });
}

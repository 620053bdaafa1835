/**
 * contract §3/§7 at scale, embedded half: 8 OS processes x 1,000 checks each against one cap
 * on one ledger file approve exactly floor(cap / estimate), never one more, never a
 * fallback decision. The serve half (256 concurrent HTTP connections to one `noburn serve`)
 * is overshoot-serve.test.ts.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SqliteStore } from '../../src/lib/ledger/sqlite/sqlite-store.js';
import { removeHomes, snapshotDist, tempHome, writeConfig } from '../helpers/cli.js';
import type { Dist } from '../helpers/cli.js';
import { prng } from '../helpers/reliability/procs.js';
import { hammer } from '../helpers/workers.js';
import type { WorkerResult, WorkerSpec } from '../helpers/workers.js';

const WORKERS = 8;
const ATTEMPTS = 1_000;
const MODEL = 'scale-m';
const TOKENS_IN = 700;
const TOKENS_OUT = 75;
/** $1 / $4 per million tokens in / out: 700 * 1,000 + 75 * 4,000 nano-dollars. */
const ESTIMATE = TOKENS_IN * 1_000 + TOKENS_OUT * 4_000;
const PROJECT = 'default';
const SEED = Number(process.env['OVERSHOOT_SEED'] ?? Math.floor(Math.random() * 2 ** 31));

let dist: Dist;
beforeAll(async () => {
  dist = await snapshotDist();
});
afterAll(() => {
  dist?.dispose();
  removeHomes();
});

function sum(rs: WorkerResult[]) {
  const reasons: Record<string, number> = {};
  for (const r of rs) for (const [k, v] of Object.entries(r.reasons)) reasons[k] = (reasons[k] ?? 0) + v;
  return {
    approved: rs.reduce((a, r) => a + r.approved, 0),
    reservations: new Set(rs.flatMap((r) => r.reservations)).size,
    sources: [...new Set(rs.flatMap((r) => r.sources))],
    reasons,
  };
}

type Scope = 'project' | 'user' | 'run';

describe(`${WORKERS} processes x ${ATTEMPTS} checks against one cap`, () => {
  const rnd = prng(SEED);
  // Caps of 2,000-4,000 estimates plus a random remainder below one estimate: the last
  // approval fits exactly or nearly, and most of the 8,000 attempts must be refused.
  const cases: { scope: Scope; k: number; remainder: number }[] = (['project', 'user', 'run'] as const).map((scope) => ({
    scope,
    k: 2_000 + rnd(2_001),
    remainder: rnd(4) === 0 ? 0 : rnd(ESTIMATE),
  }));

  it.each(cases)('$scope cap: approvals are exactly floor(cap / estimate)', async ({ scope, k, remainder }) => {
    console.log(`overshoot at scale: OVERSHOOT_SEED=${SEED} scope=${scope} cap=${k} x estimate + ${remainder}`);
    const home = tempHome('noburn-scale-');
    writeConfig(home, { prices: { [MODEL]: { inputPerMTok: 1, outputPerMTok: 4 } } });
    const cap = k * ESTIMATE + remainder;
    const spec: WorkerSpec = { model: MODEL, tokensIn: TOKENS_IN, tokensOut: TOKENS_OUT, attempts: ATTEMPTS };
    const store = new SqliteStore(join(home, 'noburn.db'));
    try {
      const now = Date.now();
      if (scope === 'project') await store.setBudget({ projectId: PROJECT, scope: 'project', userId: null, capNano: cap, period: 'month', now });
      if (scope === 'user') {
        await store.setBudget({ projectId: PROJECT, scope: 'default_user', userId: null, capNano: cap, period: 'day', now });
        spec.endUserId = 'scale-user';
      }
      if (scope === 'run') spec.runId = (await store.startRun({ projectId: PROJECT, runId: 'run_scale', capNano: cap, label: null, now })).runId;
    } finally {
      await store.close();
    }

    const got = sum(await hammer(dist.index, home, WORKERS, spec, 300_000));
    const expected = Math.floor(cap / ESTIMATE);
    expect(got.sources).toEqual(['ledger']);
    expect(got.approved).toBe(expected);
    expect(got.reservations).toBe(expected);
    expect(got.reasons).toEqual({ [`${scope}_budget_exceeded`]: WORKERS * ATTEMPTS - expected });

    // The ledger agrees: exactly that many holds, summing to no more than the cap.
    const check = new SqliteStore(join(home, 'noburn.db'));
    try {
      const h = check.db.prepare('SELECT count(*) AS n, coalesce(sum(amount_nano), 0) AS held FROM holds').get() as { n: number; held: number };
      expect(h).toEqual({ n: expected, held: expected * ESTIMATE });
      expect(h.held).toBeLessThanOrEqual(cap);
      const blocked = check.db.prepare("SELECT count(*) FROM events WHERE kind = 'check' AND blocked = 1").pluck().get();
      expect(blocked).toBe(WORKERS * ATTEMPTS - expected);
      expect(check.db.pragma('integrity_check', { simple: true })).toBe('ok');
    } finally {
      await check.close();
    }
  });
});

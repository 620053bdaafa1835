/**
 * serve's budget lease API for remote runs (docs/api.md, "Budget leases (remote runs)"),
 * against a real `noburn serve` (the built CLI, SQLite): grants, raises and ends of the
 * caller's run; bad input is one line with its documented code and changes nothing.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { runCli, serveCli, tempHome, useDist, writeConfig } from '../helpers/cli.js';
import { clientHome, remoteGuard, sql } from '../remote/helpers.js';
import { call } from './helpers.js';

const dist = useDist();
const homes: string[] = [];
afterAll(() => {
  for (const h of homes) rmSync(h, { recursive: true, force: true });
});

const E = 1_000_000;
const grantBody = (runId: string, extra: Record<string, unknown> = {}) => ({ runId, model: 'test-model', holder: 'hld_test', wantNano: 8 * E, minNano: E, w0Nano: 2 * E, ...extra });

it('grants, raises and ends a lease of the caller\'s run; refuses bad input, other projects\' leases and ended runs', async () => {
  const home = tempHome('noburn-leases-api-');
  homes.push(home);
  writeConfig(home, { prices: { 'test-model': { inputPerMTok: 1, outputPerMTok: 2 } } });
  const key = (await runCli(dist.cli, ['keys', 'create', '--role', 'app'], { home })).stdout.trim();
  const other = (await runCli(dist.cli, ['keys', 'create', '--role', 'app', '--project', 'other'], { home })).stdout.trim();
  const s = await serveCli(dist.cli, home);
  try {
    const db = join(home, 'noburn.db');
    const held = () => sql<{ h: number }>(db, 'SELECT coalesce(sum(amount_nano), 0) AS h FROM holds').h;
    const run = (await call(s.url, 'POST', '/v1/runs', { key, body: { budgetCapUsd: 0.1 } })).body as { runId: string };

    // Bad input: 422 with one line naming the field, nothing held.
    for (const [body, field] of [
      [grantBody(run.runId, { wantNano: 8.5 * E }), 'wantNano'],
      [grantBody(run.runId, { wantNano: 3 * E, minNano: 2 * E }), 'wantNano'],
      [grantBody(run.runId, { w0Nano: 9 * E }), 'w0Nano'],
      [grantBody(run.runId, { minNano: 0 }), 'minNano'],
      [grantBody(run.runId, { extra: 1 }), ''],
      [{ ...grantBody(run.runId), runId: undefined }, 'runId'],
    ] as const) {
      const r = await call(s.url, 'POST', '/v1/leases', { key, body });
      expect(r.status).toBe(422);
      const msg = (r.body as { error: { code: string; message: string } }).error;
      expect(msg.code).toBe('NOBURN_VALIDATION');
      expect(msg.message).toContain(field);
      expect(msg.message).not.toContain('\n');
    }
    expect(held()).toBe(0);

    const g = (await call(s.url, 'POST', '/v1/leases', { key, body: grantBody(run.runId) })).body as { granted: boolean; leaseId: string; grantedNano: number; wNano: number; ttlMs: number };
    expect(g).toMatchObject({ granted: true, grantedNano: 8 * E, wNano: 2 * E, ttlMs: 30_000 });
    expect(held()).toBe(8 * E);
    expect((await call(s.url, 'POST', `/v1/leases/${g.leaseId}/raise`, { key, body: { wantNano: 2 * E } })).body).toEqual({ raisedNano: 2 * E });
    // Another project's key sees no such lease, and changes nothing.
    expect((await call(s.url, 'POST', `/v1/leases/${g.leaseId}/end`, { key: other, body: { unusedNano: 4 * E } })).status).toBe(404);
    expect((await call(s.url, 'POST', '/v1/leases', { key: other, body: grantBody(run.runId) })).status).toBe(404);
    expect(held()).toBe(8 * E);
    expect((await call(s.url, 'POST', `/v1/leases/${g.leaseId}/raise`, { key, body: { wantNano: -1 } })).status).toBe(422);

    // The run ends through another path: no grant and no raise any more (409); the end still returns the room.
    expect((await call(s.url, 'POST', `/v1/runs/${run.runId}/end`, { key })).status).toBe(200);
    expect((await call(s.url, 'POST', '/v1/leases', { key, body: grantBody(run.runId) })).status).toBe(409);
    expect((await call(s.url, 'POST', `/v1/leases/${g.leaseId}/raise`, { key, body: { wantNano: 2 * E } })).status).toBe(409);
    expect((await call(s.url, 'POST', `/v1/leases/${g.leaseId}/end`, { key, body: { unusedNano: 4 * E } })).body).toEqual({ ended: true });
    expect(held()).toBe(0);
    expect((await call(s.url, 'POST', '/v1/leases/L_nope/end', { key, body: { unusedNano: 0 } })).status).toBe(404);
  } finally {
    await s.stop('SIGTERM');
  }
});

// Rule: the run's leases end before the run does: the end finds nothing of them held (their unused room is back).
it('a remote guard that owns its run ends the run\'s leases before the run: nothing is left held at the end', async () => {
  const home = tempHome('noburn-leases-api-');
  homes.push(home);
  writeConfig(home, { prices: { 'test-model': { inputPerMTok: 1, outputPerMTok: 2 } } });
  const key = (await runCli(dist.cli, ['keys', 'create', '--role', 'app'], { home })).stdout.trim();
  const s = await serveCli(dist.cli, home);
  const g = remoteGuard(s.url, key, clientHome());
  try {
    const run = await g.startRun({ budgetCapUsd: 1 });
    await g.ownRun(run.runId);
    for (let i = 0; i < 3; i++) {
      const d = await g.check({ model: 'test-model', estimatedTokensIn: 1000, estimatedTokensOut: 0, runId: run.runId });
      expect(d.reservationId).toMatch(/^L_/);
      g.record({ model: 'test-model', tokensIn: 1000, tokensOut: 0, runId: run.runId, reservationId: d.reservationId });
    }
    const ended = await g.endRun(run.runId);
    expect(ended.run).toMatchObject({ calls: 3, heldUsd: 0 });
    expect(sql<{ h: number }>(join(home, 'noburn.db'), 'SELECT coalesce(sum(amount_nano), 0) AS h FROM holds').h).toBe(0);
  } finally {
    await g.close();
    await s.stop('SIGTERM');
  }
});

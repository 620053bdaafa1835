/** Tags served: the HTTP API (tags on check/record, PUT /v1/budgets/tags, spend by tag:KEY) and the real client (NoburnGuard with NOBURN_URL) with its mirror. */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, checkBody, recordBody, startTestServer } from '../server/helpers.js';
import type { TestServer } from '../server/helpers.js';
import { clientHome, remoteGuard, sqlAll, until } from './helpers.js';

let t: TestServer;
const homes: string[] = [];

beforeAll(async () => {
  t = await startTestServer();
});
afterAll(async () => {
  await t.dispose();
  for (const h of homes) rmSync(h, { recursive: true, force: true });
});

describe('tags over HTTP', () => {
  it('a tag cap refuses the checks carrying the tag with tag_budget_exceeded and leaves the others alone; spend groups by tag:KEY', async () => {
    const admin = await t.key('tags-http', 'admin');
    // test-model: 1000 in + 500 out = $0.002 per check.
    const set = await call(t.url, 'PUT', '/v1/budgets/tags', { key: admin, body: { tag: 'feature=search', capUsd: 0.003, period: 'day' } });
    expect(set).toMatchObject({ status: 200, body: { scope: 'tag', userId: null, tag: 'feature=search', capUsd: 0.003, period: 'day' } });
    const rec = await call(t.url, 'POST', '/v1/records', { key: admin, body: { records: [recordBody({ tags: { feature: 'search', team: 'core' } })] } });
    expect(rec.status).toBe(202);
    const blocked = await call(t.url, 'POST', '/v1/check', { key: admin, body: checkBody({ tags: { feature: 'search' } }) });
    expect(blocked.body).toMatchObject({ blocked: true, blockReason: 'tag_budget_exceeded', limit: { scope: 'tag', capUsd: 0.003, spentUsd: 0.002 } });
    for (const tags of [{ feature: 'chat' }, { team: 'core' }, undefined]) {
      const r = await call(t.url, 'POST', '/v1/check', { key: admin, body: checkBody(tags ? { tags } : {}) });
      expect(r.body).toMatchObject({ blocked: false });
    }
    const spend = await call(t.url, 'GET', '/v1/spend?by=tag:feature', { key: admin });
    expect(spend.status).toBe(200);
    expect((spend.body as { rows: { key: string | null; spendUsd: number; blockedCalls: number }[] }).rows.map((r) => [r.key, r.spendUsd, r.blockedCalls])).toEqual([
      ['search', 0.002, 1],
    ]);
    const budgets = await call(t.url, 'GET', '/v1/budgets', { key: admin });
    expect(budgets.body).toMatchObject({ budgets: [{ scope: 'tag', tag: 'feature=search', spentUsd: 0.002, heldUsd: 0 }] });
  });

  it('bad tags are a 422 with one message, and change nothing', async () => {
    const admin = await t.key('tags-bad', 'admin');
    const bad: [string, string, unknown][] = [
      ['POST', '/v1/check', checkBody({ tags: { 'bad key': 'x' } })],
      ['POST', '/v1/check', checkBody({ tags: { k: 1 } })],
      ['POST', '/v1/check', checkBody({ tags: ['feature=search'] })],
      ['POST', '/v1/check', checkBody({ tags: Object.fromEntries(Array.from({ length: 9 }, (_, i) => [`k${i}`, 'v'])) })],
      ['POST', '/v1/records', { records: [recordBody(), recordBody({ tags: { k: 'a,b' } })] }],
      ['PUT', '/v1/budgets/tags', { tag: 'feature', capUsd: 1 }],
      ['GET', '/v1/spend?by=tag:bad%20key', undefined],
      ['GET', '/v1/spend?by=tags', undefined],
    ];
    for (const [method, path, body] of bad) {
      const r = await call(t.url, method as 'POST', path, { key: admin, body });
      expect(r.status, `${method} ${path} ${JSON.stringify(body)}`).toBe(422);
      const msg = (r.body as { error: { code: string; message: string } }).error;
      expect(msg.code).toBe('NOBURN_VALIDATION');
      expect(msg.message).not.toMatch(/\n/);
    }
    const spend = await call(t.url, 'GET', '/v1/spend', { key: admin });
    expect(spend.body).toMatchObject({ calls: 0, blockedCalls: 0 });
    expect((await call(t.url, 'GET', '/v1/budgets', { key: admin })).body).toEqual({ budgets: [] });
  });
});

describe('tags through the remote client', () => {
  it('setBudget({scope: "tag"}), check and record with tags reach the server; the mirror keeps the cap and the tagged record', async () => {
    const admin = await t.key('tags-remote', 'admin');
    const h = clientHome();
    homes.push(h);
    const g = remoteGuard(t.url, admin, h, { projectId: 'tags-remote' });
    try {
      await g.setBudget({ scope: 'tag', tag: 'feature=search', capUsd: 0.003, period: 'hour' });
      await g.recordNow({ model: 'test-model', tokensIn: 1000, tokensOut: 500, tags: { feature: 'search' } });
      const ask = (tags?: Record<string, string>) => g.check({ model: 'test-model', estimatedTokensIn: 1000, estimatedTokensOut: 500, runId: null, tags });
      expect(await ask({ feature: 'search' })).toMatchObject({ blocked: true, blockReason: 'tag_budget_exceeded', source: 'server', limit: { scope: 'tag' } });
      expect(await ask({ feature: 'chat' })).toMatchObject({ blocked: false, source: 'server' });
      expect((await g.spend({ by: 'tag:feature' })).rows.map((r) => r.key)).toEqual(['search']);
      const db = join(h, 'noburn.db');
      const read = () => {
        try {
          return {
            budgets: sqlAll<{ scope: string; subject: string }>(db, "SELECT scope, subject FROM budgets WHERE scope = 'tag'"),
            records: sqlAll<{ tags: string | null }>(db, 'SELECT tags FROM records'),
            usage: sqlAll<{ subject: string }>(db, "SELECT DISTINCT subject FROM usage WHERE scope = 'tag' ORDER BY subject"),
          };
        } catch {
          return null; // the mirror file is created and migrated in the background
        }
      };
      await until(() => {
        const r = read();
        return r !== null && r.budgets.length > 0 && r.records.length > 0 && r.usage.length > 0;
      }, 10_000, 'the mirror applies the cap, the record and the blocked check');
      expect(read()).toEqual({ budgets: [{ scope: 'tag', subject: 'feature=search' }], records: [{ tags: 'feature=search' }], usage: [{ subject: 'feature=search' }] });
    } finally {
      await g.close();
    }
  });
});

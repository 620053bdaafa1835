/** Per-model caps through the real client (NoburnGuard with NOBURN_URL) against a real server, and in its mirror. */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer } from '../server/helpers.js';
import type { TestServer } from '../server/helpers.js';
import { clientHome, remoteGuard, sqlAll, until } from './helpers.js';

let t: TestServer;
let admin: string;
const homes: string[] = [];

beforeAll(async () => {
  t = await startTestServer();
  admin = await t.key('models', 'admin');
});
afterAll(async () => {
  await t.dispose();
  for (const h of homes) rmSync(h, { recursive: true, force: true });
});

describe('remote per-model caps', () => {
  it("setBudget({scope: 'model'}) reaches the server: the user's calls of matching models block there, others pass; the mirror keeps the cap", async () => {
    const h = clientHome();
    homes.push(h);
    const g = remoteGuard(t.url, admin, h, { projectId: 'models' });
    try {
      await g.setBudget({ scope: 'model', model: 'test-*', userId: 'u1', capUsd: 0.001, period: 'hour' });
      const ask = (user: string) => g.check({ model: 'test-model', estimatedTokensIn: 1000, estimatedTokensOut: 500, endUserId: user, runId: null });
      expect(await ask('u1')).toMatchObject({ blocked: true, blockReason: 'model_budget_exceeded', source: 'server', limit: { scope: 'model', capUsd: 0.001 } });
      expect(await ask('u2')).toMatchObject({ blocked: false, source: 'server' });
      expect((await g.getBudgets()).filter((b) => b.scope === 'model')).toEqual([
        expect.objectContaining({ scope: 'model', userId: 'u1', model: 'test-*', capUsd: 0.001, period: 'hour' }),
      ]);
      // The mirror stores the cap under the same key as a local ledger would.
      const rows = () => sqlAll<{ scope: string; subject: string }>(join(h, 'noburn.db'), "SELECT scope, subject FROM budgets WHERE scope = 'user_model'");
      // The mirror file is created and migrated in the background: until then there is nothing to read.
      const applied = () => {
        try {
          return rows().length > 0;
        } catch {
          return false;
        }
      };
      await until(applied, 10_000, 'the mirror applies the cap');
      expect(rows()).toEqual([{ scope: 'user_model', subject: 'u1\u001ftest-*' }]);
    } finally {
      await g.close();
    }
  });
});

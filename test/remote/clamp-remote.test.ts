/**
 * Clamped checks and refusal figures in remote mode (docs/api.md, POST /v1/check): the
 * clamp options go over the wire, the server decides them in its transaction, and the
 * client's decision carries the same figures as an embedded one. test-model: $1/MTok in,
 * $2/MTok out.
 */
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer } from '../server/helpers.js';
import type { TestServer } from '../server/helpers.js';
import { clientHome, remoteGuard } from './helpers.js';

let t: TestServer;
let admin: string;
const homes: string[] = [];

beforeAll(async () => {
  t = await startTestServer();
  admin = await t.key('clamp', 'admin');
});
afterAll(async () => {
  await t.dispose();
  for (const h of homes) rmSync(h, { recursive: true, force: true });
});

describe('remote clamp', () => {
  it('clamps on the server, carries the figures, counts the clamped call on the run', async () => {
    const h = clientHome();
    homes.push(h);
    const g = remoteGuard(t.url, admin, h, { projectId: 'clamp' });
    try {
      const run = await g.startRun({ budgetCapUsd: 0.01 });
      const d = await g.check({ model: 'test-model', estimatedTokensIn: 1000, estimatedTokensOut: 10_000, runId: run.runId, clamp: true });
      expect(d).toMatchObject({
        source: 'server', blocked: false, clamped: true, tokensIn: 1000, tokensOut: 4500, maxTokensOut: 4500, estimatedCostUsd: 0.01,
        estimate: { inputUsd: 0.001, outputUsd: 0.009 }, limit: { scope: 'run', capUsd: 0.01, leftUsd: 0.01 },
      });
      const refused = await g.check({ model: 'test-model', estimatedTokensIn: 1000, estimatedTokensOut: 10, runId: run.runId });
      expect(refused).toMatchObject({ blocked: true, blockReason: 'run_budget_exceeded', limit: { scope: 'run', heldUsd: 0.01, leftUsd: 0 }, maxTokensOut: 0 });
      expect(refused.hint).toMatch(/^the input alone/);
      // The margin applies on the server too.
      const scaled = await g.check({ model: 'test-model', estimatedTokensIn: 1000, estimatedTokensOut: 0, runId: null, tokensInSource: 'tokenizer', provider: 'anthropic' });
      expect(scaled.tokensIn).toBe(1350);
      expect((await g.getRun(run.runId)).clampedCalls).toBe(1);
    } finally {
      await g.close();
    }
  });
});

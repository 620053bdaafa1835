/**
 * docs/run.md (the summary): `topModels` is the run's spend by model from the ledger, so the
 * calls the command makes through the library (NOBURN_RUN_ID) are there too, with or
 * without the proxy.
 */
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { costNano, toNano } from '../proxy/helpers.js';
import { useRunSuite } from './harness.js';

const suite = useRunSuite();

// Records two models through the built library; the run comes from NOBURN_RUN_ID.
const CHILD = `
const { NoburnGuard } = await import(process.env.NB_DIST);
const g = new NoburnGuard();
await g.record({ model: 'gpt-4o-mini', tokensIn: 1000, tokensOut: 100 });
await g.record({ model: 'gpt-4o-mini', tokensIn: 500, tokensOut: 0 });
await g.record({ model: 'claude-sonnet-4-5', tokensIn: 2000, tokensOut: 300 });
await g.record({ model: 'nb-unpriced-model-zz9', tokensIn: 10, tokensOut: 10 });
await g.close();
`;

describe('noburn run -- CMD: top models', () => {
  for (const proxy of [false, true]) {
    it(`lists the calls made through the library, by spend${proxy ? '' : ' (--no-proxy)'}`, async () => {
      const args = ['run', '--json', ...(proxy ? [] : ['--no-proxy']), '--', process.execPath, '--input-type=module', '-e', CHILD];
      const r = await runCli(suite.dist.cli, args, { home: suite.home().home, env: { NB_DIST: suite.dist.index } });
      expect(r.code, r.stderr).toBe(0);
      const s = JSON.parse(r.stdout);
      const zero = { cachedTokensIn: 0, cacheWriteTokensIn: 0 };
      const claude = costNano('claude-sonnet-4-5', { tokensIn: 2000, tokensOut: 300, ...zero });
      const mini = costNano('gpt-4o-mini', { tokensIn: 1000, tokensOut: 100, ...zero }) + costNano('gpt-4o-mini', { tokensIn: 500, tokensOut: 0, ...zero });
      expect(s.topModels).toEqual([
        { model: 'claude-sonnet-4-5', calls: 1, blockedCalls: 0, tokensIn: 2000, tokensOut: 300, cachedTokensIn: 0, spendUsd: claude / 1e9 },
        { model: 'gpt-4o-mini', calls: 2, blockedCalls: 0, tokensIn: 1500, tokensOut: 100, cachedTokensIn: 0, spendUsd: mini / 1e9 },
        { model: 'nb-unpriced-model-zz9', calls: 1, blockedCalls: 0, tokensIn: 10, tokensOut: 10, cachedTokensIn: 0, spendUsd: null },
      ]);
      expect(toNano(s.spendUsd)).toBe(claude + mini);
    });
  }
});

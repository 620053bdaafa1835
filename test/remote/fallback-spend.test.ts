/** contract §3: the fallback checks against budgetCapUsd with the spend recorded through this guard. */
import { rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { NoburnConfigError } from '../../src/lib/errors.js';
import { NoburnGuard } from '../../src/lib/guard.js';
import { clientHome } from './helpers.js';

const homes: string[] = [];
afterAll(() => {
  for (const h of homes) rmSync(h, { recursive: true, force: true });
});

// Port 9 (discard) is closed on 127.0.0.1 here: every request fails at once.
const DOWN = 'http://127.0.0.1:9';
const prices = { m: { inputPerMTok: 2, outputPerMTok: 10 } };

it('counts records priced from tokens (no costUsd) against the local cap', async () => {
  const home = clientHome();
  homes.push(home);
  const g = new NoburnGuard({ home, url: DOWN, apiKey: 'nb_x.y', budgetCapUsd: 0.01, prices, timeoutMs: 300, env: {} });
  try {
    const before = await g.check({ model: 'm', estimatedTokensIn: 1000, estimatedTokensOut: 0 });
    expect(before).toMatchObject({ source: 'fallback', blocked: false });
    // 4,000 input tokens at $2/M = $0.008 of the $0.01 cap, recorded without a USD cost
    // (settling the first check's hold).
    g.record({ model: 'm', tokensIn: 4000, tokensOut: 0, reservationId: before.reservationId });
    const fits = await g.check({ model: 'm', estimatedTokensIn: 1000, estimatedTokensOut: 0 }); // +$0.002 = exactly the cap
    expect(fits).toMatchObject({ source: 'fallback', blocked: false });
    expect(fits.remaining.projectUsd).toBeCloseTo(0, 9);
    const over = await g.check({ model: 'm', estimatedTokensIn: 1001, estimatedTokensOut: 0 });
    expect(over).toMatchObject({ source: 'fallback', blocked: true, blockReason: 'local_budget_exceeded' });
  } finally {
    await g.close();
  }
});

it('a malformed NOBURN_URL is a config error at construction, not a silent fallback', () => {
  expect(() => new NoburnGuard({ home: clientHome(), url: 'not a url', env: {} })).toThrow(NoburnConfigError);
  expect(() => new NoburnGuard({ home: clientHome(), env: { NOBURN_URL: 'ftp://127.0.0.1/x' } })).toThrow(/http/);
});

it('an authority that failed to open is tried again on the next call', async () => {
  const root = clientHome();
  homes.push(root);
  const blocker = join(root, 'home');
  writeFileSync(blocker, 'a file where the ledger folder should be');
  const g = new NoburnGuard({ home: join(blocker, 'sub'), env: {} });
  try {
    const first = await g.check({ model: 'gpt-4o', estimatedTokensIn: 10, estimatedTokensOut: 10 });
    expect(first.source).toBe('fallback');
    rmSync(blocker);
    mkdirSync(blocker, { mode: 0o700 });
    const second = await g.check({ model: 'gpt-4o', estimatedTokensIn: 10, estimatedTokensOut: 10 });
    expect(second).toMatchObject({ source: 'ledger', blocked: false });
    expect(second.reservationId).toMatch(/^res_/);
  } finally {
    await g.close();
  }
});

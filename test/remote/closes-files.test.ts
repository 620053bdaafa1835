/**
 * A closed guard holds no file open: the fallback pricing's ledger handle (the mirror in
 * remote mode) belongs to the authority and is closed with it, in both modes. Read from
 * the process's open descriptors (/proc/self/fd, Linux).
 */
import { existsSync, readdirSync, readlinkSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { NoburnGuard } from '../../src/lib/guard.js';
import { clientHome, remoteGuard } from './helpers.js';

const FD = '/proc/self/fd';

/** Paths under `dir` this process has open. */
function openUnder(dir: string): string[] {
  const out: string[] = [];
  for (const fd of readdirSync(FD)) {
    try {
      const target = readlinkSync(`${FD}/${fd}`);
      if (target.startsWith(dir)) out.push(target);
    } catch {
      // closed between readdir and readlink
    }
  }
  return out;
}

const check = { model: 'test-model', estimatedTokensIn: 1000, estimatedTokensOut: 100 };

describe.skipIf(!existsSync(FD))('close() releases every file', () => {
  it('remote mode: a fallback decision priced from the mirror, then close', async () => {
    const home = clientHome();
    // Nothing listens on port 9: every check is decided by the fallback.
    const g = remoteGuard('http://127.0.0.1:9', 'nb_test_key', home, { timeoutMs: 300, budgetCapUsd: 1 });
    g.record({ model: 'test-model', tokensIn: 10, tokensOut: 10 }); // token-only: priced locally
    expect((await g.check(check)).source).toBe('fallback');
    expect(openUnder(home).some((p) => p.endsWith('noburn.db'))).toBe(true);
    await g.close();
    expect(openUnder(home)).toEqual([]);
  });

  it('embedded mode: a tracked run priced locally, then close', async () => {
    const home = clientHome();
    const g = new NoburnGuard({ home, env: {}, prices: { 'test-model': { inputPerMTok: 1, outputPerMTok: 2 } } });
    const run = await g.startRun({ budgetCapUsd: 1 });
    g.record({ model: 'test-model', tokensIn: 10, tokensOut: 10, runId: run.runId });
    await g.flush();
    await g.close();
    expect(openUnder(home)).toEqual([]);
  });
});

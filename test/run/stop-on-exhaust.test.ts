import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { NoburnGuard } from '../../src/lib/guard.js';
import { startFakeUpstream, type FakeUpstream } from '../fixtures/fake-upstream.js';
import { makeHome, toNano, costNano } from '../proxy/helpers.js';
import { assertBuilt, cleanEnv, CLI, FIXTURES, runNoburn } from './cli.js';

let upstream: FakeUpstream | null = null;
let home: ReturnType<typeof makeHome> | null = null;

beforeAll(() => assertBuilt());
afterEach(async () => {
  await upstream?.close();
  home?.cleanup();
  upstream = null;
  home = null;
});

async function readRun(runId: string) {
  const guard = new NoburnGuard({ home: home!.home, env: {} });
  try {
    return await guard.getRun(runId);
  } finally {
    await guard.close();
  }
}

describe('--stop-on-exhaust', () => {
  it('stops a child that loops forever (ignoring SIGTERM: SIGKILL after the grace period), exits 124, spend within the cap', async () => {
    upstream = await startFakeUpstream();
    home = makeHome();
    const resultFile = join(home.home, 'result.json');
    const env = cleanEnv({
      NOBURN_HOME: home.home,
      NOBURN_STOP_GRACE_MS: '300',
      RESULT_FILE: resultFile,
      OPENAI_API_KEY: 'sk-test',
      OPENAI_BASE_URL: upstream.openaiBase,
    });
    const r = await runNoburn(['run', '--cap', '0.002', '--stop-on-exhaust', '--json', '--', process.execPath, join(FIXTURES, 'loop-forever.mjs')], env);
    expect(r.code, r.stderr).toBe(124);
    const summary = JSON.parse(r.stdout);
    expect(summary).toMatchObject({ status: 'exhausted', stoppedOnExhaust: true, exitCode: 124, signal: 'SIGKILL' });

    const run = await readRun(summary.runId);
    const { ok } = JSON.parse(readFileSync(resultFile, 'utf8')) as { ok: number };
    expect(ok).toBeGreaterThan(0);
    expect(run.calls).toBe(ok);
    expect(upstream.served.length).toBe(ok);
    expect(run.spendUsd).toBeLessThanOrEqual(0.002);
    expect(toNano(run.spendUsd)).toBe(ok * costNano('gpt-4o-mini', { tokensIn: 20, cachedTokensIn: 5, cacheWriteTokensIn: 0, tokensOut: 12 }));
    // It kept calling (and being refused) through the grace period, until SIGKILL.
    expect(run.blockedCalls).toBeGreaterThanOrEqual(1);
    expect(run.exhausted).toBe(true);
  });

  it('without the proxy, a block the child got through the library (NOBURN_RUN_ID) also stops it', async () => {
    home = makeHome();
    // The child checks through `noburn check` (it inherits NOBURN_RUN_ID) and records, in a bounded loop.
    const script = `
      const { execFileSync } = require('node:child_process');
      for (let i = 0; i < 200; i++) {
        try {
          execFileSync(process.execPath, [${JSON.stringify(CLI)}, 'record', '--model', 'gpt-4o-mini', '--tokens-in', '100', '--tokens-out', '100'], { stdio: 'ignore' });
          execFileSync(process.execPath, [${JSON.stringify(CLI)}, 'check', '--model', 'gpt-4o-mini', '--tokens-in', '100', '--tokens-out', '100'], { stdio: 'ignore' });
        } catch {}
      }
      process.exit(0);`;
    const env = cleanEnv({ NOBURN_HOME: home.home, NOBURN_STOP_GRACE_MS: '2000' });
    const r = await runNoburn(['run', '--cap', '0.004', '--no-proxy', '--stop-on-exhaust', '--json', '--', process.execPath, '-e', script], env);
    expect(r.code, r.stderr).toBe(124);
    const summary = JSON.parse(r.stdout);
    expect(summary).toMatchObject({ status: 'exhausted', stoppedOnExhaust: true, proxyUrl: null });
    expect(summary.blockedCalls).toBeGreaterThanOrEqual(1);
  });
});

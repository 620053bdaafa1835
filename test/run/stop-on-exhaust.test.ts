import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { toNano, costNano } from '../proxy/helpers.js';
import { FIXTURES, readRun, useRunSuite } from './harness.js';

const suite = useRunSuite();

describe('--stop-on-exhaust', () => {
  it('stops a child that loops forever (ignoring SIGTERM: SIGKILL after the grace period), exits 124, spend within the cap', async () => {
    const upstream = await suite.upstream();
    const home = suite.home();
    const resultFile = join(home.home, 'result.json');
    const env = { NOBURN_STOP_GRACE_MS: '300', RESULT_FILE: resultFile, OPENAI_API_KEY: 'sk-test', OPENAI_BASE_URL: upstream.openaiBase };
    const r = await runCli(suite.dist.cli, ['run', '--cap', '0.002', '--stop-on-exhaust', '--json', '--', process.execPath, join(FIXTURES, 'loop-forever.mjs')], { home: home.home, env });
    expect(r.code, r.stderr).toBe(124);
    const summary = JSON.parse(r.stdout);
    expect(summary).toMatchObject({ status: 'exhausted', stoppedOnExhaust: true, exitCode: 124, signal: 'SIGKILL' });

    const run = await readRun(home.home, summary.runId);
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
    const home = suite.home();
    const cli = suite.dist.cli;
    // The child checks through `noburn check` (it inherits NOBURN_RUN_ID) and records, in a bounded loop.
    const script = `
      const { execFileSync } = require('node:child_process');
      for (let i = 0; i < 200; i++) {
        try {
          execFileSync(process.execPath, [${JSON.stringify(cli)}, 'record', '--model', 'gpt-4o-mini', '--tokens-in', '100', '--tokens-out', '100'], { stdio: 'ignore' });
          execFileSync(process.execPath, [${JSON.stringify(cli)}, 'check', '--model', 'gpt-4o-mini', '--tokens-in', '100', '--tokens-out', '100'], { stdio: 'ignore' });
        } catch {}
      }
      process.exit(0);`;
    const r = await runCli(cli, ['run', '--cap', '0.004', '--no-proxy', '--stop-on-exhaust', '--json', '--', process.execPath, '-e', script], { home: home.home, env: { NOBURN_STOP_GRACE_MS: '2000' } });
    expect(r.code, r.stderr).toBe(124);
    const summary = JSON.parse(r.stdout);
    expect(summary).toMatchObject({ status: 'exhausted', stoppedOnExhaust: true, proxyUrl: null });
    expect(summary.blockedCalls).toBeGreaterThanOrEqual(1);
  });
});

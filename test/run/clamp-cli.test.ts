/**
 * Rule: `noburn run --cap 0.50` lets a gpt-5 call with no max_tokens through (the proxy
 * clamps its output bound to what fits), and spend stays within the cap; `--no-clamp`
 * restores strict refusal (402, nothing reaches the upstream).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { FakeUpstream } from '../fixtures/fake-upstream.js';
import { runCli } from '../helpers/cli.js';
import { costNano, PRICES, toNano, type TestPrice } from '../proxy/helpers.js';
import { FIXTURES, readRun, useRunSuite } from './harness.js';

const TEST_PRICES: Record<string, TestPrice> = { ...PRICES, 'gpt-5': { inputPerMTok: 1, outputPerMTok: 10 } };
const suite = useRunSuite();
let upstream: FakeUpstream | null = null;

async function runGpt5(extra: string[]) {
  upstream = await suite.upstream({ usage: { tokensIn: 20, cachedTokensIn: 0, tokensOut: 300 } });
  const home = suite.home(TEST_PRICES);
  const resultFile = join(home.home, 'result.json');
  const env = { RESULT_FILE: resultFile, OPENAI_API_KEY: 'sk-openai-test', OPENAI_BASE_URL: upstream.openaiBase };
  const r = await runCli(suite.dist.cli, ['run', '--cap', '0.50', ...extra, '--json', '--', process.execPath, join(FIXTURES, 'gpt5-client.mjs')], { home: home.home, env });
  expect(r.code, r.stderr).toBe(0);
  const summary = JSON.parse(r.stdout);
  const run = await readRun(home.home, summary.runId);
  return { result: JSON.parse(readFileSync(resultFile, 'utf8')), run };
}

describe('noburn run clamps output bounds', () => {
  it('a gpt-5 call with no max_tokens under --cap 0.50 goes through with a bound that fits; spend <= cap', async () => {
    const { result, run } = await runGpt5([]);
    expect(result).toMatchObject({ ok: true, status: null });
    const served = upstream!.served[0]!;
    const [field, bound] = served.outputBound ?? [];
    expect(field).toBe('max_completion_tokens');
    expect(result.clamped).toBe(String(bound));
    expect((bound as number) * 10 * 1000).toBeLessThanOrEqual(toNano(0.5));
    expect(toNano(run.spendUsd)).toBe(costNano('gpt-5', served.usage!, TEST_PRICES));
    expect(toNano(run.spendUsd)).toBeLessThanOrEqual(toNano(0.5));
    expect(run.blockedCalls).toBe(0);
  });

  it('--no-clamp refuses it (402 run_budget_exceeded) and nothing reaches the upstream', async () => {
    const { result, run } = await runGpt5(['--no-clamp']);
    expect(result).toMatchObject({ ok: false, status: 402, code: 'run_budget_exceeded' });
    expect(upstream!.served.length).toBe(0);
    expect(run.spendUsd).toBe(0);
  });
});

/**
 * docs/run.md ("Calls noburn cannot price"), through the built `noburn run` as a process
 * with real clients in its child, against the fake upstream:
 * - `--azure-deployment NAME=MODEL`: a request to `.../deployments/NAME/chat/completions`
 *   is metered at MODEL's price, whether its body names no model (a plain fetch) or the
 *   deployment name (the official AzureOpenAI client), streamed too; an unmapped deployment
 *   is refused with 402 `unmetered_request` and reaches no upstream; without the flag the
 *   same program is refused throughout.
 * - `--allow-unmetered`: an images request (which noburn cannot price) is forwarded and
 *   counted, not refused; without the flag it is a 402 `unmetered_request` the SDK does not
 *   retry.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { FakeUpstream } from '../fixtures/fake-upstream.js';
import { runCli } from '../helpers/cli.js';
import { costNano, toNano } from '../proxy/helpers.js';
import { FIXTURES, readRun, useRunSuite } from './harness.js';

const suite = useRunSuite();

async function runFixture(upstream: FakeUpstream, script: string, flags: string[], openaiBase: string) {
  const home = suite.home();
  const resultFile = join(home.home, 'result.json');
  const env = { RESULT_FILE: resultFile, OPENAI_API_KEY: 'sk-openai-test', OPENAI_BASE_URL: openaiBase, ANTHROPIC_BASE_URL: upstream.anthropicBase };
  const r = await runCli(suite.dist.cli, ['run', '--cap', '1', ...flags, '--json', '--', process.execPath, join(FIXTURES, script)], { home: home.home, env });
  expect(r.code, r.stderr).toBe(0);
  const summary = JSON.parse(r.stdout);
  return { summary, result: JSON.parse(readFileSync(resultFile, 'utf8')), run: await readRun(home.home, summary.runId) };
}

const servedNano = (u: FakeUpstream): number => u.served.reduce((sum, c) => sum + (c.usage && c.model ? costNano(c.model, c.usage) : 0), 0);

describe('noburn run --azure-deployment NAME=MODEL', () => {
  it('a deployment path is metered at the mapped model\'s price (no model in the body, or the deployment name the AzureOpenAI client sends); an unmapped one is refused', async () => {
    const upstream = await suite.upstream();
    const { summary, result, run } = await runFixture(upstream, 'azure-client.mjs', ['--azure-deployment', 'prod=gpt-4o-mini'], `${upstream.url}/openai`);
    expect(result).toMatchObject({ fetchStatus: 200, sdkText: 'Hello from the fake upstream.', streamed: 'Hello from the fake upstream.', unmapped: { status: 402, code: 'unmetered_request' } });
    expect(upstream.served.map((c) => c.path)).toEqual(Array(3).fill('/openai/deployments/prod/chat/completions'));
    expect(upstream.served.every((c) => c.headers['api-key'] === 'azure-test-key')).toBe(true);
    expect(run.calls).toBe(3);
    expect(servedNano(upstream)).toBeGreaterThan(0);
    expect(toNano(run.spendUsd)).toBe(servedNano(upstream));
    expect(summary.topModels).toMatchObject([{ model: 'gpt-4o-mini', calls: 3 }]);
    expect(summary.proxyCalls).toEqual({ errors: 0, unmeteredForwarded: 0, unmeteredRefused: 1 });
  });

  it('without the flag the same requests are refused (unmetered, or the deployment name has no price) and none reaches the upstream', async () => {
    const upstream = await suite.upstream();
    const home = suite.home();
    const resultFile = join(home.home, 'result.json');
    const env = { RESULT_FILE: resultFile, OPENAI_API_KEY: 'sk-openai-test', OPENAI_BASE_URL: `${upstream.url}/openai` };
    // Both bodies the first test sends: none naming a model, and one naming the deployment (as AzureOpenAI does).
    const child = `
      import { writeFileSync } from 'node:fs';
      const post = async (body) => {
        const r = await fetch(process.env.OPENAI_BASE_URL + '/deployments/prod/chat/completions', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ ...body, messages: [{ role: 'user', content: 'hi' }], max_tokens: 20 }) });
        return [r.status, (await r.json()).error.code];
      };
      writeFileSync(process.env.RESULT_FILE, JSON.stringify([await post({}), await post({ model: 'prod' })]));`;
    const r = await runCli(suite.dist.cli, ['run', '--cap', '1', '--json', '--', process.execPath, '--input-type=module', '-e', child], { home: home.home, env });
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(readFileSync(resultFile, 'utf8'))).toEqual([[402, 'unmetered_request'], [402, 'unknown_model_price']]);
    expect(upstream.served.length).toBe(0);
    expect(JSON.parse(r.stdout).proxyCalls).toMatchObject({ unmeteredRefused: 1 });
  });
});

describe('noburn run --allow-unmetered', () => {
  for (const allow of [false, true]) {
    it(allow ? 'an images request is forwarded and counted, not billed' : 'without it an images request is a 402 unmetered_request, not retried, that reaches no upstream', async () => {
      const upstream = await suite.upstream();
      const { summary, result, run } = await runFixture(upstream, 'images-client.mjs', allow ? ['--allow-unmetered'] : [], upstream.openaiBase);
      if (allow) {
        expect(result).toEqual({ status: 200, images: 1 });
        expect(upstream.served.map((c) => c.path)).toEqual(['/v1/images/generations']);
        expect(upstream.served[0]!.headers['authorization']).toBe('Bearer sk-openai-test');
        expect(summary.proxyCalls).toEqual({ errors: 0, unmeteredForwarded: 1, unmeteredRefused: 0 });
      } else {
        expect(result).toMatchObject({ status: 402, code: 'unmetered_request' });
        // The SDK's default retries (2) would show as more refusals.
        expect(upstream.served.length).toBe(0);
        expect(summary.proxyCalls).toEqual({ errors: 0, unmeteredForwarded: 0, unmeteredRefused: 1 });
      }
      // Neither is a metered call, nor in the spend.
      expect(run.calls).toBe(0);
      expect(run.spendUsd).toBe(0);
    });
  }
});

/**
 * The official `openai` and `@anthropic-ai/sdk` clients, unmodified, in a child process
 * under the built `noburn run --cap`, against the fake upstream: calls succeed until the
 * cap, then the SDK raises on 402 without retrying, and the run's spend is exactly the
 * fake's reported usage at the configured prices, streaming included.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { FakeUpstream } from '../fixtures/fake-upstream.js';
import { runCli } from '../helpers/cli.js';
import { costNano, toNano } from '../proxy/helpers.js';
import { FIXTURES, readRun, useRunSuite } from './harness.js';

const suite = useRunSuite();
let upstream: FakeUpstream | null = null;

async function runClient(script: string, capUsd: string) {
  const home = suite.home();
  const resultFile = join(home.home, 'result.json');
  const env = {
    RESULT_FILE: resultFile,
    OPENAI_API_KEY: 'sk-openai-test',
    OPENAI_BASE_URL: upstream!.openaiBase,
    ANTHROPIC_API_KEY: 'sk-ant-test',
    ANTHROPIC_BASE_URL: upstream!.anthropicBase,
  };
  const r = await runCli(suite.dist.cli, ['run', '--cap', capUsd, '--label', script, '--json', '--', process.execPath, join(FIXTURES, script)], { home: home.home, env });
  expect(r.code, r.stderr).toBe(0);
  const summary = JSON.parse(r.stdout);
  const result = JSON.parse(readFileSync(resultFile, 'utf8'));
  const run = await readRun(home.home, summary.runId);
  // Nothing logs keys or prompt text.
  expect(r.stderr).not.toContain('sk-');
  expect(r.stderr).not.toContain('cheerful sentence');
  return { summary, result, run };
}

function servedNano(): number {
  return upstream!.served.reduce((sum, c) => sum + (c.usage && c.model ? costNano(c.model, c.usage) : 0), 0);
}

describe('noburn run --cap with the official SDKs', () => {
  it('openai: chat, chat streams, Responses (streaming too) and embeddings until the cap, then one 402 and no retry', async () => {
    upstream = await suite.upstream();
    const { summary, result, run } = await runClient('openai-client.mjs', '0.0011');

    // Every call shape went through before the cap.
    expect(new Set(result.calls)).toEqual(new Set(['chat', 'chatStream', 'chatStreamWithUsage', 'responses', 'responsesStream', 'embeddings']));
    expect(result.error).toMatchObject({ status: 402 });
    expect(result.error.message).toMatch(/run_budget_exceeded/);
    // The proxy asked for stream usage on the client's behalf and hid it from the client.
    expect(result.usageChunks).toBe(0);
    expect(result.emptyChoiceChunks).toBe(0);
    expect(upstream.served.filter((c) => c.path === '/v1/chat/completions' && c.stream).every((c) => (c.streamOptions as { include_usage?: boolean }).include_usage === true)).toBe(true);
    // Passed through, unmetered.
    expect(result.modelsListed).toBe(1);

    // The refused call never reached the upstream, and the SDK did not retry it.
    const metered = upstream.served.filter((c) => c.method === 'POST');
    expect(metered.length).toBe(result.ok);
    expect(run.blockedCalls).toBe(1);
    expect(run.calls).toBe(result.ok);
    expect(metered.every((c) => c.headers['authorization'] === 'Bearer sk-openai-test')).toBe(true);

    // Spend: exactly the upstream's usage at the configured prices, never past the cap.
    expect(toNano(run.spendUsd)).toBe(servedNano());
    expect(run.spendUsd).toBeLessThanOrEqual(0.0011);
    expect(run.heldUsd).toBe(0);
    expect(run.status).toBe('ended');
    expect(summary).toMatchObject({ status: 'exhausted', exitCode: 0, calls: result.ok, blockedCalls: 1, budgetCapUsd: 0.0011 });
    expect(toNano(summary.spendUsd)).toBe(servedNano());
  });

  it('anthropic: messages, the stream helper and raw streams until the cap, cache reads and writes priced, then one 402 and no retry', async () => {
    upstream = await suite.upstream({ usage: { tokensIn: 30, cachedTokensIn: 10, cacheWriteTokensIn: 4, tokensOut: 12 } });
    const { summary, result, run } = await runClient('anthropic-client.mjs', '0.0015');

    expect(new Set(result.calls)).toEqual(new Set(['create', 'streamHelper', 'rawStream']));
    expect(result.error).toMatchObject({ status: 402, name: 'PaymentRequiredError' });
    // The SDK's own stream accumulation saw the upstream's numbers, untouched.
    expect(result.streamedUsage[0]).toMatchObject({ input_tokens: 16, cache_read_input_tokens: 10, cache_creation_input_tokens: 4, output_tokens: 12 });

    const metered = upstream.served.filter((c) => c.method === 'POST');
    expect(metered.length).toBe(result.ok);
    // The key (x-api-key or a bearer token, depending on the SDK version) arrives untouched.
    const keyOf = (h: Record<string, unknown>) => h['x-api-key'] ?? String(h['authorization']).replace(/^Bearer /, '');
    expect(metered.every((c) => keyOf(c.headers) === 'sk-ant-test' && typeof c.headers['anthropic-version'] === 'string')).toBe(true);
    expect(run.blockedCalls).toBe(1);
    expect(toNano(run.spendUsd)).toBe(servedNano());
    expect(toNano(run.spendUsd)).toBe(result.ok * costNano('claude-sonnet-4-5', { tokensIn: 30, cachedTokensIn: 10, cacheWriteTokensIn: 4, tokensOut: 12 }));
    expect(run.spendUsd).toBeLessThanOrEqual(0.0015);
    expect(summary.topModels[0]).toMatchObject({ model: 'claude-sonnet-4-5', calls: result.ok, blockedCalls: 1 });
  });
});

/**
 * Rule (docs/semantics.md "The guarantee, in numbers"): a successful answer whose usage
 * cannot be read is charged at the input estimate and the output *held*. For a clamped
 * call that is the clamped bound, not the one the request asked for: a gpt-5 call with no
 * max_tokens under a $0.50 cap (its 128k output limit alone is $1.28) is recorded at the
 * bound it was sent with, and the spend stays within the cap. Through the `noburn run`
 * proxy and through guard.fetch(), which share this step (lib/metering/call.ts).
 */
import OpenAI from 'openai';
import { afterEach, describe, expect, it } from 'vitest';
import { NoburnGuard } from '../../src/lib/guard.js';
import { estimateRequest } from '../../src/lib/metering/index.js';
import { estimateTokens } from '../../src/lib/tokens.js';
import { startFakeUpstream, type FakeUpstream } from '../fixtures/fake-upstream.js';
import { eventually } from '../inprocess/helpers.js';
import { useProxySuite } from '../proxy/harness.js';
import { makeHome, PRICES, toNano, type TestPrice } from '../proxy/helpers.js';

const TEST_PRICES: Record<string, TestPrice> = { ...PRICES, 'gpt-5': { inputPerMTok: 1, outputPerMTok: 10 } };
const BODY = { model: 'gpt-5', messages: [{ role: 'user' as const, content: 'Plan a three-day trip to Lisbon, with a short list of places for each day.' }] };
const CAP = 0.5;

/** What the ledger must hold for the call: the input estimate and the bound the upstream received. */
async function expectChargedAtBound(guard: NoburnGuard, runId: string, upstream: FakeUpstream): Promise<void> {
  const served = upstream.served[upstream.served.length - 1]!;
  expect(served.usage).toBeNull(); // the answer carried no usage
  expect(served.outputBound?.[0]).toBe('max_completion_tokens');
  const bound = served.outputBound?.[1] as number;
  expect(bound).toBeLessThan(128_000);
  const est = await estimateRequest('openai', BODY, { path: '/chat/completions', countTokens: estimateTokens });
  await guard.flush();
  const run = await guard.getRun(runId);
  const row = (await guard.spend({ by: 'model', runId })).rows.find((r) => r.key === 'gpt-5');
  expect(row).toMatchObject({ calls: 1, tokensIn: est!.tokensIn, tokensOut: bound });
  expect(toNano(run.spendUsd)).toBe(1000 * (est!.tokensIn * 1 + bound * 10));
  expect(toNano(run.spendUsd)).toBeLessThanOrEqual(toNano(CAP));
  expect(run.overHolds).toBe(0);
}

describe('the noburn run proxy', () => {
  const suite = useProxySuite();
  it('a clamped call answered without usage is charged at the clamped bound, within the cap', async () => {
    await suite.open({ prices: TEST_PRICES, capUsd: CAP });
    const client = new OpenAI({ apiKey: 'sk-test', baseURL: suite.proxy.env['OPENAI_BASE_URL'], maxRetries: 0, defaultHeaders: { 'x-fake-no-usage': '1' } });
    const { response } = await client.chat.completions.create(BODY).withResponse();
    expect(response.headers.get('x-noburn-clamped')).not.toBeNull();
    await suite.proxy.close();
    await expectChargedAtBound(suite.guard, suite.runId, suite.upstream);
  });
});

describe('guard.fetch()', () => {
  let close: (() => Promise<void>) | null = null;
  afterEach(async () => {
    await close?.();
    close = null;
  });
  it('a clamped call answered without usage is charged at the clamped bound, within the cap', async () => {
    const home = makeHome(TEST_PRICES);
    const upstream = await startFakeUpstream();
    const guard = new NoburnGuard({ home: home.home, env: {} });
    close = async () => {
      await guard.close();
      await upstream.close();
      home.cleanup();
    };
    const { runId } = await guard.startRun({ budgetCapUsd: CAP });
    const client = new OpenAI({ apiKey: 'sk-test', baseURL: upstream.openaiBase, maxRetries: 0, fetch: guard.fetch({ runId }), defaultHeaders: { 'x-fake-no-usage': '1' } });
    const r = await client.chat.completions.create(BODY);
    expect(r.usage).toBeUndefined();
    // The record is written once the body has been read (the client has read it); wait for it.
    await eventually(async () => (await guard.flush().then(() => guard.getRun(runId))).calls === 1, 'the record');
    await expectChargedAtBound(guard, runId, upstream);
  });
});
